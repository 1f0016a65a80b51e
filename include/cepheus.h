/* cepheus.h — the public C API of Cepheus, a complex event processing library.
 *
 * Pipeline: pattern text --cep_compile--> cep_program (immutable, shareable)
 *           cep_program --cep_engine_new--> cep_engine (all mutable state)
 *           events --cep_engine_push*--> matches delivered to callbacks.
 *
 * Conventions: every function returns CEP_OK (0) or a negative CEP_E* code
 * unless it says otherwise; every _free accepts NULL; "borrows" means the
 * callee keeps no reference after it returns, "takes" means the callee owns
 * it afterwards, "returns owned" means the caller must free it.
 */
#ifndef CEPHEUS_H
#define CEPHEUS_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#if defined(CEP_BUILDING_LIBRARY) && defined(__GNUC__)
#define CEP_API __attribute__((visibility("default")))
#else
#define CEP_API
#endif

/* The version, in one place: configure.ac reads these three lines
 * (build-aux/version.sh), so the package, the .pc file and the header
 * cannot disagree. CEP_VERSION_NUMBER is MAJOR*10000 + MINOR*100 + PATCH,
 * for #if. The library a program runs with may be newer than the header it
 * was compiled with: cep_version_number() tells which. */
#define CEP_VERSION_MAJOR 0
#define CEP_VERSION_MINOR 1
#define CEP_VERSION_PATCH 0
#define CEP_VERSION_STR_(x) #x
#define CEP_VERSION_STR(x) CEP_VERSION_STR_(x)
#define CEP_VERSION                                                        \
    CEP_VERSION_STR(CEP_VERSION_MAJOR) "." CEP_VERSION_STR(CEP_VERSION_MINOR) \
    "." CEP_VERSION_STR(CEP_VERSION_PATCH)
#define CEP_VERSION_NUMBER \
    (CEP_VERSION_MAJOR * 10000 + CEP_VERSION_MINOR * 100 + CEP_VERSION_PATCH)

/* Thread safety (docs/api.md section 12). A cep_program is immutable: any
 * number of engines on any number of threads may share it (user functions
 * it calls must then be thread-safe). A cep_engine, a cep_event and a
 * cep_pool are used by one thread at a time; different objects are
 * independent. An engine's callbacks run on the thread that called push /
 * advance / finish; a pool's on the caller's thread or its workers.
 * cep_compile may run on several threads at once, sharing a cep_compiler
 * while nobody adds functions to it. A cep_diag is read-only once returned.
 * cep_strerror, cep_err_name, cep_version and cep_parse_time may be called
 * from any thread; cep_set_allocator must come before everything else. */

/* The field the event time is read from unless told otherwise
 * (cep_engine_set_time_field, cep_event_parse_json, the CLI's
 * --time-field, the Python Engine's time_field). */
#define CEP_DEFAULT_TIME_FIELD "ts"

/* ---- Error codes ------------------------------------------------------ */

/* X(name, value, message): the one list of error codes. */
#define CEP_ERRORS(X)                                                        \
    X(CEP_OK, 0, "success")                                                  \
    X(CEP_ENOMEM, -1, "out of memory")                                       \
    X(CEP_EINVAL, -2, "invalid argument")                                    \
    X(CEP_EPATTERN, -3, "pattern text has errors")                           \
    X(CEP_EJSON, -4, "malformed JSON")                                       \
    X(CEP_ENOTOBJECT, -5, "event is not a JSON object")                      \
    X(CEP_ETIME, -6, "missing or invalid event time")                        \
    X(CEP_ERANGE, -7, "value out of range")                                  \
    X(CEP_ENOTFOUND, -8, "no such name")                                     \
    X(CEP_EFINISHED, -9, "engine already finished")                          \
    X(CEP_ECALLBACK, -10, "a callback asked to stop")                        \
    X(CEP_ETOODEEP, -11, "nesting too deep")                                \
    X(CEP_ELIMIT, -12, "partial-match limit reached")                       \
    X(CEP_EFORMAT, -13, "not a Cepheus snapshot, or an unsupported version") \
    X(CEP_ETRUNCATED, -14, "snapshot is truncated")                        \
    X(CEP_ECORRUPT, -15, "snapshot is corrupted")                          \
    X(CEP_EPROGRAM, -16, "snapshot was made by a different program")

enum cep_error {
#define CEP_ERROR_ENUM_(name, value, msg) name = value,
    CEP_ERRORS(CEP_ERROR_ENUM_)
#undef CEP_ERROR_ENUM_
};

/* Message for an error code; never NULL, static storage. */
CEP_API const char *cep_strerror(int code);
/* The code's name ("CEP_ENOMEM"), for logs and bindings; "CEP_EUNKNOWN" for a
 * value that is not in the list. Never NULL, static storage. */
CEP_API const char *cep_err_name(int code);

/* The library's version as a string ("0.1.0") and as a number (100 for
 * 0.1.0): the library's, which may differ from the header's CEP_VERSION. */
CEP_API const char *cep_version(void);
CEP_API int cep_version_number(void);

/* ---- Memory ------------------------------------------------------------ */

/* An embedding program's allocator, as SQLite's SQLITE_CONFIG_MALLOC: the
 * three functions behave like malloc, realloc and free (free is never given
 * NULL; a size is never 0), and get ud as their first argument. They may be
 * called from any thread that uses the library (a cep_pool's threads too),
 * so they must be thread-safe. */
typedef struct cep_allocator {
    void *(*alloc)(void *ud, size_t n);
    void *(*realloc)(void *ud, void *p, size_t n);
    void (*free)(void *ud, void *p);
    void *ud;
} cep_allocator;
/* Route every allocation of the library through *a (copied), or, with NULL,
 * back to the default (jemalloc when the program links it, else libc's
 * malloc). Call it before any other function of the library, while no
 * object of the library exists: a block must be freed by the allocator that
 * made it. CEP_EINVAL when a function is missing. Not thread-safe. */
CEP_API int cep_set_allocator(const cep_allocator *a);

/* ---- Values ------------------------------------------------------------ */

/* A field value. Transparent on purpose: it is the unit events are built
 * from. A string value borrows its bytes from whoever produced it. */
typedef enum cep_type {
    CEP_NULL = 0,
    CEP_BOOL,
    CEP_INT,
    CEP_DOUBLE,
    CEP_STRING
} cep_type;

typedef struct cep_value {
    cep_type type;
    union {
        int b;
        int64_t i;
        double d;
        struct {
            const char *ptr; /* not NUL-terminated in general */
            size_t len;
        } s;
    } u;
} cep_value;

/* ---- Diagnostics ------------------------------------------------------- */

typedef struct cep_diag cep_diag;

/* Compile error codes, stable across versions. */
#define CEP_DIAG_CODES(X)                                                    \
    X(CEP_DIAG_SYNTAX, 1, "syntax error")                                    \
    X(CEP_DIAG_LEX, 2, "invalid token")                                      \
    X(CEP_DIAG_NAME, 3, "unknown or duplicate name")                         \
    X(CEP_DIAG_ORDER, 4, "reference to a later step")                        \
    X(CEP_DIAG_TYPE, 5, "type error")                                        \
    X(CEP_DIAG_REGEX, 6, "invalid regular expression")                       \
    X(CEP_DIAG_RANGE, 7, "number out of range")                              \
    X(CEP_DIAG_STRUCTURE, 8, "invalid pattern structure")                    \
    X(CEP_DIAG_UNSUPPORTED, 9, "not supported yet")                          \
    X(CEP_DIAG_LIMIT, 10, "compiler limit exceeded")

/* Warning codes (cep_lint), stable across versions: X(code, value, name,
 * what it flags). The name is how the CLI's -W options spell it. */
#define CEP_DIAG_WARNINGS(X)                                                  \
    X(CEP_DIAG_W_UNBOUNDED, 101, "unbounded",                               \
      "relaxed contiguity without within: partial matches can live forever") \
    X(CEP_DIAG_W_COMBINATIONS, 102, "combinations",                         \
      "followedByAny or allowCombinations without within")                   \
    X(CEP_DIAG_W_NEVER_TRUE, 103, "never-true", "a condition that can never hold") \
    X(CEP_DIAG_W_SAME_CONDITION, 104, "same-condition",                     \
      "a step with the previous step's condition under followedByAny")       \
    X(CEP_DIAG_W_REGEX, 105, "regex",                                       \
      "a regex that can backtrack catastrophically or is a plain comparison") \
    X(CEP_DIAG_W_KEYLESS, 106, "keyless", "a pattern without key: one stream") \
    X(CEP_DIAG_W_SKIP_TARGET, 107, "skip-target",                           \
      "a skip target step that can never take an event")                    \
    X(CEP_DIAG_W_HYPHEN, 108, "hyphen",                                     \
      "name-name written without spaces: a subtraction, not a field name")

enum cep_diag_code {
#define CEP_DIAG_ENUM_(name, value, msg) name = value,
    CEP_DIAG_CODES(CEP_DIAG_ENUM_)
#undef CEP_DIAG_ENUM_
#define CEP_DIAG_WENUM_(code, value, name, what) code = value,
    CEP_DIAG_WARNINGS(CEP_DIAG_WENUM_)
#undef CEP_DIAG_WENUM_
};

enum cep_severity { CEP_SEVERITY_ERROR = 0, CEP_SEVERITY_WARNING = 1 };

/* Number of diagnostics held: the errors of cep_compile (0 for a clean
 * compile), or the warnings of cep_lint. At most CEP_DIAG_KEEP errors are
 * held (every warning is); cep_diag_total counts every one found, held or
 * not. */
#define CEP_DIAG_KEEP 1000
CEP_API size_t cep_diag_count(const cep_diag *d);
CEP_API size_t cep_diag_total(const cep_diag *d);
/* Accessors for error i (0-based, in source order). Out-of-range i gives
 * 0 / "" rather than crashing. Strings are owned by d. */
CEP_API int cep_diag_code(const cep_diag *d, size_t i);
CEP_API size_t cep_diag_offset(const cep_diag *d, size_t i); /* byte offset */
CEP_API int cep_diag_line(const cep_diag *d, size_t i);      /* 1-based */
CEP_API int cep_diag_column(const cep_diag *d, size_t i);    /* 1-based, in characters */
CEP_API const char *cep_diag_message(const cep_diag *d, size_t i);
/* Every error rendered as "NAME:LINE:COL: error: MESSAGE", the source line
 * (a window of 120 bytes around the caret when longer) and a caret line,
 * one after the other, the first 50 only, then "NAME: error: too many
 * errors: N more not shown (M in all)". Owned by d; "" when clean. */
CEP_API const char *cep_diag_render(const cep_diag *d);
CEP_API void cep_diag_free(cep_diag *d);
/* CEP_SEVERITY_ERROR or CEP_SEVERITY_WARNING (out-of-range i: error). */
CEP_API int cep_diag_severity(const cep_diag *d, size_t i);
/* The short name of a warning code ("unbounded", ...; the CLI's -W
 * options), "" for any other code. Static storage. */
CEP_API const char *cep_diag_code_name(int code);
/* Diagnostic i rendered alone, as cep_diag_render does, but as an error
 * when as_error is non-zero (a warning promoted by the caller). Returns
 * owned (cep_free), NULL on out-of-memory or out-of-range i. */
CEP_API char *cep_diag_render_one(const cep_diag *d, size_t i, int as_error);

/* ---- Compiling --------------------------------------------------------- */

typedef struct cep_program cep_program;
typedef struct cep_compiler cep_compiler;

/* A function callable from conditions, registered before compiling.
 * Gets argc borrowed arguments; writes its result to *out (a string result
 * must point to memory that stays valid until the next call of the same
 * function on the same thread, e.g. inside userdata). Returns CEP_OK or a
 * negative code; an error makes the call's value null. */
typedef int (*cep_function_fn)(void *userdata, int argc, const cep_value *argv,
                               cep_value *out);

/* A compiler holds registered functions; it can compile many programs. */
CEP_API int cep_compiler_new(cep_compiler **out);
CEP_API void cep_compiler_free(cep_compiler *c);
/* Register NAME taking exactly nargs arguments (-1: any number). NAME is
 * copied. Programs compiled later borrow fn and userdata: they must outlive
 * every program that calls them. CEP_EINVAL for a bad or built-in name. */
CEP_API int cep_compiler_add_function(cep_compiler *c, const char *name,
                                      int nargs, cep_function_fn fn,
                                      void *userdata);

/* Compile pattern text (len bytes, need not be NUL-terminated); name is used
 * in messages (e.g. the file name; NULL means "<string>"). On success
 * returns CEP_OK and *prog (owned). On pattern errors returns CEP_EPATTERN
 * and *prog = NULL. *diag (owned, may be NULL if diag is NULL) is set in
 * both cases: it lists every error found. c may be NULL (no functions). */
CEP_API int cep_compile(const cep_compiler *c, const char *text, size_t len,
                        const char *name, cep_program **prog, cep_diag **diag);
/* Longest pattern text cep_compile accepts (2 MiB: 10,000 rules of a few
 * lines each fit; docs/errors.md); longer text gets a
 * CEP_DIAG_LIMIT diagnostic. A reader of pattern files can stop at this
 * many bytes plus one. */
#define CEP_MAX_PATTERN_BYTES (2u << 20)
CEP_API void cep_program_free(cep_program *p);

/* Warnings: what compiles but is likely a mistake or costly (the list is
 * CEP_DIAG_WARNINGS; docs/language.md#warnings). Compiles text as
 * cep_compile does; when it compiles, returns CEP_OK and *diag (owned)
 * holds the warnings (severity CEP_SEVERITY_WARNING, rendered as
 * "NAME:LINE:COL: warning: MESSAGE [-WNAME]", line and caret); when it has
 * errors, CEP_EPATTERN and *diag holds the errors. Other failures as
 * cep_compile (*diag may then be NULL). */
CEP_API int cep_lint(const cep_compiler *c, const char *text, size_t len,
                     const char *name, cep_diag **diag);
/* cep_compile and cep_lint in one compile: on CEP_OK, *prog (owned) and
 * *diag (owned) the warnings cep_lint gives; on errors, CEP_EPATTERN,
 * *prog = NULL and *diag the errors, as cep_lint; other failures as
 * cep_lint, *prog = NULL (free *diag if not NULL). prog and diag must not
 * be NULL. (A tool that reports warnings compiles once, not twice.) */
CEP_API int cep_compile_lint(const cep_compiler *c, const char *text, size_t len,
                             const char *name, cep_program **prog, cep_diag **diag);

/* Pattern text in the canonical layout (docs/language.md#layout): one
 * clause or step per line, two spaces of indentation per level, single
 * spaces between tokens, comments kept; tokens are copied as written. Only
 * the syntax is checked (no names, functions or types). On CEP_OK, *out
 * (owned, free with cep_free) is the NUL-terminated text and *diag (owned,
 * if diag is not NULL) is empty; text with syntax errors gives CEP_EPATTERN
 * and the errors in *diag. Formatting is idempotent and never changes what
 * the text means: the result parses to the same tree, or CEP_EPATTERN. */
CEP_API int cep_format(const char *text, size_t len, const char *name,
                       char **out, cep_diag **diag);

/* A hash of everything that decides matching (patterns as parsed, field
 * slots, function names): equal programs have equal fingerprints. */
CEP_API uint64_t cep_program_fingerprint(const cep_program *p);
/* Patterns of a program, in file order. Names are owned by the program. */
CEP_API size_t cep_program_pattern_count(const cep_program *p);
CEP_API const char *cep_program_pattern_name(const cep_program *p, size_t i);
/* Hash of pattern i as parsed (comments and layout do not count), 0 when i
 * is out of range: a pattern with the same name and fingerprint in another
 * program keeps its state across cep_engine_replace_program. */
CEP_API uint64_t cep_program_pattern_fingerprint(const cep_program *p, size_t i);
/* Event fields the program reads: each has a slot number 0..count-1, which
 * is the index to use with cep_event_set_*. */
CEP_API size_t cep_program_field_count(const cep_program *p);
CEP_API const char *cep_program_field_name(const cep_program *p, size_t slot);
/* Slot of a field name, or CEP_ENOTFOUND if the program never reads it. */
CEP_API int cep_program_field_slot(const cep_program *p, const char *name);
/* Where the program first reads field slot: the index of the pattern
 * (*pattern) and the 1-based line of the pattern text (*line), either may
 * be NULL. For messages such as "field 'amout' (pattern p, line 3) was
 * present in none of N events". CEP_EINVAL for a slot out of range. */
CEP_API int cep_program_field_origin(const cep_program *p, size_t slot, size_t *pattern, int *line);
/* A field's path into the event: 1 part for a top-level field ("amount"),
 * one per object level for a nested one ("payload", "amount" for the field
 * named "payload.amount"). Part i is NUL-terminated and owned by the
 * program; NULL (and depth 0) out of range. cep_program_field_name gives
 * the path's text form: parts joined by '.', a part backquoted when it is
 * empty or holds '.', '[' or ']'. cep_program_field_slot accepts any
 * spelling of it (`amount` and amount are one field). */
CEP_API size_t cep_program_field_depth(const cep_program *p, size_t slot);
CEP_API const char *cep_program_field_part(const cep_program *p, size_t slot, size_t i);

/* The compiled NFA of every pattern as readable text (dot = 0) or as
 * Graphviz DOT (dot = 1). *out is returned owned: free it with cep_free. */
CEP_API int cep_program_explain(const cep_program *p, int dot, char **out);
/* Free memory the library returned to the caller. NULL is a no-op. */
CEP_API void cep_free(void *ptr);

/* ---- Events ------------------------------------------------------------ */

/* An event row: one value per program slot, plus its event time and,
 * optionally, its original text. Reusable: fill, push, clear, fill again. */
typedef struct cep_event cep_event;

CEP_API int cep_event_new(const cep_program *p, cep_event **out);
/* Frees an event made by cep_event_new; one handed out by a match or late
 * callback is the engine's: nothing happens. */
CEP_API void cep_event_free(cep_event *ev);
/* Reset every slot to null, forget time and raw text. */
CEP_API void cep_event_clear(cep_event *ev);
/* The event time; the engine also shows it to conditions as the time
 * field (see cep_engine_set_time_field), so nothing else needs setting. */
CEP_API int cep_event_set_time(cep_event *ev, int64_t ms);
/* Parse s[0..len) as an RFC 3339 date-time ("2023-11-14T22:13:20.5Z",
 * offset required) into milliseconds since the epoch, as the JSON reader
 * does for string times; for bindings whose events carry times as text.
 * CEP_OK, or CEP_ETIME when s is not a valid date-time (*ms untouched). */
CEP_API int cep_parse_time(const char *s, size_t len, int64_t *ms);
/* Setters copy their input. CEP_EINVAL for a slot out of range. */
CEP_API int cep_event_set_null(cep_event *ev, int slot);
CEP_API int cep_event_set_bool(cep_event *ev, int slot, int b);
CEP_API int cep_event_set_int(cep_event *ev, int slot, int64_t i);
CEP_API int cep_event_set_double(cep_event *ev, int slot, double d);
CEP_API int cep_event_set_string(cep_event *ev, int slot, const char *s,
                                 size_t len);
/* Original text carried along to matches (the CLI stores the JSON line). */
CEP_API int cep_event_set_raw(cep_event *ev, const char *text, size_t len);
/* Fill ev from one JSON object text. Fields the program reads go to their
 * slots, nested ones read through their objects (an object or array read
 * whole is null); the event time is read from time_field, a name or path
 * (integer milliseconds or an RFC 3339 string; NULL: "ts"; "" reads no
 * time, for processing time; CEP_EINVAL when it is no valid path). The
 * raw text is kept. Errors: CEP_EJSON, CEP_ENOTOBJECT, CEP_ETIME,
 * CEP_ERANGE, CEP_ETOODEEP, CEP_ENOMEM, CEP_EINVAL; then cep_event_error()
 * says why. */
CEP_API int cep_event_parse_json(cep_event *ev, const char *text, size_t len,
                                 const char *time_field);
/* Human-readable reason of the last failed parse; owned by ev. */
CEP_API const char *cep_event_error(const cep_event *ev);

/* An opaque number carried into the engine's stored copy of the event, e.g.
 * a handle to the host language's object (see cep_engine_on_tag). 0: none. */
CEP_API int cep_event_set_tag(cep_event *ev, uint64_t tag);
CEP_API uint64_t cep_event_tag(const cep_event *ev);

/* Read access, used on events handed out in matches and late callbacks.
 * The pointers stay valid only during the callback. */
CEP_API int64_t cep_event_time(const cep_event *ev);
CEP_API cep_value cep_event_value(const cep_event *ev, int slot);
CEP_API const char *cep_event_raw(const cep_event *ev, size_t *len);

/* ---- Matches ----------------------------------------------------------- */

typedef struct cep_match cep_match;

CEP_API const char *cep_match_pattern(const cep_match *m);
CEP_API size_t cep_match_pattern_index(const cep_match *m);
/* The key: one value per field of the pattern's `key` clause (0 without). */
CEP_API size_t cep_match_key_count(const cep_match *m);
CEP_API cep_value cep_match_key(const cep_match *m, size_t i);
CEP_API int64_t cep_match_start(const cep_match *m);
CEP_API int64_t cep_match_end(const cep_match *m);
/* Steps of the pattern in order; each lists the events it accepted. */
CEP_API size_t cep_match_step_count(const cep_match *m);
CEP_API const char *cep_match_step_name(const cep_match *m, size_t step);
CEP_API size_t cep_match_event_count(const cep_match *m, size_t step);
CEP_API const cep_event *cep_match_event(const cep_match *m, size_t step,
                                         size_t i);
/* 1 for a timed-out partial match (see cep_engine_on_timeout): its steps
 * hold the events accepted so far, end is the time of the last of them. */
CEP_API int cep_match_is_timeout(const cep_match *m);
/* `emit` fields (0 when the pattern has no emit clause; none on timeouts). */
CEP_API size_t cep_match_field_count(const cep_match *m);
CEP_API const char *cep_match_field_name(const cep_match *m, size_t i);
CEP_API cep_value cep_match_field(const cep_match *m, size_t i);

/* ---- Engine ------------------------------------------------------------ */

typedef struct cep_engine cep_engine;

/* Called for each match; m and everything reached from it are borrowed for
 * the duration of the call. Return 0 to go on, non-zero to make the pushing
 * call return CEP_ECALLBACK (the engine stays consistent). */
typedef int (*cep_match_fn)(void *userdata, const cep_match *m);
/* Called for each late event (older than the watermark); borrowed. */
typedef int (*cep_late_fn)(void *userdata, const cep_event *ev);

/* Called with keep = 1 when the engine starts keeping a copy of an event
 * whose tag is non-zero, and with keep = 0 when it drops that copy; every
 * keep is followed by exactly one drop, at the latest in cep_engine_free.
 * Lets bindings hold a reference to their own object while it is needed. */
typedef void (*cep_tag_fn)(void *userdata, uint64_t tag, int keep);

typedef struct cep_stats {
    uint64_t events;          /* events pushed and accepted for processing */
    uint64_t matches;         /* matches delivered */
    uint64_t late;            /* events older than the watermark (and the lateness) */
    uint64_t stragglers;      /* late events matched within the allowed lateness */
    uint64_t timeouts;        /* partial matches whose window closed */
    uint64_t partial_matches; /* partial matches alive now */
    uint64_t peak_partial_matches;
    uint64_t keys;            /* keys holding state now */
    uint64_t buffered;        /* events waiting for the watermark */
    uint64_t dropped;         /* partial matches dropped by the limit */
    uint64_t ttl_dropped;     /* partial matches dropped by the state TTL */
    uint64_t mem_dropped;     /* partial matches dropped by the memory limit */
    uint64_t memory;          /* bytes the engine holds for the stream now
                               * (what the memory limit bounds) */
    uint64_t nodes;           /* shared partial-match nodes alive now */
    uint64_t stored_events;   /* event copies the engine keeps now */
    uint64_t stored_bytes;    /* bytes of those copies */
    uint64_t pool_idle;       /* bytes the engine's own allocator holds free
                               * for reuse, by any block size (returned to
                               * the heap by cep_engine_free) */
    int64_t watermark;        /* INT64_MIN before the first event */
    uint64_t regex_errors;    /* regex matches stopped by PCRE2's match or
                               * depth limit (or invalid UTF-8): counted as
                               * no match */
    int64_t max_event_time;   /* the newest event time seen (INT64_MIN
                               * before the first event): max_event_time -
                               * watermark is how far the watermark trails */
    uint64_t mem_released;    /* buffered events run before the watermark
                               * reached them, by the memory limit; not kept
                               * in snapshots */
} cep_stats;

/* Borrows p: it must outlive the engine. */
CEP_API int cep_engine_new(const cep_program *p, cep_engine **out);
CEP_API void cep_engine_free(cep_engine *e);

/* Options; set before the first push (CEP_EINVAL afterwards). */
CEP_API int cep_engine_set_max_delay(cep_engine *e, int64_t ms);
/* What happens when a key would hold more partial matches than allowed. */
enum cep_limit_policy {
    CEP_LIMIT_DROP_OLDEST = 0, /* drop the earliest-started ones, count them */
    CEP_LIMIT_FAIL = 1         /* the same, and the push returns CEP_ELIMIT */
};
/* At most max partial matches per key of each pattern (0, the default:
 * unlimited). Bounds the blow-up of followedByAny, allowCombinations and
 * optional steps under noSkip; every drop is counted in stats.dropped. */
CEP_API int cep_engine_set_max_partial_matches(cep_engine *e, uint64_t max, int policy);
/* A budget for what the engine holds for the stream (stats.memory: stored
 * events, the out-of-order buffer included, partial matches and their
 * arrays, keys, the key table, timers, scratch). Before a key's partial
 * matches step over an event, partial matches are dropped until what the
 * step can add fits. After each call, while over it: buffered events run
 * early, earliest first, moving the watermark (stats.mem_released); then
 * partial matches are dropped, earliest first from the oldest keys
 * (stats.mem_dropped). FAIL does the same and makes the call return
 * CEP_ELIMIT. 0 (the default): no budget. The policy is shared with
 * cep_engine_set_max_partial_matches. docs/state.md, "The memory budget". */
CEP_API int cep_engine_set_memory_limit(cep_engine *e, uint64_t bytes, int policy);
/* Allowed lateness: an event behind the watermark by at most ms is still
 * matched, at once, where it can still change a result: it may start
 * partial matches and extend those whose last event is not later than it
 * (a match's events stay in time order); windows it opens that have already
 * closed time out at once. Beyond it an event is late. 0 (the default): every
 * event behind the watermark is late. Counted in stats.stragglers. */
CEP_API int cep_engine_set_allowed_lateness(cep_engine *e, int64_t ms);
/* State TTL: when a key of a pattern has seen no event for ms of event
 * time, its partial matches are dropped (counted in stats.ttl_dropped) and
 * the matches they held back are released. 0 (the default): no TTL. */
CEP_API int cep_engine_set_state_ttl(cep_engine *e, int64_t ms);
/* on 1: while every pattern of the running program has an `emit` clause,
 * the engine's stored copies of events keep no raw text: a match then
 * reports its fields, so the text would only be printed with the events
 * of timeouts. Those events' (and a match's) cep_event_raw is then NULL;
 * snapshots hold no text for them. Events stored while a pattern without
 * `emit` runs (after a program switch) keep it, and so do events that
 * wait in the reorder buffer (and the partial matches they go on to
 * start): a program switch or a restore parses them again from it, so
 * that new patterns read the fields they name. 0 (the default): the text is kept. Any time;
 * CEP_EINVAL for other values. */
CEP_API int cep_engine_set_drop_raw(cep_engine *e, int on);
/* Event time (the default) comes from the events; processing time is the
 * engine's clock when an event is pushed: no event is late or reordered,
 * and cep_engine_tick lets windows close while no event arrives. */
enum cep_time_mode { CEP_TIME_EVENT = 0, CEP_TIME_PROCESSING = 1 };
CEP_API int cep_engine_set_time_mode(cep_engine *e, int mode);
/* The clock of processing time, in milliseconds (default: the system's
 * real-time clock). Injectable so that tests need no sleeping. */
typedef int64_t (*cep_clock_fn)(void *userdata);
CEP_API int cep_engine_set_clock(cep_engine *e, cep_clock_fn fn, void *ud);
/* Processing time: move the watermark to the clock's time now (timeouts,
 * trailing notFollowedBy, held matches). Event time: a no-op. */
CEP_API int cep_engine_tick(cep_engine *e);
/* Field holding event time for cep_engine_push_json (default
 * CEP_DEFAULT_TIME_FIELD, "ts"): a name or a path into nested objects
 * ("meta.ts", "`event-time`"; CEP_EINVAL for a malformed path). In event
 * time, a condition that reads this field sees the event's time in
 * milliseconds (an int) however it was given: an RFC 3339 string in the
 * JSON, or only cep_event_set_time on a row built by hand. */
CEP_API int cep_engine_set_time_field(cep_engine *e, const char *name);
CEP_API void cep_engine_on_match(cep_engine *e, cep_match_fn fn, void *ud);
CEP_API void cep_engine_on_late(cep_engine *e, cep_late_fn fn, void *ud);
CEP_API void cep_engine_on_tag(cep_engine *e, cep_tag_fn fn, void *ud);
/* Called for each partial match of a pattern with `within` whose window
 * closed before it completed (Flink's timeout side output). */
CEP_API void cep_engine_on_timeout(cep_engine *e, cep_match_fn fn, void *ud);

/* Push one event (borrowed; copied where the engine keeps it). Matches and
 * late events are delivered through the callbacks before it returns. */
CEP_API int cep_engine_push(cep_engine *e, const cep_event *ev);
/* Push n events in order, as n calls of cep_engine_push would, stopping at
 * the first that fails; its code is returned. *pushed, when not NULL, is
 * the number of events the engine took in: the failing one counts unless
 * it was refused before going in (CEP_EINVAL, also for a NULL entry;
 * CEP_ETIME; CEP_EFINISHED), so going on from evs[*pushed] pushes nothing
 * twice. Faster with many keys: the key state of an event is fetched into
 * cache while the ones before it are matched. */
CEP_API int cep_engine_push_many(cep_engine *e, const cep_event *const *evs,
                                 size_t n, size_t *pushed);
/* Parse one JSON object and push it. Parse errors as cep_event_parse_json;
 * the reason is then in cep_engine_error(). */
CEP_API int cep_engine_push_json(cep_engine *e, const char *text, size_t len);
/* Reason of the last failure of a push on this engine; owned by e. */
CEP_API const char *cep_engine_error(const cep_engine *e);

/* Move the watermark forward to ms (never back: a smaller value is ignored).
 * Releases buffered events up to it and prunes expired partial matches. */
CEP_API int cep_engine_advance_watermark(cep_engine *e, int64_t ms);
/* End of input: watermark to +infinity, flush everything. Further pushes
 * return CEP_EFINISHED. */
CEP_API int cep_engine_finish(cep_engine *e);

/* cep_stats grows: new fields are added at its end, and cep_engine_stats
 * passes the caller's sizeof, so the library writes only the fields the
 * caller's header knew (a program built against an older header keeps
 * working with a newer library). Call the macro, not the _sized function. */
CEP_API void cep_engine_stats_sized(const cep_engine *e, cep_stats *out, size_t size);
#define cep_engine_stats(e, out) cep_engine_stats_sized((e), (out), sizeof *(out))

/* Run np from now on, keeping the state of every pattern that has the same
 * name and fingerprint in both programs (its keys, partial and held-back
 * matches, timers); patterns only in the old program lose their state, new
 * ones start empty. Buffered events are matched by the new patterns too.
 * np is borrowed like the first program; the old one may be freed after
 * this returns. CEP_ENOMEM comes in two kinds, told apart by
 * cep_engine_program: out of memory before the switch began, the engine
 * runs the old program with its state; half-way, it runs np with every
 * partial and held-back match lost (np is then in use: do not free it). */
CEP_API int cep_engine_replace_program(cep_engine *e, const cep_program *np);
/* The program e runs: the one it was made with, or the last one
 * cep_engine_replace_program switched it to. */
CEP_API const cep_program *cep_engine_program(const cep_engine *e);

/* Make e one of count engines that share a stream by key: e matches only
 * the keys whose shard is index. A key's hash (of a pattern's key values
 * with a fixed seed, the same in every process and run) puts it in one of
 * 128 key groups, and shard i owns the groups g with g * count / 128 == i
 * (as Flink; above 128 shards some own none); a pattern without a key is
 * in group 0, shard 0's. Events of other shards' keys are still counted
 * and move time on. Used by cep_pool; also for count processes each
 * reading the whole stream. Before the first push; CEP_EINVAL when index
 * >= count. */
CEP_API int cep_engine_set_partition(cep_engine *e, unsigned index, unsigned count);

/* ---- Snapshots --------------------------------------------------------- */

/* Receives snapshot bytes in order; return 0 to go on, non-zero to stop
 * (the snapshot call then returns CEP_ECALLBACK). */
typedef int (*cep_write_fn)(void *userdata, const void *buf, size_t len);

/* Write the engine's whole state — watermark, counters, buffered events,
 * every key's partial and held-back matches, filed by key group — through
 * fn. The format is versioned and checksummed (docs/snapshot.md), and the
 * same as a pool's (cep_pool_snapshot): either restores into an engine or
 * into a pool of any size. Event tags are not kept. */
CEP_API int cep_engine_snapshot(const cep_engine *e, cep_write_fn fn, void *ud);
/* Load a snapshot (len bytes, borrowed; of an engine or of a pool) into e,
 * a new engine of the same program that has not been used (callbacks and
 * time field may already be set; max_delay comes from the snapshot). An
 * engine given a partition (cep_engine_set_partition) takes only its
 * shard's keys, and shard 0 the counters. Errors: CEP_EFORMAT,
 * CEP_ETRUNCATED, CEP_ECORRUPT, CEP_EPROGRAM, CEP_ENOMEM; e is then left
 * empty and usable. */
CEP_API int cep_engine_restore(cep_engine *e, const void *buf, size_t len);

/* ---- Pools: one program over several engines on threads --------------- */

/* A pool runs one program over several engines partitioned by key
 * (cep_engine_set_partition), on nthreads threads: the caller's thread,
 * which also runs some of the engines, and nthreads - 1 worker threads. An
 * event goes to the engine of each pattern's key. For every key the
 * matches, timeouts, late events and stragglers are exactly one engine's,
 * in the same order: the caller's thread (the router) keeps the watermark
 * of the whole stream and every engine moves to it before each event it
 * gets. There are more engines than threads (cep_pool_engine_count), and
 * the pool moves whole engines between its threads to keep them equally
 * busy. Callbacks run on the thread that runs their engine at the time:
 * calls of one engine are sequential and in order (each with everything
 * the previous one did visible), calls of different engines may run
 * concurrently. Late events are all delivered by engine 0. A pool's
 * functions must be called from one thread at a time. A pool's snapshot
 * (cep_pool_snapshot) restores into a pool of any number of threads, or
 * into one engine, and an engine's into a pool. */
typedef struct cep_pool cep_pool;

/* Engines in a pool of nthreads threads (0 when nthreads is 0 or above
 * 256): 1 for one thread, else 2 per thread, at most 128 (the key
 * groups). */
CEP_API unsigned cep_pool_engine_count(unsigned nthreads);

/* Called by cep_pool_new on the caller's thread for each engine (index 0
 * to cep_pool_engine_count(nthreads) - 1), before any push: set options
 * and callbacks with the cep_engine_* calls (not the partition: the pool
 * sets it). Every engine must get the same max delay, allowed lateness,
 * time mode and time field. Return CEP_OK, or an error code that
 * cep_pool_new then returns. */
typedef int (*cep_pool_configure_fn)(void *userdata, cep_engine *e, unsigned index);

/* Borrows p (it must outlive the pool); fn may be NULL (default options,
 * no callbacks). Starts the worker threads. CEP_EINVAL for nthreads 0 or
 * above 256, or engines configured with different time options. */
CEP_API int cep_pool_new(const cep_program *p, unsigned nthreads, cep_pool_configure_fn fn, void *ud,
                         cep_pool **out);
/* Stops the threads (without finishing: state not yet matched is lost)
 * and frees the engines. NULL is a no-op. */
CEP_API void cep_pool_free(cep_pool *pool);
/* Route one event to its engines: run at once by an engine of the caller's
 * thread, copied into the queue of a worker's. Returns when it is run or
 * queued; when a queue is full, waits for room. An error of an engine (a
 * callback that stopped, CEP_ENOMEM, CEP_ELIMIT) is returned by the next
 * call after it happened, and by every call after that. */
CEP_API int cep_pool_push(cep_pool *pool, const cep_event *ev);
/* Parse one JSON object (on the caller's thread) and push it. Parse errors
 * are returned at once, as cep_engine_push_json returns them. */
CEP_API int cep_pool_push_json(cep_pool *pool, const char *text, size_t len);
CEP_API int cep_pool_advance_watermark(cep_pool *pool, int64_t ms);
/* cep_engine_tick on every engine (processing time). */
CEP_API int cep_pool_tick(cep_pool *pool);
/* Wait until every engine has processed everything pushed so far (its
 * callbacks included), every engine's time moved to the pool's
 * watermark first (what that releases is matched now). */
CEP_API int cep_pool_sync(cep_pool *pool);
/* End of input on every engine; returns when all have finished. */
CEP_API int cep_pool_finish(cep_pool *pool);
/* Waits as cep_pool_sync, then sums the engines' counters. events and
 * stragglers count each event once (exact after cep_pool_finish; before,
 * an event still buffered in one of its engines may be missing); buffered
 * counts each engine's copy; peak_partial_matches is the sum of the
 * engines' peaks; watermark is the pool's. */
CEP_API int cep_pool_stats_sized(cep_pool *pool, cep_stats *out, size_t size);
#define cep_pool_stats(pool, out) cep_pool_stats_sized((pool), (out), sizeof *(out))
/* Reason of the last failure of a pool call, "shard N: ..." for an error
 * of engine N; owned by the pool. */
CEP_API const char *cep_pool_error(const cep_pool *pool);
/* Write the state of every engine as one snapshot through fn, in the
 * format of cep_engine_snapshot: syncs first (cep_pool_sync). Called right
 * after cep_pool_sync with nothing pushed since, it touches no thread: a
 * child forked then (a copy-on-write checkpoint) may call it. */
CEP_API int cep_pool_snapshot(cep_pool *pool, cep_write_fn fn, void *ud);
/* Load a snapshot (of a pool of any size, or of an engine; len bytes,
 * borrowed) into a new pool of the same program: each engine takes the
 * keys of its key groups, and the buffered events of those keys. Errors
 * as cep_engine_restore, CEP_EINVAL when the pool has been used; all or
 * nothing: on failure the pool is left empty and usable. */
CEP_API int cep_pool_restore(cep_pool *pool, const void *buf, size_t len);
/* Switch every engine to program np (borrowed; it must outlive the pool)
 * as cep_engine_replace_program does: patterns kept by name and
 * fingerprint keep their state. Syncs first; buffered events go to the
 * engines of their keys under np. All or nothing: the switched engines are
 * made aside (from a snapshot of the pool, in memory: the state is copied
 * once, and its memory is needed twice meanwhile) and put in place when
 * all exist; on CEP_ENOMEM every engine still runs the old program with
 * its state, and the pool goes on. The engines handed to the configure
 * function are replaced by new ones with their options and callbacks. */
CEP_API int cep_pool_replace_program(cep_pool *pool, const cep_program *np);

#ifdef __cplusplus
}
#endif
#endif /* CEPHEUS_H */
