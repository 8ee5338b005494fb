# Which kernels a call takes: the ISA path, the fused one-row steps, the packed kernel, and the gated layers' checks.
# Included by fastrnn/_kernels.pyx (one extension module).

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

    The packed kernel is faster than OpenBLAS for every N >= 2 up to H=1024
    and at N=1 too, where w_hh is beyond L2 as well (it sweeps w_hh backwards
    on odd steps, so what it read last is still in L2); the measurements are in
    tools/perf_notes.md ("auto" rule, packed step kernel). Packing costs one
    pass over w_hh per call, so very short runs (L*N < 8) stay on BLAS. On the
    current path (isa()); never where the path's packed_auto is off (the
    baseline vectors of x86-64: SSE2).
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
    """Strides of a call's rows (packed rows are time-major); the input projection
    scratch in x's order until project_steps says otherwise (_gx_time_major)."""
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

cdef inline void _gx_time_major(Steps* s, Py_ssize_t gx_ld) noexcept nogil:
    """The input projection scratch of s holds its rows in time-major order."""
    s.gx_step = s.N * gx_ld
    s.gx_row = gx_ld


cdef inline size_t _round64(size_t nbytes) noexcept nogil:
    return (nbytes + 63) & ~(<size_t>63)
