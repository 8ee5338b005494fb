/* The float32 kernels of one instruction set, as a table of functions.
 *
 * fastrnn/_isa_kernels.h is built once per instruction set, each time in a
 * file of its own under its own target (_isa_avx512.c, _isa_avx2.c,
 * _isa_generic.c: SSE2 on x86-64, NEON on ARM64), and exports one table.
 * _isa_select.c picks the table for this CPU at import, or the one that
 * FASTRNN_ISA names. A call reads the table once and uses it throughout: the
 * packed layout of w belongs to the table that packed it.
 */
#ifndef FASTRNN_ISA_H
#define FASTRNN_ISA_H

#include <stddef.h>

/* Rows of an input projection that a one-row step computes a slice of as it
 * goes (row_step_ahead): gx[r * gx_ld + j] = x_r @ w[j] for the `rows` rows
 * (1..4) and the columns of panels [p0, p1) of w, M x K packed by the table's
 * pack (K <= 256). x holds the rows' features side by side, x[4 k + r] (see
 * fastrnn_ahead_rows). */
typedef struct fastrnn_ahead {
    const float *packed;
    const float *x;
    float *gx;
    ptrdiff_t gx_ld;
    ptrdiff_t rows, M, K, p0, p1;
} fastrnn_ahead;

/* xt[4 k + r] = x[r * x_ld + k] for k < K and r < 4, rows past `rows` (1..4)
 * repeating the last: a block's x for row_step_ahead, built once per block. */
static inline void fastrnn_ahead_rows(const float *x, ptrdiff_t x_ld, ptrdiff_t rows,
                                      ptrdiff_t K, float *xt)
{
    ptrdiff_t k, r;
    for (r = 0; r < 4; r++) {
        const float *xr = x + (r < rows ? r : rows - 1) * x_ld;
        for (k = 0; k < K; k++)
            xt[4 * k + r] = xr[k];
    }
}

typedef struct fastrnn_isa {
    const char *name;          /* "avx512", "avx2", "sse2", "neon" */
    int lanes;                 /* floats per vector */
    int fused_units;           /* the fused one-row steps need H % fused_units == 0 */
    int packed_auto;           /* whether "auto" runs recurrent products on the packed kernel */
    int fused_auto;            /* whether one-row LSTM/GRU steps take the fused kernels */
    /* where "auto" has one-row steps project later rows among their sums
     * (row_step_ahead): from ahead_min_in to ahead_max_in input features and
     * from ahead_min_steps steps (ahead_max_in 0: never) */
    int ahead_min_in, ahead_max_in, ahead_min_steps;
    /* input features up to which "auto" projects the inputs of LSTM and GRU
     * layers on the packed kernel (beside I <= min(P, 128) and split calls) */
    int packed_input_max;
    /* up to how many multiply-adds of w_hh per step (N G H P) "auto" runs an
     * LSTM or GRU call of one step on dot_step (0: never) */
    ptrdiff_t dot_max_macs;
    ptrdiff_t (*packed_size)(ptrdiff_t M, ptrdiff_t K);
    void (*pack)(const float *w, ptrdiff_t M, ptrdiff_t K, float *packed);
    void (*recurrent_step)(const float *packed, const float *h, ptrdiff_t h_ld, float *c,
                           ptrdiff_t c_ld, ptrdiff_t N, ptrdiff_t M, ptrdiff_t K,
                           int accumulate, int backwards);
    /* c (+)= h @ w.T on w as it is (M x K, rows w_ld apart): a call's only step */
    void (*dot_step)(const float *w, ptrdiff_t w_ld, const float *h, ptrdiff_t h_ld, float *c,
                     ptrdiff_t c_ld, ptrdiff_t N, ptrdiff_t M, ptrdiff_t K, int accumulate);
    void (*lstm_step_row)(const float *packed, const float *h_prev, const float *gx,
                          const float *b, float *c, float *h, ptrdiff_t H, int backwards);
    /* recurrent_step of one row (c = h @ w.T, the same bits) with the
     * projection `ahead` describes in among its sums */
    void (*row_step_ahead)(const float *packed, const float *h, float *c, ptrdiff_t M,
                           ptrdiff_t K, int backwards, const fastrnn_ahead *ahead);
    void (*gru_step_row)(const float *packed, const float *h_prev, const float *gx,
                         const float *b, const float *b_hn, float *h, ptrdiff_t H,
                         int backwards);
    void (*lstm_cell)(const float *gx, const float *gh, const float *b, float *c, float *h,
                      ptrdiff_t H);
    void (*gru_cell)(const float *gx, const float *gh, const float *b, const float *b_hn,
                     const float *h_prev, float *h, ptrdiff_t H);
    void (*gru_reset)(const float *gx, float *gh, const float *b, const float *h_prev,
                      float *rh, ptrdiff_t H);
    void (*gru_update)(const float *gx, const float *gh, const float *b, const float *h_prev,
                       float *h, ptrdiff_t H);
    void (*bias_tanh)(float *row, const float *b_ih, const float *b_hh, ptrdiff_t n);
    void (*bias_relu)(float *row, const float *b_ih, const float *b_hh, ptrdiff_t n);
    /* out = activation `which` of x: 0 sigmoid, 1 tanh (RNN cells), 2 and 3
     * the LSTM and GRU cells' sigmoid and tanh (_cells.h); for tests */
    void (*activation_array)(const float *x, float *out, ptrdiff_t n, int which);
} fastrnn_isa;

/* Ask the caches for `bytes` from p on, a prefetch per 64-byte line: the
 * cells' input projection rows at large batches come from L3 (tools/
 * perf_notes.md, cells). */
static inline void fastrnn_prefetch(const void *p, ptrdiff_t bytes)
{
    const char *b = (const char *)p;
    ptrdiff_t i;
    for (i = 0; i < bytes; i += 64)
        __builtin_prefetch(b + i, 0, 3);
}

/* The table named (NULL: the best this CPU runs); NULL, with *why set to a
 * sentence, when the name is unknown or the CPU lacks what the path needs. */
const fastrnn_isa *fastrnn_isa_find(const char *name, const char **why);
/* Every path this CPU can run, best first; returns how many (at most max). */
int fastrnn_isa_supported(const fastrnn_isa **out, int max);
/* Whether the CPU has AVX-512F / AVX2 and FMA (0 off x86-64). */
int fastrnn_cpu_avx512f(void);
int fastrnn_cpu_avx2_fma(void);

#endif
