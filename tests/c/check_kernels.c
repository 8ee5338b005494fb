/* A C check of every float32 kernel table this machine runs (_isa.h)
 * against a plain scalar reference in double: the packed product (every
 * row count 1..13, widths across panel edges, both sweep directions,
 * accumulate or not), the one-row step with a projection inside it
 * (row_step_ahead: its product bitwise the one-row step's, its projection
 * the row blocks', nothing outside its panels and rows written), the fused
 * one-row LSTM and GRU steps, the unfused
 * cells, and the activations. Built natively and, for ARM64, with
 * aarch64-linux-gnu-gcc and run under qemu-aarch64 (tests/test_isa.py).
 *
 *   cc -O2 -Ifastrnn tests/c/check_kernels.c fastrnn/_isa_*.c -lm && ./a.out
 *
 * Prints one line per table and check, then "N passed, N failed". Exit
 * status 1 if any check failed. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "_isa.h"

static int passed, failed;
static unsigned long long seed = 88172645463325252ULL;

static float rnd(void)
{
    seed ^= seed << 13;
    seed ^= seed >> 7;
    seed ^= seed << 17;
    return (float)((seed >> 11) * (1.0 / 9007199254740992.0)) * 2.0f - 1.0f;
}

static void fill(float *p, size_t n, float scale)
{
    size_t i;
    for (i = 0; i < n; i++)
        p[i] = rnd() * scale;
}

static void *alloc64(size_t bytes)
{
    void *p = NULL;
    if (posix_memalign(&p, 64, bytes + 64) != 0)
        abort();
    memset(p, 0, bytes + 64);
    return p;
}

static void report(const char *isa, const char *what, double err, double tol)
{
    int ok = err <= tol;
    printf("%-7s %-44s max err %.3g (tol %.1g) %s\n", isa, what, err, tol, ok ? "ok" : "FAILED");
    if (ok)
        passed++;
    else
        failed++;
}

static double sigmoid_ref(double x) { return 1.0 / (1.0 + exp(-x)); }

/* c (+)= h @ w.T on the packed kernel (dot: on dot_step, w as it is) against
 * double sums */
static double check_step(const fastrnn_isa *t, ptrdiff_t N, ptrdiff_t M, ptrdiff_t K, int acc,
                         int backwards, int dot)
{
    float *w = alloc64(sizeof(float) * M * K), *h = alloc64(sizeof(float) * N * (K + 3));
    float *c = alloc64(sizeof(float) * N * (M + 5));
    float *packed = alloc64(sizeof(float) * t->packed_size(M, K));
    double err = 0;
    ptrdiff_t n, j, k;
    const ptrdiff_t h_ld = K + 3, c_ld = M + 5;
    fill(w, M * K, 1.0f);
    fill(h, N * h_ld, 1.0f);
    fill(c, N * c_ld, 1.0f);
    float *c0 = malloc(sizeof(float) * N * c_ld);
    memcpy(c0, c, sizeof(float) * N * c_ld);
    if (dot) {
        t->dot_step(w, K, h, h_ld, c, c_ld, N, M, K, acc);
    } else {
        t->pack(w, M, K, packed);
        t->recurrent_step(packed, h, h_ld, c, c_ld, N, M, K, acc, backwards);
    }
    for (n = 0; n < N; n++) {
        for (j = 0; j < c_ld; j++) {
            double want = c0[n * c_ld + j], scale = 1.0;
            if (j < M) {
                double s = acc ? c0[n * c_ld + j] : 0.0;
                for (k = 0; k < K; k++) {
                    s += (double)h[n * h_ld + k] * w[j * K + k];
                    scale += fabs((double)h[n * h_ld + k] * w[j * K + k]);
                }
                want = s;
            }
            /* relative to the sum of |terms|; columns past M are never written */
            double e = fabs(c[n * c_ld + j] - want) / scale;
            err = e > err ? e : err;
        }
    }
    free(w); free(h); free(c); free(c0); free(packed);
    return err;
}

/* row_step_ahead on an M x K w_hh and the panels [p0, p1) of an M x I w_ih
 * for `rows` rows: 1 when it all holds (see the file's comment), else 0;
 * *err: its projection against double sums. */
static int check_ahead(const fastrnn_isa *t, ptrdiff_t M, ptrdiff_t K, ptrdiff_t I,
                       ptrdiff_t rows, ptrdiff_t p0, ptrdiff_t p1, int backwards, double *err)
{
    const ptrdiff_t P = 2 * t->lanes, gx_ld = M + 3;
    float *w = alloc64(sizeof(float) * M * K), *wi = alloc64(sizeof(float) * M * I);
    float *packed = alloc64(sizeof(float) * t->packed_size(M, K));
    float *packed_ih = alloc64(sizeof(float) * t->packed_size(M, I));
    float *h = alloc64(sizeof(float) * K), *x = alloc64(sizeof(float) * 4 * I);
    float *c = alloc64(sizeof(float) * M), *c_ref = alloc64(sizeof(float) * M);
    float *gx = alloc64(sizeof(float) * 5 * gx_ld), *gx_ref = alloc64(sizeof(float) * 5 * gx_ld);
    ptrdiff_t r, j, k;
    int ok = 1;
    fill(w, M * K, 1.0f);
    fill(wi, M * I, 1.0f);
    fill(h, K, 1.0f);
    fill(x, 4 * I, 1.0f);
    for (j = 0; j < 5 * gx_ld; j++)
        gx[j] = gx_ref[j] = 1234.5f;  /* what must stay */
    t->pack(w, M, K, packed);
    t->pack(wi, M, I, packed_ih);
    float *xt = alloc64(sizeof(float) * 4 * I);
    fastrnn_ahead_rows(x, I, rows, I, xt);
    fastrnn_ahead a = {packed_ih, xt, gx, gx_ld, rows, M, I, p0, p1};
    t->row_step_ahead(packed, h, c, M, K, backwards, &a);
    t->recurrent_step(packed, h, K, c_ref, M, 1, M, K, 0, backwards);
    ok &= memcmp(c, c_ref, sizeof(float) * M) == 0;
    if (rows >= 2) {
        /* the row blocks' kernel on these rows, kept where the panels are */
        float *all = alloc64(sizeof(float) * rows * gx_ld);
        t->recurrent_step(packed_ih, x, I, all, gx_ld, rows, M, I, 0, 0);
        for (r = 0; r < rows; r++)
            for (j = p0 * P; j < p1 * P && j < M; j++)
                gx_ref[r * gx_ld + j] = all[r * gx_ld + j];
        free(all);
        ok &= memcmp(gx, gx_ref, sizeof(float) * 5 * gx_ld) == 0;
    }
    *err = 0;
    for (r = 0; r < 5; r++)
        for (j = 0; j < gx_ld; j++) {
            const int inside = r < rows && j >= p0 * P && j < p1 * P && j < M;
            double want = 1234.5, scale = 1.0;
            if (inside) {
                want = 0;
                for (k = 0; k < I; k++) {
                    want += (double)x[r * I + k] * wi[j * I + k];
                    scale += fabs((double)x[r * I + k] * wi[j * I + k]);
                }
            }
            *err = fmax(*err, fabs(gx[r * gx_ld + j] - want) / scale);
            ok &= inside || gx[r * gx_ld + j] == 1234.5f;
        }
    free(w); free(wi); free(packed); free(packed_ih); free(h); free(x); free(c); free(c_ref);
    free(gx); free(gx_ref); free(xt);
    return ok;
}

/* LSTM / GRU rows: the unfused cell after a reference product, and the
 * fused one-row step, against double math. */
static double lstm_ref(const float *gx, const double *gh, const float *b, float *c, float *h,
                       ptrdiff_t H)
{
    (void)h;
    ptrdiff_t j;
    for (j = 0; j < H; j++) {
        double i = sigmoid_ref(gx[j] + gh[j] + b[j]);
        double f = sigmoid_ref(gx[H + j] + gh[H + j] + b[H + j]);
        double g = tanh(gx[2 * H + j] + gh[2 * H + j] + b[2 * H + j]);
        double o = sigmoid_ref(gx[3 * H + j] + gh[3 * H + j] + b[3 * H + j]);
        double cj = f * c[j] + i * g;
        c[j] = (float)cj;
        h[j] = (float)(o * tanh(cj));
    }
    return 0;
}

static void check_rows(const fastrnn_isa *t, ptrdiff_t H)
{
    const ptrdiff_t G4 = 4 * H, G3 = 3 * H;
    float *w = alloc64(sizeof(float) * G4 * H), *packed = alloc64(sizeof(float) * t->packed_size(G4, H));
    float *hp = alloc64(sizeof(float) * H), *gx = alloc64(sizeof(float) * G4);
    float *b = alloc64(sizeof(float) * (G4 + H)), *gh = alloc64(sizeof(float) * G4);
    /* c1: the unfused cell's c, c2: c as it started, cr: the reference's */
    float *c1 = alloc64(sizeof(float) * H), *c2 = alloc64(sizeof(float) * H), *cr = alloc64(sizeof(float) * H);
    float *h1 = alloc64(sizeof(float) * H), *h2 = alloc64(sizeof(float) * H), *hr = alloc64(sizeof(float) * H);
    double *ghd = malloc(sizeof(double) * G4);
    double e_cell = 0, e_fused = 0;
    ptrdiff_t j, k;
    char what[64];
    fill(w, G4 * H, 0.3f);
    fill(hp, H, 1.0f);
    fill(gx, G4, 2.0f);
    fill(b, G4 + H, 0.5f);
    fill(c1, H, 1.0f);
    memcpy(c2, c1, sizeof(float) * H);
    memcpy(cr, c1, sizeof(float) * H);
    for (j = 0; j < G4; j++) {
        double s = 0;
        for (k = 0; k < H; k++)
            s += (double)hp[k] * w[j * H + k];
        ghd[j] = s;
        gh[j] = (float)s;
    }
    /* LSTM */
    lstm_ref(gx, ghd, b, cr, hr, H);
    t->lstm_cell(gx, gh, b, c1, h1, H);
    for (j = 0; j < H; j++) {
        e_cell = fmax(e_cell, fmax(fabs(c1[j] - cr[j]), fabs(h1[j] - hr[j])));
    }
    snprintf(what, sizeof what, "lstm cell H=%ld", (long)H);
    report(t->name, what, e_cell, 2e-6);
    if (H % t->fused_units == 0) {
        t->pack(w, G4, H, packed);
        for (int back = 0; back < 2; back++) {
            float *cc = alloc64(sizeof(float) * H);
            e_fused = 0;
            memcpy(cc, c2, sizeof(float) * H);   /* c as the reference started */
            t->lstm_step_row(packed, hp, gx, b, cc, h2, H, back);
            for (j = 0; j < H; j++)
                e_fused = fmax(e_fused, fmax(fabs(cc[j] - cr[j]), fabs(h2[j] - hr[j])));
            snprintf(what, sizeof what, "lstm fused row H=%ld %s", (long)H, back ? "backwards" : "forwards");
            report(t->name, what, e_fused, 1e-5);
            free(cc);
        }
    }
    /* GRU with linear_before_reset: b_r, b_z summed, b_in, then b_hn */
    e_cell = 0;
    for (j = 0; j < H; j++) {
        double r = sigmoid_ref(gx[j] + ghd[j] + b[j]);
        double z = sigmoid_ref(gx[H + j] + ghd[H + j] + b[H + j]);
        double n = tanh(gx[2 * H + j] + b[2 * H + j] + r * (ghd[2 * H + j] + b[G3 + j]));
        hr[j] = (float)(n + z * (hp[j] - n));
    }
    t->gru_cell(gx, gh, b, b + G3, hp, h1, H);
    for (j = 0; j < H; j++)
        e_cell = fmax(e_cell, fabs(h1[j] - hr[j]));
    snprintf(what, sizeof what, "gru cell H=%ld", (long)H);
    report(t->name, what, e_cell, 2e-6);
    if (H % t->fused_units == 0) {
        t->pack(w, G3, H, packed);
        for (int back = 0; back < 2; back++) {
            e_fused = 0;
            t->gru_step_row(packed, hp, gx, b, b + G3, h2, H, back);
            for (j = 0; j < H; j++)
                e_fused = fmax(e_fused, fabs(h2[j] - hr[j]));
            snprintf(what, sizeof what, "gru fused row H=%ld %s", (long)H, back ? "backwards" : "forwards");
            report(t->name, what, e_fused, 1e-5);
        }
    }
    free(w); free(packed); free(hp); free(gx); free(b); free(gh); free(c1); free(c2); free(cr);
    free(h1); free(h2); free(hr); free(ghd);
}

static void check_activations(const fastrnn_isa *t)
{
    enum { n = 2003 };
    static const char *names[4] = {"sigmoid", "tanh", "cell sigmoid", "cell tanh"};
    static const double tols[4] = {2e-7, 2e-7, 2.5e-7, 4.5e-7};
    float x[n], y[n];
    char what[64];
    int i, which;
    for (i = 0; i < n; i++)
        x[i] = (float)(-20.0 + 40.0 * i / (n - 1));
    for (which = 0; which < 4; which++) {
        double err = 0;
        t->activation_array(x, y, n, which);
        for (i = 0; i < n; i++)
            err = fmax(err, fabs(y[i] - (which % 2 ? tanh(x[i]) : sigmoid_ref(x[i]))));
        snprintf(what, sizeof what, "%s over [-20, 20]", names[which]);
        report(t->name, what, err, tols[which]);
    }
}

int main(void)
{
    const fastrnn_isa *tables[4];
    int count = fastrnn_isa_supported(tables, 4), i;
    static const ptrdiff_t rows[] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 13};
    static const ptrdiff_t widths[] = {1, 7, 8, 16, 17, 31, 33, 64, 100, 129};
    static const ptrdiff_t depths[] = {1, 2, 5, 64, 257, 300};
    static const ptrdiff_t hidden[] = {5, 8, 16, 32, 40, 48, 64, 96, 100, 128, 256};
    for (i = 0; i < count; i++) {
        const fastrnn_isa *t = tables[i];
        double worst = 0;
        size_t a, b, d;
        char what[64];
        for (a = 0; a < sizeof rows / sizeof *rows; a++)
            for (b = 0; b < sizeof widths / sizeof *widths; b++)
                for (d = 0; d < sizeof depths / sizeof *depths; d++)
                    for (int acc = 0; acc < 2; acc++)
                        for (int back = 0; back < 2; back++)
                            worst = fmax(worst, check_step(t, rows[a], widths[b], depths[d], acc, back, 0));
        snprintf(what, sizeof what, "packed step, %d shapes", (int)(4 * sizeof rows / sizeof *rows
                 * sizeof widths / sizeof *widths * sizeof depths / sizeof *depths));
        report(t->name, what, worst, 1e-6);
        worst = 0;
        for (a = 0; a < sizeof rows / sizeof *rows; a++)
            for (b = 0; b < sizeof widths / sizeof *widths; b++)
                for (d = 0; d < sizeof depths / sizeof *depths; d++)
                    for (int acc = 0; acc < 2; acc++)
                        worst = fmax(worst, check_step(t, rows[a], widths[b], depths[d], acc, 0, 1));
        snprintf(what, sizeof what, "one-step product on w as it is, %d shapes",
                 (int)(2 * sizeof rows / sizeof *rows * sizeof widths / sizeof *widths
                       * sizeof depths / sizeof *depths));
        report(t->name, what, worst, 1e-6);
        {
            /* (M, K, I): LSTM and GRU shapes, panels across M's edge, odd K */
            static const ptrdiff_t shapes[][3] = {{32, 8, 1}, {96, 24, 16}, {256, 64, 40},
                                                  {400, 100, 100}, {512, 128, 128},
                                                  {300, 100, 3}, {36, 9, 256}, {200, 51, 7}};
            int bad = 0, n = 0;
            worst = 0;
            for (a = 0; a < sizeof shapes / sizeof *shapes; a++) {
                const ptrdiff_t M = shapes[a][0], panels = t->packed_size(M, 1) / (2 * t->lanes);
                for (ptrdiff_t r = 1; r <= 4; r++)
                    for (ptrdiff_t part = 0; part < 4; part++)
                        for (int back = 0; back < 2; back++) {
                            double e;
                            bad += !check_ahead(t, M, shapes[a][1], shapes[a][2], r,
                                                part * panels / 4, (part + 1) * panels / 4,
                                                back, &e);
                            worst = fmax(worst, e);
                            n++;
                        }
            }
            snprintf(what, sizeof what, "row step with projection, %d cases", n);
            report(t->name, what, bad ? INFINITY : worst, 1e-6);
        }
        for (a = 0; a < sizeof hidden / sizeof *hidden; a++)
            check_rows(t, hidden[a]);
        check_activations(t);
    }
    printf("%d passed, %d failed\n", passed, failed);
    return failed != 0;
}
