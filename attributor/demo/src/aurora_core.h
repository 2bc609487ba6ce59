/*
 * aurora_core.h - code unique to the fictional "aurora" toolkit.
 *
 * BENIGN DEMO CODE: part of the attributor demo corpus.
 */
#ifndef DEMO_AURORA_CORE_H
#define DEMO_AURORA_CORE_H

#include <stddef.h>

size_t aurora_rle_pack(const unsigned char *in, size_t len, unsigned char *out, size_t outsz);
size_t aurora_rle_unpack(const unsigned char *in, size_t len, unsigned char *out, size_t outsz);
int aurora_score_name(const char *name);
int aurora_task_step(int state, int event);
int aurora_run_tasks(const int *events, int n);

#endif
