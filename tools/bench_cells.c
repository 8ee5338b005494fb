/* The float32 cells alone on every kernel path this CPU runs (_isa.h): one
 * LSTM or GRU row of H units (gx, gh, b in L1, as after a step), ns per call
 * and per unit, best of 7 x reps. The measurement behind the cells' layout
 * (tools/perf_notes.md, cells).
 *   cc -O3 -Wno-psabi -Ifastrnn tools/bench_cells.c fastrnn/_isa_*.c -o /tmp/bench_cells -lm
 *   /tmp/bench_cells [H ...] */
#include <stdio.h>
#include <stdlib.h>

#include "_isa.h"
#include "bench_util.h"

static float *alloc(size_t n)
{
    return alloc_filled(n, 3.0f);
}

int main(int argc, char **argv)
{
    int sizes[16] = {64, 100, 256, 1024}, ns = 4;
    ns = read_sizes(argc, argv, sizes, ns, 16);
    const fastrnn_isa *paths[8];
    int np = fastrnn_isa_supported(paths, 8);
    for (int p = 0; p < np; p++) {
        const fastrnn_isa *k = paths[p];
        for (int s = 0; s < ns; s++) {
            ptrdiff_t H = sizes[s];
            float *gx = alloc(4 * H), *gh = alloc(4 * H), *b = alloc(4 * H), *bhn = alloc(H);
            float *c = alloc(H), *h = alloc(H), *hp = alloc(H);
            int reps = (int)(2000000 / H) + 1;
            double best[2] = {1e30, 1e30};
            for (int round = 0; round < 7; round++) {
                for (int g = 0; g < 2; g++) {
                    double t0 = now();
                    for (int r = 0; r < reps; r++) {
                        if (g == 0)
                            k->lstm_cell(gx, gh, b, c, h, H);
                        else
                            k->gru_cell(gx, gh, b, bhn, hp, h, H);
                    }
                    double dt = (now() - t0) / reps * 1e9;
                    if (dt < best[g])
                        best[g] = dt;
                }
            }
            printf("%-7s H=%5td  lstm %8.1f ns (%.2f ns/unit)  gru %8.1f ns (%.2f ns/unit)\n",
                   k->name, H, best[0], best[0] / H, best[1], best[1] / H);
            free(gx), free(gh), free(b), free(bhn), free(c), free(h), free(hp);
        }
    }
    return 0;
}
