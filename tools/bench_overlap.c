/* Whether the input projection can run inside the one-row step (B=1) on AVX2: the
 * step streams w_hh from L2 with FMA slots to spare, the projection is FMA-bound from L1.
 * Sizes of a B=1 LSTM with H=128 and 128 input features (M = 4H = 512 columns, K = 128),
 * w on fastrnn's packed layout (panels of 16 columns, k-major). Per step: the one-row
 * product over all of w_hh (256 KB), and a quarter of a 4-row projection block (a row's
 * worth: 64 KB of w_ih), one after the other and in one loop (4 k of the step and 1 k of
 * the projection per turn, a projection panel's 8 sums kept in registers across 4 step
 * panels: 16 ymm registers). Prints ns per step (20000 steps) for each of 3 repeats.
 *   gcc -O2 tools/bench_overlap.c -o /tmp/bench_overlap && /tmp/bench_overlap
 * (tools/perf_notes.md, "The input projection inside the one-row step"). */
#include <immintrin.h>
#include <stdio.h>
#include <stdlib.h>

#include "bench_util.h"

#define M 512
#define K 128
#define R 4
typedef __m256 V;
__attribute__((target("avx2,fma"),noinline)) void step(const float *w, const float *h, float *c) {
  for (int p = 0; p < M / 16; p++) {
    const float *wp = w + p * K * 16;
    V a0 = _mm256_setzero_ps(), a1 = a0, b0 = a0, b1 = a0;
    for (int k = 0; k < K; k += 2) {
      V x = _mm256_broadcast_ss(h + k), y = _mm256_broadcast_ss(h + k + 1);
      a0 = _mm256_fmadd_ps(x, _mm256_load_ps(wp + k * 16), a0);
      a1 = _mm256_fmadd_ps(x, _mm256_load_ps(wp + k * 16 + 8), a1);
      b0 = _mm256_fmadd_ps(y, _mm256_load_ps(wp + k * 16 + 16), b0);
      b1 = _mm256_fmadd_ps(y, _mm256_load_ps(wp + k * 16 + 24), b1);
    }
    _mm256_store_ps(c + p * 16, a0 + b0); _mm256_store_ps(c + p * 16 + 8, a1 + b1);
  }
}
__attribute__((target("avx2,fma"),noinline)) void proj(const float *w, const float *x, float *g, int p0, int np) {
  for (int q = p0; q < p0 + np; q++) {
    const float *wq = w + q * K * 16;
    V z = _mm256_setzero_ps(), s00 = z, s01 = z, s10 = z, s11 = z, s20 = z, s21 = z, s30 = z, s31 = z;
    for (int k = 0; k < K; k++) {
      V w0 = _mm256_load_ps(wq + k * 16), w1 = _mm256_load_ps(wq + k * 16 + 8), xv;
      xv = _mm256_broadcast_ss(x + 0 * K + k); s00 = _mm256_fmadd_ps(xv, w0, s00); s01 = _mm256_fmadd_ps(xv, w1, s01);
      xv = _mm256_broadcast_ss(x + 1 * K + k); s10 = _mm256_fmadd_ps(xv, w0, s10); s11 = _mm256_fmadd_ps(xv, w1, s11);
      xv = _mm256_broadcast_ss(x + 2 * K + k); s20 = _mm256_fmadd_ps(xv, w0, s20); s21 = _mm256_fmadd_ps(xv, w1, s21);
      xv = _mm256_broadcast_ss(x + 3 * K + k); s30 = _mm256_fmadd_ps(xv, w0, s30); s31 = _mm256_fmadd_ps(xv, w1, s31);
    }
    _mm256_store_ps(g + 0 * M + q * 16, s00); _mm256_store_ps(g + 0 * M + q * 16 + 8, s01);
    _mm256_store_ps(g + 1 * M + q * 16, s10); _mm256_store_ps(g + 1 * M + q * 16 + 8, s11);
    _mm256_store_ps(g + 2 * M + q * 16, s20); _mm256_store_ps(g + 2 * M + q * 16 + 8, s21);
    _mm256_store_ps(g + 3 * M + q * 16, s30); _mm256_store_ps(g + 3 * M + q * 16 + 8, s31);
  }
}
/* balanced: per turn 4 k of the step (one panel, 8 FMAs) and 1 k of a projection panel (8 FMAs);
   a projection panel spans 4 step panels, its sums kept in registers across them */
__attribute__((target("avx2,fma"),noinline)) void in_one_loop(const float *w, const float *h, float *c, const float *wi, const float *x, float *g, int p0) {
  V z = _mm256_setzero_ps();
  for (int qq = 0; qq < 8; qq++) {
    const int q = p0 + qq;
    const float *wq = wi + q * K * 16;
    V s00 = z, s01 = z, s10 = z, s11 = z, s20 = z, s21 = z, s30 = z, s31 = z;
    for (int pp = 0; pp < 4; pp++) {
      const int p = qq * 4 + pp;
      const float *wp = w + p * K * 16;
      V a0 = z, a1 = z, b0 = z, b1 = z;
      for (int k = 0; k < K; k += 4) {
        V hk = _mm256_broadcast_ss(h + k);
        a0 = _mm256_fmadd_ps(hk, _mm256_load_ps(wp + k * 16), a0);
        a1 = _mm256_fmadd_ps(hk, _mm256_load_ps(wp + k * 16 + 8), a1);
        hk = _mm256_broadcast_ss(h + k + 1);
        b0 = _mm256_fmadd_ps(hk, _mm256_load_ps(wp + k * 16 + 16), b0);
        b1 = _mm256_fmadd_ps(hk, _mm256_load_ps(wp + k * 16 + 24), b1);
        hk = _mm256_broadcast_ss(h + k + 2);
        a0 = _mm256_fmadd_ps(hk, _mm256_load_ps(wp + k * 16 + 32), a0);
        a1 = _mm256_fmadd_ps(hk, _mm256_load_ps(wp + k * 16 + 40), a1);
        hk = _mm256_broadcast_ss(h + k + 3);
        b0 = _mm256_fmadd_ps(hk, _mm256_load_ps(wp + k * 16 + 48), b0);
        b1 = _mm256_fmadd_ps(hk, _mm256_load_ps(wp + k * 16 + 56), b1);
        const int kq = pp * 32 + k / 4;
        V w0 = _mm256_load_ps(wq + kq * 16), w1 = _mm256_load_ps(wq + kq * 16 + 8), xv;
        xv = _mm256_broadcast_ss(x + 0 * K + kq); s00 = _mm256_fmadd_ps(xv, w0, s00); s01 = _mm256_fmadd_ps(xv, w1, s01);
        xv = _mm256_broadcast_ss(x + 1 * K + kq); s10 = _mm256_fmadd_ps(xv, w0, s10); s11 = _mm256_fmadd_ps(xv, w1, s11);
        xv = _mm256_broadcast_ss(x + 2 * K + kq); s20 = _mm256_fmadd_ps(xv, w0, s20); s21 = _mm256_fmadd_ps(xv, w1, s21);
        xv = _mm256_broadcast_ss(x + 3 * K + kq); s30 = _mm256_fmadd_ps(xv, w0, s30); s31 = _mm256_fmadd_ps(xv, w1, s31);
      }
      _mm256_store_ps(c + p * 16, a0 + b0); _mm256_store_ps(c + p * 16 + 8, a1 + b1);
    }
    _mm256_store_ps(g + 0 * M + q * 16, s00); _mm256_store_ps(g + 0 * M + q * 16 + 8, s01);
    _mm256_store_ps(g + 1 * M + q * 16, s10); _mm256_store_ps(g + 1 * M + q * 16 + 8, s11);
    _mm256_store_ps(g + 2 * M + q * 16, s20); _mm256_store_ps(g + 2 * M + q * 16 + 8, s21);
    _mm256_store_ps(g + 3 * M + q * 16, s30); _mm256_store_ps(g + 3 * M + q * 16 + 8, s31);
  }
}
int main() {
  float *w = aligned_alloc(64, 4 * M * K), *wi = aligned_alloc(64, 4 * M * K), *h = aligned_alloc(64, 4 * K),
        *c = aligned_alloc(64, 4 * M), *x = aligned_alloc(64, 4 * R * K), *g = aligned_alloc(64, 4 * R * M);
  for (int i = 0; i < M * K; i++) { w[i] = 1e-3f; wi[i] = 2e-3f; }
  for (int i = 0; i < R * K; i++) x[i] = 0.1f;
  for (int i = 0; i < K; i++) h[i] = 0.1f;
  int steps = 20000, per = (M / 16) / R;  /* projection panels per step: a quarter */
  for (int rep = 0; rep < 3; rep++) {
    double t = now();
    for (int s = 0; s < steps; s++) step(w, h, c);
    double ts = (now() - t) / steps * 1e9; t = now();
    for (int s = 0; s < steps; s++) proj(wi, x, g, (s % R) * per, per);
    double tp = (now() - t) / steps * 1e9; t = now();
    for (int s = 0; s < steps; s++) { step(w, h, c); proj(wi, x, g, (s % R) * per, per); }
    double tsp = (now() - t) / steps * 1e9; t = now();
    for (int s = 0; s < steps; s++) in_one_loop(w, h, c, wi, x, g, (s % R) * per);
    double tf = (now() - t) / steps * 1e9;
    printf("step %.0f ns, projection (a row's worth) %.0f, one after the other %.0f, in one loop %.0f\n",
           ts, tp, tsp, tf);
  }
  return (int)c[0] + (int)g[0];
}
