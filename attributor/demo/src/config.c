/*
 * config.c - tiny "key = value" configuration parser with comments and defaults.
 *
 * BENIGN DEMO CODE: part of the attributor demo corpus. Works on in-memory text only.
 */
#include "config.h"

#include <stdio.h>
#include <string.h>

#include "libcommon.h"

void config_init(config_t *cfg)
{
    cfg->count = 0;
    cfg->errors = 0;
    config_set(cfg, "interval", "300");
    config_set(cfg, "verbose", "no");
    config_set(cfg, "label", "default");
}

static int config_find(const config_t *cfg, const char *key)
{
    int i;
    for (i = 0; i < cfg->count; i++) {
        if (strcmp(cfg->entries[i].key, key) == 0)
            return i;
    }
    return -1;
}

/* Insert or replace; returns 0 when the table is full or the key is too long. */
int config_set(config_t *cfg, const char *key, const char *value)
{
    int i = config_find(cfg, key);
    if (strlen(key) >= CONFIG_KEY_LEN)
        return 0;
    if (i < 0) {
        if (cfg->count >= CONFIG_MAX_ENTRIES)
            return 0;
        i = cfg->count++;
        cm_strlcpy(cfg->entries[i].key, key, CONFIG_KEY_LEN);
    }
    cm_strlcpy(cfg->entries[i].value, value, CONFIG_VALUE_LEN);
    return 1;
}

/* One line: blank, "# comment", "; comment", "[section]" (ignored) or "key = value". */
int config_parse_line(config_t *cfg, char *line)
{
    char *eq, *key, *value, *hash;
    line = cm_trim(line);
    if (*line == '\0' || *line == '#' || *line == ';' || *line == '[')
        return 1;
    eq = strchr(line, '=');
    if (eq == NULL) {
        cfg->errors++;
        return 0;
    }
    *eq = '\0';
    hash = strchr(eq + 1, '#');
    if (hash != NULL)
        *hash = '\0';
    key = cm_trim(line);
    value = cm_trim(eq + 1);
    if (*key == '\0') {
        cfg->errors++;
        return 0;
    }
    cm_tolower_inplace(key);
    return config_set(cfg, key, value);
}

/* Parse a multi-line buffer; returns the number of accepted entries. */
int config_parse_text(config_t *cfg, const char *text)
{
    char line[160];
    int accepted = 0;
    while (*text) {
        size_t n = strcspn(text, "\r\n");
        size_t k = n < sizeof line - 1 ? n : sizeof line - 1;
        memcpy(line, text, k);
        line[k] = '\0';
        if (config_parse_line(cfg, line))
            accepted++;
        text += n;
        while (*text == '\r' || *text == '\n')
            text++;
    }
    return accepted;
}

const char *config_get(const config_t *cfg, const char *key, const char *fallback)
{
    int i = config_find(cfg, key);
    return i < 0 ? fallback : cfg->entries[i].value;
}

long config_get_int(const config_t *cfg, const char *key, long fallback)
{
    unsigned long v;
    const char *s = config_get(cfg, key, NULL);
    if (s == NULL)
        return fallback;
    if (*s == '-')
        return cm_parse_uint(s + 1, &v) ? -(long)v : fallback;
    return cm_parse_uint(s, &v) ? (long)v : fallback;
}

int config_get_bool(const config_t *cfg, const char *key, int fallback)
{
    static const char *const yes[] = {"1", "yes", "true", "on"};
    static const char *const no[] = {"0", "no", "false", "off"};
    const char *s = config_get(cfg, key, NULL);
    unsigned i;
    if (s == NULL)
        return fallback;
    for (i = 0; i < sizeof yes / sizeof yes[0]; i++) {
        if (strcmp(s, yes[i]) == 0)
            return 1;
        if (strcmp(s, no[i]) == 0)
            return 0;
    }
    return fallback;
}

void config_dump(const config_t *cfg)
{
    int i;
    for (i = 0; i < cfg->count; i++)
        printf("  %-16s = %s\n", cfg->entries[i].key, cfg->entries[i].value);
    if (cfg->errors)
        printf("  (%d malformed lines)\n", cfg->errors);
}
