/* jsonout.h — writing matches and values as JSON text, one object per
 * line, the format of `cepheus run` (shared with the conformance runner). */
#ifndef CEP_JSONOUT_H
#define CEP_JSONOUT_H

#include <stdio.h>
#include <string.h>
#include "cepheus.h"

/* A growable text buffer. */
typedef struct jbuf {
    char *p;
    size_t len, cap;
    int oom;      /* set when a growth failed; the text is then truncated */
} jbuf;

void jbuf_reset(jbuf *b);
void jbuf_free(jbuf *b);
/* jbuf_put when the buffer must grow (or has failed to). */
void jbuf_put_grow(jbuf *b, const char *s, size_t n);
/* Append n bytes (the text stays NUL-terminated). Inline: a match is
 * written in tens of small pieces, most of them constant. */
static inline void jbuf_put(jbuf *b, const char *s, size_t n) {
    if (b->oom || n >= b->cap - b->len) {
        jbuf_put_grow(b, s, n);
        return;
    }
    memcpy(b->p + b->len, s, n);
    b->len += n;
    b->p[b->len] = '\0';
}
void jbuf_puts(jbuf *b, const char *s);
/* jbuf_put of a string literal. */
#define JBUF_LIT(b, lit) jbuf_put((b), "" lit, sizeof(lit) - 1)

/* Append a JSON string literal (quotes, escapes; invalid UTF-8 bytes become
 * U+FFFD). */
void jbuf_string(jbuf *b, const char *s, size_t n);
/* Append a value: null, true/false, integer, double (shortest form that
 * reads back the same; NaN/Inf as null) or string. */
void jbuf_value(jbuf *b, cep_value v);
/* Append one match as a JSON object followed by '\n':
 * {"pattern":P,"key":K,"start":S,"end":E,"events":{"step":[raw,...],...}}
 * or with "fields":{...} replaced for "events" when the pattern has emit.
 * A timed-out partial match (cep_match_is_timeout) is written as
 * {"pattern":P,"key":K,"start":S,"timeout":true,"events":{...so far...}}.
 * The key is null without a key clause, the value for one key field, an
 * array for several. An event without raw text is written as an object of
 * its non-null slots (field names from the program). */
void jbuf_match(jbuf *b, const cep_program *p, const cep_match *m);

/* How jbuf_match_as writes the events of a match without emit:
 * JOUT_EVENTS each as its text (jbuf_match's form), JOUT_POSITIONS each as
 * the number in its tag (cep_event_tag: `cepheus run --output-form
 * positions` tags each event with its line number in the input), so a
 * match costs tens of bytes however long its events are. */
enum { JOUT_EVENTS, JOUT_POSITIONS };
void jbuf_match_as(jbuf *b, const cep_program *p, const cep_match *m, int form);

#endif
