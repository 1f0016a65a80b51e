/* bytes.h — equality of short byte strings without a call: keys, string
 * constants and field values are mostly a few bytes, where a call to
 * memcmp costs more than the comparison. */
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

#endif
