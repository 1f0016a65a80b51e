/* stocks.h — W9's stream: ../shared/peers/core/gen_stocks.py's synthetic
 * stock ticks (CORE's stocks schema), event for event, so that the C API
 * benchmark finds the match counts `cepheus run` and CORE find on that
 * script's files. Python's Mersenne Twister and its random(), choice(),
 * randrange() and uniform(), reproduced. */
#ifndef CEPBENCH_STOCKS_H
#define CEPBENCH_STOCKS_H

#include <stdint.h>

typedef struct stocks_gen {
    uint32_t mt[624];
    int mti;
    uint64_t i;   /* events so far */
    int64_t step; /* stock_time grows by this much per event */
} stocks_gen;

typedef struct stock_ev {
    const char *type; /* "BUY" or "SELL" */
    const char *name; /* ticker */
    int64_t id, volume, stock_time;
    double price;     /* rounded to cents as Python's round(x, 2) */
} stock_ev;

/* gen_stocks.py N STEP SEED: the same seed gives the same events. */
void stocks_init(stocks_gen *g, uint32_t seed, int64_t step);
void stocks_next(stocks_gen *g, stock_ev *e);

#endif
