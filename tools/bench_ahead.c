/* The one-row step with the input projection inside it (_step.h
 * fastrnn_row_step_ahead_f32) against the two one after the other, on every
 * kernel path this CPU runs: per step of a B=1 LSTM (M = 4H columns, K = H),
 * the one-row product of w_hh, and a quarter of a 4-row block of the
 * projection (M x I), as lstm_direction runs them.
 *   cc -O3 -Wno-psabi -Ifastrnn tools/bench_ahead.c fastrnn/_isa_*.c -o /tmp/bench_ahead -lm
 *   /tmp/bench_ahead [H I ...]
 * Prints ns per step (best of 7 x 2000 steps, steps alternating direction) for the step
 * alone, the projection alone, both one after the other and in one kernel
 * (tools/perf_notes.md, "The input projection inside the one-row step"). */
#include <stdio.h>
#include <stdlib.h>

#include "_isa.h"
#include "bench_util.h"

enum { STEP = 1, PROJECT = 2, AHEAD = 4 };

static double run(const fastrnn_isa *k, int what, ptrdiff_t M, ptrdiff_t H, ptrdiff_t I,
                  const float *packed, const float *packed_ih, const float *x, float *gx,
                  float *h, float *gh, float *xt, int steps)
{
    const ptrdiff_t panels = k->packed_size(M, 1) / (2 * k->lanes);
    double best = 1e30;
    for (int rep = 0; rep < 7; rep++) {
        double t0 = now();
        for (int t = 0; t < steps; t++) {
            const int block = (t / 4) % 8, part = t % 4;
            if (what == AHEAD) {
                fastrnn_ahead a = {packed_ih, xt, gx + 4 * block * M, M, 4, M, I,
                                   part * panels / 4, (part + 1) * panels / 4};
                if (part == 0)
                    fastrnn_ahead_rows(x + 4 * block * I, I, 4, I, xt);
                k->row_step_ahead(packed, h, gh, M, H, t & 1, &a);
            } else {
                if (what & STEP)
                    k->recurrent_step(packed, h, H, gh, M, 1, M, H, 0, t & 1);
                if ((what & PROJECT) && part == 0)
                    k->recurrent_step(packed_ih, x + 4 * block * I, I, gx + 4 * block * M, M, 4, M,
                                      I, 0, 0);
            }
        }
        double dt = (now() - t0) / steps * 1e9;
        best = dt < best ? dt : best;
    }
    return best;
}

int main(int argc, char **argv)
{
    int sizes[16] = {64, 32, 128, 128, 256, 64}, ns = 6;
    ns = read_sizes(argc, argv, sizes, ns, 16) & ~1;
    const fastrnn_isa *tables[4];
    int count = fastrnn_isa_supported(tables, 4);
    for (int t = 0; t < count; t++) {
        const fastrnn_isa *k = tables[t];
        for (int s = 0; s < ns; s += 2) {
            const ptrdiff_t H = sizes[s], I = sizes[s + 1], M = 4 * H;
            float *w = alloc_filled(M * H, 0.2f), *wi = alloc_filled(M * I, 0.2f);
            float *packed = alloc_filled(k->packed_size(M, H), 0), *pih = alloc_filled(k->packed_size(M, I), 0);
            float *x = alloc_filled(32 * I, 1), *gx = alloc_filled(32 * M, 0), *h = alloc_filled(H, 1);
            float *gh = alloc_filled(M, 0), *xt = alloc_filled(4 * I, 0);
            k->pack(w, M, H, packed);
            k->pack(wi, M, I, pih);
            double st = run(k, STEP, M, H, I, packed, pih, x, gx, h, gh, xt, 2000);
            double pr = run(k, PROJECT, M, H, I, packed, pih, x, gx, h, gh, xt, 2000);
            double both = run(k, STEP | PROJECT, M, H, I, packed, pih, x, gx, h, gh, xt, 2000);
            double ah = run(k, AHEAD, M, H, I, packed, pih, x, gx, h, gh, xt, 2000);
            printf("%-6s H=%4td I=%4td  step %7.0f  projection %6.0f  one after the other %7.0f"
                   "  in one kernel %7.0f ns  (%.2fx)\n",
                   k->name, H, I, st, pr, both, ah, both / ah);
            free(w); free(wi); free(packed); free(pih); free(x); free(gx); free(h); free(gh); free(xt);
        }
    }
    return 0;
}
