/* checkpoint.c — the checkpoint file of `cepheus run --checkpoint DIR`:
 * "CEPCKPT1", the input position and output lengths (little-endian u64s),
 * then the engine snapshot (docs/snapshot.md). */
#include "config.h"
#include "checkpoint.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define CKPT_MAGIC "CEPCKPT1"
#define CKPT_FIELDS 8

typedef struct sink {
    FILE *f;
} sink;

static int to_file(void *ud, const void *buf, size_t len) {
    return fwrite(buf, 1, len, ((sink *)ud)->f) == len ? 0 : -1;
}

static void put_u64(unsigned char *b, uint64_t v) {
    for (int i = 0; i < 8; i++) b[i] = (unsigned char)(v >> (8 * i));
}

static uint64_t get_u64(const unsigned char *b) {
    uint64_t v = 0;
    for (int i = 0; i < 8; i++) v |= (uint64_t)b[i] << (8 * i);
    return v;
}

int checkpoint_write(const char *dir, const ckpt_pos *pos, const cep_engine *e, char *err,
                     size_t errsz) {
    char tmp[4096], final[4096];
    snprintf(tmp, sizeof tmp, "%s/checkpoint.tmp", dir);
    snprintf(final, sizeof final, "%s/checkpoint", dir);
    FILE *f = fopen(tmp, "wb");
    if (!f) {
        snprintf(err, errsz, "cannot write '%s': %s", tmp, strerror(errno));
        return -1;
    }
    unsigned char head[8 + 8 * CKPT_FIELDS];
    memcpy(head, CKPT_MAGIC, 8);
    uint64_t v[CKPT_FIELDS] = {pos->file,         pos->offset,   pos->lineno,
                               pos->out_len,      pos->late_len, pos->timeouts_len,
                               pos->read,         pos->malformed};
    for (int i = 0; i < CKPT_FIELDS; i++) put_u64(head + 8 + 8 * i, v[i]);
    sink s = {f};
    int ok = fwrite(head, 1, sizeof head, f) == sizeof head;
    int rc = ok ? cep_engine_snapshot(e, to_file, &s) : CEP_ECALLBACK;
    /* Durable before it replaces the previous checkpoint. */
    if (fflush(f) != 0 || fsync(fileno(f)) != 0) rc = CEP_ECALLBACK;
    int saved = errno;
    if (fclose(f) != 0 && rc == CEP_OK) rc = CEP_ECALLBACK;
    if (rc != CEP_OK) {
        snprintf(err, errsz, "cannot write '%s': %s", tmp,
                 rc == CEP_ECALLBACK ? strerror(saved ? saved : EIO) : cep_strerror(rc));
        unlink(tmp);
        return -1;
    }
    if (rename(tmp, final) != 0) {
        snprintf(err, errsz, "cannot rename '%s': %s", tmp, strerror(errno));
        unlink(tmp);
        return -1;
    }
    int d = open(dir, O_RDONLY | O_DIRECTORY);
    if (d >= 0) {
        fsync(d); /* the rename itself must survive a crash */
        close(d);
    }
    return 0;
}

int checkpoint_read(const char *dir, ckpt_pos *pos, char **snap, size_t *snaplen, char *err,
                    size_t errsz) {
    char path[4096];
    snprintf(path, sizeof path, "%s/checkpoint", dir);
    FILE *f = fopen(path, "rb");
    if (!f) {
        if (errno == ENOENT) return 0;
        snprintf(err, errsz, "cannot read '%s': %s", path, strerror(errno));
        return -1;
    }
    size_t cap = 1 << 16, len = 0;
    char *buf = malloc(cap);
    size_t got;
    while (buf && (got = fread(buf + len, 1, cap - len, f)) > 0) {
        len += got;
        if (len == cap) {
            char *nb = realloc(buf, cap * 2);
            if (!nb) {
                free(buf);
                buf = NULL;
                break;
            }
            buf = nb;
            cap *= 2;
        }
    }
    int bad = ferror(f);
    fclose(f);
    if (!buf || bad) {
        snprintf(err, errsz, "cannot read '%s': %s", path, buf ? strerror(EIO) : "out of memory");
        free(buf);
        return -1;
    }
    size_t head = 8 + 8 * CKPT_FIELDS;
    if (len < head || memcmp(buf, CKPT_MAGIC, 8) != 0) {
        free(buf);
        snprintf(err, errsz, "'%s' is not a cepheus checkpoint", path);
        return -1;
    }
    const unsigned char *b = (const unsigned char *)buf + 8;
    pos->file = (uint32_t)get_u64(b);
    pos->offset = get_u64(b + 8);
    pos->lineno = get_u64(b + 16);
    pos->out_len = get_u64(b + 24);
    pos->late_len = get_u64(b + 32);
    pos->timeouts_len = get_u64(b + 40);
    pos->read = get_u64(b + 48);
    pos->malformed = get_u64(b + 56);
    memmove(buf, buf + head, len - head);
    *snap = buf;
    *snaplen = len - head;
    return 1;
}
