/*
 * drizzle_core.c - code unique to the fictional "drizzle" toolkit: a binary-heap job queue
 * and calendar arithmetic for picking the next allowed weekday.
 *
 * BENIGN DEMO CODE: part of the attributor demo corpus. No clocks are read, nothing runs.
 */
#include "drizzle_core.h"

void drizzle_queue_init(drizzle_queue *q)
{
    q->size = 0;
}

static void drizzle_swap(drizzle_job *a, drizzle_job *b)
{
    drizzle_job t = *a;
    *a = *b;
    *b = t;
}

int drizzle_push(drizzle_queue *q, long due, int id)
{
    int i;
    if (q->size >= DRIZZLE_MAX_JOBS)
        return 0;
    i = q->size++;
    q->heap[i].due = due;
    q->heap[i].id = id;
    while (i > 0) {
        int parent = (i - 1) / 2;
        if (q->heap[parent].due <= q->heap[i].due)
            break;
        drizzle_swap(&q->heap[parent], &q->heap[i]);
        i = parent;
    }
    return 1;
}

int drizzle_pop(drizzle_queue *q, drizzle_job *out)
{
    int i = 0;
    if (q->size == 0)
        return 0;
    *out = q->heap[0];
    q->heap[0] = q->heap[--q->size];
    for (;;) {
        int l = 2 * i + 1, r = l + 1, m = i;
        if (l < q->size && q->heap[l].due < q->heap[m].due)
            m = l;
        if (r < q->size && q->heap[r].due < q->heap[m].due)
            m = r;
        if (m == i)
            break;
        drizzle_swap(&q->heap[m], &q->heap[i]);
        i = m;
    }
    return 1;
}

/* Days since 1970-01-01 for a proleptic Gregorian date (H. Hinnant's algorithm). */
long drizzle_days_from_civil(int y, unsigned m, unsigned d)
{
    long era;
    unsigned yoe, doy, doe;
    y -= m <= 2;
    era = (y >= 0 ? y : y - 399) / 400;
    yoe = (unsigned)(y - era * 400);
    doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
    doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + (long)doe - 719468;
}

/* 0 = Sunday. */
int drizzle_weekday(long days)
{
    return (int)(days >= -4 ? (days + 4) % 7 : (days + 5) % 7 + 6);
}

/* First day >= now_days whose weekday bit is set in mask; -1 if the mask is empty. */
long drizzle_next_slot(long now_days, int weekday_mask)
{
    int k;
    if ((weekday_mask & 0x7f) == 0)
        return -1;
    for (k = 0; k < 7; k++) {
        if (weekday_mask & (1 << drizzle_weekday(now_days + k)))
            return now_days + k;
    }
    return -1;
}
