/*
 * cirrus_core.h - code unique to the fictional "cirrus" toolkit.
 *
 * BENIGN DEMO CODE: part of the attributor demo corpus.
 */
#ifndef DEMO_CIRRUS_CORE_H
#define DEMO_CIRRUS_CORE_H

#include <stddef.h>
#include <stdint.h>

typedef struct {
    uint8_t bits[256];
} cirrus_bloom;

size_t cirrus_lz_pack(const uint8_t *in, size_t len, uint8_t *out, size_t outsz);
void cirrus_histogram(const uint8_t *in, size_t len, unsigned hist[16]);
double cirrus_entropy(const unsigned hist[16], size_t total);
void cirrus_bloom_add(cirrus_bloom *b, const char *key);
int cirrus_bloom_test(const cirrus_bloom *b, const char *key);

#endif
