/* samefile.c — is an output one of the inputs, or another output? Found
 * before anything is opened for writing: `--output events.jsonl` would
 * empty the input before it is read, and two outputs in one file would
 * interleave into broken lines. */
#include "config.h"
#ifndef _GNU_SOURCE
#define _GNU_SOURCE 1 /* realpath */
#endif
#include "samefile.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include "cli.h"

typedef struct file_id {
    int kind;            /* 0: not compared, 1: an existing regular file, 2: not there yet */
    dev_t dev;
    ino_t ino;
    char *canon;         /* kind 2: the path with its directory resolved */
} file_id;

static void identify(const named_file *f, file_id *id) {
    struct stat st;
    memset(id, 0, sizeof *id);
    int rc = f->path ? stat(f->path, &st) : fstat(f->fd, &st);
    if (rc == 0) {
        if (S_ISREG(st.st_mode)) {
            id->kind = 1;
            id->dev = st.st_dev;
            id->ino = st.st_ino;
        }
        return;
    }
    if (!f->path || errno != ENOENT) return;
    /* Not there yet: its directory, resolved, and its last name. */
    const char *slash = strrchr(f->path, '/');
    char *dir = slash ? strndup(f->path, slash == f->path ? 1 : (size_t)(slash - f->path)) : strdup(".");
    const char *base = slash ? slash + 1 : f->path;
    char *real = dir ? realpath(dir, NULL) : NULL;
    free(dir);
    size_t n = (real ? strlen(real) : 0) + strlen(base) + 2;
    id->canon = malloc(n);
    if (id->canon) {
        if (real) snprintf(id->canon, n, "%s/%s", real, base);
        else snprintf(id->canon, n, "%s", f->path);
    }
    free(real);
    id->kind = id->canon ? 2 : 0;
}

static int same(const file_id *a, const file_id *b) {
    if (a->kind != b->kind || !a->kind) return 0;
    return a->kind == 1 ? a->dev == b->dev && a->ino == b->ino : !strcmp(a->canon, b->canon);
}

/* "--late 'x.jsonl'", or "standard output" for an open stream. */
static const char *shown(const named_file *f, char *buf, size_t n) {
    if (f->path) snprintf(buf, n, "%s '%s'", f->what, f->path);
    else snprintf(buf, n, "%s", f->what);
    return buf;
}

int check_outputs_distinct(const named_file *in, int nin, const named_file *out, int nout) {
    file_id *ids = calloc((size_t)(nin + nout) + 1, sizeof *ids);
    if (!ids) return fail(EXIT_INTERNAL, "out of memory");
    int status = EXIT_OK;
    char a[4200], b[4200];
    for (int i = 0; i < nin + nout; i++) identify(i < nin ? &in[i] : &out[i - nin], &ids[i]);
    for (int j = 0; j < nout && status == EXIT_OK; j++) {
        const file_id *o = &ids[nin + j];
        for (int i = 0; i < nin && status == EXIT_OK; i++)
            if (same(o, &ids[i]))
                status = usage_error("%s is also %s: an output must not be one of the inputs",
                                     shown(&out[j], a, sizeof a), shown(&in[i], b, sizeof b));
        for (int k = 0; k < j && status == EXIT_OK; k++)
            if (same(o, &ids[nin + k]))
                status = usage_error("%s and %s are the same file: their lines would mix",
                                     shown(&out[k], a, sizeof a), shown(&out[j], b, sizeof b));
    }
    for (int i = 0; i < nin + nout; i++) free(ids[i].canon);
    free(ids);
    return status;
}
