/* The recurrent product of one float32 time step on a packed weight matrix:
 *
 *     c[n, :M] (+)= h[n, :K] @ w.T          for every batch row n, w (M, K)
 *
 * M output columns, K deep: w_hh (H x H) for RNN, the 4H x P of an LSTM's
 * w_hh, the 3H x H (or 2H x H and H x H) of a GRU's, an LSTM's w_hr (P x H).
 * OpenBLAS's sgemm re-packs w on every call, that is on every time step,
 * and its sgemv has a fixed overhead; at the small row count N of a recurrent
 * step that dominated (measured 2.5x slower than this at N=16, H=256). Here w
 * is packed once per forward call, in panels of 32 output columns:
 *
 *     packed[p][k][jj] = w[32 p + jj][k]     (zero past M)
 *
 * so a step streams each panel sequentially while a block of up to 4 batch
 * rows (or, for a single row, two interleaved k) keeps up to 8 vector
 * accumulators busy.
 * GCC/clang vector extensions keep this portable; on x86-64 AVX-512 and AVX2
 * clones are chosen at load time.
 */
#ifndef FASTRNN_RECURRENT_H
#define FASTRNN_RECURRENT_H

#include <stddef.h>
#include <string.h>

#include "_vmath.h" /* FASTRNN_CLONES */

#define FASTRNN_PANEL 32

typedef float fastrnn_v16 __attribute__((vector_size(64), aligned(4)));

/* Floats in the packed copy of an M x K matrix. */
static inline ptrdiff_t fastrnn_packed_size(ptrdiff_t M, ptrdiff_t K)
{
    return (M + FASTRNN_PANEL - 1) / FASTRNN_PANEL * FASTRNN_PANEL * K;
}

/* w is M x K, rows K floats apart. */
static void fastrnn_pack(const float *restrict w, ptrdiff_t M, ptrdiff_t K, float *restrict packed)
{
    ptrdiff_t p, jj, k, panels = (M + FASTRNN_PANEL - 1) / FASTRNN_PANEL;
    for (p = 0; p < panels; p++) {
        float *dst = packed + p * K * FASTRNN_PANEL;
        const float *src = w + p * FASTRNN_PANEL * K;
        ptrdiff_t width = M - p * FASTRNN_PANEL;
        if (width >= FASTRNN_PANEL) {
            /* sequential writes, 32 sequential read streams */
            for (k = 0; k < K; k++)
                for (jj = 0; jj < FASTRNN_PANEL; jj++)
                    dst[k * FASTRNN_PANEL + jj] = src[jj * K + k];
        } else {
            memset(dst, 0, sizeof(float) * K * FASTRNN_PANEL);
            for (k = 0; k < K; k++)
                for (jj = 0; jj < width; jj++)
                    dst[k * FASTRNN_PANEL + jj] = src[jj * K + k];
        }
    }
}

static inline fastrnn_v16 fastrnn_load16(const float *p)
{
    fastrnn_v16 v;
    memcpy(&v, p, sizeof v);
    return v;
}

/* c[0:width] += a (accumulate) or = a, width <= 16 */
static inline void fastrnn_add16(float *c, fastrnn_v16 a, ptrdiff_t width, int accumulate)
{
    ptrdiff_t j;
    if (width >= 16) {
        if (accumulate)
            a += fastrnn_load16(c);
        memcpy(c, &a, sizeof a);
    } else {
        float t[16];
        memcpy(t, &a, sizeof a);
        for (j = 0; j < width; j++)
            c[j] = accumulate ? c[j] + t[j] : t[j];
    }
}

/* Rows n..n+R-1 (R <= 4) against one 32-column panel: each w load feeds R
 * rows. Inlined with R a constant, the accumulators stay in registers. */
static inline __attribute__((always_inline)) void
fastrnn_rows_panel(const float *restrict w, const float *h, ptrdiff_t h_ld, float *c,
                   ptrdiff_t c_ld, const int R, ptrdiff_t K, ptrdiff_t first, ptrdiff_t second,
                   int accumulate)
{
    fastrnn_v16 lo[4] = {{0}}, hi[4] = {{0}};
    ptrdiff_t k;
    int r;
    for (k = 0; k < K; k++) {
        fastrnn_v16 x0 = fastrnn_load16(w + k * FASTRNN_PANEL);
        fastrnn_v16 x1 = fastrnn_load16(w + k * FASTRNN_PANEL + 16);
        for (r = 0; r < R; r++) {
            float s = h[r * h_ld + k];
            lo[r] += s * x0;
            hi[r] += s * x1;
        }
    }
    for (r = 0; r < R; r++) {
        fastrnn_add16(c + r * c_ld, lo[r], first, accumulate);
        if (second > 0)
            fastrnn_add16(c + r * c_ld + 16, hi[r], second, accumulate);
    }
}

/* One row against one panel: two k per turn so that four sums are in flight. */
static inline void fastrnn_row_panel(const float *restrict w, const float *h, float *c,
                                     ptrdiff_t K, ptrdiff_t first, ptrdiff_t second, int accumulate)
{
    fastrnn_v16 a0 = {0}, a1 = {0}, b0 = {0}, b1 = {0};
    ptrdiff_t k;
    for (k = 0; k + 2 <= K; k += 2) {
        a0 += h[k] * fastrnn_load16(w + k * FASTRNN_PANEL);
        a1 += h[k] * fastrnn_load16(w + k * FASTRNN_PANEL + 16);
        b0 += h[k + 1] * fastrnn_load16(w + (k + 1) * FASTRNN_PANEL);
        b1 += h[k + 1] * fastrnn_load16(w + (k + 1) * FASTRNN_PANEL + 16);
    }
    if (k < K) {
        a0 += h[k] * fastrnn_load16(w + k * FASTRNN_PANEL);
        a1 += h[k] * fastrnn_load16(w + k * FASTRNN_PANEL + 16);
    }
    fastrnn_add16(c, a0 + b0, first, accumulate);
    if (second > 0)
        fastrnn_add16(c + 16, a1 + b1, second, accumulate);
}

/* c rows are c_ld floats apart, h rows h_ld apart; packed from fastrnn_pack
 * of an M x K matrix. accumulate: c += h @ w.T, else c = h @ w.T.
 * Blocks of 4 rows, then one block of the 3, 2 or 1 rows left, so that each
 * panel of w is read ceil(N / 4) times per step. */
FASTRNN_CLONES
static void fastrnn_recurrent_step_f32(const float *restrict packed, const float *h, ptrdiff_t h_ld,
                                       float *c, ptrdiff_t c_ld, ptrdiff_t N, ptrdiff_t M,
                                       ptrdiff_t K, int accumulate)
{
    const ptrdiff_t panels = (M + FASTRNN_PANEL - 1) / FASTRNN_PANEL;
    ptrdiff_t n, p;
    for (n = 0; n < N; n += 4) {
        const ptrdiff_t rows = N - n < 4 ? N - n : 4;
        const float *hn = h + n * h_ld;
        for (p = 0; p < panels; p++) {
            const float *w = packed + p * K * FASTRNN_PANEL;
            const ptrdiff_t j0 = p * FASTRNN_PANEL;
            const ptrdiff_t first = M - j0 < 16 ? M - j0 : 16, second = M - j0 - 16;
            float *cn = c + n * c_ld + j0;
            switch (rows) {
            case 4: fastrnn_rows_panel(w, hn, h_ld, cn, c_ld, 4, K, first, second, accumulate); break;
            case 3: fastrnn_rows_panel(w, hn, h_ld, cn, c_ld, 3, K, first, second, accumulate); break;
            case 2: fastrnn_rows_panel(w, hn, h_ld, cn, c_ld, 2, K, first, second, accumulate); break;
            default: fastrnn_row_panel(w, hn, cn, K, first, second, accumulate); break;
            }
        }
    }
}

#endif
