/* errors.c — the text of every CEP_E* code, from the one list in cepheus.h. */
#include "cepheus.h"

CEP_API const char *cep_strerror(int code) {
    switch (code) {
#define CEP_ERROR_CASE_(name, value, msg) \
    case value:                           \
        return msg;
        CEP_ERRORS(CEP_ERROR_CASE_)
#undef CEP_ERROR_CASE_
    }
    return "unknown error";
}
