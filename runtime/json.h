/* json.h — reading one JSON object into an event row (the implementation
 * of cep_event_parse_json, on top of yajl 2). The parser state lives in
 * cep_event.json so that steady-state parsing allocates nothing. */
#ifndef CEP_JSON_H
#define CEP_JSON_H

/* Deepest nesting of objects and arrays an event may have (the top-level
 * object counts as 1); deeper text fails with CEP_ETOODEEP. */
#define JSON_MAX_DEPTH 64

/* Free the parser state kept in cep_event.json (called by cep_event_free).
 * NULL is a no-op. */
void json_state_free(void *state);

#endif
