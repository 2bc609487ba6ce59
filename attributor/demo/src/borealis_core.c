/*
 * borealis_core.c - code unique to the fictional "borealis" toolkit: a 4x4 byte mixing
 * state, a jittered schedule and a dense command dispatcher (compiles to a jump table).
 *
 * BENIGN DEMO CODE: part of the attributor demo corpus. The "commands" only change numbers
 * inside the state structure.
 */
#include "borealis_core.h"

#define BOREALIS_LCG_A 1103515245u
#define BOREALIS_LCG_C 12345u

static uint8_t borealis_xtime(uint8_t x)
{
    return (uint8_t)((x << 1) ^ ((x & 0x80) ? 0x1D : 0x00));
}

void borealis_init(borealis_state *st, uint32_t seed)
{
    int r, c;
    st->lcg = seed ^ 0xB0BEA115u;
    for (r = 0; r < 4; r++) {
        for (c = 0; c < 4; c++) {
            st->lcg = st->lcg * BOREALIS_LCG_A + BOREALIS_LCG_C;
            st->m[r][c] = (uint8_t)(st->lcg >> 16);
        }
    }
}

/* A MixColumns-shaped diffusion step over GF(2^8) with our own reduction polynomial. */
void borealis_mix_columns(borealis_state *st)
{
    int c;
    for (c = 0; c < 4; c++) {
        uint8_t a0 = st->m[0][c], a1 = st->m[1][c], a2 = st->m[2][c], a3 = st->m[3][c];
        uint8_t t = (uint8_t)(a0 ^ a1 ^ a2 ^ a3);
        st->m[0][c] = (uint8_t)(a0 ^ t ^ borealis_xtime((uint8_t)(a0 ^ a1)));
        st->m[1][c] = (uint8_t)(a1 ^ t ^ borealis_xtime((uint8_t)(a1 ^ a2)));
        st->m[2][c] = (uint8_t)(a2 ^ t ^ borealis_xtime((uint8_t)(a2 ^ a3)));
        st->m[3][c] = (uint8_t)(a3 ^ t ^ borealis_xtime((uint8_t)(a3 ^ a0)));
    }
}

uint32_t borealis_fingerprint(const borealis_state *st)
{
    uint32_t h = 0x811C9DC5u;
    int r, c;
    for (r = 0; r < 4; r++) {
        for (c = 0; c < 4; c++) {
            h = (h ^ st->m[r][c]) * 0x01000193u;
            h ^= h >> 13;
        }
    }
    return h;
}

/* base_s +/- spread_pct percent, drawn from the state's LCG. */
unsigned borealis_jitter(borealis_state *st, unsigned base_s, unsigned spread_pct)
{
    unsigned span, off;
    if (spread_pct > 100)
        spread_pct = 100;
    span = base_s * spread_pct / 100;
    st->lcg = st->lcg * BOREALIS_LCG_A + BOREALIS_LCG_C;
    if (span == 0)
        return base_s;
    off = (st->lcg >> 8) % (2 * span + 1);
    return base_s - span + off;
}

/* Dense opcode switch: a jump table at -O1 and above. Returns a result code. */
int borealis_dispatch(borealis_state *st, int opcode, int arg)
{
    switch (opcode) {
    case 0:
        return 0;
    case 1:
        borealis_mix_columns(st);
        return 1;
    case 2:
        st->m[arg & 3][(arg >> 2) & 3] ^= 0x5A;
        return 2;
    case 3:
        return (int)(borealis_fingerprint(st) & 0xffff);
    case 4:
        return (int)borealis_jitter(st, (unsigned)arg, 20);
    case 5:
        borealis_init(st, (uint32_t)arg);
        return 5;
    case 6:
        st->lcg ^= (uint32_t)arg << 7;
        return 6;
    case 7:
        return st->m[arg & 3][0] + st->m[arg & 3][3];
    case 8:
        borealis_mix_columns(st);
        borealis_mix_columns(st);
        return 8;
    case 9:
        return -arg;
    default:
        return -1;
    }
}
