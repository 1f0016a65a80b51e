/* checkpoint.c — the checkpoint file of `cepheus run --checkpoint DIR`:
 * "CEPCKPT1", the input position and output lengths (little-endian u64s),
 * then the engine snapshot (docs/snapshot.md). */
#include "config.h"
#include "checkpoint.h"
#include "cli.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <signal.h>
#include <time.h>
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

/* fsync each fd (EINVAL: a pipe or terminal, nothing to make durable), then
 * write the checkpoint. EXIT_OK, or the failure printed. */
static int write_durably(const char *dir, const ckpt_pos *pos, const cep_engine *e,
                         const int *fds, int nfds) {
    for (int i = 0; i < nfds; i++)
        if (fds[i] >= 0 && fsync(fds[i]) != 0 && errno != EINVAL)
            return fail(EXIT_OUTPUT, "cannot write the output: %s", strerror(errno));
    char err[512];
    if (checkpoint_write(dir, pos, e, err, sizeof err) < 0) return fail(EXIT_OUTPUT, "%s", err);
    return EXIT_OK;
}

static void finished(ckpt_bg *bg) {
    char path[4096];
    struct stat st;
    snprintf(path, sizeof path, "%s/checkpoint", bg->dir);
    bg->last_size = stat(path, &st) == 0 ? (uint64_t)st.st_size : 0;
    bg->last_duration = cli_now() - bg->started;
    bg->taken++;
}

int checkpoint_start(ckpt_bg *bg, const char *dir, const ckpt_pos *pos, const cep_engine *e,
                     const int *fds, int nfds) {
    double t0 = cli_now();
    bg->dir = dir;
    bg->started = t0;
    /* The child exits with _exit: nothing buffered in the parent's stdio may
     * be written twice, and no atexit handler of the parent's runs. */
    pid_t parent = getpid();
    pid_t pid = fork();
    if (pid == 0) {
        /* A writer outliving a killed run could put its checkpoint in place
         * after a restart read the previous one: it dies with the run. */
        if (prctl(PR_SET_PDEATHSIG, SIGKILL) != 0 || getppid() != parent) _exit(EXIT_INTERNAL);
        _exit(write_durably(dir, pos, e, fds, nfds));
    }
    int status = EXIT_OK;
    if (pid < 0) { /* no child (EAGAIN, ENOMEM): the same work, here */
        status = write_durably(dir, pos, e, fds, nfds);
        if (status == EXIT_OK) finished(bg);
    } else {
        bg->pid = (int)pid;
    }
    double pause = cli_now() - t0;
    bg->last_pause = pause;
    bg->pause_sum += pause;
    bg->starts++;
    if (pause > bg->worst_pause) bg->worst_pause = pause;
    return status;
}

int checkpoint_lock(const char *dir) {
    char path[4096];
    snprintf(path, sizeof path, "%s/lock", dir);
    /* Not closed: the lock lasts as long as the process (and its writer). */
    int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (fd < 0) return fail(EXIT_OUTPUT, "cannot open '%s': %s", path, strerror(errno));
    for (int i = 0; flock(fd, LOCK_EX | LOCK_NB) != 0; i++) {
        if (errno != EWOULDBLOCK && errno != EINTR) {
            close(fd);
            return fail(EXIT_OUTPUT, "cannot lock '%s': %s", path, strerror(errno));
        }
        if (i == 200) {
            close(fd);
            return fail(EXIT_USAGE, "'%s' is in use by another cepheus run", dir);
        }
        nanosleep(&(struct timespec){0, 50 * 1000 * 1000}, NULL);
    }
    return EXIT_OK;
}

int checkpoint_reap(ckpt_bg *bg, int block) {
    if (!bg->pid) return EXIT_OK;
    int ws;
    pid_t r;
    do r = waitpid((pid_t)bg->pid, &ws, block ? 0 : WNOHANG);
    while (r < 0 && errno == EINTR);
    if (r == 0) return CKPT_BUSY;
    bg->pid = 0;
    if (r < 0) return fail(EXIT_INTERNAL, "cannot wait for the checkpoint writer: %s", strerror(errno));
    if (WIFEXITED(ws) && WEXITSTATUS(ws) == EXIT_OK) {
        finished(bg);
        return EXIT_OK;
    }
    if (WIFEXITED(ws)) return WEXITSTATUS(ws); /* it said why */
    return fail(EXIT_INTERNAL, "the checkpoint writer died (signal %d)", WIFSIGNALED(ws) ? WTERMSIG(ws) : 0);
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
