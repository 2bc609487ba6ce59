/*
 * cipher.h - "Glacier" toy stream cipher and a TEA-like block routine.
 *
 * BENIGN DEMO CODE: part of the attributor demo corpus. A deliberately weak toy cipher with
 * its own constants, used only to give the toolkits a recognisable shared routine.
 */
#ifndef DEMO_CIPHER_H
#define DEMO_CIPHER_H

#include <stddef.h>
#include <stdint.h>

typedef struct {
    uint8_t S[256];
    uint8_t i, j;
    uint32_t mix;
} glacier_ctx;

void glacier_key_schedule(glacier_ctx *ctx, const uint8_t *key, size_t keylen);
uint8_t glacier_next(glacier_ctx *ctx);
void glacier_drop(glacier_ctx *ctx, size_t n);
void glacier_crypt(glacier_ctx *ctx, uint8_t *buf, size_t len);
void glacier_derive_key(const char *passphrase, uint8_t out[16]);
void frost_encrypt_block(uint32_t v[2], const uint32_t k[4]);
void frost_decrypt_block(uint32_t v[2], const uint32_t k[4]);
size_t frost_encrypt_buffer(uint8_t *buf, size_t len, const uint32_t k[4]);
int glacier_self_test(void);

#endif
