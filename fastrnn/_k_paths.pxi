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
cdef long long _rows_run = 0


def path_calls():
    """Layer calls run on each path since import: {path: count}."""
    return {_tables[k].name.decode(): _calls_on[k] for k in range(_n_tables)}


def fused_calls():
    """Directions run on the fused one-row steps since import."""
    return _fused_calls


def ahead_calls():
    """Directions whose input projection ran inside their one-row steps since import."""
    return _ahead_calls


def packed_projections():
    """LSTM and GRU input projections run on the packed kernel since import (one
    per direction, or per slice of a split call)."""
    return _packed_projections


def packed_steps():
    """Directions (of calls that did not split) whose recurrent products ran on
    the packed step kernel since import."""
    return _packed_steps


def dot_calls():
    """Directions whose products ran on w as it is (dot_step) since import."""
    return _dot_calls


def frozen_calls():
    """Directions whose products ran on a frozen Layer's weights, packed when it
    was built, since import."""
    return _frozen_calls


def rows_run():
    """Rows (time step, batch item) given to layer calls since import, summed over calls."""
    return _rows_run


def common_calls():
    """Model calls since import that the Stack ran as they came (its common path)."""
    return _common_calls


def split_calls():
    """Layer calls whose hidden units were split between threads since import."""
    return _split_calls


def _init_isa():
    import os
    set_isa(os.environ.get("FASTRNN_ISA", "auto").strip().lower() or "auto")


_init_isa()


cdef inline bint _fused_lstm(const fastrnn_isa* isa, Py_ssize_t H, bint forced) noexcept nogil:
    """Whether a float32 LSTM row of H units (no projection) takes the fused
    one-row step on this path (measured: tools/perf_notes.md, fused steps), or
    wherever the kernel can when forced (path "fused")."""
    return H % isa.fused_units == 0 and (forced or isa.fused_auto and H <= 64)


cdef inline bint _fused_gru(const fastrnn_isa* isa, Py_ssize_t H, bint forced) noexcept nogil:
    """As _fused_lstm, for a GRU with linear_before_reset."""
    return H % isa.fused_units == 0 and (forced or isa.fused_auto and H != 64)


# Whether OpenBLAS packs both operands of every sgemm, however small: every
# x86-64 core but SkylakeX and its successors, which have small-matrix kernels
# that multiply up to 100**3 multiply-adds in place. On such a core a short call
# on OpenBLAS packs w_hh at every step (and w_ih once), so the packed kernel is
# faster there from one step of two rows (tools/perf_notes.md, "auto" for short
# calls by OpenBLAS's core). Off x86-64 (not measured) the rule stays L*N >= 8.
cdef bint _blas_repacks = False


def _core_repacks(core):
    """Whether OpenBLAS core `core` packs at every call (see _blas_repacks)."""
    import platform
    return (platform.machine().lower() in ("x86_64", "amd64")
            and core.lower() not in ("skylakex", "cooperlake", "sapphirerapids"))


def blas_core():
    """The core OpenBLAS runs its kernels for ("Haswell", "Zen", "SkylakeX", ...)."""
    cdef char* name = scipy_openblas_get_corename()
    return name.decode() if name != NULL else "unknown"


_blas_repacks = _core_repacks(blas_core())


def blas_repacks():
    """Whether "auto" decides short calls as for an OpenBLAS core that packs its
    operands at every call (one without small-matrix kernels); see use_packed_step."""
    return _blas_repacks


def set_blas_repacks(on):
    """Make "auto" decide as if OpenBLAS's core had (on: False) or lacked (on:
    True) small-matrix kernels; returns the previous setting. For tests: set it
    between calls, not during one."""
    global _blas_repacks
    previous = _blas_repacks
    _blas_repacks = bool(on)
    return previous


cdef bint _use_packed(const fastrnn_isa* isa, Py_ssize_t L, Py_ssize_t N,
                      Py_ssize_t H) noexcept nogil:
    if isa.packed_auto == 0:
        return False
    if L * N >= 8:
        return True
    return _blas_repacks and (N >= 2 or L >= 2 and H <= 64)


cdef inline bint _use_packed_frozen(const fastrnn_isa* isa) noexcept nogil:
    # A frozen layer's weights are packed already: the packed kernel measured
    # faster than OpenBLAS (sgemv, the small-matrix kernels) and than dot_step
    # for every call of every kind, one step of one row included, on the avx512
    # and avx2 paths (tools/perf_notes.md, "Frozen weights").
    return isa.packed_auto != 0


cpdef bint use_packed_step(Py_ssize_t L, Py_ssize_t N, Py_ssize_t H, bint frozen=False):
    """Whether "auto" runs a float32 call's recurrent products (L steps of N
    rows, H hidden units) on the packed step kernel, on the current path (isa()),
    for a layer whose weights are live, or frozen (packed once: every call on a
    path whose packed_auto is on).

    The packed kernel is faster than OpenBLAS for every N >= 2 up to H=1024
    and at N=1 too, where w_hh is beyond L2 as well (it sweeps w_hh backwards
    on odd steps, so what it read last is still in L2); the measurements are in
    tools/perf_notes.md ("auto" rule, packed step kernel; tools/bench_step.py).
    Packing costs one pass over w_hh per call, so short runs (L*N < 8) stay on
    BLAS where its small-matrix kernels multiply without packing; where
    OpenBLAS packs at every call instead (blas_repacks()), they take the packed
    kernel from one step of two rows, and at one row from two steps up to 64
    hidden units (one step of one row is faster on OpenBLAS's sgemv). Every call
    where the path's packed_auto is off (the baseline vectors of x86-64: SSE2)
    stays on BLAS.
    """
    if frozen:
        return _use_packed_frozen(_isa)
    return _use_packed(_isa, L, N, H)


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
    s.dot = False
    return s

cdef inline void _gx_time_major(Steps* s, Py_ssize_t gx_ld) noexcept nogil:
    """The input projection scratch of s holds its rows in time-major order."""
    s.gx_step = s.N * gx_ld
    s.gx_row = gx_ld


cdef inline size_t _round64(size_t nbytes) noexcept nogil:
    return (nbytes + 63) & ~(<size_t>63)
