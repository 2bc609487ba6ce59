/*
 * beacon.c - formats a status record into a framed, checksummed, base64-like text line.
 *
 * BENIGN DEMO CODE: part of the attributor demo corpus. Pure string formatting into memory:
 * no sockets, no HTTP, no DNS - the "beacon" never leaves the buffer it is written to.
 */
#include "beacon.h"

#include <stdio.h>
#include <string.h>

#include "cipher.h"
#include "libcommon.h"

/* A shuffled alphabet so that the encoding is recognisably "ours". */
static const char BEACON_ALPHABET[] =
    "QWERTYUIOPASDFGHJKLZXCVBNMqwertyuiopasdfghjklzxcvbnm9876543210-_";
#define BEACON_PAD '.'
#define BEACON_MAGIC "BCN1"

/* The session key every beacon of this toolkit shares: 16 fixed random-looking bytes. Reused key
 * material like this linked dozens of families in Operation Blockbuster. */
static const uint8_t BEACON_SESSION_KEY[16] = {0x5f, 0x91, 0xc2, 0x3a, 0xe7, 0x08, 0xb4, 0x6d,
                                               0x1c, 0xf3, 0x9a, 0x27, 0x84, 0xd0, 0x4e, 0xb9};

/* Seal a frame in place with the shared session key (Glacier stream cipher, in memory only). */
void beacon_seal(char *frame, size_t n)
{
    glacier_ctx ctx;
    glacier_key_schedule(&ctx, BEACON_SESSION_KEY, sizeof BEACON_SESSION_KEY);
    glacier_crypt(&ctx, (uint8_t *)frame, n);
}

/* Rotating add/xor checksum with a fixed seed. */
uint32_t beacon_checksum(const unsigned char *p, size_t n)
{
    uint32_t a = 0x1F2E3D4Cu, b = 0;
    size_t i;
    for (i = 0; i < n; i++) {
        a = (a << 5 | a >> 27) ^ p[i];
        b += a + (uint32_t)i;
    }
    return a ^ (b * 0x9E3779B1u);
}

size_t beacon_encode(const unsigned char *in, size_t len, char *out, size_t outsz)
{
    size_t i, o = 0;
    if (outsz < ((len + 2) / 3) * 4 + 1)
        return 0;
    for (i = 0; i < len; i += 3) {
        uint32_t v = (uint32_t)in[i] << 16;
        if (i + 1 < len)
            v |= (uint32_t)in[i + 1] << 8;
        if (i + 2 < len)
            v |= in[i + 2];
        out[o++] = BEACON_ALPHABET[(v >> 18) & 63];
        out[o++] = BEACON_ALPHABET[(v >> 12) & 63];
        out[o++] = i + 1 < len ? BEACON_ALPHABET[(v >> 6) & 63] : BEACON_PAD;
        out[o++] = i + 2 < len ? BEACON_ALPHABET[v & 63] : BEACON_PAD;
    }
    out[o] = '\0';
    return o;
}

static int beacon_index(char c)
{
    const char *p = strchr(BEACON_ALPHABET, c);
    return (c != '\0' && p != NULL) ? (int)(p - BEACON_ALPHABET) : -1;
}

/* Inverse of beacon_encode; returns bytes written or 0 on malformed input. */
size_t beacon_decode(const char *in, unsigned char *out, size_t outsz)
{
    size_t n = strlen(in), i, o = 0;
    if (n % 4 != 0)
        return 0;
    for (i = 0; i < n; i += 4) {
        int q[4], k, pads = 0;
        uint32_t v = 0;
        for (k = 0; k < 4; k++) {
            if (in[i + k] == BEACON_PAD) {
                q[k] = 0;
                pads++;
            } else if ((q[k] = beacon_index(in[i + k])) < 0) {
                return 0;
            }
            v = (v << 6) | (uint32_t)q[k];
        }
        for (k = 0; k < 3 - pads; k++) {
            if (o >= outsz)
                return 0;
            out[o++] = (unsigned char)(v >> (16 - 8 * k));
        }
    }
    return o;
}

static const char *beacon_state_name(int state)
{
    switch (state) {
    case 0: return "idle";
    case 1: return "collecting";
    case 2: return "waiting";
    case 3: return "done";
    default: return "unknown";
    }
}

int beacon_format_status(const beacon_status *st, char *out, size_t outsz)
{
    int n = snprintf(out, outsz, "tag=%s;sid=%08lx;seq=%u;up=%u;st=%s", st->host_tag,
                     st->session, st->seq, st->uptime_min, beacon_state_name(st->state));
    return n > 0 && (size_t)n < outsz ? n : -1;
}

/* MAGIC:<encoded status>:<checksum hex>. Returns the frame length or -1. */
int beacon_build_frame(const beacon_status *st, char *out, size_t outsz)
{
    char text[160], enc[224];
    int tl = beacon_format_status(st, text, sizeof text);
    uint32_t sum;
    int n;
    if (tl < 0 || beacon_encode((const unsigned char *)text, (size_t)tl, enc, sizeof enc) == 0)
        return -1;
    sum = beacon_checksum((const unsigned char *)text, (size_t)tl);
    n = snprintf(out, outsz, "%s:%s:%08x", BEACON_MAGIC, enc, (unsigned)sum);
    return n > 0 && (size_t)n < outsz ? n : -1;
}

/* Parse a frame back and compare its checksum; 1 when valid. */
int beacon_verify_frame(const char *frame)
{
    char copy[320], *parts[3];
    unsigned char text[192];
    unsigned long want;
    size_t tl;
    if (cm_strlcpy(copy, frame, sizeof copy) >= sizeof copy)
        return 0;
    if (cm_split(copy, ':', parts, 3) != 3 || strcmp(parts[0], BEACON_MAGIC) != 0)
        return 0;
    tl = beacon_decode(parts[1], text, sizeof text);
    if (tl == 0 || strlen(parts[2]) != 8)
        return 0;
    {
        char hex[16];
        snprintf(hex, sizeof hex, "0x%s", parts[2]);
        if (!cm_parse_uint(hex, &want))
            return 0;
    }
    return beacon_checksum(text, tl) == (uint32_t)want;
}
