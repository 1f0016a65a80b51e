/* keymap.c — the hash maps from a key to its state. Linear probing with
 * backward-shift deletion, so a table that sees millions of short-lived
 * keys never fills up with tombstones. Each slot keeps the key's hash
 * beside the pointer: probing compares hashes without touching the key
 * states, which at a million keys are all out of cache.
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

key_state *keymap_find(const keymap *m, uint64_t hash, const char *key, uint32_t len) {
    if (!m->cap) return NULL;
    for (size_t i = home(m, hash);; i = (i + 1) & (m->cap - 1)) {
        const keyslot *s = &m->slots[i];
        if (!s->ks) return NULL;
        if (s->hash == hash && s->ks->key_len == len && same_bytes(s->ks->key, key, len)) return s->ks;
    }
}

key_entry *entmap_find(const keymap *m, uint64_t hash, const char *key, uint32_t len) {
    if (!m->cap) return NULL;
    for (size_t i = home(m, hash);; i = (i + 1) & (m->cap - 1)) {
        const keyslot *s = &m->slots[i];
        if (!s->ent) return NULL;
        if (s->hash == hash && s->ent->key_len == len && same_bytes(s->ent->key, key, len)) return s->ent;
    }
}

static void put(keymap *m, uint64_t hash, void *p) {
    size_t i = home(m, hash);
    while (m->slots[i].ks) i = (i + 1) & (m->cap - 1);
    m->slots[i].hash = hash;
    m->slots[i].ks = p;
}

static int map_insert(keymap *m, uint64_t hash, void *p) {
    if ((m->count + 1) * 4 > m->cap * 3) { /* keep load under 3/4 */
        size_t ncap = m->cap ? m->cap * 2 : 64;
        keyslot *old = m->slots;
        size_t ocap = m->cap;
        keyslot *ns = mem_calloc(ncap, sizeof *ns);
        if (!ns) return -1;
        m->slots = ns;
        m->cap = ncap;
        for (size_t i = 0; i < ocap; i++)
            if (old[i].ks) put(m, old[i].hash, old[i].ks);
        mem_free(old);
    }
    put(m, hash, p);
    m->count++;
    return 0;
}

static void map_remove(keymap *m, uint64_t hash, const void *p) {
    size_t i = home(m, hash);
    while ((const void *)m->slots[i].ks != p) i = (i + 1) & (m->cap - 1);
    /* Backward shift: pull later entries of the run into the hole. */
    size_t hole = i;
    for (size_t j = (i + 1) & (m->cap - 1); m->slots[j].ks; j = (j + 1) & (m->cap - 1)) {
        size_t h = home(m, m->slots[j].hash);
        /* Move j into the hole unless its home lies cyclically in (hole, j]. */
        int stays = hole <= j ? (h > hole && h <= j) : (h > hole || h <= j);
        if (!stays) {
            m->slots[hole] = m->slots[j];
            hole = j;
        }
    }
    m->slots[hole] = (keyslot){0, {NULL}};
    m->count--;
}

int keymap_insert(keymap *m, key_state *ks, uint64_t hash) { return map_insert(m, hash, ks); }
/* (A key state keeps no hash: its slot has it, found again from the key.) */
void keymap_remove(keymap *m, key_state *ks) { map_remove(m, hash_bytes(ks->key, ks->key_len, m->seed), ks); }
int entmap_insert(keymap *m, key_entry *ent) { return map_insert(m, ent->hash, ent); }
void entmap_remove(keymap *m, key_entry *ent) { map_remove(m, ent->hash, ent); }

void keymap_free(keymap *m) {
    mem_free(m->slots);
    m->slots = NULL;
    m->cap = m->count = 0;
}
