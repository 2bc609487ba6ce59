/*
 * logger.c - levelled logging into an in-memory ring buffer, echoed to stdout.
 *
 * BENIGN DEMO CODE: part of the attributor demo corpus. No log files are written.
 */
#include "logger.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "libcommon.h"

#define LOG_RING 16
#define LOG_LINE 128

static struct {
    enum log_level min_level;
    char prefix[16];
    char ring[LOG_RING][LOG_LINE];
    int head;
    int counts[LOG_ERROR + 1];
    unsigned long tick;
} g_log;

void log_init(enum log_level min_level, const char *prefix)
{
    memset(&g_log, 0, sizeof g_log);
    g_log.min_level = min_level;
    cm_strlcpy(g_log.prefix, prefix, sizeof g_log.prefix);
}

const char *log_level_name(enum log_level level)
{
    switch (level) {
    case LOG_TRACE: return "TRACE";
    case LOG_DEBUG: return "DEBUG";
    case LOG_INFO: return "INFO";
    case LOG_WARN: return "WARN";
    case LOG_ERROR: return "ERROR";
    }
    return "?";
}

/* Format one record; returns its length, or 0 when filtered by level. */
int log_write(enum log_level level, const char *fmt, ...)
{
    char *slot;
    va_list ap;
    int n;
    if (level < g_log.min_level || level > LOG_ERROR)
        return 0;
    slot = g_log.ring[g_log.head];
    g_log.head = (g_log.head + 1) % LOG_RING;
    g_log.counts[level]++;
    n = snprintf(slot, LOG_LINE, "%06lu %s [%s] ", ++g_log.tick, g_log.prefix, log_level_name(level));
    if (n < 0 || n >= LOG_LINE)
        n = 0;
    va_start(ap, fmt);
    vsnprintf(slot + n, (size_t)(LOG_LINE - n), fmt, ap);
    va_end(ap);
    puts(slot);
    return (int)strlen(slot);
}

/* Classic 16-bytes-per-row hex dump, each row logged as one record. */
void log_hexdump(enum log_level level, const void *data, size_t len)
{
    const unsigned char *p = (const unsigned char *)data;
    size_t off;
    for (off = 0; off < len; off += 16) {
        char hex[49], ascii[17];
        size_t i, n = len - off < 16 ? len - off : 16;
        cm_hex_encode(p + off, n, hex, sizeof hex);
        for (i = 0; i < n; i++)
            ascii[i] = (p[off + i] >= 32 && p[off + i] < 127) ? (char)p[off + i] : '.';
        ascii[n] = '\0';
        log_write(level, "%04x  %-32s  %s", (unsigned)off, hex, ascii);
    }
}

int log_count(enum log_level level)
{
    return (level >= LOG_TRACE && level <= LOG_ERROR) ? g_log.counts[level] : 0;
}

/* The record written `back` records ago (0 = newest), or "" if none. */
const char *log_recent(int back)
{
    int idx;
    if (back < 0 || back >= LOG_RING)
        return "";
    idx = (g_log.head - 1 - back + 2 * LOG_RING) % LOG_RING;
    return g_log.ring[idx];
}

void log_flush(void)
{
    int l;
    for (l = LOG_TRACE; l <= LOG_ERROR; l++) {
        if (g_log.counts[l])
            printf("%s: %d %s record(s)\n", g_log.prefix, g_log.counts[l], log_level_name((enum log_level)l));
    }
    fflush(stdout);
}
