/* What the C benchmarks in tools/ share: a monotonic clock and 64-byte
 * aligned float arrays filled with uniform values in [-scale/2, scale/2]. */
#ifndef FASTRNN_BENCH_UTIL_H
#define FASTRNN_BENCH_UTIL_H

#include <stdlib.h>
#include <time.h>

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + 1e-9 * ts.tv_nsec;
}

static float *alloc_filled(size_t n, float scale)
{
    float *p = aligned_alloc(64, (n * sizeof(float) + 63) / 64 * 64);
    for (size_t i = 0; i < n; i++)
        p[i] = (float)(rand() / (double)RAND_MAX - 0.5) * scale;
    return p;
}

#endif
