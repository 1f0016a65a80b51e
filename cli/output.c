/* output.c — writing the blocks of output.h to their files. */
#include "output.h"

#include <errno.h>

void out_file_init(out_file *o, FILE *f, const char *name) {
    o->f = f;
    o->name = name;
    o->live = 0;
    o->err = 0;
    o->reported = 0;
    o->synced = UINT64_MAX;
    pthread_mutex_init(&o->lock, NULL);
}

void out_file_destroy(out_file *o) { pthread_mutex_destroy(&o->lock); }

int out_flush(out_buf *o) {
    out_file *f = o->file;
    if (!f || !o->b.len || !f->f) {
        o->b.len = 0;
        return 0;
    }
    int rc = 0;
    pthread_mutex_lock(&f->lock);
    if (f->err) {
        rc = -1;
    } else if (fwrite(o->b.p, 1, o->b.len, f->f) != o->b.len || (f->live && fflush(f->f) != 0)) {
        f->err = errno ? errno : EIO;
        rc = -1;
    }
    pthread_mutex_unlock(&f->lock);
    o->b.len = 0;
    return rc;
}

void out_buf_free(out_buf *o) { jbuf_free(&o->b); }
