# The layer loops of one direction: scalar activations, the products, the RNN direction, the LSTM and GRU cells and directions, and their shape checks.
# Included by fastrnn/_kernels.pyx (one extension module).

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
cdef void input_projection(const fastrnn_isa* isa, const floating* x__ri, Py_ssize_t x_ld,
                           const floating* w__mi, floating* out__rm, Py_ssize_t out_ld,
                           Py_ssize_t rows, Py_ssize_t M, Py_ssize_t I, float* packed=NULL,
                           const uint16_t* amx=NULL, uint16_t* amx_split=NULL,
                           bint dot=False) noexcept nogil:
    """out[:, :M] = x @ w.T for `rows` rows of x (x_ld apart) and of out (out_ld apart).

    dot (float32 only): on isa.dot_step, w as it is (a call of one step).

    packed (float32 only, may be NULL): room for isa.packed_size(M, I)
    floats; w is packed there and the product runs on fastrnn's step kernel,
    whose sum for each output is taken in one order wherever its column
    lies, in chunks of rows whose x fits in L2 (PROJECT_CHUNK_BYTES; a last
    chunk of one row joins the one before, so that the chunks depend only on
    the number of rows). OpenBLAS's sums change order with a column's place
    (its Haswell kernels do), and the split of hidden units between threads
    computes the columns of each slice apart: calls whose recurrent products
    run on the packed kernel project on it too, so that a split and
    concurrent calls give one thread's bits on every BLAS.
    amx (float32 only, may be NULL) is w packed by fastrnn_amx_pack,
    amx_split the split scratch: the product then runs on AMX tiles (see
    _amx.h), but for each row holding a value that is not finite (alone, in
    float32: a row's bits do not depend on the other rows).
    """
    cdef Py_ssize_t done, chunk
    if floating is float and amx != NULL:
        while rows > 0:
            done = fastrnn_amx_matmul(x__ri, x_ld, rows, I, amx, M, out__rm, out_ld, False, amx_split,
                                      False)
            if done == rows:
                return
            # row `done` holds a value that is not finite
            input_projection(isa, x__ri + done * x_ld, x_ld, w__mi, out__rm + done * out_ld,
                             out_ld, 1, M, I)
            x__ri += (done + 1) * x_ld
            out__rm += (done + 1) * out_ld
            rows -= done + 1
        return
    if floating is float:
        if dot:
            isa.dot_step(w__mi, I, x__ri, x_ld, out__rm, out_ld, rows, M, I, False)
            return
        if packed != NULL:
            chunk = 6 * max(1, PROJECT_CHUNK_BYTES // (24 * I))
            while rows > 0:
                done = rows if rows <= chunk + 1 else chunk
                isa.recurrent_step(packed, x__ri, x_ld, out__rm, out_ld, done, M, I, False, False)
                x__ri += done * x_ld
                out__rm += done * out_ld
                rows -= done
            return
    if rows == 1:
        # (OpenBLAS's gemm packs w even for one row on cores without
        # small-matrix kernels; its gemv reads w as it is). out is zeroed
        # first: out may hold anything, a NaN among it, and not every
        # OpenBLAS leaves y alone at beta = 0.
        memset(out__rm, 0, M * sizeof(floating))
        if floating is float:
            scipy_cblas_sgemv(CblasRowMajor, CblasNoTrans, <int>M, <int>I,
                              1.0, w__mi, <int>I, x__ri, 1, 0.0, out__rm, 1)
        else:
            scipy_cblas_dgemv(CblasRowMajor, CblasNoTrans, <int>M, <int>I,
                              1.0, w__mi, <int>I, x__ri, 1, 0.0, out__rm, 1)
    elif floating is float:
        scipy_cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans,
                          <int>rows, <int>M, <int>I, 1.0, x__ri, <int>x_ld,
                          w__mi, <int>I, 0.0, out__rm, <int>out_ld)
    else:
        scipy_cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasTrans,
                          <int>rows, <int>M, <int>I, 1.0, x__ri, <int>x_ld,
                          w__mi, <int>I, 0.0, out__rm, <int>out_ld)


cdef bint project_steps(const fastrnn_isa* isa, const floating* x, const floating* w,
                        floating* gx, Py_ssize_t gx_ld, Py_ssize_t L, Py_ssize_t N,
                        Py_ssize_t rows, bint batch_major, Py_ssize_t M, Py_ssize_t I,
                        float* packed, const uint16_t* amx, uint16_t* amx_split,
                        bint dot=False, bint packed_ready=False, bint count=True) noexcept nogil:
    """gx[:, :M] = x @ w.T for every row; returns whether gx's rows are time-major.

    On the packed kernel or AMX (w packed once for the whole projection) batch-major
    x (N > 1) is projected into time-major rows, so that the cells read each step's
    rows as one block rather than rows L apart (tools/perf_notes.md, input
    projection): by step, N rows L*I apart, when N >= 6, else by sequence, L rows
    into rows N*gx_ld apart. OpenBLAS packs w again at every call: there, and for
    time-major or packed rows, one call in x's order. `packed` has room for w packed
    (see input_projection), or holds it already (packed_ready: a frozen Layer's);
    dot: on isa.dot_step (see input_projection). count: one projection for
    packed_projections (a split frozen slice projects once per gate block)."""
    cdef Py_ssize_t t, n
    if packed != NULL and amx == NULL:  # (on AMX the packed copy would go unused)
        if not packed_ready:
            isa.pack(<const float*>w, M, I, packed)
        if count:
            fastrnn_count(&_packed_projections)
    if not batch_major or N == 1 or (packed == NULL and amx == NULL):
        input_projection(isa, x, I, w, gx, gx_ld, rows, M, I, packed, amx, amx_split, dot)
        return not batch_major or N == 1
    if N >= 6:
        for t in range(L):
            input_projection(isa, x + t * I, L * I, w, gx + t * N * gx_ld, gx_ld, N, M, I,
                             packed, amx, amx_split)
    else:
        for n in range(N):
            input_projection(isa, x + n * L * I, I, w, gx + n * gx_ld, N * gx_ld, L, M, I,
                             packed, amx, amx_split)
    return True


cdef void hidden_product(const fastrnn_isa* isa, const float* packed, const floating* w__mk,
                         const floating* h__nk,
                         Py_ssize_t h_ld, floating* c__nm, Py_ssize_t c_ld, Py_ssize_t N,
                         Py_ssize_t M, Py_ssize_t K, bint accumulate,
                         Py_ssize_t step, const uint16_t* amx=NULL,
                         uint16_t* amx_split=NULL, bint dot=False) noexcept nogil:
    """c[:, :M] (+)= h[:, :K] @ w.T for N rows, w (M, K) with rows K apart.

    dot (float32 only): on isa.dot_step, w as it is (a call of one step).

    step: the time step's index; the packed kernel takes its columns
    backwards on odd steps (w then stays in L1 from one step to the next as
    far as it fits; the results do not change).

    packed (float32 only, may be NULL) is w packed by isa.pack: fastrnn's
    own step kernel then replaces BLAS. Without accumulate c is overwritten
    (OpenBLAS does not read c at beta = 0). amx, amx_split: as for
    input_projection (then packed is NULL); a row of h holding a value that
    is not finite runs alone on BLAS.
    """
    cdef floating beta = 1 if accumulate else 0
    cdef Py_ssize_t done, chunk
    if floating is float and amx != NULL:
        while N > 0:
            done = fastrnn_amx_matmul(h__nk, h_ld, N, K, amx, M, c__nm, c_ld, accumulate, amx_split,
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
    if floating is float and dot:
        isa.dot_step(w__mk, K, h__nk, h_ld, c__nm, c_ld, N, M, K, accumulate)
    elif floating is float and packed != NULL:
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
        const fastrnn_isa* isa, floating* out__ro, const Steps* s,
        const floating* w_hh__hh, const float* w_hh_packed,
        const floating* b_ih__h, const floating* b_hh__h, floating* state__nh, Py_ssize_t H,
        int act, floating alpha, floating beta, floating clip,
        const uint16_t* amx_hh, uint16_t* amx_split) noexcept nogil:
    """Run one direction of one layer over all steps.

    out__ro points at this direction's first column of the output, which
    holds the input projection x @ w_ih.T (input_projection): rows
    s.out_row apart, in the input's row order. w_hh_packed (float32 only,
    may be NULL) is w_hh packed by isa.pack: the recurrent product then
    uses fastrnn's own step kernel instead of BLAS. amx_hh (may be NULL):
    w_hh packed for AMX (see input_projection). state__nh holds h_{t-1}
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

    for step in range(s.L):
        t = s.L - 1 - step if s.reverse else step
        c__nh = out__ro + _out_at(s, t)
        # Also at t=0 with a zero h0: torch does, and Inf/NaN in w_hh then
        # propagate at the same step as in torch.
        # c += h @ w_hh.T
        rows = _rows_at(s, t)
        if rows > 0:
            hidden_product(isa, w_hh_packed, w_hh__hh, h_prev__nh, h_prev_ld, c__nh, s.out_row,
                           rows, H, H, True, step, amx_hh, amx_split, s.dot)
            hidden_activation(isa, c__nh, rows, s.out_row, H, b_ih__h, b_hh__h, act, alpha, beta,
                              clip)
        finish_step(c__nh, s, t, rows, state__nh, H, &h_prev__nh, &h_prev_ld)
    if s.lens == NULL:
        copy_rows(state__nh, H, c__nh, s.out_row, s.N, H)


# ---------------------------------------------------------------- LSTM and GRU
cdef struct Gates:
    # How one direction's cell turns pre-activations into gates.
    int act[3]          # LSTM (f, g, h) / GRU (f, g) activation codes
    double alpha[3]
    double beta[3]
    double clip         # INFINITY: off
    bint input_forget   # LSTM: f = 1 - i
    bint linear_before_reset  # GRU: torch's n gate (r applied after the product)
    bint fast           # float32 sigmoid/tanh(/tanh) without clip etc.: the isa's cells
    bint force_fused    # the fused one-row steps wherever they apply (path "fused")
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
        if g.input_forget:
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
    bint dot                       # float32 products on w as it is (a call of one step)


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


cdef inline void copy_rows(floating* dst, Py_ssize_t dst_ld, const floating* src,
                           Py_ssize_t src_ld, Py_ssize_t rows, Py_ssize_t width) noexcept nogil:
    """h_n from the last step's output rows (without lengths): `rows` rows of
    `width` values, every direction and slice alike."""
    cdef Py_ssize_t n
    for n in range(rows):
        memcpy(dst + n * dst_ld, src + n * src_ld, width * sizeof(floating))


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


cdef struct Ahead:
    # The input projection inside a one-row direction's steps (isa.row_step_ahead):
    # the rows of travel steps 4b..4b+3 (block b) are projected during the four
    # steps of block b - 1, block 0 before the first step.
    const float* packed_ih     # w_ih packed by the call's isa (M x I)
    const float* x             # the input, rows I apart
    float* xt                  # (4 I) the next block's rows side by side (fastrnn_ahead_rows)
    Py_ssize_t In, M           # features, gate columns
    Py_ssize_t panels          # panels of packed w_ih (isa.packed_size(M, 1) / (2 lanes))


cdef inline void _ahead_rows(const Ahead* a, const Steps* s, Py_ssize_t block, float* gx__rg,
                             fastrnn_ahead* rows) noexcept nogil:
    """Block `block` of the travel order as rows of x and gx (lowest row first)."""
    cdef Py_ssize_t n = min(4, s.L - 4 * block)
    cdef Py_ssize_t lo = s.L - 4 * block - n if s.reverse else 4 * block
    rows.packed = a.packed_ih
    rows.x = a.x + lo * a.In   # (row_step_ahead takes a.xt, built from these rows)
    rows.gx = gx__rg + _gx_at(s, lo)
    rows.gx_ld = s.gx_step
    rows.rows = n
    rows.M = a.M
    rows.K = a.In


cdef void ahead_first(const fastrnn_isa* isa, const Ahead* a, const Steps* s,
                      float* gx__rg) noexcept nogil:
    """The projection of block 0, before the first step (the row blocks' kernel)."""
    cdef fastrnn_ahead r
    _ahead_rows(a, s, 0, gx__rg, &r)
    isa.recurrent_step(a.packed_ih, r.x, a.In, r.gx, r.gx_ld, r.rows, a.M, a.In, False, False)


cdef void ahead_step(const fastrnn_isa* isa, Ahead* a, const Steps* s, Py_ssize_t step,
                     const float* packed_hh, const float* h_prev, float* gh, float* gx__rg,
                     Py_ssize_t M, Py_ssize_t K) noexcept nogil:
    """gh = h_prev @ w_hh.T (M x K, packed) for travel step `step`, with the panels
    of quarter step % 4 of block step // 4 + 1's projection among its sums."""
    cdef fastrnn_ahead r
    cdef Py_ssize_t block = step // 4 + 1, part = step % 4
    if 4 * block >= s.L:
        isa.recurrent_step(packed_hh, h_prev, K, gh, M, 1, M, K, False, step & 1)
        return
    _ahead_rows(a, s, block, gx__rg, &r)
    if part == 0:
        fastrnn_ahead_rows(r.x, a.In, r.rows, a.In, a.xt)
    r.x = a.xt
    r.p0 = part * a.panels // 4
    r.p1 = (part + 1) * a.panels // 4
    isa.row_step_ahead(packed_hh, h_prev, gh, M, K, step & 1, &r)


cdef void lstm_direction(
        const floating* gx__rg, floating* out__ro, const Steps* s,
        const floating* w_hh__gp, const float* w_hh_packed,
        const floating* w_hr__ph, const float* w_hr_packed,
        const floating* b__g, const floating* peep__3h,
        floating* h__np, floating* c__nh, floating* gh__ng, floating* hc__nh,
        Py_ssize_t H, Py_ssize_t P, const Gates* g, bint fused, Ahead* ahead,
        const uint16_t* amx_hh, const uint16_t* amx_hr, uint16_t* amx_split) noexcept nogil:
    """Run one LSTM direction over all steps.

    gx__rg: this direction's input projection (x @ w_ih.T) in the input's row
    order, or room for it that the steps fill (ahead, see ahead_first);
    h__np, c__nh: h0, c0 on entry, h_n, c_n on exit. gh__ng (N, 4H) and
    hc__nh (N, H, with w_hr only: o * h(c) before the projection) are scratch.
    w_hr__ph may be NULL; the packed copies (float32) may be NULL, and so
    may the copies packed for AMX (amx_hh, amx_hr; see input_projection).
    fused: one row's steps on the isa's fused step and cell (_fused_row).
    """
    cdef Py_ssize_t step, t, n, rows, G = 4 * H
    cdef Py_ssize_t N = s.N
    cdef const floating* gx
    cdef floating* out = out__ro
    cdef const floating* h_prev = h__np
    cdef Py_ssize_t h_prev_ld = P
    if fused:
        fastrnn_count(&_fused_calls)
    if floating is float and ahead != NULL:
        ahead_first(g.isa, ahead, s, <float*>gx__rg)
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
        if ahead != NULL:
            # gh = h_{t-1} @ w_hh.T, and a quarter of the next block's projection
            ahead_step(g.isa, ahead, s, step, w_hh_packed, <const float*>h_prev,
                       <float*>gh__ng, <float*>gx__rg, G, P)
        elif rows > 0:
            # gh = h_{t-1} @ w_hh.T, all four gates in one product
            hidden_product(g.isa, w_hh_packed, w_hh__gp, h_prev, h_prev_ld, gh__ng, G, rows, G, P,
                           False, step, amx_hh, amx_split, s.dot)
        for n in range(rows):
            if n + 1 < rows:
                # the next row's gx: from L3 at large batches (tools/perf_notes.md, cells)
                fastrnn_prefetch(gx + (n + 1) * s.gx_row, G * sizeof(floating))
            if s.lens != NULL and t >= s.lens[n]:
                continue
            lstm_cell(gx + n * s.gx_row, gh__ng + n * G, b__g, peep__3h, c__nh + n * H,
                      hc__nh + n * H if w_hr__ph != NULL else out + n * s.out_row, H, g)
        if w_hr__ph != NULL and rows > 0:
            # out = hc @ w_hr.T (rows that did not run are zeroed below)
            hidden_product(g.isa, w_hr_packed, w_hr__ph, hc__nh, H, out, s.out_row, rows, P, H, False,
                           step, amx_hr, amx_split, s.dot)
        finish_step(out, s, t, rows, h__np, P, &h_prev, &h_prev_ld)
    if s.lens == NULL:
        copy_rows(h__np, P, out, s.out_row, N, P)


cdef void gru_direction(
        const floating* gx__rg, floating* out__ro, const Steps* s,
        const floating* w_hh__gh, const float* w_hh_packed, const float* w_hn_packed,
        const floating* b__g, const floating* b_hn__h,
        floating* h__nh, floating* gh__ng, floating* rh__nh,
        Py_ssize_t H, const Gates* g, bint fused, Ahead* ahead,
        const uint16_t* amx_hh, const uint16_t* amx_hn, uint16_t* amx_split) noexcept nogil:
    """Run one GRU direction over all steps.

    As lstm_direction (ahead only with linear_before_reset); b__g holds b_ih + b_hh for r and z, and for n b_in
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
    if fused:
        fastrnn_count(&_fused_calls)
    if floating is float and ahead != NULL:
        ahead_first(g.isa, ahead, s, <float*>gx__rg)
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
        elif g.linear_before_reset:
            if ahead != NULL:
                # gh = h_{t-1} @ w_hh.T, and a quarter of the next block's projection
                ahead_step(g.isa, ahead, s, step, w_hh_packed, <const float*>h_prev,
                           <float*>gh__ng, <float*>gx__rg, G, H)
            else:
                # gh = h_{t-1} @ w_hh.T, all three gates in one product
                hidden_product(g.isa, w_hh_packed, w_hh__gh, h_prev, h_prev_ld, gh__ng, G, rows,
                               G, H, False, step, amx_hh, amx_split, s.dot)
            for n in range(rows):
                if n + 1 < rows:
                    fastrnn_prefetch(gx + (n + 1) * s.gx_row, G * sizeof(floating))
                if s.lens == NULL or t < s.lens[n]:
                    gru_cell(gx + n * s.gx_row, gh__ng + n * G, b__g, b_hn__h,
                             h_prev + n * h_prev_ld, out + n * s.out_row, H, g)
        else:
            # gh[:, :2H] = h_{t-1} @ w_hh[:2H].T (r and z)
            hidden_product(g.isa, w_hh_packed, w_hh__gh, h_prev, h_prev_ld, gh__ng, G, rows, 2 * H, H,
                           False, step, amx_hh, amx_split, s.dot)
            # every row, so that the product below reads no stale rows
            for n in range(rows):
                gru_reset(gx + n * s.gx_row, gh__ng + n * G, b__g, h_prev + n * h_prev_ld,
                          rh__nh + n * H, H, g)
            # gh[:, 2H:] = (r * h_{t-1}) @ w_hh[2H:].T
            hidden_product(g.isa, w_hn_packed, w_hh__gh + 2 * H * H, rh__nh, H, gh__ng + 2 * H, G,
                           rows, H, H, False, step, amx_hn, amx_split, s.dot)
            for n in range(rows):
                if s.lens == NULL or t < s.lens[n]:
                    gru_update(gx + n * s.gx_row, gh__ng + n * G, b__g,
                               h_prev + n * h_prev_ld, out + n * s.out_row, H, g)
        finish_step(out, s, t, rows, h__nh, H, &h_prev, &h_prev_ld)
    if s.lens == NULL:
        copy_rows(h__nh, H, out, s.out_row, N, H)
