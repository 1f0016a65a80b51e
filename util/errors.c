/* errors.c — the text and name of every CEP_E* code, from the one list in
 * cepheus.h, and the library's version. */
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

CEP_API const char *cep_err_name(int code) {
    switch (code) {
#define CEP_ERROR_NAME_(name, value, msg) \
    case value:                           \
        return #name;
        CEP_ERRORS(CEP_ERROR_NAME_)
#undef CEP_ERROR_NAME_
    }
    return "CEP_EUNKNOWN";
}

CEP_API const char *cep_version(void) { return CEP_VERSION; }

CEP_API int cep_version_number(void) { return CEP_VERSION_NUMBER; }
