# Running a call: the hidden-unit split between threads, AMX settings, the scratch of a call and run_layer.
# Included by fastrnn/_kernels.pyx (one extension module).

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
    bint frozen                # the layer's frozen packing read in place: its gate blocks' panels
    uint16_t* amx_ih           # room for its rows of w_ih packed for AMX, or NULL
    uint16_t* amx_hh           # room for its rows of w_hh packed for AMX, or NULL
    uint16_t* amx_split            # AMX split scratch (with amx_ih or amx_hh)
    bint f64
    long long starved_ns       # time waited at barriers past the spin budget


cdef struct Plan:
    # What one call runs, decided once by _plan, and where its scratch goes: one
    # block of `shared` bytes (every direction's gx), then one part of `per`
    # bytes for each worker (a direction, or a slice of the hidden units), each
    # buffer at its byte offset within the part (NO_ROOM: none).
    int threads                # slices of the hidden units (1: directions instead)
    bint parallel              # the two directions on two threads
    bint use_packed            # float32 recurrent products on the packed kernel
    bint dot                   # float32 products on w as it is, nothing packed (_dot)
    bint frozen                # on the frozen Layer's packed weights, nothing packed (one thread, or slices on whole panels)
    bint packed_input          # the input projection there too (_packed_input)
    bint ahead                 # and inside the one-row steps (_ahead)
    bint amx_steps, amx_input  # products on AMX tiles (_amx_steps, _amx_input)
    Py_ssize_t packed_first    # floats of the first packed matrix (w_hh or w_rz)
    size_t shared, per
    size_t at_gx               # slices: their own (rows, gates*U) projection
    size_t at_gh, at_bias, at_units, at_w, at_packed, at_packed_ih
    size_t at_amx_ih, at_amx_hh, at_amx_second, at_amx_split


cdef size_t NO_ROOM = <size_t>-1   # an offset that names no buffer


cdef inline void* _room(char* part, size_t at) noexcept nogil:
    return NULL if at == NO_ROOM else <void*>(part + at)


cdef inline size_t _reserve(size_t* end, size_t nbytes) noexcept nogil:
    """The offset of a buffer of nbytes at *end (64-byte aligned), or NO_ROOM for none."""
    if nbytes == 0:
        return NO_ROOM
    cdef size_t at = end[0]
    end[0] += _round64(nbytes)
    return at


cdef inline (Py_ssize_t, Py_ssize_t) _slice_units(Py_ssize_t H, Py_ssize_t T,
                                                   Py_ssize_t k) noexcept nogil:
    """(first unit, units) of slice k of T: whole 16-unit blocks, as evenly as they go."""
    cdef Py_ssize_t blocks = (H + 15) // 16
    cdef Py_ssize_t a = 16 * (k * blocks // T)
    cdef Py_ssize_t b = H if k == T - 1 else 16 * ((k + 1) * blocks // T)
    return a, b - a


cdef inline bint _frozen_here(const Spec* s, const Call* c) noexcept nogil:
    """Whether the layer's weights were packed once for the call's path (a
    frozen Layer on the path it was built on)."""
    return s.frozen_isa != NULL and s.frozen_isa == c.isa


cdef bint _slices_on_panels(const fastrnn_isa* isa, Py_ssize_t H, Py_ssize_t T) noexcept nogil:
    """Whether every slice of T (_slice_units) starts on a panel of isa's
    packing in every gate block (H and each slice's first unit multiples of
    the panel): then a slice's rows of a frozen packing are whole panels, read
    in place, one product per gate block (each column's sum is the same
    wherever its column lies in a product)."""
    cdef Py_ssize_t panel = 2 * isa.lanes, k
    if H % panel:
        return False
    for k in range(T):
        if _slice_units(H, T, k)[0] % panel:
            return False
    return True


cdef inline int _slices_for(const Spec* s) noexcept nogil:
    """Threads a call of a split-eligible shape splits between with the
    current setting (_split_threads), before pausing or other calls."""
    return <int>min(fastrnn_get_num_threads(), MAX_SLICES, s.H // 16)


cdef bint _packed_path(const Spec* s, const Call* c) except -1:
    """Whether a float32 call runs the recurrent product on the packed kernel."""
    if s.path == PATH_PACKED or s.path == PATH_FUSED or s.path == PATH_AHEAD:
        return True
    if s.path != PATH_AUTO:
        return False
    if _frozen_here(s, c):
        return _use_packed_frozen(c.isa)
    return _use_packed(c.isa, c.L, c.N, s.H)


# Features and hidden (projected) units up to which the projection can run
# inside the one-row steps (fastrnn_row_step_ahead_f32 sums both products in one
# slice of k, FASTRNN_KBLOCK, as the other kernels do up to there), and steps
# from which it does (two blocks of four).
DEF AHEAD_MAX_IN = 256
DEF AHEAD_MIN_L = 8


cdef bint _packed_input(const Spec* s, const Call* c, bint use_packed,
                        bint split_eligible) noexcept nogil:
    """Whether a float32 call whose steps run on the packed kernel (use_packed)
    projects its input there too (see input_projection): where that is the
    faster (I <= min(P, 128), and for LSTM and GRU layers up to the path's
    packed_input_max features, which holds every call "auto" projects inside
    its steps: each path's ahead_max_in is at most its packed_input_max;
    tools/perf_notes.md, input projection), on path "ahead" wherever it can
    project inside the steps (_ahead), and wherever a call of this shape
    splits its hidden units when it has threads: the slices must give one
    thread's bits, and whether a call splits depends on the thread setting and
    on other calls running, which the projection must not (split_eligible:
    _split_eligible of the call)."""
    if use_packed and _frozen_here(s, c):
        return True  # (w_ih is packed already: no pass over it to repay)
    return use_packed and (s.In <= s.P and s.In <= 128 or split_eligible
                           or s.kind != KIND_RNN and s.In <= c.isa.packed_input_max
                           or s.path == PATH_AHEAD and s.In <= AHEAD_MAX_IN)


def one_row_rules():
    """What "auto" runs at one batch row on the current path, for `fastrnn info`:
    (the fused one-row steps, the input projection inside the steps: None where
    it does not, else (input features from, to, steps from) where it does, up to
    256 hidden units)."""
    rule = (_isa.ahead_min_in, _isa.ahead_max_in, max(_isa.ahead_min_steps, AHEAD_MIN_L))
    return (bool(_isa.fused_auto), rule if _isa.ahead_max_in else None)


cdef bint _ahead(const Spec* s, const Call* c, bint packed_input, int threads,
                 bint amx_input) noexcept nogil:
    """Whether a float32 call on the packed kernel (packed_input) projects its
    input inside its steps (isa.row_step_ahead, see Ahead): one thread per
    direction (a split call projects before its steps, with the same bits),
    one batch row without lengths, an LSTM without projection or a GRU with
    linear_before_reset; on path "auto" where the path measured it faster
    (isa.ahead_min_in, ahead_max_in, ahead_min_steps; tools/perf_notes.md,
    "The projection inside the one-row step") and the projection would not run
    on AMX (amx_input: measured there, this not), on path "ahead" wherever it
    can. Path "packed" projects before the steps. Where it runs, the fused
    one-row steps (_fused_row) do not."""
    if not packed_input or threads != 1 or c.N != 1 or c.lens != NULL or c.offs != NULL:
        return False
    if c.L < AHEAD_MIN_L or s.In > AHEAD_MAX_IN or s.P > AHEAD_MAX_IN:
        return False
    if s.kind == KIND_LSTM and s.w_hr != NULL or s.kind == KIND_RNN:
        return False
    if s.kind == KIND_GRU and not s.gates[0].linear_before_reset:
        return False
    return s.path == PATH_AHEAD or (s.path == PATH_AUTO and c.L >= c.isa.ahead_min_steps
                                    and c.isa.ahead_min_in <= s.In <= c.isa.ahead_max_in
                                    and not amx_input)


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
# tools/perf_notes.md, AMX). Decided per call from L and N, not
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


# When a frozen layer's call splits (tools/perf_notes.md, "Frozen weights"). Its
# slices read the frozen packing where they lie on whole panels
# (_slices_on_panels); then a call of several rows splits from
# FROZEN_SPLIT_MIN_MACS multiply-adds (below, the threads' start and barriers
# measured 0.64-0.90x one thread's speed). Slices that do not lie on whole panels
# pack their rows of the weights at each call, a pass one thread does not make:
# such a call splits from FROZEN_SPLIT_MIN_ROWS rows (L*N; below, 0.15-1.3x).
DEF FROZEN_SPLIT_MIN_ROWS = 64
DEF FROZEN_SPLIT_MIN_MACS = 8000000


cdef bint _split_eligible(const Spec* s, const Call* c, bint f64) except -1:
    """Whether a call of this shape splits its hidden units when it has
    threads to (whatever set_num_threads says): unidirectional layers of
    large enough steps, on the packed kernel only, whose sums do not depend
    on the slice (OpenBLAS's may), so the results stay bitwise those of one
    thread (see _packed_input); for a frozen layer, as FROZEN_SPLIT_MIN_ROWS
    and FROZEN_SPLIT_MIN_MACS say, which depends on the thread setting through
    _slices_on_panels: its bits do not, since a frozen call projects on the
    packed kernel whether or not it may split (_packed_input)."""
    cdef Py_ssize_t steps = c.rows // c.L if c.L > 0 else 0  # rows per step, on average
    if f64 or s.D != 1 or s.w_hr != NULL or s.peep != NULL or min(MAX_SLICES, s.H // 16) < 2:
        return False
    if s.kind == KIND_GRU and not s.gates[0].linear_before_reset:
        return False  # (ONNX's GRU without linear_before_reset: not split)
    if not (_packed_path(s, c) or _amx_steps(s, c)):
        return False
    if _frozen_here(s, c):
        if not _slices_on_panels(c.isa, s.H, _slices_for(s)):
            if c.rows < FROZEN_SPLIT_MIN_ROWS:
                return False  # one thread reads the packing; slices would pack their rows
        elif c.rows >= 2 and c.rows * s.G * s.H * (s.P + s.In) < FROZEN_SPLIT_MIN_MACS:
            return False
    # (an RNN step has no gate cells to share: it counts half)
    return (c.rows * s.G * s.H * (s.P + s.In) >= PARALLEL_MIN_MACS
            and steps * s.G * s.H * s.P >= SLICE_MIN_STEP_MACS * (2 if s.kind == KIND_RNN else 1))


# Rows and weights from which "auto" runs a call of one step on w as it is: LSTM
# and GRU layers of 2..4 rows whose w_hh has at least 3 * 256 * 256 weights
# (H >= 256), up to the path's dot_max_macs. There it measured 1.1-1.7x the
# packed kernel (OpenBLAS's Haswell core) and 1.3-2.9x OpenBLAS (SkylakeX's);
# below H = 256, at one row and from 6 rows it was slower (tools/perf_notes.md,
# "Calls of one step").
DEF DOT_MIN_ROWS = 2
DEF DOT_MAX_ROWS = 4
DEF DOT_MIN_WEIGHTS = 3 * 256 * 256


cdef bint _dot_rule(const fastrnn_isa* isa, const Spec* s, Py_ssize_t N) noexcept nogil:
    cdef Py_ssize_t weights = s.G * s.H * s.P
    return (s.kind != KIND_RNN and DOT_MIN_ROWS <= N <= DOT_MAX_ROWS
            and weights >= DOT_MIN_WEIGHTS and N * weights <= isa.dot_max_macs)


def one_step_rule():
    """Where "auto" runs a float32 call of one step on the weights as they are,
    on the current path, for `fastrnn info`: None where it never does, else
    (rows from, rows to, w_hh weights from, multiply-adds per step up to)."""
    if _isa.dot_max_macs == 0 or _isa.packed_auto == 0:
        return None
    return (DOT_MIN_ROWS, DOT_MAX_ROWS, DOT_MIN_WEIGHTS, _isa.dot_max_macs)


cdef bint _dot(const Spec* s, const Call* c, bint split_eligible, bint amx) noexcept nogil:
    """Whether a float32 call runs every product on w as it is (isa.dot_step),
    packing nothing: path "dot" wherever it can, and "auto" for a call of one
    step (L = 1) where that measured faster than packing w for it
    (tools/perf_notes.md, "Calls of one step"). Not where the call may split (its
    slices' sums must be one thread's) nor where AMX runs the products."""
    if split_eligible:
        return False
    if s.path == PATH_DOT:
        return True
    return (s.path == PATH_AUTO and not amx and c.L == 1 and c.isa.packed_auto != 0
            and not _frozen_here(s, c) and _dot_rule(c.isa, s, c.N))


cdef int _split_threads(const Spec* s, bint split_eligible) noexcept nogil:
    """Threads a call splits its hidden units between when it runs alone, for a
    call whose shape splits (split_eligible: _split_eligible of the call), or 1."""
    cdef int threads = min(fastrnn_get_num_threads(), MAX_SLICES, s.H // 16)
    return threads if threads >= 2 and split_eligible else 1


cdef void run_slice(Slice* sl, floating* type_tag) noexcept nogil:
    """Every step of a unidirectional layer for the units of one slice."""
    cdef const Spec* s = sl.s
    cdef const Call* c = sl.c
    cdef Py_ssize_t L = c.L, N = c.N, H = s.H, P = s.P, I = s.In, a = sl.a, U = sl.U
    cdef Py_ssize_t gates = s.G, GU = s.G * sl.U, k, j, n, step, t, rows
    cdef bint time_major
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
    cdef long long start_wait = 0   # time waited at the start line (not counted)
    cdef Steps st = _steps(L, N, GU, P, c.batch_major, s.reverse[0] != 0, c.lens, c.offs)
    cdef uint16_t* amx_ih = NULL
    cdef uint16_t* amx_hh = NULL
    cdef Py_ssize_t M = U if s.kind == KIND_RNN else GU
    g.fast = floating is float and s.kind != KIND_RNN and _fast_cells(s, &g)
    g.isa = c.isa
    # a frozen layer's packing, read in place: the slice's panels in each gate block
    cdef bint frozen = floating is float and sl.frozen
    cdef const float* frozen_ih = s.frozen_ih[0] if frozen else NULL
    cdef const float* frozen_hh = s.frozen_hh[0] if frozen else NULL
    if s.kind == KIND_RNN:
        # one gate: the slice's rows of w_ih and w_hh are contiguous
        w_ih = <const floating*>s.w_ih + a * I
        w_hh = <const floating*>s.w_hh + a * H
    elif frozen:
        w_ih = <const floating*>s.w_ih  # (not read: the products run on the packing)
        w_hh = <const floating*>s.w_hh
    else:
        w_ih = <const floating*>sl.w
        w_hh = w_ih + GU * I
        for k in range(gates):
            memcpy(<floating*>w_ih + k * U * I, <const floating*>s.w_ih + (k * H + a) * I,
                   U * I * item)
            memcpy(<floating*>w_hh + k * U * P, <const floating*>s.w_hh + (k * H + a) * P,
                   U * P * item)
    if floating is float and not frozen:
        # as run_direction: each column's sums are those of one thread
        amx_ih = amx_packed(<const float*>w_ih, M, I, sl.amx_ih)
        amx_hh = amx_packed(<const float*>w_hh, M, P, sl.amx_hh)
    if s.kind == KIND_RNN:
        if frozen:
            input_projection(c.isa, x, I, w_ih, out + a, P, c.rows, U, I,
                             <float*>frozen_ih + a * I)
        else:
            if sl.packed != NULL and amx_ih == NULL:
                c.isa.pack(<const float*>w_ih, U, I, sl.packed)
            input_projection(c.isa, x, I, w_ih, out + a, P, c.rows, U, I, sl.packed, amx_ih,
                             sl.amx_split)
    else:
        fold_biases(s, g.linear_before_reset, b_ih, b_hh, a, U, bias)
        # as run_direction: on the packed kernel when the steps run on it
        if frozen:
            for k in range(gates):
                time_major = project_steps(c.isa, x, w_ih, gx + k * U, GU, L, N, c.rows,
                                           c.batch_major, U, I,
                                           <float*>frozen_ih + (k * H + a) * I, NULL,
                                           sl.amx_split, False, True, k == 0)
        else:
            time_major = project_steps(c.isa, x, w_ih, gx, GU, L, N, c.rows, c.batch_major, GU,
                                       I, sl.packed, amx_ih, sl.amx_split)
        if time_major:
            _gx_time_major(&st, GU)
    if floating is float and sl.packed != NULL and not frozen:
        c.isa.pack(<const float*>w_hh, U if s.kind == KIND_RNN else GU, P, sl.packed)
    for step in range(L):
        t = L - 1 - step if st.reverse else step
        o = out + _out_at(&st, t)
        rows = _rows_at(&st, t)
        if rows > 0:
            if s.kind == KIND_RNN:
                # out[:, a:a+U] += h_{t-1} @ w_hh[a:a+U].T
                hidden_product(c.isa, frozen_hh + a * H if frozen else sl.packed, w_hh, h_prev,
                               h_prev_ld, o + a, st.out_row, rows, U, H, True, step, amx_hh,
                               sl.amx_split)
            elif frozen:
                # gh[:, k*U:(k+1)*U] = h_{t-1} @ w_hh[k*H+a : k*H+a+U].T, per gate block
                for k in range(gates):
                    hidden_product(c.isa, frozen_hh + (k * H + a) * P, w_hh, h_prev, h_prev_ld,
                                   gh + k * U, GU, rows, U, P, False, step)
            else:
                hidden_product(c.isa, sl.packed, w_hh, h_prev, h_prev_ld, gh, GU, rows, GU, P, False,
                               step, amx_hh, sl.amx_split)
        if c.lens != NULL:
            # every thread has read h_{t-1} from the state rows, updated below
            fastrnn_barrier_wait(sl.barrier, &sense, &sl.starved_ns if step else &start_wait)
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
        fastrnn_barrier_wait(sl.barrier, &sense, &sl.starved_ns if step else &start_wait)
    if c.lens == NULL:
        copy_rows(hn + a, P, o + a, st.out_row, N, U)


cdef void* _slice_thread(void* arg) noexcept nogil:
    cdef Slice* sl = <Slice*>arg
    if fastrnn_start_wait(sl.start) < 0:
        return NULL
    if sl.f64:
        run_slice(sl, <double*>NULL)
    else:
        run_slice(sl, <float*>NULL)
    return NULL


cdef int _run_sliced(const Spec* s, const Call* c, const Plan* p,
                     floating* type_tag) except -1:
    """Run a unidirectional layer on p.threads threads, each owning a slice of
    the hidden units (its units and its part of the scratch: _plan). Returns
    0, or 1 without running anything when a thread could not be started."""
    cdef Py_ssize_t H = s.H, P = s.P, I = s.In, T = p.threads, k
    cdef Slice sl[MAX_SLICES]
    cdef pthread_t ids[MAX_SLICES]
    cdef fastrnn_barrier barrier
    cdef int threads_started = 0
    cdef char* base
    cdef char* part
    cdef int start = 0
    cdef long long t0, starved
    # A matrix with a weight that is not finite runs in float32 in every
    # slice, as in one thread (run_direction), not only in the slice holding it.
    cdef bint ih_finite = True, hh_finite = True
    if p.at_amx_ih != NO_ROOM:
        with nogil:
            ih_finite = fastrnn_amx_finite(<const float*>s.w_ih, s.G * H * I) != 0
    if p.at_amx_hh != NO_ROOM:
        with nogil:
            hh_finite = fastrnn_amx_finite(<const float*>s.w_hh, s.G * H * P) != 0
    cdef void* raw = fastrnn_scratch_take(T * p.per)
    if raw == NULL:
        raise MemoryError(f"cannot allocate {T * p.per} bytes of kernel scratch")
    base = <char*>raw
    fastrnn_barrier_init(&barrier, <int>T)
    if p.frozen:
        fastrnn_count(&_frozen_calls)
    try:
        with nogil:
            _init_states(s, c, 0, type_tag)
            for k in range(T):
                sl[k].s, sl[k].c, sl[k].barrier, sl[k].f64 = s, c, &barrier, floating is double
                sl[k].start = &start
                sl[k].starved_ns = 0
                sl[k].a, sl[k].U = _slice_units(H, T, k)
                part = base + k * p.per
                sl[k].gx = _room(part, p.at_gx)
                sl[k].gh = _room(part, p.at_gh)
                sl[k].bias = _room(part, p.at_bias)
                sl[k].w = _room(part, p.at_w)
                sl[k].packed = <float*>_room(part, p.at_packed)
                sl[k].frozen = p.frozen
                sl[k].amx_ih = <uint16_t*>_room(part, p.at_amx_ih) if ih_finite else NULL
                sl[k].amx_hh = <uint16_t*>_room(part, p.at_amx_hh) if hh_finite else NULL
                sl[k].amx_split = <uint16_t*>_room(part, p.at_amx_split)
            for k in range(1, T):
                if fastrnn_thread_start(&ids[k], _slice_thread, &sl[k], <int>k) != 0:
                    break
                threads_started += 1
            fastrnn_start_open(&start, 1 if threads_started == T - 1 else -1)
            t0 = fastrnn_now_ns()
            if threads_started == T - 1:
                run_slice(&sl[0], type_tag)
            for k in range(threads_started):
                pthread_join(ids[k + 1], NULL)
            if threads_started == T - 1:
                starved = 0
                for k in range(T):
                    starved += sl[k].starved_ns
                fastrnn_split_report(fastrnn_now_ns() - t0, starved, <int>T)
    finally:
        fastrnn_scratch_give(raw)
    return 0 if threads_started == T - 1 else 1


cdef int _plan(const Spec* s, const Call* c, bint alone, bint f64, Plan* p) except -1:
    """The one plan of a call: its path, its threads, whether its directions run
    at once, and every scratch offset (sizes bounded by the checks: L*N and
    D*G*H below 2**31, no wrap-around)."""
    cdef size_t item = 8 if f64 else 4, end = 0
    cdef Py_ssize_t N = c.N, D = s.D, G = s.G * s.H, H = s.H, P = s.P, I = s.In
    cdef Py_ssize_t U_max = 0, GU, M, k, packed = 0, amx_second = 0
    cdef bint gates = s.kind != KIND_RNN
    p.amx_steps = not f64 and _amx_steps(s, c)
    p.amx_input = not f64 and _amx_input(s, c)
    cdef bint split_eligible = _split_eligible(s, c, f64)
    p.dot = not f64 and _dot(s, c, split_eligible, p.amx_steps or p.amx_input)
    p.use_packed = not f64 and not p.amx_steps and not p.dot and _packed_path(s, c)
    p.packed_input = not f64 and _packed_input(s, c, p.use_packed, split_eligible)
    p.threads = _split_threads(s, split_eligible) if alone else 1
    if p.threads >= 2 and not fastrnn_split_allowed():
        p.threads = 1
    p.parallel = p.threads == 1 and alone and _parallel_directions(s, c)
    p.ahead = not f64 and _ahead(s, c, p.packed_input, p.threads, p.amx_input)
    # (slices read it where they lie on whole panels, else pack their own rows)
    p.frozen = (p.use_packed and _frozen_here(s, c)
                and (p.threads == 1 or _slices_on_panels(c.isa, H, p.threads)))
    if p.ahead:
        p.amx_input = False  # (path "ahead" on AMX: the projection is inside the steps)
    p.packed_first = 0
    p.at_amx_second = p.at_packed_ih = NO_ROOM
    if p.threads >= 2:
        # one part per slice: its projection, product, biases, rows of w_ih and
        # w_hh, their packing (w_ih's, then w_hh's in the same room), AMX copies
        for k in range(p.threads):
            U_max = max(U_max, _slice_units(H, p.threads, k)[1])
        GU = s.G * U_max
        M = GU if gates else U_max
        p.shared = 0
        p.at_gx = _reserve(&end, c.rows * GU * item if gates else 0)
        p.at_gh = _reserve(&end, N * GU * item if gates else 0)
        p.at_bias = _reserve(&end, (GU + U_max) * item if gates else 0)
        p.at_units = NO_ROOM
        p.at_w = _reserve(&end, GU * (I + P) * item if gates and not p.frozen else 0)
        p.at_packed = _reserve(&end, max(c.isa.packed_size(GU, P), c.isa.packed_size(GU, I))
                                     * 4 if p.use_packed and not p.frozen else 0)
        p.at_amx_ih = _reserve(&end, fastrnn_amx_packed_size(M, I) * 2 if p.amx_input else 0)
        p.at_amx_hh = _reserve(&end, fastrnn_amx_packed_size(M, P) * 2 if p.amx_steps else 0)
        p.at_amx_split = _reserve(&end, fastrnn_amx_split_size(
            _amx_split_rows(c, p.amx_steps, p.amx_input), max(I, P)) * 2
            if p.amx_steps or p.amx_input else 0)
        p.per = end
        return 0
    # one part per direction: its product, biases, per-unit rows, packed
    # weights and AMX copies; gx of every direction shared before them
    if p.use_packed:
        packed = _packed_floats(c.isa, s, &p.packed_first)
        if p.frozen:
            packed = 0  # (read from the Layer's packing)
    p.shared = 0 if not gates else _round64(<size_t>c.rows * <size_t>(D * G) * item)
    p.at_gx = NO_ROOM
    p.at_gh = _reserve(&end, N * G * item)
    p.at_bias = _reserve(&end, (G + H) * item)
    p.at_units = _reserve(&end, N * H * item)
    p.at_w = NO_ROOM
    p.at_packed = _reserve(&end, packed * 4)
    p.at_packed_ih = _reserve(&end, (c.isa.packed_size(G, I) + 4 * I) * 4 if p.ahead else 0)
    p.at_amx_ih = _reserve(&end, fastrnn_amx_packed_size(G, I) * 2 if p.amx_input else 0)
    p.at_amx_hh = p.at_amx_second = NO_ROOM
    if p.amx_steps:
        if s.kind == KIND_GRU and not s.gates[0].linear_before_reset:
            p.at_amx_hh = _reserve(&end, fastrnn_amx_packed_size(2 * H, H) * 2)
            amx_second = fastrnn_amx_packed_size(H, H)
        else:
            p.at_amx_hh = _reserve(&end, fastrnn_amx_packed_size(G, P) * 2)
            if s.w_hr != NULL:
                amx_second = fastrnn_amx_packed_size(P, H)
        p.at_amx_second = _reserve(&end, amx_second * 2)
    p.at_amx_split = _reserve(&end, fastrnn_amx_split_size(
        _amx_split_rows(c, p.amx_steps, p.amx_input), max(I, max(P, H))) * 2
        if p.amx_steps or p.amx_input else 0)
    p.per = end
    return 0


cdef void _carve_work(const Spec* s, const Plan* p, Py_ssize_t d, char* part,
                      Work* w) noexcept nogil:
    """Direction d's buffers in its part of the scratch (a frozen Layer's
    packed weights where the plan reads them)."""
    w.gh = _room(part, p.at_gh)
    w.bias = _room(part, p.at_bias)
    w.units = _room(part, p.at_units)
    w.packed = <float*>_room(part, p.at_packed)
    w.frozen = p.frozen
    w.frozen_ih = NULL
    if p.frozen:
        # (the kernels only read them)
        w.packed = <float*>s.frozen_hh[d]
        w.frozen_ih = <float*>s.frozen_ih[d]
        fastrnn_count(&_frozen_calls)
    w.packed_hh = p.packed_first
    w.packed_input = p.packed_input
    w.dot = p.dot
    w.packed_ih = <float*>_room(part, p.at_packed_ih)
    w.amx_ih = <uint16_t*>_room(part, p.at_amx_ih)
    w.amx_hh = <uint16_t*>_room(part, p.at_amx_hh)
    w.amx_second = <uint16_t*>_room(part, p.at_amx_second)
    w.amx_split = <uint16_t*>_room(part, p.at_amx_split)


cdef int _run(const Spec* s, const Call* c, bint alone, floating* type_tag) except -1:
    """Plan the call, allocate its one scratch block, then run every direction
    (or every slice of the hidden units) without the GIL."""
    global _split_calls
    cdef Py_ssize_t D = s.D, d
    cdef Plan p
    _plan(s, c, alone, floating is double, &p)
    if p.threads >= 2:
        if _run_sliced(s, c, &p, type_tag) == 0:
            _split_calls += 1
            return 0
        _plan(s, c, False, floating is double, &p)  # a thread did not start: one thread
    cdef void* raw = fastrnn_scratch_take(p.shared + <size_t>D * p.per)
    if raw == NULL:
        raise MemoryError(f"cannot allocate {p.shared + D * p.per} bytes of kernel scratch")
    cdef char* base = <char*>raw
    cdef DirectionJob jobs[2]
    cdef pthread_t thread
    cdef bint direction_thread = False
    try:
        with nogil:
            for d in range(D):
                jobs[d % 2].s, jobs[d % 2].c, jobs[d % 2].d = s, c, d
                jobs[d % 2].gx, jobs[d % 2].f64 = base, floating is double
                _carve_work(s, &p, d, base + p.shared + d * p.per, &jobs[d % 2].work)
                if p.parallel and d == 0:
                    # direction 0 on its own thread, direction 1 here; each has
                    # its own scratch and writes its own columns and states
                    direction_thread = pthread_create(&thread, NULL, _direction_thread,
                                                      &jobs[0]) == 0
                    if direction_thread:
                        continue
                run_direction(s, c, d, <floating*>base, &jobs[d % 2].work)
            if direction_thread:
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
    global _rows_run
    _rows_run += call.rows
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
    if isinstance(recurrent, str) and recurrent in PATHS:
        return PATHS[recurrent]
    raise ValueError(f"{fn}: recurrent must be 'auto', 'packed', 'fused', 'ahead', 'blas' or "
                     f"'amx', got {recurrent!r}")
