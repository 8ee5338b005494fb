/* float32 cells and activations on whole vectors (see _simd.h), for the
 * unfused steps: the recurrent product is done, these add the biases and
 * apply the cell, one batch row at a time. The fused steps of _step.h use
 * the same per-vector cells (fastrnn_lstm_vcell, fastrnn_gru_vcell), so a
 * column's value does not depend on which kernel ran it.
 *
 * Rows run over whole vectors, then once more over the last H % VW columns:
 * where H >= VW on the last VW columns read in place (their outputs to a
 * buffer, the last H % VW of them kept), else on zero-padded copies. A
 * scalar epilogue cost as much as the whole row at H = 100.
 */
#ifndef FASTRNN_CELLS_H
#define FASTRNN_CELLS_H

#include "_simd.h"

/* LSTM cells of U (1 or 2) vectors of units from pre-activations p (i, f,
 * g, o of vector u at p[4u..4u+3]): c in place, h written.
 * c = sigmoid(f) c + sigmoid(i) tanh(g), h = sigmoid(o) tanh(c), every
 * activation a fraction (_simd.h): 2 divisions per unit instead of 5. The
 * coefficients of c are formed before c multiplies them, so a large c does
 * not overflow where torch's does not. Each stage runs for every u before
 * the next: a cell is one long chain (two divisions, tanh(c) after c), and
 * two chains side by side keep the units busy (tools/perf_notes.md, cells);
 * a unit's operations are the same for any U. */
FASTRNN_INLINE void fastrnn_lstm_vcells(const fastrnn_vf *p, float *restrict c,
                                        float *restrict h, const int U)
{
    fastrnn_vf in[2], id[2], fn[2], fd[2], gn[2], gd[2], on[2], od[2], tn[2], td[2];
    fastrnn_vf dig[2], inv[2], cj[2];
    int u;
    for (u = 0; u < U; u++) {
        fastrnn_vsigmoid_frac(p[4 * u], &in[u], &id[u]);
        fastrnn_vsigmoid_frac(p[4 * u + 1], &fn[u], &fd[u]);
        fastrnn_vtanh_frac(p[4 * u + 2], 1.0f, &gn[u], &gd[u]);
        fastrnn_vsigmoid_frac(p[4 * u + 3], &on[u], &od[u]);
    }
    for (u = 0; u < U; u++) {
        dig[u] = id[u] * gd[u];
        inv[u] = 1.0f / (fd[u] * dig[u]);
    }
    for (u = 0; u < U; u++) {
        cj[u] = (fn[u] * dig[u] * inv[u]) * fastrnn_load(c + u * FASTRNN_VW)
                + (in[u] * gn[u]) * (fd[u] * inv[u]);
        fastrnn_store(c + u * FASTRNN_VW, cj[u]);
    }
    for (u = 0; u < U; u++)
        fastrnn_vtanh_frac(cj[u], 1.0f, &tn[u], &td[u]);
    for (u = 0; u < U; u++)
        fastrnn_store(h + u * FASTRNN_VW, (on[u] * tn[u]) / (od[u] * td[u]));
}

/* One vector of LSTM cells (the fused steps of _step.h). */
FASTRNN_INLINE void fastrnn_lstm_vcell(const fastrnn_vf p[4], float *restrict c, float *restrict h)
{
    fastrnn_lstm_vcells(p, c, h, 1);
}

/* GRU cells (linear_before_reset) of U (1 or 2) vectors of units, in
 * stages as the LSTM's: p (r, z, gx_n + b_in, gh_n + b_hn of vector u at
 * p[4u..4u+3]); n = tanh(p2 + r p3), h = (1 - z) n + z h_prev, with
 * sigmoid(z) = zn / zd and tanh = nn / nd under one division:
 * h = ((zd - zn) nn + zn nd h_prev) / (zd nd). */
FASTRNN_INLINE void fastrnn_gru_vcells(const fastrnn_vf *p, const float *restrict h_prev,
                                       float *restrict h, const int U)
{
    fastrnn_vf rn[2], rd[2], zn[2], zd[2], nn[2], nd[2], inv[2];
    int u;
    for (u = 0; u < U; u++) {
        fastrnn_vsigmoid_frac(p[4 * u], &rn[u], &rd[u]);
        fastrnn_vsigmoid_frac(p[4 * u + 1], &zn[u], &zd[u]);
    }
    for (u = 0; u < U; u++)
        fastrnn_vtanh_frac(p[4 * u + 2] + (rn[u] / rd[u]) * p[4 * u + 3], 1.0f, &nn[u], &nd[u]);
    for (u = 0; u < U; u++)
        inv[u] = 1.0f / (zd[u] * nd[u]);
    for (u = 0; u < U; u++)
        fastrnn_store(h + u * FASTRNN_VW,
                      ((zd[u] - zn[u]) * nn[u]) * inv[u]
                      + (zn[u] * nd[u] * inv[u]) * fastrnn_load(h_prev + u * FASTRNN_VW));
}

/* One vector of GRU cells (the fused steps of _step.h). */
FASTRNN_INLINE void fastrnn_gru_vcell(const fastrnn_vf p[4], const float *restrict h_prev,
                                      float *restrict h)
{
    fastrnn_gru_vcells(p, h_prev, h, 1);
}

/* Copy columns [j0, j0 + n) of `gates` gate blocks, gs apart, into a
 * zero-padded (gates x VW) buffer. */
FASTRNN_INLINE void fastrnn_tail_in(float *buf, const float *src, ptrdiff_t gs, int gates,
                                    ptrdiff_t j0, ptrdiff_t n)
{
    int g;
    memset(buf, 0, sizeof(float) * FASTRNN_VW * gates);
    for (g = 0; g < gates; g++)
        memcpy(buf + g * FASTRNN_VW, src + g * gs + j0, sizeof(float) * n);
}

/* fastrnn_tail_in of the three gate arrays a row reads: gx, gh and b. */
FASTRNN_INLINE void fastrnn_tails_in(float *tgx, float *tgh, float *tb, const float *gx,
                                     const float *gh, const float *b, ptrdiff_t gs, int gates,
                                     ptrdiff_t j0, ptrdiff_t n)
{
    fastrnn_tail_in(tgx, gx, gs, gates, j0, n);
    fastrnn_tail_in(tgh, gh, gs, gates, j0, n);
    fastrnn_tail_in(tb, b, gs, gates, j0, n);
}

/* The pre-activations of the LSTM cells of columns [j, j + VW): p[g] =
 * gx + gh + b of gate g (gates gs apart). */
FASTRNN_INLINE void fastrnn_lstm_pre(const float *restrict gx, const float *restrict gh,
                                     const float *restrict b, ptrdiff_t gs, ptrdiff_t j,
                                     fastrnn_vf *p)
{
    int g;
    for (g = 0; g < 4; g++)
        p[g] = (fastrnn_load(gx + g * gs + j) + fastrnn_load(gh + g * gs + j))
               + fastrnn_load(b + g * gs + j);
}

/* LSTM cells of n units (a multiple of VW), gates gs apart in gx, gh, b:
 * two vectors at a time, then the last one. */
FASTRNN_INLINE void fastrnn_lstm_cells(const float *restrict gx, const float *restrict gh,
                                       const float *restrict b, float *restrict c,
                                       float *restrict h, ptrdiff_t n, ptrdiff_t gs)
{
    ptrdiff_t j;
    fastrnn_vf p[8];
    for (j = 0; j + 2 * FASTRNN_VW <= n; j += 2 * FASTRNN_VW) {
        fastrnn_lstm_pre(gx, gh, b, gs, j, p);
        fastrnn_lstm_pre(gx, gh, b, gs, j + FASTRNN_VW, p + 4);
        fastrnn_lstm_vcells(p, c + j, h + j, 2);
    }
    if (j < n) {
        fastrnn_lstm_pre(gx, gh, b, gs, j, p);
        fastrnn_lstm_vcells(p, c + j, h + j, 1);
    }
}

/* One LSTM row in torch's gate order (i, f, g, o): a = gx + gh + b, then
 * the cell; gx, gh, b are 4H long, c (in place) and h H long. */
FASTRNN_TARGET static void fastrnn_lstm_cell_f32(const float *restrict gx, const float *restrict gh,
                                  const float *restrict b, float *restrict c, float *restrict h,
                                  ptrdiff_t H)
{
    const ptrdiff_t full = H - H % FASTRNN_VW, n = H - full;
    float tgx[4 * FASTRNN_VW], tgh[4 * FASTRNN_VW], tb[4 * FASTRNN_VW];
    float tc[FASTRNN_VW] = {0}, th[FASTRNN_VW];
    if (n != 0 && H >= FASTRNN_VW) {
        const ptrdiff_t j0 = H - FASTRNN_VW;
        memcpy(tc, c + j0, sizeof tc);   /* c as it was before the loop */
        fastrnn_lstm_cells(gx, gh, b, c, h, full, H);
        fastrnn_lstm_cells(gx + j0, gh + j0, b + j0, tc, th, FASTRNN_VW, H);
        memcpy(c + full, tc + FASTRNN_VW - n, sizeof(float) * n);
        memcpy(h + full, th + FASTRNN_VW - n, sizeof(float) * n);
        return;
    }
    fastrnn_lstm_cells(gx, gh, b, c, h, full, H);
    if (n == 0)
        return;
    fastrnn_tails_in(tgx, tgh, tb, gx, gh, b, H, 4, full, n);
    memcpy(tc, c + full, sizeof(float) * n);
    fastrnn_lstm_cells(tgx, tgh, tb, tc, th, FASTRNN_VW, FASTRNN_VW);
    memcpy(c + full, tc, sizeof(float) * n);
    memcpy(h + full, th, sizeof(float) * n);
}

/* The pre-activations of the GRU cells of columns [j, j + VW): r, z (gx +
 * gh + b), gx_n + b_in and gh_n + b_hn (gates gs apart). */
FASTRNN_INLINE void fastrnn_gru_pre(const float *restrict gx, const float *restrict gh,
                                    const float *restrict b, const float *restrict b_hn,
                                    ptrdiff_t gs, ptrdiff_t j, fastrnn_vf *p)
{
    int g;
    for (g = 0; g < 2; g++)
        p[g] = (fastrnn_load(gx + g * gs + j) + fastrnn_load(gh + g * gs + j))
               + fastrnn_load(b + g * gs + j);
    p[2] = fastrnn_load(gx + 2 * gs + j) + fastrnn_load(b + 2 * gs + j);
    p[3] = fastrnn_load(gh + 2 * gs + j) + fastrnn_load(b_hn + j);
}

/* GRU cells of n units (a multiple of VW); b_n = b_in, b_hn apart: two
 * vectors at a time, then the last one. */
FASTRNN_INLINE void fastrnn_gru_cells(const float *restrict gx, const float *restrict gh,
                                      const float *restrict b, const float *restrict b_hn,
                                      const float *restrict h_prev, float *restrict h,
                                      ptrdiff_t n, ptrdiff_t gs)
{
    ptrdiff_t j;
    fastrnn_vf p[8];
    for (j = 0; j + 2 * FASTRNN_VW <= n; j += 2 * FASTRNN_VW) {
        fastrnn_gru_pre(gx, gh, b, b_hn, gs, j, p);
        fastrnn_gru_pre(gx, gh, b, b_hn, gs, j + FASTRNN_VW, p + 4);
        fastrnn_gru_vcells(p, h_prev + j, h + j, 2);
    }
    if (j < n) {
        fastrnn_gru_pre(gx, gh, b, b_hn, gs, j, p);
        fastrnn_gru_vcells(p, h_prev + j, h + j, 1);
    }
}

/* One GRU row with linear_before_reset (torch's GRU), gate order (r, z, n):
 *     r = sigmoid(gx_r + gh_r + b_r);  z = sigmoid(gx_z + gh_z + b_z)
 *     n = tanh(gx_n + b_n + r (gh_n + b_hn));  h = n + z (h_prev - n)
 * gx, gh and b are 3H long (b_n = b_in alone), b_hn, h_prev and h H long. */
FASTRNN_TARGET static void fastrnn_gru_cell_f32(const float *restrict gx, const float *restrict gh,
                                 const float *restrict b, const float *restrict b_hn,
                                 const float *restrict h_prev, float *restrict h, ptrdiff_t H)
{
    const ptrdiff_t full = H - H % FASTRNN_VW, n = H - full;
    float tgx[3 * FASTRNN_VW], tgh[3 * FASTRNN_VW], tb[3 * FASTRNN_VW];
    float tbn[FASTRNN_VW] = {0}, tp[FASTRNN_VW] = {0}, th[FASTRNN_VW];
    fastrnn_gru_cells(gx, gh, b, b_hn, h_prev, h, full, H);
    if (n == 0)
        return;
    if (H >= FASTRNN_VW) {
        const ptrdiff_t j0 = H - FASTRNN_VW;
        fastrnn_gru_cells(gx + j0, gh + j0, b + j0, b_hn + j0, h_prev + j0, th, FASTRNN_VW, H);
        memcpy(h + full, th + FASTRNN_VW - n, sizeof(float) * n);
        return;
    }
    fastrnn_tails_in(tgx, tgh, tb, gx, gh, b, H, 3, full, n);
    memcpy(tbn, b_hn + full, sizeof(float) * n);
    memcpy(tp, h_prev + full, sizeof(float) * n);
    fastrnn_gru_cells(tgx, tgh, tb, tbn, tp, th, FASTRNN_VW, FASTRNN_VW);
    memcpy(h + full, th, sizeof(float) * n);
}

/* GRU without linear_before_reset, before the n-gate product: r and z from
 * their gh columns; rh = r h_prev (that product's input), z over gh_z. */
FASTRNN_INLINE void fastrnn_gru_resets(const float *restrict gx, float *restrict gh,
                                       const float *restrict b, const float *restrict h_prev,
                                       float *restrict rh, ptrdiff_t n, ptrdiff_t gs)
{
    ptrdiff_t j;
    for (j = 0; j < n; j += FASTRNN_VW) {
        fastrnn_vf r = fastrnn_vsigmoid((fastrnn_load(gx + j) + fastrnn_load(gh + j))
                                        + fastrnn_load(b + j));
        fastrnn_vf z = fastrnn_vsigmoid((fastrnn_load(gx + gs + j) + fastrnn_load(gh + gs + j))
                                        + fastrnn_load(b + gs + j));
        fastrnn_store(gh + gs + j, z);
        fastrnn_store(rh + j, r * fastrnn_load(h_prev + j));
    }
}

FASTRNN_TARGET static void fastrnn_gru_reset_f32(const float *restrict gx, float *restrict gh,
                                  const float *restrict b, const float *restrict h_prev,
                                  float *restrict rh, ptrdiff_t H)
{
    const ptrdiff_t full = H - H % FASTRNN_VW, n = H - full;
    float tgx[2 * FASTRNN_VW], tgh[2 * FASTRNN_VW], tb[2 * FASTRNN_VW];
    float tp[FASTRNN_VW] = {0}, trh[FASTRNN_VW];
    fastrnn_gru_resets(gx, gh, b, h_prev, rh, full, H);
    if (n == 0)
        return;
    fastrnn_tails_in(tgx, tgh, tb, gx, gh, b, H, 2, full, n);
    memcpy(tp, h_prev + full, sizeof(float) * n);
    fastrnn_gru_resets(tgx, tgh, tb, tp, trh, FASTRNN_VW, FASTRNN_VW);
    memcpy(gh + H + full, tgh + FASTRNN_VW, sizeof(float) * n);
    memcpy(rh + full, trh, sizeof(float) * n);
}

/* After it: gh_n = (r h_prev) @ w_hn.T, gh_z holds z, b_n = b_in + b_hn:
 *     n = tanh(gx_n + gh_n + b_n);  h = n + z (h_prev - n) */
FASTRNN_INLINE void fastrnn_gru_updates(const float *restrict gx, const float *restrict gh,
                                        const float *restrict b, const float *restrict h_prev,
                                        float *restrict h, ptrdiff_t n, ptrdiff_t gs)
{
    ptrdiff_t j;
    for (j = 0; j < n; j += FASTRNN_VW) {
        fastrnn_vf nj = fastrnn_vtanh((fastrnn_load(gx + 2 * gs + j) + fastrnn_load(gh + 2 * gs + j))
                                      + fastrnn_load(b + 2 * gs + j));
        fastrnn_store(h + j, nj + fastrnn_load(gh + gs + j) * (fastrnn_load(h_prev + j) - nj));
    }
}

FASTRNN_TARGET static void fastrnn_gru_update_f32(const float *restrict gx, const float *restrict gh,
                                   const float *restrict b, const float *restrict h_prev,
                                   float *restrict h, ptrdiff_t H)
{
    const ptrdiff_t full = H - H % FASTRNN_VW, n = H - full;
    float tgx[3 * FASTRNN_VW], tgh[3 * FASTRNN_VW], tb[3 * FASTRNN_VW];
    float tp[FASTRNN_VW] = {0}, th[FASTRNN_VW];
    fastrnn_gru_updates(gx, gh, b, h_prev, h, full, H);
    if (n == 0)
        return;
    fastrnn_tails_in(tgx, tgh, tb, gx, gh, b, H, 3, full, n);
    memcpy(tp, h_prev + full, sizeof(float) * n);
    fastrnn_gru_updates(tgx, tgh, tb, tp, th, FASTRNN_VW, FASTRNN_VW);
    memcpy(h + full, th, sizeof(float) * n);
}

/* row = act(row + b_ih + b_hh) over n columns, act tanh (relu = 0) or relu;
 * the biases may be NULL (both or neither). relu keeps NaN. */
FASTRNN_INLINE fastrnn_vf fastrnn_bias_act(fastrnn_vf v, const float *b_ih, const float *b_hh,
                                           int relu)
{
    if (b_ih != NULL)
        v = v + fastrnn_load(b_ih) + fastrnn_load(b_hh);
    return relu ? fastrnn_vsel(v < 0.0f, fastrnn_splat(0.0f), v) : fastrnn_vtanh(v);
}

FASTRNN_TARGET static void fastrnn_bias_act_f32(float *restrict row, const float *restrict b_ih,
                                 const float *restrict b_hh, ptrdiff_t n, int relu)
{
    const ptrdiff_t full = n - n % FASTRNN_VW, j0 = n - FASTRNN_VW;
    ptrdiff_t j;
    float t[3][FASTRNN_VW] = {{0}};
    fastrnn_vf last = {0};
    if (full != n && n >= FASTRNN_VW)
        last = fastrnn_load(row + j0);   /* the last VW columns as they were */
    for (j = 0; j < full; j += FASTRNN_VW)
        fastrnn_store(row + j, fastrnn_bias_act(fastrnn_load(row + j), b_ih ? b_ih + j : NULL,
                                                b_hh ? b_hh + j : NULL, relu));
    if (full == n)
        return;
    if (n >= FASTRNN_VW) {
        /* the last VW columns again, from their values before the loop: the
         * overlap gets the values the loop wrote */
        fastrnn_store(row + j0, fastrnn_bias_act(last, b_ih ? b_ih + j0 : NULL,
                                                 b_hh ? b_hh + j0 : NULL, relu));
        return;
    }
    memcpy(t[0], row, sizeof(float) * n);
    if (b_ih != NULL) {
        memcpy(t[1], b_ih, sizeof(float) * n);
        memcpy(t[2], b_hh, sizeof(float) * n);
    }
    fastrnn_store(t[0], fastrnn_bias_act(fastrnn_load(t[0]), b_ih ? t[1] : NULL,
                                         b_ih ? t[2] : NULL, relu));
    memcpy(row, t[0], sizeof(float) * n);
}

FASTRNN_TARGET static void fastrnn_bias_tanh_f32(float *restrict row, const float *restrict b_ih,
                                  const float *restrict b_hh, ptrdiff_t n)
{
    fastrnn_bias_act_f32(row, b_ih, b_hh, n, 0);
}

FASTRNN_TARGET static void fastrnn_bias_relu_f32(float *restrict row, const float *restrict b_ih,
                                  const float *restrict b_hh, ptrdiff_t n)
{
    fastrnn_bias_act_f32(row, b_ih, b_hh, n, 1);
}

/* One activation of the kernels on a vector: FASTRNN_SIGMOID and
 * FASTRNN_TANH are the exp-based ones, FASTRNN_CELL_SIGMOID and
 * FASTRNN_CELL_TANH the fractions the LSTM and GRU cells use, divided out. */
enum { FASTRNN_SIGMOID, FASTRNN_TANH, FASTRNN_CELL_SIGMOID, FASTRNN_CELL_TANH };

FASTRNN_INLINE fastrnn_vf fastrnn_activation(fastrnn_vf x, int which)
{
    fastrnn_vf num, den;
    switch (which) {
    case FASTRNN_SIGMOID:
        return fastrnn_vsigmoid(x);
    case FASTRNN_TANH:
        return fastrnn_vtanh(x);
    case FASTRNN_CELL_SIGMOID:
        fastrnn_vsigmoid_frac(x, &num, &den);
        return num / den;
    default:
        fastrnn_vtanh_frac(x, 1.0f, &num, &den);
        return num / den;
    }
}

/* out[i] = activation `which` of x[i] over an array (the tests' view of
 * each path's activations). */
FASTRNN_TARGET static void fastrnn_activation_array_f32(const float *restrict x, float *restrict out,
                                                        ptrdiff_t n, int which)
{
    ptrdiff_t i;
    float t[FASTRNN_VW];
    for (i = 0; i + FASTRNN_VW <= n; i += FASTRNN_VW)
        fastrnn_store(out + i, fastrnn_activation(fastrnn_load(x + i), which));
    if (i < n) {
        memset(t, 0, sizeof t);
        memcpy(t, x + i, sizeof(float) * (n - i));
        fastrnn_store(t, fastrnn_activation(fastrnn_load(t), which));
        memcpy(out + i, t, sizeof(float) * (n - i));
    }
}

#endif
