/* What the C benchmarks in tools/ share: a monotonic clock, 64-byte aligned
 * float arrays filled with uniform values in [-scale/2, scale/2], and the
 * sizes a run was given. */
#ifndef FASTRNN_BENCH_UTIL_H
#define FASTRNN_BENCH_UTIL_H

#include <stdlib.h>
#include <time.h>

static inline double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + 1e-9 * ts.tv_nsec;
}

static inline float *alloc_filled(size_t n, float scale)
{
    float *p = aligned_alloc(64, (n * sizeof(float) + 63) / 64 * 64);
    for (size_t i = 0; i < n; i++)
        p[i] = (float)(rand() / (double)RAND_MAX - 0.5) * scale;
    return p;
}

/* The sizes given on the command line (at most max), else the n defaults
 * already in sizes; returns how many. */
static inline int read_sizes(int argc, char **argv, int *sizes, int n, int max)
{
    if (argc > 1) {
        n = 0;
        for (int i = 1; i < argc && n < max; i++)
            sizes[n++] = atoi(argv[i]);
    }
    return n;
}

#endif
