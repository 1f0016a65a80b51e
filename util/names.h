/* names.h — names (NUL-ended strings the caller keeps) to 32-bit numbers:
 * the compiler's field slots, pattern and step names, the JSON levels'
 * members. A scan per name made a file of 25,000 fields or patterns take
 * seconds to compile, quadratically (docs/errors.md). Open addressing,
 * grows by doubling. */
#ifndef CEP_NAMES_H
#define CEP_NAMES_H

#include <stddef.h>
#include <stdint.h>

typedef struct name_index {
    const char **k;
    uint32_t *v;
    size_t cap, n;
} name_index;

/* The number of name, or UINT32_MAX. */
uint32_t name_get(const name_index *t, const char *name);
/* name -> v (name must not be there; the caller keeps it while t lives).
 * 0, or -1 when out of memory (t unchanged). */
int name_put(name_index *t, const char *name, uint32_t v);
/* Empty t, keeping its room. */
void name_clear(name_index *t);
void name_free(name_index *t);

#endif
