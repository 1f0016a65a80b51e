/* parser.y — the grammar of the pattern language: tokens from lexer.l ->
 * the syntax tree of ast.h, every node with its source span. Pure parser;
 * syntax errors go to the cep_diag, and after one the parser skips to the
 * next `pattern` keyword so that errors in later patterns are found too. */

%code top {
#include "config.h"
}

%code requires {
#include <setjmp.h>
#include <stddef.h>
#include <stdint.h>

#include "ast.h"
#include "cepheus.h"

/* Locations are byte spans, shared with the scanner. */
#define CEPYYLTYPE span
#define CEPYYLTYPE_IS_DECLARED 1

/* Token values. */
typedef struct tok_int {
    int64_t v;
    int big;            /* the literal was 2^63: only valid negated */
} tok_int;
typedef struct tok_str {
    char *s;
    size_t len;
} tok_str;
typedef struct tok_regex {
    char *re, *flags;
    span re_sp, flags_sp;
} tok_regex;
/* A field path being read: its text form so far (fieldpath.h), its
 * number of parts, and its first part when written bare (a step name
 * candidate; NULL when backquoted). */
typedef struct tok_path {
    char *text;
    int n;
    char *head;
    span head_sp;
} tok_path;

/* Lists under construction keep their tail for O(1) appends. */
typedef struct expr_list { ast_expr *head, *tail; int n; } expr_list;
typedef struct step_list { ast_step *head, *tail; } step_list;
typedef struct mod_list { ast_mod *head, *tail; } mod_list;
typedef struct name_list { ast_name *head, *tail; } name_list;
typedef struct emit_list { ast_emit *head, *tail; } emit_list;
typedef struct within_clause { int has; int64_t ms; span sp; } within_clause;
typedef struct skip_clause {
    int has;
    skip_kind kind;
    span sp;
    char *name;
    span name_sp;
} skip_clause;

#define LEX_PARENS 64

/* The scanner's state (flex's yyextra). */
struct lex_extra {
    cep_diag *d;
    uint32_t pos;       /* byte offset of the next token */
    int nerr;           /* lexical errors reported */
    int oom;
    int bad;            /* an unexpected character was reported ... */
    uint32_t bad_end;   /* ... ending here (to report a run once) */
    /* Where the '(' still open in this pattern are (for the syntax error
     * of one never closed); past LEX_PARENS deep they are only counted. */
    uint32_t paren[LEX_PARENS];
    int nparen;
    int in_emit;        /* an emit clause is being read (the ':' hint) */
    jmp_buf jb;         /* flex's fatal errors (out of memory) land here */
};

#ifndef YY_TYPEDEF_YY_SCANNER_T
#define YY_TYPEDEF_YY_SCANNER_T
typedef void *yyscan_t;
#endif

struct parse_ctx;
}

%code provides {
int cepyylex(CEPYYSTYPE *yylval_param, CEPYYLTYPE *yylloc_param,
             yyscan_t yyscanner);
}

%code {
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "diag.h"
#include "fieldpath.h"
#include "mem.h"
#include "strbuf.h"
#include "suggest.h"

/* The scanner's entry points (flex writes no header for us). */
int cepyylex_init_extra(struct lex_extra *extra, yyscan_t *scanner);
int cepyylex_destroy(yyscan_t scanner);
struct lex_extra *cepyyget_extra(yyscan_t scanner);
struct yy_buffer_state *cepyy_scan_buffer(char *base, size_t size,
                                          yyscan_t scanner);
void cepyy_switch_to_buffer(struct yy_buffer_state *b, yyscan_t scanner);

/* A 2^63 literal waiting for the unary minus that makes it valid. */
typedef struct big_lit {
    const ast_expr *node;
    span sp;
} big_lit;

struct parse_ctx {
    cep_diag *d;
    const char *src;           /* the pattern text (token texts for hints) */
    const char *text;          /* the caller's, which the scanner does not */
    size_t len;                /* write NULs into (the text after a token) */
    ast_pattern *head, **tail; /* the result, in file order */
    int nerr;                  /* errors reported by the parser */
    int oom;
    big_lit *big;
    size_t nbig, capbig;
    int deep_reported;         /* AST_MAX_EXPR_HEIGHT, once per pattern */
    long key_at;               /* end of this pattern's `key` keyword, or -1 */
};

/* The parser's stack goes through the library allocator too; a failure is
 * told apart from the depth limit by ctx->oom. */
static void *parse_stack_alloc(struct parse_ctx *ctx, size_t n);
#define YYMALLOC(n) parse_stack_alloc(ctx, (n))
#define YYFREE mem_free
/* Bounds the nesting of groups and expressions, so that every recursive
 * walk of the tree later on stays shallow. */
#define YYMAXDEPTH 1000

/* A rule's span runs from its first symbol to its last; an empty rule sits
 * at the end of what precedes it. */
#define YYLLOC_DEFAULT(Cur, Rhs, N)                                          \
    do {                                                                     \
        if (N) {                                                             \
            (Cur).start = YYRHSLOC(Rhs, 1).start;                            \
            (Cur).end = YYRHSLOC(Rhs, N).end;                                \
        } else {                                                             \
            (Cur).start = (Cur).end = YYRHSLOC(Rhs, 0).end;                  \
        }                                                                    \
    } while (0)

static void cepyyerror(CEPYYLTYPE *loc, yyscan_t scanner,
                       struct parse_ctx *ctx, const char *msg);
static void perr(struct parse_ctx *ctx, int code, uint32_t off,
                 const char *fmt, ...) __attribute__((format(printf, 4, 5)));
static ast_expr *mk(struct parse_ctx *ctx, expr_kind kind, span sp);
static ast_expr *mk_op(struct parse_ctx *ctx, expr_kind kind, expr_op op,
                       ast_expr *a, ast_expr *b, span sp);
static ast_expr *mk_int(struct parse_ctx *ctx, tok_int v, span sp);
static ast_expr *mk_neg(struct parse_ctx *ctx, ast_expr *a, span sp);
static ast_expr *cap_height(struct parse_ctx *ctx, ast_expr *e, uint32_t at);
static ast_expr *mk_call(struct parse_ctx *ctx, char *name, span name_sp,
                         expr_list args, span args_sp, span sp);
static int64_t quant_bound(struct parse_ctx *ctx, tok_int v, span sp);
static ast_step *mk_step(struct parse_ctx *ctx, span sp);
static ast_mod *mk_mod(struct parse_ctx *ctx, mod_kind kind, span sp);
static void set_gap(ast_step *s, const within_clause *g);
static int path_start(struct parse_ctx *ctx, tok_path *p, char *part, int quoted, span sp);
static int path_add(struct parse_ctx *ctx, tok_path *p, char *part, span sp);

/* Out of memory inside an action: the action has already freed what it
 * was handed; YYNOMEM ends the parse. */
#define CHECK(p) do { if (!(p)) { ctx->oom = 1; YYNOMEM; } } while (0)
}

%define api.pure full
%define api.prefix {cepyy}
/* Custom: bison's list of expected tokens, in words, with hints for
 * likely slips (syntax_error below). */
%define parse.error custom
/* Reduce by default only where no other action exists, so a syntax error
 * is caught in the state that can list what was expected. */
%define lr.default-reduction consistent
%locations
%param {yyscan_t scanner}
%parse-param {struct parse_ctx *ctx}

/* The grammar must stay free of conflicts: any ambiguity is settled by a
 * precedence declaration below, never tolerated. */
%expect 0

%union {
    char *str;
    tok_int ival;
    double dval;
    tok_str sval;
    int64_t ms;
    tok_regex rx;
    tok_path path;
    ast_expr *expr;
    expr_list elist;
    ast_step *step;
    step_list slist;
    ast_mod *mod;
    mod_list mlist;
    name_list nlist;
    emit_list emlist;
    ast_quant quant;
    conn_kind conn;
    within_clause within;
    skip_clause skip;
}

%token KW_PATTERN "'pattern'" KW_KEY "'key'" KW_BEGIN "'begin'"
%token KW_NEXT "'next'" KW_FOLLOWED_BY "'followedBy'"
%token KW_FOLLOWED_BY_ANY "'followedByAny'" KW_NOT_NEXT "'notNext'"
%token KW_NOT_FOLLOWED_BY "'notFollowedBy'"
%token KW_WHERE "'where'" KW_WITHIN "'within'" KW_SKIP "'skip'"
%token KW_NO_SKIP "'noSkip'" KW_TO_NEXT "'toNext'"
%token KW_PAST_LAST_EVENT "'pastLastEvent'" KW_TO_FIRST "'toFirst'"
%token KW_TO_LAST "'toLast'" KW_EMIT "'emit'"
%token KW_GREEDY "'greedy'" KW_CONSECUTIVE "'consecutive'"
%token KW_ALLOW_COMBINATIONS "'allowCombinations'" KW_UNTIL "'until'"
%token KW_AND "'and'" KW_OR "'or'" KW_NOT "'not'" KW_IN "'in'"
%token KW_TRUE "'true'" KW_FALSE "'false'" KW_NULL "'null'"
%token EQ "'=='" NE "'!='" LE "'<='" GE "'>='" MATCH "'=~'" NOMATCH "'!~'"
%token <str> NAME "name"
%token <str> QNAME "backquoted name"
%token <ival> INT "integer"
%token <dval> NUMBER "number"
%token <sval> STRING "string"
%token <ms> DURATION "duration"
%token <rx> REGEX "regex"

%type <expr> expr where_opt
%type <path> path
%type <elist> expr_list
%type <step> elem first_elem
%type <slist> top_seq group_seq
%type <mod> mod
%type <mlist> mod_list
%type <nlist> key_opt name_list
%type <emlist> emit_opt emit_list emit_item
%type <quant> quant_opt times_quant
%type <conn> connector
%type <within> within_opt gap_opt
%type <skip> skip_opt

%destructor { mem_free($$); } <str>
%destructor { mem_free($$.s); } <sval>
%destructor { mem_free($$.re); mem_free($$.flags); } <rx>
%destructor { mem_free($$.text); mem_free($$.head); } <path>
%destructor { ast_expr_free($$); } <expr>
%destructor { ast_expr_free($$.head); } <elist>
%destructor { ast_step_free($$); } <step>
%destructor { ast_step_free($$.head); } <slist>
%destructor { ast_mod_free($$); } <mod>
%destructor { ast_mod_free($$.head); } <mlist>
%destructor { ast_name_free($$.head); } <nlist>
%destructor { ast_emit_free($$.head); } <emlist>
%destructor { mem_free($$.name); } <skip>

/* Loosest first. Comparisons do not chain. */
%left KW_OR
%left KW_AND
%precedence KW_NOT
%nonassoc EQ NE '<' LE '>' GE MATCH NOMATCH KW_IN
%left '+' '-'
%left '*' '/' '%'
%precedence UMINUS

%%

/* At least one pattern; `error` here is where the parser resyncs: it drops
 * tokens until the next `pattern` keyword. */
file:
    pattern
  | error
  | file pattern
  | file error
  ;

pattern:
    KW_PATTERN {
        yyerrok;
        ctx->deep_reported = 0; /* a new pattern: report its errors again */
        ctx->key_at = -1;
        cepyyget_extra(scanner)->nparen = 0; /* (a pattern's parens are its own) */
    }
    NAME key_opt KW_BEGIN top_seq within_opt skip_opt emit_opt {
        ast_pattern *p = ast_pattern_new();
        if (!p) {
            mem_free($3);
            ast_name_free($4.head);
            ast_step_free($6.head);
            mem_free($8.name);
            ast_emit_free($9.head);
            CHECK(p);
        }
        p->name = $3;
        p->name_sp = @3;
        p->sp = @$;
        p->keys = $4.head;
        p->steps = $6.head;
        p->has_within = $7.has;
        p->within_ms = $7.ms;
        p->within_sp = $7.sp;
        p->has_skip = $8.has;
        p->skip = $8.kind;
        p->skip_sp = $8.sp;
        p->skip_step = $8.name;
        p->skip_step_sp = $8.name_sp;
        p->emits = $9.head;
        *ctx->tail = p;
        ctx->tail = &p->next;
    }
  ;

key_opt:
    %empty { $$.head = $$.tail = NULL; }
  | KW_KEY { ctx->key_at = @1.end; /* for a second key clause's hint */ } name_list { $$ = $3; }
  ;

/* Key fields: paths into the event (never step references). */
name_list:
    path {
        mem_free($1.head);
        ast_name *n = ast_name_new($1.text, @1);
        CHECK(n);
        $$.head = $$.tail = n;
    }
  | name_list ',' path {
        mem_free($3.head);
        ast_name *n = ast_name_new($3.text, @3);
        if (!n) ast_name_free($1.head);
        CHECK(n);
        $$ = $1;
        $$.tail->next = n;
        $$.tail = n;
    }
  ;

/* The first element after `begin` may carry a connector; the checker
 * rejects that with a message better than a syntax error could give. */
top_seq:
    first_elem { $$.head = $$.tail = $1; }
  | top_seq connector gap_opt elem {
        $4->conn = $2;
        $4->conn_sp = @2;
        set_gap($4, &$3);
        $$ = $1;
        $$.tail->next = $4;
        $$.tail = $4;
    }
  ;

first_elem:
    elem
  | connector elem {
        $2->conn = $1;
        $2->conn_sp = @1;
        $$ = $2;
    }
  ;

group_seq:
    elem { $$.head = $$.tail = $1; }
  | group_seq connector gap_opt elem {
        $4->conn = $2;
        $4->conn_sp = @2;
        set_gap($4, &$3);
        $$ = $1;
        $$.tail->next = $4;
        $$.tail = $4;
    }
  ;

/* `followedBy within 5s b`: the longest time allowed between b's event and
 * the event taken just before it. After a connector `within` cannot start
 * the pattern's own window clause, so the grammar stays unambiguous. */
gap_opt:
    %empty { $$.has = 0; $$.ms = 0; $$.sp = (span){0, 0}; }
  | KW_WITHIN DURATION { $$.has = 1; $$.ms = $2; $$.sp = @2; }
  ;

connector:
    KW_NEXT { $$ = CONN_NEXT; }
  | KW_FOLLOWED_BY { $$ = CONN_FOLLOWED_BY; }
  | KW_FOLLOWED_BY_ANY { $$ = CONN_FOLLOWED_BY_ANY; }
  | KW_NOT_NEXT { $$ = CONN_NOT_NEXT; }
  | KW_NOT_FOLLOWED_BY { $$ = CONN_NOT_FOLLOWED_BY; }
  ;

elem:
    NAME quant_opt where_opt mod_list {
        ast_step *s = mk_step(ctx, @$);
        if (!s) {
            mem_free($1);
            ast_expr_free($3);
            ast_mod_free($4.head);
        }
        CHECK(s);
        s->name = $1;
        s->name_sp = @1;
        s->quant = $2;
        s->where = $3;
        s->mods = $4.head;
        $$ = s;
    }
  | '(' group_seq ')' quant_opt mod_list {
        ast_step *s = mk_step(ctx, @$);
        if (!s) {
            ast_step_free($2.head);
            ast_mod_free($5.head);
        }
        CHECK(s);
        s->is_group = 1;
        s->body = $2.head;
        s->quant = $4;
        s->mods = $5.head;
        $$ = s;
    }
  ;

quant_opt:
    %empty {
        $$.kind = Q_ONE;
        $$.min = $$.max = 1;
        $$.optional = 0;
        $$.sp.start = $$.sp.end = 0;
    }
  | '?' { $$.kind = Q_OPTIONAL; $$.min = 0; $$.max = 1; $$.optional = 0; $$.sp = @$; }
  | '+' { $$.kind = Q_PLUS; $$.min = 1; $$.max = -1; $$.optional = 0; $$.sp = @$; }
  | '*' { $$.kind = Q_STAR; $$.min = 0; $$.max = -1; $$.optional = 0; $$.sp = @$; }
  | times_quant { $$ = $1; }
  | times_quant '?' { $$ = $1; $$.optional = 1; $$.sp = @$; }
  ;

times_quant:
    '{' INT '}' {
        $$.kind = Q_TIMES;
        $$.min = $$.max = quant_bound(ctx, $2, @2);
        $$.optional = 0;
        $$.sp = @$;
    }
  | '{' INT ',' '}' {
        $$.kind = Q_AT_LEAST;
        $$.min = quant_bound(ctx, $2, @2);
        $$.max = -1;
        $$.optional = 0;
        $$.sp = @$;
    }
  | '{' INT ',' INT '}' {
        $$.kind = Q_RANGE;
        $$.min = quant_bound(ctx, $2, @2);
        $$.max = quant_bound(ctx, $4, @4);
        $$.optional = 0;
        $$.sp = @$;
    }
  ;

where_opt:
    %empty { $$ = NULL; }
  | KW_WHERE expr { $$ = $2; }
  ;

mod_list:
    %empty { $$.head = $$.tail = NULL; }
  | mod_list mod {
        $$ = $1;
        if ($$.tail) $$.tail->next = $2;
        else $$.head = $2;
        $$.tail = $2;
    }
  ;

mod:
    KW_GREEDY { $$ = mk_mod(ctx, MOD_GREEDY, @1); CHECK($$); }
  | KW_CONSECUTIVE { $$ = mk_mod(ctx, MOD_CONSECUTIVE, @1); CHECK($$); }
  | KW_ALLOW_COMBINATIONS {
        $$ = mk_mod(ctx, MOD_ALLOW_COMBINATIONS, @1);
        CHECK($$);
    }
  | KW_UNTIL expr {
        $$ = mk_mod(ctx, MOD_UNTIL, @1);
        if (!$$) ast_expr_free($2);
        CHECK($$);
        $$->cond = $2;
    }
  ;

within_opt:
    %empty { $$.has = 0; $$.ms = 0; $$.sp = @$; }
  | KW_WITHIN DURATION { $$.has = 1; $$.ms = $2; $$.sp = @2; }
  ;

skip_opt:
    %empty { memset(&$$, 0, sizeof $$); $$.kind = SKIP_NO_SKIP; }
  | KW_SKIP KW_NO_SKIP {
        memset(&$$, 0, sizeof $$);
        $$.has = 1; $$.kind = SKIP_NO_SKIP; $$.sp = @2;
    }
  | KW_SKIP KW_TO_NEXT {
        memset(&$$, 0, sizeof $$);
        $$.has = 1; $$.kind = SKIP_TO_NEXT; $$.sp = @2;
    }
  | KW_SKIP KW_PAST_LAST_EVENT {
        memset(&$$, 0, sizeof $$);
        $$.has = 1; $$.kind = SKIP_PAST_LAST_EVENT; $$.sp = @2;
    }
  | KW_SKIP KW_TO_FIRST NAME {
        memset(&$$, 0, sizeof $$);
        $$.has = 1; $$.kind = SKIP_TO_FIRST; $$.sp = @2;
        $$.name = $3; $$.name_sp = @3;
    }
  | KW_SKIP KW_TO_LAST NAME {
        memset(&$$, 0, sizeof $$);
        $$.has = 1; $$.kind = SKIP_TO_LAST; $$.sp = @2;
        $$.name = $3; $$.name_sp = @3;
    }
  ;

emit_opt:
    %empty { $$.head = $$.tail = NULL; }
  | KW_EMIT emit_list { $$ = $2; }
  ;

emit_list:
    emit_item
  | emit_list ',' emit_item {
        $$ = $1;
        $$.tail->next = $3.head;
        $$.tail = $3.tail;
    }
  ;

emit_item:
    NAME '=' expr {
        ast_emit *e = ast_emit_new($1, @1, $3); /* frees both on failure */
        CHECK(e);
        $$.head = $$.tail = e;
    }
  ;

expr:
    expr KW_OR expr { CHECK($$ = mk_op(ctx, EX_BINARY, OP_OR, $1, $3, @$)); }
  | expr KW_AND expr { CHECK($$ = mk_op(ctx, EX_BINARY, OP_AND, $1, $3, @$)); }
  | KW_NOT expr { CHECK($$ = mk_op(ctx, EX_UNARY, OP_NOT, $2, NULL, @$)); }
  | expr EQ expr { CHECK($$ = mk_op(ctx, EX_BINARY, OP_EQ, $1, $3, @$)); }
  | expr NE expr { CHECK($$ = mk_op(ctx, EX_BINARY, OP_NE, $1, $3, @$)); }
  | expr '<' expr { CHECK($$ = mk_op(ctx, EX_BINARY, OP_LT, $1, $3, @$)); }
  | expr LE expr { CHECK($$ = mk_op(ctx, EX_BINARY, OP_LE, $1, $3, @$)); }
  | expr '>' expr { CHECK($$ = mk_op(ctx, EX_BINARY, OP_GT, $1, $3, @$)); }
  | expr GE expr { CHECK($$ = mk_op(ctx, EX_BINARY, OP_GE, $1, $3, @$)); }
  | expr MATCH REGEX {
        $$ = mk_op(ctx, EX_MATCH, OP_MATCH, $1, NULL, @$);
        if (!$$) { mem_free($3.re); mem_free($3.flags); }
        CHECK($$);
        $$->regex = $3.re;
        $$->regex_sp = $3.re_sp;
        $$->flags = $3.flags;
        $$->flags_sp = $3.flags_sp;
    }
  | expr NOMATCH REGEX {
        $$ = mk_op(ctx, EX_MATCH, OP_NOMATCH, $1, NULL, @$);
        if (!$$) { mem_free($3.re); mem_free($3.flags); }
        CHECK($$);
        $$->regex = $3.re;
        $$->regex_sp = $3.re_sp;
        $$->flags = $3.flags;
        $$->flags_sp = $3.flags_sp;
    }
  | expr KW_IN '(' expr_list ')' {
        $$ = mk_op(ctx, EX_IN, OP_NONE, $1, NULL, @$);
        if (!$$) ast_expr_free($4.head);
        CHECK($$);
        $$->args = $4.head;
        $$->nargs = $4.n;
        CHECK($$ = cap_height(ctx, $$, @2.start));
    }
  | expr '+' expr { CHECK($$ = mk_op(ctx, EX_BINARY, OP_ADD, $1, $3, @$)); }
  | expr '-' expr { CHECK($$ = mk_op(ctx, EX_BINARY, OP_SUB, $1, $3, @$)); }
  | expr '*' expr { CHECK($$ = mk_op(ctx, EX_BINARY, OP_MUL, $1, $3, @$)); }
  | expr '/' expr { CHECK($$ = mk_op(ctx, EX_BINARY, OP_DIV, $1, $3, @$)); }
  | expr '%' expr { CHECK($$ = mk_op(ctx, EX_BINARY, OP_MOD, $1, $3, @$)); }
  | '-' expr %prec UMINUS { CHECK($$ = mk_neg(ctx, $2, @$)); }
  | '(' expr ')' { $$ = $2; }
  | INT { CHECK($$ = mk_int(ctx, $1, @$)); }
  | DURATION {
        CHECK($$ = mk(ctx, EX_INT, @$));
        $$->ival = $1;
    }
  | NUMBER {
        CHECK($$ = mk(ctx, EX_DOUBLE, @$));
        $$->dval = $1;
    }
  | STRING {
        $$ = mk(ctx, EX_STRING, @$);
        if (!$$) mem_free($1.s);
        CHECK($$);
        $$->str = $1.s;
        $$->slen = $1.len;
    }
  | KW_TRUE { CHECK($$ = mk(ctx, EX_BOOL, @$)); $$->ival = 1; }
  | KW_FALSE { CHECK($$ = mk(ctx, EX_BOOL, @$)); $$->ival = 0; }
  | KW_NULL { CHECK($$ = mk(ctx, EX_NULL, @$)); }
  | path {
        /* A field of the event, or (decided by the checker, which knows
         * the steps) a step reference when its first part names a step. */
        $$ = mk(ctx, EX_FIELD, @$);
        if (!$$) { mem_free($1.text); mem_free($1.head); }
        CHECK($$);
        $$->name = $1.text;
        $$->name_sp = @1;
        $$->npath = $1.n;
        $$->head = $1.head;
        $$->step_sp = $1.head_sp;
    }
  | NAME '[' INT ']' '.' path {
        mem_free($6.head);
        $$ = mk(ctx, EX_STEPREF, @$);
        if (!$$) { mem_free($1); mem_free($6.text); }
        CHECK($$);
        $$->step = $1;
        $$->step_sp = @1;
        $$->has_index = 1;
        $$->index = quant_bound(ctx, $3, @3);
        $$->name = $6.text;
        $$->name_sp = @6;
    }
  | NAME '[' '-' INT ']' '.' path {
        mem_free($7.head);
        $$ = mk(ctx, EX_STEPREF, @$);
        if (!$$) { mem_free($1); mem_free($7.text); }
        CHECK($$);
        $$->step = $1;
        $$->step_sp = @1;
        $$->has_index = 1;
        /* 2^63 is fine here: its negation is INT64_MIN. */
        $$->index = $4.big ? INT64_MIN : -$4.v;
        $$->name = $7.text;
        $$->name_sp = @7;
    }
  | NAME '(' ')' {
        expr_list none = { NULL, NULL, 0 };
        span at = { @2.end, @2.end };
        CHECK($$ = mk_call(ctx, $1, @1, none, at, @$));
    }
  | NAME '(' expr_list ')' {
        span at = { @3.start, @3.end };
        CHECK($$ = mk_call(ctx, $1, @1, $3, at, @$));
    }
  ;

/* a, `risk-score`, payload.amount, a.`user-id`: the text form joins the
 * parts with '.', backquoting those that need it (fieldpath.h). */
path:
    NAME { CHECK(path_start(ctx, &$$, $1, 0, @1)); }
  | QNAME { CHECK(path_start(ctx, &$$, $1, 1, @1)); }
  | path '.' NAME { $$ = $1; CHECK(path_add(ctx, &$$, $3, @3)); }
  | path '.' QNAME { $$ = $1; CHECK(path_add(ctx, &$$, $3, @3)); }
  ;

expr_list:
    expr { $$.head = $$.tail = $1; $$.n = 1; }
  | expr_list ',' expr {
        $$ = $1;
        $$.tail->next = $3;
        $$.tail = $3;
        $$.n++;
    }
  ;

%%

/* Start a path with its first part (taken). 0 on ENOMEM, nothing left. */
static int path_start(struct parse_ctx *ctx, tok_path *p, char *part, int quoted, span sp) {
    memset(p, 0, sizeof *p);
    p->n = 1;
    p->head_sp = sp;
    size_t n = strlen(part);
    int q = fpath_part_needs_quotes(part, n);
    p->text = mem_alloc(n + 3);
    if (p->text) snprintf(p->text, n + 3, q ? "`%s`" : "%s", part);
    if (!quoted && p->text) {
        p->head = part;
        return 1;
    }
    mem_free(part);
    if (!p->text) ctx->oom = 1;
    return p->text != NULL;
}

/* Append a part (taken) to p. 0 on ENOMEM, after freeing p. */
static int path_add(struct parse_ctx *ctx, tok_path *p, char *part, span sp) {
    if (p->n >= FPATH_MAX) {
        if (p->n++ == FPATH_MAX)
            perr(ctx, CEP_DIAG_LIMIT, sp.start, "a field path has at most %d names", FPATH_MAX);
        mem_free(part);
        return 1;
    }
    size_t n = strlen(part), old = strlen(p->text);
    int q = fpath_part_needs_quotes(part, n);
    char *t = mem_realloc(p->text, old + n + 4);
    if (!t) {
        mem_free(part);
        mem_free(p->text);
        mem_free(p->head);
        p->text = p->head = NULL;
        ctx->oom = 1;
        return 0;
    }
    snprintf(t + old, n + 4, q ? ".`%s`" : ".%s", part);
    mem_free(part);
    p->text = t;
    p->n++;
    return 1;
}

/* ---- syntax errors ---------------------------------------------------------- */

/* A token as a message names it: bison's alias, with words for the few
 * whose alias says too little. */
static const char *token_words(yysymbol_kind_t k, int alone) {
    switch (k) {
    case YYSYMBOL_DURATION:
        return alone ? "a duration: an integer and one of ms, s, m, h, d \u2014 e.g. 10m"
                     : "a duration (e.g. 10m)";
    case YYSYMBOL_REGEX:
        return alone ? "a regex: /text/flags, e.g. /^ab+c/i" : "a regex (e.g. /ab+c/)";
    default: return yysymbol_name(k);
    }
}

/* Where an expression may start bison expects a dozen tokens, too many to
 * list: say it in a word. */
static int expects_expression(const yysymbol_kind_t *exp, int nexp) {
    int seen = 0;
    for (int i = 0; i < nexp; i++)
        seen |= exp[i] == YYSYMBOL_INT ? 1 : exp[i] == YYSYMBOL_STRING ? 2 : exp[i] == YYSYMBOL_KW_NOT ? 4 : 0;
    return seen == 7;
}

static int is_word_char(char c) {
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_';
}

/* The word (letters, digits, _) ending at src[end], skipping white space
 * back from end: its start, or -1 when there is none. */
static long word_before(const char *src, long end, long *word_end) {
    while (end > 0 && (src[end - 1] == ' ' || src[end - 1] == '\t' || src[end - 1] == '\r' || src[end - 1] == '\n'))
        end--;
    long b = end;
    while (b > 0 && is_word_char(src[b - 1])) b--;
    *word_end = end;
    return b < end ? b : -1;
}

static int is_connector(const char *w, size_t n) {
    static const char *const conns[] = {"next", "followedBy", "followedByAny", "notNext", "notFollowedBy"};
    for (size_t i = 0; i < sizeof conns / sizeof conns[0]; i++)
        if (strlen(conns[i]) == n && memcmp(conns[i], w, n) == 0) return 1;
    return 0;
}

static int expected(const yysymbol_kind_t *exp, int nexp, yysymbol_kind_t k) {
    for (int i = 0; i < nexp; i++)
        if (exp[i] == k) return 1;
    return 0;
}

static int is_space(char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n'; }

/* A name where none can be: SQL's `is null`, or a step written without
 * the connector that joins it to the one before. 1 when a hint was added. */
static int name_hint(strbuf *b, const char *text, long at, long len, size_t n, const yysymbol_kind_t *exp,
                     int nexp) {
    const char *name = text + at;
    if (n == 2 && (name[0] == 'i' || name[0] == 'I') && (name[1] == 's' || name[1] == 'S') &&
        expected(exp, nexp, YYSYMBOL_EQ)) {
        sb_puts(b, "; a null test is written '== null' or '!= null'");
        return 1;
    }
    /* SQL's LIKE and BETWEEN after an operand. */
    char low[8] = "";
    for (size_t i = 0; n < sizeof low && i < n; i++) low[i] = (char)(name[i] | 0x20);
    if (expected(exp, nexp, YYSYMBOL_EQ) && (!strcmp(low, "like") || !strcmp(low, "ilike"))) {
        sb_puts(b, "; text is matched with a regex: =~ /text/ (or contains(s, t), startsWith(s, t))");
        return 1;
    }
    if (expected(exp, nexp, YYSYMBOL_EQ) && !strcmp(low, "between")) {
        sb_puts(b, "; a range is written x >= LOW and x <= HIGH");
        return 1;
    }
    /* A step: the name opens or ends its line, or a quantifier or
     * `where` follows it. */
    long p = at, q = at + (long)n;
    while (p > 0 && (text[p - 1] == ' ' || text[p - 1] == '\t')) p--;
    while (q < len && (text[q] == ' ' || text[q] == '\t' || text[q] == '\r')) q++;
    int step = p == 0 || text[p - 1] == '\n' || q == len || strchr("\n+*?{", text[q]) ||
               (len - q >= 5 && memcmp(text + q, "where", 5) == 0 && (len - q == 5 || !is_word_char(text[q + 5])));
    if (step && expected(exp, nexp, YYSYMBOL_KW_FOLLOWED_BY) && n < 64) {
        sb_printf(b, "; a step comes after a connector (next, followedBy, followedByAny, notNext, notFollowedBy): "
                     "'followedBy %.*s'", (int)n, name);
        return 1;
    }
    return 0;
}

/* `key user-id`: a '-' glued between two names is a field name meant.
 * (The caller's text: the scanner's copy has a NUL after the lookahead.) */
static void hyphen_hint(strbuf *b, const char *src, long at, long len) {
    long s = at, e = at + 1;
    while (s > 0 && is_word_char(src[s - 1])) s--;
    while (e < len && is_word_char(src[e])) e++;
    if (s == at || e == at + 1 || e - s > 80 || (src[at + 1] >= '0' && src[at + 1] <= '9')) return;
    sb_printf(b, "; a field name with '-' is written in backquotes: `%.*s`", (int)(e - s), src + s);
}

/* The pattern's `within D` is its last clause, so `followedBy b within 5s
 * where ...` and a step after `within 5s` fail past it: say where a
 * step's own gap goes (language.md §10). Appends the hint to b when the
 * text before the unexpected token at `at` is `within DURATION`. */
static int gap_hint(strbuf *b, const char *src, long at, yysymbol_kind_t tok) {
    long dend, nend, wend;
    long d = word_before(src, at, &dend);
    if (d < 0 || src[d] < '0' || src[d] > '9') return 0;
    long w = word_before(src, d, &wend);
    if (w < 0 || wend - w != 6 || memcmp(src + w, "within", 6) != 0) return 0;
    int dl = (int)(dend - d);
    if (tok == YYSYMBOL_KW_WHERE || tok == (yysymbol_kind_t)YYTRANSLATE('+') ||
        tok == (yysymbol_kind_t)YYTRANSLATE('*') || tok == (yysymbol_kind_t)YYTRANSLATE('?') ||
        tok == (yysymbol_kind_t)YYTRANSLATE('{') || tok == YYSYMBOL_KW_GREEDY || tok == YYSYMBOL_KW_CONSECUTIVE ||
        tok == YYSYMBOL_KW_ALLOW_COMBINATIONS || tok == YYSYMBOL_KW_UNTIL) {
        /* The step: a name and its quantifier (b+, b{2,3}?). */
        long q = w;
        while (q > 0 && (src[q - 1] == ' ' || src[q - 1] == '\t' || src[q - 1] == '\r' || src[q - 1] == '\n')) q--;
        long qend = q;
        while (q > 0 && (src[q - 1] == '+' || src[q - 1] == '*' || src[q - 1] == '?' || src[q - 1] == '}')) {
            if (src[--q] == '}')
                while (q > 0 && src[q] != '{') q--;
        }
        long c, cend, n = word_before(src, q, &nend);
        if (n < 0 || nend != q) return 0;
        nend = qend;
        c = word_before(src, n, &cend);
        if (c < 0 || !is_connector(src + c, (size_t)(cend - c))) return 0;
        sb_printf(b, "; a step's own gap goes before its name: '%.*s within %.*s %.*s'", (int)(cend - c), src + c,
                  dl, src + d, (int)(nend - n), src + n);
        return 1;
    } else if (tok == YYSYMBOL_KW_NEXT || tok == YYSYMBOL_KW_FOLLOWED_BY || tok == YYSYMBOL_KW_FOLLOWED_BY_ANY ||
               tok == YYSYMBOL_KW_NOT_NEXT || tok == YYSYMBOL_KW_NOT_FOLLOWED_BY) {
        long cend = at; /* (the scanner's NUL ends the lookahead) */
        while (is_word_char(src[cend])) cend++;
        sb_printf(b, "; the pattern's within comes after its last step, and a step's own gap after its connector: "
                     "'%.*s within %.*s STEP'", (int)(cend - at), src + at, dl, src + d);
        return 1;
    }
    return 0;
}

/* The field list written from text[at] (`user, session.id`, backquoted
 * names too) appended to b in one line, as `key` takes it. */
static void key_fields(strbuf *b, const char *text, long at, long len) {
    long p = at, start = (long)b->len;
    for (;;) {
        while (p < len && is_space(text[p])) p++;
        long w = p;
        if (p < len && text[p] == '`') {
            long q = p + 1;
            while (q < len && text[q] != '`' && text[q] != '\n') q++;
            if (q >= len || text[q] != '`') break;
            p = q + 1;
        } else {
            while (p < len && is_word_char(text[p])) p++;
        }
        if (p == w || (long)b->len - start + (p - w) > 60) break;
        sb_put(b, text + w, (size_t)(p - w));
        long q = p;
        while (q < len && is_space(text[q])) q++;
        if (q >= len || (text[q] != '.' && text[q] != ',')) break;
        sb_puts(b, text[q] == ',' ? ", " : ".");
        p = q + 1;
    }
}

/* A second `key` clause (Flink's keyBy chained twice): one clause lists
 * every key field. at: the second `key` keyword. */
static void key_hint(strbuf *b, const struct parse_ctx *ctx, long at) {
    sb_puts(b, "; a pattern has one key clause, its fields separated by commas: 'key ");
    key_fields(b, ctx->text, ctx->key_at, (long)ctx->len);
    sb_puts(b, ", ");
    key_fields(b, ctx->text, at + 3, (long)ctx->len);
    sb_puts(b, "'");
}

/* Quantifiers written as in a regex: `b{,3}` (no lower bound) and the lazy
 * `b+?`, `b*?`. 1 when a hint was added; at: the unexpected ',' or '?'. */
static int quant_hint(strbuf *b, const char *text, long at, long len, yysymbol_kind_t tok, const yysymbol_kind_t *exp,
                      int nexp) {
    long p = at;
    while (p > 0 && is_space(text[p - 1])) p--;
    char before = p > 0 ? text[p - 1] : '\0';
    if (tok == (yysymbol_kind_t)YYTRANSLATE(',') && before == '{') {
        long d = at + 1, e;
        while (d < len && is_space(text[d])) d++;
        for (e = d; e < len && e - d < 6 && text[e] >= '0' && text[e] <= '9'; e++) {}
        if (e == d) return 0;
        sb_printf(b, "; a quantifier's lower bound cannot be left out: '{0,%.*s}' for none to %.*s, '{1,%.*s}' "
                     "for 1 to %.*s", (int)(e - d), text + d, (int)(e - d), text + d, (int)(e - d), text + d,
                  (int)(e - d), text + d);
        return 1;
    }
    if (tok != (yysymbol_kind_t)YYTRANSLATE('?') || (before != '+' && before != '*') ||
        !expected(exp, nexp, YYSYMBOL_KW_GREEDY))
        return 0;
    long nend, n = word_before(text, p - 1, &nend);
    sb_printf(b, "; '%c?' is a regex's lazy quantifier, not this language's: a repeated step already tries every "
                 "number of events (language.md \u00a77)", before);
    if (n >= 0 && nend == p - 1 && nend - n < 64)
        sb_printf(b, ", and '%.*s%c greedy' takes all it can before the next step (\u00a77.4)", (int)(nend - n), text + n,
                  before);
    return 1;
}

/* Milliseconds of a unit as people write it (`min`, `seconds`, `M`,
 * `hrs`), case ignored; 0 for a word that is no unit. */
static int64_t unit_ms(const char *w, size_t n) {
    static const struct { const char *name; int64_t ms; } units[] = {
        {"ms", 1}, {"msec", 1}, {"msecs", 1}, {"millis", 1}, {"millisecond", 1}, {"milliseconds", 1},
        {"s", 1000}, {"sec", 1000}, {"secs", 1000}, {"second", 1000}, {"seconds", 1000},
        {"m", 60000}, {"min", 60000}, {"mins", 60000}, {"minute", 60000}, {"minutes", 60000},
        {"h", 3600000}, {"hr", 3600000}, {"hrs", 3600000}, {"hour", 3600000}, {"hours", 3600000},
        {"d", 86400000}, {"day", 86400000}, {"days", 86400000},
        {"w", 604800000}, {"week", 604800000}, {"weeks", 604800000},
    };
    for (size_t i = 0; i < sizeof units / sizeof units[0]; i++) {
        size_t k = 0;
        if (strlen(units[i].name) != n) continue;
        while (k < n && (w[k] | 0x20) == units[i].name[k]) k++;
        if (k == n) return units[i].ms;
    }
    return 0;
}

/* A duration written another way (`5 minutes`, `10sec`, `5M`, `1h30m`,
 * `2.5m`, `600` with no unit) from text[at]: the language's form, in the
 * largest unit that keeps it whole. The parse must reach past `need`
 * (the end of the unexpected token). 1 when a hint was added. */
static int duration_hint(strbuf *b, const char *text, long at, long len, long need) {
    long p = at, done = at;
    double ms = 0;
    for (int parts = 0; parts < 4 && p < len && text[p] >= '0' && text[p] <= '9'; parts++) {
        char num[32];
        long q = p, u, ue;
        double v = 0, scale = 1;
        int dots = 0;
        /* By hand: strtod would follow the locale's decimal point. */
        for (; q < len && q - p < 30 && ((text[q] >= '0' && text[q] <= '9') || text[q] == '.'); q++) {
            if (text[q] == '.') dots++;
            else if (dots) v += (text[q] - '0') * (scale /= 10);
            else v = v * 10 + (text[q] - '0');
        }
        if (dots > 1 || text[q - 1] == '.') return 0;
        memcpy(num, text + p, (size_t)(q - p));
        num[q - p] = '\0';
        for (u = q; u < len && u - q < 64 && (text[u] == ' ' || text[u] == '\t'); u++) {}
        for (ue = u; ue < len && (text[ue] | 0x20) >= 'a' && (text[ue] | 0x20) <= 'z'; ue++) {}
        int64_t unit = unit_ms(text + u, (size_t)(ue - u));
        if (!unit && parts == 0 && q >= need && (ue == u || u > q) && !dots) {
            /* A bare number (or one and a word that is no unit). */
            sb_printf(b, "; a duration has a unit: '%ss' for seconds, '%sms' for milliseconds", num, num);
            return 1;
        }
        if (!unit || (ue < len && text[ue] == '_')) {
            if (parts) break;
            return 0;
        }
        ms += v * (double)unit;
        done = p = ue;
        /* `1h30m`, `2h 30m`: a next part */
        while (p < len && p - done < 64 && (text[p] == ' ' || text[p] == '\t')) p++;
    }
    p = done;
    if (p == at || p < need || ms < 1 || ms > 9e15 || ms != (double)(int64_t)ms) return 0;
    int64_t t = (int64_t)ms;
    static const struct { int64_t ms; const char *u; } out[] = {
        {86400000, "d"}, {3600000, "h"}, {60000, "m"}, {1000, "s"}, {1, "ms"}};
    size_t i = 0;
    while (t % out[i].ms) i++;
    sb_printf(b, "; did you mean '%lld%s'?", (long long)(t / out[i].ms), out[i].u);
    return 1;
}

/* Flink's `Time.minutes(5)` or Java's `Duration.ofMinutes(5)` where a
 * duration goes: the language's `5m`. */
static int flink_time_hint(strbuf *b, const char *text, long at, long len) {
    long p = at;
    if (len - p > 5 && memcmp(text + p, "Time.", 5) == 0) p += 5;
    else if (len - p > 11 && memcmp(text + p, "Duration.of", 11) == 0) p += 11;
    else return 0;
    long u = p;
    while (p < len && ((text[p] | 0x20) >= 'a' && (text[p] | 0x20) <= 'z')) p++;
    int64_t unit = unit_ms(text + u, (size_t)(p - u));
    if (!unit || p >= len || text[p] != '(') return 0;
    long d = ++p;
    while (p < len && p - d < 15 && text[p] >= '0' && text[p] <= '9') p++;
    if (p == d || p >= len || text[p] != ')') return 0;
    char num[24];
    memcpy(num, text + d, (size_t)(p - d));
    num[p - d] = '\0';
    static const struct { int64_t ms; const char *u; } out[] = {
        {86400000, "d"}, {3600000, "h"}, {60000, "m"}, {1000, "s"}, {1, "ms"}};
    size_t i = 0;
    while (i < sizeof out / sizeof out[0] && out[i].ms != unit) i++;
    if (i == sizeof out / sizeof out[0]) return 0;
    sb_printf(b, "; did you mean '%s%s'?", num, out[i].u);
    return 1;
}

/* The step whose clause holds text[at]: the word after the last `begin`
 * or connector before it (and after a gap's `within D`). 1 when found. */
static int step_before(const char *text, long at, long *ns, long *ne) {
    static const char *const kw[] = {"begin", "next", "followedBy", "followedByAny", "notNext", "notFollowedBy"};
    /* (Bounded: hostile text may hold a thousand errors on one line.) */
    for (long p = at; p > 0 && at - p < 4096; p--) {
        if (!is_word_char(text[p - 1]) || (p > 1 && is_word_char(text[p - 2]))) continue;
        long e = p - 1;
        while (e < at && is_word_char(text[e])) e++;
        int conn = 0;
        for (size_t i = 0; i < sizeof kw / sizeof kw[0]; i++)
            if ((size_t)(e - p + 1) == strlen(kw[i]) && memcmp(text + p - 1, kw[i], (size_t)(e - p + 1)) == 0) conn = 1;
        if (!conn) continue;
        long q = e;
        while (q < at && is_space(text[q])) q++;
        if (at - q > 6 && memcmp(text + q, "within", 6) == 0) { /* the gap */
            for (q += 6; q < at && is_space(text[q]); q++) {}
            while (q < at && is_word_char(text[q])) q++;
            while (q < at && is_space(text[q])) q++;
        }
        long w = q;
        while (q < at && is_word_char(text[q])) q++;
        if (q == w || q - w > 60) return 0;
        *ns = w;
        *ne = q;
        return 1;
    }
    return 0;
}

/* Flink's quantifier methods written as words (`b where x > 1 oneOrMore`,
 * `b times 3`, `timesOrMore(2)`): the quantifier after the step's name.
 * at: the name. 1 when a hint was added. */
static int flink_quant_hint(strbuf *b, const char *text, long at, long len, long n) {
    static const struct { const char *m, *q; } map[] = {
        {"oneOrMore", "+"}, {"optional", "?"}, {"times", "{%s}"}, {"timesOrMore", "{%s,}"}};
    size_t i = 0;
    while (i < sizeof map / sizeof map[0] && !((size_t)n == strlen(map[i].m) && memcmp(text + at, map[i].m, (size_t)n) == 0))
        i++;
    if (i == sizeof map / sizeof map[0]) return 0;
    char arg[40] = "";
    if (strchr(map[i].q, '%')) {
        /* times 3, times(3), times(2, 4): the bounds, spaces dropped */
        long p = at + n, k = 0;
        while (p < len && p - at < 64 && (text[p] == ' ' || text[p] == '(')) p++;
        for (; p < len && k < (long)sizeof arg - 2 && ((text[p] >= '0' && text[p] <= '9') || text[p] == ',' ||
                                                     text[p] == ' '); p++)
            if (text[p] != ' ') arg[k++] = text[p];
        arg[k] = '\0';
        if (!k || arg[0] == ',' || arg[k - 1] == ',') return 0;
    }
    char q[48];
    if (strchr(map[i].q, '%')) snprintf(q, sizeof q, i == 2 ? "{%s}" : "{%s,}", arg);
    else snprintf(q, sizeof q, "%s", map[i].q);
    long ns, ne;
    if (step_before(text, at, &ns, &ne))
        sb_printf(b, "; Flink's %s() is a quantifier after the step's name: '%.*s%s'", map[i].m, (int)(ne - ns),
                  text + ns, q);
    else
        sb_printf(b, "; Flink's %s() is a quantifier after the step's name: 'STEP%s'", map[i].m, q);
    return 1;
}

/* Where a duration was meant: after `within` (also a step's gap) at the
 * unexpected token, or a number then a unit word in a condition
 * (`b.ts - a.ts < 5 minutes`). 1 when a hint was added. */
static int duration_slip(strbuf *b, const struct parse_ctx *ctx, const span *loc, yysymbol_kind_t tok,
                         const yysymbol_kind_t *exp, int nexp) {
    const char *t = ctx->text;
    long at = (long)loc->start, len = (long)ctx->len;
    if (expected(exp, nexp, YYSYMBOL_DURATION)) {
        if (tok == (yysymbol_kind_t)YYTRANSLATE('-')) {
            sb_puts(b, "; a duration is positive");
            return 1;
        }
        if (tok == YYSYMBOL_NAME) return flink_time_hint(b, t, at, len);
        return duration_hint(b, t, at, len, (long)loc->end);
    }
    if (tok == YYSYMBOL_DURATION) {
        /* `within 2h 30m` */
        long wend, w = word_before(t, at, &wend);
        return w >= 0 && t[w] >= '0' && t[w] <= '9' && duration_hint(b, t, w, len, (long)loc->end);
    }
    if (tok != YYSYMBOL_NAME) return 0;
    long n = at;
    while (n > 0 && (t[n - 1] == ' ' || t[n - 1] == '\t')) n--;
    long d = n;
    while (d > 0 && ((t[d - 1] >= '0' && t[d - 1] <= '9') || t[d - 1] == '.')) d--;
    if (d == n || (d > 0 && is_word_char(t[d - 1])) || t[d] < '0' || t[d] > '9') return 0;
    return duration_hint(b, t, d, len, (long)loc->end);
}

/* The steps without `begin` (`key u a where ...`, `start a`, `notNext
 * a`): the first step written after it. at: the unexpected name or
 * connector; the step is the next word when one follows, else it. */
static void begin_hint(strbuf *b, const struct parse_ctx *ctx, long at) {
    const char *text = ctx->text;
    long len = (long)ctx->len, e = at, n, ne;
    while (e < len && is_word_char(text[e])) e++;
    for (n = e; n < len && is_space(text[n]); n++) {}
    for (ne = n; ne < len && is_word_char(text[ne]); ne++) {}
    if (ctx->key_at >= 0 && ne - n == 5 && memcmp(text + n, "begin", 5) == 0) {
        /* `key user session begin`: a comma left out */
        sb_puts(b, "; key fields are separated by commas: 'key ");
        key_fields(b, text, ctx->key_at, at);
        sb_printf(b, ", %.*s'", (int)(e - at), text + at);
        return;
    }
    static const char *const kw[] = {"where", "next", "followedBy", "followedByAny", "notNext", "notFollowedBy",
                                     "within", "skip", "emit", "and", "or", "not", "in", "greedy", "until",
                                     "begin", "key", "pattern"};
    int named = ne > n && !(text[n] >= '0' && text[n] <= '9');
    for (size_t i = 0; named && i < sizeof kw / sizeof kw[0]; i++)
        if ((size_t)(ne - n) == strlen(kw[i]) && memcmp(text + n, kw[i], (size_t)(ne - n)) == 0) named = 0;
    if (!named) n = at, ne = e;
    if (ne - n > 60) return;
    sb_printf(b, "; the steps start with 'begin': 'begin %.*s'", (int)(ne - n), text + n);
}

/* `//`, slash-star or `--` at (or just before) at: another language's comment. */
static int comment_like(const char *text, long at, long len) {
    char c = text[at], next = at + 1 < len ? text[at + 1] : '\0', prev = at > 0 ? text[at - 1] : '\0';
    if (c == '/') return next == '/' || next == '*' || prev == '/';
    return next == '-' || prev == '-';
}

/* `x > 1 -- big one`: the error comes later on a line that holds `--`
 * or `//` (not after a quote or a regex operator, where they may be
 * text). */
static int comment_before(const char *text, long at) {
    long p = at;
    while (p > 0 && text[p - 1] != '\n' && at - p < 4096) p--;
    for (long i = p; i + 1 < at; i++) {
        if (text[i] == '"' || text[i] == '~') return 0;
        if ((text[i] == '-' && text[i + 1] == '-') || (text[i] == '/' && text[i + 1] == '/')) return 1;
    }
    return 0;
}

/* `where x > 1 and where y < 2`: the word before at is and/or. */
static int after_and_or(const char *src, long at) {
    long wend, w = word_before(src, at, &wend);
    return w >= 0 && ((wend - w == 3 && memcmp(src + w, "and", 3) == 0) || (wend - w == 2 && memcmp(src + w, "or", 2) == 0));
}

/* `emit a.ts, b.ts`: a value without its name. at: the '.'. */
static void emit_hint(strbuf *b, const char *text, long at, long len) {
    long wend, w = word_before(text, at, &wend), e = at, last = at + 1;
    if (w < 0 || wend != at) return;
    while (e < len && (is_word_char(text[e]) || text[e] == '.')) {
        if (text[e] == '.') last = e + 1;
        e++;
    }
    if (e == last || e - w > 60) return;
    sb_printf(b, "; each emitted value has a name: '%.*s = %.*s'", (int)(e - last), text + last, (int)(e - w),
              text + w);
}

/* The '(' still open when the parser wanted its ')': its offset, or -1. */
static long open_paren(yyscan_t scanner, const yysymbol_kind_t *exp, int nexp) {
    const struct lex_extra *x = cepyyget_extra(scanner);
    if (!expected(exp, nexp, (yysymbol_kind_t)YYTRANSLATE(')')) || x->nparen <= 0 || x->nparen > LEX_PARENS)
        return -1;
    return (long)x->paren[x->nparen - 1];
}

/* The keyword a misspelled name was probably meant to be, among the
 * expected tokens: case and one slip in three letters forgiven, and
 * Flink's method names (skipPastLastEvent, skipToNext) taken for ours,
 * and a keyword cut short (pastLast, consec: the shortest it begins). */
static const char *nearest_keyword(const char *name, size_t n, const yysymbol_kind_t *exp, int nexp,
                                   char *buf, size_t cap) {
    const char *cands[YYNTOKENS];
    char words[YYNTOKENS][32];
    size_t nc = 0;
    for (int i = 0; i < nexp; i++) {
        const char *a = yysymbol_name(exp[i]);
        size_t l = strlen(a);
        /* Keywords are the aliases written 'word'. */
        if (l < 3 || l - 2 >= sizeof words[0] || a[0] != '\'' || !((a[1] >= 'a' && a[1] <= 'z') || (a[1] >= 'A' && a[1] <= 'Z')))
            continue;
        memcpy(words[nc], a + 1, l - 2);
        words[nc][l - 2] = '\0';
        cands[nc] = words[nc];
        nc++;
    }
    const char *best = suggest_nearest(name, n, cands, nc);
    if (!best && n > 4 && strncmp(name, "skip", 4) == 0) {
        /* skipPastLastEvent -> pastLastEvent */
        char alt[64];
        size_t an = n - 4 < sizeof alt - 1 ? n - 4 : sizeof alt - 1;
        memcpy(alt, name + 4, an);
        alt[an] = '\0';
        if (alt[0] >= 'A' && alt[0] <= 'Z') alt[0] = (char)(alt[0] - 'A' + 'a');
        best = suggest_nearest(alt, an, cands, nc);
        if (!best)
            for (size_t i = 0; i < nc && !best; i++)
                if (strcmp(cands[i], alt) == 0) best = cands[i];
    }
    if (!best && n >= 4)
        for (size_t j = 0; j < nc; j++)
            if (strlen(cands[j]) > n && strncmp(cands[j], name, n) == 0 &&
                (!best || strlen(cands[j]) < strlen(best)))
                best = cands[j];
    if (!best) return NULL;
    snprintf(buf, cap, "%s", best);
    return buf;
}

/* "syntax error, unexpected X, expecting A or B" as bison words it (the
 * expected tokens when there are at most four), a name quoted, and a hint
 * for slips other languages teach: '=' for '==', a misspelled keyword. */
static int yyreport_syntax_error(const yypcontext_t *yyctx, yyscan_t scanner, struct parse_ctx *ctx) {
    enum { LISTED = 4 };
    yysymbol_kind_t exp[YYNTOKENS];
    int nexp = yypcontext_expected_tokens(yyctx, exp, YYNTOKENS);
    if (nexp < 0) return nexp;
    if (nexp == 1 && exp[0] == YYSYMBOL_YYEMPTY) nexp = 0;
    yysymbol_kind_t tok = yypcontext_token(yyctx);
    const span *loc = yypcontext_location(yyctx);
    long paren = ctx->text ? open_paren(scanner, exp, nexp) : -1;
    if (paren >= 0 && (tok == YYSYMBOL_YYEOF || tok == YYSYMBOL_KW_PATTERN)) {
        /* The slip is at the '(', not where the text ran out. */
        perr(ctx, CEP_DIAG_SYNTAX, (uint32_t)paren, "'(' is never closed: %s before its ')'",
             tok == YYSYMBOL_YYEOF ? "the file ends" : "the next pattern starts");
        return 0;
    }
    strbuf b = {0};
    sb_puts(&b, "syntax error");
    if (tok != YYSYMBOL_YYEMPTY) {
        sb_printf(&b, ", unexpected %s", yysymbol_name(tok));
        if (tok == YYSYMBOL_NAME && ctx->src && loc->end > loc->start && loc->end - loc->start < 80)
            sb_printf(&b, " '%.*s'", (int)(loc->end - loc->start), ctx->src + loc->start);
    }
    /* The five skip strategies are listed whole. */
    int skips = expected(exp, nexp, YYSYMBOL_KW_NO_SKIP) && nexp == 5;
    if (nexp > 0 && (nexp <= LISTED || skips)) {
        sb_puts(&b, ", expecting ");
        for (int i = 0; i < nexp; i++) {
            if (i) sb_puts(&b, " or ");
            sb_puts(&b, token_words(exp[i], nexp == 1));
        }
    } else if (expects_expression(exp, nexp)) {
        sb_puts(&b, ", expecting an expression");
    }
    char kw[40];
    size_t plain = b.len;
    if (ctx->text && duration_slip(&b, ctx, loc, tok, exp, nexp))
        ;
    else if (tok == YYSYMBOL_NAME && ctx->text && comment_before(ctx->text, (long)loc->start))
        sb_puts(&b, "; a comment starts with '#' and runs to the end of the line");
    else if (tok == YYSYMBOL_NAME && ctx->text &&
             flink_quant_hint(&b, ctx->text, (long)loc->start, (long)ctx->len, (long)(loc->end - loc->start)))
        ;
    else if (tok == YYSYMBOL_NAME && ctx->src &&
        nearest_keyword(ctx->src + loc->start, loc->end - loc->start, exp, nexp, kw, sizeof kw))
        sb_printf(&b, "; did you mean '%s'?", kw);
    else if (tok == (yysymbol_kind_t)YYTRANSLATE('='))
        sb_puts(&b, "; did you mean '=='?");
    else if (tok == YYSYMBOL_NAME && ctx->text &&
             name_hint(&b, ctx->text, (long)loc->start, (long)ctx->len, loc->end - loc->start, exp, nexp))
        ;
    else if ((tok == YYSYMBOL_NAME || tok == YYSYMBOL_KW_NEXT || tok == YYSYMBOL_KW_FOLLOWED_BY ||
              tok == YYSYMBOL_KW_FOLLOWED_BY_ANY || tok == YYSYMBOL_KW_NOT_NEXT || tok == YYSYMBOL_KW_NOT_FOLLOWED_BY) &&
             expected(exp, nexp, YYSYMBOL_KW_BEGIN) && ctx->text)
        begin_hint(&b, ctx, (long)loc->start);
    else if ((tok == (yysymbol_kind_t)YYTRANSLATE('/') || tok == (yysymbol_kind_t)YYTRANSLATE('-')) && ctx->text &&
             comment_like(ctx->text, (long)loc->start, (long)ctx->len))
        sb_puts(&b, "; a comment starts with '#' and runs to the end of the line");
    else if (tok == (yysymbol_kind_t)YYTRANSLATE('-') && ctx->src)
        hyphen_hint(&b, ctx->text, (long)loc->start, (long)ctx->len);
    else if (tok == YYSYMBOL_KW_KEY && ctx->key_at >= 0 && ctx->text)
        key_hint(&b, ctx, (long)loc->start);
    else if ((tok == YYSYMBOL_KW_KEY || tok == YYSYMBOL_KW_BEGIN || tok == YYSYMBOL_KW_WITHIN ||
              tok == YYSYMBOL_KW_SKIP || tok == YYSYMBOL_KW_EMIT) &&
             (expected(exp, nexp, YYSYMBOL_KW_EMIT) || expected(exp, nexp, YYSYMBOL_KW_PATTERN) ||
              expected(exp, nexp, YYSYMBOL_KW_BEGIN)) &&
             !(ctx->src && gap_hint(&b, ctx->src, (long)loc->start, tok)))
        sb_puts(&b, "; a pattern's clauses come in this order, each at most once: key, begin (its steps), within, "
                    "skip, emit");
    else if (ctx->text && quant_hint(&b, ctx->text, (long)loc->start, (long)ctx->len, tok, exp, nexp))
        ;
    else if (tok == (yysymbol_kind_t)YYTRANSLATE('.') && nexp == 1 && exp[0] == (yysymbol_kind_t)YYTRANSLATE('=') &&
             ctx->text)
        emit_hint(&b, ctx->text, (long)loc->start, (long)ctx->len);
    else if (ctx->src && tok != YYSYMBOL_YYEMPTY && gap_hint(&b, ctx->src, (long)loc->start, tok))
        ;
    else if (tok == YYSYMBOL_KW_WHERE && expected(exp, nexp, YYSYMBOL_KW_AND))
        sb_puts(&b, "; a step has one where: join its conditions with 'and'");
    else if (tok == YYSYMBOL_KW_WHERE && ctx->src && after_and_or(ctx->src, (long)loc->start))
        sb_puts(&b, "; a step has one where: drop this one ('and' and 'or' join its conditions)");
    if (paren >= 0 && b.len == plain && ctx->d) {
        int line = diag_line_at(ctx->d, (size_t)paren), col = diag_col_at(ctx->d, (size_t)paren);
        sb_printf(&b, "; is a %s missing? (the '(' at line %d, column %d is open)",
                  expected(exp, nexp, (yysymbol_kind_t)YYTRANSLATE(',')) ? "',' or a ')'" : "')'", line, col);
    }
    if (b.oom) {
        mem_free(b.p);
        ctx->oom = 1;
        diag_set_oom(ctx->d);
        return 0;
    }
    perr(ctx, CEP_DIAG_SYNTAX, loc->start, "%s", b.p);
    mem_free(b.p);
    return 0;
}

static void set_gap(ast_step *s, const within_clause *g) {
    s->has_gap = g->has;
    s->gap_ms = g->ms;
    s->gap_sp = g->sp;
}

static void *parse_stack_alloc(struct parse_ctx *ctx, size_t n) {
    void *p = mem_alloc(n);
    if (!p) ctx->oom = 1;
    return p;
}

static void perr(struct parse_ctx *ctx, int code, uint32_t off,
                 const char *fmt, ...) {
    char msg[400];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    ctx->nerr++;
    if (ctx->d) diag_add(ctx->d, code, off, "%s", msg);
}

static void cepyyerror(CEPYYLTYPE *loc, yyscan_t scanner,
                       struct parse_ctx *ctx, const char *msg) {
    (void)scanner;
    if (!strcmp(msg, "memory exhausted")) {
        /* Bison says this for a failed allocation and for YYMAXDEPTH. */
        ctx->nerr++;
        if (ctx->oom)
            diag_set_oom(ctx->d);
        else if (ctx->d)
            diag_add(ctx->d, CEP_DIAG_LIMIT, loc->start, "nesting too deep");
        return;
    }
    perr(ctx, CEP_DIAG_SYNTAX, loc->start, "%s", msg);
}

static ast_expr *mk(struct parse_ctx *ctx, expr_kind kind, span sp) {
    ast_expr *e = ast_expr_new(kind, sp);
    if (!e) ctx->oom = 1;
    return e;
}

/* Takes a and b; frees them when it cannot build the node. */
static ast_expr *mk_op(struct parse_ctx *ctx, expr_kind kind, expr_op op,
                       ast_expr *a, ast_expr *b, span sp) {
    ast_expr *e = mk(ctx, kind, sp);
    if (!e) {
        ast_expr_free(a);
        ast_expr_free(b);
        return NULL;
    }
    e->op = op;
    e->a = a;
    e->b = b;
    return cap_height(ctx, e, b ? b->sp.start : sp.start);
}

/* Sets e's height; past AST_MAX_EXPR_HEIGHT reports the error (at byte at,
 * once per pattern) and puts e's left operand in its place (a null leaf
 * when it has none), so that the tree the parser goes on building stays
 * shallow and keeps its type (no follow-on errors). Takes e; NULL on
 * out-of-memory. */
static ast_expr *cap_height(struct parse_ctx *ctx, ast_expr *e, uint32_t at) {
    uint32_t h = 0;
    if (e->a && e->a->height > h) h = e->a->height;
    if (e->b && e->b->height > h) h = e->b->height;
    for (const ast_expr *x = e->args; x; x = x->next)
        if (x->height > h) h = x->height;
    e->height = h + 1;
    if (e->height <= AST_MAX_EXPR_HEIGHT) return e;
    if (!ctx->deep_reported) {
        ctx->deep_reported = 1;
        perr(ctx, CEP_DIAG_LIMIT, at,
             "expression too deep: more than %d levels of operators (each term of a chain "
             "like `a + b + c` is one); split it, or use `in (...)` for many alternatives",
             AST_MAX_EXPR_HEIGHT);
    } else {
        ctx->nerr++;
    }
    ast_expr *keep = e->a && e->a->height < AST_MAX_EXPR_HEIGHT ? e->a : NULL;
    if (keep) {
        e->a = NULL;
    } else if (!(keep = mk(ctx, EX_NULL, e->sp))) {
        ast_expr_free(e);
        return NULL;
    }
    ast_expr_free(e);
    return keep;
}

/* An integer literal; 2^63 is remembered until a unary minus claims it
 * (ast_parse reports those left over). */
static ast_expr *mk_int(struct parse_ctx *ctx, tok_int v, span sp) {
    ast_expr *e = mk(ctx, EX_INT, sp);
    if (!e) return NULL;
    e->ival = v.v;
    if (v.big) {
        if (mem_grow((void **)&ctx->big, &ctx->capbig, ctx->nbig + 1,
                     sizeof *ctx->big) != 0) {
            ctx->oom = 1;
            ast_expr_free(e);
            return NULL;
        }
        ctx->big[ctx->nbig].node = e;
        ctx->big[ctx->nbig].sp = sp;
        ctx->nbig++;
    }
    return e;
}

/* Claims a pending 2^63 literal; matched by node and span because a node
 * freed during error recovery may have its address reused. */
static int claim_big(struct parse_ctx *ctx, const ast_expr *e) {
    for (size_t i = 0; i < ctx->nbig; i++) {
        if (ctx->big[i].node == e && ctx->big[i].sp.start == e->sp.start &&
            ctx->big[i].sp.end == e->sp.end) {
            ctx->big[i] = ctx->big[--ctx->nbig];
            return 1;
        }
    }
    return 0;
}

/* Unary minus, folded into numeric literals (so -9223372036854775808 is
 * one literal and the dump shows -3 rather than (neg 3)). */
static ast_expr *mk_neg(struct parse_ctx *ctx, ast_expr *a, span sp) {
    if (a->kind == EX_INT && claim_big(ctx, a)) {
        a->sp = sp; /* ival already holds INT64_MIN */
        return a;
    }
    if (a->kind == EX_INT && a->ival != INT64_MIN) {
        a->ival = -a->ival;
        a->sp = sp;
        return a;
    }
    if (a->kind == EX_DOUBLE) {
        a->dval = -a->dval;
        a->sp = sp;
        return a;
    }
    return mk_op(ctx, EX_UNARY, OP_NEG, a, NULL, sp);
}

/* A quantifier bound or step index: 2^63 does not fit. */
static int64_t quant_bound(struct parse_ctx *ctx, tok_int v, span sp) {
    if (v.big) {
        perr(ctx, CEP_DIAG_RANGE, sp.start, "integer literal out of range");
        return INT64_MAX;
    }
    return v.v;
}

/* NAME(args): an aggregate for count/sum/avg/min/max, else a call. Takes
 * name and args. A malformed aggregate is reported and becomes null so
 * that later passes see a well-formed tree. */
static ast_expr *mk_call(struct parse_ctx *ctx, char *name, span name_sp,
                         expr_list args, span args_sp, span sp) {
    expr_op agg = ast_aggregate(name);
    if (agg != OP_NONE) {
        ast_expr *a = args.head;
        int is_count = agg == AGG_COUNT;
        /* count(step); sum(step.field...): the path's first part is the
         * step. */
        int ok = args.n == 1 &&
                 (is_count ? a->kind == EX_FIELD && a->npath == 1
                           : a->kind == EX_FIELD && a->npath >= 2 && a->head);
        ast_expr *e = mk(ctx, ok ? EX_AGG : EX_NULL, sp);
        if (!e) {
            mem_free(name);
            ast_expr_free(args.head);
            return NULL;
        }
        if (!ok) {
            /* The argument as written, to show the form meant. */
            int one = args.n == 1 && a->kind == EX_FIELD && a->name && strlen(a->name) < 64;
            if (is_count && one && a->npath >= 2 && a->head)
                perr(ctx, CEP_DIAG_SYNTAX, args_sp.start, "count takes a step name: count(step); did you mean "
                     "'count(%s)'?", a->head);
            else if (is_count)
                perr(ctx, CEP_DIAG_SYNTAX, args_sp.start,
                     "count takes a step name: count(step)");
            else if (one && a->npath == 1)
                perr(ctx, CEP_DIAG_SYNTAX, args_sp.start, "%s takes a step field: %s(step.field), e.g. "
                     "%s(STEP.%s), or %s(%s.FIELD) if %s is a step", name, name, name, a->name, name, a->name,
                     a->name);
            else
                perr(ctx, CEP_DIAG_SYNTAX, args_sp.start,
                     "%s takes a step field: %s(step.field)", name, name);
        } else {
            e->op = agg;
            if (is_count) {
                e->step = a->name; /* count(step): the "field" is the step */
                e->step_sp = a->name_sp;
                a->name = NULL;
            } else {
                fpath fp;
                char *rest = NULL;
                if (fpath_parse(a->name, strlen(a->name), &fp) == 0 &&
                    !(rest = fpath_text(&fp, 1))) {
                    ctx->oom = 1;
                    mem_free(name);
                    ast_expr_free(args.head);
                    ast_expr_free(e);
                    return NULL;
                }
                e->step = a->head;
                e->step_sp = a->step_sp;
                e->name = rest;
                e->name_sp = a->name_sp;
                a->head = NULL;
            }
        }
        mem_free(name);
        ast_expr_free(args.head);
        return e;
    }
    ast_expr *e = mk(ctx, EX_CALL, sp);
    if (!e) {
        mem_free(name);
        ast_expr_free(args.head);
        return NULL;
    }
    e->name = name;
    e->name_sp = name_sp;
    e->args = args.head;
    e->nargs = args.n;
    return cap_height(ctx, e, args_sp.start);
}

static ast_step *mk_step(struct parse_ctx *ctx, span sp) {
    ast_step *s = ast_step_new(sp);
    if (!s) ctx->oom = 1;
    return s;
}

static ast_mod *mk_mod(struct parse_ctx *ctx, mod_kind kind, span sp) {
    ast_mod *m = ast_mod_new(kind, sp);
    if (!m) ctx->oom = 1;
    return m;
}

int ast_parse(const char *text, size_t len, struct cep_diag *d,
              ast_pattern **out) {
    struct lex_extra x;
    struct parse_ctx ctx;
    yyscan_t scanner;

    *out = NULL;
    /* Spans are 32-bit; two more bytes for flex's end-of-buffer marks. */
    if (len > UINT32_MAX - 2) {
        if (d) diag_add(d, CEP_DIAG_LIMIT, 0, "pattern text too long");
        return -1;
    }
    char *buf = mem_alloc(len + 2);
    if (!buf) {
        diag_set_oom(d);
        return -1;
    }
    if (len) memcpy(buf, text, len);
    buf[len] = buf[len + 1] = '\0';

    memset(&x, 0, sizeof x);
    x.d = d;
    memset(&ctx, 0, sizeof ctx);
    ctx.d = d;
    ctx.src = buf;
    ctx.text = text;
    ctx.len = len;
    ctx.tail = &ctx.head;
    ctx.key_at = -1;
    if (cepyylex_init_extra(&x, &scanner) != 0) {
        mem_free(buf);
        diag_set_oom(d);
        return -1;
    }
    /* Flex calls its fatal-error hook (which jumps here) when an
     * allocation fails. Only the setup below allocates: scanning a buffer
     * in memory does not. */
    if (setjmp(x.jb)) {
        cepyylex_destroy(scanner);
        mem_free(buf);
        diag_set_oom(d);
        return -1;
    }
    /* Grow flex's buffer stack before it holds a buffer, so that a failed
     * allocation cannot strand the buffer object. */
    cepyy_switch_to_buffer(NULL, scanner);
    cepyy_switch_to_buffer(NULL, scanner);
    cepyy_scan_buffer(buf, len + 2, scanner);

    int rc = cepyyparse(scanner, &ctx);

    for (size_t i = 0; i < ctx.nbig; i++)
        perr(&ctx, CEP_DIAG_RANGE, ctx.big[i].sp.start,
             "integer literal out of range");
    cepyylex_destroy(scanner);
    mem_free(buf);
    mem_free(ctx.big);
    if (x.oom || ctx.oom) diag_set_oom(d);
    *out = ctx.head;
    return rc != 0 || ctx.nerr || x.nerr || x.oom || ctx.oom ? -1 : 0;
}
