/* emit.c — what leaves the engine: matches built into the callback's
 * view, timeouts, windows that close (emit_prune_expired), and the after-match
 * skip strategies with the hold-back of matches they need (Flink's
 * processMatchesAccordingToSkipStrategy). */
#include "config.h"
#include "engine.h"
#include "tecs.h"
#include "mem.h"

#include <stdlib.h>
#include <string.h>

static int match_reserve(cep_engine *e, size_t nevents, size_t nsteps, size_t nfields) {
    cep_match *m = &e->match;
    if (mem_grow((void **)&m->events, &m->events_cap, nevents, sizeof *m->events) < 0) return -1;
    if (mem_grow((void **)&m->step_off, &m->steps_cap, nsteps + 1, sizeof *m->step_off) < 0) return -1;
    if (nfields && mem_grow((void **)&m->fields, &m->fields_cap, nfields, sizeof *m->fields) < 0)
        return -1;
    return 0;
}

void emit_match(cep_engine *e, uint32_t pi, const pm *p, int timeout) {
    const nfa_pattern *pat = &e->prog->patterns[pi];
    cep_match *m = &e->match;
    uint32_t ns = pat->nsteps;
    /* The chain's length and first event; whether it is one event per
     * step, in step order, from step 0 (the common case: then events[s]
     * is step s; a timeout's chain stops short of the last steps). */
    size_t n = 0;
    int one_each = 1;
    const pm_node *first = NULL;
    for (const pm_node *x = p->node; x; x = x->parent, n++) {
        if (x->parent && x->step != x->parent->step + 1) one_each = 0;
        first = x;
    }
    if (first && first->step != 0) one_each = 0;
    if ((n > m->events_cap || ns + 1 > m->steps_cap || pat->nemit > m->fields_cap) &&
        match_reserve(e, n, ns, pat->nemit) < 0) {
        e->oom = 1;
        return;
    }
    if (one_each && n <= ns) {
        for (const pm_node *x = p->node; x; x = x->parent) m->events[x->step] = node_ev(x);
        for (uint32_t s = 0; s <= ns; s++) m->step_off[s] = s < n ? s : (uint32_t)n;
    } else {
        /* Group the chain's events by step, oldest first (a counting
         * sort): count per step, then walk newest to oldest, filling each
         * step's range from its end; then step_off[s + 1] has come down to
         * the start of step s: shift it. */
        memset(m->step_off, 0, (ns + 1) * sizeof *m->step_off);
        for (const pm_node *x = p->node; x; x = x->parent) m->step_off[x->step + 1]++;
        for (uint32_t s = 0; s < ns; s++) m->step_off[s + 1] += m->step_off[s];
        for (const pm_node *x = p->node; x; x = x->parent) m->events[--m->step_off[x->step + 1]] = node_ev(x);
        memmove(m->step_off, m->step_off + 1, ns * sizeof *m->step_off);
        m->step_off[ns] = (uint32_t)n;
    }
    m->pat = pat;
    m->pattern_index = pi;
    m->nkeys = pat->nkeys;
    m->keyev = node_ev(first); /* every event of the match shares the key */
    m->start = p->start;
    m->end = node_ev(p->node)->time;
    m->timeout = timeout;
    if (timeout) {
        e->stats.timeouts++;
        if (e->hooks.on_timeout && e->hooks.on_timeout(e->hooks.timeout_ud, m) != 0) e->stop = 1;
        return;
    }
    e->ctx.row = NULL;
    e->ctx.chain = p->node;
    for (uint32_t i = 0; i < pat->nemit; i++) m->fields[i] = expr_eval(pat->emit_exprs[i], &e->ctx);
    e->stats.matches++;
    if (e->hooks.on_match && e->hooks.on_match(e->hooks.match_ud, m) != 0) e->stop = 1;
    expr_ctx_reset(&e->ctx);
}

/* (start, start seq) of at, before (or at, when inclusive) which the skip
 * strategy prunes. */
static int pruned(const pm *p, const pm *mark, int inclusive) {
    int c = pm_cmp_start(p, mark);
    return c < 0 || (inclusive && c == 0);
}

/* Remove from l every entry started before (or, when inclusive, at) the
 * pruning event: Flink's AfterMatchSkipStrategy.prune. */
static void prune_list(cep_engine *e, key_held *l, const pm *mark, int inclusive) {
    uint32_t k = 0;
    for (uint32_t i = 0; i < l->n; i++) {
        if (pruned(&l->v[i], mark, inclusive)) engine_node_release(e, l->v[i].node);
        else l->v[k++] = l->v[i];
    }
    l->n = k;
}

/* The same for a key's partial matches: each bucket is in start order, so
 * what goes is a prefix of it. */
static void prune_pms(cep_engine *e, key_state *ks, const pm *mark, int inclusive) {
    uint32_t gone = 0;
    for (uint32_t i = 0; i < ks->nb; i++) {
        bucket *b = &key_buckets(ks)[i];
        while (b->lo < b->hi && pruned(&b->v[b->lo], mark, inclusive)) {
            engine_node_release(e, b->v[b->lo++].node);
            gone++;
        }
    }
    if (!gone) return;
    ks->npms -= gone;
    e->stats.partial_matches -= gone;
    key_drop_empty_buckets(e, ks);
}

/* The event a skip strategy prunes up to, and whether it prunes that
 * event's own partial matches too (NULL: no pruning). */
static const cep_event *pruning_event(const nfa_pattern *pat, const pm *m, int *inclusive) {
    const pm_node *first = m->node, *step_first = NULL, *step_last = NULL;
    for (const pm_node *x = m->node; x; x = x->parent) {
        first = x;
        if ((int)x->step == pat->skip_step) {
            if (!step_last) step_last = x;
            step_first = x;
        }
    }
    *inclusive = 1;
    switch (pat->skip) {
    case NFA_SKIP_TO_NEXT: return node_ev(first);
    case NFA_SKIP_PAST_LAST_EVENT: return node_ev(m->node);
    case NFA_SKIP_TO_FIRST: *inclusive = 0; return step_first ? node_ev(step_first) : NULL;
    case NFA_SKIP_TO_LAST: *inclusive = 0; return step_last ? node_ev(step_last) : NULL;
    default: return NULL;
    }
}

/* Held match m leaves ks (taken out of its held ones): what the skip
 * strategy prunes goes, and m is emitted. */
static void release_one(cep_engine *e, uint32_t pi, key_state *ks, pm *m) {
    int inclusive;
    const cep_event *at = pruning_event(&e->prog->patterns[pi], m, &inclusive);
    if (at) {
        pm mark = {.start = at->time, .start_seq = at->seq};
        prune_pms(e, ks, &mark, inclusive);
        if (ks->held) prune_list(e, ks->held, &mark, inclusive);
    }
    emit_match(e, pi, m, 0);
    engine_node_release(e, m->node);
}

void emit_release_held(cep_engine *e, uint32_t pi, key_state *ks) {
    key_held *h;
    while ((h = ks->held) && h->n) {
        pm m = h->v[0];
        const pm *f = key_first(ks);
        if (f && pm_cmp_start(f, &m) < 0) break;
        memmove(h->v, h->v + 1, (h->n - 1) * sizeof *h->v);
        h->n--;
        release_one(e, pi, ks, &m);
    }
    if (ks->held && !ks->held->n) key_held_settle(e, ks);
}

/* Insert a completed match into the key's held list, ordered by start
 * (stable: same-start matches stay in completion order). */
static void hold(cep_engine *e, key_state *ks, const pm *m) {
    if (key_hold_push(e, ks, *m) < 0) {
        engine_node_release(e, m->node);
        e->oom = 1;
        return;
    }
    pm *v = ks->held->v;
    for (uint32_t j = ks->held->n - 1; j > 0 && pm_cmp_start(&v[j], &v[j - 1]) < 0; j--) {
        pm t = v[j];
        v[j] = v[j - 1];
        v[j - 1] = t;
    }
}

void emit_complete(cep_engine *e, uint32_t pi, key_state *ks, pm_list *l) {
    const nfa_pattern *pat = &e->prog->patterns[pi];
    if (!l->n && (!ks || !ks->held)) return;
    if (l->n == 1 && ks && !ks->held && pat->skip != NFA_SKIP_NO_SKIP) {
        /* One completion and none held: held and released at once when
         * no partial match started before it (W1's every match), without
         * a held block made and freed for it. */
        const pm *f = key_first(ks);
        if (!f || pm_cmp_start(f, &l->v[0]) >= 0) {
            pm m = l->v[0];
            l->n = 0;
            release_one(e, pi, ks, &m);
            return;
        }
    }
    for (uint32_t i = 0; i < l->n; i++) {
        if (pat->skip == NFA_SKIP_NO_SKIP || !ks) {
            emit_match(e, pi, &l->v[i], 0);
            engine_node_release(e, l->v[i].node);
        } else {
            hold(e, ks, &l->v[i]);
        }
    }
    l->n = 0;
    if (pat->skip != NFA_SKIP_NO_SKIP && ks) emit_release_held(e, pi, ks);
}

int64_t pm_deadline(const nfa_pattern *pat, const pm *p) {
    int64_t d = INT64_MAX;
    if (pat->has_within && p->start <= INT64_MAX - pat->within_ms) d = p->start + pat->within_ms;
    int64_t gap = pat->states[p->state].gap_ms;
    if (gap > 0) { /* read the last event only then: it is likely out of cache */
        int64_t prev = node_ev(p->node)->time;
        if (prev <= INT64_MAX - gap && prev + gap < d) d = prev + gap;
    }
    return d;
}

static int cmp_pm(const void *a, const void *b) {
    const pm *x = a, *y = b;
    return pm_less(x, y) ? -1 : pm_less(y, x);
}

void pm_merge(cep_engine *e, pm_list *parts, const uint32_t *cut, uint32_t ncut, pm_list *out) {
    if (!cut || ncut <= 1) {
        pm_list t = *out; /* one part: in order already (or unknown: sorted) */
        *out = *parts;
        *parts = t;
        parts->n = 0;
        if (!cut && out->n > 1) qsort(out->v, out->n, sizeof *out->v, cmp_pm);
        return;
    }
    out->n = 0;
    uint32_t head[PM_MERGE_MAX];
    for (uint32_t i = 0; i < ncut; i++) head[i] = i ? cut[i - 1] : 0;
    for (;;) {
        int best = -1;
        for (uint32_t i = 0; i < ncut; i++)
            if (head[i] < cut[i] && (best < 0 || pm_less(&parts->v[head[i]], &parts->v[head[best]]))) best = (int)i;
        if (best < 0) break;
        if (engine_list_push(out, parts->v[head[best]]) < 0) {
            engine_node_release(e, parts->v[head[best]].node);
            e->oom = 1;
        }
        head[best]++;
    }
    parts->n = 0;
}

/* A `within` window alone (no gaps): is p's closed at now? (From pat_rt,
 * not the pattern: with many rules that is one cache line less an
 * expiry.) */
static inline int within_due(const pat_rt *rt, const pm *p, int64_t now) {
    /* A window ending at INT64_MAX or past it never closes (pm_deadline). */
    return rt->within_lane != NO_LANE && p->start < INT64_MAX - rt->within_ms && p->start + rt->within_ms <= now;
}

/* One partial match's window closed: it completes (waiting on a trailing
 * notFollowedBy) or times out. */
static void expire_one(cep_engine *e, uint32_t pi, key_state *ks, pm *p) {
    const nfa_pattern *pat = &e->prog->patterns[pi];
    if (e->rt[pi].has_pending && pat->states[p->state].kind == ST_PENDING) {
        pm_list *c = &e->scratch.completed;
        c->n = 0;
        if (engine_list_push(c, *p) < 0) {
            engine_node_release(e, p->node);
            e->oom = 1;
        }
        emit_complete(e, pi, ks, c);
        return;
    }
    if (e->hooks.on_timeout) emit_match(e, pi, p, 1);
    else e->stats.timeouts++;
    engine_node_release(e, p->node);
    if (ks->held) emit_release_held(e, pi, ks);
}

void emit_prune_expired(cep_engine *e, key_state *ks, int64_t now) {
    if (!ks->npms || (key_tecs(ks) && tecs_prune(e, ks, now))) return;
    uint32_t pi = key_pattern(ks);
    const nfa_pattern *pat = &e->prog->patterns[pi];
    const pat_rt *rt = &e->rt[pi];
    if (!rt->has_gaps) {
        /* `within` alone: due only if some bucket's first is; most often
         * one partial match is, and it goes without the general path. */
        bucket *due = NULL;
        int many = 0;
        for (uint32_t i = 0; i < ks->nb; i++) {
            bucket *b = &key_buckets(ks)[i];
            if (!within_due(rt, &b->v[b->lo], now)) continue;
            many |= due != NULL || (b->lo + 1 < b->hi && within_due(rt, &b->v[b->lo + 1], now));
            due = b;
        }
        if (!due) return;
        if (!many) {
            pm p = due->v[due->lo++];
            ks->npms--;
            e->stats.partial_matches--;
            if (due->lo == due->hi) key_drop_empty_buckets(e, ks);
            expire_one(e, pi, ks, &p);
            return;
        }
    }
    /* What is due, bucket by bucket (each part in order), into e->kids;
     * then merged into e->expired in Flink's order over the whole key. */
    pm_list *parts = &e->scratch.kids, *x = &e->scratch.expired;
    parts->n = x->n = 0;
    uint32_t cut[PM_MERGE_MAX], ncut = 0; /* where each bucket's part ends in parts */
    int fits = ks->nb <= PM_MERGE_MAX;
    for (uint32_t i = 0; i < ks->nb; i++) {
        bucket *b = &key_buckets(ks)[i];
        /* INT64_MAX is "no deadline": an event at time INT64_MAX must not
         * expire a partial match that has no window (or one past int64). */
        if (pat->states[b->state].gap_ms <= 0) {
            /* `within` alone: the bucket is in start order, what is due
             * is a prefix. */
            while (b->lo < b->hi) {
                int64_t d = pm_deadline(pat, &b->v[b->lo]);
                if (d == INT64_MAX || d > now) break;
                if (engine_list_push(parts, b->v[b->lo]) < 0) {
                    engine_node_release(e, b->v[b->lo].node);
                    e->oom = 1;
                }
                b->lo++;
            }
        } else {
            uint32_t k = b->lo;
            for (uint32_t j = b->lo; j < b->hi; j++) {
                int64_t d = pm_deadline(pat, &b->v[j]);
                if (d == INT64_MAX || d > now) {
                    b->v[k++] = b->v[j];
                } else if (engine_list_push(parts, b->v[j]) < 0) {
                    engine_node_release(e, b->v[j].node);
                    e->oom = 1;
                }
            }
            b->hi = k;
        }
        if (fits && (ncut == 0 ? parts->n : parts->n > cut[ncut - 1])) cut[ncut++] = parts->n;
    }
    uint32_t gone = ks->npms;
    ks->npms = 0;
    const bucket *bv = key_buckets(ks);
    for (uint32_t i = 0; i < ks->nb; i++) ks->npms += bv[i].hi - bv[i].lo;
    gone -= ks->npms;
    if (!gone) return;
    e->stats.partial_matches -= gone;
    key_drop_empty_buckets(e, ks);
    pm_merge(e, parts, fits ? cut : NULL, ncut, x);
    /* The trailing notFollowedBy ones complete, the others time out. */
    pm_list *c = &e->scratch.completed;
    c->n = 0;
    for (uint32_t i = 0; i < x->n; i++) {
        pm *p = &x->v[i];
        if (pat->states[p->state].kind == ST_PENDING) {
            if (engine_list_push(c, *p) < 0) {
                engine_node_release(e, p->node);
                e->oom = 1;
            }
            continue;
        }
        if (e->hooks.on_timeout) emit_match(e, pi, p, 1);
        else e->stats.timeouts++;
        engine_node_release(e, p->node);
    }
    x->n = 0;
    emit_complete(e, pi, ks, c);
}
