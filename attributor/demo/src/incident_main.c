/*
 * incident_main.c - the demo "incident": a new program that reuses aurora's cipher and
 * beacon modules and borealis's own core module, plus code never seen in the corpus.
 *
 * BENIGN DEMO CODE: part of the attributor demo corpus. It formats and encrypts in-memory
 * strings and prints them; no network, no files written, no persistence.
 */
#include <stdio.h>
#include <string.h>

#include "beacon.h"
#include "borealis_core.h"
#include "cipher.h"
#include "libcommon.h"

/* New code: bitwise CRC-32C, not present anywhere in the corpus. */
static uint32_t incident_crc32c(const uint8_t *p, size_t n)
{
    uint32_t crc = 0xFFFFFFFFu;
    size_t i;
    int b;
    for (i = 0; i < n; i++) {
        crc ^= p[i];
        for (b = 0; b < 8; b++)
            crc = (crc >> 1) ^ (0x82F63B78u & (0u - (crc & 1u)));
    }
    return ~crc;
}

/* New code: a rolling XOR string obfuscator with a position-dependent key. */
static void incident_obfuscate(char *s, size_t n, uint8_t seed)
{
    size_t i;
    for (i = 0; i < n; i++) {
        seed = (uint8_t)(seed * 13 + 7);
        s[i] = (char)(s[i] ^ (seed | 0x80));
    }
}

/* New code: a small manifest formatter for the staged items. */
static int incident_manifest(char *out, size_t outsz, const char *const *items, int n)
{
    int i, used = 0;
    for (i = 0; i < n; i++) {
        uint32_t crc = incident_crc32c((const uint8_t *)items[i], strlen(items[i]));
        int w = snprintf(out + used, outsz - (size_t)used, "%02d %-12s %08x\n", i, items[i], (unsigned)crc);
        if (w < 0 || (size_t)(used + w) >= outsz)
            return -1;
        used += w;
    }
    return used;
}

int main(void)
{
    static const char *const items[] = {"alpha.txt", "bravo.csv", "charlie.log", "delta.ini"};
    char manifest[256], frame[512];
    uint8_t key[16];
    glacier_ctx ctx;
    borealis_state bs;
    beacon_status st;
    int n;

    n = incident_manifest(manifest, sizeof manifest, items, 4);
    if (n < 0)
        return 1;
    fputs(manifest, stdout);
    borealis_init(&bs, incident_crc32c((const uint8_t *)manifest, (size_t)n));
    borealis_dispatch(&bs, 8, 0);
    glacier_derive_key("incident", key);
    glacier_key_schedule(&ctx, key, sizeof key);
    glacier_crypt(&ctx, (uint8_t *)manifest, (size_t)n);
    incident_obfuscate(manifest, (size_t)n, (uint8_t)borealis_dispatch(&bs, 3, 0));
    memset(&st, 0, sizeof st);
    cm_strlcpy(st.host_tag, "incident", sizeof st.host_tag);
    st.session = borealis_fingerprint(&bs);
    st.seq = borealis_jitter(&bs, 600, 10);
    st.state = 2;
    if (beacon_build_frame(&st, frame, sizeof frame) > 0) {
        printf("%s\n", frame);
        beacon_seal(frame, strlen(frame));
    }
    return 0;
}
