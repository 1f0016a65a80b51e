/* testjson.c — the JSON reader of `cepheus test` (see testjson.h): a
 * recursive descent over one line, depth-capped, strings decoded to UTF-8. */
#include "config.h"
#include "testjson.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define TJ_MAX_DEPTH 64

typedef struct rd {
    const char *p, *end;
    const char *err;
    int depth;
} rd;

static void ws(rd *r) {
    while (r->p < r->end && (*r->p == ' ' || *r->p == '\t' || *r->p == '\n' || *r->p == '\r')) r->p++;
}

static tj *mk(tj_kind k) {
    tj *v = calloc(1, sizeof *v);
    if (v) v->kind = k;
    return v;
}

void tj_free(tj *v) {
    while (v) {
        tj *n = v->next;
        tj_free(v->kids);
        free(v->s);
        free(v->key);
        free(v);
        v = n;
    }
}

static int hex4(const char *p, unsigned *out) {
    unsigned u = 0;
    for (int i = 0; i < 4; i++) {
        char c = p[i];
        u <<= 4;
        if (c >= '0' && c <= '9') u |= (unsigned)(c - '0');
        else if (c >= 'a' && c <= 'f') u |= (unsigned)(c - 'a' + 10);
        else if (c >= 'A' && c <= 'F') u |= (unsigned)(c - 'A' + 10);
        else return -1;
    }
    *out = u;
    return 0;
}

static size_t put_utf8(char *o, unsigned u) {
    if (u < 0x80) { o[0] = (char)u; return 1; }
    if (u < 0x800) { o[0] = (char)(0xC0 | u >> 6); o[1] = (char)(0x80 | (u & 63)); return 2; }
    if (u < 0x10000) {
        o[0] = (char)(0xE0 | u >> 12); o[1] = (char)(0x80 | ((u >> 6) & 63));
        o[2] = (char)(0x80 | (u & 63));
        return 3;
    }
    o[0] = (char)(0xF0 | u >> 18); o[1] = (char)(0x80 | ((u >> 12) & 63));
    o[2] = (char)(0x80 | ((u >> 6) & 63)); o[3] = (char)(0x80 | (u & 63));
    return 4;
}

/* A string at r->p (the opening quote): decoded into a malloc'd buffer. */
static char *str(rd *r, size_t *len) {
    const char *s = ++r->p;
    while (r->p < r->end && *r->p != '"') r->p += *r->p == '\\' ? 2 : 1;
    if (r->p >= r->end) {
        r->err = "unterminated string";
        return NULL;
    }
    /* Decoding never makes the text longer (\uXXXX is 6 bytes for <= 4). */
    char *out = malloc((size_t)(r->p - s) + 1), *o = out;
    if (!out) {
        r->err = "out of memory";
        return NULL;
    }
    for (const char *q = s; q < r->p; q++) {
        if (*q != '\\') {
            *o++ = *q;
            continue;
        }
        q++;
        switch (*q) {
        case 'n': *o++ = '\n'; break;
        case 't': *o++ = '\t'; break;
        case 'r': *o++ = '\r'; break;
        case 'b': *o++ = '\b'; break;
        case 'f': *o++ = '\f'; break;
        case 'u': {
            unsigned u, lo;
            if (r->p - q < 5 || hex4(q + 1, &u) < 0) goto bad;
            q += 4;
            if (u >= 0xD800 && u < 0xDC00 && r->p - q >= 7 && q[1] == '\\' && q[2] == 'u' &&
                hex4(q + 3, &lo) == 0 && lo >= 0xDC00 && lo < 0xE000) {
                u = 0x10000 + ((u - 0xD800) << 10) + (lo - 0xDC00);
                q += 6;
            }
            o += put_utf8(o, u);
            break;
        }
        default: *o++ = *q; break; /* \" \\ \/ */
        }
    }
    *o = 0;
    *len = (size_t)(o - out);
    r->p++;
    return out;
bad:
    free(out);
    r->err = "bad \\u escape";
    return NULL;
}

static tj *value(rd *r);

static tj *container(rd *r, int obj) {
    if (++r->depth > TJ_MAX_DEPTH) {
        r->err = "nesting too deep";
        return NULL;
    }
    tj *v = mk(obj ? TJ_OBJ : TJ_ARR), **tail;
    if (!v) {
        r->err = "out of memory";
        return NULL;
    }
    tail = &v->kids;
    r->p++;
    ws(r);
    if (r->p < r->end && *r->p == (obj ? '}' : ']')) {
        r->p++;
        r->depth--;
        return v;
    }
    for (;;) {
        char *key = NULL;
        size_t klen;
        ws(r);
        if (obj) {
            if (r->p >= r->end || *r->p != '"') {
                r->err = "expected a member name";
                break;
            }
            if (!(key = str(r, &klen))) break;
            ws(r);
            if (r->p >= r->end || *r->p != ':') {
                free(key);
                r->err = "expected ':'";
                break;
            }
            r->p++;
        }
        tj *k = value(r);
        if (!k) {
            free(key);
            break;
        }
        k->key = key;
        *tail = k;
        tail = &k->next;
        ws(r);
        if (r->p < r->end && *r->p == ',') {
            r->p++;
            continue;
        }
        if (r->p < r->end && *r->p == (obj ? '}' : ']')) {
            r->p++;
            r->depth--;
            return v;
        }
        r->err = obj ? "expected ',' or '}'" : "expected ',' or ']'";
        break;
    }
    tj_free(v);
    return NULL;
}

static tj *value(rd *r) {
    ws(r);
    if (r->p >= r->end) {
        r->err = "unexpected end";
        return NULL;
    }
    char c = *r->p;
    if (c == '{' || c == '[') return container(r, c == '{');
    if (c == '"') {
        tj *v = mk(TJ_STR);
        if (!v || !(v->s = str(r, &v->slen))) {
            if (!v) r->err = "out of memory";
            free(v);
            return NULL;
        }
        return v;
    }
    static const struct { const char *w; tj_kind k; int b; } words[] = {
        {"null", TJ_NULL, 0}, {"true", TJ_BOOL, 1}, {"false", TJ_BOOL, 0}};
    for (size_t i = 0; i < 3; i++) {
        size_t n = strlen(words[i].w);
        if ((size_t)(r->end - r->p) >= n && memcmp(r->p, words[i].w, n) == 0) {
            r->p += n;
            tj *v = mk(words[i].k);
            if (!v) r->err = "out of memory";
            else v->b = words[i].b;
            return v;
        }
    }
    if (c == '-' || (c >= '0' && c <= '9')) {
        const char *s = r->p;
        while (r->p < r->end && strchr("+-0123456789.eE", *r->p)) r->p++;
        char *text = malloc((size_t)(r->p - s) + 1), *end;
        tj *v = mk(TJ_NUM);
        if (!text || !v) {
            free(text);
            free(v);
            r->err = "out of memory";
            return NULL;
        }
        memcpy(text, s, (size_t)(r->p - s));
        text[r->p - s] = 0;
        v->num = strtod(text, &end);
        v->s = text;
        v->slen = (size_t)(r->p - s);
        if (*end) {
            tj_free(v);
            r->err = "bad number";
            return NULL;
        }
        return v;
    }
    r->err = "unexpected character";
    return NULL;
}

tj *tj_parse(const char *text, size_t len, const char **err) {
    rd r = {text, text + len, NULL, 0};
    tj *v = value(&r);
    if (v) {
        ws(&r);
        if (r.p != r.end) {
            tj_free(v);
            v = NULL;
            r.err = "text after the value";
        }
    }
    if (!v && err) *err = r.err ? r.err : "malformed JSON";
    return v;
}

const tj *tj_get(const tj *obj, const char *key) {
    if (!obj || obj->kind != TJ_OBJ) return NULL;
    for (const tj *k = obj->kids; k; k = k->next)
        if (strcmp(k->key, key) == 0) return k;
    return NULL;
}

int tj_subset(const tj *want, const tj *got) {
    if (!got || want->kind != got->kind) return 0;
    switch (want->kind) {
    case TJ_NULL: return 1;
    case TJ_BOOL: return want->b == got->b;
    case TJ_NUM: return want->num == got->num;
    case TJ_STR: return want->slen == got->slen && memcmp(want->s, got->s, want->slen) == 0;
    case TJ_ARR: {
        const tj *a = want->kids, *b = got->kids;
        for (; a && b; a = a->next, b = b->next)
            if (!tj_subset(a, b)) return 0;
        return !a && !b;
    }
    case TJ_OBJ:
        for (const tj *k = want->kids; k; k = k->next)
            if (!tj_subset(k, tj_get(got, k->key))) return 0;
        return 1;
    }
    return 0;
}
