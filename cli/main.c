/* main.c — the `cepheus` command-line tool: its commands and help, the
 * messages and exit statuses they share, `check` and `explain`; `run` is in
 * run.c. A client of the library like any other: include/cepheus.h only. */
#include "config.h"
#ifndef _GNU_SOURCE
#define _GNU_SOURCE 1 /* getline, getopt_long */
#endif

#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cepheus.h"
#include "cli.h"
#include "checkpoint.h"
#include "suggest.h"
#include "metrics.h"


const char usage_text[] =
    "Usage: cepheus run PATTERNS.cep [EVENTS.jsonl ...|-] [OPTIONS]\n"
    "       cepheus check [-v] PATTERNS.cep ...\n"
    "       cepheus explain [--dot] PATTERNS.cep\n"
    "       cepheus test [--only NAME]... PATTERNS.cep TESTS...\n"
    "       cepheus fmt [--check | -w] PATTERNS.cep ...\n"
    "       cepheus help | --help | --version\n"
    "\n"
    "Commands:\n"
    "  run     match the patterns against events, one JSON object per line,\n"
    "          read from the files in turn (standard input when there is none\n"
    "          or for '-'); write one JSON object per match\n"
    "  check   compile pattern files and report their errors and warnings\n"
    "  explain print each pattern's compiled NFA (--dot: as Graphviz DOT)\n"
    "  test    run the cases of test files against the patterns and report\n"
    "          each failing one (docs/testing.md; cepheus test --help)\n"
    "  fmt     print pattern files in the canonical layout (--check: exit 1\n"
    "          when one is not; -w: rewrite them)\n"
    "\n"
    "Options of run:\n"
    "  -o, --output FILE      write matches to FILE (default: standard output);\n"
    "                         no output may be an input or another output\n"
    "      --output-form FORM events: each event of a match as read (default);\n"
    "                         positions: each as its line number in the input\n"
    "                         (lines of all inputs counted in order)\n"
    "  -t, --time-field NAME  field holding the event time, integer milliseconds\n"
    "                         or an RFC 3339 string (default: ts); a path into\n"
    "                         nested objects too: meta.ts\n"
    "  -d, --max-delay TIME   accept events up to TIME out of order (default: 0);\n"
    "                         every TIME is milliseconds, or a duration: 500ms,\n"
    "                         5s, 10m, 1h, 2d\n"
    "      --allowed-lateness TIME\n"
    "                         still match events up to TIME behind the watermark\n"
    "                         where they can change a result (default: 0)\n"
    "  -l, --late FILE        write late events (older than the watermark) to\n"
    "                         FILE, one per line, as read\n"
    "  -T, --timeouts FILE    write partial matches whose `within` window closed\n"
    "                         to FILE, one JSON object per line\n"
    "  -s, --stats            print counters to standard error at the end\n"
    "  -q, --quiet            no end-of-run summary of what was lost or ignored\n"
    "                         (late events, rejected lines, fields no event had)\n"
    "      --progress, --no-progress\n"
    "                         a status line every second on standard error\n"
    "                         (default: on when it is a terminal)\n"
    "      --flush-interval TIME\n"
    "                         write pending output at least this often under a\n"
    "                         steady stream (default: 100ms; it is also written\n"
    "                         whenever input is awaited); 0: every line at once\n"
    "      --strict           stop at the first malformed line\n"
    "      --max-partial-matches N\n"
    "                         keep at most N partial matches per key and pattern,\n"
    "                         dropping the earliest-started ones (default: no limit)\n"
    "      --time event|processing\n"
    "                         event time from --time-field (default), or the\n"
    "                         arrival clock: windows then close on the wall clock\n"
    "                         even while no event arrives\n"
    "      --state-ttl TIME   drop the partial matches of a key idle for TIME of\n"
    "                         event time (counted in --stats)\n"
    "      --checkpoint DIR   write a checkpoint to DIR (created if missing) every\n"
    "                         --checkpoint-every events and at SIGINT/SIGTERM;\n"
    "                         needs --output and files\n"
    "      --checkpoint-every N\n"
    "                         lines between two checkpoints (default: 100000,\n"
    "                         or none when only --checkpoint-interval is given)\n"
    "      --checkpoint-interval TIME\n"
    "                         also a checkpoint when TIME has passed since the\n"
    "                         last one (e.g. 10s; the clock is read every 256 lines)\n"
    "      --checkpoint-min-pause TIME|auto\n"
    "                         at least TIME from the end of one checkpoint to the\n"
    "                         start of the next (auto, the default: as long as\n"
    "                         the last one took to write; 0: as soon as one is\n"
    "                         due)\n"
    "      --checkpoint-log FILE\n"
    "                         append a JSON line per checkpoint or savepoint: its\n"
    "                         pause, partial matches, RSS, time to write, size\n"
    "      --savepoint-dir DIR\n"
    "                         on SIGUSR1, write a savepoint (a whole checkpoint in\n"
    "                         a new directory DIR/savepoint-TIME-EVENTS) while the\n"
    "                         run goes on; --restore takes it; needs --output and files\n"
    "      --restore DIR      resume from DIR's checkpoint: outputs are cut back\n"
    "                         and input continues where it was (exactly once);\n"
    "                         nothing is touched if the checkpoint does not fit;\n"
    "                         changed patterns start empty, unchanged keep state;\n"
    "                         none yet: the beginning if DIR is --checkpoint's\n"
    "      --max-memory BYTES keep the engine's state under BYTES (k, M, G suffixes):\n"
    "                         buffered events run early, then the oldest partial\n"
    "                         matches are dropped (or see --on-limit)\n"
    "      --on-limit drop|fail\n"
    "                         at the limit, drop and count (default) or stop (exit 6)\n"
    "      --errors FILE      write each rejected line to FILE as a JSON object\n"
    "                         {\"file\",\"line\",\"reason\",\"text\"} (text cut at 1 KiB)\n"
    "      --max-line-bytes N reject lines longer than N bytes as malformed, without\n"
    "                         holding them in memory (default: no limit)\n"
    "      --threads N        use N threads (1 to 256: this one and N-1 more) over\n"
    "                         2N engines (one for N = 1; at most 128) partitioned\n"
    "                         by each pattern's key (output per key as with one\n"
    "                         engine; keys interleave); not with --kafka. A\n"
    "                         checkpoint restores with any --threads, or none\n"
    "      --metrics ADDR:PORT\n"
    "                         serve /metrics (Prometheus) and /healthz on that\n"
    "                         address only, e.g. 127.0.0.1:9464 (port 0: any free\n"
    "                         one, printed); also with --kafka (docs/operations.md)\n"
    "\n"
    "Kafka (docs/scaling.md; no event files, no --output):\n"
    "      --kafka BROKERS    run as a member of a consumer group on these brokers\n"
    "      --topic T          input topic: JSON events, keyed by the pattern's key\n"
    "      --group G          consumer group (one engine per assigned partition)\n"
    "      --output-topic T   matches, written in Kafka transactions\n"
    "      --late-topic T, --timeouts-topic T\n"
    "                         late events and timed-out partial matches\n"
    "      --state-topic T    compacted topic of partition snapshots (default\n"
    "                         G-cepheus-state)\n"
    "      --instance-id ID   stable member name: a restart fences its predecessor\n"
    "      --txn-events N, --txn-ms TIME\n"
    "                         commit a transaction every N messages (10000) or\n"
    "                         TIME (1000 ms), whichever comes first\n"
    "  -X KEY=VALUE           librdkafka property for every Kafka client\n"
    "                         (--stats: a line per partition every 5 seconds)\n"
    "Malformed lines are reported as FILE:LINE: error: REASON and skipped (the\n"
    "first 5 of each reason; then counted); blank lines are ignored. When the\n"
    "first 10000 lines are all rejected for one reason, the run stops (exit 3).\n"
    "SIGINT or SIGTERM stops a run in order: reading stops, what is decided is\n"
    "written, a checkpoint is taken under --checkpoint (partial matches go on\n"
    "after --restore; they are not forced out); a second signal exits at once.\n"
    "\n"
    "Options of check:\n"
    "  -v, --verbose          print 'FILE: ok' for a file without errors\n"
    "\n"
    "Functions registered from C (run, check, explain, test; docs/testing.md):\n"
    "      --load MODULE      load a shared object (.so) whose function\n"
    "                         cep_plugin_register(cep_compiler *) adds functions\n"
    "                         the patterns call; may be repeated\n"
    "\n"
    "Warnings (check, and run before it starts; docs/language.md#warnings):\n"
    "  -Werror                warnings are errors (exit 1)\n"
    "  -Wnone                 no warnings\n"
    "  -Wno-NAME, -Werror=NAME\n"
    "                         leave out NAME, or make it an error; NAME is one of\n"
    "                         unbounded, combinations, never-true, same-condition,\n"
    "                         regex, keyless, skip-target, hyphen\n"
    "\n"
    "  -h, --help             show this help\n"
    "  -V, --version          show the version\n"
    "\n"
    "Exit status:\n"
    "  0  success\n"
    "  1  the pattern file has errors\n"
    "  2  usage error: unknown option, missing argument, bad number,\n"
    "     unreadable file, an output that is an input or another output\n"
    "  3  malformed input line under --strict, the first 10000 lines all\n"
    "     rejected for one reason, or a checkpoint that cannot be restored\n"
    "     (nothing is changed then)\n"
    "  4  output error: a file cannot be written (standard output closed\n"
    "     early too), or the --checkpoint directory cannot be used\n"
    "  5  out of memory or internal error\n"
    "  6  the partial-match limit was reached under --on-limit fail\n"
    "  130, 143  stopped in order by SIGINT, SIGTERM (128 + the signal)\n";

int usage_error(const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    fputs("cepheus: ", stderr);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputs("\nTry 'cepheus --help' for more information.\n", stderr);
    return EXIT_USAGE;
}

int vfail(int status, const char *fmt, va_list ap) {
    va_list ap2;
    va_copy(ap2, ap);
    fputs("cepheus: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    char msg[512];
    vsnprintf(msg, sizeof msg, fmt, ap2);
    va_end(ap2);
    metrics_fatal(msg); /* /healthz says why, until the process is gone */
    return status;
}

int fail(int status, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vfail(status, fmt, ap);
    va_end(ap);
    return status;
}

double cli_now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

/* Report a getopt failure: '?' (unknown option) or ':' (missing argument). */
int option_error(int c, char *const *argv) { return option_error_in(c, argv, NULL); }

int option_error_in(int c, char *const *argv, const struct option *opts) {
    const char *opt = argv[optind - 1];
    if (c == ':') return usage_error("option '%s' needs an argument", opt);
    if (optopt && strncmp(opt, "--", 2) != 0)
        return usage_error("unknown option '-%c'", optopt);
    /* The nearest long option, for a typo: --max_delay, --max-dealy. */
    const char *names[128];
    size_t n = 0;
    for (size_t i = 0; opts && opts[i].name && n < sizeof names / sizeof names[0]; i++) names[n++] = opts[i].name;
    char word[128];
    size_t len = strcspn(opt + 2, "=");
    const char *near = NULL;
    if (!strncmp(opt, "--", 2) && len < sizeof word) {
        memcpy(word, opt + 2, len);
        word[len] = '\0';
        near = suggest_nearest(word, names, n);
    }
    if (near) return usage_error("unknown option '%s'; did you mean '--%s'?", opt, near);
    return usage_error("unknown option '%s'", opt);
}

/* The whole file in a malloc'd buffer, reading at most limit + 1 bytes so
 * that /dev/zero or a huge file costs no more than the limit (*len > limit
 * then says the file is too long); -1 with errno set on failure. */
static int read_all(const char *path, size_t limit, char **out, size_t *len) {
    FILE *f = fopen(path, "rb");
    if (!f) return -1;
    size_t cap = 4096, n = 0;
    char *buf = malloc(cap);
    if (!buf) {
        fclose(f);
        errno = ENOMEM;
        return -1;
    }
    while (n <= limit) {
        if (n == cap) {
            size_t ncap = cap * 2 > limit + 1 ? limit + 1 : cap * 2;
            char *nb = realloc(buf, ncap);
            if (!nb) {
                free(buf);
                fclose(f);
                errno = ENOMEM;
                return -1;
            }
            buf = nb;
            cap = ncap;
        }
        size_t got = fread(buf + n, 1, cap - n, f);
        n += got;
        if (got == 0) break;
    }
    int err = ferror(f) ? errno : 0;
    fclose(f);
    if (err) {
        free(buf);
        errno = err ? err : EIO;
        return -1;
    }
    *out = buf;
    *len = n;
    return 0;
}

int compile_file(const char *path, cep_program **prog) { return compile_file_keep(path, prog, NULL, NULL); }

/* Text that opens with '{' or '[' (after blanks and a byte order mark) is
 * JSON, never patterns: events given where the pattern file goes. */
static int looks_like_json(const char *s, size_t n) {
    size_t i = n >= 3 && !memcmp(s, "\xEF\xBB\xBF", 3) ? 3 : 0;
    while (i < n && (s[i] == ' ' || s[i] == '\t' || s[i] == '\r' || s[i] == '\n')) i++;
    return i < n && (s[i] == '{' || s[i] == '[');
}

int compile_file_keep(const char *path, cep_program **prog, char **keep, size_t *keep_len) {
    return compile_file_warn(path, prog, keep, keep_len, NULL, 0);
}

/* Compile one pattern file. Returns EXIT_OK with *prog (and, when keep is
 * not NULL, the text compiled, malloc'd), or prints why not and returns the
 * exit status. With w, the warnings it asks for are printed too, from the
 * same compile (cep_compile_lint: one compile, not two, for 1,000 rules
 * that is 1.5% of a W8 run); *prog is set even when one counts as an error. */
int compile_file_warn(const char *path, cep_program **prog, char **keep, size_t *keep_len, const warn_opts *w,
                      unsigned skip) {
    char *text;
    size_t len;
    *prog = NULL;
    if (read_all(path, CEP_MAX_PATTERN_BYTES, &text, &len) < 0) {
        if (errno == ENOMEM) return fail(EXIT_INTERNAL, "out of memory");
        return fail(EXIT_USAGE, "cannot read '%s': %s", path, strerror(errno));
    }
    if (len > CEP_MAX_PATTERN_BYTES) { /* the reading stopped there */
        free(text);
        fprintf(stderr, "%s: error: pattern text is more than %u bytes; the limit is %u\n", path,
                (unsigned)CEP_MAX_PATTERN_BYTES, (unsigned)CEP_MAX_PATTERN_BYTES);
        return EXIT_PATTERN;
    }
    if (looks_like_json(text, len)) {
        /* One line instead of an error at every ':' of every event. */
        free(text);
        fprintf(stderr, "%s:1:1: error: this is JSON, not patterns (events go after the pattern file: "
                "cepheus run PATTERNS.cep EVENTS.jsonl)\n", path);
        return EXIT_PATTERN;
    }
    cep_diag *diag = NULL;
    int lint = w && !(w->none && !w->error);
    int rc = lint ? cep_compile_lint(cli_compiler(), text, len, path, prog, &diag)
                  : cep_compile(cli_compiler(), text, len, path, prog, &diag);
    if (rc == CEP_OK && keep) {
        *keep = text; /* what a checkpoint records of the patterns */
        *keep_len = len;
    } else {
        free(text);
    }
    int status = EXIT_OK;
    if (rc == CEP_EPATTERN) {
        fputs(cep_diag_render(diag), stderr);
        status = EXIT_PATTERN;
        /* The tool knows only the built-ins: say how to give it the rest. */
        for (size_t i = 0; i < cep_diag_count(diag); i++)
            if (!strncmp(cep_diag_message(diag, i), "unknown function '", 18)) {
                fputs("note: a function registered from C is loaded into the tool with --load MODULE "
                      "(docs/testing.md)\n", stderr);
                break;
            }
    } else if (rc != CEP_OK) {
        status = fail(EXIT_INTERNAL, "cannot compile '%s': %s", path,
                      cep_strerror(rc));
    } else if (lint) {
        status = print_warnings(path, diag, w, skip);
    }
    cep_diag_free(diag);
    return status;
}

/* The options of check and explain: one on/off flag (--NAME, or -SHORT
 * when short is not 0) and --help. Returns -1 to go on, else the exit status. */
static int flag_options(int argc, char **argv, const char *name, char short_name, int *flag) {
    const struct option opts[] = {
        {name, no_argument, NULL, 'F'},
        {"load", required_argument, NULL, 'L'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0}};
    char shorts[4] = ":h";
    shorts[2] = short_name;
    int c;
    *flag = 0;
    while ((c = getopt_long(argc, argv, shorts, opts, NULL)) != -1) {
        if (c == 'F' || (short_name && c == short_name)) *flag = 1;
        else if (c == 'L') {
            if (cli_load_plugin(optarg) != EXIT_OK) return EXIT_USAGE;
        } else if (c == 'h') {
            fputs(usage_text, stdout);
            return EXIT_OK;
        } else return option_error_in(c, argv, opts);
    }
    return -1;
}

/* ---- explain ------------------------------------------------------------ */

static int cmd_explain(int argc, char **argv) {
    int dot, done = flag_options(argc, argv, "dot", 0, &dot);
    if (done >= 0) return done;
    if (optind + 1 != argc) return usage_error("explain needs exactly one pattern file");
    cep_program *prog;
    int status = compile_file(argv[optind], &prog);
    if (status != EXIT_OK) return status;
    char *text = NULL;
    int rc = cep_program_explain(prog, dot, &text);
    if (rc == CEP_OK) {
        fputs(text, stdout);
        if (fflush(stdout) != 0) status = fail(EXIT_OUTPUT, "cannot write the output: %s", strerror(errno));
    } else {
        status = fail(EXIT_INTERNAL, "cannot explain: %s", cep_strerror(rc));
    }
    cep_free(text);
    cep_program_free(prog);
    return status;
}

/* A duration: an integer of milliseconds, or an integer and a unit of
 * the language (ms, s, m, h, d); the result in milliseconds, which fits. */
int parse_duration(const char *s, int64_t *out) {
    static const struct { const char *unit; int64_t ms; } units[] = {
        {"ms", 1}, {"s", 1000}, {"m", 60000}, {"h", 3600000}, {"d", 86400000}};
    size_t digits = strspn(s, "0123456789");
    if (digits == 0 || digits > 19) return -1;
    char num[20];
    memcpy(num, s, digits);
    num[digits] = '\0';
    int64_t v;
    if (parse_ms(num, &v) < 0) return -1;
    const char *u = s + digits;
    if (!*u) {
        *out = v;
        return 0;
    }
    for (size_t i = 0; i < sizeof units / sizeof units[0]; i++)
        if (!strcmp(u, units[i].unit)) {
            if (v > INT64_MAX / units[i].ms) return -1;
            *out = v * units[i].ms;
            return 0;
        }
    return -1;
}

/* Strict non-negative integer: digits only, no sign, no spaces, fits. */
int parse_ms(const char *s, int64_t *out) {
    if (*s < '0' || *s > '9') return -1;
    char *end;
    errno = 0;
    long long v = strtoll(s, &end, 10);
    if (errno || *end) return -1;
    *out = v;
    return 0;
}

int main(int argc, char **argv) {
    if (argc < 2) {
        fputs(usage_text, stderr);
        return EXIT_USAGE;
    }
    const char *cmd = argv[1];
    if (!strcmp(cmd, "--help") || !strcmp(cmd, "-h") || !strcmp(cmd, "help")) {
        fputs(usage_text, stdout);
        return fflush(stdout) == 0 ? EXIT_OK : EXIT_OUTPUT;
    }
    if (!strcmp(cmd, "--version") || !strcmp(cmd, "-V")) {
        printf("cepheus %s\n", CEP_VERSION);
        return fflush(stdout) == 0 ? EXIT_OK : EXIT_OUTPUT;
    }
    /* Each command parses its own options from argv[1] on. */
    if (!strcmp(cmd, "run")) return cmd_run(argc - 1, argv + 1);
    if (!strcmp(cmd, CKPT_FINISH_CMD)) return checkpoint_finish_main(argc - 1, argv + 1);
    if (!strcmp(cmd, "explain")) return cmd_explain(argc - 1, argv + 1);
    if (!strcmp(cmd, "test")) return cmd_test(argc - 1, argv + 1);
    if (!strcmp(cmd, "fmt")) return cmd_fmt(argc - 1, argv + 1);
    if (!strcmp(cmd, "check")) {
        int s = cmd_check(argc - 1, argv + 1);
        if (fflush(stdout) != 0 && s == EXIT_OK) s = EXIT_OUTPUT;
        return s;
    }
    static const char *const commands[] = {"run", "check", "explain", "help"};
    const char *near = suggest_nearest(cmd[0] == '-' ? cmd + strspn(cmd, "-") : cmd, commands, 4);
    if (cmd[0] == '-') {
        static const char *const opts[] = {"help", "version"};
        const char *o = !strncmp(cmd, "--", 2) ? suggest_nearest(cmd + 2, opts, 2) : NULL;
        if (o) return usage_error("unknown option '%s'; did you mean '--%s'?", cmd, o);
        return usage_error("unknown option '%s'", cmd);
    }
    if (near) return usage_error("unknown command '%s'; did you mean '%s'?", cmd, near);
    return usage_error("unknown command '%s'", cmd);
}
