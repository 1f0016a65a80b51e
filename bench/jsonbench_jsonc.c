/* jsonbench_jsonc.c — json-c's reader for bench/jsonbench.c, apart from the
 * rest because json-c and jansson declare the same names. */
#include "config.h"
#include "jsonbench.h"

#include <string.h>
#ifdef HAVE_JSONC
#include <json-c/json.h>

void *jb_jsonc_new(void) { return json_tokener_new(); }

void jb_jsonc_free(void *tok) { json_tokener_free(tok); }

int jb_jsonc(void *tokp, const char *text, size_t len, void *ud) {
    json_tokener *tok = tokp;
    json_tokener_reset(tok);
    struct json_object *root = json_tokener_parse_ex(tok, text, (int)len);
    if (!root || json_tokener_get_error(tok) != json_tokener_success ||
        !json_object_is_type(root, json_type_object)) {
        json_object_put(root);
        return -1;
    }
    json_object_object_foreach(root, key, v) {
        jb_member m = {.key = key, .klen = strlen(key)};
        switch (json_object_get_type(v)) {
        case json_type_null: m.kind = M_NULL; break;
        case json_type_boolean: m.kind = M_BOOL, m.i = json_object_get_boolean(v); break;
        case json_type_int: m.kind = M_INT, m.i = json_object_get_int64(v); break;
        case json_type_double: m.kind = M_DOUBLE, m.d = json_object_get_double(v); break;
        case json_type_string:
            m.kind = M_STRING, m.s = json_object_get_string(v), m.slen = (size_t)json_object_get_string_len(v);
            break;
        default: m.kind = M_NESTED; break;
        }
        jb_on_member(ud, &m);
    }
    json_object_put(root);
    return 0;
}
#endif
