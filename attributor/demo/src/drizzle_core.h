/*
 * drizzle_core.h - code unique to the fictional "drizzle" toolkit.
 *
 * BENIGN DEMO CODE: part of the attributor demo corpus.
 */
#ifndef DEMO_DRIZZLE_CORE_H
#define DEMO_DRIZZLE_CORE_H

#define DRIZZLE_MAX_JOBS 32

typedef struct {
    long due;
    int id;
} drizzle_job;

typedef struct {
    drizzle_job heap[DRIZZLE_MAX_JOBS];
    int size;
} drizzle_queue;

void drizzle_queue_init(drizzle_queue *q);
int drizzle_push(drizzle_queue *q, long due, int id);
int drizzle_pop(drizzle_queue *q, drizzle_job *out);
long drizzle_days_from_civil(int y, unsigned m, unsigned d);
int drizzle_weekday(long days);
long drizzle_next_slot(long now_days, int weekday_mask);

#endif
