/* The recurrent product of one float32 time step on a packed weight matrix:
 *
 *     c[n, :M] (+)= h[n, :K] @ w.T          for every batch row n, w (M, K)
 *
 * M output columns, K deep: w_hh (H x H) for RNN, the 4H x P of an LSTM's
 * w_hh, the 3H x H (or 2H x H and H x H) of a GRU's, an LSTM's w_hr (P x H).
 * OpenBLAS's sgemm re-packs w on every call, that is on every time step,
 * and its sgemv has a fixed overhead; at the small row count N of a
 * recurrent step that dominates. Here w is packed once per forward call,
 * 64-byte aligned, in panels of two vectors of output columns (PANEL =
 * 2 VW: 32 columns on AVX-512, 16 on AVX2, 8 on SSE2/NEON):
 *
 *     packed[p][k][jj] = w[PANEL p + jj][k]     (zero past M)
 *
 * Rows of h go in blocks of up to 6, each against a column block of ROWS_V
 * vectors (4 where the ISA has 32 vector registers, 2 where it has 16), so
 * that the 6 x ROWS_V sums stay in registers: each w load feeds 6 rows. A
 * single row takes two panels and two interleaved k (8 sums). Every sum is
 * taken over k in the same order whatever the width, so AVX2 and AVX-512
 * add the same products in the same order. See tools/perf_notes.md (step
 * kernel) for the measurements behind each choice.
 */
#ifndef FASTRNN_STEP_H
#define FASTRNN_STEP_H

#include "_cells.h"

#define FASTRNN_PANEL (2 * FASTRNN_VW)
#ifndef FASTRNN_ROWS_V
#if FASTRNN_VREGS >= 32
#define FASTRNN_ROWS_V 4    /* vectors of columns per block of rows */
#define FASTRNN_FUSED_U 2   /* vectors of units per block of the fused steps */
#else
#define FASTRNN_ROWS_V 2
#define FASTRNN_FUSED_U 1
#endif
#endif
/* Blocks of 4 rows x 3 vectors need FMA: 12 sums, 3 vectors of w and a
 * broadcast fill 16 registers; a multiply then add needs one more. */
#ifndef FASTRNN_FMA
#define FASTRNN_FMA 0
#endif
/* k per slice of a product: 64 KB of w at PANEL 32 (128 k measured 3-5%
 * slower, from the extra passes over c; 512 no better). */
#define FASTRNN_KBLOCK 256

/* Loops of the one-row kernels on 64-byte boundaries (GCC): the fused LSTM
 * step at H = 64 measured 2.5% slower with its loop 32- rather than
 * 64-aligned. */
#if defined(__GNUC__) && !defined(__clang__)
#define FASTRNN_ALIGN_LOOPS __attribute__((optimize("align-loops=64")))
#else
#define FASTRNN_ALIGN_LOOPS
#endif

/* Floats of the packed copy of an M x K matrix at this width. */
FASTRNN_TARGET static ptrdiff_t fastrnn_packed_size(ptrdiff_t M, ptrdiff_t K)
{
    return (M + FASTRNN_PANEL - 1) / FASTRNN_PANEL * FASTRNN_PANEL * K;
}

#if defined(__has_builtin)
#if __has_builtin(__builtin_shufflevector)
#define FASTRNN_SHUFFLE 1
#endif
#endif

#ifdef FASTRNN_SHUFFLE
/* The shuffles' own type: naturally aligned, so that the compiler's stack
 * copies of it (at -O0) are aligned as its instructions assume. */
typedef float fastrnn_vfn __attribute__((vector_size(4 * FASTRNN_VW)));

/* Element j of the bit-b step of a VW x VW transpose: rows r (bit b clear)
 * and r | b exchange the halves of their b-blocks that lie off the diagonal. */
#define FASTRNN_LO(b, j) (((j) & (b)) ? FASTRNN_VW + ((j) ^ (b)) : (j))
#define FASTRNN_HI(b, j) (((j) & (b)) ? FASTRNN_VW + (j) : ((j) ^ (b)))
#define FASTRNN_MASK4(F, b) F(b, 0), F(b, 1), F(b, 2), F(b, 3)
#define FASTRNN_MASK8(F, b) FASTRNN_MASK4(F, b), F(b, 4), F(b, 5), F(b, 6), F(b, 7)
#define FASTRNN_MASK16(F, b) FASTRNN_MASK8(F, b), F(b, 8), F(b, 9), F(b, 10), F(b, 11), \
    F(b, 12), F(b, 13), F(b, 14), F(b, 15)
#if FASTRNN_VW == 16
#define FASTRNN_MASK FASTRNN_MASK16
#elif FASTRNN_VW == 8
#define FASTRNN_MASK FASTRNN_MASK8
#else
#define FASTRNN_MASK FASTRNN_MASK4
#endif
#define FASTRNN_STEP(b)                                                                     \
    if ((b) != 0 && (b) < FASTRNN_VW)                                                       \
        for (r = 0; r < FASTRNN_VW; r++)                                                    \
            if (!(r & (b))) {                                                               \
                fastrnn_vfn lo = __builtin_shufflevector(x[r], x[r | (b)],                  \
                                                         FASTRNN_MASK(FASTRNN_LO, (b)));    \
                fastrnn_vfn hi = __builtin_shufflevector(x[r], x[r | (b)],                  \
                                                         FASTRNN_MASK(FASTRNN_HI, (b)));    \
                x[r] = lo;                                                                  \
                x[r | (b)] = hi;                                                            \
            }

/* dst[k * dst_ld + j] = src[j * src_ld + k] for a VW x VW block: log2(VW)
 * butterfly steps, each swapping one bit of the row and column indices. */
FASTRNN_INLINE void fastrnn_transpose(const float *src, ptrdiff_t src_ld, float *dst,
                                      ptrdiff_t dst_ld)
{
    fastrnn_vfn x[FASTRNN_VW];
    int r;
    /* On AVX2 GCC makes a memcpy into x two 16-byte halves through the
     * stack, reloaded whole (a failed store-to-load forward per row): there
     * the rows go through the 4-byte-aligned vector type (3.3x faster);
     * elsewhere memcpy measures 1.2-1.5x faster than those loads (tools/
     * perf_notes.md, paths: AVX2). */
#if FASTRNN_VW == 8
    for (r = 0; r < FASTRNN_VW; r++)
        x[r] = fastrnn_load(src + r * src_ld);
#else
    for (r = 0; r < FASTRNN_VW; r++)
        memcpy(&x[r], src + r * src_ld, sizeof x[r]);
#endif
    FASTRNN_STEP(1)
    FASTRNN_STEP(2)
    FASTRNN_STEP(4 % (2 * FASTRNN_VW))
    FASTRNN_STEP(8 % (2 * FASTRNN_VW))
#if FASTRNN_VW == 8
    for (r = 0; r < FASTRNN_VW; r++)
        fastrnn_store(dst + r * dst_ld, x[r]);
#else
    for (r = 0; r < FASTRNN_VW; r++)
        memcpy(dst + r * dst_ld, &x[r], sizeof x[r]);
#endif
}
#endif

/* w is M x K, rows K floats apart. Full VW x VW blocks are transposed in
 * registers where the compiler has __builtin_shufflevector, the rest
 * element by element. */
FASTRNN_TARGET static void fastrnn_pack(const float *restrict w, ptrdiff_t M, ptrdiff_t K, float *restrict packed)
{
    ptrdiff_t p, jj, k, k_fast, panels = (M + FASTRNN_PANEL - 1) / FASTRNN_PANEL;
    for (p = 0; p < panels; p++) {
        float *dst = packed + p * K * FASTRNN_PANEL;
        const float *src = w + p * FASTRNN_PANEL * K;
        ptrdiff_t width = M - p * FASTRNN_PANEL;
        k_fast = 0;
        if (width >= FASTRNN_PANEL) {
#ifdef FASTRNN_SHUFFLE
            for (; k_fast + FASTRNN_VW <= K; k_fast += FASTRNN_VW) {
                fastrnn_transpose(src + k_fast, K, dst + k_fast * FASTRNN_PANEL, FASTRNN_PANEL);
                fastrnn_transpose(src + FASTRNN_VW * K + k_fast, K,
                                  dst + k_fast * FASTRNN_PANEL + FASTRNN_VW, FASTRNN_PANEL);
            }
#endif
        } else {
            memset(dst, 0, sizeof(float) * K * FASTRNN_PANEL);
        }
        width = width < FASTRNN_PANEL ? width : FASTRNN_PANEL;
        for (k = k_fast; k < K; k++)
            for (jj = 0; jj < width; jj++)
                dst[k * FASTRNN_PANEL + jj] = src[jj * K + k];
    }
}

/* c[0:width] (+)= a for a width that may be <= 0 (a vector past M) */
FASTRNN_INLINE void fastrnn_put(float *c, fastrnn_vf a, ptrdiff_t width, int accumulate)
{
    ptrdiff_t j;
    if (width >= FASTRNN_VW) {
        if (accumulate)
            a += fastrnn_load(c);
        fastrnn_store(c, a);
    } else if (width > 0) {
        float t[FASTRNN_VW];
        fastrnn_store(t, a);
        for (j = 0; j < width; j++)
            c[j] = accumulate ? c[j] + t[j] : t[j];
    }
}

/* Vector v of a column block: v / 2 panels on (each `next` floats after
 * the one before), half v % 2 of that panel. */
#define FASTRNN_VEC(w, next, v) ((w) + ((v) >> 1) * (next) + ((v) & 1) * FASTRNN_VW)

/* Rows n..n+R-1 (R <= 6) against V vectors of columns (V <= 4), vector v
 * at wv[v] (panel rows PANEL floats apart): each w load feeds R rows, each
 * h value V vectors. Inlined with R and V constants, the R*V sums stay in
 * registers. Every column's sum runs over k in order. */
FASTRNN_INLINE void fastrnn_rows_vectors(const float *const wv[4], const int V, const float *h,
                                         ptrdiff_t h_ld, float *c, ptrdiff_t c_ld, const int R,
                                         ptrdiff_t K, ptrdiff_t width, int accumulate)
{
    fastrnn_vf acc[6][4] = {{{0}}};
    ptrdiff_t k;
    int r, v;
    for (k = 0; k < K; k++) {
        fastrnn_vf x[4];
        /* w comes from L2 for the first row block: ask for it 8 k ahead */
        for (v = 0; v < V; v++)
            __builtin_prefetch(wv[v] + (k + 8) * FASTRNN_PANEL, 0, 3);
        /* A volatile load: left to itself GCC folds the load of x[v] into
         * each of the R FMAs that use it (R loads instead of one), and the
         * loop became bound by the loads. */
        for (v = 0; v < V; v++)
            x[v] = *(const volatile fastrnn_vf *)(wv[v] + k * FASTRNN_PANEL);
        for (r = 0; r < R; r++) {
            float s = h[r * h_ld + k];
            for (v = 0; v < V; v++)
                acc[r][v] += s * x[v];
        }
    }
    for (r = 0; r < R; r++)
        for (v = 0; v < V; v++)
            fastrnn_put(c + r * c_ld + FASTRNN_VW * v, acc[r][v], width - FASTRNN_VW * v,
                        accumulate);
}

/* fastrnn_rows_vectors on the V vectors of the panels from w on (V / 2
 * panels, each `next` floats after the one before). */
FASTRNN_INLINE void fastrnn_rows_panels(const float *restrict w, ptrdiff_t next, const int V,
                                        const float *h, ptrdiff_t h_ld, float *c, ptrdiff_t c_ld,
                                        const int R, ptrdiff_t K, ptrdiff_t width, int accumulate)
{
    const float *wv[4];
    int v;
    for (v = 0; v < V; v++)
        wv[v] = FASTRNN_VEC(w, next, v);
    fastrnn_rows_vectors(wv, V, h, h_ld, c, c_ld, R, K, width, accumulate);
}

/* One row against V vectors of columns: two k per turn, 2V sums in flight. */
FASTRNN_INLINE void fastrnn_row_panels(const float *restrict w, ptrdiff_t next, const int V,
                                       const float *h, float *c, ptrdiff_t K, ptrdiff_t width,
                                       int accumulate)
{
    fastrnn_vf a[4] = {{0}}, b[4] = {{0}};
    ptrdiff_t k;
    int v;
    for (k = 0; k + 2 <= K; k += 2) {
        for (v = 0; v < V; v++) {
            const float *wv = FASTRNN_VEC(w, next, v);
            a[v] += h[k] * fastrnn_load(wv + k * FASTRNN_PANEL);
            b[v] += h[k + 1] * fastrnn_load(wv + (k + 1) * FASTRNN_PANEL);
        }
    }
    if (k < K)
        for (v = 0; v < V; v++)
            a[v] += h[k] * fastrnn_load(FASTRNN_VEC(w, next, v) + k * FASTRNN_PANEL);
    for (v = 0; v < V; v++)
        fastrnn_put(c + FASTRNN_VW * v, a[v] + b[v], width - FASTRNN_VW * v, accumulate);
}

/* fastrnn_row_panels for two whole panels (the same sums in the same
 * order), written so that GCC keeps the 8 sums in registers without moves:
 * its loop is 2 broadcasts and 8 FMAs with memory operands. */
FASTRNN_INLINE void fastrnn_row_pair(const float *restrict w, ptrdiff_t next,
                                     const float *restrict h, float *restrict c, ptrdiff_t K,
                                     int accumulate)
{
    fastrnn_vf a0 = {0}, a1 = {0}, a2 = {0}, a3 = {0}, b0 = {0}, b1 = {0}, b2 = {0}, b3 = {0};
    const float *w2 = w + next;
    const ptrdiff_t P = FASTRNN_PANEL, V = FASTRNN_VW;
    ptrdiff_t k;
    for (k = 0; k + 2 <= K; k += 2) {
        const float *wk = w + k * P, *w2k = w2 + k * P;
        a0 += h[k] * fastrnn_load(wk);
        a1 += h[k] * fastrnn_load(wk + V);
        a2 += h[k] * fastrnn_load(w2k);
        a3 += h[k] * fastrnn_load(w2k + V);
        b0 += h[k + 1] * fastrnn_load(wk + P);
        b1 += h[k + 1] * fastrnn_load(wk + P + V);
        b2 += h[k + 1] * fastrnn_load(w2k + P);
        b3 += h[k + 1] * fastrnn_load(w2k + P + V);
    }
    if (k < K) {
        a0 += h[k] * fastrnn_load(w + k * P);
        a1 += h[k] * fastrnn_load(w + k * P + V);
        a2 += h[k] * fastrnn_load(w2 + k * P);
        a3 += h[k] * fastrnn_load(w2 + k * P + V);
    }
    a0 += b0;
    a1 += b1;
    a2 += b2;
    a3 += b3;
    if (accumulate) {
        a0 += fastrnn_load(c);
        a1 += fastrnn_load(c + V);
        a2 += fastrnn_load(c + 2 * V);
        a3 += fastrnn_load(c + 3 * V);
    }
    fastrnn_store(c, a0);
    fastrnn_store(c + V, a1);
    fastrnn_store(c + 2 * V, a2);
    fastrnn_store(c + 3 * V, a3);
}

/* c rows are c_ld floats apart, h rows h_ld apart; packed from fastrnn_pack
 * of an M x K matrix. accumulate: c += h @ w.T, else c = h @ w.T.
 * backwards: the same products with the column blocks taken last to first.
 * Callers alternate it from step to step, so that a step starts on the
 * panels the previous one read last, still in L1 (read in the same order
 * every step, w a little larger than L1 missed on every load: LRU evicts
 * each line before its turn comes back). The sums and their order per
 * column do not change. For each column block, slices of FASTRNN_KBLOCK k,
 * and for each every block of 6 rows (then the 5..1 left): w is read from
 * memory once per step and from L1/L2 by the other row blocks. */

/* The one-row case, in a function of its own: inlined among the row
 * blocks' code, GCC's register allocation put 4 moves into the loop of two
 * k (8-11% slower at N = 1). */
FASTRNN_ALIGN_LOOPS FASTRNN_TARGET
static void fastrnn_row_step_f32(const float *restrict packed, const float *h, float *c,
                                 ptrdiff_t M, ptrdiff_t K, int accumulate, int backwards)
{
    const ptrdiff_t panels = (M + FASTRNN_PANEL - 1) / FASTRNN_PANEL;
    const ptrdiff_t pairs = (panels + 1) / 2;
    const ptrdiff_t next = K * FASTRNN_PANEL;
    ptrdiff_t q, k0;
    for (q = 0; q < pairs; q++) {
        const ptrdiff_t p = 2 * (backwards ? pairs - 1 - q : q);
        const ptrdiff_t j0 = p * FASTRNN_PANEL, width = M - j0;
        for (k0 = 0; k0 < K; k0 += FASTRNN_KBLOCK) {
            const ptrdiff_t kb = K - k0 < FASTRNN_KBLOCK ? K - k0 : FASTRNN_KBLOCK;
            const float *w = packed + p * next + k0 * FASTRNN_PANEL;
            const int acc = accumulate || k0 > 0;
            if (width >= 2 * FASTRNN_PANEL)
                fastrnn_row_pair(w, next, h + k0, c + j0, kb, acc);
            else if (p + 1 < panels)
                fastrnn_row_panels(w, next, 4, h + k0, c + j0, kb, width, acc);
            else
                fastrnn_row_panels(w, next, 2, h + k0, c + j0, kb, width, acc);
        }
    }
}

/* The one-row step with an input projection among its sums (the table's
 * row_step_ahead). At one batch row the step streams w from L2 (an LSTM's
 * 4H x H w_hh is 256 KB at H = 128) and uses about half the FMA slots, while
 * the projection of later rows is all FMAs: one after the other their times
 * add up. Here, every `every` turns of the step's loop (two k), one k of a
 * 4-row block of two vectors of the projection follows, its 8 sums kept in
 * registers across the step's panels, so that its few loads come between the
 * stream's. The step takes one panel at a time (4 sums), which leaves the
 * registers for it with 16. Where it gains is measured per path (tools/
 * perf_notes.md, "The projection inside the one-row steps: 'auto' by each
 * path's measured rule": AVX-512 0.99-1.29x; on AVX2, where the two fill the
 * FMA ports and L2 together, 1.02-1.14x from 96 to 128 input features only).
 * Both products are taken in one slice of k (K <= FASTRNN_KBLOCK, as the plan
 * holds them): each column's step sums are then fastrnn_row_step_f32's (even
 * and odd k apart), each projection's those of the row blocks (one chain over
 * k from 0), and the results keep their bits. What the loop leaves of the
 * projection runs after it. */

/* One k of the projection: the panel's w at wa, the rows' x at xk (the four
 * rows' k-th features side by side); at the panel's end its sums into gx and
 * the next panel (the packed panels follow each other: wa runs on). */
#define FASTRNN_AHEAD_K()                                                              \
    do {                                                                               \
        const fastrnn_vf w0_ = *(const volatile fastrnn_vf *)wa;                       \
        const fastrnn_vf w1_ = *(const volatile fastrnn_vf *)(wa + FASTRNN_VW);        \
        float s_ = xk[0];                                                              \
        p00 += s_ * w0_;                                                               \
        p01 += s_ * w1_;                                                               \
        s_ = xk[1];                                                                    \
        p10 += s_ * w0_;                                                               \
        p11 += s_ * w1_;                                                               \
        s_ = xk[2];                                                                    \
        p20 += s_ * w0_;                                                               \
        p21 += s_ * w1_;                                                               \
        s_ = xk[3];                                                                    \
        p30 += s_ * w0_;                                                               \
        p31 += s_ * w1_;                                                               \
        wa += FASTRNN_PANEL;                                                           \
        xk += 4;                                                                       \
        left--;                                                                        \
        if (xk == xend) {                                                              \
            fastrnn_ahead_put(ahead, q++, p00, p01, p10, p11, p20, p21, p30, p31);     \
            p00 = p01 = p10 = p11 = p20 = p21 = p30 = p31 = zero;                      \
            xk = xt;                                                                   \
        }                                                                              \
    } while (0)

/* gx's columns of panel q for the projection's rows, from their sums. */
FASTRNN_INLINE void fastrnn_ahead_put(const fastrnn_ahead *a, ptrdiff_t q, fastrnn_vf p00,
                                      fastrnn_vf p01, fastrnn_vf p10, fastrnn_vf p11,
                                      fastrnn_vf p20, fastrnn_vf p21, fastrnn_vf p30,
                                      fastrnn_vf p31)
{
    const ptrdiff_t j = q * FASTRNN_PANEL, width = a->M - j;
    float *g = a->gx + j;
    fastrnn_put(g, p00, width, 0);
    fastrnn_put(g + FASTRNN_VW, p01, width - FASTRNN_VW, 0);
    if (a->rows > 1) {
        fastrnn_put(g + a->gx_ld, p10, width, 0);
        fastrnn_put(g + a->gx_ld + FASTRNN_VW, p11, width - FASTRNN_VW, 0);
    }
    if (a->rows > 2) {
        fastrnn_put(g + 2 * a->gx_ld, p20, width, 0);
        fastrnn_put(g + 2 * a->gx_ld + FASTRNN_VW, p21, width - FASTRNN_VW, 0);
    }
    if (a->rows > 3) {
        fastrnn_put(g + 3 * a->gx_ld, p30, width, 0);
        fastrnn_put(g + 3 * a->gx_ld + FASTRNN_VW, p31, width - FASTRNN_VW, 0);
    }
}

/* The kernel with E turns of the step per k of the projection (a constant). */
FASTRNN_INLINE void fastrnn_row_step_ahead(const int E, const float *restrict packed,
                                           const float *restrict h, float *restrict c,
                                           ptrdiff_t M, ptrdiff_t K, int backwards,
                                           const fastrnn_ahead *restrict ahead)
{
    const ptrdiff_t P = FASTRNN_PANEL, VW = FASTRNN_VW;
    const ptrdiff_t panels = (M + P - 1) / P;
    const float *wa = ahead->packed + ahead->p0 * ahead->K * P;
    const float *const xt = ahead->x, *xk = xt, *const xend = xt + 4 * ahead->K;
    const fastrnn_vf zero = {0};
    fastrnn_vf p00 = zero, p01 = zero, p10 = zero, p11 = zero;
    fastrnn_vf p20 = zero, p21 = zero, p30 = zero, p31 = zero;
    ptrdiff_t q = ahead->p0, left = (ahead->p1 - ahead->p0) * ahead->K;
    ptrdiff_t b, e, groups;
    for (b = 0; b < panels; b++) {
        const ptrdiff_t p = backwards ? panels - 1 - b : b;
        const float *wk = packed + p * K * P, *hk = h, *const hend = h + K;
        fastrnn_vf a0 = zero, a1 = zero, b0 = zero, b1 = zero;
#define FASTRNN_TURN()                                                                 \
        a0 += hk[0] * fastrnn_load(wk);                                                \
        a1 += hk[0] * fastrnn_load(wk + VW);                                           \
        b0 += hk[1] * fastrnn_load(wk + P);                                            \
        b1 += hk[1] * fastrnn_load(wk + P + VW);                                       \
        hk += 2;                                                                       \
        wk += 2 * P;
        groups = K / (2 * E) < left ? K / (2 * E) : left;
        for (; groups > 0; groups--) {
            for (e = 0; e < E; e++) {
                FASTRNN_TURN()
            }
            FASTRNN_AHEAD_K();
        }
        while (hk + 2 <= hend) {
            FASTRNN_TURN()
        }
#undef FASTRNN_TURN
        if (hk < hend) {
            a0 += hk[0] * fastrnn_load(wk);
            a1 += hk[0] * fastrnn_load(wk + VW);
        }
        fastrnn_put(c + p * P, a0 + b0, M - p * P, 0);
        fastrnn_put(c + p * P + VW, a1 + b1, M - p * P - VW, 0);
    }
    while (left > 0)
        FASTRNN_AHEAD_K();
}
#undef FASTRNN_AHEAD_K

FASTRNN_ALIGN_LOOPS FASTRNN_TARGET
static void fastrnn_row_step_ahead_f32(const float *restrict packed, const float *restrict h,
                                       float *restrict c, ptrdiff_t M, ptrdiff_t K,
                                       int backwards, const fastrnn_ahead *restrict ahead)
{
    /* the turns per k that spread the projection over the step (what the
     * loop leaves of it runs after) */
    const ptrdiff_t turns = (M + FASTRNN_PANEL - 1) / FASTRNN_PANEL * (K / 2);
    const ptrdiff_t work = (ahead->p1 - ahead->p0) * ahead->K;
    const ptrdiff_t every = work > 0 ? turns / work : 0;
    if (every >= 8)
        fastrnn_row_step_ahead(8, packed, h, c, M, K, backwards, ahead);
    else if (every >= 4)
        fastrnn_row_step_ahead(4, packed, h, c, M, K, backwards, ahead);
    else if (every >= 2)
        fastrnn_row_step_ahead(2, packed, h, c, M, K, backwards, ahead);
    else
        fastrnn_row_step_ahead(1, packed, h, c, M, K, backwards, ahead);
}

/* Rows [0, N) against every column block of `per` panels, rmax rows at a time. */
FASTRNN_TARGET static void fastrnn_rows_sweep(const float *restrict packed, const float *h,
                                              ptrdiff_t h_ld, float *c, ptrdiff_t c_ld,
                                              ptrdiff_t N, ptrdiff_t M, ptrdiff_t K,
                                              int accumulate, int backwards, ptrdiff_t per,
                                              ptrdiff_t rmax)
{
    const ptrdiff_t panels = (M + FASTRNN_PANEL - 1) / FASTRNN_PANEL;
    const ptrdiff_t blocks = (panels + per - 1) / per;
    const ptrdiff_t next = K * FASTRNN_PANEL;
    ptrdiff_t n, q, k0, rows;
    for (q = 0; q < blocks; q++) {
        const ptrdiff_t p = per * (backwards ? blocks - 1 - q : q);
        const ptrdiff_t j0 = p * FASTRNN_PANEL, width = M - j0;
        const int V = 2 * (p + per <= panels ? (int)per : (int)(panels - p));
        for (k0 = 0; k0 < K; k0 += FASTRNN_KBLOCK) {
            const ptrdiff_t kb = K - k0 < FASTRNN_KBLOCK ? K - k0 : FASTRNN_KBLOCK;
            const float *w = packed + p * next + k0 * FASTRNN_PANEL;
            const int acc = accumulate || k0 > 0;
            for (n = 0; n < N; n += rows) {
                /* (no row alone at the end: 5 + 2 rather than 6 + 1, so that
                 * every row of a block sums in one chain) */
                rows = N - n < rmax ? N - n : N - n == rmax + 1 && rmax > 2 ? rmax - 1 : rmax;
                const float *hn = h + n * h_ld + k0;
                float *cn = c + n * c_ld + j0;
#define FASTRNN_ROWS(R) (V == 4 ? fastrnn_rows_panels(w, next, 4, hn, h_ld, cn, c_ld, R, kb, width, acc) \
                                : fastrnn_rows_panels(w, next, 2, hn, h_ld, cn, c_ld, R, kb, width, acc))
                switch (rows) {
                case 6: FASTRNN_ROWS(6); break;
                case 5: FASTRNN_ROWS(5); break;
                case 4: FASTRNN_ROWS(4); break;
                case 3: FASTRNN_ROWS(3); break;
                case 2: FASTRNN_ROWS(2); break;
                default:
                    if (V == 4)
                        fastrnn_row_panels(w, next, 4, hn, cn, kb, width, acc);
                    else
                        fastrnn_row_panels(w, next, 2, hn, cn, kb, width, acc);
                    break;
                }
#undef FASTRNN_ROWS
            }
        }
    }
}

/* R = 3 or 4 rows against the three vectors of columns at w0, w1, w2 (the
 * sums of fastrnn_rows_vectors in the same order), written with named sums
 * and two prefetches (the three vectors lie on two cache lines at every
 * width), so that GCC's loop is 3 loads, R broadcasts and 3 R FMAs without
 * register moves: with 16 registers 12 sums, 3 vectors of w and a
 * broadcast. fetch: prefetch w 8 k ahead (the first row block of a column
 * block; the later ones find w in L1: 0-3% faster at B=16 and 64 without
 * their prefetches). */
FASTRNN_INLINE void fastrnn_rows_3v(const float *w0, const float *w1, const float *w2,
                                    const float *h, ptrdiff_t h_ld, float *c, ptrdiff_t c_ld,
                                    const int R, ptrdiff_t K, ptrdiff_t width, int accumulate,
                                    const int fetch)
{
    fastrnn_vf a0 = {0}, a1 = {0}, a2 = {0}, b0 = {0}, b1 = {0}, b2 = {0};
    fastrnn_vf d0 = {0}, d1 = {0}, d2 = {0}, e0 = {0}, e1 = {0}, e2 = {0};
    const float *h0 = h, *h1 = h + h_ld, *h2 = h + 2 * h_ld, *h3 = R == 4 ? h + 3 * h_ld : h;
    ptrdiff_t k;
    for (k = 0; k < K; k++) {
        const ptrdiff_t o = k * FASTRNN_PANEL;
        fastrnn_vf x0, x1, x2;
        float s;
        if (fetch) {
            __builtin_prefetch(w0 + o + 8 * FASTRNN_PANEL, 0, 3);
            __builtin_prefetch(w2 + o + 8 * FASTRNN_PANEL, 0, 3);
        }
        x0 = *(const volatile fastrnn_vf *)(w0 + o);
        x1 = *(const volatile fastrnn_vf *)(w1 + o);
        x2 = *(const volatile fastrnn_vf *)(w2 + o);
        s = h0[k];
        a0 += s * x0;
        a1 += s * x1;
        a2 += s * x2;
        s = h1[k];
        b0 += s * x0;
        b1 += s * x1;
        b2 += s * x2;
        s = h2[k];
        d0 += s * x0;
        d1 += s * x1;
        d2 += s * x2;
        if (R == 4) {
            s = h3[k];
            e0 += s * x0;
            e1 += s * x1;
            e2 += s * x2;
        }
    }
#define FASTRNN_PUT3(x0, x1, x2)                                                \
    fastrnn_put(c, x0, width, accumulate);                                      \
    fastrnn_put(c + FASTRNN_VW, x1, width - FASTRNN_VW, accumulate);            \
    fastrnn_put(c + 2 * FASTRNN_VW, x2, width - 2 * FASTRNN_VW, accumulate);    \
    c += c_ld;
    FASTRNN_PUT3(a0, a1, a2)
    FASTRNN_PUT3(b0, b1, b2)
    FASTRNN_PUT3(d0, d1, d2)
    if (R == 4) {
        FASTRNN_PUT3(e0, e1, e2)
    }
#undef FASTRNN_PUT3
}

/* N rows in blocks of 4 and 3 rows (the blocks of 3 last; N >= 3, N != 5,
 * and a multiple of 3 without FMA) against blocks of three vectors of
 * columns: 12 or 9 sums, with 16 registers (tools/perf_notes.md, paths:
 * AVX2). Vector g of the packed copy lies in panel g / 2, half g % 2;
 * columns VW g on. */
FASTRNN_TARGET static void fastrnn_rows_3v_sweep(const float *restrict packed, const float *h,
                                                 ptrdiff_t h_ld, float *c, ptrdiff_t c_ld,
                                                 ptrdiff_t N, ptrdiff_t M, ptrdiff_t K,
                                                 int accumulate, int backwards)
{
    const ptrdiff_t vectors = (M + FASTRNN_VW - 1) / FASTRNN_VW;
    const ptrdiff_t blocks = (vectors + 2) / 3;
    const ptrdiff_t next = K * FASTRNN_PANEL;
    /* rows in blocks of 4 up to `fours`, then blocks of 3 */
    const ptrdiff_t fours = FASTRNN_FMA ? N - 3 * ((4 - N % 4) % 4) : 0;
    ptrdiff_t q, k0, n;
    int v;
    for (q = 0; q < blocks; q++) {
        const ptrdiff_t g0 = 3 * (backwards ? blocks - 1 - q : q);
        const ptrdiff_t j0 = g0 * FASTRNN_VW, width = M - j0;
        const int V = vectors - g0 < 3 ? (int)(vectors - g0) : 3;
        for (k0 = 0; k0 < K; k0 += FASTRNN_KBLOCK) {
            const ptrdiff_t kb = K - k0 < FASTRNN_KBLOCK ? K - k0 : FASTRNN_KBLOCK;
            const int acc = accumulate || k0 > 0;
            const float *wv[4];
            for (v = 0; v < V; v++) {
                const ptrdiff_t g = g0 + v;
                wv[v] = packed + g / 2 * next + g % 2 * FASTRNN_VW + k0 * FASTRNN_PANEL;
            }
            for (n = 0; n < N;) {
                const int R = n < fours ? 4 : 3;
                const float *hk = h + n * h_ld + k0;
                float *cj = c + n * c_ld + j0;
                if (V == 3 && R == 4 && n == 0)
                    fastrnn_rows_3v(wv[0], wv[1], wv[2], hk, h_ld, cj, c_ld, 4, kb, width, acc, 1);
                else if (V == 3 && R == 4)
                    fastrnn_rows_3v(wv[0], wv[1], wv[2], hk, h_ld, cj, c_ld, 4, kb, width, acc, 0);
                else if (V == 3 && n == 0)
                    fastrnn_rows_3v(wv[0], wv[1], wv[2], hk, h_ld, cj, c_ld, 3, kb, width, acc, 1);
                else if (V == 3)
                    fastrnn_rows_3v(wv[0], wv[1], wv[2], hk, h_ld, cj, c_ld, 3, kb, width, acc, 0);
                else if (V == 2 && R == 4)
                    fastrnn_rows_vectors(wv, 2, hk, h_ld, cj, c_ld, 4, kb, width, acc);
                else if (V == 2)
                    fastrnn_rows_vectors(wv, 2, hk, h_ld, cj, c_ld, 3, kb, width, acc);
                else if (R == 4)
                    fastrnn_rows_vectors(wv, 1, hk, h_ld, cj, c_ld, 4, kb, width, acc);
                else
                    fastrnn_rows_vectors(wv, 1, hk, h_ld, cj, c_ld, 3, kb, width, acc);
                n += R;
            }
        }
    }
}

FASTRNN_TARGET static void fastrnn_recurrent_step_f32(const float *restrict packed, const float *h, ptrdiff_t h_ld,
                                       float *c, ptrdiff_t c_ld, ptrdiff_t N, ptrdiff_t M,
                                       ptrdiff_t K, int accumulate, int backwards)
{
    /* Rows per block and vectors of columns per block: with 32 registers 6
     * rows x 4 vectors (24 sums). With 16 and FMA: blocks of 4 and 3 rows
     * x 3 vectors (12 and 9 sums); 5 or 6 rows x 2 vectors (10 or 12); 2
     * rows x 4 vectors (8). Without FMA (SSE2): 3 rows x 3 vectors where
     * N is a multiple of 3, else blocks of 6 rows x 2 vectors (the last
     * two 5 and 2 where one row would be left) and 2 rows left (or N <= 3)
     * x 4 vectors. A block of rows sums each column over k in one order, so
     * every row of a product of N >= 2 rows has the same sums whatever the
     * blocks (fastrnn_row_step_ahead_f32 counts on it); a row alone (N = 1)
     * in two chains (even and odd k) added at the end. */
    if (N == 1) {
        fastrnn_row_step_f32(packed, h, c, M, K, accumulate, backwards);
        return;
    }
    if (FASTRNN_ROWS_V == 4) {
        fastrnn_rows_sweep(packed, h, h_ld, c, c_ld, N, M, K, accumulate, backwards, 2, 6);
    } else if (FASTRNN_FMA ? N != 2 && N != 5 && N != 6 : N % 3 == 0) {
        fastrnn_rows_3v_sweep(packed, h, h_ld, c, c_ld, N, M, K, accumulate, backwards);
    } else if (N <= 3) {
        fastrnn_rows_sweep(packed, h, h_ld, c, c_ld, N, M, K, accumulate, backwards, 2, 2);
    } else {
        const ptrdiff_t tail = N % 6 == 2 ? 2 : 0, main = N - tail;
        fastrnn_rows_sweep(packed, h, h_ld, c, c_ld, main, M, K, accumulate, backwards, 1, 6);
        if (tail)
            fastrnn_rows_sweep(packed, h + main * h_ld, h_ld, c + main * c_ld, c_ld, tail, M, K,
                               accumulate, backwards, 2, 2);
    }
}

/* The fused steps below: one batch row's step with its cell (no
 * projection, H a multiple of the block), on w packed by fastrnn_pack. The
 * units go in blocks of FUSED_U vectors (32 units on AVX-512, 8 on AVX2):
 * for each, the sums of its G gates (G x FUSED_U vectors, gate g's from
 * column g H + j0), then its cell on those sums. The cell of block q - 1
 * runs inside block q's sums (GRU with two vectors: between thirds of the k
 * loop; otherwise before them), so that its arithmetic overlaps block q's
 * reads of w: the step is bound by reading w, the cell by its vector
 * instructions. The sums are the unfused kernel's in its order (two k per
 * turn, slices of FASTRNN_KBLOCK k), and so are the results. */
#define FASTRNN_FUSED_UNITS (FASTRNN_FUSED_U * FASTRNN_VW)

/* a, b (+)= h[k] w[g][k] over k in [kb, ke), two k per turn (a: even
 * offsets from kb, b: odd; a last odd k into a). */
FASTRNN_INLINE void fastrnn_unit_sums(const float *const w[4], const float *restrict h, const int G,
                                      ptrdiff_t kb, ptrdiff_t ke,
                                      fastrnn_vf a[4][FASTRNN_FUSED_U],
                                      fastrnn_vf b[4][FASTRNN_FUSED_U])
{
    ptrdiff_t k;
    int g, u;
    for (k = kb; k + 2 <= ke; k += 2)
        for (g = 0; g < G; g++)
            for (u = 0; u < FASTRNN_FUSED_U; u++) {
                a[g][u] += h[k] * fastrnn_load(w[g] + k * FASTRNN_PANEL + FASTRNN_VW * u);
                b[g][u] += h[k + 1] * fastrnn_load(w[g] + (k + 1) * FASTRNN_PANEL + FASTRNN_VW * u);
            }
    if (k < ke)
        for (g = 0; g < G; g++)
            for (u = 0; u < FASTRNN_FUSED_U; u++)
                a[g][u] += h[k] * fastrnn_load(w[g] + k * FASTRNN_PANEL + FASTRNN_VW * u);
}

/* The cell of units j0 .. j0 + VW - 1 from their pre-activations p[g]. */
FASTRNN_INLINE void fastrnn_fused_cell(const int G, const fastrnn_vf p[4], ptrdiff_t j0,
                                       const float *restrict h_prev, float *restrict c,
                                       float *restrict h)
{
    if (G == 4)
        fastrnn_lstm_vcell(p, c + j0, h + j0);
    else
        fastrnn_gru_vcell(p, h_prev + j0, h + j0);
}

FASTRNN_INLINE void fastrnn_fused_cells(const int G, fastrnn_vf p[FASTRNN_FUSED_U][4], ptrdiff_t j0,
                                        const float *restrict h_prev, float *restrict c,
                                        float *restrict h)
{
    int u;
    for (u = 0; u < FASTRNN_FUSED_U; u++)
        fastrnn_fused_cell(G, p[u], j0 + FASTRNN_VW * u, h_prev, c, h);
}

/* Block j0's pre-activations into pre (gx, b, b_hn added as the unfused
 * cells add them), with the cell of the previous block (pj0 >= 0, its
 * pre-activations in ppre) run among the sums. */
FASTRNN_INLINE void fastrnn_fused_block(const float *restrict packed, const float *restrict h_prev,
                                        const float *restrict gx, const float *restrict b,
                                        const float *restrict b_hn, float *restrict c,
                                        float *restrict h, ptrdiff_t H, const int G, ptrdiff_t j0,
                                        fastrnn_vf pre[FASTRNN_FUSED_U][4], ptrdiff_t pj0,
                                        fastrnn_vf ppre[FASTRNN_FUSED_U][4])
{
    const float *w[4];
    fastrnn_vf sum[4][FASTRNN_FUSED_U] = {{{0}}};
    ptrdiff_t k0, K = H;
    int g, u;
    for (g = 0; g < G; g++) {
        const ptrdiff_t col = g * H + j0;
        w[g] = packed + col / FASTRNN_PANEL * K * FASTRNN_PANEL + col % FASTRNN_PANEL;
    }
    for (k0 = 0; k0 < K; k0 += FASTRNN_KBLOCK) {
        const ptrdiff_t kend = K - k0 < FASTRNN_KBLOCK ? K : k0 + FASTRNN_KBLOCK;
        fastrnn_vf a[4][FASTRNN_FUSED_U] = {{{0}}}, bb[4][FASTRNN_FUSED_U] = {{{0}}};
        if (k0 == 0 && pj0 >= 0 && G == 3 && FASTRNN_FUSED_U == 2) {
            const ptrdiff_t k1 = k0 + (((kend - k0) / 3) & ~(ptrdiff_t)1);
            const ptrdiff_t k2 = k0 + ((2 * (kend - k0) / 3) & ~(ptrdiff_t)1);
            fastrnn_unit_sums(w, h_prev, G, k0, k1, a, bb);
            fastrnn_fused_cell(G, ppre[0], pj0, h_prev, c, h);
            fastrnn_unit_sums(w, h_prev, G, k1, k2, a, bb);
            fastrnn_fused_cell(G, ppre[FASTRNN_FUSED_U - 1], pj0 + FASTRNN_VW, h_prev, c, h);
            fastrnn_unit_sums(w, h_prev, G, k2, kend, a, bb);
        } else {
            if (k0 == 0 && pj0 >= 0)
                fastrnn_fused_cells(G, ppre, pj0, h_prev, c, h);
            fastrnn_unit_sums(w, h_prev, G, k0, kend, a, bb);
        }
        for (g = 0; g < G; g++)
            for (u = 0; u < FASTRNN_FUSED_U; u++)
                sum[g][u] = k0 == 0 ? a[g][u] + bb[g][u] : sum[g][u] + (a[g][u] + bb[g][u]);
    }
    for (u = 0; u < FASTRNN_FUSED_U; u++) {
        const ptrdiff_t j = j0 + FASTRNN_VW * u;
        for (g = 0; g < 2; g++)
            pre[u][g] = (fastrnn_load(gx + g * H + j) + sum[g][u]) + fastrnn_load(b + g * H + j);
        if (G == 4) {
            for (g = 2; g < 4; g++)
                pre[u][g] = (fastrnn_load(gx + g * H + j) + sum[g][u])
                            + fastrnn_load(b + g * H + j);
        } else {
            /* n: gx_n + b_in and gh_n + b_hn apart (linear_before_reset) */
            pre[u][2] = fastrnn_load(gx + 2 * H + j) + fastrnn_load(b + 2 * H + j);
            pre[u][3] = sum[2][u] + fastrnn_load(b_hn + j);
        }
    }
}

/* Every block, last to first when backwards (L1 reuse from step to step,
 * as the step kernel's column blocks). */
FASTRNN_INLINE void fastrnn_fused_step(const float *restrict packed, const float *restrict h_prev,
                                       const float *restrict gx, const float *restrict b,
                                       const float *restrict b_hn, float *restrict c,
                                       float *restrict h, ptrdiff_t H, const int G, int backwards)
{
    fastrnn_vf pre[2][FASTRNN_FUSED_U][4];
    const ptrdiff_t blocks = H / FASTRNN_FUSED_UNITS;
    ptrdiff_t q, j0, pj0 = -1;
    for (q = 0; q < blocks; q++) {
        j0 = FASTRNN_FUSED_UNITS * (backwards ? blocks - 1 - q : q);
        fastrnn_fused_block(packed, h_prev, gx, b, b_hn, c, h, H, G, j0, pre[q & 1], pj0,
                            pre[(q + 1) & 1]);
        pj0 = j0;
    }
    if (pj0 >= 0)
        fastrnn_fused_cells(G, pre[(q + 1) & 1], pj0, h_prev, c, h);
}

/* LSTM (i, f, g, o): packed = fastrnn_pack of w_hh (4H x H); gx, b 4H
 * long; c (H) in place; h (H) must not alias h_prev. */
FASTRNN_ALIGN_LOOPS FASTRNN_TARGET
static void fastrnn_lstm_step_row_f32(const float *restrict packed, const float *restrict h_prev,
                                      const float *restrict gx, const float *restrict b,
                                      float *restrict c, float *restrict h, ptrdiff_t H,
                                      int backwards)
{
    fastrnn_fused_step(packed, h_prev, gx, b, NULL, c, h, H, 4, backwards);
}

/* GRU with linear_before_reset (r, z, n): b holds b_r, b_z summed and b_in
 * (as gru_cell's), b_hn (H) apart. */
FASTRNN_ALIGN_LOOPS FASTRNN_TARGET
static void fastrnn_gru_step_row_f32(const float *restrict packed, const float *restrict h_prev,
                                     const float *restrict gx, const float *restrict b,
                                     const float *restrict b_hn, float *restrict h, ptrdiff_t H,
                                     int backwards)
{
    fastrnn_fused_step(packed, h_prev, gx, b, b_hn, NULL, h, H, 3, backwards);
}

/* The product of a call's only step on w as it is, without the packed copy:
 *
 *     c[n, j] (+)= h[n, :K] @ w[j, :K]       for n < N, j < M (rows w_ld apart)
 *
 * A call of one step reads w once: packing it (a read and a write of all of
 * w) cost as much as the product at 2-4 rows and H >= 256 (tools/perf_notes.md,
 * "Calls of one step"). Blocks of up to 4 rows of h x 3 rows of w, each a vector of sums
 * over k (lane i takes k = i mod VW), then the lanes added by halves and the
 * last K % VW products in order: a column's sum depends on the width, not on
 * the rows around it. */
typedef float fastrnn_v4f __attribute__((vector_size(16), aligned(4)));
typedef float fastrnn_v2f __attribute__((vector_size(8), aligned(4)));
#if FASTRNN_VW >= 8
typedef float fastrnn_v8f __attribute__((vector_size(32), aligned(4)));
#endif

/* The lanes of a added by halves: (a[i] + a[i + VW/2]), and so on down to one. */
FASTRNN_INLINE float fastrnn_lanes_sum(fastrnn_vf a)
{
    fastrnn_v4f a4;
    fastrnn_v2f a2;
#if FASTRNN_VW == 16
    const fastrnn_v8f a8 = __builtin_shufflevector(a, a, 0, 1, 2, 3, 4, 5, 6, 7)
                           + __builtin_shufflevector(a, a, 8, 9, 10, 11, 12, 13, 14, 15);
    a4 = __builtin_shufflevector(a8, a8, 0, 1, 2, 3) + __builtin_shufflevector(a8, a8, 4, 5, 6, 7);
#elif FASTRNN_VW == 8
    a4 = __builtin_shufflevector(a, a, 0, 1, 2, 3) + __builtin_shufflevector(a, a, 4, 5, 6, 7);
#else
    a4 = a;
#endif
    a2 = __builtin_shufflevector(a4, a4, 0, 1) + __builtin_shufflevector(a4, a4, 2, 3);
    return a2[0] + a2[1];
}

FASTRNN_INLINE void fastrnn_dot_block(const float *w, ptrdiff_t w_ld, const float *h,
                                      ptrdiff_t h_ld, float *c, ptrdiff_t c_ld, const int R,
                                      const int J, ptrdiff_t K, int accumulate)
{
    fastrnn_vf acc[4][3] = {{{0}}};
    const ptrdiff_t KV = K - K % FASTRNN_VW;
    ptrdiff_t k;
    int r, j;
    for (k = 0; k < KV; k += FASTRNN_VW) {
        fastrnn_vf x[3];
        /* volatile loads: one load per vector, not one per FMA that uses
         * it (see fastrnn_rows_vectors) */
        for (j = 0; j < J; j++)
            x[j] = *(const volatile fastrnn_vf *)(w + j * w_ld + k);
        for (r = 0; r < R; r++) {
            const fastrnn_vf y = *(const volatile fastrnn_vf *)(h + r * h_ld + k);
            for (j = 0; j < J; j++)
                acc[r][j] += y * x[j];
        }
    }
    for (r = 0; r < R; r++)
        for (j = 0; j < J; j++) {
            float sum = fastrnn_lanes_sum(acc[r][j]);
            for (k = KV; k < K; k++)
                sum += h[r * h_ld + k] * w[j * w_ld + k];
            c[r * c_ld + j] = accumulate ? c[r * c_ld + j] + sum : sum;
        }
}

FASTRNN_TARGET static void fastrnn_dot_step_f32(const float *restrict w, ptrdiff_t w_ld,
                                                const float *h, ptrdiff_t h_ld, float *c,
                                                ptrdiff_t c_ld, ptrdiff_t N, ptrdiff_t M,
                                                ptrdiff_t K, int accumulate)
{
    ptrdiff_t j0, n0;
    for (j0 = 0; j0 < M; j0 += 3) {
        const int J = M - j0 < 3 ? (int)(M - j0) : 3;
        const float *wj = w + j0 * w_ld;
        for (n0 = 0; n0 < N; n0 += 4) {
            const int R = N - n0 < 4 ? (int)(N - n0) : 4;
            const float *hn = h + n0 * h_ld;
            float *cn = c + n0 * c_ld + j0;
#define FASTRNN_DOT(R_, J_) fastrnn_dot_block(wj, w_ld, hn, h_ld, cn, c_ld, R_, J_, K, accumulate)
            if (J == 3)
                R == 4 ? FASTRNN_DOT(4, 3) : R == 3 ? FASTRNN_DOT(3, 3)
                    : R == 2 ? FASTRNN_DOT(2, 3) : FASTRNN_DOT(1, 3);
            else if (J == 2)
                R == 4 ? FASTRNN_DOT(4, 2) : R == 3 ? FASTRNN_DOT(3, 2)
                    : R == 2 ? FASTRNN_DOT(2, 2) : FASTRNN_DOT(1, 2);
            else
                R == 4 ? FASTRNN_DOT(4, 1) : R == 3 ? FASTRNN_DOT(3, 1)
                    : R == 2 ? FASTRNN_DOT(2, 1) : FASTRNN_DOT(1, 1);
#undef FASTRNN_DOT
        }
    }
}

#endif
