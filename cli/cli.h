/* cli.h — what the files of the `cepheus` tool share: exit statuses,
 * messages, option helpers and the commands. */
#ifndef CEP_CLI_H
#define CEP_CLI_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include "cepheus.h"

/* Exit statuses, listed in the --help text. */
enum {
    EXIT_OK = 0,
    EXIT_PATTERN = 1,
    EXIT_USAGE = 2,
    EXIT_INPUT = 3,
    EXIT_OUTPUT = 4,
    EXIT_INTERNAL = 5,
    EXIT_LIMIT = 6
};

extern const char usage_text[];

/* "cepheus: MSG" and the --help hint on stderr; returns EXIT_USAGE. */
int usage_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* "cepheus: MSG" on stderr; returns status. */
int fail(int status, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
int vfail(int status, const char *fmt, va_list ap) __attribute__((format(printf, 2, 0)));
/* Seconds on the monotonic clock, for intervals. */
double cli_now(void);
/* Report a getopt failure ('?' or ':'). */
int option_error(int c, char *const *argv);
/* The same, naming the nearest of opts (getopt_long's table) to an
 * unknown long option: "did you mean '--max-delay'?". */
struct option;
int option_error_in(int c, char *const *argv, const struct option *opts);
/* Compile a pattern file: EXIT_OK with *prog, or the status after printing
 * why not (diagnostics for pattern errors). */
int compile_file(const char *path, cep_program **prog);
/* The same, and on success *text (malloc'd) and *len: the text compiled. */
int compile_file_keep(const char *path, cep_program **prog, char **text, size_t *len);
/* The same, printing the warnings w asks for (print_warnings; w NULL:
 * none); a warning counted as an error returns EXIT_PATTERN, *prog set. */
struct warn_opts;
int compile_file_warn(const char *path, cep_program **prog, char **text, size_t *len, const struct warn_opts *w,
                      unsigned skip);
/* --load MODULE (cli/plugin.c): load a shared object and let its
 * cep_plugin_register add functions; EXIT_OK or the status after saying why
 * not. cli_compiler() is the compiler every compile of the tool uses (NULL:
 * built-in functions only). */
int cli_load_plugin(const char *path);
const cep_compiler *cli_compiler(void);
/* Strict non-negative decimal integer; 0 or -1. */
int parse_ms(const char *s, int64_t *out);
/* A duration in milliseconds: an integer (milliseconds) or an integer and
 * ms, s, m, h or d (5s, 1h); 0 or -1. */
int parse_duration(const char *s, int64_t *out);

/* Is this line {"$watermark": T} (T integer milliseconds or an RFC 3339
 * string)? 1 with *ms set, 0 when it is an ordinary event line, -1 when it
 * names $watermark but is not of that form. Checked by hand: the common
 * case, an event, is told apart by its first few bytes. Whitespace may
 * surround the braces, the key, the colon and T (not a newline: a line). */
int cli_watermark_line(const char *s, size_t n, int64_t *ms);
/* The same, an event line that opens {"x (x not $) told without a call:
 * what cli_watermark_line returns for it. */
static inline int cli_watermark_check(const char *s, size_t n, int64_t *ms) {
    if (n >= 3 && s[0] == '{' && s[1] == '"' && s[2] != '$') return 0;
    return cli_watermark_line(s, n, ms);
}

int cmd_run(int argc, char **argv);
int cmd_test(int argc, char **argv);
int cmd_check(int argc, char **argv);
int cmd_fmt(int argc, char **argv);

/* -W options (cli/rules.c): which warnings of cep_lint are shown, and
 * whether they count as errors. */
typedef struct warn_opts {
    int as_errors;   /* -Werror */
    int none;        /* -Wnone */
    unsigned off;    /* -Wno-NAME: bit (code - 101) */
    unsigned error;  /* -Werror=NAME */
} warn_opts;
/* Apply one -W argument (the text after -W). EXIT_OK or a usage error. */
int warn_option(warn_opts *w, const char *arg);
/* Print the warnings d (cep_compile_lint's) of the pattern file path (codes
 * whose bit is in skip are left out: a run option already bounds what they
 * warn about). EXIT_OK, EXIT_PATTERN when a warning counted as an error, or
 * EXIT_INTERNAL. */
int print_warnings(const char *path, const cep_diag *d, const warn_opts *w, unsigned skip);
/* The whole file, NUL-terminated, in a malloc'd buffer; NULL with errno. */
char *read_file(const char *path, size_t *len);

#endif
