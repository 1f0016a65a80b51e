/* crc32c.c — table-driven CRC-32C (polynomial 0x82F63B78, reflected).
 * Written here because Debian's zlib only has the other CRC-32; a snapshot
 * is checksummed once per write and read, so the table version is enough. */
#include "config.h"
#include "crc32c.h"

#include <pthread.h>

static uint32_t table[256];
static pthread_once_t table_once = PTHREAD_ONCE_INIT;

static void build_table(void) {
    for (uint32_t i = 0; i < 256; i++) {
        uint32_t c = i;
        for (int k = 0; k < 8; k++) c = c & 1 ? (c >> 1) ^ 0x82F63B78u : c >> 1;
        table[i] = c;
    }
}

uint32_t crc32c(uint32_t crc, const void *p, size_t n) {
    pthread_once(&table_once, build_table);
    const unsigned char *b = p;
    crc = ~crc;
    while (n--) crc = table[(crc ^ *b++) & 0xFF] ^ (crc >> 8);
    return ~crc;
}
