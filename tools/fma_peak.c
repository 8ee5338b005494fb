/* The float32 FMA peak of one core on 256-bit vectors: 12 independent chains
 * of vfmadd (as many sums as the AVX2 step kernel's row blocks keep), the
 * ceiling any engine's AVX2 sgemm can reach on this core.
 *   gcc -O2 -mavx2 -mfma tools/fma_peak.c -o /tmp/fma_peak && /tmp/fma_peak */
#include <immintrin.h>
#include <stdio.h>
#include <time.h>

#define CHAIN(x) x = _mm256_fmadd_ps(x, b, c)

int main(void)
{
    const __m256 b = _mm256_set1_ps(0.5f), c = _mm256_set1_ps(0.25f);
    __m256 a0 = b, a1 = b, a2 = b, a3 = b, a4 = b, a5 = b, a6 = b, a7 = b, a8 = b, a9 = b,
           a10 = b, a11 = b;
    const long n = 400000000;
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    for (long k = 0; k < n; k++) {
        CHAIN(a0); CHAIN(a1); CHAIN(a2); CHAIN(a3); CHAIN(a4); CHAIN(a5);
        CHAIN(a6); CHAIN(a7); CHAIN(a8); CHAIN(a9); CHAIN(a10); CHAIN(a11);
        /* keep the 12 sums in registers, each chain in order */
        __asm__ volatile("" : "+x"(a0), "+x"(a1), "+x"(a2), "+x"(a3), "+x"(a4), "+x"(a5),
                         "+x"(a6), "+x"(a7), "+x"(a8), "+x"(a9), "+x"(a10), "+x"(a11));
    }
    clock_gettime(CLOCK_MONOTONIC, &t1);
    const double s = (double)(t1.tv_sec - t0.tv_sec) + 1e-9 * (double)(t1.tv_nsec - t0.tv_nsec);
    const __m256 sum = a0 + a1 + a2 + a3 + a4 + a5 + a6 + a7 + a8 + a9 + a10 + a11;
    printf("%.1f GFLOP/s (12 chains x 8 lanes x 2 flops; check %g)\n",
           (double)n * 12 * 16 / s / 1e9, (double)sum[0]);
    return 0;
}
