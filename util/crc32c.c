/* crc32c.c — table-driven CRC-32C (polynomial 0x82F63B78, reflected).
 * Written here because Debian's zlib only has the other CRC-32. */
#include "config.h"
#include "crc32c.h"

#include <pthread.h>
#include <string.h>

static uint32_t table[256];
static pthread_once_t table_once = PTHREAD_ONCE_INIT;

static void build_table(void) {
    for (uint32_t i = 0; i < 256; i++) {
        uint32_t c = i;
        for (int k = 0; k < 8; k++) c = c & 1 ? (c >> 1) ^ 0x82F63B78u : c >> 1;
        table[i] = c;
    }
}

#if defined(__x86_64__) && defined(__GNUC__)
/* SSE 4.2 has a CRC-32C instruction: eight bytes a cycle or so, where the
 * table does one; used when the processor has it. */
__attribute__((target("sse4.2"))) static uint32_t crc32c_hw(uint32_t crc, const unsigned char *b, size_t n) {
    uint64_t c = crc;
    while (n >= 8) {
        uint64_t v;
        memcpy(&v, b, 8);
        c = __builtin_ia32_crc32di(c, v);
        b += 8;
        n -= 8;
    }
    uint32_t c32 = (uint32_t)c;
    while (n--) c32 = __builtin_ia32_crc32qi(c32, *b++);
    return c32;
}
#endif

uint32_t util_crc32c(uint32_t crc, const void *p, size_t n) {
    const unsigned char *b = p;
    crc = ~crc;
#if defined(__x86_64__) && defined(__GNUC__)
    if (__builtin_cpu_supports("sse4.2")) return ~crc32c_hw(crc, b, n);
#endif
    pthread_once(&table_once, build_table);
    while (n--) crc = table[(crc ^ *b++) & 0xFF] ^ (crc >> 8);
    return ~crc;
}
