/*
 * libcommon.c - string helpers shared by every demo toolkit.
 *
 * BENIGN DEMO CODE: part of the attributor demo corpus. Pure string and memory utilities;
 * no file, network or system changes of any kind.
 */
#include "libcommon.h"

#include <string.h>

/* Bounded copy that always NUL-terminates; returns the length of src. */
size_t cm_strlcpy(char *dst, const char *src, size_t size)
{
    size_t n = strlen(src);
    if (size > 0) {
        size_t k = n < size - 1 ? n : size - 1;
        memcpy(dst, src, k);
        dst[k] = '\0';
    }
    return n;
}

/* Bounded append; returns the length the result would have had without truncation. */
size_t cm_strlcat(char *dst, const char *src, size_t size)
{
    size_t used = 0;
    while (used < size && dst[used] != '\0')
        used++;
    if (used == size)
        return size + strlen(src);
    return used + cm_strlcpy(dst + used, src, size - used);
}

/* ASCII lower-casing in place (locale independent). */
void cm_tolower_inplace(char *s)
{
    for (; *s; s++) {
        if (*s >= 'A' && *s <= 'Z')
            *s = (char)(*s - 'A' + 'a');
    }
}

static int cm_is_space(char c)
{
    return c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '\v' || c == '\f';
}

/* Strip leading and trailing white space; returns a pointer into s. */
char *cm_trim(char *s)
{
    char *end;
    while (cm_is_space(*s))
        s++;
    if (*s == '\0')
        return s;
    end = s + strlen(s) - 1;
    while (end > s && cm_is_space(*end))
        end--;
    end[1] = '\0';
    return s;
}

int cm_starts_with(const char *s, const char *prefix)
{
    while (*prefix) {
        if (*s++ != *prefix++)
            return 0;
    }
    return 1;
}

static char cm_lower(char c)
{
    return (c >= 'A' && c <= 'Z') ? (char)(c - 'A' + 'a') : c;
}

int cm_ends_with_nocase(const char *s, const char *suffix)
{
    size_t ls = strlen(s), lx = strlen(suffix);
    size_t i;
    if (lx > ls)
        return 0;
    for (i = 0; i < lx; i++) {
        if (cm_lower(s[ls - lx + i]) != cm_lower(suffix[i]))
            return 0;
    }
    return 1;
}

/* 32-bit FNV-1a: a well known hash, deliberately the same in every toolkit. */
uint32_t cm_hash_fnv1a(const void *data, size_t len)
{
    const unsigned char *p = (const unsigned char *)data;
    uint32_t h = 2166136261u;
    size_t i;
    for (i = 0; i < len; i++) {
        h ^= p[i];
        h *= 16777619u;
    }
    return h;
}

/* Lower-case hex; returns characters written (excluding the NUL), 0 if out is too small. */
size_t cm_hex_encode(const unsigned char *in, size_t len, char *out, size_t outsz)
{
    static const char digits[] = "0123456789abcdef";
    size_t i;
    if (outsz < len * 2 + 1)
        return 0;
    for (i = 0; i < len; i++) {
        out[2 * i] = digits[in[i] >> 4];
        out[2 * i + 1] = digits[in[i] & 0x0f];
    }
    out[2 * len] = '\0';
    return 2 * len;
}

/* Decimal or 0x-prefixed hex; returns 1 on success, 0 on junk or overflow. */
int cm_parse_uint(const char *s, unsigned long *out)
{
    unsigned long v = 0, base = 10;
    int any = 0;
    if (s[0] == '0' && (s[1] == 'x' || s[1] == 'X')) {
        base = 16;
        s += 2;
    }
    for (; *s; s++) {
        unsigned long d;
        if (*s >= '0' && *s <= '9')
            d = (unsigned long)(*s - '0');
        else if (base == 16 && *s >= 'a' && *s <= 'f')
            d = (unsigned long)(*s - 'a' + 10);
        else if (base == 16 && *s >= 'A' && *s <= 'F')
            d = (unsigned long)(*s - 'A' + 10);
        else
            return 0;
        if (v > (~0ul - d) / base)
            return 0;
        v = v * base + d;
        any = 1;
    }
    *out = v;
    return any;
}

/* Split s in place on delim; returns the number of parts stored (at most maxparts). */
int cm_split(char *s, char delim, char **parts, int maxparts)
{
    int n = 0;
    if (maxparts <= 0)
        return 0;
    parts[n++] = s;
    for (; *s && n < maxparts; s++) {
        if (*s == delim) {
            *s = '\0';
            parts[n++] = s + 1;
        }
    }
    return n;
}

/* Zeroing that the optimiser may not remove. */
void cm_memzero(void *p, size_t n)
{
    volatile unsigned char *v = (volatile unsigned char *)p;
    while (n--)
        *v++ = 0;
}
