# The per-call entry points (rnn_layer, lstm_layer, gru_layer): every shape checked on each call.
# Included by fastrnn/_kernels.pyx (one extension module).

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
