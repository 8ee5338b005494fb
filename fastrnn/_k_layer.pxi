# Layer (one layer's weights, checked once) and Stack (a model's layers, forward's common call), buffer checks, the activations for tests.
# Included by fastrnn/_kernels.pyx (one extension module).

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
    the next run. kind is "rnn", "lstm" or "gru". Weights in torch's gate
    order, D <= 2 directions: w_ih (D, G*H, I), w_hh (D, G*H, P), b_ih and
    b_hh (D, G*H, both or None), LSTM only: w_hr (D, P, H) projecting h to P
    (torch's proj_size) and peep (D, 3, H) peepholes (p_i, p_f, p_o), or None.
    reverse (D,): whether direction d runs backwards. act, alpha, beta (D, K)
    (RNN: K = 1, also (D,); LSTM: 3, ONNX's f, g, h; GRU: 2, f, g): codes of
    ACTIVATIONS and their parameters. clip bounds every gate pre-activation
    when finite. option: LSTM input_forget (f = 1 - i), GRU
    linear_before_reset (torch's GRU: n = g(x W_in^T + b_in + r (h W_hn^T +
    b_hn)); without it, ONNX's default, n = g(x W_in^T + b_in + (r h) W_hn^T
    + b_hn)). recurrent picks how float32 computes h @ w_hh.T each step:
    "packed", "blas", "amx" or "auto" (the measured rule, use_packed_step);
    "fused" is "packed" with the fused one-row steps wherever they apply (one
    batch row, H a multiple of the path's block), "ahead" "packed" with the
    input projection inside the one-row steps wherever it applies (_ahead),
    "dot" every product on the weights as they are, nothing packed (what
    "auto" runs for some calls of one step: _dot), all three for tests and
    benchmarks.
    frozen: the weights are read-only arrays (refused otherwise) and stay as
    they are; their float32 packing for the current path is made here, once,
    and every call on that path not on AMX reads it: on one thread, or split
    between threads where the slices lie on whole panels of it
    (_slices_on_panels); model.freeze() builds such layers. "auto" then takes
    the packed kernel for every call, and splits calls as FROZEN_SPLIT_MIN_ROWS
    and FROZEN_SPLIT_MIN_MACS say.
    The dtype (float32 or float64) is the weights'.

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
    cdef float* frozen_block
    cdef readonly object kind, weights
    cdef readonly bint frozen

    def __cinit__(self):
        self.n_views = 0
        self.frozen_block = NULL

    def __dealloc__(self):
        cdef int k
        for k in range(self.n_views):
            PyBuffer_Release(&self.views[k])
        self.n_views = 0
        free(self.frozen_block)
        self.frozen_block = NULL

    def __init__(self, kind, w_ih, w_hh, b_ih=None, b_hh=None, w_hr=None, peep=None, *,
                 reverse, act, alpha, beta, double clip=INFINITY, bint option=False,
                 recurrent="auto", bint frozen=False):
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
        if len(shape) != 3 or not 1 <= shape[0] <= 2 or min(shape) < 1:
            raise ValueError(f"Layer: w_ih must have shape (D <= 2, {G}*hidden_size, input_size), "
                             f"got {shape}")
        if shape[1] % G:
            raise ValueError(f"Layer: w_ih must have {G}*hidden_size rows, got {shape[1]}")
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
            if not isinstance(arr, np.ndarray):
                raise ValueError(f"Layer: {name} must be a numpy array, got {type(arr).__name__}")
            if arr.shape != want:
                raise ValueError(f"Layer: {name} must have shape {want}, got {arr.shape}")
            if arr.dtype != dtype:
                raise ValueError(f"Layer: {name} must be {np.dtype(dtype)} as w_ih, got {arr.dtype}")
            if not arr.flags.c_contiguous:
                raise ValueError(f"Layer: {name} must be C-contiguous")
            if frozen and arr.flags.writeable:
                raise ValueError(f"Layer: a frozen layer's weights must be read-only arrays "
                                 f"(flags.writeable False); {name} is writeable")
        reverse = np.asarray(reverse, np.int32)
        if reverse.shape != (D,):
            raise ValueError(f"Layer: reverse must have shape ({D},), got {reverse.shape}")
        settings = []
        for name, value, kind_of in (("act", act, np.int32), ("alpha", alpha, np.float64),
                                     ("beta", beta, np.float64)):
            value = np.asarray(value, kind_of)
            if value.shape != (D, K) and not (K == 1 and value.shape == (D,)):
                raise ValueError(f"Layer: {name} must have shape ({D}, {K}), got {value.shape}")
            settings.append(value.reshape(D, K))
        act, alpha, beta = settings
        bad = np.argwhere((act < 0) | (act > ACT_SOFTPLUS))
        if bad.size:
            at = tuple(int(i) for i in bad[0])
            raise ValueError(f"Layer: unknown activation code {act[at]} at act[{at[0]}, {at[1]}]")
        cdef int d, k
        for d in range(D):
            self.reverse[d] = reverse[d]
            for k in range(3):
                self.gates[d].act[k] = act[d, k] if k < K else ACT_TANH
                self.gates[d].alpha[k] = alpha[d, k] if k < K else 0
                self.gates[d].beta[k] = beta[d, k] if k < K else 0
            self.gates[d].clip = clip
            self.gates[d].input_forget = option and k_kind == KIND_LSTM
            self.gates[d].linear_before_reset = option and k_kind == KIND_GRU
            self.gates[d].fast = False
            self.gates[d].force_fused = False
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
        self.spec.frozen_isa = NULL
        self.frozen = frozen
        if frozen and not self.f64:
            self._pack_once()

    cdef _pack_once(self):
        """Pack every direction's float32 weights for the current path, once:
        calls on that path read them (nothing packed per call); the weights are
        read-only, so the packing stays theirs."""
        cdef const fastrnn_isa* isa = _isa
        cdef Spec* s = &self.spec
        cdef Py_ssize_t first, d, G = s.G * s.H
        cdef Py_ssize_t n_ih = _round64(isa.packed_size(G, s.In) * 4) // 4
        cdef Py_ssize_t n_hh = _round64(_packed_recurrent_floats(isa, s, &first) * 4) // 4
        cdef void* block = NULL
        if posix_memalign(&block, 64, <size_t>(s.D * (n_ih + n_hh)) * sizeof(float)) != 0:
            raise MemoryError(f"cannot allocate {s.D * (n_ih + n_hh) * 4} bytes for a frozen "
                              "layer's packed weights")
        self.frozen_block = <float*>block
        with nogil:
            for d in range(s.D):
                s.frozen_ih[d] = self.frozen_block + d * (n_ih + n_hh)
                s.frozen_hh[d] = s.frozen_ih[d] + n_ih
                isa.pack(<const float*>s.w_ih + d * G * s.In, G, s.In, <float*>s.frozen_ih[d])
                _pack_recurrent(isa, s, d, <float*>s.frozen_hh[d], first)
        s.frozen_isa = isa

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
            return _split_threads(&self.spec, _split_eligible(&self.spec, &c, self.f64))
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
                c.lens = _checked_lens(&v[n - 1], N, L, "Layer.run")
            c.L, c.N, c.batch_major = L, N, batch_major
            c.rows, c.offs = rows, NULL
            run_layer(&self.spec, &c, self.f64)
        finally:
            for k in range(n):
                PyBuffer_Release(&v[k])

    def __reduce__(self):
        raise TypeError("a Layer is rebuilt with its model, not pickled")


cdef const int* _checked_lens(const Py_buffer* v, Py_ssize_t N, Py_ssize_t L,
                              str fn) except? NULL:
    """The lengths in an acquired int32 buffer: N of them, each in 0..L."""
    cdef const int* lens = <const int*>v.buf
    cdef Py_ssize_t k
    if v.shape[0] != N or v.itemsize != 4:
        raise ValueError(f"{fn}: seq_lens must have shape ({N},), got {_shape_str(v)}")
    for k in range(N):
        if not 0 <= lens[k] <= L:
            raise ValueError(f"{fn}: seq_lens[{k}] = {lens[k]} is outside 0..{L}")
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

    forward(model, input, hx, lengths, batch_first) runs the model's call
    (model_forward, _k_call.pxi, is the way in): the common call (see
    _common) runs as it came; anything else
    is checked once by the model's named checks, cast and run
    (_checked_forward, _k_call.pxi). Either way the results are allocated
    here and every layer runs without the GIL, the outputs between layers in
    one raw scratch block, not in numpy arrays.

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

    cdef object forward(self, model, input, hx, lengths, bint batch_first):
        """model(input, hx, lengths=lengths): (output, h_n), (output, (h_n, c_n)) for LSTM."""
        if lengths is None:
            result = self._common(input, hx, batch_first)
            if result is not None:
                global _common_calls
                _common_calls += 1  # (the GIL held)
                return result
        return _checked_forward(self, model, input, hx, lengths, batch_first)

    cdef object _common(self, input, hx, bint batch_first):
        """The common call run as it came, or None: a C-contiguous input
        (batched or not) of the layers' dtype and width, without lengths, hx
        None or states exactly as forward returns them. Anything else is
        _checked_forward's."""
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

    cdef tuple _run_arrays(self, x, h0, c0, lens, Py_ssize_t L, Py_ssize_t N,
                           bint batch_major, bint packed):
        """_execute on arrays _checked_forward has checked and cast (C order,
        the layers' dtype): x (L, N, I) in the layout's order, or with packed
        the rows that run for lens (int32, decreasing); h0, c0 3-D or None."""
        cdef Py_buffer v[4]
        cdef int n = 0, k
        cdef Py_ssize_t rows = L * N
        cdef const int* lens_ptr = NULL
        cdef Py_ssize_t* offs = NULL
        cdef char* ptrs[3]
        try:
            for k, a in enumerate((x, h0, c0)):
                ptrs[k] = NULL
                if a is not None:
                    PyObject_GetBuffer(a, &v[n], PyBUF_C_CONTIGUOUS)
                    ptrs[k] = <char*>v[n].buf
                    n += 1
            if packed:
                PyObject_GetBuffer(lens, &v[n], PyBUF_C_CONTIGUOUS)
                n += 1
                lens_ptr = <const int*>v[n - 1].buf
                offs = _packed_offsets(lens_ptr, N, L)
                rows = offs[L]
            shape = (rows,) if packed else tuple(x.shape[:2])
            return self._execute(ptrs[0], shape, ptrs[1], ptrs[2], lens_ptr, offs, L, N, rows,
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


_ACTIVATIONS = {"sigmoid": 0, "tanh": 1, "cell_sigmoid": 2, "cell_tanh": 3}


def activation_f32(str name, const float[::1] x, float[::1] out):
    """out = the kernels' float32 activation `name` of x, on the current path
    (exposed for its tests): "sigmoid" and "tanh" (RNN cells), "cell_sigmoid"
    and "cell_tanh" (the fractions of the LSTM and GRU cells)."""
    if name not in _ACTIVATIONS:
        raise ValueError(f"activation must be one of {sorted(_ACTIVATIONS)}, got {name!r}")
    if x.shape[0] != out.shape[0]:
        raise ValueError(f"x and out must have the same length, got {x.shape[0]} and {out.shape[0]}")
    cdef int which = _ACTIVATIONS[name]
    if x.shape[0]:
        with nogil:
            _isa.activation_array(&x[0], &out[0], x.shape[0], which)
