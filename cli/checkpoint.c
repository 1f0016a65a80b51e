/* checkpoint.c — the checkpoint file of `cepheus run --checkpoint DIR`
 * (format 2, docs/state.md): a header of little-endian u64s with its own
 * CRC-32C, the text of the pattern file that ran, then the engine snapshot
 * (docs/snapshot.md). Everything is checked when it is read, before the
 * caller touches an output. */
#include "config.h"
#include "checkpoint.h"
#include "cli.h"
#include "jsonout.h"

#include <errno.h>
#include <inttypes.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <signal.h>
#include <time.h>
#include <unistd.h>

#define CKPT_MAGIC "CEPCKPT" /* then the format version as a digit */
#define CKPT_VERSION '2'
/* magic 8 | 13 u64 fields | text CRC u32 | header CRC u32 */
#define CKPT_NFIELDS 13
#define CKPT_HEAD (8 + 8 * CKPT_NFIELDS + 4 + 4)
#define CKPT_ALL_OUTPUTS (CKPT_OUT | CKPT_LATE | CKPT_TIMEOUTS | CKPT_ERRORS)

/* CRC-32C (Castagnoli, reflected), the snapshot's checksum too; its own
 * copy here since the tool sees only the library's public API. */
static uint32_t util_crc32c(uint32_t crc, const void *p, size_t n) {
    static uint32_t table[256];
    if (!table[1])
        for (uint32_t i = 0; i < 256; i++) {
            uint32_t c = i;
            for (int k = 0; k < 8; k++) c = c & 1 ? (c >> 1) ^ 0x82F63B78u : c >> 1;
            table[i] = c;
        }
    const unsigned char *b = p;
    crc = ~crc;
    while (n--) crc = table[(crc ^ *b++) & 0xff] ^ (crc >> 8);
    return ~crc;
}

static void put_u64(unsigned char *b, uint64_t v) {
    for (int i = 0; i < 8; i++) b[i] = (unsigned char)(v >> (8 * i));
}

static uint64_t get_u64(const unsigned char *b) {
    uint64_t v = 0;
    for (int i = 0; i < 8; i++) v |= (uint64_t)b[i] << (8 * i);
    return v;
}

static void put_u32(unsigned char *b, uint32_t v) {
    for (int i = 0; i < 4; i++) b[i] = (unsigned char)(v >> (8 * i));
}

static uint32_t get_u32(const unsigned char *b) {
    uint32_t v = 0;
    for (int i = 0; i < 4; i++) v |= (uint32_t)b[i] << (8 * i);
    return v;
}

int checkpoint_prepare_dir(const char *dir, char *err, size_t errsz) {
    struct stat st;
    if (mkdir(dir, 0777) != 0 && errno != EEXIST) {
        snprintf(err, errsz, "cannot create the checkpoint directory '%s': %s", dir, strerror(errno));
        return -1;
    }
    int serr = stat(dir, &st) != 0 ? errno : !S_ISDIR(st.st_mode) ? ENOTDIR : 0;
    if (serr) {
        snprintf(err, errsz, "cannot use '%s' as the checkpoint directory: %s", dir, strerror(serr));
        return -1;
    }
    /* The first checkpoint may be many events away: prove now that one
     * can be written, rather than after hours of output. */
    char tmp[4096];
    /* (Not checkpoint.tmp: a killed run's writer may still be at it.) */
    snprintf(tmp, sizeof tmp, "%s/checkpoint.probe", dir);
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC, 0666);
    if (fd < 0) {
        snprintf(err, errsz, "cannot write in the checkpoint directory '%s': %s", dir, strerror(errno));
        return -1;
    }
    close(fd);
    unlink(tmp);
    return 0;
}

typedef struct sink {
    FILE *f;
    uint64_t n;
} sink;

static int to_file(void *ud, const void *buf, size_t len) {
    sink *s = ud;
    s->n += len;
    return fwrite(buf, 1, len, s->f) == len ? 0 : -1;
}

static void put_header(unsigned char *head, const ckpt_pos *pos, uint64_t text_len, uint32_t text_crc,
                       uint64_t snap_len) {
    memcpy(head, CKPT_MAGIC, 7);
    head[7] = CKPT_VERSION;
    uint64_t v[CKPT_NFIELDS] = {pos->file,    pos->offset,      pos->lineno,       pos->read,
                                pos->malformed, pos->outputs,   pos->out_len,      pos->late_len,
                                pos->timeouts_len, pos->errors_len, text_len,      snap_len, 0};
    for (int i = 0; i < CKPT_NFIELDS; i++) put_u64(head + 8 + 8 * i, v[i]);
    put_u32(head + 8 + 8 * CKPT_NFIELDS, text_crc);
    put_u32(head + CKPT_HEAD - 4, util_crc32c(0, head, CKPT_HEAD - 4));
}

/* What is left to do once the snapshot is in checkpoint.tmp's page cache:
 * make the outputs' counted bytes and the checkpoint durable, rename it into
 * place and, for a savepoint, rename its directory. */
typedef struct finish_job {
    int fd;                  /* checkpoint.tmp, written and flushed */
    int fds[4];              /* outputs to fsync (-1: none) */
    const char *tmp, *final, *dir;
    const char *sp_tmp, *sp_final, *sp_parent; /* a savepoint's directories; NULL: a checkpoint */
} finish_job;

/* EXIT_OK, or the failure printed (what was left is removed). */
static int finish(const finish_job *j) {
    /* (fsync of a pipe or terminal: EINVAL, nothing to make durable) */
    for (int i = 0; i < 4; i++)
        if (j->fds[i] >= 0 && fsync(j->fds[i]) != 0 && errno != EINVAL) {
            int saved = errno;
            unlink(j->tmp);
            return fail(EXIT_OUTPUT, "cannot write the output: %s", strerror(saved));
        }
    if (fsync(j->fd) != 0 || close(j->fd) != 0) {
        int saved = errno;
        unlink(j->tmp);
        return fail(EXIT_OUTPUT, "cannot write '%s': %s", j->tmp, strerror(saved));
    }
    if (rename(j->tmp, j->final) != 0) {
        int saved = errno;
        unlink(j->tmp);
        return fail(EXIT_OUTPUT, "cannot rename '%s': %s", j->tmp, strerror(saved));
    }
    int d = open(j->dir, O_RDONLY | O_DIRECTORY);
    if (d >= 0) {
        fsync(d); /* the rename itself must survive a crash */
        close(d);
    }
    if (!j->sp_tmp) return EXIT_OK;
    if (rename(j->sp_tmp, j->sp_final) != 0)
        return fail(EXIT_OUTPUT, "cannot rename '%s': %s", j->sp_tmp, strerror(errno));
    d = open(j->sp_parent, O_RDONLY | O_DIRECTORY);
    if (d >= 0) {
        fsync(d);
        close(d);
    }
    /* Said by the writer as it is done: the run may be waiting for input
     * and reap it only later. */
    fprintf(stderr, "cepheus: savepoint written: %s\n", j->sp_final);
    return EXIT_OK;
}

/* The lock descriptors (checkpoint_lock): a writer keeps them through its
 * exec, so the lock lasts as long as it does. */
static int lock_fds[2] = {-1, -1};

/* The forked writer, its snapshot written: it execs this program again to
 * finish (the fsyncs may take seconds), so that it stops sharing the run's
 * memory now. Every page the writer still shares costs the run a
 * copy-on-write fault when it writes there; exec gives them all back at
 * once. Returns only if the exec failed (then the writer finishes itself). */
static void finish_elsewhere(const finish_job *j) {
    char num[5][24];
    const int fds[5] = {j->fd, j->fds[0], j->fds[1], j->fds[2], j->fds[3]};
    for (int i = 0; i < 5; i++) {
        snprintf(num[i], sizeof num[i], "%d", fds[i]);
        if (fds[i] >= 0) fcntl(fds[i], F_SETFD, 0);
    }
    for (int i = 0; i < 2; i++)
        if (lock_fds[i] >= 0) fcntl(lock_fds[i], F_SETFD, 0);
    char *argv[] = {"cepheus", CKPT_FINISH_CMD, num[0], num[1], num[2], num[3], num[4], (char *)j->tmp,
                    (char *)j->final, (char *)j->dir, (char *)(j->sp_tmp ? j->sp_tmp : ""),
                    (char *)(j->sp_final ? j->sp_final : ""), (char *)(j->sp_parent ? j->sp_parent : ""), NULL};
    /* This program by its name, as long as that is still this file: under
     * valgrind only the name leads back to it (/proc/self/exe is the
     * tool's); after an upgrade replaced it (" (deleted)"), the old file
     * by /proc/self/exe. */
    char self[4096];
    ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
    if (n > 0) {
        self[n] = '\0';
        const char *del = " (deleted)";
        size_t dl = strlen(del);
        if (!((size_t)n >= dl && !strcmp(self + n - dl, del))) execv(self, argv);
    }
    execv("/proc/self/exe", argv);
}

static int parse_fd(const char *s, int *fd) {
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno || *end || !*s || v < -1 || v > 1 << 20) return -1;
    *fd = (int)v;
    return 0;
}

int checkpoint_finish_main(int argc, char **argv) {
    finish_job j;
    if (argc != 12 || parse_fd(argv[1], &j.fd) < 0 || j.fd < 0)
        return fail(EXIT_USAGE, "%s is cepheus's own checkpoint writer, not a command", CKPT_FINISH_CMD);
    for (int i = 0; i < 4; i++)
        if (parse_fd(argv[2 + i], &j.fds[i]) < 0)
            return fail(EXIT_USAGE, "%s is cepheus's own checkpoint writer, not a command", CKPT_FINISH_CMD);
    j.tmp = argv[6];
    j.final = argv[7];
    j.dir = argv[8];
    j.sp_tmp = *argv[9] ? argv[9] : NULL;
    j.sp_final = argv[10];
    j.sp_parent = argv[11];
    return finish(&j);
}

/* Serialize the checkpoint into tmp and flush it: *out then holds it.
 * EXIT_OK, or the failure printed (nothing left). */
static int serialize(const char *tmp, const ckpt_pos *pos, const char *text, size_t len, const ckpt_src *src,
                     FILE **out) {
    FILE *f = fopen(tmp, "wb");
    if (!f) return fail(EXIT_OUTPUT, "cannot write '%s': %s", tmp, strerror(errno));
    /* The header holds the snapshot's length: written last, over zeros. */
    unsigned char head[CKPT_HEAD] = {0};
    sink s = {f, 0};
    errno = 0;
    int ok = fwrite(head, 1, sizeof head, f) == sizeof head && fwrite(text, 1, len, f) == len;
    int rc = !ok ? CEP_ECALLBACK : src->p ? cep_pool_snapshot(src->p, to_file, &s) : cep_engine_snapshot(src->e, to_file, &s);
    if (rc == CEP_OK) {
        put_header(head, pos, len, util_crc32c(0, text, len), s.n);
        if (fseeko(f, 0, SEEK_SET) != 0 || fwrite(head, 1, sizeof head, f) != sizeof head)
            rc = CEP_ECALLBACK;
    }
    if (rc == CEP_OK && fflush(f) != 0) rc = CEP_ECALLBACK;
    if (rc != CEP_OK) {
        int saved = errno;
        fclose(f);
        unlink(tmp);
        return fail(EXIT_OUTPUT, "cannot write '%s': %s", tmp,
                    rc == CEP_ECALLBACK ? strerror(saved ? saved : EIO) : cep_strerror(rc));
    }
    *out = f;
    return EXIT_OK;
}

/* Write the checkpoint of e into dir (atomically: checkpoint.tmp, fsync,
 * rename, fsync of dir), the fds (the outputs' counted bytes) made durable
 * before the rename; a savepoint's directory (sp_tmp, a checkpoint
 * directory being made) renamed to sp_final after. child: this is the
 * forked writer, which finishes by exec (finish_elsewhere). EXIT_OK, or
 * the failure printed. */
static int write_durably(const char *dir, const ckpt_pos *pos, const char *text, size_t len,
                         const ckpt_src *src, const int *fds, int nfds, int child, const char *sp_final,
                         const char *sp_parent) {
    char tmp[4096 + 16], final[4096 + 16];
    snprintf(tmp, sizeof tmp, "%s/checkpoint.tmp", dir);
    snprintf(final, sizeof final, "%s/checkpoint", dir);
    FILE *f = NULL;
    int st = serialize(tmp, pos, text, len, src, &f);
    if (st != EXIT_OK) return st;
    finish_job j = {.fd = dup(fileno(f)), .tmp = tmp, .final = final, .dir = dir, .sp_tmp = sp_final ? dir : NULL,
                    .sp_final = sp_final, .sp_parent = sp_parent};
    if (j.fd < 0 || fclose(f) != 0) {
        int saved = errno;
        if (j.fd >= 0) close(j.fd);
        unlink(tmp);
        return fail(EXIT_OUTPUT, "cannot write '%s': %s", tmp, strerror(saved));
    }
    for (int i = 0; i < 4; i++) j.fds[i] = i < nfds ? fds[i] : -1;
    if (child) finish_elsewhere(&j);
    return finish(&j);
}

static void finished(ckpt_bg *bg) {
    char path[4096 + 16];
    struct stat st;
    snprintf(path, sizeof path, "%s/checkpoint", bg->savepoint ? bg->sp_path : bg->dir);
    int have = stat(path, &st) == 0;
    /* The writer is collected when a checkpoint is next due, maybe long
     * after it ended: its end is the rename, the file's change time. */
    double now = cli_now(), age = 0;
    struct timespec rt;
    if (have && clock_gettime(CLOCK_REALTIME, &rt) == 0)
        age = (double)(rt.tv_sec - st.st_ctim.tv_sec) + (double)(rt.tv_nsec - st.st_ctim.tv_nsec) / 1e9;
    double ended = age > 0 && age < now - bg->started ? now - age : now;
    bg->rec.write_seconds = ended - bg->started;
    bg->rec.bytes = have ? (uint64_t)st.st_size : 0;
    if (bg->savepoint) { /* its own figures: the rest follows checkpoints only */
        bg->sp_last_size = bg->rec.bytes;
        bg->sp_last_duration = bg->rec.write_seconds;
        bg->sp_taken++;
        return;
    }
    bg->last_size = bg->rec.bytes;
    bg->ended = ended;
    bg->last_duration = bg->rec.write_seconds;
    bg->taken++;
}

/* CPU seconds of the calling thread so far (a pause's own cost, whatever
 * else the machine runs; with --threads the workers are idle meanwhile).
 * The thread's CPU clock, not getrusage: that one is sampled at the
 * scheduler's tick, and a pause of a few ms read as 0 or 4 ms. */
static double cpu_seconds(void) {
    struct timespec ts;
    if (clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts) != 0) return 0;
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Fork the writer of a checkpoint (sp_tmp NULL: in dir) or of a savepoint
 * (into sp_tmp, renamed to bg->sp_path, inside dir). */
void checkpoint_pause_begin(ckpt_bg *bg) {
    bg->pause_t0 = cli_now();
    bg->pause_c0 = cpu_seconds();
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    bg->rec.time = (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int start_writer(ckpt_bg *bg, const char *dir, const char *sp_tmp, const ckpt_pos *pos,
                        const char *text, size_t len, const ckpt_src *src, const int *fds, int nfds) {
    double t0 = bg->pause_t0, c0 = bg->pause_c0;
    bg->started = t0;
    bg->savepoint = sp_tmp != NULL;
    /* The child exits with _exit: nothing buffered in the parent's stdio may
     * be written twice, and no atexit handler of the parent's runs. */
    pid_t parent = getpid();
    double f0 = cli_now();
    pid_t pid = fork();
    if (pid == 0) {
        /* A writer outliving a killed run could put its checkpoint in place
         * after a restart read the previous one: it dies with the run. */
        if (prctl(PR_SET_PDEATHSIG, SIGKILL) != 0 || getppid() != parent) _exit(EXIT_INTERNAL);
        _exit(sp_tmp ? write_durably(sp_tmp, pos, text, len, src, fds, nfds, 1, bg->sp_path, dir)
                     : write_durably(dir, pos, text, len, src, fds, nfds, 1, NULL, NULL));
    }
    int status = EXIT_OK;
    if (pid < 0) { /* no child (EAGAIN, ENOMEM): the same work, here */
        status = sp_tmp ? write_durably(sp_tmp, pos, text, len, src, fds, nfds, 0, bg->sp_path, dir)
                        : write_durably(dir, pos, text, len, src, fds, nfds, 0, NULL, NULL);
        if (status == EXIT_OK) finished(bg);
    } else {
        bg->pid = (int)pid;
    }
    double now = cli_now(), pause = now - t0, cpu = cpu_seconds() - c0;
    double wrote = bg->rec.write_seconds;
    uint64_t bytes = bg->rec.bytes; /* a foreground writer's, done */
    bg->rec = (ckpt_rec){.time = bg->rec.time, .read = pos->read, .pause = pause, .pause_cpu = cpu, .fork = now - f0,
                         .write_seconds = pid < 0 ? wrote : 0, .bytes = pid < 0 ? bytes : 0};
    bg->rec_logged = 0;
    bg->rec_status = status;
    bg->pause_cpu_sum += cpu;
    if (cpu > bg->worst_pause_cpu) bg->worst_pause_cpu = cpu;
    bg->last_pause = pause;
    bg->pause_sum += pause;
    bg->pauses[(bg->starts + bg->sp_starts) % 1024] = pause;
    if (sp_tmp) bg->sp_starts++;
    else bg->starts++;
    if (pause > bg->worst_pause) bg->worst_pause = pause;
    return status;
}

int checkpoint_start(ckpt_bg *bg, const char *dir, const ckpt_pos *pos, const char *text, size_t len,
                     const ckpt_src *src, const int *fds, int nfds) {
    bg->dir = dir;
    return start_writer(bg, dir, NULL, pos, text, len, src, fds, nfds);
}

int savepoint_start(ckpt_bg *bg, const char *parent, const ckpt_pos *pos, const char *text, size_t len,
                    const ckpt_src *src, const int *fds, int nfds) {
    char stamp[32], tmp[4096 + 8];
    time_t now = time(NULL);
    struct tm tm;
    strftime(stamp, sizeof stamp, "%Y%m%dT%H%M%SZ", gmtime_r(&now, &tm));
    /* A name that is taken (two signals in a second at one position, or
     * the leftover .tmp of a killed run) gets a suffix. */
    struct stat st;
    for (int n = 0;; n++) {
        int w = n ? snprintf(bg->sp_path, sizeof bg->sp_path, "%s/savepoint-%s-%" PRIu64 "-%d", parent, stamp,
                             pos->read, n)
                  : snprintf(bg->sp_path, sizeof bg->sp_path, "%s/savepoint-%s-%" PRIu64, parent, stamp, pos->read);
        if (w < 0 || (size_t)w >= sizeof bg->sp_path - 8)
            return fail(EXIT_OUTPUT, "the savepoint directory name '%s' is too long", parent);
        snprintf(tmp, sizeof tmp, "%s.tmp", bg->sp_path);
        if (stat(bg->sp_path, &st) == 0) continue;
        if (mkdir(tmp, 0777) == 0) break;
        if (errno != EEXIST || n == 100)
            return fail(EXIT_OUTPUT, "cannot make '%s': %s", tmp, strerror(errno));
    }
    return start_writer(bg, parent, tmp, pos, text, len, src, fds, nfds);
}

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

double checkpoint_pause_p50(const ckpt_bg *bg) {
    uint64_t n = bg->starts + bg->sp_starts;
    if (n > 1024) n = 1024;
    if (!n) return 0;
    double v[1024];
    memcpy(v, bg->pauses, (size_t)n * sizeof v[0]);
    qsort(v, (size_t)n, sizeof v[0], cmp_double);
    return v[(n - 1) / 2];
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
    for (int i = 0; i < 2; i++)
        if (lock_fds[i] < 0) {
            lock_fds[i] = fd;
            break;
        }
    return EXIT_OK;
}

/* The resident set in bytes (/proc/self/statm), 0 where unknown. */
static uint64_t rss_bytes(void) {
    FILE *f = fopen("/proc/self/statm", "r");
    unsigned long long size = 0, rss = 0;
    if (!f) return 0;
    int got = fscanf(f, "%llu %llu", &size, &rss);
    fclose(f);
    long page = sysconf(_SC_PAGESIZE);
    return got == 2 && page > 0 ? (uint64_t)rss * (uint64_t)page : 0;
}

/* --checkpoint-log: the line of the last checkpoint or savepoint started,
 * once (ok: its file is in place). A log that cannot be written is said
 * once and given up; the run goes on. */
static void log_rec(ckpt_bg *bg, int ok) {
    if (!bg->log || bg->log_failed || bg->rec_logged) return;
    bg->rec_logged = 1;
    const ckpt_rec *r = &bg->rec;
    char stamp[32];
    time_t sec = (time_t)r->time;
    struct tm tm;
    strftime(stamp, sizeof stamp, "%Y-%m-%dT%H:%M:%S", gmtime_r(&sec, &tm));
    fprintf(bg->log,
            "{\"kind\":\"%s\",\"time\":\"%s.%03dZ\",\"events\":%" PRIu64 ",\"pause_ms\":%.3f,"
            "\"pause_cpu_ms\":%.3f,\"fork_ms\":%.3f,\"partial_matches\":%" PRIu64 ",\"keys\":%" PRIu64
            ",\"state_bytes\":%" PRIu64 ",\"rss_bytes\":%" PRIu64 ",\"ok\":%s",
            bg->savepoint ? "savepoint" : "checkpoint", stamp, (int)((r->time - (double)sec) * 1000.0), r->read,
            r->pause * 1e3, r->pause_cpu * 1e3, r->fork * 1e3, r->partial_matches, r->keys, r->state_bytes,
            r->rss_bytes, ok ? "true" : "false");
    if (ok) fprintf(bg->log, ",\"write_seconds\":%.3f,\"bytes\":%" PRIu64, r->write_seconds, r->bytes);
    if (ok && bg->savepoint) {
        jbuf j = {0}; /* (jsonout.c's escapes: a path need not be UTF-8) */
        jbuf_string(&j, bg->sp_path, strlen(bg->sp_path));
        fprintf(bg->log, ",\"path\":%.*s", j.oom ? 2 : (int)j.len, j.oom ? "\"\"" : j.p);
        jbuf_free(&j);
    }
    fputs("}\n", bg->log);
    if (fflush(bg->log) != 0 || ferror(bg->log)) {
        fprintf(stderr, "cepheus: cannot write the --checkpoint-log: %s; no more is logged\n", strerror(errno));
        bg->log_failed = 1;
    }
}

void checkpoint_record(ckpt_bg *bg, uint64_t partial_matches, uint64_t keys, uint64_t state_bytes) {
    if (!bg->log || bg->log_failed) return;
    bg->rec.partial_matches = partial_matches;
    bg->rec.keys = keys;
    bg->rec.state_bytes = state_bytes;
    bg->rec.rss_bytes = rss_bytes();
    if (!bg->pid) log_rec(bg, bg->rec_status == EXIT_OK); /* written in the foreground */
}

int checkpoint_reap(ckpt_bg *bg, int block) {
    if (!bg->pid) return EXIT_OK;
    int ws;
    pid_t r;
    do r = waitpid((pid_t)bg->pid, &ws, block ? 0 : WNOHANG);
    while (r < 0 && errno == EINTR);
    if (r == 0) return CKPT_BUSY;
    bg->pid = 0;
    int ok = r > 0 && WIFEXITED(ws) && WEXITSTATUS(ws) == EXIT_OK;
    if (ok) finished(bg);
    log_rec(bg, ok);
    if (r < 0) return fail(EXIT_INTERNAL, "cannot wait for the checkpoint writer: %s", strerror(errno));
    if (ok) return EXIT_OK;
    if (!WIFEXITED(ws))
        fprintf(stderr, "cepheus: the checkpoint writer died (signal %d)\n", WIFSIGNALED(ws) ? WTERMSIG(ws) : 0);
    if (bg->savepoint) {
        /* An operator's request that failed (it said why): the run, and
         * its checkpoints, go on. What the writer left is removed. */
        char tmp[4096 + 8];
        snprintf(tmp, sizeof tmp, "%s.tmp", bg->sp_path);
        char probe[4096 + 32];
        snprintf(probe, sizeof probe, "%s/checkpoint.tmp", tmp);
        unlink(probe);
        rmdir(tmp);
        fprintf(stderr, "cepheus: no savepoint written; the run goes on\n");
        return EXIT_OK;
    }
    if (WIFEXITED(ws)) return WEXITSTATUS(ws); /* it said why */
    return EXIT_INTERNAL;
}

void checkpoint_free(ckpt *ck) {
    free(ck->buf);
    ck->buf = NULL;
}

int checkpoint_read(const char *dir, ckpt *ck, char *err, size_t errsz) {
    char path[4096];
    memset(ck, 0, sizeof *ck);
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
        if (buf) snprintf(err, errsz, "cannot read '%s': %s", path, strerror(EIO));
        else snprintf(err, errsz, "out of memory");
        free(buf);
        return buf ? -1 : -2;
    }
    const unsigned char *b = (const unsigned char *)buf;
    if (len < 8 || memcmp(buf, CKPT_MAGIC, 7) != 0) {
        snprintf(err, errsz, "'%s' is not a cepheus checkpoint", path);
        goto refuse;
    }
    if (buf[7] != CKPT_VERSION) {
        if (buf[7] == '1')
            snprintf(err, errsz, "'%s' was written by an older cepheus (checkpoint format 1), which this "
                     "one does not restore; remove it to start from the beginning", path);
        else
            snprintf(err, errsz, "'%s' has a checkpoint format this cepheus does not know (version byte 0x%02x)",
                     path, (unsigned char)buf[7]);
        goto refuse;
    }
    if (len < CKPT_HEAD) {
        snprintf(err, errsz, "'%s' is truncated (%zu bytes, shorter than its header)", path, len);
        goto refuse;
    }
    if (util_crc32c(0, b, CKPT_HEAD - 4) != get_u32(b + CKPT_HEAD - 4)) {
        snprintf(err, errsz, "'%s' is damaged: the checksum of its header does not match", path);
        goto refuse;
    }
    uint64_t v[CKPT_NFIELDS];
    for (int i = 0; i < CKPT_NFIELDS; i++) v[i] = get_u64(b + 8 + 8 * i);
    uint64_t text_len = v[10], snap_len = v[11];
    /* A header with a good checksum was written by us; these hold unless
     * a cepheus with another layout wrote it. */
    if (v[0] > UINT32_MAX || (v[5] & ~(uint64_t)CKPT_ALL_OUTPUTS) || v[12] != 0) {
        snprintf(err, errsz, "'%s' is damaged: its header holds impossible values", path);
        goto refuse;
    }
    if (text_len > len - CKPT_HEAD || snap_len > len - CKPT_HEAD - text_len) {
        snprintf(err, errsz, "'%s' is truncated (%zu bytes, its header says %llu)", path, len,
                 (unsigned long long)(CKPT_HEAD + text_len + snap_len));
        goto refuse;
    }
    if (CKPT_HEAD + text_len + snap_len != len) {
        snprintf(err, errsz, "'%s' is damaged: %llu bytes after its end", path,
                 (unsigned long long)(len - CKPT_HEAD - text_len - snap_len));
        goto refuse;
    }
    if (util_crc32c(0, b + CKPT_HEAD, (size_t)text_len) != get_u32(b + 8 + 8 * CKPT_NFIELDS)) {
        snprintf(err, errsz, "'%s' is damaged: the checksum of its pattern text does not match", path);
        goto refuse;
    }
    ck->pos = (ckpt_pos){.file = (uint32_t)v[0], .offset = v[1], .lineno = v[2], .read = v[3],
                         .malformed = v[4], .outputs = (uint32_t)v[5], .out_len = v[6],
                         .late_len = v[7], .timeouts_len = v[8], .errors_len = v[9]};
    ck->buf = buf;
    ck->text = buf + CKPT_HEAD;
    ck->text_len = (size_t)text_len;
    ck->snap = buf + CKPT_HEAD + text_len;
    ck->snap_len = (size_t)snap_len;
    return 1;
refuse:
    free(buf);
    return -1;
}

int checkpoint_check_files(const ckpt *ck, const char *dir, FILE *input, const char *name, int nin,
                           const char *const paths[4], char *err, size_t errsz) {
    static const char *const opt[4] = {"--output", "--late", "--timeouts", "--errors"};
    const ckpt_pos *p = &ck->pos;
    const uint64_t lens[4] = {p->out_len, p->late_len, p->timeouts_len, p->errors_len};
    struct stat st;
    if (p->file >= (uint32_t)nin) {
        snprintf(err, errsz, "the checkpoint in '%s' is for other input files (it was reading file %u of them, "
                 "this run has %d)", dir, (unsigned)p->file + 1, nin);
        return -1;
    }
    if (fstat(fileno(input), &st) == 0 && p->offset && !S_ISREG(st.st_mode) && !S_ISBLK(st.st_mode)) {
        /* A pipe cannot be read again from the offset: found only when
         * the seek failed, after the outputs were cut back. */
        snprintf(err, errsz, "the checkpoint in '%s' goes on at byte %llu of '%s', which is not a regular "
                 "file and cannot be read from there: restore from a file holding the lines the checkpointed "
                 "run read", dir, (unsigned long long)p->offset, name);
        return -1;
    }
    if (fstat(fileno(input), &st) == 0 && S_ISREG(st.st_mode) && p->offset > (uint64_t)st.st_size) {
        snprintf(err, errsz, "the checkpoint in '%s' is for other input files: it had read %llu bytes of "
                 "'%s', which has %llu", dir, (unsigned long long)p->offset, name,
                 (unsigned long long)st.st_size);
        return -1;
    }
    for (int i = 0; i < 4; i++) {
        if (!paths[i]) continue;
        if (!(p->outputs & (1u << i))) {
            snprintf(err, errsz, "the checkpoint in '%s' was made without %s: '%s' would miss what came "
                     "before it; restore with the outputs the checkpointed run had", dir, opt[i], paths[i]);
            return -1;
        }
        if (stat(paths[i], &st) != 0) {
            if (errno == ENOENT && lens[i] == 0) continue;
            if (errno == ENOENT)
                snprintf(err, errsz, "%s '%s' is missing, but the checkpoint in '%s' recorded %llu bytes of it",
                         opt[i], paths[i], dir, (unsigned long long)lens[i]);
            else snprintf(err, errsz, "cannot read '%s': %s", paths[i], strerror(errno));
            return -1;
        }
        if (S_ISREG(st.st_mode) && (uint64_t)st.st_size < lens[i]) {
            snprintf(err, errsz, "%s '%s' has %llu bytes, fewer than the %llu the checkpoint in '%s' recorded: "
                     "it is not the output of the checkpointed run", opt[i], paths[i],
                     (unsigned long long)st.st_size, (unsigned long long)lens[i], dir);
            return -1;
        }
    }
    return 0;
}

/* Append s to a growing string; -1 when out of memory. */
static int put(char **p, size_t *n, size_t *cap, const char *s) {
    size_t l = strlen(s);
    if (*n + l + 1 > *cap) {
        size_t nc = (*cap ? *cap : 64);
        while (nc < *n + l + 1) nc *= 2;
        char *np = realloc(*p, nc);
        if (!np) return -1;
        *p = np;
        *cap = nc;
    }
    memcpy(*p + *n, s, l + 1);
    *n += l;
    return 0;
}

/* Pattern names sorted, to find each in O(log n): comparing every pair
 * took 10^8 strcmp, seconds, at 10,000 patterns. */
typedef struct named {
    const char *name;
    long i;
} named;

static int cmp_named(const void *a, const void *b) {
    return strcmp(((const named *)a)->name, ((const named *)b)->name);
}

long *checkpoint_name_map(const cep_program *from, const cep_program *to) {
    size_t nf = cep_program_pattern_count(from), nt = cep_program_pattern_count(to);
    named *v = malloc((nf ? nf : 1) * sizeof *v);
    long *m = malloc((nt ? nt : 1) * sizeof *m);
    if (!v || !m) {
        free(v);
        free(m);
        return NULL;
    }
    for (size_t i = 0; i < nf; i++) v[i] = (named){cep_program_pattern_name(from, i), (long)i};
    qsort(v, nf, sizeof *v, cmp_named);
    for (size_t j = 0; j < nt; j++) {
        named k = {cep_program_pattern_name(to, j), 0};
        const named *f = nf ? bsearch(&k, v, nf, sizeof *v, cmp_named) : NULL;
        m[j] = f ? f->i : -1;
    }
    free(v);
    return m;
}

/* Names of a kind shown before "and N more": a line an operator can read
 * at 1,000 rules. */
#define CHANGE_NAMES_SHOWN 8

char *checkpoint_describe_change(const cep_program *old, const cep_program *np, size_t *kept) {
    /* 0 kept, 1 changed (same name, other text), 2 new, 3 removed */
    static const char *const label[] = {"kept ", "changed, started empty: ", "new: ", "removed: "};
    long *fwd = checkpoint_name_map(old, np), *back = checkpoint_name_map(np, old);
    char *s = NULL;
    size_t n = 0, cap = 0;
    int oom = !fwd || !back || put(&s, &n, &cap, "");
    *kept = 0;
    for (int kind = 0; kind < 4 && !oom; kind++) {
        size_t count = 0;
        const cep_program *p = kind == 3 ? old : np;
        for (size_t i = 0; i < cep_program_pattern_count(p); i++) {
            long j = kind == 3 ? back[i] : fwd[i];
            int k = kind == 3 ? (j < 0 ? 3 : -1)
                    : j < 0   ? 2
                    : cep_program_pattern_fingerprint(old, (size_t)j) == cep_program_pattern_fingerprint(np, i)
                        ? 0
                        : 1;
            if (k != kind) continue;
            if (++count > CHANGE_NAMES_SHOWN) continue;
            if (count == 1) oom |= put(&s, &n, &cap, n ? "; " : ""), oom |= put(&s, &n, &cap, label[kind]);
            else oom |= put(&s, &n, &cap, ", ");
            oom |= put(&s, &n, &cap, cep_program_pattern_name(p, i));
        }
        if (count > CHANGE_NAMES_SHOWN) {
            char more[48];
            snprintf(more, sizeof more, " and %zu more", count - CHANGE_NAMES_SHOWN);
            oom |= put(&s, &n, &cap, more);
        }
        if (kind == 0) *kept = count;
    }
    free(fwd);
    free(back);
    if (oom) {
        free(s);
        return NULL;
    }
    return s;
}

/* Where a checkpoint is restored: a new engine, or a new pool. */
typedef struct target {
    unsigned threads;                 /* 0: one engine */
    ckpt_configure_fn configure;      /* the engine's */
    cep_pool_configure_fn configure_shard; /* each of the pool's */
    void *ud;
    cep_engine *e;
    cep_pool *p;
} target;

static void target_free(target *t) {
    cep_pool_free(t->p);
    cep_engine_free(t->e);
    t->p = NULL;
    t->e = NULL;
}

/* A new engine or pool of prog, set up, with the snapshot loaded. */
static int target_restore(target *t, const cep_program *prog, const ckpt *ck) {
    int rc;
    if (t->threads) {
        rc = cep_pool_new(prog, t->threads, t->configure_shard, t->ud, &t->p);
        if (rc == CEP_OK) rc = cep_pool_restore(t->p, ck->snap, ck->snap_len);
    } else {
        rc = cep_engine_new(prog, &t->e);
        if (rc == CEP_OK) rc = t->configure(t->ud, t->e);
        if (rc == CEP_OK) rc = cep_engine_restore(t->e, ck->snap, ck->snap_len);
    }
    if (rc != CEP_OK) target_free(t);
    return rc;
}

static int restore_any(const ckpt *ck, const char *dir, const char *pattern_file, const cep_program *prog,
                       target *t, char **note, char *err, size_t errsz) {
    cep_program *old = NULL;
    char *desc = NULL;
    *note = NULL;
    int rc = target_restore(t, prog, ck);
    if (rc == CEP_OK) return 0;
    if (rc == CEP_ENOMEM) {
        snprintf(err, errsz, "out of memory");
        return -2;
    }
    if (rc != CEP_EPROGRAM) {
        snprintf(err, errsz, "cannot restore the checkpoint in '%s': %s", dir, cep_strerror(rc));
        return -1;
    }
    /* The pattern file changed since the checkpoint: rebuild the program
     * that made it from the text it recorded, restore into that, and
     * switch to the new one as a SIGHUP reload would. */
    cep_diag *diag = NULL;
    rc = cep_compile(cli_compiler(), ck->text, ck->text_len, pattern_file, &old, &diag);
    cep_diag_free(diag);
    if (rc != CEP_OK) {
        if (rc == CEP_ENOMEM) {
            snprintf(err, errsz, "out of memory");
            return -2;
        }
        snprintf(err, errsz, "cannot restore the checkpoint in '%s': %s has changed since it was made, "
                 "and the patterns it recorded no longer compile; nothing was restored", dir, pattern_file);
        return -1;
    }
    size_t kept = 0;
    int status = -1;
    desc = checkpoint_describe_change(old, prog, &kept);
    if (!desc) {
        snprintf(err, errsz, "out of memory");
        status = -2;
        goto fail;
    }
    if (kept == 0) {
        snprintf(err, errsz, "cannot restore the checkpoint in '%s': %s has changed since it was made "
                 "(%s): no pattern is unchanged, so no state can be kept; nothing was restored",
                 dir, pattern_file, desc);
        goto fail;
    }
    rc = target_restore(t, old, ck);
    if (rc == CEP_EPROGRAM) {
        snprintf(err, errsz, "cannot restore the checkpoint in '%s': its snapshot was not made by the "
                 "patterns it recorded", dir);
        goto fail;
    }
    if (rc == CEP_OK) rc = t->p ? cep_pool_replace_program(t->p, prog) : cep_engine_replace_program(t->e, prog);
    if (rc == CEP_ENOMEM) {
        snprintf(err, errsz, "out of memory");
        status = -2;
        goto fail;
    }
    if (rc != CEP_OK) {
        snprintf(err, errsz, "cannot restore the checkpoint in '%s': %s", dir, cep_strerror(rc));
        goto fail;
    }
    cep_program_free(old); /* the engines run prog now */
    *note = desc;
    return 0;
fail:
    target_free(t);
    cep_program_free(old);
    free(desc);
    return status;
}

int checkpoint_restore(const ckpt *ck, const char *dir, const char *pattern_file,
                       const cep_program *prog, ckpt_configure_fn configure, void *ud,
                       cep_engine **out, char **note, char *err, size_t errsz) {
    target t = {.configure = configure, .ud = ud};
    int rc = restore_any(ck, dir, pattern_file, prog, &t, note, err, errsz);
    *out = t.e;
    return rc;
}

int checkpoint_restore_pool(const ckpt *ck, const char *dir, const char *pattern_file,
                            const cep_program *prog, unsigned threads, cep_pool_configure_fn configure, void *ud,
                            cep_pool **out, char **note, char *err, size_t errsz) {
    target t = {.threads = threads, .configure_shard = configure, .ud = ud};
    int rc = restore_any(ck, dir, pattern_file, prog, &t, note, err, errsz);
    *out = t.p;
    return rc;
}
