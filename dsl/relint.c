/* relint.c — the regex warning's search for catastrophic backtracking.
 *
 * A backtracking matcher such as PCRE2 can take exponential time when a
 * repeat can split the same text between its iterations in many ways:
 * (a+)+, (\w+\s?)*, (a|aa)+. The regex is parsed (PCRE2's syntax, the
 * constructs that matter; anything else ends the search: no warning) into
 * a small tree. Each unbounded repeat whose body holds another repeat or an
 * alternation is a candidate; for each, subjects are built from the tree —
 * what leads to the repeat, one iteration of its body many times over, then
 * a character meant to make the match fail — and handed to probe, which runs
 * PCRE2 on them the way the engine does (nfa/regex.c, with its match limit).
 * Only a subject on which PCRE2 gives up is reported, so the warning is a
 * fact about PCRE2, not a guess about the text; a catastrophic regex this
 * search builds no such subject for goes unreported. */
#include "config.h"
#include "relint.h"

#include <stdlib.h>
#include <string.h>

#include "mem.h"

#define NODES 256
#define SAMPLE 64 /* bytes of one node's sample; longer: the search gives up */
#define PUMPS 32  /* iterations of the repeat's body in a subject */

typedef enum { RN_LIT, RN_ZERO, RN_SEQ, RN_ALT, RN_REP, RN_GROUP } rn_kind;

typedef struct rnode {
    rn_kind kind;
    int first, next;  /* children (SEQ, ALT, GROUP: first; REP: its body), siblings */
    int parent;
    int min, max;     /* REP; max -1: unbounded */
    int possessive;   /* REP written with a trailing + */
    int opaque;       /* atomic group or lookaround: no candidate inside */
    size_t qoff;      /* REP: offset of its quantifier in the regex */
    char lit[8];      /* LIT: the bytes of one character (a sample for classes) */
    int litn;
} rnode;

typedef struct rparse {
    const char *re;
    size_t n, i;
    rnode nd[NODES];
    int nn;
    int bad; /* a construct the search does not follow: give up */
} rparse;

static int node(rparse *p, rn_kind k) {
    if (p->nn == NODES) {
        p->bad = 1;
        return -1;
    }
    rnode *x = &p->nd[p->nn];
    memset(x, 0, sizeof *x);
    x->kind = k;
    x->first = x->next = x->parent = -1;
    return p->nn++;
}

static int lit(rparse *p, const char *s, int n) {
    int x = node(p, RN_LIT);
    if (x < 0) return -1;
    memcpy(p->nd[x].lit, s, (size_t)n);
    p->nd[x].litn = n;
    return x;
}

static int lit1(rparse *p, char c) { return lit(p, &c, 1); }

static void adopt(rparse *p, int parent, int *last, int child) {
    p->nd[child].parent = parent;
    if (*last < 0) p->nd[parent].first = child;
    else p->nd[*last].next = child;
    *last = child;
}

static int parse_alt(rparse *p);

/* A sample character of a class [...]: the first single character or
 * range start it names, else a guess. A wrong sample only makes the search
 * miss (PCRE2 decides), never report wrongly. */
static int parse_class(rparse *p) {
    size_t i = p->i + 1; /* after '[' */
    int neg = i < p->n && p->re[i] == '^';
    if (neg) i++;
    char sample = 0;
    if (i < p->n && p->re[i] == ']') sample = ']', i++;
    while (i < p->n && p->re[i] != ']') {
        if (p->re[i] == '[' && i + 1 < p->n && p->re[i + 1] == ':') {
            const char *e = strstr(p->re + i + 2, ":]");
            if (!e) break;
            if (!sample) sample = strncmp(p->re + i + 2, "digit", 5) == 0 ? '0' : 'a';
            i = (size_t)(e - p->re) + 2;
            continue;
        }
        if (p->re[i] == '\\' && i + 1 < p->n) {
            char c = p->re[i + 1];
            if (!sample) sample = c == 'd' ? '0' : c == 's' ? ' ' : c == 'w' ? 'a' : c == 'W' ? '!' : c == 'n' ? '\n' : c == 't' ? '\t' : (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ? 'a' : c;
            i += 2;
            continue;
        }
        if (!sample) sample = p->re[i];
        i++;
    }
    if (i >= p->n) {
        p->bad = 1;
        return -1;
    }
    p->i = i + 1;
    if (neg) sample = sample == 'a' ? '!' : 'a'; /* a guess, see above */
    if ((unsigned char)sample >= 0x80) sample = 'a';
    return lit1(p, sample ? sample : 'a');
}

/* An escape outside a class, at p->i ('\\'). */
static int parse_escape(rparse *p) {
    if (p->i + 1 >= p->n) {
        p->bad = 1;
        return -1;
    }
    char c = p->re[p->i + 1];
    p->i += 2;
    switch (c) {
    case 'd': return lit1(p, '0');
    case 'D': case 'w': case 'S': case 'H': case 'V': case 'N': case 'X': return lit1(p, 'a');
    case 'W': return lit1(p, '!');
    case 's': case 'h': return lit1(p, ' ');
    case 'v': case 'R': case 'n': return lit1(p, '\n');
    case 't': return lit1(p, '\t');
    case 'r': return lit1(p, '\r');
    case 'f': return lit1(p, '\f');
    case 'e': return lit1(p, 27);
    case 'a': return lit1(p, 7);
    case 'b': case 'B': case 'A': case 'z': case 'Z': case 'G': case 'K':
        return node(p, RN_ZERO);
    case 'p': case 'P': /* \pL, \p{...}: a letter is a fair guess */
        if (p->i < p->n && p->re[p->i] == '{') {
            const char *e = memchr(p->re + p->i, '}', p->n - p->i);
            if (!e) break;
            p->i = (size_t)(e - p->re) + 1;
        } else if (p->i < p->n) {
            p->i++;
        }
        return lit1(p, 'a');
    case 'Q': { /* \Q...\E: a literal run, as a group of characters */
        int g = node(p, RN_SEQ), last = -1;
        if (g < 0) return -1;
        while (p->i < p->n && !(p->re[p->i] == '\\' && p->i + 1 < p->n && p->re[p->i + 1] == 'E')) {
            int x = lit1(p, p->re[p->i++]);
            if (x < 0) return -1;
            adopt(p, g, &last, x);
        }
        if (p->i < p->n) p->i += 2;
        return g;
    }
    case 'x': {
        if (p->i < p->n && p->re[p->i] == '{') {
            const char *e = memchr(p->re + p->i, '}', p->n - p->i);
            if (!e) break;
            unsigned long v = strtoul(p->re + p->i + 1, NULL, 16);
            p->i = (size_t)(e - p->re) + 1;
            return lit1(p, v && v < 0x80 ? (char)v : 'a');
        }
        unsigned v = 0;
        for (int k = 0; k < 2 && p->i < p->n && strchr("0123456789abcdefABCDEF", p->re[p->i]) &&
                        p->re[p->i];
             k++, p->i++)
            v = v * 16 + (unsigned)(p->re[p->i] <= '9' ? p->re[p->i] - '0' : (p->re[p->i] | 32) - 'a' + 10);
        return lit1(p, v && v < 0x80 ? (char)v : 'a');
    }
    default:
        if ((c >= '0' && c <= '9') || c == 'g' || c == 'k' || c == 'c' || c == 'o' || c == 'C')
            break; /* back references, controls, octal, \C: not followed */
        if ((unsigned char)c >= 0x80) break;
        return lit1(p, c); /* an escaped punctuation character is itself */
    }
    p->bad = 1;
    return -1;
}

/* A group at p->i ('('). */
static int parse_group(rparse *p) {
    size_t i = p->i + 1;
    int opaque = 0;
    const char *r = p->re;
    if (i < p->n && r[i] == '*') goto bad; /* (*VERB) */
    if (i < p->n && r[i] == '?') {
        i++;
        if (i >= p->n) goto bad;
        if (r[i] == ':' || r[i] == '|') {
            i++;
        } else if (r[i] == '>' || r[i] == '=' || r[i] == '!') {
            opaque = 1;
            i++;
        } else if (r[i] == '<' && i + 1 < p->n && (r[i + 1] == '=' || r[i + 1] == '!')) {
            opaque = 1;
            i += 2;
        } else if (r[i] == '#') {
            const char *e = memchr(r + i, ')', p->n - i);
            if (!e) goto bad;
            p->i = (size_t)(e - r) + 1;
            return node(p, RN_ZERO);
        } else if (r[i] == '<' || r[i] == '\'' || (r[i] == 'P' && i + 1 < p->n && r[i + 1] == '<')) {
            char close = r[i] == '\'' ? '\'' : '>';
            const char *e = memchr(r + i + 1, close, p->n - i - 1);
            if (!e) goto bad;
            i = (size_t)(e - r) + 1;
        } else {
            /* Option letters: (?i) or (?i:...); anything else is not followed. */
            size_t j = i;
            while (j < p->n && strchr("imnsxJU-^", r[j]) && r[j]) j++;
            if (j == i || j >= p->n || (r[j] != ')' && r[j] != ':')) goto bad;
            if (memchr(r + i, 'x', j - i)) goto bad; /* extended syntax: not followed */
            if (r[j] == ')') {
                p->i = j + 1;
                return node(p, RN_ZERO);
            }
            i = j + 1;
        }
    }
    p->i = i;
    int g = node(p, RN_GROUP);
    if (g < 0) return -1;
    int body = parse_alt(p);
    if (body < 0 || p->i >= p->n || r[p->i] != ')') goto bad;
    p->i++;
    int last = -1;
    adopt(p, g, &last, body);
    p->nd[g].opaque = opaque;
    if (opaque && r[i - 1] != '>') p->nd[g].kind = RN_ZERO; /* a lookaround takes no text */
    return g;
bad:
    p->bad = 1;
    return -1;
}

/* A quantifier at p->i, if any, around atom x. */
static int quantify(rparse *p, int x) {
    const char *r = p->re;
    size_t i = p->i;
    int min, max;
    if (i >= p->n) return x;
    if (r[i] == '*') min = 0, max = -1, i++;
    else if (r[i] == '+') min = 1, max = -1, i++;
    else if (r[i] == '?') min = 0, max = 1, i++;
    else if (r[i] == '{') {
        size_t j = i + 1;
        char *end;
        if (j >= p->n || r[j] < '0' || r[j] > '9') return x; /* a literal { */
        long a = strtol(r + j, &end, 10), b = a;
        j = (size_t)(end - r);
        if (j < p->n && r[j] == ',') {
            j++;
            if (j < p->n && r[j] >= '0' && r[j] <= '9') {
                b = strtol(r + j, &end, 10);
                j = (size_t)(end - r);
            } else {
                b = -1;
            }
        }
        if (j >= p->n || r[j] != '}') return x;
        min = a > 65535 ? 65535 : (int)a;
        max = b > 65535 ? 65535 : (int)b;
        i = j + 1;
    } else {
        return x;
    }
    int q = node(p, RN_REP);
    if (q < 0) return -1;
    p->nd[q].min = min;
    p->nd[q].max = max;
    p->nd[q].qoff = p->i;
    if (i < p->n && r[i] == '+') p->nd[q].possessive = 1, i++;
    else if (i < p->n && r[i] == '?') i++; /* lazy: backtracks the same */
    p->i = i;
    int last = -1;
    adopt(p, q, &last, x);
    return quantify(p, q); /* a{2}{3}: a repeat of a repeat */
}

static int parse_seq(rparse *p) {
    int s = node(p, RN_SEQ), last = -1;
    if (s < 0) return -1;
    while (p->i < p->n && !p->bad) {
        char c = p->re[p->i];
        int x;
        if (c == '|' || c == ')') break;
        if (c == '(') x = parse_group(p);
        else if (c == '[') x = parse_class(p);
        else if (c == '\\') x = parse_escape(p);
        else if (c == '^' || c == '$') {
            p->i++;
            x = node(p, RN_ZERO);
        } else if (c == '.') {
            p->i++;
            x = lit1(p, 'a');
        } else if (c == '*' || c == '+' || c == '?') {
            p->bad = 1; /* a quantifier with nothing before it */
            return -1;
        } else {
            /* One character: a UTF-8 sequence is one atom in UTF mode. */
            int len = 1;
            while (len < 4 && p->i + (size_t)len < p->n &&
                   ((unsigned char)p->re[p->i + (size_t)len] & 0xC0) == 0x80 &&
                   (unsigned char)c >= 0xC0)
                len++;
            x = lit(p, p->re + p->i, len);
            p->i += (size_t)len;
        }
        if (x < 0) return -1;
        x = quantify(p, x);
        if (x < 0) return -1;
        adopt(p, s, &last, x);
    }
    return s;
}

static int parse_alt(rparse *p) {
    int first = parse_seq(p);
    if (first < 0 || p->i >= p->n || p->re[p->i] != '|') return first;
    int a = node(p, RN_ALT), last = -1;
    if (a < 0) return -1;
    adopt(p, a, &last, first);
    while (p->i < p->n && p->re[p->i] == '|' && !p->bad) {
        p->i++;
        int s = parse_seq(p);
        if (s < 0) return -1;
        adopt(p, a, &last, s);
    }
    return a;
}

/* ---- samples: a short text each node matches --------------------------- */

typedef struct buf {
    char s[SAMPLE];
    size_t n;
    int over;
} buf;

static void put(buf *b, const char *s, size_t n) {
    if (b->n + n > sizeof b->s) {
        b->over = 1;
        return;
    }
    memcpy(b->s + b->n, s, n);
    b->n += n;
}

/* A sample of x: each repeat as few times as it must be (once at least
 * when once is set), an alternation's branch `branch` (0: the first) at
 * x's top, the first one below. */
static void sample(const rparse *p, int x, buf *b, int branch, int once) {
    const rnode *n = &p->nd[x];
    switch (n->kind) {
    case RN_LIT: put(b, n->lit, (size_t)n->litn); break;
    case RN_ZERO: break;
    case RN_SEQ:
    case RN_GROUP:
        for (int c = n->first; c >= 0; c = p->nd[c].next)
            sample(p, c, b, n->kind == RN_GROUP ? branch : 0, once);
        break;
    case RN_ALT: {
        int c = n->first;
        for (int k = 0; k < branch && p->nd[c].next >= 0; k++) c = p->nd[c].next;
        sample(p, c, b, 0, once);
        break;
    }
    case RN_REP: {
        int times = n->min == 0 && once ? 1 : n->min;
        for (int k = 0; k < times && k < SAMPLE && !b->over; k++) sample(p, n->first, b, 0, once);
        break;
    }
    }
}

/* What leads to node x from the start of the regex: the samples of what
 * comes before it in each enclosing sequence. */
static void prefix(const rparse *p, int x, buf *b) {
    int par = p->nd[x].parent;
    if (par < 0) return;
    prefix(p, par, b);
    if (p->nd[par].kind != RN_SEQ) return;
    for (int c = p->nd[par].first; c >= 0 && c != x; c = p->nd[c].next) sample(p, c, b, 0, 0);
}

/* What may follow node x to the end of the regex: the samples of what
 * comes after it in each enclosing sequence, innermost first. */
static void suffix(const rparse *p, int x, buf *b) {
    for (int par = p->nd[x].parent; par >= 0; x = par, par = p->nd[par].parent)
        if (p->nd[par].kind == RN_SEQ)
            for (int c = p->nd[x].next; c >= 0; c = p->nd[c].next) sample(p, c, b, 0, 0);
}

/* Does the subtree of x hold a repeat (that can take more than one
 * iteration) or an alternation: a way for the same text to be split? */
static int ambiguous_inside(const rparse *p, int x) {
    for (int c = p->nd[x].first; c >= 0; c = p->nd[c].next) {
        const rnode *n = &p->nd[c];
        if (n->opaque) continue;
        if ((n->kind == RN_REP && !n->possessive && (n->max == -1 || n->max > 1)) || n->kind == RN_ALT)
            return 1;
        if (ambiguous_inside(p, c)) return 1;
    }
    return 0;
}

static int inside_opaque(const rparse *p, int x) {
    for (int a = p->nd[x].parent; a >= 0; a = p->nd[a].parent)
        if (p->nd[a].opaque || p->nd[a].kind == RN_ZERO) return 1;
    return 0;
}

/* prefix, PUMPS times one, tail, then post: does the matcher give up on it? */
static int try_subject(const buf *pre, const buf *one, char tail, const buf *post, relint_probe probe,
                       void *ud) {
    size_t len = pre->n + one->n * PUMPS + 1 + post->n;
    char *subj = mem_alloc(len);
    if (!subj) return -1;
    memcpy(subj, pre->s, pre->n);
    for (int k = 0; k < PUMPS; k++) memcpy(subj + pre->n + (size_t)k * one->n, one->s, one->n);
    subj[pre->n + one->n * PUMPS] = tail;
    memcpy(subj + pre->n + one->n * PUMPS + 1, post->s, post->n);
    int r = probe(ud, subj, len);
    mem_free(subj);
    return r;
}

int relint_backtracks(const char *re, relint_probe probe, void *ud, int *budget, relint_found *out) {
    static const char tails[] = "!a0 ";
    rparse *p = mem_calloc(1, sizeof *p);
    if (!p) return -1;
    p->re = re;
    p->n = strlen(re);
    int root = parse_alt(p), rc = 0;
    if (root < 0 || p->bad || p->i != p->n) goto done;
    for (int x = 0; x < p->nn && rc == 0; x++) {
        const rnode *q = &p->nd[x];
        if (q->kind != RN_REP || q->possessive || q->max != -1 || inside_opaque(p, x) ||
            !ambiguous_inside(p, x))
            continue;
        buf pre = {.n = 0}, post = {.n = 0}, none = {.n = 0};
        prefix(p, x, &pre);
        suffix(p, x, &post);
        /* One iteration of the body: its repeats as few times as they must
         * be, or at least once; through each branch of a top alternation in
         * turn (at most 4). */
        int top = q->first, nb = 1;
        while (top >= 0 && p->nd[top].kind == RN_GROUP) top = p->nd[top].first;
        if (top >= 0 && p->nd[top].kind == RN_ALT)
            for (int c = p->nd[p->nd[top].first].next; c >= 0 && nb < 4; c = p->nd[c].next) nb++;
        for (int mode = 0; mode < 2 * nb && rc == 0; mode++) {
            buf one = {.n = 0};
            sample(p, q->first, &one, mode / 2, mode % 2);
            if (pre.over) break;
            if (one.over || one.n == 0) continue;
            /* A tail meant to fail the match, then nothing or what follows the
             * repeat: PCRE2 skips subjects that lack a character the regex
             * requires, such as the x of (\w+\s?)*x. */
            for (int k = 0; tails[k / 2] && rc == 0; k++) {
                const char *t = &tails[k / 2];
                const buf *after = k % 2 ? &post : &none;
                if (*t == one.s[0] || (k % 2 && (post.n == 0 || post.over))) continue;
                if (*budget <= 0) goto done;
                --*budget;
                rc = try_subject(&pre, &one, *t, after, probe, ud);
                if (rc > 0) {
                    out->offset = q->qoff;
                    memcpy(out->prefix, pre.s, pre.n);
                    out->prefix_len = pre.n;
                    memcpy(out->pump, one.s, one.n);
                    out->pump_len = one.n;
                    out->pumps = PUMPS;
                    out->tail = *t;
                    memcpy(out->post, after->s, after->n);
                    out->post_len = after->n;
                }
            }
        }
    }
done:
    mem_free(p);
    return rc;
}
