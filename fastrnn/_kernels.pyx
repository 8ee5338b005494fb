"""Recurrent kernels: one call runs every time step of one layer, all directions.

Ways in, one core. `Layer` checks a layer's weights and settings once, when
the model is built; a model holds its layers in a `Stack`, whose `run` and
`forward` check only what a call brings, allocate the results and run the
layers in turn (`Layer.run` runs one layer on buffers the caller gives). The
entry points `rnn_layer`, `lstm_layer` and `gru_layer` (the ONNX backend's,
the tests') take typed memoryviews and check every shape on every call. All
fill a `Spec` (the layer) and a `Call` (its buffers) and run `run_layer`: one
scratch block per call (kept for the next, see _scratch.h), then every
direction in one `with nogil:` block (the
two directions of a bidirectional layer on two threads, or a unidirectional
layer's hidden units split between threads, when it pays). Below it, the leaf
functions take raw pointers and sizes, never allocate and never raise. A
float32 product runs on OpenBLAS, on fastrnn's packed step kernel
(_recurrent.h) or, on CPUs with AMX tiles, on those (_amx.h), as measured.

Shapes are written as suffixes: `x__ri` is (rows, input), `w_hh__hh` is (H, H),
`g` is the gate rows G*H (4H for LSTM, 3H for GRU) and `p` the LSTM's
projected size (H without projection).
A "row" is one (time step, batch item) pair. In time-major layout the row of
(t, n) is t*N + n; in batch-major layout it is n*L + t. The input and output
buffers share that row order, so the input projection of every time step is a
single GEMM whatever the layout.
"""

from libc.math cimport tanh, tanhf, exp, expf, log1p, log1pf, fabs, fabsf, INFINITY
from libc.limits cimport INT_MAX
from libc.stdlib cimport free, malloc
from libc.string cimport memcpy, memmove, memset
from cython cimport floating
from cpython.buffer cimport (PyObject_GetBuffer, PyBuffer_Release, PyBuffer_IsContiguous,
                            PyBUF_C_CONTIGUOUS, PyBUF_FORMAT, PyBUF_STRIDES, PyBUF_WRITABLE)

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

cdef extern from "_isa.h" nogil:
    ctypedef struct fastrnn_isa:
        const char* name
        int lanes
        int fused_units
        int packed_auto
        int fused_auto
        Py_ssize_t (*packed_size)(Py_ssize_t M, Py_ssize_t K) noexcept nogil
        void (*pack)(const float* w, Py_ssize_t M, Py_ssize_t K, float* packed) noexcept nogil
        void (*recurrent_step)(const float* packed, const float* h, Py_ssize_t h_ld, float* c,
                               Py_ssize_t c_ld, Py_ssize_t N, Py_ssize_t M, Py_ssize_t K,
                               int accumulate, int backwards) noexcept nogil
        void (*lstm_step_row)(const float* packed, const float* h_prev, const float* gx,
                              const float* b, float* c, float* h, Py_ssize_t H,
                              int backwards) noexcept nogil
        void (*gru_step_row)(const float* packed, const float* h_prev, const float* gx,
                             const float* b, const float* b_hn, float* h, Py_ssize_t H,
                             int backwards) noexcept nogil
        void (*lstm_cell)(const float* gx, const float* gh, const float* b, float* c, float* h,
                          Py_ssize_t H) noexcept nogil
        void (*gru_cell)(const float* gx, const float* gh, const float* b, const float* b_hn,
                         const float* h_prev, float* h, Py_ssize_t H) noexcept nogil
        void (*gru_reset)(const float* gx, float* gh, const float* b, const float* h_prev,
                          float* rh, Py_ssize_t H) noexcept nogil
        void (*gru_update)(const float* gx, const float* gh, const float* b,
                           const float* h_prev, float* h, Py_ssize_t H) noexcept nogil
        void (*bias_tanh)(float* row, const float* b_ih, const float* b_hh, Py_ssize_t n) noexcept nogil
        void (*bias_relu)(float* row, const float* b_ih, const float* b_hh, Py_ssize_t n) noexcept nogil
        void (*sigmoid_array)(const float* x, float* out, Py_ssize_t n) noexcept nogil
        void (*tanh_array)(const float* x, float* out, Py_ssize_t n) noexcept nogil
    const fastrnn_isa* fastrnn_isa_find(const char* name, const char** why) noexcept
    int fastrnn_isa_supported(const fastrnn_isa** out, int max) noexcept

cdef extern from "<pthread.h>" nogil:
    ctypedef unsigned long pthread_t
    int pthread_create(pthread_t* thread, const void* attr, void* (*start)(void*) noexcept nogil,
                       void* arg) noexcept
    int pthread_join(pthread_t thread, void** retval) noexcept

cdef extern from "_barrier.h" nogil:
    ctypedef struct fastrnn_barrier:
        pass
    void fastrnn_barrier_init(fastrnn_barrier* b, int threads) noexcept
    void fastrnn_barrier_wait(fastrnn_barrier* b, int* local_sense,
                              long long* starved_ns) noexcept
    long long fastrnn_now_ns() noexcept
    int fastrnn_split_allowed() noexcept
    void fastrnn_split_resume() noexcept
    int fastrnn_split_pausing
    int fastrnn_get_num_threads() noexcept
    void fastrnn_set_num_threads(int n) noexcept
    int fastrnn_thread_start(pthread_t* id, void* (*fn)(void*) noexcept nogil, void* arg,
                             int k) noexcept
    void fastrnn_split_report(long long wall_ns, long long starved_ns, int threads) noexcept
    int fastrnn_start_wait(const int* line) noexcept
    void fastrnn_start_open(int* line, int value) noexcept
    int fastrnn_calls_enter() noexcept
    void fastrnn_calls_leave() noexcept

cdef extern from "_scratch.h" nogil:
    void* fastrnn_scratch_take(size_t size) noexcept
    void fastrnn_scratch_give(void* block) noexcept
    void fastrnn_scratch_release() noexcept

cdef extern from "_amx.h" nogil:
    ctypedef unsigned short uint16_t
    int fastrnn_amx_init() noexcept
    Py_ssize_t fastrnn_amx_packed_size(Py_ssize_t M, Py_ssize_t K) noexcept
    Py_ssize_t fastrnn_amx_split_size(Py_ssize_t rows, Py_ssize_t K) noexcept
    int fastrnn_amx_pack(const float* w, Py_ssize_t M, Py_ssize_t K, uint16_t* out) noexcept
    int fastrnn_amx_finite(const float* w, Py_ssize_t n) noexcept
    Py_ssize_t fastrnn_amx_matmul(const float* a, Py_ssize_t a_ld, Py_ssize_t N, Py_ssize_t K,
                                  const uint16_t* w, Py_ssize_t M, float* c, Py_ssize_t c_ld,
                                  int accumulate, uint16_t* scratch, int backwards) noexcept
    enum: FASTRNN_AMX_CHUNK

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
cdef void input_projection(const floating* x__ri, const floating* w__mi, floating* out__rm,
                           Py_ssize_t out_ld, Py_ssize_t rows, Py_ssize_t M,
                           Py_ssize_t I, const uint16_t* amx=NULL,
                           uint16_t* amx_a=NULL) noexcept nogil:
    """out[:, :M] = x @ w.T for every row (every time step at once).

    amx (float32 only, may be NULL) is w packed by fastrnn_amx_pack, amx_a
    the split scratch: the product then runs on AMX tiles (see _amx.h), but
    for each row holding a value that is not finite (alone, in float32: a
    row's bits do not depend on the other rows).
    """
    cdef Py_ssize_t done
    if floating is float and amx != NULL:
        while rows > 0:
            done = fastrnn_amx_matmul(x__ri, I, rows, I, amx, M, out__rm, out_ld, False, amx_a,
                                      False)
            if done == rows:
                return
            # row `done` holds a value that is not finite
            input_projection(x__ri + done * I, w__mi, out__rm + done * out_ld, out_ld, 1, M, I)
            x__ri += (done + 1) * I
            out__rm += (done + 1) * out_ld
            rows -= done + 1
        return
    if floating is float:
        scipy_cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans,
                          <int>rows, <int>M, <int>I, 1.0, x__ri, <int>I,
                          w__mi, <int>I, 0.0, out__rm, <int>out_ld)
    else:
        scipy_cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasTrans,
                          <int>rows, <int>M, <int>I, 1.0, x__ri, <int>I,
                          w__mi, <int>I, 0.0, out__rm, <int>out_ld)


cdef void hidden_product(const fastrnn_isa* isa, const float* packed, const floating* w__mk,
                         const floating* h__nk,
                         Py_ssize_t h_ld, floating* c__nm, Py_ssize_t c_ld, Py_ssize_t N,
                         Py_ssize_t M, Py_ssize_t K, bint accumulate,
                         Py_ssize_t step, const uint16_t* amx=NULL,
                         uint16_t* amx_a=NULL) noexcept nogil:
    """c[:, :M] (+)= h[:, :K] @ w.T for N rows, w (M, K) with rows K apart.

    step: the time step's index; the packed kernel takes its columns
    backwards on odd steps (w then stays in L1 from one step to the next as
    far as it fits; the results do not change).

    packed (float32 only, may be NULL) is w packed by isa.pack: fastrnn's
    own step kernel then replaces BLAS. Without accumulate c is overwritten
    (OpenBLAS does not read c at beta = 0). amx, amx_a: as for
    input_projection (then packed is NULL); a row of h holding a value that
    is not finite runs alone on BLAS.
    """
    cdef floating beta = 1 if accumulate else 0
    cdef Py_ssize_t done
    if floating is float and amx != NULL:
        while N > 0:
            done = fastrnn_amx_matmul(h__nk, h_ld, N, K, amx, M, c__nm, c_ld, accumulate, amx_a,
                                      step & 1)
            if done == N:
                return
            # row `done` holds a value that is not finite
            hidden_product(isa, packed, w__mk, h__nk + done * h_ld, h_ld, c__nm + done * c_ld,
                           c_ld, 1, M, K, accumulate, step)
            h__nk += (done + 1) * h_ld
            c__nm += (done + 1) * c_ld
            N -= done + 1
        return
    if floating is float and packed != NULL:
        isa.recurrent_step(packed, h__nk, h_ld, c__nm, c_ld, N, M, K, accumulate, step & 1)
    elif N == 1:
        # c[0] (+)= w @ h[0]
        if floating is float:
            scipy_cblas_sgemv(CblasRowMajor, CblasNoTrans, <int>M, <int>K,
                              1.0, w__mk, <int>K, h__nk, 1, beta, c__nm, 1)
        else:
            scipy_cblas_dgemv(CblasRowMajor, CblasNoTrans, <int>M, <int>K,
                              1.0, w__mk, <int>K, h__nk, 1, beta, c__nm, 1)
    else:
        # c (+)= h @ w.T
        if floating is float:
            scipy_cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans,
                              <int>N, <int>M, <int>K, 1.0, h__nk, <int>h_ld,
                              w__mk, <int>K, beta, c__nm, <int>c_ld)
        else:
            scipy_cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasTrans,
                              <int>N, <int>M, <int>K, 1.0, h__nk, <int>h_ld,
                              w__mk, <int>K, beta, c__nm, <int>c_ld)

cdef void hidden_activation(const fastrnn_isa* isa, floating* c__nh, Py_ssize_t n_rows,
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
                    isa.bias_tanh(c__nh + n * row_stride, b_ih__h, b_hh__h, H)
                else:
                    isa.bias_relu(c__nh + n * row_stride, b_ih__h, b_hh__h, H)
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


cdef inline Py_ssize_t _rows_to_run(const int* lens, Py_ssize_t N, Py_ssize_t t) noexcept nogil:
    """The rows of step t that need the recurrent product and the cell: all N
    without lengths, else up to the last row still running (t < its length).
    With lengths sorted in decreasing order (as forward arranges them) these
    are exactly the running rows, so the work follows the sum of the lengths."""
    cdef Py_ssize_t n = N
    if lens == NULL:
        return N
    while n > 0 and lens[n - 1] <= t:
        n -= 1
    return n


cdef void rnn_direction(
        const fastrnn_isa* isa, const floating* x__ri, floating* out__ro, Py_ssize_t out_ld, Py_ssize_t n_rows,
        const Steps* s,
        const floating* w_ih__hi, const floating* w_hh__hh, const float* w_hh_packed,
        const floating* b_ih__h, const floating* b_hh__h, floating* state__nh,
        Py_ssize_t I, Py_ssize_t H,
        int act, floating alpha, floating beta, floating clip,
        const uint16_t* amx_ih, const uint16_t* amx_hh, uint16_t* amx_a) noexcept nogil:
    """Run one direction of one layer over all steps.

    out__ro points at this direction's first column of the output: n_rows
    rows out_ld apart, in the input's row order. w_hh_packed (float32 only,
    may be NULL) is w_hh packed by isa.pack: the recurrent product then
    uses fastrnn's own step kernel instead of BLAS. amx_ih, amx_hh (may be
    NULL): w_ih, w_hh packed for AMX (see input_projection). state__nh holds h_{t-1}
    on entry (h0) and h_n on exit. With lengths, row n only runs while
    t < its length: its outputs are zero after that and its state stays as it
    was (ONNX/onnxruntime semantics, for both directions).
    """
    cdef Py_ssize_t step, t, n, rows
    cdef floating* c__nh = out__ro
    # h_{t-1}: the state buffer at first; without lengths, the previous
    # step's output rows afterwards (no copy per step).
    cdef const floating* h_prev__nh = state__nh
    cdef Py_ssize_t h_prev_ld = H

    # Input projection of every row at once.
    # out[:, :H] = x @ w_ih.T
    input_projection(x__ri, w_ih__hi, out__ro, out_ld, n_rows, H, I, amx_ih, amx_a)

    for step in range(s.L):
        t = s.L - 1 - step if s.reverse else step
        c__nh = out__ro + _out_at(s, t)
        # Also at t=0 with a zero h0: torch does, and Inf/NaN in w_hh then
        # propagate at the same step as in torch.
        # c += h @ w_hh.T
        rows = _rows_at(s, t)
        if rows > 0:
            hidden_product(isa, w_hh_packed, w_hh__hh, h_prev__nh, h_prev_ld, c__nh, s.out_row,
                           rows, H, H, True, step, amx_hh, amx_a)
            hidden_activation(isa, c__nh, rows, s.out_row, H, b_ih__h, b_hh__h, act, alpha, beta,
                              clip)
        finish_step(c__nh, s, t, rows, state__nh, H, &h_prev__nh, &h_prev_ld)
    if s.lens == NULL:
        # h_n = the last step's output rows
        for n in range(s.N):
            memcpy(state__nh + n * H, c__nh + n * s.out_row, H * sizeof(floating))


# ---------------------------------------------------------------- entry point
cpdef bint use_packed_step(Py_ssize_t L, Py_ssize_t N, Py_ssize_t H):
    """Whether "auto" runs a float32 RNN layer on the packed step kernel.

    Measured by tools/bench_step.py (layer time, OpenBLAS / packed, L=100):
    1.2-4x for every N >= 2 up to H=1024, and at N=1 (see use_packed_gates,
    whose rule this is).
    """
    return use_packed_gates(L, N, H, H)


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

# ---------------------------------------------------------------- LSTM and GRU
cdef struct Gates:
    # How one direction's cell turns pre-activations into gates.
    int act[3]          # LSTM (f, g, h) / GRU (f, g) activation codes
    double alpha[3]
    double beta[3]
    double clip         # INFINITY: off
    bint option         # LSTM input_forget / GRU linear_before_reset
    bint fast           # float32 sigmoid/tanh(/tanh) without clip etc.: the isa's cells
    const fastrnn_isa* isa  # the call's float32 kernels (set per run)


cdef inline floating _gate(floating v, const Gates* g, int k) noexcept nogil:
    """Activation k of the cell on a clipped pre-activation (NaN passes the clip)."""
    cdef floating clip = <floating>g.clip
    if g.clip < INFINITY:
        v = clip if v > clip else (-clip if v < -clip else v)
    return _activate(v, g.act[k], <floating>g.alpha[k], <floating>g.beta[k])


cdef void lstm_cell(const floating* gx__g, const floating* gh__g, const floating* b__g,
                    const floating* peep__3h, floating* c__h, floating* h__h, Py_ssize_t H,
                    const Gates* g) noexcept nogil:
    """One LSTM row in torch's gate order (i, f, g, o), ONNX semantics.

    a = gx + gh + b; i = f(a_i + p_i c); f = f(a_f + p_f c) or 1 - i;
    c' = f c + i g(a_g); o = f(a_o + p_o c'); h = o h(c'). Clip bounds every
    gate's pre-activation (peephole included, as onnxruntime), not h's input.
    """
    cdef Py_ssize_t j
    cdef floating a, i, f, cand, o, c
    if floating is float:
        if g.fast:
            g.isa.lstm_cell(gx__g, gh__g, b__g, c__h, h__h, H)
            return
    for j in range(H):
        c = c__h[j]
        a = gx__g[j] + gh__g[j] + b__g[j]
        if peep__3h != NULL:
            a = a + peep__3h[j] * c
        i = _gate(a, g, 0)
        if g.option:
            f = 1 - i
        else:
            a = gx__g[H + j] + gh__g[H + j] + b__g[H + j]
            if peep__3h != NULL:
                a = a + peep__3h[H + j] * c
            f = _gate(a, g, 0)
        cand = _gate(gx__g[2 * H + j] + gh__g[2 * H + j] + b__g[2 * H + j], g, 1)
        c = f * c + i * cand
        a = gx__g[3 * H + j] + gh__g[3 * H + j] + b__g[3 * H + j]
        if peep__3h != NULL:
            a = a + peep__3h[2 * H + j] * c
        o = _gate(a, g, 0)
        c__h[j] = c
        h__h[j] = o * _activate(c, g.act[2], <floating>g.alpha[2], <floating>g.beta[2])


cdef void gru_cell(const floating* gx__g, const floating* gh__g, const floating* b__g,
                   const floating* b_hn__h, const floating* h_prev__h, floating* h__h,
                   Py_ssize_t H, const Gates* g) noexcept nogil:
    """One GRU row with linear_before_reset, torch's gate order (r, z, n).

    r = f(gx_r + gh_r + b_r); z = f(gx_z + gh_z + b_z);
    n = g(gx_n + b_in + r (gh_n + b_hn)); h = (1 - z) n + z h_prev.
    """
    cdef Py_ssize_t j
    cdef floating r, z, n
    if floating is float:
        if g.fast:
            g.isa.gru_cell(gx__g, gh__g, b__g, b_hn__h, h_prev__h, h__h, H)
            return
    for j in range(H):
        r = _gate(gx__g[j] + gh__g[j] + b__g[j], g, 0)
        z = _gate(gx__g[H + j] + gh__g[H + j] + b__g[H + j], g, 0)
        n = _gate(gx__g[2 * H + j] + b__g[2 * H + j] + r * (gh__g[2 * H + j] + b_hn__h[j]), g, 1)
        h__h[j] = n + z * (h_prev__h[j] - n)


cdef void gru_reset(const floating* gx__g, floating* gh__g, const floating* b__g,
                    const floating* h_prev__h, floating* rh__h, Py_ssize_t H,
                    const Gates* g) noexcept nogil:
    """GRU without linear_before_reset, before the n-gate product:
    rh = f(gx_r + gh_r + b_r) * h_prev, and z = f(gx_z + gh_z + b_z) over gh_z."""
    cdef Py_ssize_t j
    if floating is float:
        if g.fast:
            g.isa.gru_reset(gx__g, gh__g, b__g, h_prev__h, rh__h, H)
            return
    for j in range(H):
        rh__h[j] = _gate(gx__g[j] + gh__g[j] + b__g[j], g, 0) * h_prev__h[j]
        gh__g[H + j] = _gate(gx__g[H + j] + gh__g[H + j] + b__g[H + j], g, 0)


cdef void gru_update(const floating* gx__g, const floating* gh__g, const floating* b__g,
                     const floating* h_prev__h, floating* h__h, Py_ssize_t H,
                     const Gates* g) noexcept nogil:
    """After it: gh_n = (r h_prev) @ w_hn.T, gh_z = z, b_n = b_in + b_hn;
    n = g(gx_n + gh_n + b_n); h = (1 - z) n + z h_prev."""
    cdef Py_ssize_t j
    cdef floating n
    if floating is float:
        if g.fast:
            g.isa.gru_update(gx__g, gh__g, b__g, h_prev__h, h__h, H)
            return
    for j in range(H):
        n = _gate(gx__g[2 * H + j] + gh__g[2 * H + j] + b__g[2 * H + j], g, 1)
        h__h[j] = n + gh__g[H + j] * (h_prev__h[j] - n)


cdef struct Steps:
    # Where a direction's rows are: strides in elements, all from the row order.
    Py_ssize_t L, N
    Py_ssize_t gx_step, gx_row     # input projection scratch
    Py_ssize_t out_step, out_row   # output rows (this direction's columns)
    bint reverse
    const int* lens                # NULL: every row runs all L steps
    const Py_ssize_t* offs         # packed rows (lens sorted, decreasing): step t's
                                   # rows are offs[t]..offs[t+1]-1, time-major; or NULL


cdef inline Py_ssize_t _gx_at(const Steps* s, Py_ssize_t t) noexcept nogil:
    """Offset of step t's first row in the input projection scratch."""
    return s.offs[t] * s.gx_row if s.offs != NULL else t * s.gx_step


cdef inline Py_ssize_t _out_at(const Steps* s, Py_ssize_t t) noexcept nogil:
    """Offset of step t's first row in the output."""
    return s.offs[t] * s.out_row if s.offs != NULL else t * s.out_step


cdef inline Py_ssize_t _rows_at(const Steps* s, Py_ssize_t t) noexcept nogil:
    """The rows step t runs (a prefix of the batch with sorted lengths)."""
    if s.offs != NULL:
        return s.offs[t + 1] - s.offs[t]
    return _rows_to_run(s.lens, s.N, t)


cdef void finish_step(floating* out__np, const Steps* s, Py_ssize_t t, Py_ssize_t rows,
                      floating* h__np, Py_ssize_t P, const floating** h_prev,
                      Py_ssize_t* h_prev_ld) noexcept nogil:
    """After step t wrote its output rows: point h_{t-1} at them, or with
    lengths keep the state of the rows that ran and zero the others' output
    (packed rows: only the rows that ran exist)."""
    cdef Py_ssize_t n
    if s.lens == NULL:
        h_prev[0] = out__np
        h_prev_ld[0] = s.out_row
        return
    for n in range(rows if s.offs != NULL else s.N):
        if t < s.lens[n]:
            # h[n] = out[n]
            memcpy(h__np + n * P, out__np + n * s.out_row, P * sizeof(floating))
        else:
            memset(out__np + n * s.out_row, 0, P * sizeof(floating))


cdef void lstm_direction(
        const floating* gx__rg, floating* out__ro, const Steps* s,
        const floating* w_hh__gp, const float* w_hh_packed,
        const floating* w_hr__ph, const float* w_hr_packed,
        const floating* b__g, const floating* peep__3h,
        floating* h__np, floating* c__nh, floating* gh__ng, floating* hc__nh,
        Py_ssize_t H, Py_ssize_t P, const Gates* g,
        const uint16_t* amx_hh, const uint16_t* amx_hr, uint16_t* amx_a) noexcept nogil:
    """Run one LSTM direction over all steps.

    gx__rg: this direction's input projection (x @ w_ih.T) in the input's row
    order; h__np, c__nh: h0, c0 on entry, h_n, c_n on exit. gh__ng (N, 4H) and
    hc__nh (N, H, with w_hr only: o * h(c) before the projection) are scratch.
    w_hr__ph may be NULL; the packed copies (float32) may be NULL, and so
    may the copies packed for AMX (amx_hh, amx_hr; see input_projection).
    """
    cdef Py_ssize_t step, t, n, rows, G = 4 * H
    cdef Py_ssize_t N = s.N
    cdef const floating* gx
    cdef floating* out = out__ro
    cdef const floating* h_prev = h__np
    cdef Py_ssize_t h_prev_ld = P
    # One batch row, no projection: the step kernel with the cell fused
    # (_fused_lstm / _fused_gru: as measured per path, tools/perf_notes.md)
    cdef bint fused = (floating is float and g.fast and N == 1 and w_hh_packed != NULL
                       and w_hr__ph == NULL and _fused_lstm(g.isa, H))
    for step in range(s.L):
        t = s.L - 1 - step if s.reverse else step
        gx = gx__rg + _gx_at(s, t)
        out = out__ro + _out_at(s, t)
        rows = _rows_at(s, t)
        if floating is float:
            if fused and rows == 1:
                # one row: the product and the cell in one kernel
                g.isa.lstm_step_row(w_hh_packed, h_prev, gx, b__g, c__nh, out, H, step & 1)
                finish_step(out, s, t, 1, h__np, P, &h_prev, &h_prev_ld)
                continue
        if rows > 0:
            # gh = h_{t-1} @ w_hh.T, all four gates in one product
            hidden_product(g.isa, w_hh_packed, w_hh__gp, h_prev, h_prev_ld, gh__ng, G, rows, G, P,
                           False, step, amx_hh, amx_a)
        for n in range(rows):
            if s.lens != NULL and t >= s.lens[n]:
                continue
            lstm_cell(gx + n * s.gx_row, gh__ng + n * G, b__g, peep__3h, c__nh + n * H,
                      hc__nh + n * H if w_hr__ph != NULL else out + n * s.out_row, H, g)
        if w_hr__ph != NULL and rows > 0:
            # out = hc @ w_hr.T (rows that did not run are zeroed below)
            hidden_product(g.isa, w_hr_packed, w_hr__ph, hc__nh, H, out, s.out_row, rows, P, H, False,
                           step, amx_hr, amx_a)
        finish_step(out, s, t, rows, h__np, P, &h_prev, &h_prev_ld)
    if s.lens == NULL:
        # h_n = the last step's output rows
        for n in range(N):
            memcpy(h__np + n * P, out + n * s.out_row, P * sizeof(floating))


cdef void gru_direction(
        const floating* gx__rg, floating* out__ro, const Steps* s,
        const floating* w_hh__gh, const float* w_hh_packed, const float* w_hn_packed,
        const floating* b__g, const floating* b_hn__h,
        floating* h__nh, floating* gh__ng, floating* rh__nh,
        Py_ssize_t H, const Gates* g,
        const uint16_t* amx_hh, const uint16_t* amx_hn, uint16_t* amx_a) noexcept nogil:
    """Run one GRU direction over all steps.

    As lstm_direction; b__g holds b_ih + b_hh for r and z, and for n b_in
    (linear_before_reset, with b_hn__h beside it) or b_in + b_hn. Without
    linear_before_reset w_hh_packed holds the r, z rows and w_hn_packed the
    n rows; rh__nh (N, H) is scratch for r * h_{t-1}. amx_hh, amx_hn: the same
    two matrices packed for AMX, or NULL.
    """
    cdef Py_ssize_t step, t, n, rows, G = 3 * H
    cdef Py_ssize_t N = s.N
    cdef const floating* gx
    cdef floating* out = out__ro
    cdef const floating* h_prev = h__nh
    cdef Py_ssize_t h_prev_ld = H
    # One batch row, linear_before_reset: the step kernel with the cell fused
    # (_fused_lstm / _fused_gru: as measured per path, tools/perf_notes.md)
    cdef bint fused = (floating is float and g.fast and g.option and N == 1
                       and w_hh_packed != NULL and _fused_gru(g.isa, H))
    for step in range(s.L):
        t = s.L - 1 - step if s.reverse else step
        gx = gx__rg + _gx_at(s, t)
        out = out__ro + _out_at(s, t)
        rows = _rows_at(s, t)
        if floating is float:
            if fused and rows == 1:
                # one row: the product and the cell in one kernel
                g.isa.gru_step_row(w_hh_packed, h_prev, gx, b__g, b_hn__h, out, H, step & 1)
                finish_step(out, s, t, 1, h__nh, H, &h_prev, &h_prev_ld)
                continue
        if rows == 0:
            pass
        elif g.option:
            # gh = h_{t-1} @ w_hh.T, all three gates in one product
            hidden_product(g.isa, w_hh_packed, w_hh__gh, h_prev, h_prev_ld, gh__ng, G, rows, G, H,
                           False, step, amx_hh, amx_a)
            for n in range(rows):
                if s.lens == NULL or t < s.lens[n]:
                    gru_cell(gx + n * s.gx_row, gh__ng + n * G, b__g, b_hn__h,
                             h_prev + n * h_prev_ld, out + n * s.out_row, H, g)
        else:
            # gh[:, :2H] = h_{t-1} @ w_hh[:2H].T (r and z)
            hidden_product(g.isa, w_hh_packed, w_hh__gh, h_prev, h_prev_ld, gh__ng, G, rows, 2 * H, H,
                           False, step, amx_hh, amx_a)
            # every row, so that the product below reads no stale rows
            for n in range(rows):
                gru_reset(gx + n * s.gx_row, gh__ng + n * G, b__g, h_prev + n * h_prev_ld,
                          rh__nh + n * H, H, g)
            # gh[:, 2H:] = (r * h_{t-1}) @ w_hh[2H:].T
            hidden_product(g.isa, w_hn_packed, w_hh__gh + 2 * H * H, rh__nh, H, gh__ng + 2 * H, G,
                           rows, H, H, False, step, amx_hn, amx_a)
            for n in range(rows):
                if s.lens == NULL or t < s.lens[n]:
                    gru_update(gx + n * s.gx_row, gh__ng + n * G, b__g,
                               h_prev + n * h_prev_ld, out + n * s.out_row, H, g)
        finish_step(out, s, t, rows, h__nh, H, &h_prev, &h_prev_ld)
    if s.lens == NULL:
        for n in range(N):
            memcpy(h__nh + n * H, out + n * s.out_row, H * sizeof(floating))


# ---------------------------------------------------------------- paths
# The float32 kernels come in one table per instruction set (_isa.h): AVX-512,
# AVX2 with FMA and the baseline vectors (SSE2 on x86-64, NEON on ARM64).
# Import picks the best this CPU has, or the one FASTRNN_ISA names; a call
# reads the table once (Call.isa) and uses it throughout.
cdef const fastrnn_isa* _isa = NULL


def isa_paths():
    """The paths this CPU can run, best first (what FASTRNN_ISA may name)."""
    cdef const fastrnn_isa* found[4]
    cdef int n = fastrnn_isa_supported(found, 4), k
    return [found[k].name.decode() for k in range(n)]


def set_isa(name):
    """Run the float32 kernels on path `name` ("auto": the best this CPU
    has); returns the previous path. A path the CPU lacks raises ValueError.
    For tests and benchmarks: set it between calls, not during one."""
    global _isa
    cdef const char* why = NULL
    cdef bytes b = str(name).encode()
    cdef const fastrnn_isa* found = fastrnn_isa_find(b, &why)
    if found == NULL:
        raise ValueError(f"FASTRNN_ISA={name!r}: {why.decode()}; this CPU runs "
                         f"{', '.join(isa_paths())} (or auto)")
    previous = isa() if _isa != NULL else None
    _isa = found
    return previous


def isa():
    """The path the float32 kernels run on now."""
    return _isa.name.decode()


def isa_reason():
    """Why the kernels run on isa(): a sentence for `fastrnn info`."""
    import os
    asked = os.environ.get("FASTRNN_ISA", "")
    best = isa_paths()[0]
    if isa() != best:
        return f"forced (FASTRNN_ISA={asked}, or set_isa); this CPU's best is {best}"
    if asked and asked != "auto":
        return f"FASTRNN_ISA={asked}, this CPU's best"
    return {"avx512": "this CPU has AVX-512F",
            "avx2": "this CPU has AVX2 and FMA, no AVX-512F",
            "sse2": "this CPU has neither AVX2 with FMA nor AVX-512F",
            "neon": "ARM64"}.get(best, "the baseline vectors of this build")


# Calls run per path, and calls whose layer split between threads: the
# tests' proof that a forced path or the split ran (counted with the GIL held).
cdef const fastrnn_isa* _tables[4]
cdef int _n_tables = fastrnn_isa_supported(_tables, 4)
cdef long long _calls_on[4]
cdef long long _split_calls = 0


def path_calls():
    """Layer calls run on each path since import: {path: count}."""
    return {_tables[k].name.decode(): _calls_on[k] for k in range(_n_tables)}


def split_calls():
    """Layer calls whose hidden units were split between threads since import."""
    return _split_calls


def _init_isa():
    import os
    set_isa(os.environ.get("FASTRNN_ISA", "auto").strip().lower() or "auto")


_init_isa()


cdef inline bint _fused_lstm(const fastrnn_isa* isa, Py_ssize_t H) noexcept nogil:
    """Whether a float32 LSTM row of H units (no projection) takes the fused
    one-row step on this path (measured: tools/perf_notes.md, fused steps)."""
    return isa.fused_auto and H % isa.fused_units == 0 and H <= 64


cdef inline bint _fused_gru(const fastrnn_isa* isa, Py_ssize_t H) noexcept nogil:
    """As _fused_lstm, for a GRU with linear_before_reset."""
    return isa.fused_auto and H % isa.fused_units == 0 and H != 64


cdef bint _use_packed(const fastrnn_isa* isa, Py_ssize_t L, Py_ssize_t N) noexcept nogil:
    return L * N >= 8 and isa.packed_auto != 0


cpdef bint use_packed_gates(Py_ssize_t L, Py_ssize_t N, Py_ssize_t M, Py_ssize_t K):
    """Whether "auto" runs a float32 LSTM/GRU layer, w_hh (M, K), on the packed step kernel.

    Measured by tools/bench_step.py --kind lstm|gru (layer time, OpenBLAS /
    packed, L=100, AVX-512 core with 2 MB of L2): 2-9x for every N >= 2 up to
    H=1024 (1.3-1.6x at N=64); at N=1, 1.5-1.8x while w_hh fits in L2, and
    beyond it too (fifth session, whole model calls, one thread: LSTM H=384
    5.75 -> 3.88 ms, H=512 8.0 -> 5.7, GRU H=512 5.4 -> 3.4, H=1024 45.1 ->
    41.9, RNN H=1024 15.0 -> 10.4): both read w_hh from L3 every step, but
    the packed kernel sweeps it backwards on odd steps, so that what it read
    last is still in L2 (an earlier 0.94-1.0x reading did not hold up).
    Packing costs one pass over w_hh per call, so very short runs (L*N < 8)
    stay on BLAS. On the current path (isa()); never where the path's
    packed_auto is off (the baseline vectors of x86-64: SSE2).
    """
    return _use_packed(_isa, L, N)


cdef tuple _dims(const Py_ssize_t* shape, int ndim):
    return tuple([int(shape[k]) for k in range(ndim)])


cdef _check_gated_layer(str fn, int G, x, out, w_ih, w_hh, b_ih, b_hh, w_hr, peep,
                        h0, c0, hn, cn, const int[::1] lens, Py_ssize_t seq_len,
                        bint batch_major, const int[::1] reverse, const int[:, ::1] act,
                        const double[:, ::1] alpha, const double[:, ::1] beta, int K,
                        recurrent):
    """Shapes of an lstm_layer/gru_layer call (G gates, K activations per
    direction), all in Python integers so that no product wraps around.
    Returns (L, N, D, H, P)."""
    if recurrent not in ("auto", "packed", "blas", "amx"):
        raise ValueError(f"{fn}: recurrent must be 'auto', 'packed', 'blas' or 'amx', got {recurrent!r}")
    D, GH, I = w_ih
    L, N = int(seq_len), hn[1]
    if GH % G:
        raise ValueError(f"{fn}: w_ih must have {G}*hidden_size rows, got {GH}")
    H = GH // G
    P = H if w_hr is None else w_hr[1]
    if L < 1 or D < 1 or H < 1 or I < 1 or P < 1:
        raise ValueError(f"{fn}: sizes must be positive, got L={L} D={D} H={H} I={I} P={P}")
    rows = L * N
    step_ld = (L if batch_major else 1) * D * P
    if max(rows, D * G * H, I, step_ld) > INT_MAX:
        raise ValueError(f"{fn}: sizes exceed BLAS's 32-bit integers")
    expect = [
        ("x", x, (rows, I)),
        ("out", out, (rows, D * P)),
        ("w_hh", w_hh, (D, G * H, P)),
        ("hn", hn, (D, N, P)),
    ]
    if cn is not None or G == 4:
        expect.append(("cn", cn, (D, N, H)))
    if b_ih is not None or b_hh is not None:
        if b_ih is None or b_hh is None:
            raise ValueError(f"{fn}: give both biases or neither")
        expect += [("b_ih", b_ih, (D, G * H)), ("b_hh", b_hh, (D, G * H))]
    if w_hr is not None:
        expect.append(("w_hr", w_hr, (D, P, H)))
    if peep is not None:
        expect.append(("peep", peep, (D, 3, H)))
    if h0 is not None:
        expect.append(("h0", h0, (D, N, P)))
    if c0 is not None:
        expect.append(("c0", c0, (D, N, H)))
    expect += [
        ("reverse", _dims(reverse.shape, 1), (D,)),
        ("act", _dims(act.shape, 2), (D, K)),
        ("alpha", _dims(alpha.shape, 2), (D, K)),
        ("beta", _dims(beta.shape, 2), (D, K)),
    ]
    for name, got, want in expect:
        if got != want:
            raise ValueError(f"{fn}: {name} must have shape {want}, got {got}")
    for d in range(D):
        for k in range(K):
            if not 0 <= act[d, k] <= ACT_SOFTPLUS:
                raise ValueError(f"{fn}: unknown activation code {act[d, k]} at act[{d}, {k}]")
    if lens is not None:
        if lens.shape[0] != N:
            raise ValueError(f"{fn}: seq_lens must have shape ({N},), got ({lens.shape[0]},)")
        for n in range(N):
            if not 0 <= lens[n] <= L:
                raise ValueError(f"{fn}: seq_lens[{n}] = {lens[n]} is outside 0..{L}")
    return L, N, D, H, P


cdef Gates _gates(const int[:, ::1] act, const double[:, ::1] alpha,
                  const double[:, ::1] beta, Py_ssize_t d, int K, double clip, bint option):
    cdef Gates g
    cdef int k
    for k in range(3):
        g.act[k] = act[d, k] if k < K else ACT_TANH
        g.alpha[k] = alpha[d, k] if k < K else 0
        g.beta[k] = beta[d, k] if k < K else 0
    g.clip = clip
    g.option = option
    g.fast = False
    g.isa = NULL
    return g


cdef Steps _steps(Py_ssize_t L, Py_ssize_t N, Py_ssize_t gx_ld, Py_ssize_t out_ld,
                  bint batch_major, bint reverse, const int* lens,
                  const Py_ssize_t* offs) noexcept nogil:
    """Strides of a call's rows (packed rows are time-major)."""
    cdef Steps s
    s.L = L
    s.N = N
    # row of (t, n): n*L + t batch-major, t*N + n time-major
    s.gx_step = gx_ld if batch_major else N * gx_ld
    s.gx_row = L * gx_ld if batch_major else gx_ld
    s.out_step = out_ld if batch_major else N * out_ld
    s.out_row = L * out_ld if batch_major else out_ld
    s.reverse = reverse
    s.lens = lens
    s.offs = offs
    return s

cdef inline void* _align64(void* raw) noexcept nogil:
    """The first 64-byte boundary at or after raw: the packed kernels' 64-byte
    loads would otherwise straddle two cache lines (measured 1.5x slower)."""
    return <void*>((<size_t>raw + 63) & ~(<size_t>63))


cdef inline size_t _round64(size_t nbytes) noexcept nogil:
    return (nbytes + 63) & ~(<size_t>63)


# ---------------------------------------------------------------- one layer, any kind
cdef enum Kind:
    KIND_RNN = 0
    KIND_LSTM = 1
    KIND_GRU = 2

cdef enum Path:
    PATH_AUTO = 0
    PATH_PACKED = 1
    PATH_BLAS = 2
    PATH_AMX = 3

KINDS = {"rnn": KIND_RNN, "lstm": KIND_LSTM, "gru": KIND_GRU}

def _threads_from(name, value):
    """A thread count from an environment variable, or None (with a warning)
    when it is not a positive integer. OMP_NUM_THREADS may list one count per
    nesting level ("4,2"): the first is the outer one."""
    import warnings
    text = value.split(",")[0].strip()
    try:
        n = int(text)
    except ValueError:
        n = 0
    if n >= 1:
        return n
    warnings.warn(f"{name}={value!r} is not a positive number of threads; ignored",
                  RuntimeWarning, stacklevel=3)
    return None


def _default_threads():
    """FASTRNN_NUM_THREADS, else OMP_NUM_THREADS (what Dask's nannies, joblib
    and job schedulers set to keep one thread per worker), else the cores this
    process may run on, and no more than a cgroup (v2) CPU quota grants (a
    container given 1 CPU of a large host gets 1)."""
    import os
    for name in ("FASTRNN_NUM_THREADS", "OMP_NUM_THREADS"):
        if os.environ.get(name):
            n = _threads_from(name, os.environ[name])
            if n is not None:
                return n
    try:
        cores = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        cores = os.cpu_count() or 1
    try:
        with open("/sys/fs/cgroup/cpu.max") as f:
            quota, period = f.read().split()[:2]
        if quota != "max":
            cores = min(cores, -(-int(quota) // int(period)))
    except (OSError, ValueError):
        pass
    return max(1, cores)


def set_num_threads(int n):
    """Threads a call may use (>= 1): the two directions of a large
    bidirectional layer run at once, and a unidirectional layer with large
    enough steps splits its hidden units between threads. threadpoolctl's
    limits set the same count (fastrnn/_threadpool.py)."""
    if n < 1:
        raise ValueError(f"set_num_threads: the number of threads must be >= 1, got {n}")
    fastrnn_set_num_threads(n)


def resume_split():
    """End a pause of splitting layers between threads, which a split call
    whose threads starved at their barriers starts (see _barrier.h): the
    benchmark does, before timing fastrnn on a machine where the peers'
    thread pools were just spinning."""
    fastrnn_split_resume()


def set_split_pausing(bint on):
    """Whether a split call whose threads starved pauses splitting (the
    default); returns the previous setting. Off, a test can count on the
    split running on a busy machine."""
    global fastrnn_split_pausing
    previous = fastrnn_split_pausing != 0
    fastrnn_split_pausing = 1 if on else 0
    return previous


def get_num_threads():
    """Threads a call may use (default: see _default_threads)."""
    return fastrnn_get_num_threads()


set_num_threads(_default_threads())

# Multiply-adds of one direction (L*N*G*H*(H+I)) below which a bidirectional
# layer runs its directions one after the other: starting a thread costs
# about 30 us (see tools/perf_notes.md).
DEF PARALLEL_MIN_MACS = 4000000
PARALLEL_MIN_MACS_PER_DIRECTION = PARALLEL_MIN_MACS  # for the tests
PATHS = {"auto": PATH_AUTO, "packed": PATH_PACKED, "blas": PATH_BLAS, "amx": PATH_AMX}


cdef struct Spec:
    # What stays fixed between calls of one layer: sizes, weights, settings.
    int kind
    Py_ssize_t D, G, H, P, In  # directions, gate rows per unit, hidden, output, input
    const void* w_ih           # (D, G*H, I)
    const void* w_hh           # (D, G*H, P)
    const void* b_ih           # (D, G*H) or NULL (then b_hh is NULL too)
    const void* b_hh
    const void* w_hr           # (D, P, H) or NULL (LSTM projection)
    const void* peep           # (D, 3, H) or NULL (LSTM peepholes)
    int path                   # Path
    const int* reverse         # D entries
    const Gates* gates         # D entries (act/alpha/beta/clip/option; fast is set per run)


cdef struct Call:
    # What one call brings: input, output and state buffers, all checked.
    const void* x              # (rows, I)
    void* out                  # (rows, D*P)
    const void* h0             # (D, N, P) or NULL
    const void* c0             # (D, N, H) or NULL (LSTM)
    void* hn                   # (D, N, P)
    void* cn                   # (D, N, H) (LSTM) or NULL
    const int* lens            # (N,) or NULL
    const Py_ssize_t* offs     # (L + 1,) packed rows (see Steps), or NULL
    Py_ssize_t L, N
    Py_ssize_t rows            # rows of x and out: L*N, or offs[L] when packed
    bint batch_major
    const fastrnn_isa* isa     # the float32 kernels (set by run_layer)


cdef struct Work:
    # One direction's scratch inside the call's single block.
    void* gh                   # (N, G) recurrent product
    void* bias                 # (G + H) summed biases (GRU: b_hn apart after G)
    void* aux                  # (N, H) LSTM unprojected h / GRU r * h_{t-1}
    float* packed              # packed w_hh (and w_hr / w_hn), float32 only
    Py_ssize_t packed_hh       # floats of the first packed matrix
    uint16_t* amx_ih           # w_ih packed for AMX, or NULL (float32 only)
    uint16_t* amx_hh           # w_hh (GRU: w_rz) packed for AMX, or NULL
    uint16_t* amx_2            # w_hr (LSTM) or w_hn (GRU) packed for AMX, or NULL
    uint16_t* amx_a            # the split of a product's rows (see _amx.h)


cdef Py_ssize_t _packed_floats(const fastrnn_isa* isa, const Spec* s,
                               Py_ssize_t* first) noexcept nogil:
    """Floats of one direction's packed weights; first: those of w_hh's (or w_rz's)."""
    cdef Py_ssize_t H = s.H, P = s.P, G = s.G
    if s.kind == KIND_RNN:
        first[0] = isa.packed_size(H, H)
        return first[0]
    if s.kind == KIND_LSTM:
        first[0] = isa.packed_size(G * H, P)
        return first[0] + (isa.packed_size(P, H) if s.w_hr != NULL else 0)
    if s.gates[0].option:  # GRU, linear_before_reset: one (3H, H)
        first[0] = isa.packed_size(G * H, H)
        return first[0]
    first[0] = isa.packed_size(2 * H, H)
    return first[0] + isa.packed_size(H, H)


cdef inline bint _fast_cells(const Spec* s, const Gates* g) noexcept nogil:
    """Whether float32 LSTM/GRU cells with these settings take the fused C cell:
    torch's activations, no clip (LSTM: no peepholes, no input_forget)."""
    if s.kind == KIND_LSTM:
        return (g.act[0] == ACT_SIGMOID and g.act[1] == ACT_TANH and g.act[2] == ACT_TANH
                and not g.clip < INFINITY and s.peep == NULL and not g.option)
    return g.act[0] == ACT_SIGMOID and g.act[1] == ACT_TANH and not g.clip < INFINITY


cdef void _init_states(const Spec* s, const Call* c, Py_ssize_t d,
                       floating* type_tag) noexcept nogil:
    """h_n (and c_n) of direction d start as h0 (c0), or zero."""
    cdef Py_ssize_t N = c.N, P = s.P, H = s.H
    cdef floating* hn = <floating*>c.hn + d * N * P
    if c.h0 != NULL:
        memmove(hn, <const floating*>c.h0 + d * N * P, N * P * sizeof(floating))
    else:
        memset(hn, 0, N * P * sizeof(floating))
    if s.kind == KIND_LSTM:
        if c.c0 != NULL:
            memmove(<floating*>c.cn + d * N * H, <const floating*>c.c0 + d * N * H,
                    N * H * sizeof(floating))
        else:
            memset(<floating*>c.cn + d * N * H, 0, N * H * sizeof(floating))


cdef void run_direction(const Spec* s, const Call* c, Py_ssize_t d, floating* gx,
                        const Work* w) noexcept nogil:
    """Every step of direction d: input projection, packing, state init, the loop."""
    cdef Py_ssize_t L = c.L, N = c.N, D = s.D, H = s.H, P = s.P, I = s.In
    cdef Py_ssize_t G = s.G * H, j
    cdef Py_ssize_t out_ld = D * P, gx_ld = D * G
    cdef Gates g = s.gates[d]
    g.isa = c.isa
    cdef const floating* x = <const floating*>c.x
    cdef floating* out = <floating*>c.out + d * P
    cdef const floating* w_ih = <const floating*>s.w_ih + d * G * I
    cdef const floating* w_hh = <const floating*>s.w_hh + d * G * P
    cdef const floating* b_ih = NULL
    cdef const floating* b_hh = NULL
    cdef floating* hn = <floating*>c.hn + d * N * P
    cdef floating* cn = NULL
    cdef floating* bias = <floating*>w.bias
    cdef float* packed = w.packed
    cdef uint16_t* amx_ih = NULL
    cdef uint16_t* amx_hh = NULL
    cdef uint16_t* amx_2 = NULL
    cdef Steps st = _steps(L, N, gx_ld, out_ld, c.batch_major, s.reverse[d] != 0, c.lens,
                           c.offs)
    if s.b_ih != NULL:
        b_ih = <const floating*>s.b_ih + d * G
        b_hh = <const floating*>s.b_hh + d * G
    _init_states(s, c, d, gx)
    if floating is float:
        # Copies packed for AMX, but none of a matrix with a weight that is
        # not finite (see _amx.h): that one's products run in float32.
        if w.amx_ih != NULL and fastrnn_amx_pack(<const float*>w_ih, G, I, w.amx_ih) == 0:
            amx_ih = w.amx_ih
        if w.amx_hh != NULL:
            if s.kind == KIND_GRU and not g.option:
                if fastrnn_amx_pack(<const float*>w_hh, 2 * H, H, w.amx_hh) == 0:
                    amx_hh = w.amx_hh
                if fastrnn_amx_pack(<const float*>w_hh + 2 * H * H, H, H, w.amx_2) == 0:
                    amx_2 = w.amx_2
            else:
                if fastrnn_amx_pack(<const float*>w_hh, G, P, w.amx_hh) == 0:
                    amx_hh = w.amx_hh
                if (s.kind == KIND_LSTM and s.w_hr != NULL and fastrnn_amx_pack(
                        <const float*>s.w_hr + d * P * H, P, H, w.amx_2) == 0):
                    amx_2 = w.amx_2
    if s.kind == KIND_RNN:
        if packed != NULL:
            c.isa.pack(<const float*>w_hh, H, H, packed)
        rnn_direction(c.isa, x, out, out_ld, c.rows, &st, w_ih, w_hh, packed, b_ih, b_hh, hn, I, H,
                      g.act[0], <floating>g.alpha[0], <floating>g.beta[0], <floating>g.clip,
                      amx_ih, amx_hh, w.amx_a)
        return
    # gx[:, d*G:(d+1)*G] = x @ w_ih[d].T
    if amx_ih != NULL:
        input_projection(x, w_ih, gx + d * G, gx_ld, c.rows, G, I, amx_ih, w.amx_a)
    elif floating is float and packed != NULL and I <= P and I <= 128:
        # On the packed kernel, w_ih packed into the buffer w_hh's packing
        # overwrites next (I <= P: it fits). Measured against OpenBLAS's
        # sgemm for these shapes (packing included): 100 x 256 x 32 1.3x,
        # 100 x 1024 x 64 1.2x, 1600 x 1024 x 64 1.1x, 1000 x 512 x 128
        # 1.05x; at I = 256..512 OpenBLAS is as fast or faster.
        c.isa.pack(<const float*>w_ih, G, I, packed)
        c.isa.recurrent_step(packed, <const float*>x, I, <float*>gx + d * G, gx_ld, c.rows, G,
                             I, False, False)
    else:
        input_projection(x, w_ih, gx + d * G, gx_ld, c.rows, G, I)
    if s.kind == KIND_LSTM:
        cn = <floating*>c.cn + d * N * H
        for j in range(G):
            bias[j] = b_ih[j] + b_hh[j] if b_ih != NULL else 0
        g.fast = floating is float and _fast_cells(s, &g)
        if packed != NULL:
            c.isa.pack(<const float*>w_hh, G, P, packed)
            if s.w_hr != NULL:
                c.isa.pack(<const float*>s.w_hr + d * P * H, P, H, packed + w.packed_hh)
        lstm_direction(gx + d * G, out, &st, w_hh, packed,
                       <const floating*>s.w_hr + d * P * H if s.w_hr != NULL else NULL,
                       packed + w.packed_hh if packed != NULL and s.w_hr != NULL else NULL,
                       bias, <const floating*>s.peep + d * 3 * H if s.peep != NULL else NULL,
                       hn, cn, <floating*>w.gh, <floating*>w.aux, H, P, &g,
                       amx_hh, amx_2, w.amx_a)
        return
    # GRU: bias = b_ih + b_hh, but b_hn apart (after bias[3H]) with linear_before_reset
    for j in range(G + H):
        bias[j] = 0
    if b_ih != NULL:
        for j in range(G):
            bias[j] = b_ih[j]
            if j < 2 * H or not g.option:
                bias[j] = bias[j] + b_hh[j]
            else:
                bias[H + j] = b_hh[j]
    g.fast = floating is float and _fast_cells(s, &g)
    if packed != NULL:
        if g.option:
            c.isa.pack(<const float*>w_hh, G, H, packed)
        else:
            c.isa.pack(<const float*>w_hh, 2 * H, H, packed)
            c.isa.pack(<const float*>w_hh + 2 * H * H, H, H, packed + w.packed_hh)
    gru_direction(gx + d * G, out, &st, w_hh, packed,
                  packed + w.packed_hh if packed != NULL and not g.option else NULL,
                  bias, bias + G, hn, <floating*>w.gh, <floating*>w.aux, H, &g,
                  amx_hh, amx_2, w.amx_a)


cdef struct DirectionJob:
    const Spec* s
    const Call* c
    Py_ssize_t d
    void* gx
    Work work
    bint f64


cdef void* _direction_thread(void* arg) noexcept nogil:
    cdef DirectionJob* job = <DirectionJob*>arg
    if job.f64:
        run_direction(job.s, job.c, job.d, <double*>job.gx, &job.work)
    else:
        run_direction(job.s, job.c, job.d, <float*>job.gx, &job.work)
    return NULL


# ---------------------------------------------------------------- hidden units split between threads
# A unidirectional layer on several threads: thread k owns hidden units
# a..a+U-1 (all gates of them), so it reads only its rows of w_ih and w_hh,
# which stay in its own core's caches, and computes their input projection,
# recurrent product and cell; a barrier ends every step, after which each
# thread reads the whole h_{t-1} (DeepCPU's and oneDNN's split; splitting the
# batch rows instead would make every thread read all of w_hh).
DEF MAX_SLICES = 8
# Multiply-adds per step (N*G*H*H) below which a step is too short for a
# barrier (measured: see tools/perf_notes.md).
DEF SLICE_MIN_STEP_MACS = 65536


cdef struct Slice:
    const Spec* s
    const Call* c
    fastrnn_barrier* barrier
    const int* start           # the start line (see _barrier.h)
    Py_ssize_t a, U            # this thread's hidden units: a..a+U-1
    void* gx                   # (rows, gates*U) its input projection (LSTM/GRU)
    void* gh                   # (N, gates*U) its recurrent product (LSTM/GRU)
    void* bias                 # (gates*U + U) summed biases (GRU: b_hn after gates*U)
    void* w                    # its rows of w_ih (gates*U, I), then of w_hh (gates*U, P)
    float* packed              # packed w_hh rows (float32 packed path) or NULL
    uint16_t* amx_ih           # room for its rows of w_ih packed for AMX, or NULL
    uint16_t* amx_hh           # room for its rows of w_hh packed for AMX, or NULL
    uint16_t* amx_a            # AMX split scratch (with amx_ih or amx_hh)
    bint f64
    long long starved_ns       # time waited at barriers past the spin budget


cdef bint _packed_path(const Spec* s, const Call* c) except -1:
    """Whether a float32 call runs the recurrent product on the packed kernel."""
    return s.path == PATH_PACKED or (s.path == PATH_AUTO and _use_packed(c.isa, c.L, c.N))


# AMX (see _amx.h): whether this machine runs it (AMX), whether calls use it
# now (set_amx; FASTRNN_AMX=0 in the environment turns it off at import).
cdef bint _amx_hw = False
cdef bint _amx_on = False


def _init_amx():
    global _amx_hw, _amx_on
    import os
    _amx_hw = fastrnn_amx_init() != 0
    _amx_on = _amx_hw and os.environ.get("FASTRNN_AMX", "1") != "0"
    return _amx_hw


AMX = _init_amx()


def set_amx(bint on):
    """Whether float32 products may run on AMX tiles (where the machine has
    them: AMX); returns the previous setting. The tests compare both."""
    global _amx_on
    previous = _amx_on
    _amx_on = on and _amx_hw
    return previous


def amx_enabled():
    return _amx_on


def release_scratch():
    """Free the scratch blocks kept for the next call (see _scratch.h)."""
    fastrnn_scratch_release()


# Batch rows from which a float32 layer's recurrent products run on AMX,
# and rows (L*N) from which its input projection does (measured: see
# tools/perf_notes.md, fifth session). Decided per call from L and N, not
# from the rows a step runs, so that a call with lengths gives the bits of
# the padded call.
cdef Py_ssize_t AMX_MIN_ROWS = 16
cdef Py_ssize_t AMX_MIN_INPUT_ROWS = 64
# and the depth (input features, hidden or projected size) from which a
# product does: AMX pads k to 32 (input_size 2 costs 16x the products:
# 5130 x 2 x 256 measured 3.6x slower than OpenBLAS)
cdef Py_ssize_t AMX_MIN_K = 16


def _amx_thresholds(min_rows=None, min_input_rows=None, min_k=None):
    """The thresholds above (the tests lower them to reach every block shape)."""
    global AMX_MIN_ROWS, AMX_MIN_INPUT_ROWS, AMX_MIN_K
    if min_rows is not None:
        AMX_MIN_ROWS = min_rows
    if min_input_rows is not None:
        AMX_MIN_INPUT_ROWS = min_input_rows
    if min_k is not None:
        AMX_MIN_K = min_k
    return AMX_MIN_ROWS, AMX_MIN_INPUT_ROWS, AMX_MIN_K


cdef inline bint _amx_steps(const Spec* s, const Call* c) noexcept nogil:
    """Whether a float32 call runs its recurrent products on AMX."""
    return _amx_on and c.isa.lanes == 16 and (s.path == PATH_AMX or (s.path == PATH_AUTO and c.N >= AMX_MIN_ROWS
                                               and s.P >= AMX_MIN_K))


cdef inline bint _amx_input(const Spec* s, const Call* c) noexcept nogil:
    """Whether a float32 call runs its input projection on AMX."""
    return _amx_on and c.isa.lanes == 16 and (s.path == PATH_AMX
                        or (s.path == PATH_AUTO and c.L * c.N >= AMX_MIN_INPUT_ROWS
                            and s.In >= AMX_MIN_K))


cdef inline Py_ssize_t _amx_split_rows(const Call* c, bint steps, bint inputs) noexcept nogil:
    """Rows the AMX split scratch holds."""
    cdef Py_ssize_t rows = c.N if steps else 0
    if inputs:
        rows = max(rows, c.rows)
    return max(1, min(rows, FASTRNN_AMX_CHUNK))


cdef bint _parallel_directions(const Spec* s, const Call* c) noexcept nogil:
    """Whether the two directions of a bidirectional layer run at once."""
    return (s.D == 2 and fastrnn_get_num_threads() >= 2
            and c.rows * s.G * s.H * (s.P + s.In) >= PARALLEL_MIN_MACS)


cdef int _split_threads(const Spec* s, const Call* c, bint f64) except -1:
    """Threads a call splits its hidden units between when it runs alone
    (see above), or 1: unidirectional layers of large enough steps, on the
    packed kernel only, whose sums do not depend on the slice (OpenBLAS's
    may), so the results stay bitwise those of one thread."""
    cdef Py_ssize_t steps = c.rows // c.L if c.L > 0 else 0  # rows per step, on average
    cdef int threads = min(fastrnn_get_num_threads(), MAX_SLICES, s.H // 16)
    if threads < 2 or f64 or s.D != 1 or s.w_hr != NULL or s.peep != NULL:
        return 1
    if s.kind == KIND_GRU and not s.gates[0].option:
        return 1  # (ONNX's GRU without linear_before_reset: not split)
    if not (_packed_path(s, c) or _amx_steps(s, c)):
        return 1
    # (an RNN step has no gate cells to share: it counts half)
    if (c.rows * s.G * s.H * (s.P + s.In) >= PARALLEL_MIN_MACS
            and steps * s.G * s.H * s.P >= SLICE_MIN_STEP_MACS * (2 if s.kind == KIND_RNN else 1)):
        return threads
    return 1


cdef void run_slice(Slice* sl, floating* type_tag) noexcept nogil:
    """Every step of a unidirectional layer for the units of one slice."""
    cdef const Spec* s = sl.s
    cdef const Call* c = sl.c
    cdef Py_ssize_t L = c.L, N = c.N, H = s.H, P = s.P, I = s.In, a = sl.a, U = sl.U
    cdef Py_ssize_t gates = s.G, GU = s.G * sl.U, k, j, n, step, t, rows
    cdef size_t item = sizeof(floating)
    cdef Gates g = s.gates[0]
    cdef const floating* x = <const floating*>c.x
    cdef floating* out = <floating*>c.out
    cdef floating* o = out
    cdef floating* hn = <floating*>c.hn
    cdef floating* cn = <floating*>c.cn
    cdef floating* gx = <floating*>sl.gx
    cdef floating* gh = <floating*>sl.gh
    cdef floating* bias = <floating*>sl.bias
    cdef const floating* b_ih = <const floating*>s.b_ih
    cdef const floating* b_hh = <const floating*>s.b_hh
    cdef const floating* w_ih
    cdef const floating* w_hh
    cdef const floating* h_prev = hn
    cdef Py_ssize_t h_prev_ld = P
    cdef int sense = 0
    cdef long long started = 0
    cdef Steps st = _steps(L, N, GU, P, c.batch_major, s.reverse[0] != 0, c.lens, c.offs)
    cdef uint16_t* amx_ih = NULL
    cdef uint16_t* amx_hh = NULL
    cdef Py_ssize_t M = U if s.kind == KIND_RNN else GU
    g.fast = floating is float and s.kind != KIND_RNN and _fast_cells(s, &g)
    g.isa = c.isa
    if s.kind == KIND_RNN:
        # one gate: the slice's rows of w_ih and w_hh are contiguous
        w_ih = <const floating*>s.w_ih + a * I
        w_hh = <const floating*>s.w_hh + a * H
    else:
        w_ih = <const floating*>sl.w
        w_hh = w_ih + GU * I
        for k in range(gates):
            memcpy(<floating*>w_ih + k * U * I, <const floating*>s.w_ih + (k * H + a) * I,
                   U * I * item)
            memcpy(<floating*>w_hh + k * U * P, <const floating*>s.w_hh + (k * H + a) * P,
                   U * P * item)
    if floating is float:
        # as run_direction: each column's sums are those of one thread
        if sl.amx_ih != NULL and fastrnn_amx_pack(<const float*>w_ih, M, I, sl.amx_ih) == 0:
            amx_ih = sl.amx_ih
        if sl.amx_hh != NULL and fastrnn_amx_pack(<const float*>w_hh, M, P, sl.amx_hh) == 0:
            amx_hh = sl.amx_hh
    if s.kind == KIND_RNN:
        input_projection(x, w_ih, out + a, P, c.rows, U, I, amx_ih, sl.amx_a)
    else:
        for k in range(gates):
            for j in range(U):
                bias[k * U + j] = 0
                if b_ih != NULL:
                    bias[k * U + j] = b_ih[k * H + a + j]
                    if s.kind == KIND_LSTM or k < 2:
                        bias[k * U + j] += b_hh[k * H + a + j]
        if s.kind == KIND_GRU:
            for j in range(U):
                bias[GU + j] = b_hh[2 * H + a + j] if b_hh != NULL else 0
        if amx_ih != NULL:
            input_projection(x, w_ih, gx, GU, c.rows, GU, I, amx_ih, sl.amx_a)
        elif floating is float and sl.packed != NULL and I <= P and I <= 128:
            # as run_direction: w_ih packed where w_hh's packing goes next
            c.isa.pack(<const float*>w_ih, GU, I, sl.packed)
            c.isa.recurrent_step(sl.packed, <const float*>x, I, <float*>gx, GU, c.rows, GU, I,
                                 False, False)
        else:
            input_projection(x, w_ih, gx, GU, c.rows, GU, I)
    if floating is float and sl.packed != NULL:
        c.isa.pack(<const float*>w_hh, U if s.kind == KIND_RNN else GU, P, sl.packed)
    for step in range(L):
        t = L - 1 - step if st.reverse else step
        o = out + _out_at(&st, t)
        rows = _rows_at(&st, t)
        if rows > 0:
            if s.kind == KIND_RNN:
                # out[:, a:a+U] += h_{t-1} @ w_hh[a:a+U].T
                hidden_product(c.isa, sl.packed, w_hh, h_prev, h_prev_ld, o + a, st.out_row, rows, U,
                               H, True, step, amx_hh, sl.amx_a)
            else:
                hidden_product(c.isa, sl.packed, w_hh, h_prev, h_prev_ld, gh, GU, rows, GU, P, False,
                               step, amx_hh, sl.amx_a)
        if c.lens != NULL:
            # every thread has read h_{t-1} from the state rows, updated below
            fastrnn_barrier_wait(sl.barrier, &sense, &sl.starved_ns if step else &started)
        if s.kind == KIND_RNN:
            if rows > 0:
                hidden_activation(c.isa, o + a, rows, st.out_row, U,
                                  b_ih + a if b_ih != NULL else NULL,
                                  b_hh + a if b_hh != NULL else NULL,
                                  g.act[0], <floating>g.alpha[0], <floating>g.beta[0],
                                  <floating>g.clip)
        else:
            for n in range(rows):
                if c.lens != NULL and t >= c.lens[n]:
                    continue
                if s.kind == KIND_LSTM:
                    lstm_cell(gx + _gx_at(&st, t) + n * st.gx_row, gh + n * GU, bias, NULL,
                              cn + n * H + a, o + n * st.out_row + a, U, &g)
                else:
                    gru_cell(gx + _gx_at(&st, t) + n * st.gx_row, gh + n * GU, bias, bias + GU,
                             h_prev + n * h_prev_ld + a, o + n * st.out_row + a, U, &g)
        if c.lens != NULL:
            for n in range(rows if c.offs != NULL else N):
                if t < c.lens[n]:
                    memcpy(hn + n * P + a, o + n * st.out_row + a, U * item)
                else:
                    memset(o + n * st.out_row + a, 0, U * item)
        else:
            h_prev, h_prev_ld = o, st.out_row
        # every thread has written its part of h_t (the first step's wait
        # holds the threads' start, not counted as starving)
        fastrnn_barrier_wait(sl.barrier, &sense, &sl.starved_ns if step else &started)
    if c.lens == NULL:
        for n in range(N):
            memcpy(hn + n * P + a, o + n * st.out_row + a, U * item)


cdef void* _slice_thread(void* arg) noexcept nogil:
    cdef Slice* sl = <Slice*>arg
    if fastrnn_start_wait(sl.start) < 0:
        return NULL
    if sl.f64:
        run_slice(sl, <double*>NULL)
    else:
        run_slice(sl, <float*>NULL)
    return NULL


cdef int _run_sliced(const Spec* s, const Call* c, int threads, bint use_packed,
                     floating* type_tag) except -1:
    """Run a unidirectional layer on `threads` threads, each owning a slice
    of the hidden units (multiples of 16 where the size allows). Returns 0,
    or 1 without running anything when a thread could not be started."""
    cdef Py_ssize_t H = s.H, P = s.P, I = s.In, N = c.N, T = threads, k
    cdef Py_ssize_t gates = 0 if s.kind == KIND_RNN else s.G
    cdef Py_ssize_t U_max = 0, GU
    cdef Slice sl[MAX_SLICES]
    cdef pthread_t ids[MAX_SLICES]
    cdef fastrnn_barrier barrier
    cdef size_t item = sizeof(floating), per = 0
    cdef int started = 0
    cdef char* base
    cdef int start = 0
    cdef long long t0, starved
    cdef Py_ssize_t blocks = (H + 15) // 16  # whole 16-unit blocks, as evenly as they go
    for k in range(T):
        sl[k].a = 16 * (k * blocks // T)
    for k in range(T):
        sl[k].U = (sl[k + 1].a if k < T - 1 else H) - sl[k].a
        U_max = max(U_max, sl[k].U)
    GU = s.G * U_max
    if gates:
        per = (_round64(c.rows * GU * item) + _round64(N * GU * item)
               + _round64((GU + U_max) * item) + _round64(GU * (I + P) * item))
    if use_packed:
        per += _round64(c.isa.packed_size(GU, P) * sizeof(float))
    # AMX: room for the slice's rows of w_ih and w_hh packed, and the split
    # scratch (RNN: U rows each)
    cdef bint amx_steps = floating is float and _amx_steps(s, c)
    cdef bint amx_input = floating is float and _amx_input(s, c)
    cdef Py_ssize_t M = GU if gates else U_max
    cdef size_t amx_ih = _round64(fastrnn_amx_packed_size(M, I) * 2) if amx_input else 0
    cdef size_t amx_hh = _round64(fastrnn_amx_packed_size(M, P) * 2) if amx_steps else 0
    cdef size_t amx_a = 0
    if amx_steps or amx_input:
        amx_a = _round64(fastrnn_amx_split_size(_amx_split_rows(c, amx_steps, amx_input),
                                                max(I, P)) * 2)
    cdef size_t amx_at = per
    per += amx_ih + amx_hh + amx_a
    # A matrix with a weight that is not finite runs in float32 in every
    # slice, as in one thread (run_direction), not only in the slice holding it.
    cdef bint ih_finite = True, hh_finite = True
    if amx_ih:
        with nogil:
            ih_finite = fastrnn_amx_finite(<const float*>s.w_ih, s.G * H * I) != 0
    if amx_hh:
        with nogil:
            hh_finite = fastrnn_amx_finite(<const float*>s.w_hh, s.G * H * P) != 0
    cdef void* raw = fastrnn_scratch_take(T * per)
    if raw == NULL:
        raise MemoryError(f"cannot allocate {T * per} bytes of kernel scratch")
    base = <char*>raw
    fastrnn_barrier_init(&barrier, <int>T)
    try:
        with nogil:
            _init_states(s, c, 0, type_tag)
            for k in range(T):
                sl[k].s, sl[k].c, sl[k].barrier, sl[k].f64 = s, c, &barrier, floating is double
                sl[k].start = &start
                sl[k].starved_ns = 0
                sl[k].gx = base + k * per
                sl[k].gh = <char*>sl[k].gx + (_round64(c.rows * GU * item) if gates else 0)
                sl[k].bias = <char*>sl[k].gh + (_round64(N * GU * item) if gates else 0)
                sl[k].w = <char*>sl[k].bias + (_round64((GU + U_max) * item) if gates else 0)
                sl[k].packed = (<float*>(<char*>sl[k].w + (_round64(GU * (I + P) * item)
                                                           if gates else 0))
                                if use_packed else NULL)
                sl[k].amx_ih = (<uint16_t*>(base + k * per + amx_at)
                                if amx_ih and ih_finite else NULL)
                sl[k].amx_hh = (<uint16_t*>(base + k * per + amx_at + amx_ih)
                                if amx_hh and hh_finite else NULL)
                sl[k].amx_a = (<uint16_t*>(base + k * per + amx_at + amx_ih + amx_hh)
                               if amx_a else NULL)
            for k in range(1, T):
                if fastrnn_thread_start(&ids[k], _slice_thread, &sl[k], <int>k) != 0:
                    break
                started += 1
            fastrnn_start_open(&start, 1 if started == T - 1 else -1)
            t0 = fastrnn_now_ns()
            if started == T - 1:
                run_slice(&sl[0], type_tag)
            for k in range(started):
                pthread_join(ids[k + 1], NULL)
            if started == T - 1:
                starved = 0
                for k in range(T):
                    starved += sl[k].starved_ns
                fastrnn_split_report(fastrnn_now_ns() - t0, starved, <int>T)
    finally:
        fastrnn_scratch_give(raw)
    return 0 if started == T - 1 else 1


cdef void _amx_work(Work* w, char* at, Py_ssize_t ih, Py_ssize_t hh, Py_ssize_t second,
                    Py_ssize_t a) noexcept nogil:
    """Point a direction's AMX buffers into its scratch at `at` (sizes in
    uint16 elements; 0: none)."""
    w.amx_ih = <uint16_t*>at if ih else NULL
    at += _round64(ih * 2)
    w.amx_hh = <uint16_t*>at if hh else NULL
    at += _round64(hh * 2)
    w.amx_2 = <uint16_t*>at if second else NULL
    at += _round64(second * 2)
    w.amx_a = <uint16_t*>at if a else NULL


cdef int _run(const Spec* s, const Call* c, bint alone, floating* type_tag) except -1:
    """Allocate one scratch block for the call, then run every direction without the GIL."""
    global _split_calls
    cdef Py_ssize_t L = c.L, N = c.N, D = s.D, G = s.G * s.H, H = s.H, d
    cdef Py_ssize_t first = 0, packed = 0, P = s.P, I = s.In
    cdef bint amx_steps = floating is float and _amx_steps(s, c)
    cdef bint amx_input = floating is float and _amx_input(s, c)
    cdef bint use_packed = floating is float and not amx_steps and _packed_path(s, c)
    cdef int threads = _split_threads(s, c, floating is double) if alone else 1
    if threads >= 2 and fastrnn_split_allowed():
        if _run_sliced(s, c, threads, use_packed, type_tag) == 0:
            _split_calls += 1
            return 0
    if use_packed:
        packed = _packed_floats(c.isa, s, &first)
    # uint16 elements of the copies packed for AMX: w_ih, w_hh (GRU: w_rz),
    # w_hr / w_hn, the split scratch
    cdef Py_ssize_t amx_ih = fastrnn_amx_packed_size(G, I) if amx_input else 0
    cdef Py_ssize_t amx_hh = 0, amx_2 = 0, amx_a = 0
    if amx_steps:
        if s.kind == KIND_GRU and not s.gates[0].option:
            amx_hh = fastrnn_amx_packed_size(2 * H, H)
            amx_2 = fastrnn_amx_packed_size(H, H)
        else:
            amx_hh = fastrnn_amx_packed_size(G, P)
            if s.w_hr != NULL:
                amx_2 = fastrnn_amx_packed_size(P, H)
    if amx_steps or amx_input:
        amx_a = fastrnn_amx_split_size(_amx_split_rows(c, amx_steps, amx_input),
                                       max(I, max(P, H)))
    # Sizes are bounded by the checks (L*N and D*G*H below 2**31): no wrap-around.
    cdef size_t item = sizeof(floating)
    cdef size_t gx_bytes = 0 if s.kind == KIND_RNN else _round64(<size_t>c.rows * <size_t>(D * G) * item)
    cdef size_t gh_bytes = _round64(<size_t>(N * G) * item)
    cdef size_t bias_bytes = _round64(<size_t>(G + H) * item)
    cdef size_t aux_bytes = _round64(<size_t>(N * H) * item)
    cdef size_t amx_bytes = (_round64(amx_ih * 2) + _round64(amx_hh * 2) + _round64(amx_2 * 2)
                             + _round64(amx_a * 2))
    cdef size_t per_dir = (gh_bytes + bias_bytes + aux_bytes + _round64(<size_t>packed * sizeof(float))
                           + amx_bytes)
    cdef void* raw = fastrnn_scratch_take(gx_bytes + <size_t>D * per_dir)
    if raw == NULL:
        raise MemoryError(f"cannot allocate {gx_bytes + D * per_dir} bytes of kernel scratch")
    cdef char* base = <char*>raw
    cdef DirectionJob jobs[2]
    cdef pthread_t thread
    cdef bint parallel = alone and _parallel_directions(s, c)
    cdef bint started = False
    try:
        with nogil:
            for d in range(D):
                jobs[d % 2].s, jobs[d % 2].c, jobs[d % 2].d = s, c, d
                jobs[d % 2].gx, jobs[d % 2].f64 = base, floating is double
                jobs[d % 2].work.gh = base + gx_bytes + d * per_dir
                jobs[d % 2].work.bias = <char*>jobs[d % 2].work.gh + gh_bytes
                jobs[d % 2].work.aux = <char*>jobs[d % 2].work.bias + bias_bytes
                jobs[d % 2].work.packed = (<float*>(<char*>jobs[d % 2].work.aux + aux_bytes)
                                           if use_packed else NULL)
                jobs[d % 2].work.packed_hh = first
                _amx_work(&jobs[d % 2].work,
                          <char*>jobs[d % 2].work.aux + aux_bytes + _round64(<size_t>packed * 4),
                          amx_ih, amx_hh, amx_2, amx_a)
                if parallel and d == 0:
                    # direction 0 on its own thread, direction 1 here; each has
                    # its own scratch and writes its own columns and states
                    started = pthread_create(&thread, NULL, _direction_thread, &jobs[0]) == 0
                    if started:
                        continue
                run_direction(s, c, d, <floating*>base, &jobs[d % 2].work)
            if started:
                pthread_join(thread, NULL)
    finally:
        fastrnn_scratch_give(raw)
    return 0


cdef int run_layer(const Spec* s, const Call* call, bint f64) except -1:
    if call.N == 0:
        return 0
    cdef Call on_path = call[0]
    on_path.isa = _isa  # read once: this call packs and steps on one path
    cdef const Call* c = &on_path
    cdef int k
    for k in range(_n_tables):
        if _tables[k] == on_path.isa:
            _calls_on[k] += 1
    # Threads beyond the caller's only for a call that runs alone (see _barrier.h):
    # two Python threads calling at once then use one core each.
    cdef bint alone = fastrnn_calls_enter() == 1
    try:
        if f64:
            return _run(s, c, alone, <double*>NULL)
        return _run(s, c, alone, <float*>NULL)
    finally:
        fastrnn_calls_leave()


cdef inline int _path(recurrent, str fn) except -1:
    if recurrent == "auto":
        return PATH_AUTO
    if recurrent == "packed":
        return PATH_PACKED
    if recurrent == "blas":
        return PATH_BLAS
    if recurrent == "amx":
        return PATH_AMX
    raise ValueError(f"{fn}: recurrent must be 'auto', 'packed', 'blas' or 'amx', got {recurrent!r}")


# ---------------------------------------------------------------- entry points
cdef Gates* _gate_array(Py_ssize_t D) except NULL:
    cdef Gates* gates = <Gates*>malloc(D * sizeof(Gates))
    if gates == NULL:
        raise MemoryError("cannot allocate the kernel's gate settings")
    return gates


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

    Every shape is checked here on each call (ValueError); a model built
    once should rather hold a `Layer`, which checks its weights once.
    """
    _check_layer_shapes(x__ri.shape, out__ro.shape, w_ih__dhi.shape, w_hh__dhh.shape,
                        None if b_ih__dh is None else b_ih__dh.shape,
                        None if b_hh__dh is None else b_hh__dh.shape,
                        None if h0__dnh is None else h0__dnh.shape, hn__dnh.shape,
                        seq_lens__n, seq_len, batch_major, reverse__d, act__d, alpha__d, beta__d)
    cdef Spec s
    cdef Call c
    cdef Py_ssize_t d
    s.path = _path(recurrent, "rnn_layer")
    c.N = hn__dnh.shape[1]
    if c.N == 0:
        return
    s.kind = KIND_RNN
    s.D, s.G, s.H, s.In = w_ih__dhi.shape[0], 1, w_ih__dhi.shape[1], w_ih__dhi.shape[2]
    s.P = s.H
    s.w_ih, s.w_hh = &w_ih__dhi[0, 0, 0], &w_hh__dhh[0, 0, 0]
    s.b_ih = &b_ih__dh[0, 0] if b_ih__dh is not None else NULL
    s.b_hh = &b_hh__dh[0, 0] if b_hh__dh is not None else NULL
    s.w_hr = s.peep = NULL
    s.reverse = &reverse__d[0]
    c.x, c.out, c.hn = &x__ri[0, 0], &out__ro[0, 0], &hn__dnh[0, 0, 0]
    c.h0 = &h0__dnh[0, 0, 0] if h0__dnh is not None else NULL
    c.c0 = c.cn = NULL
    c.lens = &seq_lens__n[0] if seq_lens__n is not None else NULL
    c.L, c.batch_major = seq_len, batch_major
    c.rows, c.offs = c.L * c.N, NULL
    cdef Gates* gates = _gate_array(s.D)
    try:
        for d in range(s.D):
            gates[d].act[0], gates[d].alpha[0], gates[d].beta[0] = act__d[d], alpha__d[d], beta__d[d]
            gates[d].clip = clip
            gates[d].option = gates[d].fast = False
            gates[d].isa = NULL
        s.gates = gates
        run_layer(&s, &c, floating is double)
    finally:
        free(gates)


cdef _gated_call(int kind, Spec* s, Call* c, Py_ssize_t[8] x, Py_ssize_t[8] out,
                 Py_ssize_t[8] w_ih, Py_ssize_t P, Py_ssize_t[8] hn, const int[::1] reverse,
                 const int[:, ::1] act, const double[:, ::1] alpha, const double[:, ::1] beta,
                 double clip, bint option, int K, bint f64):
    """Fill what the checked shapes say and run (the pointers are set by the caller)."""
    cdef Py_ssize_t d
    s.kind = kind
    s.D, s.G, s.In = w_ih[0], (4 if kind == KIND_LSTM else 3), w_ih[2]
    s.H = w_ih[1] // s.G
    s.P = P if s.w_hr != NULL else s.H
    s.reverse = &reverse[0]
    c.N = hn[1]
    c.rows, c.offs = c.L * c.N, NULL
    cdef Gates* gates = _gate_array(s.D)
    try:
        for d in range(s.D):
            gates[d] = _gates(act, alpha, beta, d, K, clip, option)
        s.gates = gates
        run_layer(s, c, f64)
    finally:
        free(gates)


def lstm_layer(const floating[:, ::1] x__ri,
               floating[:, ::1] out__ro,
               const floating[:, :, ::1] w_ih__dgi,
               const floating[:, :, ::1] w_hh__dgp,
               const floating[:, ::1] b_ih__dg,
               const floating[:, ::1] b_hh__dg,
               const floating[:, :, ::1] w_hr__dph,
               const floating[:, :, ::1] peep__d3h,
               const floating[:, :, ::1] h0__dnp,
               const floating[:, :, ::1] c0__dnh,
               floating[:, :, ::1] hn__dnp,
               floating[:, :, ::1] cn__dnh,
               const int[::1] seq_lens__n,
               Py_ssize_t seq_len,
               bint batch_major,
               const int[::1] reverse__d,
               const int[:, ::1] act__dk,
               const double[:, ::1] alpha__dk,
               const double[:, ::1] beta__dk,
               double clip,
               bint input_forget,
               recurrent="auto"):
    """Run one LSTM layer, every direction, every step, without the GIL.

    Torch's gate order (i, f, g, o) in the 4H rows of w_ih (D, 4H, I), w_hh
    (D, 4H, P), b_ih and b_hh (D, 4H, both or None). w_hr (D, P, H) or None
    projects h to P (torch's proj_size; P = H without it). peep (D, 3, H) or
    None: peephole weights (p_i, p_f, p_o). h0 (D, N, P), c0 (D, N, H) or
    None (zero); hn, cn receive h_n, c_n. x (L*N, I), out (L*N, D*P) rows in
    time-major or batch-major order, direction d in columns d*P:(d+1)*P.
    act (D, 3) codes of ONNX's (f, g, h) with alpha, beta (D, 3); clip bounds
    every gate pre-activation when finite; input_forget sets f = 1 - i.
    seq_lens (N,) int32 or None: rows past their length output zero and keep
    their h and c (ONNX semantics, both directions). recurrent as rnn_layer.
    """
    _check_gated_layer(
        "lstm_layer", 4, _dims(x__ri.shape, 2), _dims(out__ro.shape, 2),
        _dims(w_ih__dgi.shape, 3), _dims(w_hh__dgp.shape, 3),
        None if b_ih__dg is None else _dims(b_ih__dg.shape, 2),
        None if b_hh__dg is None else _dims(b_hh__dg.shape, 2),
        None if w_hr__dph is None else _dims(w_hr__dph.shape, 3),
        None if peep__d3h is None else _dims(peep__d3h.shape, 3),
        None if h0__dnp is None else _dims(h0__dnp.shape, 3),
        None if c0__dnh is None else _dims(c0__dnh.shape, 3),
        _dims(hn__dnp.shape, 3), _dims(cn__dnh.shape, 3), seq_lens__n, seq_len,
        batch_major, reverse__d, act__dk, alpha__dk, beta__dk, 3, recurrent)
    cdef Spec s
    cdef Call c
    s.path = _path(recurrent, "lstm_layer")
    if hn__dnp.shape[1] == 0:
        return
    s.w_ih, s.w_hh = &w_ih__dgi[0, 0, 0], &w_hh__dgp[0, 0, 0]
    s.b_ih = &b_ih__dg[0, 0] if b_ih__dg is not None else NULL
    s.b_hh = &b_hh__dg[0, 0] if b_hh__dg is not None else NULL
    s.w_hr = &w_hr__dph[0, 0, 0] if w_hr__dph is not None else NULL
    s.peep = &peep__d3h[0, 0, 0] if peep__d3h is not None else NULL
    c.x, c.out = &x__ri[0, 0], &out__ro[0, 0]
    c.h0 = &h0__dnp[0, 0, 0] if h0__dnp is not None else NULL
    c.c0 = &c0__dnh[0, 0, 0] if c0__dnh is not None else NULL
    c.hn, c.cn = &hn__dnp[0, 0, 0], &cn__dnh[0, 0, 0]
    c.lens = &seq_lens__n[0] if seq_lens__n is not None else NULL
    c.L, c.batch_major = seq_len, batch_major
    _gated_call(KIND_LSTM, &s, &c, x__ri.shape, out__ro.shape, w_ih__dgi.shape,
                w_hr__dph.shape[1] if w_hr__dph is not None else 0, hn__dnp.shape,
                reverse__d, act__dk, alpha__dk, beta__dk, clip, input_forget, 3,
                floating is double)


def gru_layer(const floating[:, ::1] x__ri,
              floating[:, ::1] out__ro,
              const floating[:, :, ::1] w_ih__dgi,
              const floating[:, :, ::1] w_hh__dgh,
              const floating[:, ::1] b_ih__dg,
              const floating[:, ::1] b_hh__dg,
              const floating[:, :, ::1] h0__dnh,
              floating[:, :, ::1] hn__dnh,
              const int[::1] seq_lens__n,
              Py_ssize_t seq_len,
              bint batch_major,
              const int[::1] reverse__d,
              const int[:, ::1] act__dk,
              const double[:, ::1] alpha__dk,
              const double[:, ::1] beta__dk,
              double clip,
              bint linear_before_reset,
              recurrent="auto"):
    """Run one GRU layer, every direction, every step, without the GIL.

    Torch's gate order (r, z, n) in the 3H rows of w_ih (D, 3H, I), w_hh
    (D, 3H, H), b_ih and b_hh (D, 3H, both or None). h0 (D, N, H) or None;
    hn receives h_n. x (L*N, I), out (L*N, D*H) as rnn_layer. act (D, 2)
    codes of ONNX's (f, g) with alpha, beta (D, 2); clip bounds the
    pre-activations of r, z and n when finite. linear_before_reset (torch's
    GRU): n = g(x W_in^T + b_in + r (h W_hn^T + b_hn)); without it (ONNX's
    default) n = g(x W_in^T + b_in + (r h) W_hn^T + b_hn).
    seq_lens and recurrent as lstm_layer.
    """
    _check_gated_layer(
        "gru_layer", 3, _dims(x__ri.shape, 2), _dims(out__ro.shape, 2),
        _dims(w_ih__dgi.shape, 3), _dims(w_hh__dgh.shape, 3),
        None if b_ih__dg is None else _dims(b_ih__dg.shape, 2),
        None if b_hh__dg is None else _dims(b_hh__dg.shape, 2),
        None, None, None if h0__dnh is None else _dims(h0__dnh.shape, 3), None,
        _dims(hn__dnh.shape, 3), None, seq_lens__n, seq_len,
        batch_major, reverse__d, act__dk, alpha__dk, beta__dk, 2, recurrent)
    cdef Spec s
    cdef Call c
    s.path = _path(recurrent, "gru_layer")
    if hn__dnh.shape[1] == 0:
        return
    s.w_ih, s.w_hh = &w_ih__dgi[0, 0, 0], &w_hh__dgh[0, 0, 0]
    s.b_ih = &b_ih__dg[0, 0] if b_ih__dg is not None else NULL
    s.b_hh = &b_hh__dg[0, 0] if b_hh__dg is not None else NULL
    s.w_hr = s.peep = NULL
    c.x, c.out = &x__ri[0, 0], &out__ro[0, 0]
    c.h0 = &h0__dnh[0, 0, 0] if h0__dnh is not None else NULL
    c.c0 = c.cn = NULL
    c.hn = &hn__dnh[0, 0, 0]
    c.lens = &seq_lens__n[0] if seq_lens__n is not None else NULL
    c.L, c.batch_major = seq_len, batch_major
    _gated_call(KIND_GRU, &s, &c, x__ri.shape, out__ro.shape, w_ih__dgi.shape,
                0, hn__dnh.shape, reverse__d, act__dk, alpha__dk, beta__dk,
                clip, linear_before_reset, 2, floating is double)


# ---------------------------------------------------------------- Layer: checked once
cdef inline bint _is_format(const char* fmt, char want) noexcept:
    """Whether a buffer format is the native one-character code `want`."""
    if fmt == NULL:
        return False
    if fmt[0] == b'=' or fmt[0] == b'<' or fmt[0] == b'@':
        fmt = fmt + 1
    return fmt[0] == want and fmt[1] == 0


cdef str _shape_str(const Py_buffer* v):
    return "(" + ", ".join([str(v.shape[k]) for k in range(v.ndim)]) + ("," if v.ndim == 1 else "") + ")"


cdef class Layer:
    """One recurrent layer (all its directions) whose weights are checked once.

    Built when a model is built, on the model's own weight arrays: it keeps
    them (and a buffer export of each, so that numpy refuses to resize them)
    and reads them at every run, so in-place edits of the weights are seen by
    the next run. kind is "rnn", "lstm" or "gru"; the weights, biases and
    settings mean what they mean for rnn_layer, lstm_layer and gru_layer (at
    most two directions). The dtype (float32 or float64) is the weights'.

    run(x, out, h0, c0, hn, cn, seq_lens, L, batch_major) checks only what a
    call brings, cheaply, and runs the layer without the GIL: x (L*N, I),
    out (L*N, D*P), either also as 3-D arrays with the same rows; h0, hn
    (D, N, P); c0, cn (D, N, H) for LSTM, None otherwise; seq_lens int32
    (N,) or None. Arrays must be C-contiguous, of the layer's dtype.
    Thread-safe: a run only reads the layer.
    """
    cdef Spec spec
    cdef Gates gates[2]
    cdef int reverse[2]
    cdef bint f64
    cdef Py_buffer views[6]
    cdef int n_views
    cdef char typecode
    cdef readonly object kind, weights

    def __cinit__(self):
        self.n_views = 0

    def __dealloc__(self):
        cdef int k
        for k in range(self.n_views):
            PyBuffer_Release(&self.views[k])
        self.n_views = 0

    def __init__(self, kind, w_ih, w_hh, b_ih=None, b_hh=None, w_hr=None, peep=None, *,
                 reverse, act, alpha, beta, double clip=INFINITY, bint option=False,
                 recurrent="auto"):
        if self.n_views:
            raise TypeError("Layer is initialised once")
        if kind not in KINDS:
            raise ValueError(f"Layer: kind must be 'rnn', 'lstm' or 'gru', got {kind!r}")
        cdef int k_kind = KINDS[kind]
        cdef int G = 1 if k_kind == KIND_RNN else (4 if k_kind == KIND_LSTM else 3)
        cdef int K = 1 if k_kind == KIND_RNN else (3 if k_kind == KIND_LSTM else 2)
        import numpy as np
        self.kind = kind
        self.spec.path = _path(recurrent, "Layer")
        dtype = getattr(w_ih, "dtype", None)
        if dtype not in (np.float32, np.float64):
            raise ValueError(f"Layer: weights must be float32 or float64 arrays, got {dtype}")
        self.f64 = dtype == np.float64
        self.typecode = b'd' if self.f64 else b'f'
        if w_hr is not None and k_kind != KIND_LSTM or peep is not None and k_kind != KIND_LSTM:
            raise ValueError("Layer: w_hr and peep are LSTM-only")
        if (b_ih is None) != (b_hh is None):
            raise ValueError("Layer: give both biases or neither")
        shape = getattr(w_ih, "shape", ())
        if len(shape) != 3 or shape[1] % G or not 1 <= shape[0] <= 2 or min(shape) < 1:
            raise ValueError(f"Layer: w_ih must have shape (D <= 2, {G}*hidden_size, input_size), "
                             f"got {shape}")
        D, H, I = shape[0], shape[1] // G, shape[2]
        P = H if w_hr is None else getattr(w_hr, "shape", (0, 0))[1:2][0]
        if not 1 <= P <= H:
            raise ValueError(f"Layer: w_hr must have shape ({D}, P <= {H}, {H})")
        if max(D * G * H, I, 2 * P) > INT_MAX:
            raise ValueError("Layer: sizes exceed BLAS's 32-bit integers")
        expect = [("w_ih", w_ih, (D, G * H, I)), ("w_hh", w_hh, (D, G * H, P))]
        if b_ih is not None:
            expect += [("b_ih", b_ih, (D, G * H)), ("b_hh", b_hh, (D, G * H))]
        if w_hr is not None:
            expect.append(("w_hr", w_hr, (D, P, H)))
        if peep is not None:
            expect.append(("peep", peep, (D, 3, H)))
        for name, arr, want in expect:
            if not isinstance(arr, np.ndarray) or arr.dtype != dtype or arr.shape != want \
                    or not arr.flags.c_contiguous:
                raise ValueError(f"Layer: {name} must be a C-contiguous {np.dtype(dtype)} array "
                                 f"of shape {want}, got {getattr(arr, 'shape', type(arr))}")
        reverse = np.asarray(reverse, np.int32)
        act = np.asarray(act, np.int32).reshape(D, K)
        alpha = np.asarray(alpha, np.float64).reshape(D, K)
        beta = np.asarray(beta, np.float64).reshape(D, K)
        if reverse.shape != (D,):
            raise ValueError(f"Layer: reverse must have shape ({D},), got {reverse.shape}")
        if ((act < 0) | (act > ACT_SOFTPLUS)).any():
            raise ValueError(f"Layer: unknown activation code in {act.tolist()}")
        cdef int d, k
        for d in range(D):
            self.reverse[d] = reverse[d]
            for k in range(3):
                self.gates[d].act[k] = act[d, k] if k < K else ACT_TANH
                self.gates[d].alpha[k] = alpha[d, k] if k < K else 0
                self.gates[d].beta[k] = beta[d, k] if k < K else 0
            self.gates[d].clip = clip
            self.gates[d].option = option
            self.gates[d].fast = False
        # Hold a buffer export of each weight for the layer's life.
        cdef const void** slots[6]
        slots[:] = [&self.spec.w_ih, &self.spec.w_hh, &self.spec.b_ih, &self.spec.b_hh,
                    &self.spec.w_hr, &self.spec.peep]
        arrays = (w_ih, w_hh, b_ih, b_hh, w_hr, peep)
        for k in range(6):
            slots[k][0] = NULL
            if arrays[k] is not None:
                PyObject_GetBuffer(arrays[k], &self.views[self.n_views], PyBUF_C_CONTIGUOUS)
                slots[k][0] = self.views[self.n_views].buf
                self.n_views += 1
        self.weights = arrays
        self.spec.kind = k_kind
        self.spec.D, self.spec.G, self.spec.H, self.spec.P, self.spec.In = D, G, H, P, I
        self.spec.reverse = self.reverse
        self.spec.gates = self.gates

    @property
    def sizes(self):
        """(D, H, P, I): directions, hidden size, output size, input size."""
        return (self.spec.D, self.spec.H, self.spec.P, self.spec.In)

    def threads_for(self, Py_ssize_t L, Py_ssize_t N, rows=None):
        """Threads a run of L steps on N rows (rows: as many packed rows)
        would use with the current set_num_threads when no other call runs
        (and splitting is not paused, see _barrier.h): the hidden units
        split between several, the two directions on two, or one."""
        cdef Call c
        c.L, c.N = L, N
        c.rows = L * N if rows is None else rows
        c.isa = _isa
        if self.spec.D == 1:
            return _split_threads(&self.spec, &c, self.f64)
        return 2 if _parallel_directions(&self.spec, &c) else 1

    def run(self, x, out, h0, c0, hn, cn, seq_lens, Py_ssize_t L, bint batch_major):
        cdef Py_buffer v[7]
        cdef int n = 0, k
        cdef Call c
        cdef Py_ssize_t D = self.spec.D, H = self.spec.H, P = self.spec.P
        cdef Py_ssize_t N, rows
        cdef bint lstm = self.spec.kind == KIND_LSTM
        cdef int flags = PyBUF_C_CONTIGUOUS | PyBUF_FORMAT
        try:
            # hn first: it gives N
            _acquire(hn, &v[n], flags | PyBUF_WRITABLE, 3, self.typecode, "hn")
            n += 1
            N = v[0].shape[1]
            if L < 1 or N > INT_MAX or L > INT_MAX or L * N > INT_MAX \
                    or (L if batch_major else 1) * D * max(P, self.spec.G * H) > INT_MAX:
                raise ValueError(f"Layer.run: L={L}, N={N} must be positive and fit BLAS's "
                                 "32-bit integers")
            rows = L * N
            _check_dims(&v[0], "hn", D, N, P)
            c.hn = v[0].buf
            _acquire(x, &v[n], flags, 0, self.typecode, "x")
            n += 1
            _check_rows(&v[n - 1], "x", rows, self.spec.In)
            c.x = v[n - 1].buf
            _acquire(out, &v[n], flags | PyBUF_WRITABLE, 0, self.typecode, "out")
            n += 1
            _check_rows(&v[n - 1], "out", rows, D * P)
            c.out = v[n - 1].buf
            c.h0 = c.c0 = c.cn = NULL
            c.lens = NULL
            if h0 is not None:
                _acquire(h0, &v[n], flags, 3, self.typecode, "h0")
                n += 1
                _check_dims(&v[n - 1], "h0", D, N, P)
                c.h0 = v[n - 1].buf
            if lstm or cn is not None:
                if not lstm:
                    raise ValueError("Layer.run: cn is for LSTM layers only")
                _acquire(cn, &v[n], flags | PyBUF_WRITABLE, 3, self.typecode, "cn")
                n += 1
                _check_dims(&v[n - 1], "cn", D, N, H)
                c.cn = v[n - 1].buf
            if c0 is not None:
                if not lstm:
                    raise ValueError("Layer.run: c0 is for LSTM layers only")
                _acquire(c0, &v[n], flags, 3, self.typecode, "c0")
                n += 1
                _check_dims(&v[n - 1], "c0", D, N, H)
                c.c0 = v[n - 1].buf
            if seq_lens is not None:
                _acquire(seq_lens, &v[n], flags, 1, b'i', "seq_lens")
                n += 1
                c.lens = _checked_lens(&v[n - 1], N, L, False, "Layer.run")
            c.L, c.N, c.batch_major = L, N, batch_major
            c.rows, c.offs = rows, NULL
            run_layer(&self.spec, &c, self.f64)
        finally:
            for k in range(n):
                PyBuffer_Release(&v[k])

    def __reduce__(self):
        raise TypeError("a Layer is rebuilt with its model, not pickled")


cdef const int* _checked_lens(const Py_buffer* v, Py_ssize_t N, Py_ssize_t L, bint packed,
                              str fn) except? NULL:
    """The lengths in an acquired int32 buffer: N of them, each in 0..L (and
    in decreasing order for packed rows)."""
    cdef const int* lens = <const int*>v.buf
    cdef Py_ssize_t k
    if v.shape[0] != N or v.itemsize != 4:
        raise ValueError(f"{fn}: seq_lens must have shape ({N},), got {_shape_str(v)}")
    for k in range(N):
        if not 0 <= lens[k] <= L or packed and k and lens[k] > lens[k - 1]:
            raise ValueError(f"{fn}: seq_lens[{k}] = {lens[k]} is outside 0..{L}"
                             + (" or out of order" if packed else ""))
    return lens


cdef Py_ssize_t* _packed_offsets(const int* lens, Py_ssize_t N, Py_ssize_t L) except NULL:
    """offs[t]: the rows of the steps before t, for lengths in decreasing
    order (offs[L] = their sum). The caller frees it."""
    cdef Py_ssize_t* offs = <Py_ssize_t*>malloc((L + 1) * sizeof(Py_ssize_t))
    cdef Py_ssize_t t, n = N
    if offs == NULL:
        raise MemoryError(f"cannot allocate {L + 1} step offsets")
    offs[0] = 0
    for t in range(L):
        while n > 0 and lens[n - 1] <= t:
            n -= 1
        offs[t + 1] = offs[t] + n
    return offs


cdef int _view(obj, Py_buffer* v, char code) except -1:
    """1 with v acquired if obj (an ndarray of a float dtype) is C-contiguous
    of format `code`, else 0 (v released)."""
    PyObject_GetBuffer(obj, v, PyBUF_STRIDES | PyBUF_FORMAT)
    if _is_format(v.format, code) and PyBuffer_IsContiguous(v, b'C'):
        return 1
    PyBuffer_Release(v)
    return 0


cdef class Stack:
    """A model's layers in order: the one place a model's forward runs them.

    run(x, h0, c0, seq_lens, L, N, batch_major, packed) checks what the call
    brings, allocates the results and runs every layer without the GIL; the
    outputs between layers go to one raw scratch block, not to numpy arrays.
    Returns (out, hn, cn), cn None except for LSTM. x: (L*N, I) rows, or 3-D
    with L*N rows in the layout's order; h0 (D*layers, N, P) and c0
    (D*layers, N, H) or None; seq_lens int32 (N,) or None. packed: x holds
    only the rows that run, step after step (torch's PackedSequence.data
    order), for seq_lens in decreasing order (time-major); out then holds the
    same rows.

    forward(input, hx, batch_first) is the model's common call taken whole
    here, the streaming call included: a C-contiguous input (batched or not)
    of the layers' dtype and width, hx None or states exactly as forward
    returns them. It returns forward's result, or None for anything else, which the
    model's Python forward then casts, checks and explains.

    Thread-safe: a run only reads the layers.
    """
    cdef list layers
    cdef Py_ssize_t n_layers, D, G, H, P, In
    cdef bint f64, lstm
    cdef char typecode
    cdef object dtype, empty, ndarray

    def __init__(self, layers):
        import numpy as np
        layers = list(layers)
        if not layers or not all(isinstance(layer, Layer) for layer in layers):
            raise ValueError("Stack: expected a non-empty list of Layer")
        cdef Layer first = layers[0], layer
        cdef Py_ssize_t k
        self.D, self.G, self.H, self.P = (first.spec.D, first.spec.G, first.spec.H,
                                          first.spec.P)
        for k in range(len(layers)):
            layer = layers[k]
            if (layer.spec.kind != first.spec.kind or layer.f64 != first.f64
                    or layer.spec.D != self.D or layer.spec.H != self.H
                    or layer.spec.P != self.P or k and layer.spec.In != self.D * self.P):
                raise ValueError(f"Stack: layer {k} does not follow layer {k - 1}")
        self.layers, self.n_layers = layers, len(layers)
        self.In, self.f64, self.typecode = first.spec.In, first.f64, first.typecode
        self.lstm = first.spec.kind == KIND_LSTM
        self.dtype = np.dtype(np.float64 if self.f64 else np.float32)
        self.empty, self.ndarray = np.empty, np.ndarray

    cdef bint _sizes_fit(self, Py_ssize_t L, Py_ssize_t N, bint batch_major):
        return not (L < 1 or N < 0 or N > INT_MAX or L > INT_MAX or L * N > INT_MAX
                    or (L if batch_major else 1) * self.D * max(self.P, self.G * self.H) > INT_MAX)

    cdef bint _state(self, obj, Py_buffer* v, Py_ssize_t N, Py_ssize_t size,
                     bint batched) except -1:
        """Whether obj is a state this model's forward would pass on as it is
        (v then acquired): an ndarray of the dtype, (D*layers, N, size) or
        unbatched (D*layers, size), C order."""
        if type(obj) is not self.ndarray or obj.dtype is not self.dtype \
                or not _view(obj, v, self.typecode):
            return False
        if (v.ndim == 3 and batched and v.shape[0] == self.D * self.n_layers
                and v.shape[1] == N and v.shape[2] == size
                or v.ndim == 2 and not batched and v.shape[0] == self.D * self.n_layers
                and v.shape[1] == size):
            return True
        PyBuffer_Release(v)
        return False

    def forward(self, input, hx, bint batch_first):
        cdef Py_buffer v[3]
        cdef int n = 0, k
        cdef Py_ssize_t L, N
        cdef bint batched
        # (the dtype first: some dtypes, datetime's, refuse a buffer export)
        if type(input) is not self.ndarray or input.dtype is not self.dtype:
            return None
        try:
            if not _view(input, &v[0], self.typecode):
                return None
            n = 1
            batched = v[0].ndim == 3
            if v[0].ndim not in (2, 3) or v[0].shape[v[0].ndim - 1] != self.In:
                return None
            if not batched:  # (L, I): one sequence
                L, N, batch_first = v[0].shape[0], 1, False
            elif batch_first:
                L, N = v[0].shape[1], v[0].shape[0]
            else:
                L, N = v[0].shape[0], v[0].shape[1]
            if not self._sizes_fit(L, N, batch_first):
                return None
            if hx is not None:
                if self.lstm:
                    if type(hx) is not tuple or len(<tuple>hx) != 2:
                        return None
                    if not self._state((<tuple>hx)[0], &v[1], N, self.P, batched):
                        return None
                    n = 2
                    if not self._state((<tuple>hx)[1], &v[2], N, self.H, batched):
                        return None
                    n = 3
                else:
                    if not self._state(hx, &v[1], N, self.P, batched):
                        return None
                    n = 2
            shape = (v[0].shape[0], v[0].shape[1])
            if not batched:
                shape = (L,)
            out, hn, cn = self._execute(<char*>v[0].buf, shape,
                                        <char*>v[1].buf if n > 1 else NULL,
                                        <char*>v[2].buf if n > 2 else NULL,
                                        NULL, NULL, L, N, L * N, batch_first, batched)
            return (out, hn) if not self.lstm else (out, (hn, cn))
        finally:
            for k in range(n):
                PyBuffer_Release(&v[k])

    def run(self, x, h0, c0, seq_lens, Py_ssize_t L, Py_ssize_t N, bint batch_major,
            bint packed=False):
        cdef Py_buffer v[4]
        cdef int n = 0, flags = PyBUF_C_CONTIGUOUS | PyBUF_FORMAT
        cdef Py_ssize_t rows, k, S = self.D * self.n_layers
        cdef const int* lens = NULL
        cdef Py_ssize_t* offs = NULL
        cdef char* h0_ptr = NULL
        cdef char* c0_ptr = NULL
        if not self._sizes_fit(L, N, batch_major):
            raise ValueError(f"Stack.run: L={L}, N={N} must be positive and fit BLAS's "
                             "32-bit integers")
        if c0 is not None and not self.lstm:
            raise ValueError("Stack.run: c0 is for LSTM layers only")
        try:
            rows = L * N
            if seq_lens is not None:
                _acquire(seq_lens, &v[n], flags, 1, b'i', "seq_lens")
                n += 1
                lens = _checked_lens(&v[n - 1], N, L, packed, "Stack.run")
            if packed:
                if lens == NULL or batch_major:
                    raise ValueError("Stack.run: packed rows need seq_lens, time-major")
                offs = _packed_offsets(lens, N, L)
                rows = offs[L]
            _acquire(x, &v[n], flags, 0, self.typecode, "x")
            n += 1
            _check_rows(&v[n - 1], "x", rows, self.In)
            shape = tuple([v[n - 1].shape[k] for k in range(v[n - 1].ndim - 1)])
            x_ptr = <char*>v[n - 1].buf
            if h0 is not None:
                _acquire(h0, &v[n], flags, 3, self.typecode, "h0")
                n += 1
                _check_dims(&v[n - 1], "h0", S, N, self.P)
                h0_ptr = <char*>v[n - 1].buf
            if c0 is not None:
                _acquire(c0, &v[n], flags, 3, self.typecode, "c0")
                n += 1
                _check_dims(&v[n - 1], "c0", S, N, self.H)
                c0_ptr = <char*>v[n - 1].buf
            return self._execute(x_ptr, shape, h0_ptr, c0_ptr, lens, offs, L, N, rows,
                                 batch_major, True)
        finally:
            for k in range(n):
                PyBuffer_Release(&v[k])
            free(offs)

    cdef tuple _execute(self, char* x_ptr, tuple shape, char* h0_ptr, char* c0_ptr,
                        const int* lens, const Py_ssize_t* offs, Py_ssize_t L, Py_ssize_t N,
                        Py_ssize_t rows, bint batch_major, bint batched):
        """Allocate (out, hn, cn) and run every layer on checked buffers
        (states without their batch axis when not batched: N = 1)."""
        cdef Py_buffer v[3]
        cdef int n = 0, flags = PyBUF_C_CONTIGUOUS | PyBUF_FORMAT | PyBUF_WRITABLE
        cdef Py_ssize_t D = self.D, H = self.H, P = self.P, S = self.D * self.n_layers
        cdef Py_ssize_t k, item = 8 if self.f64 else 4
        cdef size_t between = _round64(<size_t>(rows * D * P * item))
        cdef char* scratch = NULL
        cdef char* cn_ptr = NULL
        cdef Call c
        cdef Layer layer
        out = self.empty(shape + (D * P,), self.dtype)
        cdef tuple rows_of = (S, N)
        if not batched:
            rows_of = (S,)
        hn = self.empty(rows_of + (P,), self.dtype)
        cn = self.empty(rows_of + (H,), self.dtype) if self.lstm else None
        try:
            PyObject_GetBuffer(out, &v[n], flags)
            n += 1
            PyObject_GetBuffer(hn, &v[n], flags)
            n += 1
            if self.lstm:
                PyObject_GetBuffer(cn, &v[n], flags)
                n += 1
                cn_ptr = <char*>v[2].buf
            if self.n_layers > 1:
                # outputs of the layers before the last, two buffers in turn
                scratch = <char*>fastrnn_scratch_take(2 * between)
                if scratch == NULL:
                    raise MemoryError(f"cannot allocate {2 * between} bytes between layers")
            c.lens, c.offs, c.L, c.N, c.rows = lens, offs, L, N, rows
            c.batch_major = batch_major
            for k in range(self.n_layers):
                layer = self.layers[k]
                c.x = x_ptr
                c.out = (v[0].buf if k == self.n_layers - 1
                         else scratch + (k % 2) * between)
                c.h0 = h0_ptr + k * D * N * P * item if h0_ptr != NULL else NULL
                c.c0 = c0_ptr + k * D * N * H * item if c0_ptr != NULL else NULL
                c.hn = <char*>v[1].buf + k * D * N * P * item
                c.cn = cn_ptr + k * D * N * H * item if cn_ptr != NULL else NULL
                run_layer(&layer.spec, &c, self.f64)
                x_ptr = <char*>c.out
            return out, hn, cn
        finally:
            for k in range(n):
                PyBuffer_Release(&v[k])
            fastrnn_scratch_give(scratch)

    def __reduce__(self):
        raise TypeError("a Stack is rebuilt with its model, not pickled")


cdef int _acquire(obj, Py_buffer* view, int flags, int ndim, char code, str name) except -1:
    """A buffer export of obj (C-contiguous; writable when flags ask) whose
    format is `code` and, when ndim > 0, with ndim dimensions."""
    if obj is None:
        raise ValueError(f"Layer.run: {name} is required")
    PyObject_GetBuffer(obj, view, flags)
    if not _is_format(view.format, code) or (ndim and view.ndim != ndim):
        got = view.format.decode() if view.format != NULL else "?"
        nd = view.ndim
        PyBuffer_Release(view)
        raise ValueError(f"Layer.run: {name} must be a {ndim or '2- or 3'}-D array of "
                         f"format '{chr(code)}', got {nd}-D of format '{got}'")
    return 0


cdef int _check_dims(const Py_buffer* v, str name, Py_ssize_t a, Py_ssize_t b,
                     Py_ssize_t c) except -1:
    if v.shape[0] != a or v.shape[1] != b or v.shape[2] != c:
        raise ValueError(f"Layer.run: {name} must have shape ({a}, {b}, {c}), got {_shape_str(v)}")
    return 0


cdef int _check_rows(const Py_buffer* v, str name, Py_ssize_t rows, Py_ssize_t width) except -1:
    """(rows, width), or 3-D (a, b, width) with a * b = rows."""
    if v.ndim == 2 and v.shape[0] == rows and v.shape[1] == width:
        return 0
    if v.ndim == 3 and v.shape[0] * v.shape[1] == rows and v.shape[2] == width:
        return 0
    raise ValueError(f"Layer.run: {name} must have shape ({rows}, {width}) (or 3-D with "
                     f"{rows} rows), got {_shape_str(v)}")


def sigmoid_f32(const float[::1] x, float[::1] out):
    """out = sigmoid(x) with the kernels' float32 sigmoid (exposed for its tests)."""
    if x.shape[0] != out.shape[0]:
        raise ValueError(f"x and out must have the same length, got {x.shape[0]} and {out.shape[0]}")
    if x.shape[0]:
        with nogil:
            _isa.sigmoid_array(&x[0], &out[0], x.shape[0])


def tanh_f32(const float[::1] x, float[::1] out):
    """out = tanh(x) with the kernels' float32 tanh (exposed for its tests)."""
    if x.shape[0] != out.shape[0]:
        raise ValueError(f"x and out must have the same length, got {x.shape[0]} and {out.shape[0]}")
    if x.shape[0]:
        with nogil:
            _isa.tanh_array(&x[0], &out[0], x.shape[0])
