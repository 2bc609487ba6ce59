/*
 * cirrus_core.c - code unique to the fictional "cirrus" toolkit: a toy LZ packer, a nibble
 * histogram with an entropy estimate, and a small Bloom filter for de-duplicating names.
 *
 * BENIGN DEMO CODE: part of the attributor demo corpus. Operates on memory only.
 */
#include "cirrus_core.h"

#include <string.h>

#include "libcommon.h"

#define CIRRUS_WINDOW 255
#define CIRRUS_MIN_MATCH 3

/* Output: literal bytes prefixed by a 0x00 tag, matches as 0x01, distance, length. */
size_t cirrus_lz_pack(const uint8_t *in, size_t len, uint8_t *out, size_t outsz)
{
    size_t i = 0, o = 0;
    while (i < len) {
        size_t best_len = 0, best_dist = 0, start = i > CIRRUS_WINDOW ? i - CIRRUS_WINDOW : 0, s;
        for (s = start; s < i; s++) {
            size_t l = 0;
            while (i + l < len && in[s + l] == in[i + l] && l < 255)
                l++;
            if (l > best_len) {
                best_len = l;
                best_dist = i - s;
            }
        }
        if (best_len >= CIRRUS_MIN_MATCH) {
            if (o + 3 > outsz)
                return 0;
            out[o++] = 0x01;
            out[o++] = (uint8_t)best_dist;
            out[o++] = (uint8_t)best_len;
            i += best_len;
        } else {
            if (o + 2 > outsz)
                return 0;
            out[o++] = 0x00;
            out[o++] = in[i++];
        }
    }
    return o;
}

void cirrus_histogram(const uint8_t *in, size_t len, unsigned hist[16])
{
    size_t i;
    memset(hist, 0, 16 * sizeof hist[0]);
    for (i = 0; i < len; i++) {
        hist[in[i] >> 4]++;
        hist[in[i] & 15]++;
    }
}

/* Shannon entropy in bits per nibble, with a short series for log2 (no libm needed). */
double cirrus_entropy(const unsigned hist[16], size_t total)
{
    double h = 0.0;
    int k;
    if (total == 0)
        return 0.0;
    for (k = 0; k < 16; k++) {
        double p, x, lg = 0.0, term;
        int e = 0, n;
        if (hist[k] == 0)
            continue;
        p = (double)hist[k] / (double)total;
        x = p;
        while (x < 1.0) {
            x *= 2.0;
            e--;
        }
        x = (x - 1.0) / (x + 1.0);
        term = x;
        for (n = 1; n < 12; n += 2) {
            lg += term / n;
            term *= x * x;
        }
        h -= p * (e + 2.0 * lg / 0.6931471805599453);
    }
    return h;
}

static unsigned cirrus_bloom_hash(const char *key, unsigned salt)
{
    uint32_t h = cm_hash_fnv1a(key, strlen(key)) ^ (salt * 0x27D4EB2Fu);
    h ^= h >> 15;
    h *= 0x85EBCA6Bu;
    h ^= h >> 13;
    return h & 2047u;
}

void cirrus_bloom_add(cirrus_bloom *b, const char *key)
{
    unsigned k;
    for (k = 0; k < 3; k++) {
        unsigned bit = cirrus_bloom_hash(key, k);
        b->bits[bit >> 3] |= (uint8_t)(1u << (bit & 7));
    }
}

int cirrus_bloom_test(const cirrus_bloom *b, const char *key)
{
    unsigned k;
    for (k = 0; k < 3; k++) {
        unsigned bit = cirrus_bloom_hash(key, k);
        if (!(b->bits[bit >> 3] & (1u << (bit & 7))))
            return 0;
    }
    return 1;
}
