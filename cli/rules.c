/* rules.c — the commands that look at pattern files without running them:
 * `check` (errors, and the warnings of cep_lint with their -W options) and
 * `fmt` (cep_format's canonical layout). Public header only. */
#include "config.h"
#ifndef _GNU_SOURCE
#define _GNU_SOURCE 1
#endif

#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cepheus.h"
#include "cli.h"

char *read_file(const char *path, size_t *len) {
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    char *buf = NULL;
    size_t n = 0, cap = 0;
    for (;;) {
        if (cap - n < 4096) {
            size_t nc = cap ? cap * 2 : 8192;
            char *nb = realloc(buf, nc);
            if (!nb) {
                free(buf);
                fclose(f);
                errno = ENOMEM;
                return NULL;
            }
            buf = nb;
            cap = nc;
        }
        size_t got = fread(buf + n, 1, cap - n - 1, f);
        n += got;
        if (got == 0) break;
    }
    int err = ferror(f) ? (errno ? errno : EIO) : 0;
    fclose(f);
    if (err) {
        free(buf);
        errno = err;
        return NULL;
    }
    buf[n] = 0;
    if (len) *len = n;
    return buf;
}

/* ---- warnings ------------------------------------------------------------- */

static const char *const warn_names[] = {
#define CLI_WNAME_(code, value, name, what) name,
    CEP_DIAG_WARNINGS(CLI_WNAME_)
#undef CLI_WNAME_
};
#define NWARN (sizeof warn_names / sizeof *warn_names)

static int warn_bit(const char *name) {
    for (size_t i = 0; i < NWARN; i++)
        if (!strcmp(name, warn_names[i])) return (int)i;
    return -1;
}

int warn_option(warn_opts *w, const char *arg) {
    int b;
    if (!strcmp(arg, "error")) w->as_errors = 1;
    else if (!strcmp(arg, "none")) w->none = 1;
    else if (!strcmp(arg, "all")) w->none = 0, w->off = 0;
    else if (!strncmp(arg, "no-", 3) && (b = warn_bit(arg + 3)) >= 0) w->off |= 1u << b;
    else if (!strncmp(arg, "error=", 6) && (b = warn_bit(arg + 6)) >= 0) w->error |= 1u << b;
    else if ((b = warn_bit(arg)) >= 0) w->off &= ~(1u << b);
    else {
        char list[256] = "";
        for (size_t i = 0; i < NWARN; i++) {
            strcat(list, i ? ", " : "");
            strcat(list, warn_names[i]);
        }
        return usage_error("unknown warning option '-W%s': -Werror, -Wnone, -Wall, -Wno-NAME, "
                           "-Werror=NAME, -WNAME; NAME is one of %s", arg, list);
    }
    return EXIT_OK;
}

#define MAX_WARNINGS_SHOWN 50

int print_warnings(const char *path, const cep_diag *d, const warn_opts *w, unsigned skip) {
    if (w->none && !w->error) return EXIT_OK;
    int status = EXIT_OK;
    size_t shown = 0, unshown = 0;
    for (size_t i = 0; i < cep_diag_count(d); i++) {
        int bit = cep_diag_code(d, i) - CEP_DIAG_W_UNBOUNDED;
        unsigned m = bit >= 0 && bit < 32 ? 1u << bit : 0;
        int as_error = w->as_errors || (w->error & m);
        if (!as_error && (w->none || (w->off & m) || (skip & m))) continue;
        if (as_error) status = EXIT_PATTERN;
        /* As many as cep_diag_render shows of errors (docs/errors.md). */
        if (shown == MAX_WARNINGS_SHOWN) {
            unshown++;
            continue;
        }
        shown++;
        char *one = cep_diag_render_one(d, i, as_error);
        if (!one) {
            status = fail(EXIT_INTERNAL, "out of memory");
            break;
        }
        fputs(one, stderr);
        cep_free(one);
    }
    if (unshown) fprintf(stderr, "%s: warning: too many warnings: %zu more not shown\n", path, unshown);
    return status;
}

/* ---- check ------------------------------------------------------------- */

int cmd_check(int argc, char **argv) {
    const struct option opts[] = {{"verbose", no_argument, NULL, 'v'},
                                  {"load", required_argument, NULL, 'L'},
                                  {"help", no_argument, NULL, 'h'},
                                  {NULL, 0, NULL, 0}};
    warn_opts w = {0};
    int verbose = 0, c;
    while ((c = getopt_long(argc, argv, ":hvW:", opts, NULL)) != -1) {
        if (c == 'v') verbose = 1;
        else if (c == 'L') {
            if (cli_load_plugin(optarg) != EXIT_OK) return EXIT_USAGE;
        } else if (c == 'W') {
            if (warn_option(&w, optarg) != EXIT_OK) return EXIT_USAGE;
        } else if (c == 'h') {
            fputs(usage_text, stdout);
            return EXIT_OK;
        } else return option_error(c, argv);
    }
    if (optind >= argc) return usage_error("check needs a pattern file");
    int status = EXIT_OK;
    for (int i = optind; i < argc; i++) {
        cep_program *prog;
        /* Read and compiled once: the file may be a pipe. */
        int s = compile_file_warn(argv[i], &prog, NULL, NULL, &w, 0);
        cep_program_free(prog);
        if (s == EXIT_OK && verbose) printf("%s: ok\n", argv[i]);
        /* The worst status wins: usage and internal errors over pattern errors. */
        if (s > status) status = s;
    }
    return status;
}

/* ---- fmt ------------------------------------------------------------------ */

static const char fmt_usage[] =
    "Usage: cepheus fmt [--check | -w] PATTERNS.cep ...\n"
    "Print each pattern file in the canonical layout (docs/language.md#layout).\n"
    "  --check      print nothing; list the files that are not formatted on\n"
    "               standard error and exit 1 if there is one\n"
    "  -w, --write  rewrite the files that are not formatted in place\n";

int cmd_fmt(int argc, char **argv) {
    const struct option opts[] = {{"check", no_argument, NULL, 'c'},
                                  {"write", no_argument, NULL, 'w'},
                                  {"help", no_argument, NULL, 'h'},
                                  {NULL, 0, NULL, 0}};
    int check = 0, write = 0, c;
    while ((c = getopt_long(argc, argv, ":hw", opts, NULL)) != -1) {
        if (c == 'c') check = 1;
        else if (c == 'w') write = 1;
        else if (c == 'h') {
            fputs(fmt_usage, stdout);
            return EXIT_OK;
        } else return option_error(c, argv);
    }
    if (optind >= argc) return usage_error("fmt needs a pattern file");
    if (check && write) return usage_error("fmt: --check and --write cannot be used together");
    int status = EXIT_OK;
    for (int i = optind; i < argc; i++) {
        const char *path = argv[i];
        size_t len;
        char *text = read_file(path, &len), *out = NULL;
        int s = EXIT_OK;
        if (!text) {
            s = errno == ENOMEM ? fail(EXIT_INTERNAL, "out of memory")
                                : fail(EXIT_USAGE, "cannot read '%s': %s", path, strerror(errno));
        } else {
            cep_diag *d = NULL;
            int rc = cep_format(text, len, path, &out, &d);
            if (rc == CEP_EPATTERN) {
                fputs(cep_diag_render(d), stderr);
                s = EXIT_PATTERN;
            } else if (rc != CEP_OK) {
                s = fail(EXIT_INTERNAL, "cannot format '%s': %s", path, cep_strerror(rc));
            } else if (check || write) {
                int same = strlen(out) == len && memcmp(out, text, len) == 0;
                if (!same && check) {
                    fprintf(stderr, "%s: not formatted (run cepheus fmt -w)\n", path);
                    s = EXIT_PATTERN;
                } else if (!same) {
                    FILE *f = fopen(path, "wb");
                    if (!f || fputs(out, f) == EOF || fclose(f) != 0) {
                        s = fail(EXIT_OUTPUT, "cannot write '%s': %s", path, strerror(errno));
                        if (f) fclose(f);
                    }
                }
            } else if (fputs(out, stdout) == EOF) {
                s = fail(EXIT_OUTPUT, "cannot write the output: %s", strerror(errno));
            }
            cep_diag_free(d);
        }
        cep_free(out);
        free(text);
        if (s > status) status = s;
    }
    if (fflush(stdout) != 0 && status == EXIT_OK) status = fail(EXIT_OUTPUT, "cannot write the output: %s", strerror(errno));
    return status;
}
