/* timefmt.c — RFC 3339 parsing for event times (see timefmt.h). The
 * calendar arithmetic is Howard Hinnant's days_from_civil, so the result
 * never depends on the process's time zone. */
#include "timefmt.h"
#include "cepheus.h"

int64_t timefmt_days_from_civil(int64_t y, unsigned m, unsigned d) {
    /* Shift the year to start in March so the leap day is the last day. */
    y -= m <= 2;
    const int64_t era = (y >= 0 ? y : y - 399) / 400;
    const unsigned yoe = (unsigned)(y - era * 400);                 /* [0, 399] */
    const unsigned doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1; /* [0, 365] */
    const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;     /* [0, 146096] */
    return era * 146097 + (int64_t)doe - 719468;
}

static int is_leap(int y) {
    return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

static int days_in_month(int y, int m) {
    static const unsigned char dm[12] = {31, 28, 31, 30, 31, 30,
                                         31, 31, 30, 31, 30, 31};
    return m == 2 && is_leap(y) ? 29 : dm[m - 1];
}

/* Read exactly k decimal digits at s[*i]; -1 when they are not all there. */
static int digits(const char *s, size_t n, size_t *i, int k) {
    int v = 0;
    for (int j = 0; j < k; j++) {
        if (*i >= n || s[*i] < '0' || s[*i] > '9') return -1;
        v = v * 10 + (s[*i] - '0');
        (*i)++;
    }
    return v;
}

static int expect(const char *s, size_t n, size_t *i, char c) {
    if (*i >= n || s[*i] != c) return -1;
    (*i)++;
    return 0;
}

int timefmt_parse(const char *s, size_t n, int64_t *ms) {
    size_t i = 0;
    int y, mo, d, h, mi, sec, frac = 0, off = 0;

    if ((y = digits(s, n, &i, 4)) < 0 || expect(s, n, &i, '-') ||
        (mo = digits(s, n, &i, 2)) < 0 || expect(s, n, &i, '-') ||
        (d = digits(s, n, &i, 2)) < 0)
        return -1;
    /* RFC 3339 allows 't' and, in its section 5.6 note, a space for 'T'. */
    if (i >= n || (s[i] != 'T' && s[i] != 't' && s[i] != ' ')) return -1;
    i++;
    if ((h = digits(s, n, &i, 2)) < 0 || expect(s, n, &i, ':') ||
        (mi = digits(s, n, &i, 2)) < 0 || expect(s, n, &i, ':') ||
        (sec = digits(s, n, &i, 2)) < 0)
        return -1;
    if (i < n && s[i] == '.') {
        i++;
        size_t start = i;
        /* Any number of digits; only the first three count (truncation). */
        while (i < n && s[i] >= '0' && s[i] <= '9') {
            if (i - start < 3) frac = frac * 10 + (s[i] - '0');
            i++;
        }
        if (i == start) return -1;
        for (size_t k = i - start; k < 3; k++) frac *= 10;
    }
    if (i >= n) return -1;
    if (s[i] == 'Z' || s[i] == 'z') {
        i++;
    } else if (s[i] == '+' || s[i] == '-') {
        int sign = s[i] == '-' ? -1 : 1;
        int oh, om;
        i++;
        if ((oh = digits(s, n, &i, 2)) < 0 || expect(s, n, &i, ':') ||
            (om = digits(s, n, &i, 2)) < 0)
            return -1;
        if (oh > 23 || om > 59) return -1;
        off = sign * (oh * 60 + om);
    } else {
        return -1;
    }
    if (i != n) return -1;

    if (mo < 1 || mo > 12 || d < 1 || d > days_in_month(y, mo) || h > 23 ||
        mi > 59 || sec > 60)
        return -1;

    int64_t days = timefmt_days_from_civil(y, (unsigned)mo, (unsigned)d);
    int64_t secs = days * 86400 + h * 3600 + mi * 60 + sec - (int64_t)off * 60;
    *ms = secs * 1000 + frac;
    return 0;
}

/* The public face of timefmt_parse (cepheus.h), used by language bindings. */
CEP_API int cep_parse_time(const char *s, size_t len, int64_t *ms) {
    if ((!s && len) || !ms) return CEP_EINVAL;
    return timefmt_parse(s, len, ms) == 0 ? CEP_OK : CEP_ETIME;
}
