/* float32 matrix products on AMX (Intel's Advanced Matrix Extensions),
 * at float32 accuracy:
 *
 *     c[n, :M] (+)= a[n, :K] @ w.T          for n < N, w (M, K)
 *
 * AMX multiplies bfloat16 tiles (8-bit significands) into float32 sums, at
 * 1400 G multiply-adds/s on one core of this machine against ~75 G for
 * float32 on the AVX-512 units. A float32 value is the exact sum of three
 * bfloat16s, x = hi + mid + lo (each the top 16 bits of what is left:
 * truncation leaves no rounding), so
 *
 *     a w = ah wh + ah wm + am wh + ah wl + al wh + am wm + (terms below 2^-21 a w)
 *
 * and six tile products give the float32 product to within what float32
 * summation itself loses (measured: largest error against a float64 sum
 * 5.4e-7 at K = 512, OpenBLAS's sgemm 7.1e-7). Six products at 1/20 the
 * cost each: ~230-300 GFLOP/s measured here against 110-160 for OpenBLAS's
 * sgemm and fastrnn's packed float32 step kernel (tools/perf_notes.md).
 *
 * Layouts. w is packed once per call (fastrnn_amx_pack) into tiles of 16
 * output columns x 32 k, three per (column block, k block): hi, mid, lo,
 * each 16 rows of 64 bytes, row r holding the pairs (k = 2r, 2r + 1) of the
 * 16 columns (the VNNI layout TDPBF16PS reads). a is split per product
 * (fastrnn_amx_split) into three row-major bfloat16 matrices. Columns pad
 * to 32, k to 32 and rows to 32 with zeros. Every sum takes its six
 * products in one order, w hi times a hi, mid, lo, w mid times a hi, mid,
 * w lo times a hi, whichever kernel computes it (32-row blocks, or the last
 * <= 16 rows): a row's results never depend on the other rows.
 *
 * A value that is not finite has no such split (Inf - Inf is NaN): the
 * split and the packing report it and the caller falls back to float32.
 * AMX flushes subnormal inputs and results to zero; below 2^-126 that is an
 * error far inside float32's bound relative to a result's scale.
 *
 * Linux grants AMX's 8 KB of tile state to a process on request
 * (arch_prctl ARCH_REQ_XCOMP_PERM); fastrnn_amx_init asks once. Every
 * product loads its tile configuration and releases the tiles at its end,
 * so a thread holds no tile state between products.
 */
#ifndef FASTRNN_AMX_H
#define FASTRNN_AMX_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#define FASTRNN_AMX_BLOCK 32   /* rows, columns and k pad to this */
#define FASTRNN_AMX_CHUNK 256  /* rows split at once (their split stays in L2) */

static inline ptrdiff_t fastrnn_amx_pad(ptrdiff_t n)
{
    return (n + FASTRNN_AMX_BLOCK - 1) / FASTRNN_AMX_BLOCK * FASTRNN_AMX_BLOCK;
}

/* uint16 elements of w (M, K) packed by fastrnn_amx_pack. */
static inline ptrdiff_t fastrnn_amx_packed_size(ptrdiff_t M, ptrdiff_t K)
{
    return fastrnn_amx_pad(M) * fastrnn_amx_pad(K) * 3;
}

/* uint16 elements from one row of a split to the next: 64 bytes more than
 * the row, so that a tile's 16 rows do not fall into the same few L1 sets
 * (at K = 512 rows 1 KB apart used 4 of its 64 sets; loading a's tiles
 * measured up to 14% of a product). */
static inline ptrdiff_t fastrnn_amx_row(ptrdiff_t K)
{
    return fastrnn_amx_pad(K) + 32;
}

/* uint16 elements of the split of up to `rows` rows of K (scratch). */
static inline ptrdiff_t fastrnn_amx_split_size(ptrdiff_t rows, ptrdiff_t K)
{
    return fastrnn_amx_pad(rows) * fastrnn_amx_row(K) * 3;
}

#if defined(__x86_64__) && defined(__GNUC__) && defined(__linux__) \
    && (defined(__clang__) || __GNUC__ >= 11)
#define FASTRNN_HAVE_AMX 1
#include <cpuid.h>
#include <immintrin.h>
#include <sys/syscall.h>
#include <unistd.h>

#define FASTRNN_AMX_TARGET __attribute__((target("avx512f,avx512bw,amx-tile,amx-bf16")))

/* 1 if this CPU and OS run AMX bfloat16 tiles here (asks Linux for the
 * tile state once per process), else 0. */
static int fastrnn_amx_init(void)
{
    unsigned a, b, c, d;
    unsigned long long xcr0;
    if (!__get_cpuid_count(7, 0, &a, &b, &c, &d))
        return 0;
    /* AVX512F, AVX512BW; AMX-BF16, AMX-TILE */
    if (!(b & (1u << 16)) || !(b & (1u << 30)) || !(d & (1u << 22)) || !(d & (1u << 24)))
        return 0;
    if (!__get_cpuid_count(1, 0, &a, &b, &c, &d) || !(c & (1u << 27)))  /* OSXSAVE */
        return 0;
    {
        unsigned lo, hi;
        __asm__ volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
        xcr0 = ((unsigned long long)hi << 32) | lo;
    }
    /* SSE, AVX, opmask, ZMM state; XTILECFG, XTILEDATA */
    if ((xcr0 & 0x600e6ull) != 0x600e6ull)
        return 0;
    /* palette 1: 8 tiles of 16 rows x 64 bytes */
    if (!__get_cpuid_count(0x1d, 0, &a, &b, &c, &d) || a < 1)
        return 0;
    if (!__get_cpuid_count(0x1d, 1, &a, &b, &c, &d))
        return 0;
    if ((b >> 16) < 8 || (c & 0xffff) < 16 || (b & 0xffff) < 64)
        return 0;
    /* ARCH_REQ_XCOMP_PERM for XFEATURE_XTILEDATA */
    if (syscall(SYS_arch_prctl, 0x1023, 18) != 0)
        return 0;
    return 1;
}

typedef struct {
    uint8_t palette, start_row, reserved[14];
    uint16_t colsb[16];
    uint8_t rows[16];
} fastrnn_amx_config;

/* Tiles 0-7 of 16 rows x 64 bytes; with rows < 16, tiles 0-6 (the
 * accumulators and a's parts in fastrnn_amx_rows16) of that many rows, so
 * that loads and stores of a last block of rows touch only those rows. */
static inline __attribute__((always_inline)) FASTRNN_AMX_TARGET void
fastrnn_amx_configure(int rows)
{
    fastrnn_amx_config cfg;
    int i;
    memset(&cfg, 0, sizeof cfg);
    cfg.palette = 1;
    for (i = 0; i < 8; i++) {
        cfg.rows[i] = (uint8_t)(i < 7 ? rows : 16);
        cfg.colsb[i] = 64;
    }
    /* GCC 12's _tile_loadconfig tells the compiler it reads 8 bytes of the
     * 64: without this barrier the stores above can be dropped as dead
     * (seen in a harness: rows and colsb never written, tiles unconfigured,
     * SIGILL / SIGSEGV at the first tile instruction). */
    __asm__ __volatile__("" : : "m"(cfg) : "memory");
    _tile_loadconfig(&cfg);
}

/* The three parts of 16 floats as bit patterns (top 16 bits each);
 * *bad gets the lanes that are not finite. */
static inline __attribute__((always_inline)) FASTRNN_AMX_TARGET void
fastrnn_amx_parts(__m512 x, __m512i *hi, __m512i *mid, __m512i *lo, __mmask16 *bad)
{
    const __m512i top = _mm512_set1_epi32((int)0xffff0000u);
    const __m512i expo = _mm512_set1_epi32(0x7f800000);
    __m512i u = _mm512_castps_si512(x);
    __m512i h = _mm512_and_si512(u, top);
    __m512 r1 = _mm512_sub_ps(x, _mm512_castsi512_ps(h));
    __m512i m = _mm512_and_si512(_mm512_castps_si512(r1), top);
    __m512 r2 = _mm512_sub_ps(r1, _mm512_castsi512_ps(m));
    *bad |= _mm512_cmpeq_epi32_mask(_mm512_and_si512(u, expo), expo);
    *hi = h;
    *mid = m;
    *lo = _mm512_castps_si512(r2);
}

/* The top halves of 32 floats' bit patterns (a's lanes, then b's). */
static inline __attribute__((always_inline)) FASTRNN_AMX_TARGET __m512i
fastrnn_amx_tops(__m512i a, __m512i b)
{
    const __m512i odd = _mm512_set_epi16(63, 61, 59, 57, 55, 53, 51, 49, 47, 45, 43, 41, 39,
                                         37, 35, 33, 31, 29, 27, 25, 23, 21, 19, 17, 15, 13,
                                         11, 9, 7, 5, 3, 1);
    return _mm512_permutex2var_epi16(a, odd, b);
}

/* Split rows n < N of a (K floats each, a_ld apart) into out: three
 * row-major bfloat16 matrices of fastrnn_amx_pad(N) rows x fastrnn_amx_pad(K),
 * rows fastrnn_amx_row(K) apart, hi, mid, lo; padding zero. Returns N, or the index of the first row
 * holding a value that is not finite (it stops there: out is then
 * incomplete, and a split of that many rows has another layout). */
FASTRNN_AMX_TARGET
static ptrdiff_t fastrnn_amx_split(const float *a, ptrdiff_t a_ld, ptrdiff_t N, ptrdiff_t K,
                                   uint16_t *out)
{
    const ptrdiff_t Np = fastrnn_amx_pad(N), Kp = fastrnn_amx_pad(K), S = fastrnn_amx_row(K);
    const ptrdiff_t part = Np * S;
    __mmask16 bad = 0;
    ptrdiff_t n, k;
    for (n = 0; n < N; n++) {
        const float *row = a + n * a_ld;
        uint16_t *o = out + n * S;
        for (k = 0; k < Kp; k += 32) {
            const ptrdiff_t left = K - k;
            const __mmask16 m0 = left >= 16 ? 0xffff : left > 0 ? (__mmask16)((1u << left) - 1) : 0;
            const __mmask16 m1 = left >= 32 ? 0xffff
                                 : left > 16 ? (__mmask16)((1u << (left - 16)) - 1) : 0;
            __m512i h0, h1, mi0, mi1, l0, l1;
            fastrnn_amx_parts(_mm512_maskz_loadu_ps(m0, row + k), &h0, &mi0, &l0, &bad);
            fastrnn_amx_parts(_mm512_maskz_loadu_ps(m1, row + k + 16), &h1, &mi1, &l1, &bad);
            _mm512_storeu_si512((void *)(o + k), fastrnn_amx_tops(h0, h1));
            _mm512_storeu_si512((void *)(o + part + k), fastrnn_amx_tops(mi0, mi1));
            _mm512_storeu_si512((void *)(o + 2 * part + k), fastrnn_amx_tops(l0, l1));
        }
        if (bad)
            return n;
    }
    for (n = N; n < Np; n++) {
        memset(out + n * S, 0, S * sizeof(uint16_t));
        memset(out + part + n * S, 0, S * sizeof(uint16_t));
        memset(out + 2 * part + n * S, 0, S * sizeof(uint16_t));
    }
    return N;
}

/* Pack w (M, K), rows K apart, for fastrnn_amx_product (see the layouts
 * above). Returns 0, or 1 if a weight was not finite. */
FASTRNN_AMX_TARGET
static int fastrnn_amx_pack(const float *w, ptrdiff_t M, ptrdiff_t K, uint16_t *out)
{
    const ptrdiff_t Mp = fastrnn_amx_pad(M), Kp = fastrnn_amx_pad(K);
    const ptrdiff_t KB = Kp / 32;
    __mmask16 bad = 0;
    ptrdiff_t nb, kb, r;
    int j;
    int32_t offs[16];
    /* lane j: column j / 2 of the 8 a gather covers, k + j % 2 */
    for (j = 0; j < 16; j++)
        offs[j] = (int32_t)((j / 2) * K + j % 2);
    const __m512i idx = _mm512_loadu_si512((const void *)offs);
    for (nb = 0; nb < Mp / 16; nb++) {
        const ptrdiff_t cols = M - nb * 16;  /* columns of this block that exist */
        __mmask16 c0 = 0, c1 = 0;
        for (j = 0; j < 16; j++) {
            if (j / 2 < cols)
                c0 |= (__mmask16)(1u << j);
            if (8 + j / 2 < cols)
                c1 |= (__mmask16)(1u << j);
        }
        for (kb = 0; kb < KB; kb++) {
            uint16_t *t = out + (nb * KB + kb) * 3 * 512;
            for (r = 0; r < 16; r++) {
                const ptrdiff_t k = kb * 32 + 2 * r;
                /* k + 1 may be past K (K odd): those lanes stay zero */
                const __mmask16 kk = k + 1 < K ? 0xffff : k < K ? 0x5555 : 0;
                const float *base = w + nb * 16 * K + k;
                __m512 v0 = _mm512_mask_i32gather_ps(_mm512_setzero_ps(), c0 & kk, idx, base, 4);
                __m512 v1 = (c1 & kk) ? _mm512_mask_i32gather_ps(_mm512_setzero_ps(), c1 & kk,
                                                                 idx, base + 8 * K, 4)
                                      : _mm512_setzero_ps();
                __m512i h0, h1, mi0, mi1, l0, l1;
                fastrnn_amx_parts(v0, &h0, &mi0, &l0, &bad);
                fastrnn_amx_parts(v1, &h1, &mi1, &l1, &bad);
                _mm512_storeu_si512((void *)(t + r * 32), fastrnn_amx_tops(h0, h1));
                _mm512_storeu_si512((void *)(t + 512 + r * 32), fastrnn_amx_tops(mi0, mi1));
                _mm512_storeu_si512((void *)(t + 1024 + r * 32), fastrnn_amx_tops(l0, l1));
            }
        }
    }
    return bad != 0;
}

/* The last rows of a product, when at most 16 are left: 16 rows x 64
 * columns at a time (32 in a last group of 32), four accumulators, the three
 * parts of a held in tiles 4-6 and w's tiles loaded one at a time into tile
 * 7, each used by every product it takes part in. Every sum takes its six
 * products in the order of the 32-row blocks (w hi times a hi, mid, lo; w
 * mid times a hi, mid; w lo times a hi), so a row's results do not depend
 * on the block it falls in. Columns from j0, `width` of them in the packed
 * layout (64 or 32), `cols` of them real; c's rows c_ld apart. With
 * rows < 16 the tiles are configured for that many rows (see
 * fastrnn_amx_configure). */
static inline __attribute__((always_inline)) FASTRNN_AMX_TARGET void
fastrnn_amx_rows16(const uint16_t *an, ptrdiff_t Kp, ptrdiff_t S, ptrdiff_t part, const uint16_t *w,
                   ptrdiff_t j0, ptrdiff_t width, ptrdiff_t cols, ptrdiff_t rows, float *c,
                   ptrdiff_t c_ld, int accumulate)
{
    const ptrdiff_t KB = Kp / 32, a_stride = S * 2;
    const uint16_t *w0 = w + (j0 / 16) * KB * 1536;
    float edge[16 * 64] __attribute__((aligned(64)));
    float *cc = c + j0;
    ptrdiff_t ld = c_ld, kb, n;
    if (cols < width) {
        memset(edge, 0, sizeof edge);
        if (accumulate)
            for (n = 0; n < rows; n++)
                memcpy(edge + 64 * n, cc + n * c_ld, cols * sizeof(float));
        cc = edge;
        ld = 64;
    }
    if (accumulate || cc == edge) {
        _tile_loadd(0, cc, ld * 4);
        _tile_loadd(1, cc + 16, ld * 4);
        if (width == 64) {
            _tile_loadd(2, cc + 32, ld * 4);
            _tile_loadd(3, cc + 48, ld * 4);
        }
    } else {
        _tile_zero(0);
        _tile_zero(1);
        _tile_zero(2);
        _tile_zero(3);
    }
    for (kb = 0; kb < KB; kb++) {
        const uint16_t *ak = an + kb * 32;
        _tile_loadd(4, ak, a_stride);
        _tile_loadd(5, ak + part, a_stride);
        _tile_loadd(6, ak + 2 * part, a_stride);
#define FASTRNN_AMX_COLUMN(J)                                                              \
    {                                                                                      \
        const uint16_t *x = w0 + (J) * KB * 1536 + kb * 1536;                              \
        _tile_loadd(7, x, 64);                                                             \
        _tile_dpbf16ps(J, 4, 7);                                                           \
        _tile_dpbf16ps(J, 5, 7);                                                           \
        _tile_dpbf16ps(J, 6, 7);                                                           \
        _tile_loadd(7, x + 512, 64);                                                       \
        _tile_dpbf16ps(J, 4, 7);                                                           \
        _tile_dpbf16ps(J, 5, 7);                                                           \
        _tile_loadd(7, x + 1024, 64);                                                      \
        _tile_dpbf16ps(J, 4, 7);                                                           \
    }
        FASTRNN_AMX_COLUMN(0)
        FASTRNN_AMX_COLUMN(1)
        if (width == 64) {
            FASTRNN_AMX_COLUMN(2)
            FASTRNN_AMX_COLUMN(3)
        }
#undef FASTRNN_AMX_COLUMN
    }
    _tile_stored(0, cc, ld * 4);
    _tile_stored(1, cc + 16, ld * 4);
    if (width == 64) {
        _tile_stored(2, cc + 32, ld * 4);
        _tile_stored(3, cc + 48, ld * 4);
    }
    if (cc == edge)
        for (n = 0; n < rows; n++)
            memcpy(c + n * c_ld + j0, edge + 64 * n, cols * sizeof(float));
}

/* One 32 x 32 block of c: four accumulator tiles, two tiles of a and two of
 * w, each kind of product issued to the four accumulators in turn, in the
 * order of fastrnn_amx_rows16. Rows n0.. of the split, columns j0..;
 * `cols` of the 32 real (fewer: through a scratch block). */
static inline __attribute__((always_inline)) FASTRNN_AMX_TARGET void
fastrnn_amx_block32(const uint16_t *an, ptrdiff_t Kp, ptrdiff_t S, ptrdiff_t part,
                    const uint16_t *w, ptrdiff_t j0, ptrdiff_t cols, float *c, ptrdiff_t c_ld,
                    int accumulate)
{
    const ptrdiff_t KB = Kp / 32, a_stride = S * 2;
    const uint16_t *w0 = w + (j0 / 16) * KB * 1536, *w1 = w0 + KB * 1536;
    float edge[32 * 32] __attribute__((aligned(64)));
    float *cc = c + j0;
    ptrdiff_t ld = c_ld, kb, n;
    if (cols < 32) {
        memset(edge, 0, sizeof edge);
        if (accumulate)
            for (n = 0; n < 32; n++)
                memcpy(edge + 32 * n, cc + n * c_ld, cols * sizeof(float));
        cc = edge;
        ld = 32;
    }
    if (accumulate || cc == edge) {
        _tile_loadd(0, cc, ld * 4);
        _tile_loadd(1, cc + 16, ld * 4);
        _tile_loadd(2, cc + 16 * ld, ld * 4);
        _tile_loadd(3, cc + 16 * ld + 16, ld * 4);
    } else {
        _tile_zero(0);
        _tile_zero(1);
        _tile_zero(2);
        _tile_zero(3);
    }
    for (kb = 0; kb < KB; kb++) {
        const uint16_t *ak = an + kb * 32, *x0 = w0 + kb * 1536, *x1 = w1 + kb * 1536;
#define FASTRNN_AMX_FOUR                                                                   \
    _tile_dpbf16ps(0, 4, 6);                                                               \
    _tile_dpbf16ps(1, 4, 7);                                                               \
    _tile_dpbf16ps(2, 5, 6);                                                               \
    _tile_dpbf16ps(3, 5, 7);
#define FASTRNN_AMX_A(P)                                                                   \
    _tile_loadd(4, ak + (P) * part, a_stride);                                             \
    _tile_loadd(5, ak + (P) * part + 16 * S, a_stride);
        /* w hi times a hi, mid, lo */
        _tile_loadd(6, x0, 64);
        _tile_loadd(7, x1, 64);
        FASTRNN_AMX_A(0)
        FASTRNN_AMX_FOUR
        FASTRNN_AMX_A(1)
        FASTRNN_AMX_FOUR
        FASTRNN_AMX_A(2)
        FASTRNN_AMX_FOUR
        /* w mid times a hi, mid */
        _tile_loadd(6, x0 + 512, 64);
        _tile_loadd(7, x1 + 512, 64);
        FASTRNN_AMX_A(0)
        FASTRNN_AMX_FOUR
        FASTRNN_AMX_A(1)
        FASTRNN_AMX_FOUR
        /* w lo times a hi */
        _tile_loadd(6, x0 + 1024, 64);
        _tile_loadd(7, x1 + 1024, 64);
        FASTRNN_AMX_A(0)
        FASTRNN_AMX_FOUR
#undef FASTRNN_AMX_A
#undef FASTRNN_AMX_FOUR
    }
    _tile_stored(0, cc, ld * 4);
    _tile_stored(1, cc + 16, ld * 4);
    _tile_stored(2, cc + 16 * ld, ld * 4);
    _tile_stored(3, cc + 16 * ld + 16, ld * 4);
    if (cc == edge)
        for (n = 0; n < 32; n++)
            memcpy(c + n * c_ld + j0, edge + 32 * n, cols * sizeof(float));
}

/* c[n, :M] (+)= a[n] @ w.T for n < N, on a split by fastrnn_amx_split
 * (for these N rows) and w packed by fastrnn_amx_pack. One pass over w, in
 * groups of 64 columns: for each, the 32-row blocks (fastrnn_amx_block32),
 * then the rows left, 16 at a time and the last N % 16 on tiles configured
 * for that many rows (fastrnn_amx_rows16). One pass, so that w is read
 * from memory once per product however the rows divide (a pass per kind
 * of block measured 1.2-1.8x slower in the layer). `backwards` takes the
 * groups last to first (a recurrent product does on odd steps: the end of
 * w read last is then still in L2 when the next step starts, where a
 * cyclic sweep over w larger than L2 would find nothing there); the
 * results do not change. */
FASTRNN_AMX_TARGET
static void fastrnn_amx_product(const uint16_t *a, ptrdiff_t N, ptrdiff_t K,
                                const uint16_t *w, ptrdiff_t M, float *c, ptrdiff_t c_ld,
                                int accumulate, int backwards)
{
    const ptrdiff_t Np = fastrnn_amx_pad(N), Kp = fastrnn_amx_pad(K), Mp = fastrnn_amx_pad(M);
    const ptrdiff_t S = fastrnn_amx_row(K), part = Np * S;
    const ptrdiff_t N32 = N / 32 * 32, groups = (Mp + 63) / 64;
    ptrdiff_t q, j0, j, n0, r0, block, width, cols;
    int configured = 16;
    fastrnn_amx_configure(16);
    for (q = 0; q < groups; q++) {
        j0 = 64 * (backwards ? groups - 1 - q : q);
        width = Mp - j0 < 64 ? Mp - j0 : 64;
        if (N32 > 0 && configured != 16) {
            fastrnn_amx_configure(16);
            configured = 16;
        }
        for (j = j0; j < j0 + width; j += 32)
            for (n0 = 0; n0 < N32; n0 += 32)
                fastrnn_amx_block32(a + n0 * S, Kp, S, part, w, j,
                                    M - j < 32 ? M - j : 32, c + n0 * c_ld, c_ld, accumulate);
        cols = M - j0 < width ? M - j0 : width;
        for (r0 = N32; r0 < N; r0 += block) {
            block = N - r0 < 16 ? N - r0 : 16;
            if (block != configured) {
                fastrnn_amx_configure((int)block);
                configured = (int)block;
            }
            fastrnn_amx_rows16(a + r0 * S, Kp, S, part, w, j0, width, cols, block,
                               c + r0 * c_ld, c_ld, accumulate);
        }
    }
    _tile_release();
}

#else /* no AMX here */
#define FASTRNN_HAVE_AMX 0
static int fastrnn_amx_init(void) { return 0; }
static ptrdiff_t fastrnn_amx_split(const float *a, ptrdiff_t a_ld, ptrdiff_t N, ptrdiff_t K,
                                   uint16_t *out)
{
    (void)a, (void)a_ld, (void)N, (void)K, (void)out;
    return 0;
}
static int fastrnn_amx_pack(const float *w, ptrdiff_t M, ptrdiff_t K, uint16_t *out)
{
    (void)w, (void)M, (void)K, (void)out;
    return 1;
}
static void fastrnn_amx_product(const uint16_t *a, ptrdiff_t N, ptrdiff_t K,
                                const uint16_t *w, ptrdiff_t M, float *c, ptrdiff_t c_ld,
                                int accumulate, int backwards)
{
    (void)a, (void)N, (void)K, (void)w, (void)M, (void)c, (void)c_ld, (void)accumulate;
    (void)backwards;
}
#endif

/* 1 if the n floats at w are all finite, else 0 (a split layer asks this
 * of a whole matrix, so that its threads all pack it or none does). */
static int fastrnn_amx_finite(const float *w, ptrdiff_t n)
{
    uint32_t u, all = 0;
    ptrdiff_t i;
    for (i = 0; i < n; i++) {
        memcpy(&u, w + i, sizeof u);
        all |= (u & 0x7f800000u) == 0x7f800000u;
    }
    return all == 0;
}

/* c[n, :M] (+)= a[n, :K] @ w.T for n < N (a's rows a_ld apart), in chunks
 * of FASTRNN_AMX_CHUNK rows through `scratch` (fastrnn_amx_split_size(
 * min(N, FASTRNN_AMX_CHUNK), K) elements). Returns the rows done: N, or
 * the index of the first row holding a value that is not finite (the
 * caller does that row in float32, then calls again for the rows after
 * it). Row exact, so that a row's bits never depend on the other rows
 * (their values, how many there are: lengths, batch). backwards: see
 * fastrnn_amx_product. */
static ptrdiff_t fastrnn_amx_matmul(const float *a, ptrdiff_t a_ld, ptrdiff_t N, ptrdiff_t K,
                                    const uint16_t *w, ptrdiff_t M, float *c, ptrdiff_t c_ld,
                                    int accumulate, uint16_t *scratch, int backwards)
{
    ptrdiff_t n0, rows, good;
    for (n0 = 0; n0 < N; n0 += FASTRNN_AMX_CHUNK) {
        rows = N - n0 < FASTRNN_AMX_CHUNK ? N - n0 : FASTRNN_AMX_CHUNK;
        good = fastrnn_amx_split(a + n0 * a_ld, a_ld, rows, K, scratch);
        if (good < rows) {
            /* the rows before the first one not finite, split again in their own layout */
            if (good > 0 && fastrnn_amx_split(a + n0 * a_ld, a_ld, good, K, scratch) == good)
                fastrnn_amx_product(scratch, good, K, w, M, c + n0 * c_ld, c_ld, accumulate,
                                    backwards);
            return n0 + good;
        }
        fastrnn_amx_product(scratch, rows, K, w, M, c + n0 * c_ld, c_ld, accumulate,
                            backwards);
    }
    return N;
}

#endif
