/* summary.c — counting what `cepheus run` loses or ignores, and the short
 * summary on stderr at the end (see summary.h). */
#include "config.h"
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include "summary.h"
#include "suggest.h"
#include "testjson.h"

int summary_reprogram(summary *s, const cep_program *prog) {
    cep_event_free(s->row);
    s->row = NULL;
    free(s->field_seen);
    s->prog = prog;
    s->nfields = s->fields_pending = cep_program_field_count(prog);
    s->field_seen = calloc(s->nfields ? s->nfields : 1, sizeof *s->field_seen);
    s->events = 0;
    if (!s->field_seen || (s->nfields && cep_event_new(prog, &s->row) != CEP_OK)) {
        s->oom = 1;
        s->fields_pending = 0; /* nothing tracked: no false report */
        return -1;
    }
    return 0;
}

int summary_init(summary *s, const cep_program *prog, const char *time_field, int64_t max_delay,
                 int64_t lateness) {
    memset(s, 0, sizeof *s);
    s->time_field = time_field;
    s->max_delay = max_delay;
    s->lateness = lateness;
    return summary_reprogram(s, prog);
}

void summary_free(summary *s) {
    cep_event_free(s->row);
    free(s->field_seen);
    for (unsigned i = 0; i < s->nreasons; i++) free(s->reasons[i].text);
    for (size_t i = 0; i < s->nnames; i++) free(s->names[i]);
    memset(s, 0, sizeof *s);
}

void summary_late(summary *s, const cep_event *ev, int64_t watermark) {
    s->late++;
    int64_t t = cep_event_time(ev);
    if (watermark > t && (uint64_t)watermark - (uint64_t)t < (uint64_t)INT64_MAX &&
        watermark - t > s->max_behind)
        s->max_behind = watermark - t;
}

/* The members of obj as the patterns write paths (prefix.name, a name
 * with '.', '[' or ']' backquoted), nested objects too, a few levels. */
static void keep_names(summary *s, const tj *obj, char *path, size_t plen, int depth) {
    for (const tj *m = obj->kids; m && s->nnames < SUMMARY_NAMES; m = m->next) {
        size_t kl = strlen(m->key);
        int q = kl == 0 || strpbrk(m->key, ".[]") != NULL;
        if (plen + kl + 4 > 256) continue;
        size_t n = plen;
        if (n) path[n++] = '.';
        if (q) path[n++] = '`';
        memcpy(path + n, m->key, kl);
        n += kl;
        if (q) path[n++] = '`';
        path[n] = '\0';
        size_t i = 0;
        while (i < s->nnames && strcmp(s->names[i], path)) i++;
        if (i == s->nnames && (s->names[i] = strdup(path))) s->nnames++;
        if (m->kind == TJ_OBJ && depth < 3) keep_names(s, m, path, n, depth + 1);
    }
}

int summary_parse(summary *s, const char *line, size_t len, int processing_time) {
    cep_event_clear(s->row);
    int rc = cep_event_parse_json(s->row, line, len, processing_time ? "" : s->time_field);
    if (rc != CEP_OK) return rc;
    s->events++;
    for (size_t i = 0; i < s->nfields; i++)
        if (cep_event_value(s->row, (int)i).type != CEP_NULL && s->field_seen[i]++ == 0) s->fields_pending--;
    if (s->fields_pending && s->name_events < SUMMARY_NAME_EVENTS) {
        s->name_events++;
        const char *err;
        tj *v = tj_parse(line, len, &err);
        char path[256];
        if (v && v->kind == TJ_OBJ) keep_names(s, v, path, 0, 0);
        tj_free(v);
    }
    return CEP_OK;
}

int summary_reject(summary *s, int rc, const char *reason, int *notice) {
    s->lines++;
    s->rejected++;
    *notice = 0;
    for (unsigned i = 0; i < s->nreasons; i++)
        if (!strcmp(s->reasons[i].text, reason)) {
            uint64_t n = ++s->reasons[i].n;
            *notice = n == SUMMARY_PRINTED_PER_REASON + 1;
            return n <= SUMMARY_PRINTED_PER_REASON;
        }
    if (s->nreasons == SUMMARY_REASONS || !(s->reasons[s->nreasons].text = strdup(reason))) {
        s->other_reasons++;
        return 1; /* rare and various: printed */
    }
    int tf = 0;
    if (rc == CEP_ETIME && !strncmp(reason, "missing time field", 18)) tf = 1;
    else if (rc == CEP_ETIME && !strncmp(reason, "time field", 10)) tf = 2;
    s->reasons[s->nreasons].n = 1;
    s->reasons[s->nreasons].time_field = tf;
    s->nreasons++;
    return 1;
}

/* Why every line was rejected, as advice. */
static const char *advice(const summary *s, char *buf, size_t n) {
    if (s->reasons[0].time_field == 1)
        snprintf(buf, n, "no line has the time field '%s'; see --time-field", s->time_field);
    else if (s->reasons[0].time_field == 2) {
        /* The reader's hint for a near miss (no zone, a zone without its
         * colon) is the advice that matters: keep it. */
        const char *hint = strstr(s->reasons[0].text, "string (");
        int hn = hint ? (int)strlen(hint + 8) - 1 : 0;
        snprintf(buf, n, "no line has a time in '%s' (integer milliseconds or an RFC 3339 string%s%.*s); "
                 "see --time-field", s->time_field, hint ? "; " : "", hn > 0 ? hn : 0, hint ? hint + 8 : "");
    }
    else
        snprintf(buf, n, "every line was rejected: %s", s->reasons[0].text);
    return buf;
}

const char *summary_all_rejected(summary *s, char *buf, size_t n) {
    if (s->lines != SUMMARY_ALL_REJECTED || s->accepted || s->nreasons != 1 || s->other_reasons) return NULL;
    s->gave_up = 1;
    char why[512];
    snprintf(buf, n, "stopped after %d lines, all rejected: %s", SUMMARY_ALL_REJECTED,
             advice(s, why, sizeof why));
    return buf;
}

const char *summary_count(uint64_t n, char *buf, size_t size) {
    char d[32];
    int len = snprintf(d, sizeof d, "%" PRIu64, n), o = 0;
    for (int i = 0; i < len && (size_t)o + 2 < size; i++) {
        if (i && (len - i) % 3 == 0) buf[o++] = ',';
        buf[o++] = d[i];
    }
    buf[o] = '\0';
    return buf;
}

const char *summary_duration(int64_t ms, char *buf, size_t size) {
    if (ms < 1000) snprintf(buf, size, "%" PRId64 "ms", ms);
    else if (ms < 3600000) snprintf(buf, size, "%.1fs", ms / 1000.0);
    else if (ms < 172800000) snprintf(buf, size, "%.1fh", ms / 3600000.0);
    else snprintf(buf, size, "%.1fd", ms / 86400000.0);
    return buf;
}

/* A --max-delay a user would write: exact milliseconds under a minute
 * unless whole seconds, else seconds (minutes, hours, days when exact)
 * rounded up. */
static const char *option_duration(int64_t ms, char *buf, size_t size) {
    if (ms < 1000 || (ms < 60000 && ms % 1000)) {
        snprintf(buf, size, "%" PRId64 "ms", ms);
        return buf;
    }
    int64_t sec = ms / 1000 + (ms % 1000 != 0);
    if (sec % 86400 == 0) snprintf(buf, size, "%" PRId64 "d", sec / 86400);
    else if (sec % 3600 == 0) snprintf(buf, size, "%" PRId64 "h", sec / 3600);
    else if (sec % 60 == 0) snprintf(buf, size, "%" PRId64 "m", sec / 60);
    else snprintf(buf, size, "%" PRId64 "s", sec);
    return buf;
}

void summary_print(const summary *s, const cep_stats *st, FILE *f) {
    char a[32], b[32], c[32], d[32];
    if (s->late) {
        int64_t need = s->max_delay + s->max_behind - s->lateness;
        fprintf(f, "cepheus: %s of %s events %s late (up to %s behind the watermark) and %s not matched",
                summary_count(s->late, a, sizeof a), summary_count(s->events, b, sizeof b),
                s->late == 1 ? "was" : "were", summary_duration(s->max_behind, c, sizeof c),
                s->late == 1 ? "was" : "were");
        /* With watermark lines, --max-delay does not decide the watermark. */
        if (s->watermark_lines) fputs("; {\"$watermark\"} lines of the input moved the watermark", f);
        else fprintf(f, "; --max-delay %s would have kept them", option_duration(need, d, sizeof d));
        if (s->max_behind > 86400000) fputs(" (or an event far ahead in time moved the watermark)", f);
        fputs("\n", f);
    }
    if (s->rejected && !s->strict) {
        fprintf(f, "cepheus: %s malformed line%s skipped:", summary_count(s->rejected, a, sizeof a),
                s->rejected == 1 ? "" : "s");
        for (unsigned i = 0; i < s->nreasons; i++)
            fprintf(f, "%s %s %s", i ? ";" : "", summary_count(s->reasons[i].n, a, sizeof a), s->reasons[i].text);
        if (s->other_reasons)
            fprintf(f, "%s %s for other reasons", s->nreasons ? ";" : "", summary_count(s->other_reasons, a, sizeof a));
        fputs("\n", f);
        char why[512];
        if (!s->accepted && s->nreasons == 1 && !s->other_reasons && s->reasons[0].time_field && !s->gave_up)
            fprintf(f, "cepheus: %s\n", advice(s, why, sizeof why));
    }
    if (s->events && s->fields_pending)
        for (size_t i = 0; i < s->nfields; i++) {
            if (s->field_seen[i]) continue;
            size_t pat = 0;
            int line = 0;
            cep_program_field_origin(s->prog, i, &pat, &line);
            const char *name = cep_program_field_name(s->prog, i);
            fprintf(f, "cepheus: field '%s' (pattern %s, line %d) was present in none of %s event%s", name,
                    cep_program_pattern_name(s->prog, pat), line, summary_count(s->events, a, sizeof a),
                    s->events == 1 ? "" : "s");
            /* The nearest name the events had (a typo); never the field
             * itself, which may be there with null or an object. */
            const char *cands[SUMMARY_NAMES];
            size_t nc = 0;
            for (size_t k = 0; k < s->nnames; k++)
                if (strcmp(s->names[k], name)) cands[nc++] = s->names[k];
            const char *near = suggest_nearest(name, cands, nc);
            if (near) fprintf(f, "; did you mean '%s'?", near);
            fputs("\n", f);
        }
    if (st->dropped || st->mem_dropped)
        fprintf(f, "cepheus: partial matches dropped at the limit (--max-partial-matches, --max-memory): %s\n",
                summary_count(st->dropped + st->mem_dropped, a, sizeof a));
    if (st->regex_errors)
        fprintf(f, "cepheus: regex matches stopped by PCRE2's limits (counted as no match): %s\n",
                summary_count(st->regex_errors, a, sizeof a));
}
