/* distance.h — the impossible_travel example's user function, shared by
 * travel (which registers it itself) and distance.so (loaded by `cepheus
 * run|check|test --load`, which calls cep_plugin_register). */
#ifndef DISTANCE_H
#define DISTANCE_H

#include <cepheus.h>

/* distance_km(lat1, lon1, lat2, lon2): great-circle distance in km. */
int distance_km(void *ud, int argc, const cep_value *argv, cep_value *out);

/* Registers distance_km with c: what `--load distance.so` calls. */
int cep_plugin_register(cep_compiler *c);

#endif
