// jsonbench_simdjson.cpp — the C++ shim that lets bench/jsonbench.c time
// simdjson (Debian's libsimdjson-dev): its DOM parser, which validates the
// whole document, and its On-Demand front end, which validates only what the
// caller reads. Each top-level member goes to jb_on_member, as for the C
// libraries. Built only by `make bench-json` when configure found simdjson,
// with -march=native: On-Demand's kernel is chosen at compile time, and the
// generic x86-64 target gets its scalar fallback.
#include "jsonbench.h"

#include <simdjson.h>

struct jb_simdjson {
    simdjson::dom::parser dom;
    simdjson::ondemand::parser od;
};

extern "C" void *jb_simdjson_new(void) { return new (std::nothrow) jb_simdjson(); }

extern "C" void jb_simdjson_free(void *p) { delete static_cast<jb_simdjson *>(p); }

extern "C" int jb_simdjson_dom(void *p, const char *text, size_t len, void *ud) {
    jb_simdjson *s = static_cast<jb_simdjson *>(p);
    simdjson::dom::element doc;
    // realloc_if_needed = false: the caller guarantees the padding.
    if (s->dom.parse(text, len, false).get(doc)) return -1;
    simdjson::dom::object obj;
    if (doc.get_object().get(obj)) return -1;
    for (auto field : obj) {
        jb_member m = {};
        m.key = field.key.data();
        m.klen = field.key.size();
        simdjson::dom::element v = field.value;
        switch (v.type()) {
        case simdjson::dom::element_type::NULL_VALUE: m.kind = M_NULL; break;
        case simdjson::dom::element_type::BOOL:
            m.kind = M_BOOL;
            m.i = bool(v.get_bool().value_unsafe());
            break;
        case simdjson::dom::element_type::INT64:
            m.kind = M_INT;
            m.i = v.get_int64().value_unsafe();
            break;
        case simdjson::dom::element_type::UINT64:
            m.kind = M_DOUBLE;
            m.d = double(v.get_uint64().value_unsafe());
            break;
        case simdjson::dom::element_type::DOUBLE:
            m.kind = M_DOUBLE;
            m.d = v.get_double().value_unsafe();
            break;
        case simdjson::dom::element_type::STRING: {
            std::string_view sv = v.get_string().value_unsafe();
            m.kind = M_STRING;
            m.s = sv.data();
            m.slen = sv.size();
            break;
        }
        default: m.kind = M_NESTED; break;
        }
        jb_on_member(ud, &m);
    }
    return 0;
}

extern "C" int jb_simdjson_ondemand(void *p, const char *text, size_t len, void *ud) {
    jb_simdjson *s = static_cast<jb_simdjson *>(p);
    simdjson::ondemand::document doc;
    if (s->od.iterate(text, len, len + simdjson::SIMDJSON_PADDING).get(doc)) return -1;
    simdjson::ondemand::object obj;
    if (doc.get_object().get(obj)) return -1;
    for (auto field : obj) {
        jb_member m = {};
        std::string_view key;
        if (field.unescaped_key().get(key)) return -1;
        m.key = key.data();
        m.klen = key.size();
        simdjson::ondemand::value v;
        if (field.value().get(v)) return -1;
        simdjson::ondemand::json_type t;
        if (v.type().get(t)) return -1;
        switch (t) {
        case simdjson::ondemand::json_type::null: m.kind = M_NULL; break;
        case simdjson::ondemand::json_type::boolean: {
            bool b;
            if (v.get_bool().get(b)) return -1;
            m.kind = M_BOOL;
            m.i = b;
            break;
        }
        case simdjson::ondemand::json_type::number: {
            simdjson::ondemand::number n;
            if (v.get_number().get(n)) return -1;
            if (n.is_int64()) {
                m.kind = M_INT;
                m.i = n.get_int64();
            } else {
                m.kind = M_DOUBLE;
                m.d = n.as_double();
            }
            break;
        }
        case simdjson::ondemand::json_type::string: {
            std::string_view sv;
            if (v.get_string().get(sv)) return -1;
            m.kind = M_STRING;
            m.s = sv.data();
            m.slen = sv.size();
            break;
        }
        default:
            // Skipped without being validated: On-Demand's trade-off.
            m.kind = M_NESTED;
            break;
        }
        jb_on_member(ud, &m);
    }
    return 0; // (3.0.1 has no document::at_end: trailing text goes unseen)
}
