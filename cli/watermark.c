/* watermark.c — the `{"$watermark": T}` line of the input, the same in
 * file mode and in Kafka mode (docs/state.md). */
#include "config.h"
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include "cepheus.h"
#include "cli.h"

int cli_watermark_line(const char *s, size_t n, int64_t *ms) {
    static const char key[] = "\"$watermark\"";
    size_t i = 0;
    while (i < n && (s[i] == ' ' || s[i] == '\t' || s[i] == '\r')) i++;
    if (i == n || s[i] != '{') return 0;
    for (i++; i < n && (s[i] == ' ' || s[i] == '\t'); i++) {}
    /* (The '$' first: an event line is told apart without a call.) */
    if (n - i < sizeof key - 1 || s[i + 1] != '$' || memcmp(s + i, key, sizeof key - 1) != 0) return 0;
    for (i += sizeof key - 1; i < n && (s[i] == ' ' || s[i] == '\t'); i++) {}
    if (i == n || s[i++] != ':') return -1;
    while (i < n && (s[i] == ' ' || s[i] == '\t')) i++;
    size_t start = i, end;
    if (i < n && s[i] == '"') {
        for (end = ++start; end < n && s[end] != '"'; end++) {}
        if (end == n || cep_parse_time(s + start, end - start, ms) != CEP_OK) return -1;
        i = end + 1;
    } else {
        /* A JSON integer: -?(0|[1-9][0-9]*); "-" or "0005" is not one. */
        char num[32];
        end = i + (i < n && s[i] == '-');
        size_t digits = end;
        for (; end < n && s[end] >= '0' && s[end] <= '9'; end++) {}
        if (end == digits || (s[digits] == '0' && end - digits > 1) || end - start >= sizeof num) return -1;
        memcpy(num, s + start, end - start);
        num[end - start] = '\0';
        errno = 0;
        long long v = strtoll(num, NULL, 10);
        if (errno) return -1;
        *ms = v;
        i = end;
    }
    while (i < n && (s[i] == ' ' || s[i] == '\t' || s[i] == '\r')) i++;
    if (i == n || s[i++] != '}') return -1;
    while (i < n && (s[i] == ' ' || s[i] == '\t' || s[i] == '\r')) i++;
    return i == n ? 1 : -1;
}
