/* The recurrent product of one float32 time step on a packed weight matrix:
 *
 *     c[n, :M] (+)= h[n, :K] @ w.T          for every batch row n, w (M, K)
 *
 * M output columns, K deep: w_hh (H x H) for RNN, the 4H x P of an LSTM's
 * w_hh, the 3H x H (or 2H x H and H x H) of a GRU's, an LSTM's w_hr (P x H).
 * OpenBLAS's sgemm re-packs w on every call, that is on every time step,
 * and its sgemv has a fixed overhead; at the small row count N of a recurrent
 * step that dominated (measured 2.5x slower than this at N=16, H=256). Here w
 * is packed once per forward call, 64-byte aligned (a 64-byte load across two
 * cache lines made the step 1.5x slower), in panels of 32 output columns:
 *
 *     packed[p][k][jj] = w[32 p + jj][k]     (zero past M)
 *
 * so that a step streams two panels at a time while a block of up to 6 batch
 * rows keeps up to 24 vector accumulators busy (a single row: two
 * interleaved k, 8 accumulators). Measured at 75-80 GFMA/s for N >= 6 on
 * one AVX-512 core (OpenBLAS's large GEMMs: 73); at N = 1 the step is
 * bound by reading w (130 GB/s from L2, 30 GB/s from L3).
 * GCC/clang vector extensions keep this portable; on x86-64 AVX-512 and AVX2
 * clones are chosen at load time.
 */
#ifndef FASTRNN_RECURRENT_H
#define FASTRNN_RECURRENT_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "_vmath.h" /* FASTRNN_CLONES */

#define FASTRNN_PANEL 32

/* Loops of the one-row kernels on 64-byte boundaries (GCC): where they
 * fell otherwise moved with unrelated code, and the fused LSTM step at
 * H = 64 measured 2.5% slower with its loop 32- rather than 64-aligned. */
#if defined(__GNUC__) && !defined(__clang__)
#define FASTRNN_ALIGN_LOOPS __attribute__((optimize("align-loops=64")))
#else
#define FASTRNN_ALIGN_LOOPS
#endif

typedef float fastrnn_v16 __attribute__((vector_size(64), aligned(4)));

/* Floats in the packed copy of an M x K matrix. */
static inline ptrdiff_t fastrnn_packed_size(ptrdiff_t M, ptrdiff_t K)
{
    return (M + FASTRNN_PANEL - 1) / FASTRNN_PANEL * FASTRNN_PANEL * K;
}

/* Helpers that pass fastrnn_v16 by value are always inlined: a real call
 * between target clones would not agree on how a 64-byte vector is passed
 * (what -Wpsabi warns about), and -O0 (FASTRNN_DEBUG) makes real calls. */
static inline __attribute__((always_inline)) fastrnn_v16 fastrnn_load16(const float *p)
{
    fastrnn_v16 v;
    memcpy(&v, p, sizeof v);
    return v;
}

#if defined(__has_builtin)
#if __has_builtin(__builtin_shufflevector)
#define FASTRNN_SHUFFLE 1
#endif
#endif

#ifdef FASTRNN_SHUFFLE
/* The shuffles' own type: naturally aligned, so that the compiler's stack
 * copies of it (at -O0) are aligned as its instructions assume. */
typedef float fastrnn_v16n __attribute__((vector_size(64)));

/* Element j of the bit-b step of a 16 x 16 transpose: rows r (bit b clear)
 * and r | b exchange the halves of their b-blocks that lie off the diagonal. */
#define FASTRNN_LO(b, j) (((j) & (b)) ? 16 + ((j) ^ (b)) : (j))
#define FASTRNN_HI(b, j) (((j) & (b)) ? 16 + (j) : ((j) ^ (b)))
#define FASTRNN_MASK(F, b) F(b, 0), F(b, 1), F(b, 2), F(b, 3), F(b, 4), F(b, 5), F(b, 6), \
    F(b, 7), F(b, 8), F(b, 9), F(b, 10), F(b, 11), F(b, 12), F(b, 13), F(b, 14), F(b, 15)
#define FASTRNN_STEP(b)                                                                     \
    for (r = 0; r < 16; r++)                                                                \
        if (!(r & (b))) {                                                                   \
            fastrnn_v16n lo = __builtin_shufflevector(x[r], x[r | (b)], FASTRNN_MASK(FASTRNN_LO, b)); \
            fastrnn_v16n hi = __builtin_shufflevector(x[r], x[r | (b)], FASTRNN_MASK(FASTRNN_HI, b)); \
            x[r] = lo;                                                                      \
            x[r | (b)] = hi;                                                                \
        }

/* dst[k * dst_ld + j] = src[j * src_ld + k] for a 16 x 16 block: four
 * butterfly steps, each swapping one bit of the row and column indices. */
static inline __attribute__((always_inline)) void
fastrnn_transpose16(const float *src, ptrdiff_t src_ld, float *dst, ptrdiff_t dst_ld)
{
    fastrnn_v16n x[16];
    int r;
    for (r = 0; r < 16; r++)
        memcpy(&x[r], src + r * src_ld, sizeof x[r]);
    FASTRNN_STEP(1)
    FASTRNN_STEP(2)
    FASTRNN_STEP(4)
    FASTRNN_STEP(8)
    for (r = 0; r < 16; r++)
        memcpy(dst + r * dst_ld, &x[r], sizeof x[r]);
}
#endif

/* w is M x K, rows K floats apart. Full 16 x 16 blocks are transposed in
 * registers where the compiler has __builtin_shufflevector, the rest
 * element by element. */
FASTRNN_CLONES
static void fastrnn_pack(const float *restrict w, ptrdiff_t M, ptrdiff_t K, float *restrict packed)
{
    ptrdiff_t p, jj, k, k_fast, panels = (M + FASTRNN_PANEL - 1) / FASTRNN_PANEL;
    for (p = 0; p < panels; p++) {
        float *dst = packed + p * K * FASTRNN_PANEL;
        const float *src = w + p * FASTRNN_PANEL * K;
        ptrdiff_t width = M - p * FASTRNN_PANEL;
        k_fast = 0;
        if (width >= FASTRNN_PANEL) {
#ifdef FASTRNN_SHUFFLE
            for (; k_fast + 16 <= K; k_fast += 16) {
                fastrnn_transpose16(src + k_fast, K, dst + k_fast * FASTRNN_PANEL, FASTRNN_PANEL);
                fastrnn_transpose16(src + 16 * K + k_fast, K, dst + k_fast * FASTRNN_PANEL + 16,
                                    FASTRNN_PANEL);
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

/* c[0:width] += a (accumulate) or = a, width <= 16 */
static inline __attribute__((always_inline)) void fastrnn_add16(float *c, fastrnn_v16 a, ptrdiff_t width, int accumulate)
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

/* c[0:width] (+)= a, for a width that may be <= 0 (a vector past M) */
static inline __attribute__((always_inline)) void fastrnn_put16(float *c, fastrnn_v16 a, ptrdiff_t width, int accumulate)
{
    if (width > 0)
        fastrnn_add16(c, a, width < 16 ? width : 16, accumulate);
}

/* Rows n..n+R-1 (R <= 6) against V/2 panels (V = 2 or 4 vectors of 16
 * columns; the second panel starts `next` floats after the first): each w
 * load feeds R rows, each h value V vectors. Inlined with R and V constants,
 * the R*V accumulators stay in registers. */
static inline __attribute__((always_inline)) void
fastrnn_rows_panels(const float *restrict w, ptrdiff_t next, const int V, const float *h,
                    ptrdiff_t h_ld, float *c, ptrdiff_t c_ld, const int R, ptrdiff_t K,
                    ptrdiff_t width, int accumulate)
{
    fastrnn_v16 acc[6][4] = {{{0}}};
    ptrdiff_t k;
    int r, v;
    for (k = 0; k < K; k++) {
        fastrnn_v16 x[4];
        /* w comes from L2 for the first row block: ask for it 8 k ahead
         * (measured 5-10% at N = 2..16) */
        for (v = 0; v < V; v++)
            __builtin_prefetch(w + (v >> 1) * next + (k + 8) * FASTRNN_PANEL + (v & 1) * 16, 0, 3);
        /* A volatile load: left to itself GCC folds the load of x[v] into
         * each of the R FMAs that use it (R loads instead of one), and the
         * loop became bound by the two 64-byte loads a cycle: N=3, M=400,
         * K=100 at 47 GFMA/s, 63 with one load per vector (N=2: 44 -> 51;
         * N >= 6 unchanged, bound by the FMAs). */
        for (v = 0; v < V; v++)
            x[v] = *(const volatile fastrnn_v16 *)(w + (v >> 1) * next + k * FASTRNN_PANEL
                                                   + (v & 1) * 16);
        for (r = 0; r < R; r++) {
            float s = h[r * h_ld + k];
            for (v = 0; v < V; v++)
                acc[r][v] += s * x[v];
        }
    }
    for (r = 0; r < R; r++)
        for (v = 0; v < V; v++)
            fastrnn_put16(c + r * c_ld + 16 * v, acc[r][v], width - 16 * v, accumulate);
}

/* One row against V/2 panels: two k per turn so that 2V sums are in flight. */
static inline __attribute__((always_inline)) void
fastrnn_row_panels(const float *restrict w, ptrdiff_t next, const int V, const float *h,
                   float *c, ptrdiff_t K, ptrdiff_t width, int accumulate)
{
    fastrnn_v16 a[4] = {{0}}, b[4] = {{0}};
    ptrdiff_t k;
    int v;
    for (k = 0; k + 2 <= K; k += 2) {
        for (v = 0; v < V; v++) {
            const float *wv = w + (v >> 1) * next + (v & 1) * 16;
            a[v] += h[k] * fastrnn_load16(wv + k * FASTRNN_PANEL);
            b[v] += h[k + 1] * fastrnn_load16(wv + (k + 1) * FASTRNN_PANEL);
        }
    }
    if (k < K)
        for (v = 0; v < V; v++)
            a[v] += h[k] * fastrnn_load16(w + (v >> 1) * next + (v & 1) * 16 + k * FASTRNN_PANEL);
    for (v = 0; v < V; v++)
        fastrnn_put16(c + 16 * v, a[v] + b[v], width - 16 * v, accumulate);
}

/* c rows are c_ld floats apart, h rows h_ld apart; packed from fastrnn_pack
 * of an M x K matrix. accumulate: c += h @ w.T, else c = h @ w.T.
 * backwards: the same products with the column pairs taken last to first.
 * Callers alternate it from step to step, so that a step starts on the
 * panels the previous one read last, still in L1: w of an H = 64 LSTM (64
 * KB) is beyond the 48 KB L1, and read in the same order every step, every
 * load missed L1 (LRU evicts each line before its turn comes back). The
 * sums and their order per column do not change.
 * Two panels (64 columns) at a time, the last one alone if their number is
 * odd; for each, slices of FASTRNN_KBLOCK k (64 KB of w: 128 k measured 3-5%
 * slower, from the extra passes over c; 512 no better), and for
 * each every block of 6 rows (then the 5..1 left): w is read from
 * memory once per step and from L2 by the other row blocks. */
#define FASTRNN_KBLOCK 256

/* fastrnn_row_panels for two whole panels (the same sums in the same
 * order), written so that GCC keeps the 8 sums in registers without moves:
 * its loop is 2 broadcasts and 8 FMAs with memory operands. */
static inline __attribute__((always_inline)) void
fastrnn_row_pair(const float *restrict w, ptrdiff_t next, const float *restrict h,
                 float *restrict c, ptrdiff_t K, int accumulate)
{
    fastrnn_v16 a0 = {0}, a1 = {0}, a2 = {0}, a3 = {0}, b0 = {0}, b1 = {0}, b2 = {0}, b3 = {0};
    const float *w2 = w + next;
    ptrdiff_t k;
    for (k = 0; k + 2 <= K; k += 2) {
        const float *wk = w + k * FASTRNN_PANEL, *w2k = w2 + k * FASTRNN_PANEL;
        a0 += h[k] * fastrnn_load16(wk);
        a1 += h[k] * fastrnn_load16(wk + 16);
        a2 += h[k] * fastrnn_load16(w2k);
        a3 += h[k] * fastrnn_load16(w2k + 16);
        b0 += h[k + 1] * fastrnn_load16(wk + FASTRNN_PANEL);
        b1 += h[k + 1] * fastrnn_load16(wk + FASTRNN_PANEL + 16);
        b2 += h[k + 1] * fastrnn_load16(w2k + FASTRNN_PANEL);
        b3 += h[k + 1] * fastrnn_load16(w2k + FASTRNN_PANEL + 16);
    }
    if (k < K) {
        a0 += h[k] * fastrnn_load16(w + k * FASTRNN_PANEL);
        a1 += h[k] * fastrnn_load16(w + k * FASTRNN_PANEL + 16);
        a2 += h[k] * fastrnn_load16(w2 + k * FASTRNN_PANEL);
        a3 += h[k] * fastrnn_load16(w2 + k * FASTRNN_PANEL + 16);
    }
    a0 += b0;
    a1 += b1;
    a2 += b2;
    a3 += b3;
    if (accumulate) {
        a0 += fastrnn_load16(c);
        a1 += fastrnn_load16(c + 16);
        a2 += fastrnn_load16(c + 32);
        a3 += fastrnn_load16(c + 48);
    }
    memcpy(c, &a0, sizeof a0);
    memcpy(c + 16, &a1, sizeof a1);
    memcpy(c + 32, &a2, sizeof a2);
    memcpy(c + 48, &a3, sizeof a3);
}

/* The one-row case of fastrnn_recurrent_step_f32 below, in a function of
 * its own: inlined among the row blocks' code, GCC's register allocation
 * put 4 register moves into the 10-instruction loop of two k (measured
 * 8-11% slower at N = 1, H = 64..256 LSTM). */
FASTRNN_CLONES FASTRNN_ALIGN_LOOPS
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

FASTRNN_CLONES
static void fastrnn_recurrent_step_f32(const float *restrict packed, const float *h, ptrdiff_t h_ld,
                                       float *c, ptrdiff_t c_ld, ptrdiff_t N, ptrdiff_t M,
                                       ptrdiff_t K, int accumulate, int backwards)
{
    const ptrdiff_t panels = (M + FASTRNN_PANEL - 1) / FASTRNN_PANEL;
    const ptrdiff_t pairs = (panels + 1) / 2;
    const ptrdiff_t next = K * FASTRNN_PANEL;
    ptrdiff_t n, q, k0;
    if (N == 1) {
        fastrnn_row_step_f32(packed, h, c, M, K, accumulate, backwards);
        return;
    }
    for (q = 0; q < pairs; q++) {
        const ptrdiff_t p = 2 * (backwards ? pairs - 1 - q : q);
        const ptrdiff_t j0 = p * FASTRNN_PANEL, width = M - j0;
        const int two = p + 1 < panels;
        for (k0 = 0; k0 < K; k0 += FASTRNN_KBLOCK) {
            const ptrdiff_t kb = K - k0 < FASTRNN_KBLOCK ? K - k0 : FASTRNN_KBLOCK;
            const float *w = packed + p * next + k0 * FASTRNN_PANEL;
            const int acc = accumulate || k0 > 0;
            for (n = 0; n < N; n += 6) {
                const ptrdiff_t rows = N - n < 6 ? N - n : 6;
                const float *hn = h + n * h_ld + k0;
                float *cn = c + n * c_ld + j0;
#define FASTRNN_ROWS(R) (two ? fastrnn_rows_panels(w, next, 4, hn, h_ld, cn, c_ld, R, kb, width, acc) \
                             : fastrnn_rows_panels(w, next, 2, hn, h_ld, cn, c_ld, R, kb, width, acc))
                switch (rows) {
                case 6: FASTRNN_ROWS(6); break;
                case 5: FASTRNN_ROWS(5); break;
                case 4: FASTRNN_ROWS(4); break;
                case 3: FASTRNN_ROWS(3); break;
                case 2: FASTRNN_ROWS(2); break;
                default:
                    if (two)
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

/* The fused steps below: one batch row's step with its cell (H % 32 == 0,
 * no projection), on w packed by fastrnn_pack. The units go in blocks of
 * 32: for each, the sums of its G gates (G x 2 vectors of 16 columns, gate
 * g's from column g H + j0: both 64-byte lines of one panel row per gate
 * and k; blocks of 16 units, reading half of each row, measured 1.3-1.5x
 * slower: the L1's next-line prefetch fetches the other half in vain), then
 * its cell on those sums. The cell of block q - 1 runs inside block q's
 * sums (GRU: its two halves between thirds of the k loop; LSTM: before
 * them, which measured best), so that its arithmetic overlaps block q's
 * reads of w: the step is bound by reading w, the cell by its vector
 * instructions. The sums are the unfused kernel's in its order (two k per
 * turn, slices of FASTRNN_KBLOCK k), and so are the results. */

/* a, b (+)= h[k] w[g][k] over k in [kb, ke), two k per turn (a: even
 * offsets from kb, b: odd; a last odd k into a). */
static inline __attribute__((always_inline)) void
fastrnn_unit_sums(const float *const w[4], const float *restrict h, const int G, ptrdiff_t kb,
                  ptrdiff_t ke, fastrnn_v16 a[4][2], fastrnn_v16 b[4][2])
{
    ptrdiff_t k;
    int g, u;
    for (k = kb; k + 2 <= ke; k += 2)
        for (g = 0; g < G; g++)
            for (u = 0; u < 2; u++) {
                a[g][u] += h[k] * fastrnn_load16(w[g] + k * FASTRNN_PANEL + 16 * u);
                b[g][u] += h[k + 1] * fastrnn_load16(w[g] + (k + 1) * FASTRNN_PANEL + 16 * u);
            }
    if (k < ke)
        for (g = 0; g < G; g++)
            for (u = 0; u < 2; u++)
                a[g][u] += h[k] * fastrnn_load16(w[g] + k * FASTRNN_PANEL + 16 * u);
}

/* The cells' activations on whole vectors (the scalar ones of _vmath.h,
 * written out: left to the vectoriser, a 16-unit loop of the scalar cell
 * here was compiled to scalar code in some placements, 8-20x slower).
 * Same operations in the same order as the scalar ones (same results; and
 * as fast as the vectorised _vmath.h cells, measured). */
typedef int32_t fastrnn_i16 __attribute__((vector_size(64), aligned(4)));

static inline __attribute__((always_inline)) fastrnn_v16 fastrnn_vsel(fastrnn_i16 m, fastrnn_v16 a,
                                                                      fastrnn_v16 b)
{
    return (fastrnn_v16)((m & (fastrnn_i16)a) | (~m & (fastrnn_i16)b));
}

static inline __attribute__((always_inline)) fastrnn_v16 fastrnn_vbroadcast(float x)
{
    fastrnn_v16 v = {x, x, x, x, x, x, x, x, x, x, x, x, x, x, x, x};
    return v;
}

/* |x| capped at cap; NaN -> cap (as the scalar a < cap ? a : cap) */
static inline __attribute__((always_inline)) fastrnn_v16 fastrnn_vabs_cap(fastrnn_v16 x, float cap)
{
    fastrnn_v16 a = (fastrnn_v16)((fastrnn_i16)x & 0x7fffffff), c = fastrnn_vbroadcast(cap);
    return fastrnn_vsel(a < c, a, c);
}

/* fastrnn_exp_neg of _vmath.h on 16 lanes, by the same steps */
static inline __attribute__((always_inline)) fastrnn_v16 fastrnn_vexp_neg(fastrnn_v16 y)
{
    fastrnn_v16 kf, p;
    FASTRNN_EXP_NEG_STEPS(y, kf, p);
    fastrnn_i16 bits = (__builtin_convertvector(kf, fastrnn_i16) + 127) << 23;
    return p * (fastrnn_v16)bits;
}

/* fastrnn_sigmoid_frac / fastrnn_tanh_frac */
static inline __attribute__((always_inline)) void
fastrnn_vsigmoid_frac(fastrnn_v16 x, fastrnn_v16 *num, fastrnn_v16 *den)
{
    fastrnn_v16 e = fastrnn_vexp_neg(-fastrnn_vabs_cap(x, 80.0f));
    fastrnn_v16 n = fastrnn_vsel(x < 0.0f, e, fastrnn_vbroadcast(1.0f));
    n = fastrnn_vsel(x < -88.72f, fastrnn_vbroadcast(0.0f), n);
    *num = fastrnn_vsel(x == x, n, x);
    *den = 1.0f + e;
}

static inline __attribute__((always_inline)) void
fastrnn_vtanh_frac(fastrnn_v16 x, fastrnn_v16 *num, fastrnn_v16 *den)
{
    fastrnn_v16 e = fastrnn_vexp_neg(-2.0f * fastrnn_vabs_cap(x, 9.0f));
    fastrnn_v16 n = (fastrnn_v16)((fastrnn_i16)(1.0f - e) | ((fastrnn_i16)x & (int32_t)0x80000000));
    *num = fastrnn_vsel(x == x, n, x);
    *den = 1.0f + e;
}

/* fastrnn_sigmoidf, fastrnn_tanhf */
static inline __attribute__((always_inline)) fastrnn_v16 fastrnn_vsigmoid(fastrnn_v16 x)
{
    fastrnn_v16 e = fastrnn_vexp_neg(-fastrnn_vabs_cap(x, 80.0f));
    fastrnn_v16 s = 1.0f / (1.0f + e);
    fastrnn_v16 t = fastrnn_vsel(x < 0.0f, e * s, s);
    t = fastrnn_vsel(x < -88.72f, fastrnn_vbroadcast(0.0f), t);
    return fastrnn_vsel(x == x, t, x);
}

static inline __attribute__((always_inline)) fastrnn_v16 fastrnn_vtanh(fastrnn_v16 x)
{
    fastrnn_v16 a = fastrnn_vabs_cap(x, 9.0f), a2 = a * a;
    fastrnn_v16 small = fastrnn_vbroadcast(62.0f / 2835.0f);
    small = small * a2 - 17.0f / 315.0f;
    small = small * a2 + 2.0f / 15.0f;
    small = small * a2 - 1.0f / 3.0f;
    small = small * a2 * a + a;
    fastrnn_v16 e = fastrnn_vexp_neg(-2.0f * a);
    fastrnn_v16 large = (1.0f - e) / (1.0f + e);
    fastrnn_v16 t = fastrnn_vsel(a < 0.25f, small, large);
    t = (fastrnn_v16)((fastrnn_i16)t | ((fastrnn_i16)x & (int32_t)0x80000000));
    return fastrnn_vsel(x == x, t, x);
}

/* The cell of units j0 .. j0 + 15 from their pre-activations p[g]: LSTM
 * (G = 4, as fastrnn_lstm_cells) c and h, GRU (G = 3, as fastrnn_gru_cells;
 * p[2] = gx_n + b_in, p[3] = gh_n + b_hn) h. */
static inline __attribute__((always_inline)) void
fastrnn_fused_cell(const int G, const fastrnn_v16 p[4], ptrdiff_t j0,
                   const float *restrict h_prev, float *restrict c, float *restrict h)
{
    fastrnn_v16 out;
    if (G == 4) {
        fastrnn_v16 in, id, fn, fd, gn, gd, on, od, tn, td, cj;
        fastrnn_vsigmoid_frac(p[0], &in, &id);
        fastrnn_vsigmoid_frac(p[1], &fn, &fd);
        fastrnn_vtanh_frac(p[2], &gn, &gd);
        fastrnn_vsigmoid_frac(p[3], &on, &od);
        fastrnn_v16 dig = id * gd;
        fastrnn_v16 inv = 1.0f / (fd * dig);
        cj = (fn * dig * inv) * fastrnn_load16(c + j0) + (in * gn) * (fd * inv);
        memcpy(c + j0, &cj, sizeof cj);
        fastrnn_vtanh_frac(cj, &tn, &td);
        out = (on * tn) / (od * td);
    } else {
        fastrnn_v16 r = fastrnn_vsigmoid(p[0]), z = fastrnn_vsigmoid(p[1]);
        fastrnn_v16 n = fastrnn_vtanh(p[2] + r * p[3]);
        out = n + z * (fastrnn_load16(h_prev + j0) - n);
    }
    memcpy(h + j0, &out, sizeof out);
}

/* Block j0's pre-activations into pre (gx, b, b_hn added as the unfused
 * cells add them), with the cell of the previous block (pj0 >= 0, its
 * pre-activations in ppre) run among the sums. */
static inline __attribute__((always_inline)) void
fastrnn_fused_block(const float *restrict packed, const float *restrict h_prev,
                    const float *restrict gx, const float *restrict b, const float *restrict b_hn,
                    float *restrict c, float *restrict h, ptrdiff_t H, const int G,
                    ptrdiff_t j0, fastrnn_v16 pre[2][4], ptrdiff_t pj0, fastrnn_v16 ppre[2][4])
{
    const float *w[4];
    fastrnn_v16 sum[4][2] = {{{0}}};
    ptrdiff_t k0, K = H;
    int g, u;
    for (g = 0; g < G; g++)
        w[g] = packed + (g * H + j0) / FASTRNN_PANEL * K * FASTRNN_PANEL;
    for (k0 = 0; k0 < K; k0 += FASTRNN_KBLOCK) {
        const ptrdiff_t kend = K - k0 < FASTRNN_KBLOCK ? K : k0 + FASTRNN_KBLOCK;
        fastrnn_v16 a[4][2] = {{{0}}}, bb[4][2] = {{{0}}};
        if (k0 == 0 && pj0 >= 0 && G == 4) {
            fastrnn_fused_cell(G, ppre[0], pj0, h_prev, c, h);
            fastrnn_fused_cell(G, ppre[1], pj0 + 16, h_prev, c, h);
            fastrnn_unit_sums(w, h_prev, G, k0, kend, a, bb);
        } else if (k0 == 0 && pj0 >= 0) {
            const ptrdiff_t k1 = k0 + (((kend - k0) / 3) & ~(ptrdiff_t)1);
            const ptrdiff_t k2 = k0 + ((2 * (kend - k0) / 3) & ~(ptrdiff_t)1);
            fastrnn_unit_sums(w, h_prev, G, k0, k1, a, bb);
            fastrnn_fused_cell(G, ppre[0], pj0, h_prev, c, h);
            fastrnn_unit_sums(w, h_prev, G, k1, k2, a, bb);
            fastrnn_fused_cell(G, ppre[1], pj0 + 16, h_prev, c, h);
            fastrnn_unit_sums(w, h_prev, G, k2, kend, a, bb);
        } else {
            fastrnn_unit_sums(w, h_prev, G, k0, kend, a, bb);
        }
        for (g = 0; g < G; g++)
            for (u = 0; u < 2; u++)
                sum[g][u] = k0 == 0 ? a[g][u] + bb[g][u] : sum[g][u] + (a[g][u] + bb[g][u]);
    }
    for (u = 0; u < 2; u++) {
        const ptrdiff_t j = j0 + 16 * u;
        for (g = 0; g < 2; g++)
            pre[u][g] = (fastrnn_load16(gx + g * H + j) + sum[g][u]) + fastrnn_load16(b + g * H + j);
        if (G == 4) {
            for (g = 2; g < 4; g++)
                pre[u][g] = (fastrnn_load16(gx + g * H + j) + sum[g][u])
                            + fastrnn_load16(b + g * H + j);
        } else {
            /* n: gx_n + b_in and gh_n + b_hn apart (linear_before_reset) */
            pre[u][2] = fastrnn_load16(gx + 2 * H + j) + fastrnn_load16(b + 2 * H + j);
            pre[u][3] = sum[2][u] + fastrnn_load16(b_hn + j);
        }
    }
}

/* Every block, last to first when backwards (L1 reuse from step to step,
 * as the step kernel's column pairs). */
static inline __attribute__((always_inline)) void
fastrnn_fused_step(const float *restrict packed, const float *restrict h_prev,
                   const float *restrict gx, const float *restrict b, const float *restrict b_hn,
                   float *restrict c, float *restrict h, ptrdiff_t H, const int G, int backwards)
{
    fastrnn_v16 pre[2][2][4];
    const ptrdiff_t blocks = H / 32;
    ptrdiff_t q, j0, pj0 = -1;
    for (q = 0; q < blocks; q++) {
        j0 = 32 * (backwards ? blocks - 1 - q : q);
        fastrnn_fused_block(packed, h_prev, gx, b, b_hn, c, h, H, G, j0, pre[q & 1], pj0,
                            pre[(q + 1) & 1]);
        pj0 = j0;
    }
    if (pj0 >= 0) {
        fastrnn_fused_cell(G, pre[(q + 1) & 1][0], pj0, h_prev, c, h);
        fastrnn_fused_cell(G, pre[(q + 1) & 1][1], pj0 + 16, h_prev, c, h);
    }
}

/* LSTM (i, f, g, o): packed = fastrnn_pack of w_hh (4H x H); gx, b 4H
 * long; c (H) in place; h (H) must not alias h_prev. */
FASTRNN_CLONES FASTRNN_ALIGN_LOOPS
static void fastrnn_lstm_step_row_f32(const float *restrict packed, const float *restrict h_prev,
                                      const float *restrict gx, const float *restrict b,
                                      float *restrict c, float *restrict h, ptrdiff_t H,
                                      int backwards)
{
    fastrnn_fused_step(packed, h_prev, gx, b, NULL, c, h, H, 4, backwards);
}

/* GRU with linear_before_reset (r, z, n): b holds b_r, b_z summed and b_in
 * (as gru_cell's), b_hn (H) apart. */
FASTRNN_CLONES FASTRNN_ALIGN_LOOPS
static void fastrnn_gru_step_row_f32(const float *restrict packed, const float *restrict h_prev,
                                     const float *restrict gx, const float *restrict b,
                                     const float *restrict b_hn, float *restrict h, ptrdiff_t H,
                                     int backwards)
{
    fastrnn_fused_step(packed, h_prev, gx, b, b_hn, NULL, h, H, 3, backwards);
}

#endif
