/* One B=1 LSTM/GRU step: packed step kernel then cell (as lstm_direction
 * runs them) against the fused step+cell kernels, and their results.
 *   gcc -O3 -Wno-psabi -Ifastrnn tools/bench_fused.c -o /tmp/bench_fused -lm
 *   /tmp/bench_fused [H ...]
 * One clone alone (results and speed of the AVX2 or baseline code):
 *   gcc ... '-DFASTRNN_CLONES=__attribute__((target("avx2")))' ...
 *   gcc ... '-DFASTRNN_CLONES=' ...
 * Prints ns per step (best of 7 x reps, steps alternating direction) and
 * the largest difference between the two paths' h over 50 steps. */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <math.h>
#include "_recurrent.h"

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + 1e-9 * ts.tv_nsec;
}

static float *alloc(size_t n)
{
    float *p = aligned_alloc(64, (n * sizeof(float) + 63) / 64 * 64);
    for (size_t i = 0; i < n; i++)
        p[i] = (float)(rand() / (double)RAND_MAX - 0.5) * 0.3f;
    return p;
}

static void run(int G, ptrdiff_t H, int fused, int steps, float *packed, float *gx, float *b,
                float *bhn, float *c, float *hs, float *gh)
{
    for (int t = 0; t < steps; t++) {
        float *hp = hs + (t & 1) * H, *hn = hs + ((t + 1) & 1) * H;
        if (G == 4) {
            if (fused)
                fastrnn_lstm_step_row_f32(packed, hp, gx, b, c, hn, H, t & 1);
            else {
                fastrnn_recurrent_step_f32(packed, hp, H, gh, 4 * H, 1, 4 * H, H, 0, t & 1);
                fastrnn_lstm_cell_f32(gx, gh, b, c, hn, H);
            }
        } else {
            if (fused)
                fastrnn_gru_step_row_f32(packed, hp, gx, b, bhn, hn, H, t & 1);
            else {
                fastrnn_recurrent_step_f32(packed, hp, H, gh, 3 * H, 1, 3 * H, H, 0, t & 1);
                fastrnn_gru_cell_f32(gx, gh, b, bhn, hp, hn, H);
            }
        }
    }
}

int main(int argc, char **argv)
{
    int sizes[16] = {64, 128, 256, 512}, ns = 4;
    if (argc > 1) {
        ns = 0;
        for (int i = 1; i < argc && ns < 16; i++)
            sizes[ns++] = atoi(argv[i]);
    }
    for (int G = 4; G >= 3; G--)
        for (int s = 0; s < ns; s++) {
            ptrdiff_t H = sizes[s];
            float *w = alloc(G * H * H), *packed = alloc(fastrnn_packed_size(G * H, H));
            float *gx = alloc(G * H), *b = alloc(G * H), *bhn = alloc(H), *gh = alloc(G * H);
            float *c[2] = {alloc(H), alloc(H)}, *hs[2] = {alloc(2 * H), alloc(2 * H)};
            fastrnn_pack(w, G * H, H, packed);
            for (int i = 0; i < H; i++) {
                c[1][i] = c[0][i];
                hs[1][i] = hs[0][i];
            }
            run(G, H, 0, 50, packed, gx, b, bhn, c[0], hs[0], gh);
            run(G, H, 1, 50, packed, gx, b, bhn, c[1], hs[1], gh);
            double diff = 0;
            for (int i = 0; i < H; i++)
                diff = fmax(diff, fabs(hs[0][i] - hs[1][i]));
            int reps = (int)(2e7 / (G * H * H)) + 10;
            double best[2] = {1e9, 1e9};
            for (int r = 0; r < 7; r++)
                for (int f = 0; f < 2; f++) {
                    double t0 = now();
                    run(G, H, f, reps, packed, gx, b, bhn, c[f], hs[f], gh);
                    double dt = (now() - t0) / reps * 1e9;
                    best[f] = dt < best[f] ? dt : best[f];
                }
            printf("%s H=%4td  unfused %8.1f ns  fused %8.1f ns  (%.3fx)  max|dh| %.2g\n",
                   G == 4 ? "lstm" : "gru ", H, best[0], best[1], best[0] / best[1], diff);
            free(w); free(packed); free(gx); free(b); free(bhn); free(gh);
            free(c[0]); free(c[1]); free(hs[0]); free(hs[1]);
        }
    return 0;
}
