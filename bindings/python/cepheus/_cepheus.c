/* _cepheus.c — the CPython extension behind the `cepheus` package: Program,
 * Engine and Match over the C API of cepheus.h. Dicts become event rows here
 * (one lookup per program field), and matches come back holding the very
 * dicts that were pushed, kept alive through event tags (cep_engine_on_tag).
 *
 * Threading: the engine callbacks only record into C memory (matches, late
 * events, keep/drop of tags), so push_many can release the GIL while the
 * engine works on a chunk; the Python objects are built, and the reference
 * counts adjusted, after the GIL is taken back, in the order recorded. */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <structmember.h>
#include <datetime.h>

#include <math.h>
#include <stdint.h>
#include <string.h>

#include "cepheus.h"

/* Events converted with the GIL held, then pushed with it released. */
#define CHUNK 256

static PyObject *PatternError;
static PyTypeObject DiagnosticType;

/* ---- growable C arrays (usable without the GIL) ------------------------- */

static int grow(void **p, size_t *cap, size_t need, size_t elem) {
    if (need <= *cap) return 0;
    size_t n = *cap ? *cap : 16;
    while (n < need) {
        if (n > SIZE_MAX / 2 / elem) return -1;
        n *= 2;
    }
    void *q = PyMem_RawRealloc(*p, n * elem);
    if (!q) return -1;
    *p = q;
    *cap = n;
    return 0;
}

/* ---- Program ------------------------------------------------------------ */

typedef struct {
    PyObject_HEAD
    cep_program *prog;
    PyObject *name;     /* str: the name given to compile */
    PyObject *patterns; /* tuple of str, file order */
    PyObject *fields;   /* tuple of interned str, slot order: the field names */
    PyObject *paths;    /* per slot, a tuple of interned str: the dict keys
                         * that lead to it (one for a top-level field) */
    char *inner;        /* per slot: another slot's path goes through it, so
                         * a dict there is walked, and reads as None itself
                         * (as in the JSON reader) instead of a TypeError */
} ProgramObject;

static PyTypeObject ProgramType;

static void Program_dealloc(ProgramObject *self) {
    Py_XDECREF(self->name);
    Py_XDECREF(self->patterns);
    Py_XDECREF(self->fields);
    Py_XDECREF(self->paths);
    PyMem_Free(self->inner);
    cep_program_free(self->prog);
    Py_TYPE(self)->tp_free((PyObject *)self);
}

static PyObject *Program_repr(ProgramObject *self) {
    return PyUnicode_FromFormat("<cepheus.Program %R patterns=%R fields=%R>", self->name,
                                self->patterns, self->fields);
}

static PyMemberDef Program_members[] = {
    {"name", T_OBJECT, offsetof(ProgramObject, name), READONLY,
     "the name given to compile() (a file name for compile_file)"},
    {"patterns", T_OBJECT, offsetof(ProgramObject, patterns), READONLY,
     "names of the patterns, in file order"},
    {"fields", T_OBJECT, offsetof(ProgramObject, fields), READONLY,
     "event fields the program reads, in slot order"},
    {NULL, 0, 0, 0, NULL},
};

static PyTypeObject ProgramType = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "cepheus.Program",
    .tp_basicsize = sizeof(ProgramObject),
    .tp_dealloc = (destructor)Program_dealloc,
    .tp_repr = (reprfunc)Program_repr,
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_doc = "A compiled set of patterns (immutable; made by cepheus.compile).",
    .tp_members = Program_members,
};

/* ---- Diagnostic and PatternError ---------------------------------------- */

static PyStructSequence_Field diag_fields[] = {
    {"code", "stable error code (CEP_DIAG_*)"},
    {"line", "1-based line"},
    {"column", "1-based column, in characters"},
    {"message", "what is wrong"},
    {NULL, NULL},
};

static PyStructSequence_Desc diag_desc = {
    "cepheus.Diagnostic",
    "One pattern error: (code, line, column, message).",
    diag_fields,
    4,
};

static PyObject *utf8(const char *s) {
    return PyUnicode_DecodeUTF8(s ? s : "", (Py_ssize_t)(s ? strlen(s) : 0), "replace");
}

/* Raise PatternError carrying the rendered text and the list of errors. */
static void raise_pattern_error(const cep_diag *d) {
    size_t n = cep_diag_count(d);
    PyObject *list = PyList_New((Py_ssize_t)n);
    if (!list) return;
    for (size_t i = 0; i < n; i++) {
        PyObject *t = PyStructSequence_New(&DiagnosticType);
        if (!t) {
            Py_DECREF(list);
            return;
        }
        PyStructSequence_SET_ITEM(t, 0, PyLong_FromLong(cep_diag_code(d, i)));
        PyStructSequence_SET_ITEM(t, 1, PyLong_FromLong(cep_diag_line(d, i)));
        PyStructSequence_SET_ITEM(t, 2, PyLong_FromLong(cep_diag_column(d, i)));
        PyStructSequence_SET_ITEM(t, 3, utf8(cep_diag_message(d, i)));
        for (int k = 0; k < 4; k++)
            if (!PyStructSequence_GET_ITEM(t, k)) {
                Py_DECREF(t);
                Py_DECREF(list);
                return;
            }
        PyList_SET_ITEM(list, (Py_ssize_t)i, t);
    }
    /* str() is the rendering without its final newline. */
    const char *r = cep_diag_render(d);
    size_t len = strlen(r);
    while (len && r[len - 1] == '\n') len--;
    PyObject *msg = PyUnicode_DecodeUTF8(r, (Py_ssize_t)len, "replace");
    PyObject *exc = msg ? PyObject_CallOneArg(PatternError, msg) : NULL;
    Py_XDECREF(msg);
    if (exc && PyObject_SetAttrString(exc, "diagnostics", list) == 0)
        PyErr_SetObject(PatternError, exc);
    Py_XDECREF(exc);
    Py_DECREF(list);
}

static void raise_code(int rc, const char *detail) {
    if (rc == CEP_ENOMEM) {
        PyErr_NoMemory();
        return;
    }
    if (detail && *detail)
        PyErr_Format(PyExc_RuntimeError, "%s: %s", cep_strerror(rc), detail);
    else
        PyErr_SetString(PyExc_RuntimeError, cep_strerror(rc));
}

static PyObject *tuple_of_names(size_t n, const char *(*get)(const cep_program *, size_t),
                                const cep_program *p, int intern) {
    PyObject *t = PyTuple_New((Py_ssize_t)n);
    if (!t) return NULL;
    for (size_t i = 0; i < n; i++) {
        PyObject *s = utf8(get(p, i));
        if (!s) {
            Py_DECREF(t);
            return NULL;
        }
        if (intern) PyUnicode_InternInPlace(&s);
        PyTuple_SET_ITEM(t, (Py_ssize_t)i, s);
    }
    return t;
}

/* Per slot, the keys of its path (cep_program_field_part), interned. */
static PyObject *field_paths(const cep_program *p) {
    size_t n = cep_program_field_count(p);
    PyObject *t = PyTuple_New((Py_ssize_t)n);
    if (!t) return NULL;
    for (size_t i = 0; i < n; i++) {
        size_t d = cep_program_field_depth(p, i);
        PyObject *parts = PyTuple_New((Py_ssize_t)d);
        if (!parts) goto fail;
        PyTuple_SET_ITEM(t, (Py_ssize_t)i, parts);
        for (size_t k = 0; k < d; k++) {
            PyObject *s = utf8(cep_program_field_part(p, i, k));
            if (!s) goto fail;
            PyUnicode_InternInPlace(&s);
            PyTuple_SET_ITEM(parts, (Py_ssize_t)k, s);
        }
    }
    return t;
fail:
    Py_DECREF(t);
    return NULL;
}

/* Which slots other slots' paths go through (ProgramObject.inner). */
static char *inner_slots(const cep_program *p) {
    size_t n = cep_program_field_count(p);
    char *in = PyMem_Calloc(n + 1, 1);
    if (!in) {
        PyErr_NoMemory();
        return NULL;
    }
    for (size_t i = 0; i < n; i++) {
        size_t di = cep_program_field_depth(p, i);
        for (size_t j = 0; j < n && !in[i]; j++) {
            if (cep_program_field_depth(p, j) <= di) continue;
            size_t k = 0;
            while (k < di && strcmp(cep_program_field_part(p, i, k), cep_program_field_part(p, j, k)) == 0) k++;
            in[i] = k == di;
        }
    }
    return in;
}

/* The keys of a time field path ("ts", "meta.ts", "`event-time`"): the
 * language's rule (parts split at '.', a backquoted part taken whole). */
static PyObject *time_path(const char *s) {
    PyObject *l = PyList_New(0);
    if (!l) return NULL;
    size_t i = 0, n = strlen(s);
    while (i < n) {
        size_t b, e;
        if (s[i] == '`') {
            const char *close = strchr(s + i + 1, '`');
            if (!close) goto bad;
            b = i + 1;
            e = (size_t)(close - s);
            i = e + 1;
        } else {
            b = i;
            while (i < n && s[i] != '.') i++;
            e = i;
            if (e == b) goto bad;
        }
        PyObject *k = PyUnicode_FromStringAndSize(s + b, (Py_ssize_t)(e - b));
        if (k) PyUnicode_InternInPlace(&k);
        if (!k || PyList_Append(l, k) < 0) {
            Py_XDECREF(k);
            Py_DECREF(l);
            return NULL;
        }
        Py_DECREF(k);
        if (i < n && s[i++] != '.') goto bad;
        if (i == n && s[n - 1] == '.') goto bad;
    }
    PyObject *t = PyList_AsTuple(l);
    Py_DECREF(l);
    return t;
bad:
    Py_DECREF(l);
    PyErr_Format(PyExc_ValueError, "invalid time_field %s", s);
    return NULL;
}

static PyObject *mod_compile(PyObject *mod, PyObject *args, PyObject *kw) {
    (void)mod;
    static char *kwlist[] = {"text", "name", NULL};
    PyObject *text;
    PyObject *name = NULL;
    if (!PyArg_ParseTupleAndKeywords(args, kw, "O|U:compile", kwlist, &text, &name)) return NULL;
    const char *buf;
    Py_ssize_t len;
    if (PyUnicode_Check(text)) {
        buf = PyUnicode_AsUTF8AndSize(text, &len);
        if (!buf) return NULL;
    } else if (PyBytes_Check(text)) {
        buf = PyBytes_AS_STRING(text);
        len = PyBytes_GET_SIZE(text);
    } else {
        PyErr_Format(PyExc_TypeError, "compile() text must be str or bytes, not %.100s",
                     Py_TYPE(text)->tp_name);
        return NULL;
    }
    const char *cname = "<string>";
    if (name) {
        cname = PyUnicode_AsUTF8(name);
        if (!cname) return NULL;
    }
    cep_program *prog = NULL;
    cep_diag *diag = NULL;
    int rc;
    Py_INCREF(text); /* buf stays valid while the GIL is released */
    Py_BEGIN_ALLOW_THREADS
    rc = cep_compile(NULL, buf, (size_t)len, cname, &prog, &diag);
    Py_END_ALLOW_THREADS
    Py_DECREF(text);
    if (rc == CEP_EPATTERN) {
        raise_pattern_error(diag);
        cep_diag_free(diag);
        return NULL;
    }
    cep_diag_free(diag);
    if (rc != CEP_OK) {
        raise_code(rc, NULL);
        return NULL;
    }
    ProgramObject *self = PyObject_New(ProgramObject, &ProgramType);
    if (!self) {
        cep_program_free(prog);
        return NULL;
    }
    self->prog = prog;
    self->name = name ? Py_NewRef(name) : PyUnicode_FromString("<string>");
    self->patterns = tuple_of_names(cep_program_pattern_count(prog), cep_program_pattern_name,
                                    prog, 0);
    self->fields = tuple_of_names(cep_program_field_count(prog), cep_program_field_name, prog, 1);
    self->paths = self->fields ? field_paths(prog) : NULL;
    self->inner = self->paths ? inner_slots(prog) : NULL;
    if (!self->name || !self->patterns || !self->fields || !self->paths || !self->inner) {
        Py_DECREF(self);
        return NULL;
    }
    return (PyObject *)self;
}

/* ---- Match -------------------------------------------------------------- */

typedef struct {
    PyObject_HEAD
    PyObject *pattern; /* str */
    PyObject *key;     /* None, a value, or a tuple for several key fields */
    PyObject *events;  /* dict: step name -> list of the pushed dicts */
    PyObject *fields;  /* dict: emit name -> value ({} without emit) */
    long long start, end;
    char timeout;      /* a timed-out partial match */
} MatchObject;

static PyTypeObject MatchType;

static int Match_traverse(MatchObject *self, visitproc visit, void *arg) {
    Py_VISIT(self->pattern);
    Py_VISIT(self->key);
    Py_VISIT(self->events);
    Py_VISIT(self->fields);
    return 0;
}

static int Match_clear(MatchObject *self) {
    Py_CLEAR(self->pattern);
    Py_CLEAR(self->key);
    Py_CLEAR(self->events);
    Py_CLEAR(self->fields);
    return 0;
}

static void Match_dealloc(MatchObject *self) {
    PyObject_GC_UnTrack(self);
    Match_clear(self);
    Py_TYPE(self)->tp_free((PyObject *)self);
}

static PyObject *Match_repr(MatchObject *self) {
    if (self->timeout)
        return PyUnicode_FromFormat("Match(pattern=%R, key=%R, start=%lld, end=%lld, timeout=True)",
                                    self->pattern, self->key, self->start, self->end);
    return PyUnicode_FromFormat("Match(pattern=%R, key=%R, start=%lld, end=%lld, fields=%R)",
                                self->pattern, self->key, self->start, self->end, self->fields);
}

static PyMemberDef Match_members[] = {
    {"pattern", T_OBJECT, offsetof(MatchObject, pattern), READONLY, "pattern name"},
    {"key", T_OBJECT, offsetof(MatchObject, key), READONLY,
     "None without a key clause, the value for one key field, a tuple for several"},
    {"start", T_LONGLONG, offsetof(MatchObject, start), READONLY,
     "time of the first event (ms)"},
    {"end", T_LONGLONG, offsetof(MatchObject, end), READONLY, "time of the last event (ms)"},
    {"events", T_OBJECT, offsetof(MatchObject, events), READONLY,
     "dict: step name -> list of the event dicts it accepted (the objects pushed)"},
    {"fields", T_OBJECT, offsetof(MatchObject, fields), READONLY,
     "dict of the pattern's emit values ({} without emit, and on timeouts)"},
    {"timeout", T_BOOL, offsetof(MatchObject, timeout), READONLY,
     "True for a partial match whose `within` window closed (Engine timeouts)"},
    {NULL, 0, 0, 0, NULL},
};

static PyTypeObject MatchType = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "cepheus.Match",
    .tp_basicsize = sizeof(MatchObject),
    .tp_dealloc = (destructor)Match_dealloc,
    .tp_repr = (reprfunc)Match_repr,
    .tp_flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_HAVE_GC,
    .tp_doc = "One completed match (read-only).",
    .tp_traverse = (traverseproc)Match_traverse,
    .tp_clear = (inquiry)Match_clear,
    .tp_members = Match_members,
};

/* ---- Engine: what the callbacks record ---------------------------------- */

/* A value copied out of the engine; string bytes live in the arena. */
typedef struct {
    cep_type type;
    union {
        int b;
        int64_t i;
        double d;
        struct {
            size_t off, len;
        } s;
    } u;
} cval;

typedef struct {
    size_t pattern;
    int timeout;             /* a timed-out partial match (on_timeout) */
    int64_t start, end;
    size_t nkey, key_at;     /* into vals */
    size_t nfield, field_at; /* into vals */
    size_t count_at;         /* into counts: one count per step */
    size_t tag_at;           /* into tags: the events of every step, in order */
} mrec;

typedef struct {
    uint64_t tag;
    int keep;
} tagop;

/* Names of one pattern, taken at its first match: the C strings belong to
 * the program; the Python strings are made once, under the GIL. */
typedef struct {
    int seen;
    size_t nsteps, nfields;
    const char **step_names, **field_names;
    PyObject *name;
    PyObject **step_keys, **field_keys;
} patcache;

typedef struct {
    PyObject_HEAD
    ProgramObject *program;
    cep_engine *eng;
    PyObject *time_key; /* interned str */
    PyObject *time_keys; /* tuple: the dict keys that lead to the time */
    long long max_delay;
    PyObject *on_match, *on_late; /* callables or NULL */
    PyObject *late;               /* list of late dicts not read yet */
    PyObject *timeouts;           /* list of timed-out partial matches not read yet */
    PyObject *on_timeout;         /* callable or NULL */
    PyObject *pending;            /* list of matches not returned/delivered yet */
    cep_event **pool;             /* CHUNK reusable rows */
    PyObject **held;              /* the dicts of the chunk being pushed */
    int busy;                     /* a method is running (maybe without the GIL) */
    int failed;                   /* a callback could not record: out of memory */
    int broken;                   /* reference bookkeeping lost: refuse to go on */
    /* Filled by the C callbacks, possibly without the GIL. */
    tagop *ops;
    size_t nops, capops;
    mrec *recs;
    size_t nrecs, caprecs;
    cval *vals;
    size_t nvals, capvals;
    size_t *counts;
    size_t ncounts, capcounts;
    uint64_t *tags;
    size_t ntags, captags;
    uint64_t *lates;
    size_t nlates, caplates;
    char *arena;
    size_t narena, caparena;
    patcache *pats;
    size_t npats;
} EngineObject;

static int rec_value(EngineObject *self, cep_value v) {
    if (grow((void **)&self->vals, &self->capvals, self->nvals + 1, sizeof(cval)) < 0) return -1;
    cval *c = &self->vals[self->nvals];
    c->type = v.type;
    switch (v.type) {
    case CEP_BOOL: c->u.b = v.u.b; break;
    case CEP_INT: c->u.i = v.u.i; break;
    case CEP_DOUBLE: c->u.d = v.u.d; break;
    case CEP_STRING:
        if (grow((void **)&self->arena, &self->caparena, self->narena + v.u.s.len + 1, 1) < 0)
            return -1;
        if (v.u.s.len) memcpy(self->arena + self->narena, v.u.s.ptr, v.u.s.len);
        c->u.s.off = self->narena;
        c->u.s.len = v.u.s.len;
        self->narena += v.u.s.len;
        break;
    default: c->type = CEP_NULL; break;
    }
    self->nvals++;
    return 0;
}

static patcache *pat_get(EngineObject *self, const cep_match *m) {
    size_t p = cep_match_pattern_index(m);
    if (p >= self->npats) return NULL;
    patcache *pc = &self->pats[p];
    if (pc->seen) return pc;
    /* Counted by name: cep_match_field_count is 0 on a timeout. */
    size_t ns = cep_match_step_count(m), nf = 0;
    while (cep_match_field_name(m, nf)) nf++;
    pc->step_names = PyMem_RawCalloc(ns + 1, sizeof(char *));
    pc->field_names = PyMem_RawCalloc(nf + 1, sizeof(char *));
    if (!pc->step_names || !pc->field_names) {
        PyMem_RawFree(pc->step_names);
        PyMem_RawFree(pc->field_names);
        pc->step_names = pc->field_names = NULL;
        return NULL;
    }
    for (size_t i = 0; i < ns; i++) pc->step_names[i] = cep_match_step_name(m, i);
    for (size_t i = 0; i < nf; i++) pc->field_names[i] = cep_match_field_name(m, i);
    pc->nsteps = ns;
    pc->nfields = nf;
    pc->seen = 1;
    return pc;
}

/* The match callback: copy what the Match object needs; no Python here. */
static int record_match(void *ud, const cep_match *m) {
    EngineObject *self = ud;
    if (self->failed) return 1;
    patcache *pc = pat_get(self, m);
    if (!pc) goto oom;
    mrec r;
    r.pattern = cep_match_pattern_index(m);
    r.timeout = cep_match_is_timeout(m) != 0;
    r.start = cep_match_start(m);
    r.end = cep_match_end(m);
    r.nkey = cep_match_key_count(m);
    r.key_at = self->nvals;
    for (size_t i = 0; i < r.nkey; i++)
        if (rec_value(self, cep_match_key(m, i)) < 0) goto oom;
    r.nfield = r.timeout ? 0 : pc->nfields;
    r.field_at = self->nvals;
    for (size_t i = 0; i < r.nfield; i++)
        if (rec_value(self, cep_match_field(m, i)) < 0) goto oom;
    r.count_at = self->ncounts;
    r.tag_at = self->ntags;
    if (grow((void **)&self->counts, &self->capcounts, self->ncounts + pc->nsteps,
             sizeof(size_t)) < 0)
        goto oom;
    for (size_t s = 0; s < pc->nsteps; s++) {
        size_t n = cep_match_event_count(m, s);
        self->counts[self->ncounts++] = n;
        if (grow((void **)&self->tags, &self->captags, self->ntags + n, sizeof(uint64_t)) < 0)
            goto oom;
        for (size_t i = 0; i < n; i++)
            self->tags[self->ntags++] = cep_event_tag(cep_match_event(m, s, i));
    }
    if (grow((void **)&self->recs, &self->caprecs, self->nrecs + 1, sizeof(mrec)) < 0) goto oom;
    self->recs[self->nrecs++] = r;
    return 0;
oom:
    self->failed = 1;
    return 1;
}

static int record_late(void *ud, const cep_event *ev) {
    EngineObject *self = ud;
    if (self->failed) return 1;
    if (grow((void **)&self->lates, &self->caplates, self->nlates + 1, sizeof(uint64_t)) < 0) {
        self->failed = 1;
        return 1;
    }
    self->lates[self->nlates++] = cep_event_tag(ev);
    return 0;
}

/* Keep/drop of a pushed dict. Once a record is lost, nothing more is
 * recorded: the ops kept are a consistent prefix (every drop follows its
 * keep), so applying them can leak but never free a dict still in use. */
static void record_tag(void *ud, uint64_t tag, int keep) {
    EngineObject *self = ud;
    if (self->failed) return;
    if (grow((void **)&self->ops, &self->capops, self->nops + 1, sizeof(tagop)) < 0) {
        self->failed = 1;
        return;
    }
    self->ops[self->nops].tag = tag;
    self->ops[self->nops].keep = keep;
    self->nops++;
}

/* ---- Engine: turning records into Python objects (GIL held) ------------- */

static PyObject *cval_to_py(EngineObject *self, const cval *c) {
    switch (c->type) {
    case CEP_BOOL: return PyBool_FromLong(c->u.b);
    case CEP_INT: return PyLong_FromLongLong(c->u.i);
    case CEP_DOUBLE: return PyFloat_FromDouble(c->u.d);
    case CEP_STRING:
        return PyUnicode_DecodeUTF8(self->arena + c->u.s.off, (Py_ssize_t)c->u.s.len,
                                    "replace");
    default: Py_RETURN_NONE;
    }
}

static PyObject *tag_to_py(uint64_t tag) {
    PyObject *o = tag ? (PyObject *)(uintptr_t)tag : Py_None;
    return Py_NewRef(o);
}

static int pat_names(patcache *pc, const char *pattern_name) {
    if (pc->name) return 0;
    pc->step_keys = PyMem_Calloc(pc->nsteps + 1, sizeof(PyObject *));
    pc->field_keys = PyMem_Calloc(pc->nfields + 1, sizeof(PyObject *));
    if (!pc->step_keys || !pc->field_keys) goto fail;
    for (size_t i = 0; i < pc->nsteps; i++) {
        pc->step_keys[i] = utf8(pc->step_names[i]);
        if (!pc->step_keys[i]) goto fail;
        PyUnicode_InternInPlace(&pc->step_keys[i]);
    }
    for (size_t i = 0; i < pc->nfields; i++) {
        pc->field_keys[i] = utf8(pc->field_names[i]);
        if (!pc->field_keys[i]) goto fail;
        PyUnicode_InternInPlace(&pc->field_keys[i]);
    }
    pc->name = utf8(pattern_name);
    if (!pc->name) goto fail;
    PyUnicode_InternInPlace(&pc->name);
    return 0;
fail:
    if (pc->step_keys)
        for (size_t i = 0; i < pc->nsteps; i++) Py_CLEAR(pc->step_keys[i]);
    if (pc->field_keys)
        for (size_t i = 0; i < pc->nfields; i++) Py_CLEAR(pc->field_keys[i]);
    PyMem_Free(pc->step_keys);
    PyMem_Free(pc->field_keys);
    pc->step_keys = pc->field_keys = NULL;
    if (!PyErr_Occurred()) PyErr_NoMemory();
    return -1;
}

static PyObject *build_match(EngineObject *self, const mrec *r) {
    patcache *pc = &self->pats[r->pattern];
    if (pat_names(pc, cep_program_pattern_name(self->program->prog, r->pattern)) < 0)
        return NULL;
    MatchObject *m = PyObject_GC_New(MatchObject, &MatchType);
    if (!m) return NULL;
    m->pattern = Py_NewRef(pc->name);
    m->key = m->events = m->fields = NULL;
    m->start = r->start;
    m->end = r->end;
    m->timeout = (char)r->timeout;
    if (r->nkey == 0) {
        m->key = Py_NewRef(Py_None);
    } else if (r->nkey == 1) {
        m->key = cval_to_py(self, &self->vals[r->key_at]);
    } else if ((m->key = PyTuple_New((Py_ssize_t)r->nkey))) {
        for (size_t i = 0; i < r->nkey; i++) {
            PyObject *v = cval_to_py(self, &self->vals[r->key_at + i]);
            if (!v) goto fail;
            PyTuple_SET_ITEM(m->key, (Py_ssize_t)i, v);
        }
    }
    if (!m->key) goto fail;
    if (!(m->events = PyDict_New())) goto fail;
    size_t t = r->tag_at;
    for (size_t s = 0; s < pc->nsteps; s++) {
        size_t n = self->counts[r->count_at + s];
        PyObject *list = PyList_New((Py_ssize_t)n);
        if (!list) goto fail;
        for (size_t i = 0; i < n; i++) PyList_SET_ITEM(list, (Py_ssize_t)i, tag_to_py(self->tags[t++]));
        int rc = PyDict_SetItem(m->events, pc->step_keys[s], list);
        Py_DECREF(list);
        if (rc < 0) goto fail;
    }
    if (!(m->fields = PyDict_New())) goto fail;
    for (size_t i = 0; i < r->nfield; i++) {
        PyObject *v = cval_to_py(self, &self->vals[r->field_at + i]);
        if (!v) goto fail;
        int rc = PyDict_SetItem(m->fields, pc->field_keys[i], v);
        Py_DECREF(v);
        if (rc < 0) goto fail;
    }
    PyObject_GC_Track(m);
    return (PyObject *)m;
fail:
    Py_XDECREF(m->pattern);
    Py_XDECREF(m->key);
    Py_XDECREF(m->events);
    Py_XDECREF(m->fields);
    PyObject_GC_Del(m);
    return NULL;
}

/* Apply the recorded keeps and drops, in order. */
static void apply_ops(EngineObject *self) {
    size_t n = self->nops;
    self->nops = 0;
    for (size_t i = 0; i < n; i++) {
        PyObject *o = (PyObject *)(uintptr_t)self->ops[i].tag;
        if (self->ops[i].keep)
            Py_INCREF(o);
        else
            Py_DECREF(o);
    }
}

/* After an engine call: matches into pending, late dicts into late, then
 * the keeps and drops (after, so that a dict dropped by the engine in this
 * call is still alive while its match is built). Returns -1 with an
 * exception set on failure; the records are consumed either way. */
static int collect(EngineObject *self) {
    int rc = 0;
    for (size_t i = 0; i < self->nrecs && rc == 0; i++) {
        PyObject *m = build_match(self, &self->recs[i]);
        PyObject *to = self->recs[i].timeout ? self->timeouts : self->pending;
        if (!m || PyList_Append(to, m) < 0) rc = -1;
        Py_XDECREF(m);
    }
    for (size_t i = 0; i < self->nlates && rc == 0; i++) {
        PyObject *o = tag_to_py(self->lates[i]);
        if (PyList_Append(self->late, o) < 0) rc = -1;
        Py_DECREF(o);
    }
    self->nrecs = self->nvals = self->ncounts = self->ntags = self->nlates = self->narena = 0;
    apply_ops(self);
    if (self->failed) {
        /* Bookkeeping of the pushed dicts is incomplete from here on. */
        self->broken = 1;
        if (rc == 0) PyErr_NoMemory();
        rc = -1;
    }
    return rc;
}

/* Hand pending matches / late events to the callbacks, oldest first. On an
 * exception the ones not yet handed over stay queued for the next call. */
static int deliver(PyObject *list, PyObject *fn) {
    /* Held: a callback may read engine.late, which swaps the list out. */
    Py_INCREF(list);
    Py_INCREF(fn);
    Py_ssize_t n = PyList_GET_SIZE(list), i = 0;
    int rc = 0;
    while (i < n) {
        PyObject *item = Py_NewRef(PyList_GET_ITEM(list, i));
        i++;
        PyObject *res = PyObject_CallOneArg(fn, item);
        Py_DECREF(item);
        if (!res) {
            rc = -1;
            break;
        }
        Py_DECREF(res);
    }
    if (PyList_SetSlice(list, 0, i, NULL) < 0) rc = -1;
    Py_DECREF(fn);
    Py_DECREF(list);
    return rc;
}

static int deliver_all(EngineObject *self) {
    if (self->on_match && PyList_GET_SIZE(self->pending) && deliver(self->pending, self->on_match) < 0)
        return -1;
    if (self->on_late && PyList_GET_SIZE(self->late) && deliver(self->late, self->on_late) < 0)
        return -1;
    if (self->on_timeout && PyList_GET_SIZE(self->timeouts) &&
        deliver(self->timeouts, self->on_timeout) < 0)
        return -1;
    return 0;
}

/* The matches to return from a call: the pending list (empty when an
 * on_match callback took them). */
static PyObject *take_pending(EngineObject *self) {
    PyObject *fresh = PyList_New(0);
    if (!fresh) return NULL;
    PyObject *out = self->pending;
    self->pending = fresh;
    return out;
}

/* ---- Engine: events in -------------------------------------------------- */

static int enter(EngineObject *self) {
    if (!self->eng || !self->pending || !self->late || !self->timeouts) {
        PyErr_SetString(PyExc_ValueError, "engine is closed");
        return -1;
    }
    if (self->busy) {
        PyErr_SetString(PyExc_RuntimeError,
                        "engine is in use (by another thread, or from one of its callbacks)");
        return -1;
    }
    if (self->broken) {
        PyErr_SetString(PyExc_RuntimeError, "engine unusable after running out of memory");
        return -1;
    }
    self->busy = 1;
    return 0;
}

static void field_error(PyObject *exc, Py_ssize_t idx, PyObject *field, const char *what,
                        PyObject *obj) {
    if (idx >= 0)
        PyErr_Format(exc, "event %zd: field %R: %s%s%.100s", idx, field, what, obj ? " " : "",
                     obj ? Py_TYPE(obj)->tp_name : "");
    else
        PyErr_Format(exc, "field %R: %s%s%.100s", field, what, obj ? " " : "",
                     obj ? Py_TYPE(obj)->tp_name : "");
}

static int parse_time(PyObject *v, int64_t *ms);

static int set_value(cep_event *ev, int slot, PyObject *v, PyObject *field, Py_ssize_t idx) {
    if (v == Py_None) return cep_event_set_null(ev, slot);
    if (PyDateTime_Check(v)) {
        /* A datetime reads as milliseconds since the epoch, as the time does. */
        int64_t ms;
        if (parse_time(v, &ms) < 0) {
            field_error(PyExc_ValueError, idx, field, "datetime out of range", NULL);
            return -1;
        }
        return cep_event_set_int(ev, slot, ms);
    }
    if (PyUnicode_Check(v)) {
        Py_ssize_t len;
        const char *s = PyUnicode_AsUTF8AndSize(v, &len);
        if (!s) {
            PyErr_Clear();
            field_error(PyExc_ValueError, idx, field, "string cannot be encoded as UTF-8", NULL);
            return -1;
        }
        return cep_event_set_string(ev, slot, s, (size_t)len);
    }
    if (PyBool_Check(v)) return cep_event_set_bool(ev, slot, v == Py_True);
    if (PyFloat_Check(v)) return cep_event_set_double(ev, slot, PyFloat_AS_DOUBLE(v));
    if (PyLong_Check(v) || PyIndex_Check(v)) {
        PyObject *n = PyLong_Check(v) ? Py_NewRef(v) : PyNumber_Index(v);
        if (!n) return -1;
        int overflow;
        long long i = PyLong_AsLongLongAndOverflow(n, &overflow);
        if (!overflow) {
            Py_DECREF(n);
            if (i == -1 && PyErr_Occurred()) return -1;
            return cep_event_set_int(ev, slot, i);
        }
        /* Beyond int64: a double, as the JSON reader does. */
        double d = PyLong_AsDouble(n);
        Py_DECREF(n);
        if (d == -1.0 && PyErr_Occurred()) {
            PyErr_Clear();
            field_error(PyExc_ValueError, idx, field, "integer too large", NULL);
            return -1;
        }
        return cep_event_set_double(ev, slot, d);
    }
    field_error(PyExc_TypeError, idx, field,
                "expected int, float, str, bool or None, not", v);
    return -1;
}

/* Event time from an int (ms), an integral float, an RFC 3339 str or a
 * datetime (naive: taken as UTC), milliseconds truncated toward the past. */
static int parse_time(PyObject *v, int64_t *ms) {
    if (PyDateTime_Check(v)) {
        PyObject *off = PyObject_CallMethod(v, "utcoffset", NULL);
        if (!off) {
            PyErr_Clear();
            return -1;
        }
        long long days = 0, secs = 0, us = 0;
        if (PyDelta_Check(off)) {
            days = PyDateTime_DELTA_GET_DAYS(off);
            secs = PyDateTime_DELTA_GET_SECONDS(off);
            us = PyDateTime_DELTA_GET_MICROSECONDS(off);
        }
        Py_DECREF(off);
        /* Days since 1970-01-01 of the proleptic Gregorian date (Howard
         * Hinnant's days_from_civil). */
        long long y = PyDateTime_GET_YEAR(v), m = PyDateTime_GET_MONTH(v), d = PyDateTime_GET_DAY(v);
        y -= m <= 2;
        long long era = (y >= 0 ? y : y - 399) / 400, yoe = y - era * 400;
        long long doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
        long long doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
        long long day = era * 146097 + doe - 719468;
        long long t_us = ((day * 86400 + PyDateTime_DATE_GET_HOUR(v) * 3600LL + PyDateTime_DATE_GET_MINUTE(v) * 60LL +
                           PyDateTime_DATE_GET_SECOND(v)) -
                          (days * 86400 + secs)) * 1000000LL +
                         PyDateTime_DATE_GET_MICROSECOND(v) - us;
        *ms = t_us >= 0 ? t_us / 1000 : -((-t_us + 999) / 1000);
        return 0;
    }
    if (PyUnicode_Check(v)) {
        Py_ssize_t len;
        const char *s = PyUnicode_AsUTF8AndSize(v, &len);
        if (!s) {
            PyErr_Clear();
            return -1;
        }
        return cep_parse_time(s, (size_t)len, ms) == CEP_OK ? 0 : -1;
    }
    if (PyBool_Check(v)) return -1;
    if (PyLong_Check(v)) {
        int overflow;
        long long i = PyLong_AsLongLongAndOverflow(v, &overflow);
        if (overflow || (i == -1 && PyErr_Occurred())) {
            PyErr_Clear();
            return -1;
        }
        *ms = i;
        return 0;
    }
    if (PyFloat_Check(v)) {
        double d = PyFloat_AS_DOUBLE(v);
        if (d != trunc(d) || !(d >= -9223372036854775808.0 && d < 9223372036854775808.0))
            return -1;
        *ms = (int64_t)d;
        return 0;
    }
    return -1;
}

/* The value at keys in dict obj, through nested dicts (borrowed); NULL
 * when a key is missing or leads through something else (an error set
 * only when a lookup failed). */
static PyObject *dict_path(PyObject *obj, PyObject *keys) {
    Py_ssize_t n = PyTuple_GET_SIZE(keys);
    PyObject *v = obj;
    for (Py_ssize_t i = 0; i < n; i++) {
        if (!PyDict_Check(v)) return NULL;
        v = PyDict_GetItemWithError(v, PyTuple_GET_ITEM(keys, i));
        if (!v) return NULL;
    }
    return v;
}

/* Why t is not an event time: a str that is not RFC 3339, an int out of
 * range or a float with a fraction is of a right type with a wrong value,
 * and the message shows the value. */
static void time_error(Py_ssize_t idx, PyObject *field, PyObject *t) {
    const char *why = NULL;
    if (PyUnicode_Check(t)) why = "is not an RFC 3339 time with a zone (e.g. \"2024-01-01T00:00:00Z\")";
    else if (PyLong_Check(t) && !PyBool_Check(t)) why = "is out of range (64-bit milliseconds)";
    else if (PyFloat_Check(t)) why = "is not whole milliseconds";
    PyObject *shown = why ? PyObject_Repr(t) : NULL;
    const char *text = shown ? PyUnicode_AsUTF8(shown) : NULL;
    if (!text) {
        PyErr_Clear();
        field_error(PyExc_ValueError, idx, field,
                    "event time must be int milliseconds, an RFC 3339 string or a datetime, not", t);
    } else if (idx >= 0) {
        PyErr_Format(PyExc_ValueError, "event %zd: field %R: event time %.100s %s", idx, field, text, why);
    } else {
        PyErr_Format(PyExc_ValueError, "field %R: event time %.100s %s", field, text, why);
    }
    Py_XDECREF(shown);
}

/* Fill row ev from dict obj: one lookup per program field and level. */
static int fill_event(EngineObject *self, cep_event *ev, PyObject *obj, Py_ssize_t idx) {
    if (!PyDict_Check(obj)) {
        if (idx >= 0)
            PyErr_Format(PyExc_TypeError, "event %zd: an event must be a dict, not %.100s", idx,
                         Py_TYPE(obj)->tp_name);
        else
            PyErr_Format(PyExc_TypeError, "an event must be a dict, not %.100s",
                         Py_TYPE(obj)->tp_name);
        return -1;
    }
    PyObject *fields = self->program->fields, *paths = self->program->paths;
    Py_ssize_t n = PyTuple_GET_SIZE(fields);
    for (Py_ssize_t slot = 0; slot < n; slot++) {
        PyObject *key = PyTuple_GET_ITEM(fields, slot);
        PyObject *v = dict_path(obj, PyTuple_GET_ITEM(paths, slot));
        int rc;
        if (v && PyDict_Check(v) && self->program->inner[slot]) v = NULL; /* read whole: None */
        if (!v) {
            if (PyErr_Occurred()) return -1;
            rc = cep_event_set_null(ev, (int)slot);
        } else {
            rc = set_value(ev, (int)slot, v, key, idx);
            if (rc == -1 && PyErr_Occurred()) return -1;
        }
        if (rc != CEP_OK) {
            raise_code(rc, NULL);
            return -1;
        }
    }
    PyObject *t = dict_path(obj, self->time_keys);
    int64_t ms;
    if (!t) {
        if (PyErr_Occurred()) return -1;
        field_error(PyExc_ValueError, idx, self->time_key, "missing event time", NULL);
        return -1;
    }
    if (parse_time(t, &ms) < 0) {
        time_error(idx, self->time_key, t);
        return -1;
    }
    cep_event_set_time(ev, ms);
    cep_event_set_tag(ev, (uint64_t)(uintptr_t)obj);
    return 0;
}

static int ensure_pool(EngineObject *self) {
    if (self->pool) return 0;
    cep_event **pool = PyMem_Calloc(CHUNK, sizeof *pool);
    PyObject **held = PyMem_Calloc(CHUNK, sizeof *held);
    if (!pool || !held) goto oom;
    for (size_t i = 0; i < CHUNK; i++) {
        int rc = cep_event_new(self->program->prog, &pool[i]);
        if (rc != CEP_OK) {
            for (size_t k = 0; k < i; k++) cep_event_free(pool[k]);
            goto oom;
        }
    }
    self->pool = pool;
    self->held = held;
    return 0;
oom:
    PyMem_Free(pool);
    PyMem_Free(held);
    PyErr_NoMemory();
    return -1;
}

/* Push pool[0..n) (filled from held[0..n)), then collect. The GIL is
 * released around the engine calls when release is set. */
static int push_rows(EngineObject *self, size_t n, int release) {
    int rc = CEP_OK;
    const cep_event *const *rows = (const cep_event *const *)self->pool;
    if (release) {
        Py_BEGIN_ALLOW_THREADS
        rc = cep_engine_push_many(self->eng, rows, n, NULL);
        Py_END_ALLOW_THREADS
    } else {
        rc = cep_engine_push_many(self->eng, rows, n, NULL);
    }
    int crc = collect(self);
    for (size_t i = 0; i < n; i++) Py_CLEAR(self->held[i]);
    if (crc < 0) return -1;
    if (rc != CEP_OK) {
        raise_code(rc, cep_engine_error(self->eng));
        return -1;
    }
    return 0;
}

static PyObject *Engine_push(EngineObject *self, PyObject *event) {
    if (enter(self) < 0) return NULL;
    PyObject *out = NULL;
    if (ensure_pool(self) < 0 || fill_event(self, self->pool[0], event, -1) < 0) goto done;
    self->held[0] = Py_NewRef(event);
    if (push_rows(self, 1, 0) < 0 || deliver_all(self) < 0) goto done;
    out = take_pending(self);
done:
    self->busy = 0;
    return out;
}

static PyObject *Engine_push_many(EngineObject *self, PyObject *events) {
    if (enter(self) < 0) return NULL;
    PyObject *out = NULL, *it = NULL;
    int is_seq = PyList_CheckExact(events) || PyTuple_CheckExact(events);
    Py_ssize_t pos = 0; /* next index in a list or tuple, and the event number */
    if (ensure_pool(self) < 0) goto done;
    if (!is_seq && !(it = PyObject_GetIter(events))) goto done;
    for (;;) {
        size_t n = 0;
        int err = 0, end = 0;
        while (n < CHUNK) {
            PyObject *item;
            if (is_seq) {
                /* Re-read the size: a callback may have changed the list. */
                if (pos >= PySequence_Fast_GET_SIZE(events)) {
                    end = 1;
                    break;
                }
                item = Py_NewRef(PySequence_Fast_GET_ITEM(events, pos));
            } else if (!(item = PyIter_Next(it))) {
                if (PyErr_Occurred()) err = 1;
                end = 1;
                break;
            }
            if (fill_event(self, self->pool[n], item, pos) < 0) {
                Py_DECREF(item);
                err = 1;
                break;
            }
            self->held[n++] = item;
            pos++;
        }
        /* Events before a bad one are still pushed; then the error is raised. */
        if (n) {
            PyObject *et, *ev, *tb;
            PyErr_Fetch(&et, &ev, &tb);
            int rc = push_rows(self, n, 1);
            if (rc == 0) rc = deliver_all(self);
            if (rc < 0) {
                Py_XDECREF(et);
                Py_XDECREF(ev);
                Py_XDECREF(tb);
                goto done;
            }
            PyErr_Restore(et, ev, tb);
        }
        if (err) goto done;
        if (end) break;
    }
    out = take_pending(self);
done:
    Py_XDECREF(it);
    self->busy = 0;
    return out;
}

static PyObject *Engine_advance_watermark(EngineObject *self, PyObject *ts) {
    int64_t ms;
    if (parse_time(ts, &ms) < 0) {
        PyErr_Format(PyExc_ValueError,
                     "watermark must be int milliseconds or an RFC 3339 string, not %R", ts);
        return NULL;
    }
    if (enter(self) < 0) return NULL;
    PyObject *out = NULL;
    int rc;
    Py_BEGIN_ALLOW_THREADS
    rc = cep_engine_advance_watermark(self->eng, ms);
    Py_END_ALLOW_THREADS
    if (collect(self) == 0) {
        if (rc != CEP_OK)
            raise_code(rc, cep_engine_error(self->eng));
        else if (deliver_all(self) == 0)
            out = take_pending(self);
    }
    self->busy = 0;
    return out;
}

static PyObject *Engine_finish(EngineObject *self, PyObject *unused) {
    (void)unused;
    if (enter(self) < 0) return NULL;
    PyObject *out = NULL;
    int rc;
    Py_BEGIN_ALLOW_THREADS
    rc = cep_engine_finish(self->eng);
    Py_END_ALLOW_THREADS
    if (collect(self) == 0) {
        if (rc != CEP_OK)
            raise_code(rc, cep_engine_error(self->eng));
        else if (deliver_all(self) == 0)
            out = take_pending(self);
    }
    self->busy = 0;
    return out;
}

/* ---- Engine: life cycle ------------------------------------------------- */

static void free_records(EngineObject *self) {
    PyMem_RawFree(self->ops);
    PyMem_RawFree(self->recs);
    PyMem_RawFree(self->vals);
    PyMem_RawFree(self->counts);
    PyMem_RawFree(self->tags);
    PyMem_RawFree(self->lates);
    PyMem_RawFree(self->arena);
    self->ops = NULL;
    self->recs = NULL;
    self->vals = NULL;
    self->counts = NULL;
    self->tags = NULL;
    self->lates = NULL;
    self->arena = NULL;
    self->nops = self->nrecs = self->nvals = self->ncounts = self->ntags = self->nlates = 0;
    self->capops = self->caprecs = self->capvals = self->capcounts = self->captags = 0;
    self->caplates = self->narena = self->caparena = 0;
    for (size_t p = 0; p < self->npats; p++) {
        patcache *pc = &self->pats[p];
        if (pc->step_keys)
            for (size_t i = 0; i < pc->nsteps; i++) Py_XDECREF(pc->step_keys[i]);
        if (pc->field_keys)
            for (size_t i = 0; i < pc->nfields; i++) Py_XDECREF(pc->field_keys[i]);
        Py_XDECREF(pc->name);
        PyMem_Free(pc->step_keys);
        PyMem_Free(pc->field_keys);
        PyMem_RawFree(pc->step_names);
        PyMem_RawFree(pc->field_names);
    }
    PyMem_Free(self->pats);
    self->pats = NULL;
    self->npats = 0;
}

/* Free the C engine; it drops every dict it kept, which we then release. */
static void engine_close(EngineObject *self) {
    if (self->eng) {
        cep_engine_free(self->eng);
        self->eng = NULL;
        /* The records of an unfinished call are of no use now. */
        self->nrecs = self->nvals = self->ncounts = self->ntags = self->nlates = self->narena = 0;
        if (!self->broken) apply_ops(self);
        self->nops = 0;
    }
    if (self->pool) {
        for (size_t i = 0; i < CHUNK; i++) cep_event_free(self->pool[i]);
        PyMem_Free(self->pool);
        self->pool = NULL;
    }
    if (self->held) {
        for (size_t i = 0; i < CHUNK; i++) Py_CLEAR(self->held[i]);
        PyMem_Free(self->held);
        self->held = NULL;
    }
}

/* max_delay as the CLI's --max-delay takes it: int milliseconds or a
 * duration string ("500ms", "5s", "10m", "1h", "2d"); a timedelta too.
 * -1 with an exception set. */
static int delay_ms(PyObject *v, long long *out) {
    if (PyDelta_Check(v)) {
        /* In milliseconds: timedelta.max in microseconds is past 64 bits
         * (negative only when days are: seconds and microseconds are not). */
        long long ms = PyDateTime_DELTA_GET_DAYS(v) * 86400000LL + PyDateTime_DELTA_GET_SECONDS(v) * 1000LL +
                       PyDateTime_DELTA_GET_MICROSECONDS(v) / 1000;
        *out = ms;
        if (ms >= 0) return 0;
    } else if (PyUnicode_Check(v)) {
        static const struct { const char *unit; long long ms; } units[] = {
            {"ms", 1}, {"s", 1000}, {"m", 60000}, {"h", 3600000}, {"d", 86400000}};
        const char *s = PyUnicode_AsUTF8(v);
        if (!s) return -1;
        size_t nd = strspn(s, "0123456789");
        long long n = 0;
        for (size_t i = 0; i < nd && nd <= 18; i++) n = n * 10 + (s[i] - '0');
        if (nd > 0 && nd <= 18 && !s[nd]) {
            *out = n;
            return 0;
        }
        for (size_t i = 0; nd > 0 && nd <= 18 && i < sizeof units / sizeof units[0]; i++)
            if (strcmp(s + nd, units[i].unit) == 0 && n <= LLONG_MAX / units[i].ms) {
                *out = n * units[i].ms;
                return 0;
            }
        PyErr_Format(PyExc_ValueError,
                     "max_delay %R is not a duration: milliseconds, or an integer and one of ms, s, m, h, d "
                     "(e.g. \"5s\")", v);
        return -1;
    } else if (PyIndex_Check(v) && !PyBool_Check(v)) { /* int, numpy integers */
        PyObject *n = PyNumber_Index(v);
        if (!n) return -1;
        *out = PyLong_AsLongLong(n);
        Py_DECREF(n);
        if (*out == -1 && PyErr_Occurred()) return -1;
        if (*out >= 0) return 0;
    } else {
        PyErr_Format(PyExc_TypeError, "max_delay must be int milliseconds, a duration string such as \"5s\" "
                     "or a timedelta, not %.100s", Py_TYPE(v)->tp_name);
        return -1;
    }
    PyErr_SetString(PyExc_ValueError, "max_delay must be >= 0");
    return -1;
}

static int Engine_init(EngineObject *self, PyObject *args, PyObject *kw) {
    static char *kwlist[] = {"program",    "max_delay", "time_field", "on_match",
                             "on_late",    "on_timeout", "timeouts",   NULL};
    PyObject *program;
    long long max_delay = 0;
    PyObject *delay = NULL, *time_field = NULL, *on_match = Py_None, *on_late = Py_None, *on_timeout = Py_None;
    int want_timeouts = 0;
    if (!PyArg_ParseTupleAndKeywords(args, kw, "O!|OUOO$Op:Engine", kwlist, &ProgramType,
                                     &program, &delay, &time_field, &on_match, &on_late,
                                     &on_timeout, &want_timeouts))
        return -1;
    if (delay && delay_ms(delay, &max_delay) < 0) return -1;
    if (self->eng || self->busy || self->program) {
        PyErr_SetString(PyExc_RuntimeError, "Engine.__init__ called twice");
        return -1;
    }
    if (max_delay < 0) {
        PyErr_SetString(PyExc_ValueError, "max_delay must be >= 0");
        return -1;
    }
    if ((on_match != Py_None && !PyCallable_Check(on_match)) ||
        (on_late != Py_None && !PyCallable_Check(on_late)) ||
        (on_timeout != Py_None && !PyCallable_Check(on_timeout))) {
        PyErr_SetString(PyExc_TypeError,
                        "on_match, on_late and on_timeout must be callable or None");
        return -1;
    }
    ProgramObject *prog = (ProgramObject *)program;
    const char *tf = CEP_DEFAULT_TIME_FIELD;
    if (time_field && !(tf = PyUnicode_AsUTF8(time_field))) return -1;
    PyObject *tkeys = time_path(tf); /* a ValueError for a malformed path */
    if (!tkeys) return -1;

    cep_engine *eng;
    int rc = cep_engine_new(prog->prog, &eng);
    if (rc != CEP_OK) {
        Py_DECREF(tkeys);
        raise_code(rc, NULL);
        return -1;
    }
    if ((rc = cep_engine_set_max_delay(eng, max_delay)) != CEP_OK ||
        (rc = cep_engine_set_time_field(eng, tf)) != CEP_OK) {
        cep_engine_free(eng);
        Py_DECREF(tkeys);
        raise_code(rc, NULL);
        return -1;
    }
    size_t np = cep_program_pattern_count(prog->prog);
    patcache *pats = PyMem_Calloc(np + 1, sizeof *pats);
    PyObject *tk = time_field ? Py_NewRef(time_field) : PyUnicode_FromString(CEP_DEFAULT_TIME_FIELD);
    PyObject *late = PyList_New(0), *pending = PyList_New(0), *timeouts = PyList_New(0);
    if (!pats || !tk || !late || !pending || !timeouts) {
        cep_engine_free(eng);
        PyMem_Free(pats);
        Py_XDECREF(tk);
        Py_XDECREF(tkeys);
        Py_XDECREF(late);
        Py_XDECREF(pending);
        Py_XDECREF(timeouts);
        if (!PyErr_Occurred()) PyErr_NoMemory();
        return -1;
    }
    PyUnicode_InternInPlace(&tk);
    cep_engine_on_match(eng, record_match, self);
    cep_engine_on_late(eng, record_late, self);
    cep_engine_on_tag(eng, record_tag, self);
    /* Timed-out partial matches only when asked for: with `within`, most
     * partial matches end that way, and nobody may read them. */
    if (want_timeouts || on_timeout != Py_None) cep_engine_on_timeout(eng, record_match, self);
    self->eng = eng;
    self->pats = pats;
    self->npats = np;
    self->program = (ProgramObject *)Py_NewRef(program);
    self->time_key = tk;
    Py_XSETREF(self->time_keys, tkeys);
    self->max_delay = max_delay;
    self->on_match = on_match == Py_None ? NULL : Py_NewRef(on_match);
    self->on_late = on_late == Py_None ? NULL : Py_NewRef(on_late);
    self->on_timeout = on_timeout == Py_None ? NULL : Py_NewRef(on_timeout);
    self->late = late;
    self->pending = pending;
    self->timeouts = timeouts;
    return 0;
}

static int Engine_traverse(EngineObject *self, visitproc visit, void *arg) {
    Py_VISIT(self->program);
    Py_VISIT(self->on_match);
    Py_VISIT(self->on_late);
    Py_VISIT(self->late);
    Py_VISIT(self->pending);
    Py_VISIT(self->on_timeout);
    Py_VISIT(self->timeouts);
    return 0;
}

static int Engine_clear(EngineObject *self) {
    Py_CLEAR(self->on_match);
    Py_CLEAR(self->on_late);
    Py_CLEAR(self->late);
    Py_CLEAR(self->pending);
    Py_CLEAR(self->on_timeout);
    Py_CLEAR(self->timeouts);
    return 0;
}

static void Engine_dealloc(EngineObject *self) {
    PyObject_GC_UnTrack(self);
    engine_close(self);
    free_records(self);
    Engine_clear(self);
    Py_CLEAR(self->time_key);
    Py_CLEAR(self->time_keys);
    Py_CLEAR(self->program);
    Py_TYPE(self)->tp_free((PyObject *)self);
}

static PyObject *Engine_close(EngineObject *self, PyObject *unused) {
    (void)unused;
    if (self->busy) {
        PyErr_SetString(PyExc_RuntimeError, "engine is in use");
        return NULL;
    }
    engine_close(self);
    Py_RETURN_NONE;
}

static PyObject *Engine_enter(EngineObject *self, PyObject *unused) {
    (void)unused;
    if (!self->eng) {
        PyErr_SetString(PyExc_ValueError, "engine is closed");
        return NULL;
    }
    return Py_NewRef(self);
}

static PyObject *Engine_exit(EngineObject *self, PyObject *args) {
    (void)args;
    return Engine_close(self, NULL);
}

static PyObject *Engine_get_stats(EngineObject *self, void *closure) {
    (void)closure;
    cep_stats s;
    cep_engine_stats(self->eng, &s); /* zeros when closed */
    PyObject *wm = s.watermark == INT64_MIN || !self->eng ? Py_NewRef(Py_None)
                                                          : PyLong_FromLongLong(s.watermark);
    if (!wm) return NULL;
    return Py_BuildValue("{s:K,s:K,s:K,s:K,s:K,s:K,s:K,s:K,s:N}", "events",
                         (unsigned long long)s.events, "matches", (unsigned long long)s.matches,
                         "late", (unsigned long long)s.late, "timeouts",
                         (unsigned long long)s.timeouts, "partial_matches",
                         (unsigned long long)s.partial_matches, "peak_partial_matches",
                         (unsigned long long)s.peak_partial_matches, "keys",
                         (unsigned long long)s.keys, "buffered", (unsigned long long)s.buffered,
                         "watermark", wm);
}

static PyObject *Engine_get_late(EngineObject *self, void *closure) {
    (void)closure;
    if (!self->late) return PyList_New(0);
    PyObject *fresh = PyList_New(0);
    if (!fresh) return NULL;
    PyObject *out = self->late;
    self->late = fresh;
    return out;
}

static PyObject *Engine_get_timeouts(EngineObject *self, void *closure) {
    (void)closure;
    if (!self->timeouts) return PyList_New(0);
    PyObject *fresh = PyList_New(0);
    if (!fresh) return NULL;
    PyObject *out = self->timeouts;
    self->timeouts = fresh;
    return out;
}

static PyObject *Engine_get_program(EngineObject *self, void *closure) {
    (void)closure;
    return Py_NewRef(self->program ? (PyObject *)self->program : Py_None);
}

static PyObject *Engine_get_time_field(EngineObject *self, void *closure) {
    (void)closure;
    return Py_NewRef(self->time_key ? self->time_key : Py_None);
}

static PyObject *Engine_get_max_delay(EngineObject *self, void *closure) {
    (void)closure;
    return PyLong_FromLongLong(self->max_delay);
}

static PyObject *Engine_get_closed(EngineObject *self, void *closure) {
    (void)closure;
    return PyBool_FromLong(self->eng == NULL);
}

static PyMethodDef Engine_methods[] = {
    {"push", (PyCFunction)Engine_push, METH_O,
     "push(event: dict) -> list of Match completed by it"},
    {"push_many", (PyCFunction)Engine_push_many, METH_O,
     "push_many(events: iterable of dict) -> list of Match; releases the GIL while the engine "
     "works"},
    {"advance_watermark", (PyCFunction)Engine_advance_watermark, METH_O,
     "advance_watermark(ts) -> list of Match: declare that no event older than ts will come"},
    {"finish", (PyCFunction)Engine_finish, METH_NOARGS,
     "finish() -> list of Match: end of input, flush everything"},
    {"close", (PyCFunction)Engine_close, METH_NOARGS,
     "close(): free the engine (does not finish it)"},
    {"__enter__", (PyCFunction)Engine_enter, METH_NOARGS, NULL},
    {"__exit__", (PyCFunction)Engine_exit, METH_VARARGS, "close the engine"},
    {NULL, NULL, 0, NULL},
};

static PyGetSetDef Engine_getset[] = {
    {"stats", (getter)Engine_get_stats, NULL, "counters as a dict", NULL},
    {"late", (getter)Engine_get_late, NULL,
     "late events (the dicts pushed) since the last read of this attribute", NULL},
    {"timeouts", (getter)Engine_get_timeouts, NULL,
     "timed-out partial matches since the last read (Engine(..., timeouts=True))", NULL},
    {"program", (getter)Engine_get_program, NULL, "the Program", NULL},
    {"time_field", (getter)Engine_get_time_field, NULL, "field holding event time", NULL},
    {"max_delay", (getter)Engine_get_max_delay, NULL, "bounded out-of-orderness (ms)", NULL},
    {"closed", (getter)Engine_get_closed, NULL, "True after close()", NULL},
    {NULL, NULL, NULL, NULL, NULL},
};

static PyTypeObject EngineType = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "cepheus._cepheus.Engine",
    .tp_basicsize = sizeof(EngineObject),
    .tp_dealloc = (destructor)Engine_dealloc,
    .tp_flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_BASETYPE | Py_TPFLAGS_HAVE_GC,
    .tp_doc = "Engine(program, max_delay=0, time_field='ts', on_match=None, on_late=None, *, "
               "on_timeout=None, timeouts=False)",
    .tp_traverse = (traverseproc)Engine_traverse,
    .tp_clear = (inquiry)Engine_clear,
    .tp_methods = Engine_methods,
    .tp_getset = Engine_getset,
    .tp_init = (initproc)Engine_init,
    .tp_new = PyType_GenericNew,
};

/* ---- module ------------------------------------------------------------- */

static PyObject *mod_parse_time(PyObject *mod, PyObject *arg) {
    (void)mod;
    int64_t ms;
    if (!PyUnicode_Check(arg)) {
        PyErr_Format(PyExc_TypeError, "parse_time() needs a str, not %.100s",
                     Py_TYPE(arg)->tp_name);
        return NULL;
    }
    if (parse_time(arg, &ms) < 0) {
        PyErr_Format(PyExc_ValueError, "%R is not an RFC 3339 date-time", arg);
        return NULL;
    }
    return PyLong_FromLongLong(ms);
}

static PyMethodDef module_methods[] = {
    {"compile", (PyCFunction)(void (*)(void))mod_compile, METH_VARARGS | METH_KEYWORDS,
     "compile(text, name='<string>') -> Program; raises PatternError"},
    {"parse_time", (PyCFunction)mod_parse_time, METH_O,
     "parse_time(text) -> int: an RFC 3339 date-time as epoch milliseconds"},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module_def = {
    PyModuleDef_HEAD_INIT, "cepheus._cepheus",
    "C core of the cepheus package (use `import cepheus`).", -1, module_methods,
    NULL, NULL, NULL, NULL,
};

PyMODINIT_FUNC PyInit__cepheus(void); /* for -Wmissing-prototypes */
PyMODINIT_FUNC PyInit__cepheus(void) {
    PyDateTime_IMPORT;
    if (!PyDateTimeAPI) return NULL;
    if (PyType_Ready(&ProgramType) < 0 || PyType_Ready(&MatchType) < 0 ||
        PyType_Ready(&EngineType) < 0)
        return NULL;
    if (!DiagnosticType.tp_name && PyStructSequence_InitType2(&DiagnosticType, &diag_desc) < 0)
        return NULL;
    PyObject *m = PyModule_Create(&module_def);
    if (!m) return NULL;
    if (!PatternError) {
        PatternError = PyErr_NewExceptionWithDoc(
            "cepheus.PatternError",
            "Pattern text has errors. str() is the rendered diagnostics (file:line:col, "
            "source line, caret); .diagnostics lists (code, line, column, message).",
            PyExc_ValueError, NULL);
        if (!PatternError) goto fail;
    }
    if (PyModule_AddObjectRef(m, "PatternError", PatternError) < 0 ||
        PyModule_AddObjectRef(m, "Program", (PyObject *)&ProgramType) < 0 ||
        PyModule_AddObjectRef(m, "Engine", (PyObject *)&EngineType) < 0 ||
        PyModule_AddObjectRef(m, "Match", (PyObject *)&MatchType) < 0 ||
        PyModule_AddObjectRef(m, "Diagnostic", (PyObject *)&DiagnosticType) < 0 ||
        PyModule_AddIntConstant(m, "CHUNK", CHUNK) < 0 ||
        PyModule_AddStringConstant(m, "library_version", CEP_VERSION) < 0)
        goto fail;
    return m;
fail:
    Py_DECREF(m);
    return NULL;
}
