/* match.c — read access to a match while the match callback runs. */
#include "config.h"
#include "engine.h"

static const cep_value null_value = {.type = CEP_NULL};

CEP_API const char *cep_match_pattern(const cep_match *m) { return m ? m->pat->name : NULL; }
CEP_API size_t cep_match_pattern_index(const cep_match *m) { return m ? m->pattern_index : 0; }
CEP_API size_t cep_match_key_count(const cep_match *m) { return m ? m->nkeys : 0; }

CEP_API cep_value cep_match_key(const cep_match *m, size_t i) {
    if (!m || i >= m->nkeys) return null_value;
    return event_value(m->keyev, m->pat->key_slots[i]);
}

CEP_API int64_t cep_match_start(const cep_match *m) { return m ? m->start : 0; }
CEP_API int64_t cep_match_end(const cep_match *m) { return m ? m->end : 0; }
CEP_API size_t cep_match_step_count(const cep_match *m) { return m ? m->pat->nsteps : 0; }

CEP_API const char *cep_match_step_name(const cep_match *m, size_t step) {
    return m && step < m->pat->nsteps ? m->pat->steps[step].name : NULL;
}

CEP_API size_t cep_match_event_count(const cep_match *m, size_t step) {
    if (!m || step >= m->pat->nsteps) return 0;
    return m->step_off[step + 1] - m->step_off[step];
}

CEP_API const cep_event *cep_match_event(const cep_match *m, size_t step, size_t i) {
    /* (not through cep_match_event_count: an exported call, per event read) */
    if (!m || step >= m->pat->nsteps || i >= m->step_off[step + 1] - m->step_off[step]) return NULL;
    return m->events[m->step_off[step] + i];
}

CEP_API int cep_match_is_timeout(const cep_match *m) { return m ? m->timeout : 0; }

CEP_API size_t cep_match_field_count(const cep_match *m) { return m && !m->timeout ? m->pat->nemit : 0; }

CEP_API const char *cep_match_field_name(const cep_match *m, size_t i) {
    return m && i < m->pat->nemit ? m->pat->emit_names[i] : NULL;
}

CEP_API cep_value cep_match_field(const cep_match *m, size_t i) {
    if (!m || i >= m->pat->nemit) return null_value;
    return m->fields[i];
}
