/* bytes.h — equality and copies of short byte strings without a call:
 * keys, string constants and field values are mostly a few bytes, where a
 * call to memcmp or memcpy costs more than the work. */
#ifndef CEP_BYTES_H
#define CEP_BYTES_H

#include <stdint.h>
#include <string.h>

static inline int same_bytes(const void *pa, const void *pb, size_t n) {
    const unsigned char *a = pa, *b = pb;
    if (n >= 8 && n <= 16) { /* two loads that may overlap, never past the end */
        uint64_t a0, a1, b0, b1;
        memcpy(&a0, a, 8);
        memcpy(&b0, b, 8);
        memcpy(&a1, a + n - 8, 8);
        memcpy(&b1, b + n - 8, 8);
        return ((a0 ^ b0) | (a1 ^ b1)) == 0;
    }
    if (n < 8) {
        for (size_t i = 0; i < n; i++)
            if (a[i] != b[i]) return 0;
        return 1;
    }
    return memcmp(a, b, n) == 0;
}

/* memcpy(dst, src, n) for buffers that do not overlap; the same two loads
 * that may overlap, so neither side is read or written past n. */
static inline void copy_bytes(void *dst, const void *src, size_t n) {
    unsigned char *d = dst;
    const unsigned char *s = src;
    if (n >= 8 && n <= 16) {
        uint64_t x0, x1;
        memcpy(&x0, s, 8);
        memcpy(&x1, s + n - 8, 8);
        memcpy(d, &x0, 8);
        memcpy(d + n - 8, &x1, 8);
    } else if (n >= 4 && n < 8) {
        uint32_t x0, x1;
        memcpy(&x0, s, 4);
        memcpy(&x1, s + n - 4, 4);
        memcpy(d, &x0, 4);
        memcpy(d + n - 4, &x1, 4);
    } else if (n < 4) {
        for (size_t i = 0; i < n; i++) d[i] = s[i];
    } else {
        memcpy(d, s, n);
    }
}

#endif
