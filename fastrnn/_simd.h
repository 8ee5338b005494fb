/* Float vectors of the width one kernel file is built for, and the math the
 * cells need on them.
 *
 * Each fastrnn/_isa_*.c defines FASTRNN_VW (lanes: 16 for AVX-512, 8 for
 * AVX2, 4 for SSE2 and NEON) and FASTRNN_VREGS (vector registers: 32 or 16)
 * before including this, under a `#pragma GCC target` of its own; the code
 * is GCC/clang vector extensions, the same source for every width. Helpers
 * that take or return vectors are always inlined: a real call between files
 * built for different targets would not agree on how a vector is passed.
 *
 * Activations: tanh below 2e-7 absolute and 4e-7 relative over all floats;
 * sigmoid below 2e-7 absolute, 4e-7 relative down to sigmoid(-80), and
 * exactly 0 below -88.72 (as 1 / (1 + exp(-x)) in float). NaN passes
 * through. Checked in tests/test_vmath.py on every path against float64
 * numpy: well inside the 1e-5 fastrnn promises for float32. The LSTM and
 * GRU cells take the cheaper fractions at the end of this file (4.5e-7 and
 * 2.5e-7 absolute, checked in the same tests).
 */
#ifndef FASTRNN_SIMD_H
#define FASTRNN_SIMD_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#ifndef FASTRNN_VW
#error "define FASTRNN_VW (vector lanes) before including _simd.h"
#endif

#ifndef FASTRNN_TARGET
#define FASTRNN_TARGET
#endif
/* (under the file's target: some helpers use its instructions directly) */
#define FASTRNN_INLINE static inline __attribute__((always_inline)) FASTRNN_TARGET

#if defined(__x86_64__)
#include <immintrin.h>
#endif

typedef float fastrnn_vf __attribute__((vector_size(4 * FASTRNN_VW), aligned(4)));
typedef int32_t fastrnn_vi __attribute__((vector_size(4 * FASTRNN_VW), aligned(4)));

/* Unaligned loads and stores through the 4-byte-aligned type (a memcpy of
 * 32 bytes became two 16-byte moves through the stack on AVX2). */
FASTRNN_INLINE fastrnn_vf fastrnn_load(const float *p)
{
    return *(const fastrnn_vf *)p;
}

FASTRNN_INLINE void fastrnn_store(float *p, fastrnn_vf v)
{
    *(fastrnn_vf *)p = v;
}

FASTRNN_INLINE fastrnn_vf fastrnn_splat(float x)
{
    fastrnn_vf v;
    int i;
    for (i = 0; i < FASTRNN_VW; i++)
        v[i] = x;
    return v;
}

FASTRNN_INLINE fastrnn_vf fastrnn_vsel(fastrnn_vi m, fastrnn_vf a, fastrnn_vf b)
{
    return (fastrnn_vf)((m & (fastrnn_vi)a) | (~m & (fastrnn_vi)b));
}

/* FASTRNN_X86_PS(op, a, b): x86's packed-single instruction `op` (min, max)
 * at this file's vector width. */
#if defined(__x86_64__) && FASTRNN_VW == 16
#define FASTRNN_X86_PS(op, a, b) ((fastrnn_vf)_mm512_##op##_ps((__m512)(a), (__m512)(b)))
#elif defined(__x86_64__) && FASTRNN_VW == 8
#define FASTRNN_X86_PS(op, a, b) ((fastrnn_vf)_mm256_##op##_ps((__m256)(a), (__m256)(b)))
#elif defined(__x86_64__) && FASTRNN_VW == 4
#define FASTRNN_X86_PS(op, a, b) ((fastrnn_vf)_mm_##op##_ps((__m128)(a), (__m128)(b)))
#endif

/* min(a, b) = (a < b ? a : b) and max(a, b) = (a > b ? a : b): when either
 * is NaN, b (x86's minps/maxps, one instruction each; elsewhere the select).
 * Callers put the value that may be NaN second to pass it through. */
FASTRNN_INLINE fastrnn_vf fastrnn_vmin(fastrnn_vf a, fastrnn_vf b)
{
#ifdef FASTRNN_X86_PS
    return FASTRNN_X86_PS(min, a, b);
#else
    return fastrnn_vsel(a < b, a, b);
#endif
}

FASTRNN_INLINE fastrnn_vf fastrnn_vmax(fastrnn_vf a, fastrnn_vf b)
{
#ifdef FASTRNN_X86_PS
    return FASTRNN_X86_PS(max, a, b);
#else
    return fastrnn_vsel(a > b, a, b);
#endif
}

/* x clamped to [-lim, lim]; NaN passes through (x goes second) */
FASTRNN_INLINE fastrnn_vf fastrnn_vclamp(fastrnn_vf x, float lim)
{
    return fastrnn_vmax(fastrnn_splat(-lim), fastrnn_vmin(fastrnn_splat(lim), x));
}

/* |x| capped at cap; NaN -> cap (cap goes second) */
FASTRNN_INLINE fastrnn_vf fastrnn_vabs_cap(fastrnn_vf x, float cap)
{
    return fastrnn_vmin((fastrnn_vf)((fastrnn_vi)x & 0x7fffffff), fastrnn_splat(cap));
}

/* exp(y) for y in [-80, 0]: y = k ln2 + r with |r| <= ln2/2, then 2^k times
 * the Taylor polynomial of degree 7 in r; relative error < 1e-8 before
 * float rounding. 1.5 * 2^23 added and taken away rounds to an integer;
 * ln2 is taken in two parts, 0.693359375 exact in 9 bits and the rest. */
FASTRNN_INLINE fastrnn_vf fastrnn_vexp_neg(fastrnn_vf y)
{
    fastrnn_vf kf = (y * 1.44269504088896341f + 12582912.0f) - 12582912.0f;
    fastrnn_vf r = (y - kf * 0.693359375f) - kf * -2.12194440e-4f;
    fastrnn_vf p = r * (1.0f / 5040.0f) + 1.0f / 720.0f;
    p = p * r + 1.0f / 120.0f;
    p = p * r + 1.0f / 24.0f;
    p = p * r + 1.0f / 6.0f;
    p = p * r + 0.5f;
    p = p * r + 1.0f;
    p = p * r + 1.0f;
    fastrnn_vi bits = (__builtin_convertvector(kf, fastrnn_vi) + 127) << 23; /* 2^k, normal */
    return p * (fastrnn_vf)bits;
}

/* sigmoid(x) = 1 / (1 + exp(-x)) from e = exp(-|x|): 1 / (1 + e) for x >= 0,
 * e / (1 + e) below; |x| capped at 80, where sigmoid(-80) is still a normal
 * float. Below -88.72 exp(-x) overflows in float and torch's value is
 * exactly 0: 0 here too, so that 0 * inf is NaN as there. */
FASTRNN_INLINE fastrnn_vf fastrnn_vsigmoid(fastrnn_vf x)
{
    fastrnn_vf e = fastrnn_vexp_neg(-fastrnn_vabs_cap(x, 80.0f));
    fastrnn_vf s = 1.0f / (1.0f + e);
    fastrnn_vf t = fastrnn_vsel(x < 0.0f, e * s, s);
    t = fastrnn_vsel(x < -88.72f, fastrnn_splat(0.0f), t);
    return fastrnn_vsel(x == x, t, x);
}

/* tanh(x): odd Taylor series for |x| < 0.25, (1 - e) / (1 + e) with
 * e = exp(-2|x|) above; |x| capped at 9, where tanh rounds to 1. */
FASTRNN_INLINE fastrnn_vf fastrnn_vtanh(fastrnn_vf x)
{
    fastrnn_vf a = fastrnn_vabs_cap(x, 9.0f), a2 = a * a;
    fastrnn_vf small = fastrnn_splat(62.0f / 2835.0f);
    small = small * a2 - 17.0f / 315.0f;
    small = small * a2 + 2.0f / 15.0f;
    small = small * a2 - 1.0f / 3.0f;
    small = small * a2 * a + a;
    fastrnn_vf e = fastrnn_vexp_neg(-2.0f * a);
    fastrnn_vf large = (1.0f - e) / (1.0f + e);
    fastrnn_vf t = fastrnn_vsel(a < 0.25f, small, large);
    t = (fastrnn_vf)((fastrnn_vi)t | ((fastrnn_vi)x & (int32_t)0x80000000));
    return fastrnn_vsel(x == x, t, x);
}

/* tanh(s x) as a fraction num / den, for the cells: a rational function
 * x p(x^2) / q(x^2) of degrees 7 and 8, fitted to tanh on [-7.9, 7.9]
 * (minimax by reweighted least squares, in float64), with s x clamped
 * there. In float: |num / den - tanh(s x)| < 4.5e-7 (tanh(7.9) is 1 - 2.8e-7),
 * den in [1, 185]; NaN passes through (the clamp's comparisons are false).
 * s is a constant (1, or 0.5 for a sigmoid), folded into the coefficients.
 * About 12 operations where an exp-based tanh takes about 25; the cells
 * combine several fractions under one division. */
FASTRNN_INLINE void fastrnn_vtanh_frac(fastrnn_vf x, const float s, fastrnn_vf *num,
                                       fastrnn_vf *den)
{
    const float lim = 7.9f / s, s2 = s * s;
    fastrnn_vf y = fastrnn_vclamp(x, lim);
    fastrnn_vf y2 = y * y;
    fastrnn_vf p = y2 * (1.14151471e-05f * s2 * s2 * s2) + 2.94855493e-03f * s2 * s2;
    p = p * y2 + 1.29227251e-01f * s2;
    p = p * y2 + 9.99999404e-01f;
    fastrnn_vf q = y2 * (2.45739045e-07f * s2 * s2 * s2 * s2) + 2.38401539e-04f * s2 * s2 * s2;
    q = q * y2 + 2.38036886e-02f * s2 * s2;
    q = q * y2 + 4.62558448e-01f * s2;
    q = q * y2 + 1.0f;
    *num = (y * s) * p;
    *den = q;
}

/* sigmoid(x) = (1 + tanh(x / 2)) / 2 as num / den: (q + t) / (2 q) for
 * tanh(x / 2) = t / q, within 2.5e-7 absolute (1.4e-7 at saturation).
 * Exactly 0 below -88.72, as torch's float32 sigmoid (1 / (1 + exp(-x))
 * with exp overflowing): a gate there times an Inf state is NaN as in torch. */
FASTRNN_INLINE void fastrnn_vsigmoid_frac(fastrnn_vf x, fastrnn_vf *num, fastrnn_vf *den)
{
    fastrnn_vf t, q;
    fastrnn_vtanh_frac(x, 0.5f, &t, &q);
    *num = fastrnn_vsel(x < -88.72f, fastrnn_splat(0.0f), q + t);
    *den = q + q;
}

#endif
