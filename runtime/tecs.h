/* tecs.h — every combination kept compactly (tecs.c): for a pattern the
 * compiler marked compact (nfa_pattern.compact), a key holds per step the
 * list of events taken there instead of one partial match per
 * combination, and the matches are made when they are output. */
#ifndef CEP_TECS_H
#define CEP_TECS_H

#include "engine.h"

/* May compact patterns use the compact form under e's settings? (Limits,
 * budget and TTL drop partial matches one by one: not then.) */
int tecs_usable(const cep_engine *e);
/* Does the event open pattern pi's start (its first step's condition)? */
int tecs_starts(cep_engine *e, uint32_t pi, const step_in *in);
/* One event through compact key ks (made compact here if it holds
 * nothing): the steps it extends, the matches it completes, emitted. */
int tecs_step(cep_engine *e, uint32_t pi, key_state *ks, step_in *in);
/* Close the windows of ks due at now (emit_prune_expired's job); 0 when ks
 * is not compact (any more: a key that can no longer stay compact is
 * flattened here), and the caller goes on. */
int tecs_prune(cep_engine *e, key_state *ks, int64_t now);
/* The earliest window end of compact ks (INT64_MAX: none). */
int64_t tecs_first_deadline(const cep_engine *e, const key_state *ks);
/* Does a partial match of compact ks start at start? */
int tecs_has_start(const key_state *ks, int64_t start);
/* Turn ks's compact form into the partial matches it stands for, in
 * their buckets, in Flink's order (exactly those the flat engine would
 * hold); -1 when memory runs out, the compact form kept. */
int tecs_flatten(cep_engine *e, key_state *ks);
/* The same for every key of e. */
int tecs_flatten_all(cep_engine *e);
/* Drop ks's compact form and the partial matches it holds (counted). */
void tecs_drop(cep_engine *e, key_state *ks);

#endif
