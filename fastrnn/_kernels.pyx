"""Recurrent kernels: one call runs every time step of one layer, all directions.

The entry point `rnn_layer` takes typed memoryviews, checks nothing that the
Python layer (`fastrnn.rnn`) has not already checked, and does all its work in
one `with nogil:` block. Below it, the leaf functions take raw pointers and
sizes, never allocate and never raise.

Shapes are written as suffixes: `x__ri` is (rows, input), `w_hh__hh` is (H, H).
A "row" is one (time step, batch item) pair. In time-major layout the row of
(t, n) is t*N + n; in batch-major layout it is n*L + t. The input and output
buffers share that row order, so the input projection of every time step is a
single GEMM whatever the layout.
"""

from libc.math cimport tanh, tanhf, exp, expf, log1p, log1pf, fabs, fabsf, INFINITY
from libc.limits cimport INT_MAX
from libc.stdlib cimport free, malloc
from libc.string cimport memcpy, memset
from cython cimport floating

from fastrnn._blas cimport (
    CblasRowMajor, CblasNoTrans, CblasTrans,
    scipy_cblas_sgemm, scipy_cblas_dgemm, scipy_cblas_sgemv, scipy_cblas_dgemv,
    scipy_openblas_set_num_threads,
)

# The kernels call BLAS once per time step on small matrices, where OpenBLAS's
# own thread pool costs more than it gains (measured 2.4x slower at batch 1,
# H=128). This copy of OpenBLAS is fastrnn's alone: numpy and scipy bundle
# their own, so this setting does not reach them.
scipy_openblas_set_num_threads(1)

cdef extern from "_vmath.h" nogil:
    void fastrnn_bias_tanh_f32(float* row, const float* b_ih, const float* b_hh,
                               Py_ssize_t n) noexcept
    void fastrnn_bias_relu_f32(float* row, const float* b_ih, const float* b_hh,
                               Py_ssize_t n) noexcept
    void fastrnn_tanh_array_f32(const float* x, float* out, Py_ssize_t n) noexcept

cdef extern from "_recurrent.h" nogil:
    Py_ssize_t fastrnn_packed_size(Py_ssize_t H) noexcept
    void fastrnn_pack_whh(const float* w_hh, Py_ssize_t H, float* packed) noexcept
    void fastrnn_recurrent_step_f32(const float* packed, const float* h, Py_ssize_t h_ld,
                                    float* c, Py_ssize_t c_ld, Py_ssize_t N,
                                    Py_ssize_t H) noexcept

# Activation codes, in the order ONNX lists them. `fastrnn.rnn` and the ONNX
# backend map names to these numbers through ACTIVATIONS.
cdef enum Activation:
    ACT_RELU = 0
    ACT_TANH = 1
    ACT_SIGMOID = 2
    ACT_AFFINE = 3
    ACT_LEAKY_RELU = 4
    ACT_THRESHOLDED_RELU = 5
    ACT_SCALED_TANH = 6
    ACT_HARD_SIGMOID = 7
    ACT_ELU = 8
    ACT_SOFTSIGN = 9
    ACT_SOFTPLUS = 10

ACTIVATIONS = {
    "relu": ACT_RELU, "tanh": ACT_TANH, "sigmoid": ACT_SIGMOID,
    "affine": ACT_AFFINE, "leakyrelu": ACT_LEAKY_RELU,
    "thresholdedrelu": ACT_THRESHOLDED_RELU, "scaledtanh": ACT_SCALED_TANH,
    "hardsigmoid": ACT_HARD_SIGMOID, "elu": ACT_ELU, "softsign": ACT_SOFTSIGN,
    "softplus": ACT_SOFTPLUS,
}


# ---------------------------------------------------------------- scalar math
cdef inline floating _tanh(floating v) noexcept nogil:
    if floating is float:
        return tanhf(v)
    else:
        return tanh(v)


cdef inline floating _exp(floating v) noexcept nogil:
    if floating is float:
        return expf(v)
    else:
        return exp(v)


cdef inline floating _log1p(floating v) noexcept nogil:
    if floating is float:
        return log1pf(v)
    else:
        return log1p(v)


cdef inline floating _abs(floating v) noexcept nogil:
    if floating is float:
        return fabsf(v)
    else:
        return fabs(v)


cdef inline floating _activate(floating v, int act, floating alpha,
                               floating beta) noexcept nogil:
    # Comparisons are written so that NaN falls through unchanged, as in torch.
    if act == ACT_RELU:
        return 0 if v < 0 else v
    if act == ACT_TANH:
        return _tanh(v)
    if act == ACT_SIGMOID:
        return 1 / (1 + _exp(-v))
    if act == ACT_AFFINE:
        return alpha * v + beta
    if act == ACT_LEAKY_RELU:
        return alpha * v if v < 0 else v
    if act == ACT_THRESHOLDED_RELU:
        return v if v > alpha else 0
    if act == ACT_SCALED_TANH:
        return alpha * _tanh(beta * v)
    if act == ACT_HARD_SIGMOID:
        v = alpha * v + beta
        return 0 if v < 0 else (1 if v > 1 else v)
    if act == ACT_ELU:
        return alpha * (_exp(v) - 1) if v < 0 else v
    if act == ACT_SOFTSIGN:
        return v / (1 + _abs(v))
    if act == ACT_SOFTPLUS:
        # log(1 + exp(v)) without overflow for large v
        return v + _log1p(_exp(-v)) if v > 0 else _log1p(_exp(v))
    return v


# ---------------------------------------------------------------- leaf kernels
cdef void hidden_activation(floating* c__nh, Py_ssize_t n_rows,
                            Py_ssize_t row_stride, Py_ssize_t H,
                            const floating* b_ih__h, const floating* b_hh__h,
                            int act, floating alpha, floating beta,
                            floating clip) noexcept nogil:
    """c = act(clip(c + b_ih + b_hh)) in place, row by row (biases may be NULL)."""
    cdef Py_ssize_t n, j
    cdef floating* row
    cdef floating v
    cdef bint do_clip = clip < INFINITY
    if floating is float:
        # Fused, vectorised loops for the two activations torch's RNN has.
        if not do_clip and (act == ACT_TANH or act == ACT_RELU):
            for n in range(n_rows):
                if act == ACT_TANH:
                    fastrnn_bias_tanh_f32(c__nh + n * row_stride, b_ih__h, b_hh__h, H)
                else:
                    fastrnn_bias_relu_f32(c__nh + n * row_stride, b_ih__h, b_hh__h, H)
            return
    for n in range(n_rows):
        row = c__nh + n * row_stride
        if b_ih__h != NULL:
            for j in range(H):
                row[j] += b_ih__h[j] + b_hh__h[j]
        if do_clip:
            for j in range(H):
                v = row[j]
                row[j] = clip if v > clip else (-clip if v < -clip else v)
        # tanh and relu repeat _activate's branches as plain loops: the hot
        # path for float64 models and clipped float32 ones.
        if act == ACT_TANH:
            for j in range(H):
                row[j] = _tanh(row[j])
        elif act == ACT_RELU:
            for j in range(H):
                v = row[j]
                row[j] = 0 if v < 0 else v
        else:
            for j in range(H):
                row[j] = _activate(row[j], act, alpha, beta)


cdef void rnn_direction(
        const floating* x__ri, floating* out__ro, Py_ssize_t out_ld,
        const floating* w_ih__hi, const floating* w_hh__hh, const float* w_hh_packed,
        const floating* b_ih__h, const floating* b_hh__h, floating* state__nh,
        const int* seq_lens__n,
        Py_ssize_t L, Py_ssize_t N, Py_ssize_t I, Py_ssize_t H,
        bint batch_major, bint reverse,
        int act, floating alpha, floating beta, floating clip) noexcept nogil:
    """Run one direction of one layer over all L steps.

    out__ro points at this direction's first column of the output; each row
    is out_ld long. w_hh_packed (float32 only, may be NULL) is w_hh packed by
    fastrnn_pack_whh: the recurrent product then uses fastrnn's own step
    kernel instead of BLAS. state__nh holds h_{t-1} on entry (h0) and h_n on exit.
    With seq_lens__n, row n only runs while t < seq_lens__n[n]: its outputs are
    zero after that and its state stays as it was (ONNX/onnxruntime semantics,
    for both directions).
    """
    cdef Py_ssize_t step, t, n
    cdef Py_ssize_t step_rows_stride = out_ld if batch_major else N * out_ld
    cdef Py_ssize_t row_stride = L * out_ld if batch_major else out_ld
    cdef floating* c__nh = NULL
    # h_{t-1}: the state buffer at first; without lengths, the previous
    # step's output rows afterwards (no copy per step).
    cdef const floating* h_prev__nh = state__nh
    cdef Py_ssize_t h_prev_ld = H

    # Input projection of every time step at once.
    # out[:, :H] = x @ w_ih.T
    if floating is float:
        scipy_cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans,
                          <int>(L * N), <int>H, <int>I, 1.0, x__ri, <int>I,
                          w_ih__hi, <int>I, 0.0, out__ro, <int>out_ld)
    else:
        scipy_cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasTrans,
                          <int>(L * N), <int>H, <int>I, 1.0, x__ri, <int>I,
                          w_ih__hi, <int>I, 0.0, out__ro, <int>out_ld)

    for step in range(L):
        t = L - 1 - step if reverse else step
        c__nh = out__ro + t * step_rows_stride
        # Also at t=0 with a zero h0: torch does, and Inf/NaN in w_hh then
        # propagate at the same step as in torch.
        if floating is float and w_hh_packed != NULL:
            # c += h @ w_hh.T
            fastrnn_recurrent_step_f32(w_hh_packed, h_prev__nh, h_prev_ld, c__nh, row_stride,
                                       N, H)
        elif N == 1:
            # c[0] += w_hh @ h[0]
            if floating is float:
                scipy_cblas_sgemv(CblasRowMajor, CblasNoTrans, <int>H, <int>H,
                                  1.0, w_hh__hh, <int>H, h_prev__nh, 1,
                                  1.0, c__nh, 1)
            else:
                scipy_cblas_dgemv(CblasRowMajor, CblasNoTrans, <int>H, <int>H,
                                  1.0, w_hh__hh, <int>H, h_prev__nh, 1,
                                  1.0, c__nh, 1)
        else:
            # c += h @ w_hh.T
            if floating is float:
                scipy_cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans,
                                  <int>N, <int>H, <int>H, 1.0, h_prev__nh, <int>h_prev_ld,
                                  w_hh__hh, <int>H, 1.0, c__nh, <int>row_stride)
            else:
                scipy_cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasTrans,
                                  <int>N, <int>H, <int>H, 1.0, h_prev__nh, <int>h_prev_ld,
                                  w_hh__hh, <int>H, 1.0, c__nh, <int>row_stride)
        hidden_activation(c__nh, N, row_stride, H, b_ih__h, b_hh__h, act, alpha, beta, clip)
        if seq_lens__n == NULL:
            h_prev__nh = c__nh
            h_prev_ld = row_stride
            continue
        for n in range(N):
            if t < seq_lens__n[n]:
                # h[n] = c[n]
                memcpy(state__nh + n * H, c__nh + n * row_stride, H * sizeof(floating))
            else:
                memset(c__nh + n * row_stride, 0, H * sizeof(floating))
    if seq_lens__n == NULL:
        # h_n = the last step's output rows
        for n in range(N):
            memcpy(state__nh + n * H, c__nh + n * row_stride, H * sizeof(floating))


# ---------------------------------------------------------------- entry point
cpdef bint use_packed_step(Py_ssize_t L, Py_ssize_t N, Py_ssize_t H):
    """Whether "auto" runs a float32 layer on the packed step kernel.

    Measured by tools/bench_step.py (layer time, OpenBLAS / packed, L=200):
    1.0-3.8x for 4 <= N <= 16 with N*H <= 8192, 1.0-1.5x at H <= 64; at N*H above 8192
    OpenBLAS's large-GEMM kernels catch up (0.55-0.9x at N=64, H >= 512); at
    N = 2-3 and H = 256-512 OpenBLAS's small-M path is 2x faster. Packing
    costs one pass over w_hh per call, so short runs (L*N < 16) stay on BLAS.
    """
    return L * N >= 16 and (H <= 64 or (N >= 4 and N * H <= 8192))


cdef _check_layer_shapes(Py_ssize_t[8] x, Py_ssize_t[8] out, Py_ssize_t[8] w_ih,
                         Py_ssize_t[8] w_hh, b_ih, b_hh, h0, Py_ssize_t[8] hn,
                         const int[::1] lens, Py_ssize_t L, bint batch_major,
                         const int[::1] reverse, const int[::1] act,
                         const double[::1] alpha, const double[::1] beta):
    cdef Py_ssize_t D = w_ih[0], H = w_ih[1], I = w_ih[2], N = hn[1], n
    if L < 1 or D < 1 or H < 1 or I < 1:
        raise ValueError(f"rnn_layer: sizes must be positive, got L={L} D={D} H={H} I={I}")
    # In Python integers: a product of Py_ssize_t could wrap around.
    rows, stride = int(L) * int(N), (int(L) if batch_major else 1) * int(D) * int(H)
    if rows > INT_MAX or stride > INT_MAX or I > INT_MAX:
        raise ValueError("rnn_layer: sizes exceed BLAS's 32-bit integers")
    expect = [
        ("x", (x[0], x[1]), (L * N, I)),
        ("out", (out[0], out[1]), (L * N, D * H)),
        ("w_hh", (w_hh[0], w_hh[1], w_hh[2]), (D, H, H)),
        ("hn", (hn[0], hn[1], hn[2]), (D, N, H)),
    ]
    if b_ih is not None or b_hh is not None:
        if b_ih is None or b_hh is None:
            raise ValueError("rnn_layer: give both biases or neither")
        expect += [("b_ih", tuple(b_ih)[:2], (D, H)), ("b_hh", tuple(b_hh)[:2], (D, H))]
    if h0 is not None:
        expect.append(("h0", tuple(h0)[:3], (D, N, H)))
    for name, got, want in expect:
        if got != want:
            raise ValueError(f"rnn_layer: {name} must have shape {want}, got {got}")
    for name, arr in (("reverse", reverse), ("act", act), ("alpha", alpha), ("beta", beta)):
        if arr.shape[0] < D:
            raise ValueError(f"rnn_layer: {name} needs {D} entries, got {arr.shape[0]}")
    for n in range(D):
        if not 0 <= act[n] <= ACT_SOFTPLUS:
            raise ValueError(f"rnn_layer: unknown activation code {act[n]}")
    if lens is not None:
        if lens.shape[0] != N:
            raise ValueError(f"rnn_layer: seq_lens must have {N} entries, got {lens.shape[0]}")
        for n in range(N):
            if not 0 <= lens[n] <= L:
                raise ValueError(f"rnn_layer: seq_lens[{n}] = {lens[n]} is outside 0..{L}")


def rnn_layer(const floating[:, ::1] x__ri,
              floating[:, ::1] out__ro,
              const floating[:, :, ::1] w_ih__dhi,
              const floating[:, :, ::1] w_hh__dhh,
              const floating[:, ::1] b_ih__dh,
              const floating[:, ::1] b_hh__dh,
              const floating[:, :, ::1] h0__dnh,
              floating[:, :, ::1] hn__dnh,
              const int[::1] seq_lens__n,
              Py_ssize_t seq_len,
              bint batch_major,
              const int[::1] reverse__d,
              const int[::1] act__d,
              const double[::1] alpha__d,
              const double[::1] beta__d,
              double clip,
              recurrent="auto"):
    """Run one RNN layer, every direction, every step, without the GIL.

    x__ri: (L*N, I) input rows; out__ro: (L*N, D*H) output rows, direction d
    in columns d*H:(d+1)*H. The biases (both or neither), h0__dnh and
    seq_lens__n may be None. hn__dnh receives h_n. clip is applied to the
    pre-activation when finite.

    recurrent picks how float32 computes h @ w_hh.T each step: "packed"
    (fastrnn's step kernel on a copy of w_hh packed for this call), "blas"
    (OpenBLAS sgemm/sgemv), or "auto", which follows what was measured on an
    AVX-512 machine (L=200, one thread; see use_packed_step). float64 always
    uses BLAS.

    The Python layers check their inputs with messages in their own terms;
    the shape checks here are the last line that keeps a wrong call from
    reading or writing out of bounds.
    """
    cdef Py_ssize_t D = w_ih__dhi.shape[0]
    cdef Py_ssize_t H = w_ih__dhi.shape[1]
    cdef Py_ssize_t I = w_ih__dhi.shape[2]
    cdef Py_ssize_t L = seq_len
    cdef Py_ssize_t N = hn__dnh.shape[1]
    cdef Py_ssize_t out_ld = out__ro.shape[1]
    cdef Py_ssize_t d
    cdef bint has_bias = b_ih__dh is not None
    cdef bint has_h0 = h0__dnh is not None
    cdef const int* lens = NULL
    cdef const floating* b_ih = NULL
    cdef const floating* b_hh = NULL
    _check_layer_shapes(x__ri.shape, out__ro.shape, w_ih__dhi.shape, w_hh__dhh.shape,
                        None if b_ih__dh is None else b_ih__dh.shape,
                        None if b_hh__dh is None else b_hh__dh.shape,
                        None if h0__dnh is None else h0__dnh.shape, hn__dnh.shape,
                        seq_lens__n, L, batch_major, reverse__d, act__d, alpha__d, beta__d)
    if recurrent not in ("auto", "packed", "blas"):
        raise ValueError(f"rnn_layer: recurrent must be 'auto', 'packed' or 'blas', "
                         f"got {recurrent!r}")
    if N == 0:
        return
    cdef bint use_packed = False
    if floating is float:
        use_packed = recurrent == "packed" or (recurrent == "auto" and use_packed_step(L, N, H))
    cdef float* packed = NULL
    if seq_lens__n is not None:
        lens = &seq_lens__n[0]
    with nogil:
        for d in range(D):
            if use_packed:
                # Freed below; if malloc fails this direction runs on BLAS.
                packed = <float*>malloc(fastrnn_packed_size(H) * sizeof(float))
                if packed != NULL:
                    fastrnn_pack_whh(<const float*>&w_hh__dhh[d, 0, 0], H, packed)
            if has_h0:
                memcpy(&hn__dnh[d, 0, 0], &h0__dnh[d, 0, 0], N * H * sizeof(floating))
            else:
                memset(&hn__dnh[d, 0, 0], 0, N * H * sizeof(floating))
            if has_bias:
                b_ih = &b_ih__dh[d, 0]
                b_hh = &b_hh__dh[d, 0]
            rnn_direction(&x__ri[0, 0], &out__ro[0, d * H], out_ld,
                          &w_ih__dhi[d, 0, 0], &w_hh__dhh[d, 0, 0], packed, b_ih, b_hh,
                          &hn__dnh[d, 0, 0], lens,
                          L, N, I, H, batch_major, reverse__d[d] != 0,
                          act__d[d], <floating>alpha__d[d], <floating>beta__d[d],
                          <floating>clip)
            free(packed)
            packed = NULL


def tanh_f32(const float[::1] x, float[::1] out):
    """out = tanh(x) with the kernels' float32 tanh (exposed for its tests)."""
    if x.shape[0] != out.shape[0]:
        raise ValueError(f"x and out must have the same length, got {x.shape[0]} and {out.shape[0]}")
    if x.shape[0]:
        with nogil:
            fastrnn_tanh_array_f32(&x[0], &out[0], x.shape[0])
