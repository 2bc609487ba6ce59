/*
 * drizzle_main.c - entry point of the fictional "drizzle" toolkit (config + logger); this
 * toolkit has no actor attached in the demo corpus.
 *
 * BENIGN DEMO CODE: part of the attributor demo corpus. Plans a few imaginary jobs on a
 * calendar and logs the plan to stdout.
 */
#include <stdio.h>

#include "config.h"
#include "drizzle_core.h"
#include "libcommon.h"
#include "logger.h"

static const char DRIZZLE_PLAN[] =
    "start_year = 2024\n"
    "start_month = 3\n"
    "start_day = 14\n"
    "weekdays = 0x2a   # mon wed fri\n"
    "jobs = 5\n";

/* Queue `jobs` jobs on consecutive allowed weekdays. */
static int drizzle_plan(drizzle_queue *q, const config_t *cfg)
{
    long day = drizzle_days_from_civil((int)config_get_int(cfg, "start_year", 2024),
                                       (unsigned)config_get_int(cfg, "start_month", 1),
                                       (unsigned)config_get_int(cfg, "start_day", 1));
    int mask = (int)config_get_int(cfg, "weekdays", 0x3e);
    int jobs = (int)config_get_int(cfg, "jobs", 3), i;
    for (i = 0; i < jobs; i++) {
        day = drizzle_next_slot(day, mask);
        if (day < 0 || !drizzle_push(q, day * 24 + (i * 7) % 24, 100 + i))
            return i;
        day++;
    }
    return jobs;
}

int main(void)
{
    config_t cfg;
    drizzle_queue q;
    drizzle_job job;
    int planned;

    log_init(LOG_DEBUG, "drizzle");
    config_init(&cfg);
    config_parse_text(&cfg, DRIZZLE_PLAN);
    drizzle_queue_init(&q);
    planned = drizzle_plan(&q, &cfg);
    log_write(LOG_INFO, "planned %d job(s)", planned);
    while (drizzle_pop(&q, &job))
        log_write(LOG_DEBUG, "job %d at hour %ld (weekday %d)", job.id, job.due,
                  drizzle_weekday(job.due / 24));
    log_flush();
    return 0;
}
