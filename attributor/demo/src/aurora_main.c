/*
 * aurora_main.c - entry point of the fictional "aurora" toolkit (cipher + walker + beacon).
 *
 * BENIGN DEMO CODE: part of the attributor demo corpus. Lists names in a directory given on
 * the command line (read only), packs and encrypts an in-memory summary, and prints a status
 * line. No network, no persistence, nothing is modified.
 */
#include <stdio.h>
#include <string.h>

#include "aurora_core.h"
#include "beacon.h"
#include "cipher.h"
#include "libcommon.h"
#include "walker.h"

static walk_list g_files;

/* Build a one-line summary of the best-scoring names. */
static size_t aurora_summarise(const walk_list *list, char *out, size_t outsz)
{
    int i;
    out[0] = '\0';
    for (i = 0; i < list->count; i++) {
        char item[96];
        if (aurora_score_name(list->names[i]) < 10)
            continue;
        snprintf(item, sizeof item, "%.80s;", list->names[i]);
        cm_strlcat(out, item, outsz);
    }
    return strlen(out);
}

int main(int argc, char **argv)
{
    static const char *const exts[] = {".txt", ".csv", ".log"};
    static const int events[] = {1, 2, 3, 4, 0, 1, 9};
    unsigned char packed[2048];
    char summary[1024], frame[512], hex[33];
    uint8_t key[16];
    glacier_ctx ctx;
    beacon_status st;
    size_t n, plen;

    walk_list_init(&g_files);
    walk_directory(argc > 1 ? argv[1] : ".", 1, &g_files, exts, 3);
    walk_sort(&g_files);
    walk_print(&g_files, 10);

    n = aurora_summarise(&g_files, summary, sizeof summary);
    plen = aurora_rle_pack((const unsigned char *)summary, n, packed, sizeof packed);
    glacier_derive_key("aurora-demo", key);
    glacier_key_schedule(&ctx, key, sizeof key);
    glacier_drop(&ctx, 256);
    glacier_crypt(&ctx, packed, plen);
    cm_hex_encode(key, 16, hex, sizeof hex);

    memset(&st, 0, sizeof st);
    cm_strlcpy(st.host_tag, "aurora", sizeof st.host_tag);
    st.session = cm_hash_fnv1a(packed, plen);
    st.seq = (unsigned)g_files.count;
    st.state = aurora_run_tasks(events, 7) % 4;
    if (beacon_build_frame(&st, frame, sizeof frame) > 0) {
        printf("frame %s (valid=%d, key=%s)\n", frame, beacon_verify_frame(frame), hex);
        beacon_seal(frame, strlen(frame));
    }
    return glacier_self_test() ? 0 : 1;
}
