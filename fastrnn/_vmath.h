/* Vectorisable activation loops for float32.
 *
 * libm's tanhf is a scalar call per element and dominated the step time at
 * batch > 1. These loops are written branch-free so that the compiler
 * vectorises them; on x86-64 GCC/clang also build AVX2 and AVX-512 clones and
 * pick one at load time (ifunc), so the installed build stays portable.
 *
 * tanh accuracy: below 2e-7 absolute and 4e-7 relative over all floats;
 * sigmoid: below 2e-7 absolute over all floats, 4e-7 relative down to
 * sigmoid(-80), and exactly 0 below -88.72 (as 1 / (1 + exp(-x)) in float).
 * Checked in tests/test_vmath.py against float64 numpy: well inside the 1e-5
 * tolerance fastrnn promises for float32.
 */
#ifndef FASTRNN_VMATH_H
#define FASTRNN_VMATH_H

#include <math.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

/* (A harness may define FASTRNN_CLONES itself, e.g. to one target, to
 * time or check one clone: tools/bench_fused.c.) */
#ifndef FASTRNN_CLONES
#if defined(__x86_64__) && defined(__GNUC__) && !defined(__INTEL_COMPILER)
#define FASTRNN_CLONES __attribute__((target_clones("avx512f", "avx2", "default")))
#else
#define FASTRNN_CLONES
#endif
#endif

/* Whether this CPU runs fastrnn's 16-lane code at its width: x86-64 with
 * AVX-512F. Elsewhere the same source compiles to pairs (AVX2) or quads
 * (SSE2, NEON) of narrower vectors, and the packed step kernel's 24 sums
 * no longer fit in registers: measured with an AVX2-only build, 5-25x
 * slower than OpenBLAS. "auto" then keeps the recurrent product on
 * OpenBLAS (tools/perf_notes.md). */
static inline int fastrnn_cpu_has_avx512f(void)
{
#if defined(__x86_64__) && defined(__GNUC__)
    __builtin_cpu_init();
    return __builtin_cpu_supports("avx512f");
#else
    return 0;
#endif
}

/* exp(y) for y in [-80, 0]: y = k*ln2 + r with |r| <= ln2/2, then
 * 2^k * (Taylor polynomial of degree 7 in r); relative error < 1e-8 before
 * float rounding. The steps up to 2^k, for y a float or a vector of floats
 * (the vector cells of _recurrent.h use them too): kf = k as a float, p =
 * the polynomial. 1.5 * 2^23 added and taken away rounds to an integer;
 * ln2 is taken in two parts, 0.693359375 exact in 9 bits and the rest. */
#define FASTRNN_EXP_NEG_STEPS(y, kf, p)                                               \
    do {                                                                               \
        (kf) = ((y) * 1.44269504088896341f + 12582912.0f) - 12582912.0f;              \
        __typeof__(kf) fastrnn_r_ = ((y) - (kf) * 0.693359375f) - (kf) * -2.12194440e-4f; \
        (p) = fastrnn_r_ * (1.0f / 5040.0f) + 1.0f / 720.0f;                           \
        (p) = (p) * fastrnn_r_ + 1.0f / 120.0f;                                        \
        (p) = (p) * fastrnn_r_ + 1.0f / 24.0f;                                         \
        (p) = (p) * fastrnn_r_ + 1.0f / 6.0f;                                          \
        (p) = (p) * fastrnn_r_ + 0.5f;                                                 \
        (p) = (p) * fastrnn_r_ + 1.0f;                                                 \
        (p) = (p) * fastrnn_r_ + 1.0f;                                                 \
    } while (0)

static inline float fastrnn_exp_neg(float y)
{
    float kf, p;
    FASTRNN_EXP_NEG_STEPS(y, kf, p);
    int32_t bits = ((int32_t)kf + 127) << 23;   /* 2^k, k in [-116, 0]: normal */
    float scale;
    memcpy(&scale, &bits, sizeof scale);
    return p * scale;
}

/* tanh(x): odd Taylor series for |x| < 0.25, (1 - e) / (1 + e) with
 * e = exp(-2|x|) above; |x| is capped at 9 where tanh rounds to 1 in float.
 * NaN passes through (put back at the end). */
static inline float fastrnn_tanhf(float x)
{
    float a = fabsf(x);
    a = a < 9.0f ? a : 9.0f;            /* and NaN -> 9: (int)NaN is undefined */
    float a2 = a * a;
    float small = 62.0f / 2835.0f;
    small = small * a2 - 17.0f / 315.0f;
    small = small * a2 + 2.0f / 15.0f;
    small = small * a2 - 1.0f / 3.0f;
    small = small * a2 * a + a;
    float e = fastrnn_exp_neg(-2.0f * a);
    float large = (1.0f - e) / (1.0f + e);
    float t = copysignf(a < 0.25f ? small : large, x);   /* odd, and tanh(-0) = -0 */
    return x == x ? t : x;
}

/* sigmoid(x) = 1 / (1 + exp(-x)) from e = exp(-|x|): 1 / (1 + e) for x >= 0,
 * e / (1 + e) below. |x| is capped at 80, where sigmoid(-80) = 1.8e-35 is
 * still a normal float (and sigmoid(80) rounds to 1). NaN passes through. */
static inline float fastrnn_sigmoidf(float x)
{
    float a = fabsf(x);
    a = a < 80.0f ? a : 80.0f;          /* and NaN -> 80: exp gets a number */
    float e = fastrnn_exp_neg(-a);
    float s = 1.0f / (1.0f + e);
    float t = x < 0 ? e * s : s;
    /* Below -88.72 exp(-x) overflows in float and 1 / (1 + exp(-x)) is exactly
     * 0, as torch computes it: 0, not 1.8e-35, so that 0 * inf is NaN there too. */
    t = x < -88.72f ? 0.0f : t;
    return x == x ? t : x;
}

/* row = tanh(row + b_ih + b_hh); the biases may be NULL (both or neither). */
FASTRNN_CLONES
static void fastrnn_bias_tanh_f32(float *restrict row, const float *restrict b_ih,
                                  const float *restrict b_hh, ptrdiff_t n)
{
    ptrdiff_t j;
    if (b_ih != NULL) {
        for (j = 0; j < n; j++)
            row[j] = fastrnn_tanhf(row[j] + b_ih[j] + b_hh[j]);
    } else {
        for (j = 0; j < n; j++)
            row[j] = fastrnn_tanhf(row[j]);
    }
}

/* row = relu(row + b_ih + b_hh), NaN kept. */
FASTRNN_CLONES
static void fastrnn_bias_relu_f32(float *restrict row, const float *restrict b_ih,
                                  const float *restrict b_hh, ptrdiff_t n)
{
    ptrdiff_t j;
    float v;
    if (b_ih != NULL) {
        for (j = 0; j < n; j++) {
            v = row[j] + b_ih[j] + b_hh[j];
            row[j] = v < 0 ? 0.0f : v;
        }
    } else {
        for (j = 0; j < n; j++) {
            v = row[j];
            row[j] = v < 0 ? 0.0f : v;
        }
    }
}

/* The cells below run their loop over whole blocks of 16 columns, then once
 * more over the last H % 16 columns copied into 16-wide zero-padded
 * buffers: one more vector iteration instead of a scalar epilogue, which
 * cost as much as the whole row at H = 100. `gs` is the distance between
 * gates in gx, gh and b (H, or 16 in the buffers). */
#define FASTRNN_TAIL 16

/* Copy the columns [j0, j0 + n) of `gates` gate blocks, gs apart, into a
 * zero-padded (gates x 16) buffer. */
static inline __attribute__((always_inline)) void fastrnn_tail_in(float *buf, const float *src, ptrdiff_t gs, int gates,
                                   ptrdiff_t j0, ptrdiff_t n)
{
    int g;
    memset(buf, 0, sizeof(float) * FASTRNN_TAIL * gates);
    for (g = 0; g < gates; g++)
        memcpy(buf + g * FASTRNN_TAIL, src + g * gs + j0, sizeof(float) * n);
}

/* sigmoid and tanh as a fraction num / den with den in [1, 2], for the
 * cells: a product of activations then costs one division, not one each (a
 * 16-lane division takes ~10 cycles on AVX-512, as long as an exp). Same
 * values as fastrnn_sigmoidf (num exactly 0 below -88.72, NaN passes
 * through num) and, within 2e-7 absolute, fastrnn_tanhf (no small-|x|
 * series: the cells need absolute accuracy only). */
struct fastrnn_frac { float num, den; };

static inline __attribute__((always_inline)) struct fastrnn_frac fastrnn_sigmoid_frac(float x)
{
    struct fastrnn_frac q;
    float a = fabsf(x);
    a = a < 80.0f ? a : 80.0f;          /* and NaN -> 80 */
    float e = fastrnn_exp_neg(-a);
    q.den = 1.0f + e;
    q.num = x < 0 ? e : 1.0f;
    q.num = x < -88.72f ? 0.0f : q.num;
    q.num = x == x ? q.num : x;
    return q;
}

static inline __attribute__((always_inline)) struct fastrnn_frac fastrnn_tanh_frac(float x)
{
    struct fastrnn_frac q;
    float a = fabsf(x);
    a = a < 9.0f ? a : 9.0f;            /* and NaN -> 9 */
    float e = fastrnn_exp_neg(-2.0f * a);
    q.den = 1.0f + e;
    q.num = copysignf(1.0f - e, x);
    q.num = x == x ? q.num : x;
    return q;
}

/* One LSTM cell row in torch's gate order (i, f, g, o), sigmoid/tanh/tanh:
 *     a = gx + gh + b;  c = sigmoid(a_f) c + sigmoid(a_i) tanh(a_g)
 *     h = sigmoid(a_o) tanh(c)
 * gx, gh and b are 4H long, c (in place) and h H long. With every
 * activation a fraction (above), f and i g share one reciprocal and
 * o tanh(c) takes one division: 2 divisions per column instead of 5. */
static inline __attribute__((always_inline)) void
fastrnn_lstm_cells(const float *restrict gx, const float *restrict gh, const float *restrict b,
                   float *restrict c, float *restrict h, ptrdiff_t n, ptrdiff_t gs)
{
    ptrdiff_t j;
    for (j = 0; j < n; j++) {
        struct fastrnn_frac i = fastrnn_sigmoid_frac(gx[j] + gh[j] + b[j]);
        struct fastrnn_frac f = fastrnn_sigmoid_frac(gx[gs + j] + gh[gs + j] + b[gs + j]);
        struct fastrnn_frac g = fastrnn_tanh_frac(gx[2 * gs + j] + gh[2 * gs + j] + b[2 * gs + j]);
        struct fastrnn_frac o = fastrnn_sigmoid_frac(gx[3 * gs + j] + gh[3 * gs + j] + b[3 * gs + j]);
        float dig = i.den * g.den;
        float inv = 1.0f / (f.den * dig);
        float cj = (f.num * dig * inv) * c[j] + (i.num * g.num) * (f.den * inv);
        c[j] = cj;
        struct fastrnn_frac t = fastrnn_tanh_frac(cj);
        h[j] = (o.num * t.num) / (o.den * t.den);
    }
}

FASTRNN_CLONES
static void fastrnn_lstm_cell_f32(const float *restrict gx, const float *restrict gh,
                                  const float *restrict b, float *restrict c,
                                  float *restrict h, ptrdiff_t H)
{
    const ptrdiff_t full = H - H % FASTRNN_TAIL, n = H - full;
    float tgx[4 * FASTRNN_TAIL], tgh[4 * FASTRNN_TAIL], tb[4 * FASTRNN_TAIL];
    float tc[FASTRNN_TAIL] = {0}, th[FASTRNN_TAIL];
    if (n != 0 && H >= FASTRNN_TAIL) {
        /* The last 16 columns read in place (from c as it was before the
         * loop) and the last n of them kept: no zero-padded copies. The
         * cell at H = 100: 290 -> 254 ns, H = 40: 157 -> 113. */
        const ptrdiff_t j0 = H - FASTRNN_TAIL;
        memcpy(tc, c + j0, sizeof tc);
        fastrnn_lstm_cells(gx, gh, b, c, h, full, H);
        fastrnn_lstm_cells(gx + j0, gh + j0, b + j0, tc, th, FASTRNN_TAIL, H);
        memcpy(c + full, tc + FASTRNN_TAIL - n, sizeof(float) * n);
        memcpy(h + full, th + FASTRNN_TAIL - n, sizeof(float) * n);
        return;
    }
    fastrnn_lstm_cells(gx, gh, b, c, h, full, H);
    if (n == 0)
        return;
    fastrnn_tail_in(tgx, gx, H, 4, full, n);
    fastrnn_tail_in(tgh, gh, H, 4, full, n);
    fastrnn_tail_in(tb, b, H, 4, full, n);
    memcpy(tc, c + full, sizeof(float) * n);
    fastrnn_lstm_cells(tgx, tgh, tb, tc, th, FASTRNN_TAIL, FASTRNN_TAIL);
    memcpy(c + full, tc, sizeof(float) * n);
    memcpy(h + full, th, sizeof(float) * n);
}

/* One GRU cell row in torch's gate order (r, z, n), sigmoid/tanh, with
 * linear_before_reset (torch's GRU):
 *     r = sigmoid(gx_r + gh_r + b_r);  z = sigmoid(gx_z + gh_z + b_z)
 *     n = tanh(gx_n + b_n + r (gh_n + b_hn));  h = n + z (h_prev - n)
 * gx, gh and b are 3H long (b_n = b_in alone), b_hn, h_prev and h H long. */
static inline __attribute__((always_inline)) void
fastrnn_gru_cells(const float *restrict gx, const float *restrict gh, const float *restrict b,
                  const float *restrict b_hn, const float *restrict h_prev, float *restrict h,
                  ptrdiff_t n, ptrdiff_t gs)
{
    ptrdiff_t j;
    for (j = 0; j < n; j++) {
        float r = fastrnn_sigmoidf(gx[j] + gh[j] + b[j]);
        float z = fastrnn_sigmoidf(gx[gs + j] + gh[gs + j] + b[gs + j]);
        float nj = fastrnn_tanhf(gx[2 * gs + j] + b[2 * gs + j] + r * (gh[2 * gs + j] + b_hn[j]));
        h[j] = nj + z * (h_prev[j] - nj);
    }
}

FASTRNN_CLONES
static void fastrnn_gru_cell_f32(const float *restrict gx, const float *restrict gh,
                                 const float *restrict b, const float *restrict b_hn,
                                 const float *restrict h_prev, float *restrict h, ptrdiff_t H)
{
    const ptrdiff_t full = H - H % FASTRNN_TAIL, n = H - full;
    float tgx[3 * FASTRNN_TAIL], tgh[3 * FASTRNN_TAIL], tb[3 * FASTRNN_TAIL];
    float tbn[FASTRNN_TAIL] = {0}, tp[FASTRNN_TAIL] = {0}, th[FASTRNN_TAIL];
    fastrnn_gru_cells(gx, gh, b, b_hn, h_prev, h, full, H);
    if (n != 0 && H >= FASTRNN_TAIL) {
        /* the last 16 columns read in place, the last n of them kept */
        const ptrdiff_t j0 = H - FASTRNN_TAIL;
        fastrnn_gru_cells(gx + j0, gh + j0, b + j0, b_hn + j0, h_prev + j0, th, FASTRNN_TAIL, H);
        memcpy(h + full, th + FASTRNN_TAIL - n, sizeof(float) * n);
        return;
    }
    if (n == 0)
        return;
    fastrnn_tail_in(tgx, gx, H, 3, full, n);
    fastrnn_tail_in(tgh, gh, H, 3, full, n);
    fastrnn_tail_in(tb, b, H, 3, full, n);
    memcpy(tbn, b_hn + full, sizeof(float) * n);
    memcpy(tp, h_prev + full, sizeof(float) * n);
    fastrnn_gru_cells(tgx, tgh, tb, tbn, tp, th, FASTRNN_TAIL, FASTRNN_TAIL);
    memcpy(h + full, th, sizeof(float) * n);
}

/* GRU without linear_before_reset, first half: r and z from their gh
 * columns; writes rh = r * h_prev (the input of the n-gate product) and z
 * over gh_z. */
static inline __attribute__((always_inline)) void
fastrnn_gru_resets(const float *restrict gx, float *restrict gh, const float *restrict b,
                   const float *restrict h_prev, float *restrict rh, ptrdiff_t n, ptrdiff_t gs)
{
    ptrdiff_t j;
    for (j = 0; j < n; j++) {
        float r = fastrnn_sigmoidf(gx[j] + gh[j] + b[j]);
        gh[gs + j] = fastrnn_sigmoidf(gx[gs + j] + gh[gs + j] + b[gs + j]);
        rh[j] = r * h_prev[j];
    }
}

FASTRNN_CLONES
static void fastrnn_gru_reset_f32(const float *restrict gx, float *restrict gh,
                                  const float *restrict b, const float *restrict h_prev,
                                  float *restrict rh, ptrdiff_t H)
{
    const ptrdiff_t full = H - H % FASTRNN_TAIL, n = H - full;
    float tgx[2 * FASTRNN_TAIL], tgh[2 * FASTRNN_TAIL], tb[2 * FASTRNN_TAIL];
    float tp[FASTRNN_TAIL] = {0}, trh[FASTRNN_TAIL];
    fastrnn_gru_resets(gx, gh, b, h_prev, rh, full, H);
    if (n == 0)
        return;
    fastrnn_tail_in(tgx, gx, H, 2, full, n);
    fastrnn_tail_in(tgh, gh, H, 2, full, n);
    fastrnn_tail_in(tb, b, H, 2, full, n);
    memcpy(tp, h_prev + full, sizeof(float) * n);
    fastrnn_gru_resets(tgx, tgh, tb, tp, trh, FASTRNN_TAIL, FASTRNN_TAIL);
    memcpy(gh + H + full, tgh + FASTRNN_TAIL, sizeof(float) * n);
    memcpy(rh + full, trh, sizeof(float) * n);
}

/* Second half: gh_n = (r * h_prev) @ w_hn.T, gh_z holds z, b_n = b_in + b_hn:
 *     n = tanh(gx_n + gh_n + b_n);  h = n + z (h_prev - n) */
static inline __attribute__((always_inline)) void
fastrnn_gru_updates(const float *restrict gx, const float *restrict gh, const float *restrict b,
                    const float *restrict h_prev, float *restrict h, ptrdiff_t n, ptrdiff_t gs)
{
    ptrdiff_t j;
    for (j = 0; j < n; j++) {
        float nj = fastrnn_tanhf(gx[2 * gs + j] + gh[2 * gs + j] + b[2 * gs + j]);
        h[j] = nj + gh[gs + j] * (h_prev[j] - nj);
    }
}

FASTRNN_CLONES
static void fastrnn_gru_update_f32(const float *restrict gx, const float *restrict gh,
                                   const float *restrict b, const float *restrict h_prev,
                                   float *restrict h, ptrdiff_t H)
{
    const ptrdiff_t full = H - H % FASTRNN_TAIL, n = H - full;
    float tgx[3 * FASTRNN_TAIL], tgh[3 * FASTRNN_TAIL], tb[3 * FASTRNN_TAIL];
    float tp[FASTRNN_TAIL] = {0}, th[FASTRNN_TAIL];
    fastrnn_gru_updates(gx, gh, b, h_prev, h, full, H);
    if (n == 0)
        return;
    fastrnn_tail_in(tgx, gx, H, 3, full, n);
    fastrnn_tail_in(tgh, gh, H, 3, full, n);
    fastrnn_tail_in(tb, b, H, 3, full, n);
    memcpy(tp, h_prev + full, sizeof(float) * n);
    fastrnn_gru_updates(tgx, tgh, tb, tp, th, FASTRNN_TAIL, FASTRNN_TAIL);
    memcpy(h + full, th, sizeof(float) * n);
}

/* Sigmoid over a whole array, for tests: out[i] = sigmoid(x[i]). */
FASTRNN_CLONES
static void fastrnn_sigmoid_array_f32(const float *restrict x, float *restrict out, ptrdiff_t n)
{
    ptrdiff_t i;
    for (i = 0; i < n; i++)
        out[i] = fastrnn_sigmoidf(x[i]);
}

/* Tanh over a whole array, for tests: out[i] = tanh(x[i]). */
static void fastrnn_tanh_array_f32(const float *x, float *out, ptrdiff_t n)
{
    ptrdiff_t i;
    for (i = 0; i < n; i++)
        out[i] = x[i];
    fastrnn_bias_tanh_f32(out, NULL, NULL, n);
}

#endif
