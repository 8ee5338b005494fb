/* One B=1 LSTM/GRU step on every kernel path this CPU runs (_isa.h): the
 * packed step kernel then the cell (as lstm_direction runs them) against the
 * fused step+cell kernel, and their results; then the packed step kernel
 * alone at N rows. The measurement behind _fused_lstm / _fused_gru and the
 * row blocking (tools/perf_notes.md).
 *   cc -O3 -Wno-psabi -Ifastrnn tools/bench_kernels.c fastrnn/_isa_*.c -o /tmp/bench_kernels -lm
 *   /tmp/bench_kernels [H ...]
 * Prints ns per step (best of 7 x reps, steps alternating direction) and the
 * largest difference between the two ways' h over 50 steps. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "_isa.h"
#include "bench_util.h"

static float *alloc(size_t n)
{
    return alloc_filled(n, 0.3f);
}

static void run(const fastrnn_isa *k, int G, ptrdiff_t H, int fused, int steps, float *packed, float *gx, float *b,
                float *bhn, float *c, float *hs, float *gh)
{
    for (int t = 0; t < steps; t++) {
        float *hp = hs + (t & 1) * H, *hn = hs + ((t + 1) & 1) * H;
        if (G == 4) {
            if (fused)
                k->lstm_step_row(packed, hp, gx, b, c, hn, H, t & 1);
            else {
                k->recurrent_step(packed, hp, H, gh, 4 * H, 1, 4 * H, H, 0, t & 1);
                k->lstm_cell(gx, gh, b, c, hn, H);
            }
        } else {
            if (fused)
                k->gru_step_row(packed, hp, gx, b, bhn, hn, H, t & 1);
            else {
                k->recurrent_step(packed, hp, H, gh, 3 * H, 1, 3 * H, H, 0, t & 1);
                k->gru_cell(gx, gh, b, bhn, hp, hn, H);
            }
        }
    }
}

int main(int argc, char **argv)
{
    int sizes[16] = {64, 128, 256, 512}, ns = 4;
    ns = read_sizes(argc, argv, sizes, ns, 16);
    const fastrnn_isa *tables[4];
    int count = fastrnn_isa_supported(tables, 4);
    for (int t = 0; t < count; t++) {
        const fastrnn_isa *k = tables[t];
        for (int G = 4; G >= 3; G--)
            for (int s = 0; s < ns; s++) {
                ptrdiff_t H = sizes[s];
                if (H % k->fused_units != 0)
                    continue;
                float *w = alloc(G * H * H), *packed = alloc(k->packed_size(G * H, H));
                float *gx = alloc(G * H), *b = alloc(G * H), *bhn = alloc(H), *gh = alloc(G * H);
                float *c[2] = {alloc(H), alloc(H)}, *hs[2] = {alloc(2 * H), alloc(2 * H)};
                k->pack(w, G * H, H, packed);
                for (int i = 0; i < H; i++) {
                    c[1][i] = c[0][i];
                    hs[1][i] = hs[0][i];
                }
                run(k, G, H, 0, 50, packed, gx, b, bhn, c[0], hs[0], gh);
                run(k, G, H, 1, 50, packed, gx, b, bhn, c[1], hs[1], gh);
                double diff = 0;
                for (int i = 0; i < H; i++)
                    diff = fmax(diff, fabs(hs[0][i] - hs[1][i]));
                int reps = (int)(2e7 / (G * H * H)) + 10;
                double best[2] = {1e9, 1e9};
                for (int r = 0; r < 7; r++)
                    for (int f = 0; f < 2; f++) {
                        double t0 = now();
                        run(k, G, H, f, reps, packed, gx, b, bhn, c[f], hs[f], gh);
                        double dt = (now() - t0) / reps * 1e9;
                        best[f] = dt < best[f] ? dt : best[f];
                    }
                printf("%-6s %s H=%4td  unfused %8.1f ns  fused %8.1f ns  (%.3fx)  max|dh| %.2g\n",
                       k->name, G == 4 ? "lstm" : "gru ", H, best[0], best[1], best[0] / best[1], diff);
                free(w); free(packed); free(gx); free(b); free(bhn); free(gh);
                free(c[0]); free(c[1]); free(hs[0]); free(hs[1]);
            }
        /* the packed step alone: N rows of an LSTM's 4H x H product */
        for (int s = 0; s < ns; s++) {
            ptrdiff_t H = sizes[s], M = 4 * H;
            float *w = alloc(M * H), *packed = alloc(k->packed_size(M, H));
            float *h = alloc(64 * H), *c = alloc(64 * M);
            k->pack(w, M, H, packed);
            printf("%-6s step H=%4td", k->name, H);
            for (ptrdiff_t N = 1; N <= 64; N = N < 10 ? N + 1 : N == 10 ? 16 : 2 * N) {
                int reps = (int)(2e7 / (N * M * H)) + 10;
                double best = 1e9;
                for (int r = 0; r < 7; r++) {
                    double t0 = now();
                    for (int i = 0; i < reps; i++)
                        k->recurrent_step(packed, h, H, c, M, N, M, H, 0, i & 1);
                    double dt = (now() - t0) / reps;
                    best = dt < best ? dt : best;
                }
                printf("  N=%td %5.1f GFLOP/s", N, 2.0 * N * M * H / best * 1e-9);
            }
            printf("\n");
            free(w); free(packed); free(h); free(c);
        }
    }
    return 0;
}
