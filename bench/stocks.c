/* stocks.c — W9's stream (stocks.h): gen_stocks.py in C. Python's random
 * module is MT19937 seeded by init_by_array with the seed's 32-bit words;
 * random() takes 27 + 26 bits of two outputs; choice and randrange draw
 * k = bit_length(n) bits and retry above n. */
#include "stocks.h"

#include <stdio.h>
#include <stdlib.h>

static void mt_seed(stocks_gen *g, uint32_t s) {
    g->mt[0] = s;
    for (int i = 1; i < 624; i++) g->mt[i] = 1812433253u * (g->mt[i - 1] ^ (g->mt[i - 1] >> 30)) + (uint32_t)i;
    g->mti = 624;
}

/* Python's random.seed(n) for 0 <= n < 2^32: init_by_array([n]). */
static void mt_seed_array(stocks_gen *g, uint32_t key) {
    mt_seed(g, 19650218u);
    uint32_t *mt = g->mt;
    int i = 1;
    for (int k = 624; k; k--) {
        mt[i] = (mt[i] ^ ((mt[i - 1] ^ (mt[i - 1] >> 30)) * 1664525u)) + key;
        i++;
        if (i >= 624) mt[0] = mt[623], i = 1;
    }
    for (int k = 623; k; k--) {
        mt[i] = (mt[i] ^ ((mt[i - 1] ^ (mt[i - 1] >> 30)) * 1566083941u)) - (uint32_t)i;
        i++;
        if (i >= 624) mt[0] = mt[623], i = 1;
    }
    mt[0] = 0x80000000u;
}

static uint32_t mt_u32(stocks_gen *g) {
    uint32_t *mt = g->mt, y;
    if (g->mti >= 624) {
        for (int k = 0; k < 624; k++) {
            y = (mt[k] & 0x80000000u) | (mt[(k + 1) % 624] & 0x7fffffffu);
            mt[k] = mt[(k + 397) % 624] ^ (y >> 1) ^ (y & 1 ? 0x9908b0dfu : 0);
        }
        g->mti = 0;
    }
    y = mt[g->mti++];
    y ^= y >> 11;
    y ^= (y << 7) & 0x9d2c5680u;
    y ^= (y << 15) & 0xefc60000u;
    return y ^ (y >> 18);
}

static double py_random(stocks_gen *g) {
    uint32_t a = mt_u32(g) >> 5, b = mt_u32(g) >> 6;
    return ((double)a * 67108864.0 + (double)b) * (1.0 / 9007199254740992.0);
}

/* random._randbelow(n), 0 < n < 2^32. */
static uint32_t py_below(stocks_gen *g, uint32_t n) {
    int k = 0;
    while (k < 32 && (n >> k)) k++;
    uint32_t r;
    do r = mt_u32(g) >> (32 - k);
    while (r >= n);
    return r;
}

static const struct {
    const char *name;
    double lo, hi;
} tickers[10] = {{"MSFT", 20, 32}, {"ORCL", 8, 14},   {"CSCO", 15, 25},  {"AMAT", 15, 22},  {"INTC", 18, 30},
                 {"IBM", 80, 120}, {"AAPL", 100, 200}, {"GOOG", 400, 600}, {"QCOM", 30, 50}, {"DELL", 10, 20}};

void stocks_init(stocks_gen *g, uint32_t seed, int64_t step) {
    mt_seed_array(g, seed);
    g->i = 0;
    g->step = step;
}

void stocks_next(stocks_gen *g, stock_ev *e) {
    e->type = py_random(g) < 0.5 ? "BUY" : "SELL";
    uint32_t t = py_below(g, 10);
    double lo = tickers[t].lo, hi = tickers[t].hi;
    double x = lo + (hi - lo) * py_random(g);
    /* round(x, 2): glibc prints the exact binary value correctly rounded,
     * as Python's round does, and reading it back gives the nearest double. */
    char buf[64];
    snprintf(buf, sizeof buf, "%.2f", x);
    e->price = strtod(buf, NULL);
    e->name = tickers[t].name;
    e->volume = 1 + (int64_t)py_below(g, 9999);
    e->id = (int64_t)g->i;
    e->stock_time = (int64_t)(g->i + 1) * g->step;
    g->i++;
}
