/* plugin.c — `--load MODULE`: a shared object that registers functions
 * (cep_compiler_add_function) for the pattern files the tool compiles, so
 * that rules calling functions registered from C can be checked, tested
 * and run by the tool too (docs/testing.md, "Functions registered from C").
 * The module exports `int cep_plugin_register(cep_compiler *c)`; every
 * compile of the tool then uses the compiler it filled. */
#include "config.h"

#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

static cep_compiler *comp; /* NULL until a module is loaded */

const cep_compiler *cli_compiler(void) { return comp; }

static void free_compiler(void) { cep_compiler_free(comp); }

int cli_load_plugin(const char *path) {
    if (!comp) {
        if (cep_compiler_new(&comp) != CEP_OK) return fail(EXIT_INTERNAL, "out of memory");
        atexit(free_compiler);
    }
    /* dlopen searches the library path for a name without a slash; a user
     * who writes `--load distance.so` means the file here. */
    char *p = NULL;
    if (!strchr(path, '/')) {
        p = malloc(strlen(path) + 3);
        if (!p) return fail(EXIT_INTERNAL, "out of memory");
        strcpy(p, "./");
        strcat(p, path);
    }
    /* Never closed: the functions registered live as long as the tool. */
    void *h = dlopen(p ? p : path, RTLD_NOW | RTLD_LOCAL);
    free(p);
    if (!h) return fail(EXIT_USAGE, "cannot load '%s': %s", path, dlerror());
    int (*reg)(cep_compiler *);
    *(void **)&reg = dlsym(h, "cep_plugin_register");
    if (!reg)
        return fail(EXIT_USAGE, "cannot load '%s': it has no function cep_plugin_register", path);
    int rc = reg(comp);
    if (rc != CEP_OK)
        return fail(EXIT_USAGE, "cannot load '%s': cep_plugin_register failed: %s", path,
                    cep_strerror(rc));
    return EXIT_OK;
}
