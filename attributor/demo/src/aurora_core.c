/*
 * aurora_core.c - code unique to the fictional "aurora" toolkit: a run-length packer, a file
 * name scoring heuristic and a small task state machine.
 *
 * BENIGN DEMO CODE: part of the attributor demo corpus. Operates on memory only.
 */
#include "aurora_core.h"

#include <string.h>

#include "libcommon.h"

#define AURORA_ESC 0xE7

/* Escape-byte RLE: runs of 4+ become ESC, count, byte. */
size_t aurora_rle_pack(const unsigned char *in, size_t len, unsigned char *out, size_t outsz)
{
    size_t i = 0, o = 0;
    while (i < len) {
        size_t run = 1;
        while (i + run < len && in[i + run] == in[i] && run < 255)
            run++;
        if (run >= 4 || in[i] == AURORA_ESC) {
            if (o + 3 > outsz)
                return 0;
            out[o++] = AURORA_ESC;
            out[o++] = (unsigned char)run;
            out[o++] = in[i];
        } else {
            size_t k;
            if (o + run > outsz)
                return 0;
            for (k = 0; k < run; k++)
                out[o++] = in[i];
        }
        i += run;
    }
    return o;
}

size_t aurora_rle_unpack(const unsigned char *in, size_t len, unsigned char *out, size_t outsz)
{
    size_t i = 0, o = 0;
    while (i < len) {
        if (in[i] == AURORA_ESC) {
            size_t run, k;
            if (i + 2 >= len)
                return 0;
            run = in[i + 1];
            if (o + run > outsz)
                return 0;
            for (k = 0; k < run; k++)
                out[o++] = in[i + 2];
            i += 3;
        } else {
            if (o >= outsz)
                return 0;
            out[o++] = in[i++];
        }
    }
    return o;
}

/* A made-up "interest" score for a file name: extensions, keywords, length. */
int aurora_score_name(const char *name)
{
    static const char *const hot[] = {".txt", ".csv", ".ini", ".cfg", ".log"};
    static const char *const words[] = {"report", "draft", "notes", "plan"};
    char lower[128];
    int score = 0;
    unsigned i;
    cm_strlcpy(lower, name, sizeof lower);
    cm_tolower_inplace(lower);
    for (i = 0; i < sizeof hot / sizeof hot[0]; i++) {
        if (cm_ends_with_nocase(lower, hot[i]))
            score += 10 + (int)i;
    }
    for (i = 0; i < sizeof words / sizeof words[0]; i++) {
        if (strstr(lower, words[i]) != NULL)
            score += 7;
    }
    if (strlen(lower) > 40)
        score -= 5;
    if (lower[0] == '.')
        score -= 3;
    return score;
}

/* States: 0 idle, 1 scanning, 2 packing, 3 reporting, 4 sleeping, 5 finished. */
int aurora_task_step(int state, int event)
{
    switch (state) {
    case 0:
        return event == 1 ? 1 : 0;
    case 1:
        if (event == 2)
            return 2;
        return event == 9 ? 5 : 1;
    case 2:
        return event == 3 ? 3 : (event == 8 ? 4 : 2);
    case 3:
        return event == 4 ? 4 : 3;
    case 4:
        if (event == 0)
            return 0;
        return event == 9 ? 5 : 4;
    default:
        return 5;
    }
}

/* Drive the machine; returns the number of transitions taken before finishing. */
int aurora_run_tasks(const int *events, int n)
{
    int state = 0, steps = 0, i;
    for (i = 0; i < n && state != 5; i++) {
        int next = aurora_task_step(state, events[i]);
        if (next != state)
            steps++;
        state = next;
    }
    return steps * 10 + state;
}
