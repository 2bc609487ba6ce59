/*
 * libcommon.h - string helpers shared by every demo toolkit.
 *
 * BENIGN DEMO CODE: part of the attributor demo corpus. It performs no I/O beyond what the
 * callers ask for, no networking, no persistence. Every "family" links this library, so the
 * attribution engine must learn to discount it as common library code.
 */
#ifndef DEMO_LIBCOMMON_H
#define DEMO_LIBCOMMON_H

#include <stddef.h>
#include <stdint.h>

#if defined(_WIN32) && defined(LIBCOMMON_BUILD_DLL)
#define CM_API __declspec(dllexport)
#else
#define CM_API
#endif

CM_API size_t cm_strlcpy(char *dst, const char *src, size_t size);
CM_API size_t cm_strlcat(char *dst, const char *src, size_t size);
CM_API void cm_tolower_inplace(char *s);
CM_API char *cm_trim(char *s);
CM_API int cm_starts_with(const char *s, const char *prefix);
CM_API int cm_ends_with_nocase(const char *s, const char *suffix);
CM_API uint32_t cm_hash_fnv1a(const void *data, size_t len);
CM_API size_t cm_hex_encode(const unsigned char *in, size_t len, char *out, size_t outsz);
CM_API int cm_parse_uint(const char *s, unsigned long *out);
CM_API int cm_split(char *s, char delim, char **parts, int maxparts);
CM_API void cm_memzero(void *p, size_t n);

#endif
