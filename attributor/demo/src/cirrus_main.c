/*
 * cirrus_main.c - entry point of the fictional "cirrus" toolkit (walker + logger).
 *
 * BENIGN DEMO CODE: part of the attributor demo corpus. Lists a directory (read only),
 * de-duplicates base names and logs a compression/entropy report to stdout.
 */
#include <stdio.h>
#include <string.h>

#include "cirrus_core.h"
#include "libcommon.h"
#include "logger.h"
#include "walker.h"

static walk_list g_list;
static cirrus_bloom g_seen;

static const char *cirrus_basename(const char *path)
{
    const char *slash = strrchr(path, '/'), *bslash = strrchr(path, '\\');
    if (bslash != NULL && (slash == NULL || bslash > slash))
        slash = bslash;
    return slash ? slash + 1 : path;
}

/* Log each new base name once; returns how many were unique. */
static int cirrus_report_unique(const walk_list *list)
{
    int i, unique = 0;
    for (i = 0; i < list->count; i++) {
        const char *base = cirrus_basename(list->names[i]);
        if (cirrus_bloom_test(&g_seen, base)) {
            log_write(LOG_DEBUG, "duplicate name %s", base);
            continue;
        }
        cirrus_bloom_add(&g_seen, base);
        unique++;
        log_write(LOG_INFO, "name %s", base);
    }
    return unique;
}

int main(int argc, char **argv)
{
    uint8_t packed[4096];
    unsigned hist[16];
    size_t plen;
    int unique;

    log_init(LOG_INFO, "cirrus");
    walk_list_init(&g_list);
    walk_directory(argc > 1 ? argv[1] : ".", 2, &g_list, NULL, 0);
    walk_sort(&g_list);
    unique = cirrus_report_unique(&g_list);
    plen = cirrus_lz_pack((const uint8_t *)g_list.names, sizeof g_list.names[0] * 4, packed, sizeof packed);
    cirrus_histogram(packed, plen, hist);
    log_write(LOG_INFO, "%d unique names, packed %u bytes, entropy %.3f", unique, (unsigned)plen,
              cirrus_entropy(hist, plen * 2));
    log_hexdump(LOG_DEBUG, packed, plen < 64 ? plen : 64);
    log_flush();
    return 0;
}
