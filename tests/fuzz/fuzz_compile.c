/* fuzz_compile.c — libFuzzer target for the pattern compiler: arbitrary
 * bytes as pattern text through cep_compile, then (when it compiles) the
 * accessors and both explain renderings; cep_lint's warnings; cep_format,
 * which must be idempotent. Built and run by `make fuzz`. */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "cepheus.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    cep_program *prog = NULL;
    cep_diag *diag = NULL;
    int rc = cep_compile(NULL, (const char *)data, size, "fuzz", &prog, &diag);
    if (diag) {
        /* Render and walk every diagnostic: carets over arbitrary text. */
        (void)cep_diag_render(diag);
        for (size_t i = 0; i < cep_diag_count(diag); i++) {
            (void)cep_diag_code(diag, i);
            (void)cep_diag_line(diag, i);
            (void)cep_diag_column(diag, i);
            (void)cep_diag_message(diag, i);
        }
    }
    if (rc == CEP_OK && prog) {
        for (size_t i = 0; i < cep_program_pattern_count(prog); i++)
            (void)cep_program_pattern_name(prog, i);
        for (size_t i = 0; i < cep_program_field_count(prog); i++)
            (void)cep_program_field_slot(prog, cep_program_field_name(prog, i));
        for (int dot = 0; dot <= 1; dot++) {
            char *text = NULL;
            if (cep_program_explain(prog, dot, &text) == CEP_OK) cep_free(text);
        }
    }
    cep_program_free(prog);
    cep_diag_free(diag);

    diag = NULL;
    if (cep_lint(NULL, (const char *)data, size, "fuzz", &diag) == CEP_OK) {
        for (size_t i = 0; i < cep_diag_count(diag); i++) {
            char *one = cep_diag_render_one(diag, i, 1);
            cep_free(one);
        }
        (void)cep_diag_render(diag);
    }
    cep_diag_free(diag);

    /* The layout: idempotent (it refuses rather than change a tree). */
    char *once = NULL, *twice = NULL;
    diag = NULL;
    int frc = cep_format((const char *)data, size, "fuzz", &once, &diag);
    if (frc == CEP_OK) {
        if (cep_format(once, strlen(once), "fuzz", &twice, NULL) != CEP_OK || strcmp(once, twice) != 0)
            __builtin_trap();
    }
    /* A file it parsed but could not lay out unchanged: a formatter bug. */
    for (size_t i = 0; frc == CEP_EPATTERN && i < cep_diag_count(diag); i++)
        if (cep_diag_code(diag, i) == CEP_DIAG_UNSUPPORTED) __builtin_trap();
    cep_diag_free(diag);
    cep_free(once);
    cep_free(twice);
    return 0;
}
