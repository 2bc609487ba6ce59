/*
 * logger.h - levelled logging into an in-memory ring buffer (and stdout).
 *
 * BENIGN DEMO CODE: part of the attributor demo corpus.
 */
#ifndef DEMO_LOGGER_H
#define DEMO_LOGGER_H

#include <stddef.h>

enum log_level { LOG_TRACE, LOG_DEBUG, LOG_INFO, LOG_WARN, LOG_ERROR };

void log_init(enum log_level min_level, const char *prefix);
const char *log_level_name(enum log_level level);
int log_write(enum log_level level, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;
void log_hexdump(enum log_level level, const void *data, size_t len);
int log_count(enum log_level level);
const char *log_recent(int back);
void log_flush(void);

#endif
