/* crc32c.h — CRC-32C (Castagnoli), the checksum of snapshots. */
#ifndef CEP_CRC32C_H
#define CEP_CRC32C_H

#include <stddef.h>
#include <stdint.h>

/* Continue a CRC over n more bytes; start with crc = 0. */
uint32_t util_crc32c(uint32_t crc, const void *p, size_t n);

#endif
