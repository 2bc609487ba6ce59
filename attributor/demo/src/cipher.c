/*
 * cipher.c - "Glacier" toy stream cipher (RC4-shaped, custom key schedule) and "Frost", a
 * TEA-like block routine with its own delta and round count.
 *
 * BENIGN DEMO CODE: part of the attributor demo corpus. Toy cryptography for attribution
 * experiments; it is not secure and touches nothing but the buffers it is given.
 */
#include "cipher.h"

#include <string.h>

#define GLACIER_SALT 0xA7u
#define GLACIER_MIX_INIT 0x5BD1E995u
#define FROST_DELTA 0x7F4A7C15u
#define FROST_ROUNDS 24

static uint32_t rotl32(uint32_t x, unsigned r)
{
    return (x << (r & 31)) | (x >> ((32 - r) & 31));
}

/* RC4-like permutation with an extra salt and a rolling mix word. */
void glacier_key_schedule(glacier_ctx *ctx, const uint8_t *key, size_t keylen)
{
    unsigned i;
    uint8_t j = 0;
    uint32_t mix = GLACIER_MIX_INIT;
    for (i = 0; i < 256; i++)
        ctx->S[i] = (uint8_t)(i ^ GLACIER_SALT);
    for (i = 0; i < 256; i++) {
        uint8_t k = keylen ? key[i % keylen] : (uint8_t)i;
        uint8_t t;
        mix = rotl32(mix ^ k, 7) + 0x3C6EF372u;
        j = (uint8_t)(j + ctx->S[i] + k + (mix & 0xff));
        t = ctx->S[i];
        ctx->S[i] = ctx->S[j];
        ctx->S[j] = t;
    }
    ctx->i = 0;
    ctx->j = (uint8_t)(mix >> 24);
    ctx->mix = mix;
}

/* One keystream byte; the output is whitened with the mix word. */
uint8_t glacier_next(glacier_ctx *ctx)
{
    uint8_t t;
    ctx->i = (uint8_t)(ctx->i + 1);
    ctx->j = (uint8_t)(ctx->j + ctx->S[ctx->i]);
    t = ctx->S[ctx->i];
    ctx->S[ctx->i] = ctx->S[ctx->j];
    ctx->S[ctx->j] = t;
    ctx->mix = rotl32(ctx->mix, 3) ^ ctx->S[(uint8_t)(ctx->S[ctx->i] + t)];
    return (uint8_t)(ctx->S[(uint8_t)(ctx->S[ctx->i] + ctx->S[ctx->j])] ^ (ctx->mix & 0xff));
}

/* Discard the first n keystream bytes (the classic RC4-drop mitigation). */
void glacier_drop(glacier_ctx *ctx, size_t n)
{
    while (n--)
        (void)glacier_next(ctx);
}

void glacier_crypt(glacier_ctx *ctx, uint8_t *buf, size_t len)
{
    size_t k;
    for (k = 0; k < len; k++)
        buf[k] ^= glacier_next(ctx);
}

/* Stretch a passphrase into a 16-byte key with a few thousand mixing rounds. */
void glacier_derive_key(const char *passphrase, uint8_t out[16])
{
    uint32_t h[4] = {0x01234567u, 0x89ABCDEFu, 0xFEDCBA98u, 0x76543210u};
    size_t n = strlen(passphrase);
    unsigned round, w;
    for (round = 0; round < 2048; round++) {
        for (w = 0; w < 4; w++) {
            uint8_t c = n ? (uint8_t)passphrase[(round + w) % n] : (uint8_t)round;
            h[w] = rotl32(h[w] + c + round, 5 + w) ^ h[(w + 1) & 3];
            h[w] *= 0x2545F491u;
        }
    }
    for (w = 0; w < 16; w++)
        out[w] = (uint8_t)(h[w >> 2] >> (8 * (w & 3)));
}

void frost_encrypt_block(uint32_t v[2], const uint32_t k[4])
{
    uint32_t v0 = v[0], v1 = v[1], sum = 0;
    int r;
    for (r = 0; r < FROST_ROUNDS; r++) {
        v0 += (((v1 << 3) ^ (v1 >> 6)) + v1) ^ (sum + k[sum & 3]);
        sum += FROST_DELTA;
        v1 += (((v0 << 3) ^ (v0 >> 6)) + v0) ^ (sum + k[(sum >> 9) & 3]);
    }
    v[0] = v0;
    v[1] = v1;
}

void frost_decrypt_block(uint32_t v[2], const uint32_t k[4])
{
    uint32_t v0 = v[0], v1 = v[1], sum = FROST_DELTA * FROST_ROUNDS;
    int r;
    for (r = 0; r < FROST_ROUNDS; r++) {
        v1 -= (((v0 << 3) ^ (v0 >> 6)) + v0) ^ (sum + k[(sum >> 9) & 3]);
        sum -= FROST_DELTA;
        v0 -= (((v1 << 3) ^ (v1 >> 6)) + v1) ^ (sum + k[sum & 3]);
    }
    v[0] = v0;
    v[1] = v1;
}

/* Encrypt whole 8-byte blocks in place (little endian); returns bytes processed. */
size_t frost_encrypt_buffer(uint8_t *buf, size_t len, const uint32_t k[4])
{
    size_t off;
    for (off = 0; off + 8 <= len; off += 8) {
        uint32_t v[2];
        int b;
        v[0] = v[1] = 0;
        for (b = 0; b < 4; b++) {
            v[0] |= (uint32_t)buf[off + b] << (8 * b);
            v[1] |= (uint32_t)buf[off + 4 + b] << (8 * b);
        }
        frost_encrypt_block(v, k);
        for (b = 0; b < 4; b++) {
            buf[off + b] = (uint8_t)(v[0] >> (8 * b));
            buf[off + 4 + b] = (uint8_t)(v[1] >> (8 * b));
        }
    }
    return off;
}

/* Round-trip both primitives on a fixed vector; returns 1 when they agree. */
int glacier_self_test(void)
{
    static const uint8_t key[] = "demo-key";
    static const uint32_t fk[4] = {0x11111111u, 0x22222222u, 0x33333333u, 0x44444444u};
    uint8_t msg[24] = "the quick brown fox....";
    uint8_t copy[24];
    uint32_t blk[2] = {0xDEADBEEFu, 0x01020304u};
    glacier_ctx a, b;
    memcpy(copy, msg, sizeof msg);
    glacier_key_schedule(&a, key, sizeof key - 1);
    glacier_key_schedule(&b, key, sizeof key - 1);
    glacier_crypt(&a, msg, sizeof msg);
    glacier_crypt(&b, msg, sizeof msg);
    frost_encrypt_block(blk, fk);
    frost_decrypt_block(blk, fk);
    return memcmp(msg, copy, sizeof msg) == 0 && blk[0] == 0xDEADBEEFu && blk[1] == 0x01020304u;
}
