/*
 * borealis_core.h - code unique to the fictional "borealis" toolkit.
 *
 * BENIGN DEMO CODE: part of the attributor demo corpus.
 */
#ifndef DEMO_BOREALIS_CORE_H
#define DEMO_BOREALIS_CORE_H

#include <stdint.h>

typedef struct {
    uint8_t m[4][4];
    uint32_t lcg;
} borealis_state;

void borealis_init(borealis_state *st, uint32_t seed);
void borealis_mix_columns(borealis_state *st);
uint32_t borealis_fingerprint(const borealis_state *st);
unsigned borealis_jitter(borealis_state *st, unsigned base_s, unsigned spread_pct);
int borealis_dispatch(borealis_state *st, int opcode, int arg);

#endif
