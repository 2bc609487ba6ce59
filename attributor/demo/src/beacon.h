/*
 * beacon.h - status-string formatter ("beacon") with a checksum and a base64-like encoding.
 *
 * BENIGN DEMO CODE: part of the attributor demo corpus. It only formats text into a
 * caller-supplied buffer; there is no networking code anywhere in the demo corpus.
 */
#ifndef DEMO_BEACON_H
#define DEMO_BEACON_H

#include <stddef.h>
#include <stdint.h>

typedef struct {
    char host_tag[32];
    unsigned long session;
    unsigned seq;
    unsigned uptime_min;
    int state;
} beacon_status;

uint32_t beacon_checksum(const unsigned char *p, size_t n);
size_t beacon_encode(const unsigned char *in, size_t len, char *out, size_t outsz);
size_t beacon_decode(const char *in, unsigned char *out, size_t outsz);
int beacon_format_status(const beacon_status *st, char *out, size_t outsz);
int beacon_build_frame(const beacon_status *st, char *out, size_t outsz);
void beacon_seal(char *frame, size_t n);
int beacon_verify_frame(const char *frame);

#endif
