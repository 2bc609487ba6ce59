/*
 * borealis_main.c - entry point of the fictional "borealis" toolkit (cipher + config).
 *
 * BENIGN DEMO CODE: part of the attributor demo corpus. Parses a built-in configuration,
 * runs a scripted list of numeric "commands" and prints the results. Nothing else.
 */
#include <stdio.h>
#include <string.h>

#include "borealis_core.h"
#include "cipher.h"
#include "config.h"
#include "libcommon.h"

static const char BOREALIS_DEFAULTS[] =
    "# borealis demo profile\n"
    "[main]\n"
    "interval = 120\n"
    "label = southern-lights   # inline comment\n"
    "verbose = yes\n"
    "script = 1,2,3,4,8,7,6,3\n";

/* Run the comma separated opcode script from the configuration. */
static int borealis_run_script(borealis_state *st, const config_t *cfg)
{
    char script[CONFIG_VALUE_LEN], *ops[16];
    int n, i, acc = 0;
    cm_strlcpy(script, config_get(cfg, "script", ""), sizeof script);
    n = cm_split(script, ',', ops, 16);
    for (i = 0; i < n; i++) {
        unsigned long op;
        if (!cm_parse_uint(cm_trim(ops[i]), &op))
            continue;
        acc += borealis_dispatch(st, (int)op, i * 37);
    }
    return acc;
}

/* Encrypt the label with a key derived from the fingerprint and print it as hex. */
static void borealis_seal_label(const borealis_state *st, const config_t *cfg)
{
    uint32_t fk[4];
    uint8_t buf[32];
    char hex[65];
    const char *label = config_get(cfg, "label", "none");
    int i;
    for (i = 0; i < 4; i++)
        fk[i] = borealis_fingerprint(st) + (uint32_t)i * 0x9E3779B9u;
    memset(buf, 0, sizeof buf);
    cm_strlcpy((char *)buf, label, sizeof buf);
    frost_encrypt_buffer(buf, sizeof buf, fk);
    cm_hex_encode(buf, sizeof buf, hex, sizeof hex);
    printf("sealed label: %s\n", hex);
}

int main(void)
{
    config_t cfg;
    borealis_state st;
    glacier_ctx g;
    uint8_t key[16];
    int acc;

    config_init(&cfg);
    config_parse_text(&cfg, BOREALIS_DEFAULTS);
    if (config_get_bool(&cfg, "verbose", 0))
        config_dump(&cfg);
    borealis_init(&st, (uint32_t)config_get_int(&cfg, "interval", 60));
    acc = borealis_run_script(&st, &cfg);
    printf("script result %d, next wake in %us\n", acc,
           borealis_jitter(&st, (unsigned)config_get_int(&cfg, "interval", 60), 25));
    glacier_derive_key(config_get(&cfg, "label", "x"), key);
    glacier_key_schedule(&g, key, sizeof key);
    printf("keystream byte %u\n", (unsigned)glacier_next(&g));
    borealis_seal_label(&st, &cfg);
    return glacier_self_test() ? 0 : 1;
}
