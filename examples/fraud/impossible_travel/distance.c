/* distance.c — the user function of the impossible_travel example:
 * distance_km(lat1, lon1, lat2, lon2). travel.c registers it with
 * cep_compiler_add_function; built as the module distance.so, it is what
 * `cepheus test --load distance.so` (and run, check) calls
 * cep_plugin_register for, so the tool can check, test and run the rule. */
#include <math.h>

#include "distance.h"

/* ---- the user function ---------------------------------------------- */

static int number(cep_value v, double *out)
{
    if (v.type == CEP_INT)
        *out = (double)v.u.i;
    else if (v.type == CEP_DOUBLE)
        *out = v.u.d;
    else
        return -1;
    return 0;
}

/* Great-circle distance in kilometres (haversine, mean Earth radius).
 * A missing or non-numeric coordinate is an error: the call is null, so a
 * condition using it is false rather than matching on garbage. */
int distance_km(void *ud, int argc, const cep_value *argv, cep_value *out)
{
    (void)ud;
    (void)argc; /* registered with exactly 4 arguments */
    double c[4];
    for (int i = 0; i < 4; i++)
        if (number(argv[i], &c[i]) < 0)
            return CEP_EINVAL;
    const double rad = 3.14159265358979323846 / 180.0;
    double dlat = (c[2] - c[0]) * rad, dlon = (c[3] - c[1]) * rad;
    double h = sin(dlat / 2) * sin(dlat / 2) +
               cos(c[0] * rad) * cos(c[2] * rad) * sin(dlon / 2) * sin(dlon / 2);
    out->type = CEP_DOUBLE;
    out->u.d = 2 * 6371.0 * asin(sqrt(h > 1 ? 1 : h));
    return CEP_OK;
}

/* The module's entry point: the tool calls it with the compiler it uses for
 * every pattern file, before compiling. */
int cep_plugin_register(cep_compiler *c)
{
    return cep_compiler_add_function(c, "distance_km", 4, distance_km, NULL);
}
