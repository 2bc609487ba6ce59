/*
 * config.h - tiny "key = value" configuration parser.
 *
 * BENIGN DEMO CODE: part of the attributor demo corpus. Parses text held in memory.
 */
#ifndef DEMO_CONFIG_H
#define DEMO_CONFIG_H

#define CONFIG_MAX_ENTRIES 32
#define CONFIG_KEY_LEN 32
#define CONFIG_VALUE_LEN 96

typedef struct {
    char key[CONFIG_KEY_LEN];
    char value[CONFIG_VALUE_LEN];
} config_entry;

typedef struct {
    config_entry entries[CONFIG_MAX_ENTRIES];
    int count;
    int errors;
} config_t;

void config_init(config_t *cfg);
int config_set(config_t *cfg, const char *key, const char *value);
int config_parse_line(config_t *cfg, char *line);
int config_parse_text(config_t *cfg, const char *text);
const char *config_get(const config_t *cfg, const char *key, const char *fallback);
long config_get_int(const config_t *cfg, const char *key, long fallback);
int config_get_bool(const config_t *cfg, const char *key, int fallback);
void config_dump(const config_t *cfg);

#endif
