/* keymap.c — the hash maps from a key to its state. Linear probing with
 * backward-shift deletion, so a table that sees millions of short-lived
 * keys never fills up with tombstones. Each slot keeps 8 bits of the
 * key's hash beside the pointer (engine.h, keyslot): probing compares
 * them without touching the key states, which at a million keys are all
 * out of cache, and reads a key state whose bits differ one time in 256.
 *
 * One map holds the key states of patterns alone in their key group
 * ((pattern, key) -> key_state); the other, the key entries of groups of
 * patterns keyed alike ((group, key) -> key_entry), each holding its
 * patterns' key states (keys.c). */
#include "config.h"
#include "engine.h"
#include "bytes.h"
#include "hash.h"
#include "mem.h"

#include <string.h>

static size_t home(const keymap *m, uint64_t hash) { return (size_t)hash & (m->cap - 1); }

/* Where a map's objects' hashes come from when a slot does not say
 * (growing, and moving a slot that is KS_FAR from its home). */
typedef uint64_t (*hash_fn)(const keymap *m, const void *p);
static uint64_t hash_ks(const keymap *m, const void *p) {
    const key_state *ks = p;
    return hash_bytes(ks->key, ks->key_len, m->seed);
}
static uint64_t hash_ent(const keymap *m, const void *p) {
    (void)m;
    return ((const key_entry *)p)->hash;
}

static keyslot slot_make(const void *p, uint64_t hash, size_t dist) {
    return (uint64_t)(uintptr_t)p | (hash >> 56) << 48 | (uint64_t)(dist < KS_FAR ? dist : KS_FAR) << 56;
}

/* The home slot of the object in slot i. */
static size_t slot_home(const keymap *m, size_t i, hash_fn hf) {
    size_t d = (size_t)(m->slots[i] >> 56);
    if (d < KS_FAR) return (i - d) & (m->cap - 1);
    return home(m, hf(m, slot_ptr(m->slots[i])));
}

key_state *keymap_find(const keymap *m, uint64_t hash, const char *key, uint32_t len) {
    if (!m->cap) return NULL;
    for (size_t i = home(m, hash);; i = (i + 1) & (m->cap - 1)) {
        keyslot s = m->slots[i];
        if (!s) return NULL;
        const key_state *ks = slot_ptr(s);
        if (slot_tagged(s, hash) && ks->key_len == len && same_bytes(ks->key, key, len)) return slot_ptr(s);
    }
}

key_entry *entmap_find(const keymap *m, uint64_t hash, const char *key, uint32_t len) {
    if (!m->cap) return NULL;
    for (size_t i = home(m, hash);; i = (i + 1) & (m->cap - 1)) {
        keyslot s = m->slots[i];
        if (!s) return NULL;
        const key_entry *ent = slot_ptr(s);
        if (slot_tagged(s, hash) && ent->hash == hash && ent->key_len == len && same_bytes(ent->key, key, len))
            return slot_ptr(s);
    }
}

static void put(keymap *m, uint64_t hash, const void *p) {
    size_t i = home(m, hash), d = 0;
    for (; m->slots[i]; d++) i = (i + 1) & (m->cap - 1);
    m->slots[i] = slot_make(p, hash, d);
}

static int map_insert(keymap *m, uint64_t hash, const void *p, hash_fn hf) {
    /* A pointer the slot cannot hold (none on the 64-bit systems the
     * library runs on: user space is below 2^47 on x86-64 and arm64 Linux). */
    if ((uint64_t)(uintptr_t)p & ~KS_PTR_MASK) return -1;
    if ((m->count + 1) * 4 > m->cap * 3) { /* keep load under 3/4 */
        size_t ncap = m->cap ? m->cap * 2 : 64;
        keymap old = *m;
        keyslot *ns = mem_calloc(ncap, sizeof *ns);
        if (!ns) return -1;
        m->slots = ns;
        m->cap = ncap;
        /* The slots keep 8 bits of the hash: the rest is made again. */
        for (size_t i = 0; i < old.cap; i++)
            if (old.slots[i]) put(m, hf(m, slot_ptr(old.slots[i])), slot_ptr(old.slots[i]));
        mem_free(old.slots);
    }
    put(m, hash, p);
    m->count++;
    return 0;
}

static void map_remove(keymap *m, const void *p, hash_fn hf) {
    size_t mask = m->cap - 1, i = home(m, hf(m, p));
    while (slot_ptr(m->slots[i]) != p) i = (i + 1) & mask;
    /* Backward shift: pull later entries of the run into the hole. */
    size_t hole = i;
    for (size_t j = (i + 1) & mask; m->slots[j]; j = (j + 1) & mask) {
        size_t h = slot_home(m, j, hf);
        /* Move j into the hole unless its home lies cyclically in (hole, j]. */
        int stays = hole <= j ? (h > hole && h <= j) : (h > hole || h <= j);
        if (!stays) {
            keyslot s = m->slots[j];
            size_t d = (hole - h) & mask;
            m->slots[hole] = (s & ~((uint64_t)0xff << 56)) | (uint64_t)(d < KS_FAR ? d : KS_FAR) << 56;
            hole = j;
        }
    }
    m->slots[hole] = 0;
    m->count--;
}

int keymap_insert(keymap *m, key_state *ks, uint64_t hash) { return map_insert(m, hash, ks, hash_ks); }
/* (A key state keeps no hash: it is found again from the key.) */
void keymap_remove(keymap *m, key_state *ks) { map_remove(m, ks, hash_ks); }
int entmap_insert(keymap *m, key_entry *ent) { return map_insert(m, ent->hash, ent, hash_ent); }
void entmap_remove(keymap *m, key_entry *ent) { map_remove(m, ent, hash_ent); }

void keymap_free(keymap *m) {
    mem_free(m->slots);
    m->slots = NULL;
    m->cap = m->count = 0;
}
