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
    uint16_t* amx_ih           # room for its rows of w_ih packed for AMX, or NULL
    uint16_t* amx_hh           # room for its rows of w_hh packed for AMX, or NULL
    uint16_t* amx_split            # AMX split scratch (with amx_ih or amx_hh)
    bint f64
    long long starved_ns       # time waited at barriers past the spin budget


cdef bint _packed_path(const Spec* s, const Call* c) except -1:
    """Whether a float32 call runs the recurrent product on the packed kernel."""
    return s.path == PATH_PACKED or (s.path == PATH_AUTO and _use_packed(c.isa, c.L, c.N))


cdef bint _packed_input(const Spec* s, const Call* c, bint use_packed) except -1:
    """Whether a float32 call whose steps run on the packed kernel (use_packed)
    projects its input there too (see input_projection): where that is the
    faster (I <= min(P, 128): 1.05-1.3x OpenBLAS's sgemm, packing included;
    from I = 256 OpenBLAS is as fast or 5% faster), and wherever a call of
    this shape splits its hidden units when it has threads: the slices must
    give one thread's bits, and whether a call splits depends on the thread
    setting and on other calls running, which the projection must not."""
    return use_packed and (s.In <= s.P and s.In <= 128 or _split_eligible(s, c, False))


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


cdef bint _split_eligible(const Spec* s, const Call* c, bint f64) except -1:
    """Whether a call of this shape splits its hidden units when it has
    threads to (whatever set_num_threads says): unidirectional layers of
    large enough steps, on the packed kernel only, whose sums do not depend
    on the slice (OpenBLAS's may), so the results stay bitwise those of one
    thread (see _packed_input)."""
    cdef Py_ssize_t steps = c.rows // c.L if c.L > 0 else 0  # rows per step, on average
    if f64 or s.D != 1 or s.w_hr != NULL or s.peep != NULL or min(MAX_SLICES, s.H // 16) < 2:
        return False
    if s.kind == KIND_GRU and not s.gates[0].linear_before_reset:
        return False  # (ONNX's GRU without linear_before_reset: not split)
    if not (_packed_path(s, c) or _amx_steps(s, c)):
        return False
    # (an RNN step has no gate cells to share: it counts half)
    return (c.rows * s.G * s.H * (s.P + s.In) >= PARALLEL_MIN_MACS
            and steps * s.G * s.H * s.P >= SLICE_MIN_STEP_MACS * (2 if s.kind == KIND_RNN else 1))


cdef int _split_threads(const Spec* s, const Call* c, bint f64) except -1:
    """Threads a call splits its hidden units between when it runs alone
    (see above), or 1."""
    cdef int threads = min(fastrnn_get_num_threads(), MAX_SLICES, s.H // 16)
    if threads >= 2 and _split_eligible(s, c, f64):
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
    cdef long long start_wait = 0   # time waited at the start line (not counted)
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
        if sl.packed != NULL:
            c.isa.pack(<const float*>w_ih, U, I, sl.packed)
        input_projection(c.isa, x, I, w_ih, out + a, P, c.rows, U, I, sl.packed, amx_ih,
                         sl.amx_split)
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
        # as run_direction: on the packed kernel when the steps run on it
        if project_steps(c.isa, x, w_ih, gx, GU, L, N, c.rows, c.batch_major, GU, I,
                         sl.packed, amx_ih, sl.amx_split):
            _gx_time_major(&st, GU)
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
                               H, True, step, amx_hh, sl.amx_split)
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
    cdef int threads_started = 0
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
    if use_packed:  # w_ih's packing, then w_hh's in the same room
        per += _round64(max(c.isa.packed_size(GU, P), c.isa.packed_size(GU, I)) * sizeof(float))
    # AMX: room for the slice's rows of w_ih and w_hh packed, and the split
    # scratch (RNN: U rows each)
    cdef bint amx_steps = floating is float and _amx_steps(s, c)
    cdef bint amx_input = floating is float and _amx_input(s, c)
    cdef Py_ssize_t M = GU if gates else U_max
    cdef size_t amx_ih = _round64(fastrnn_amx_packed_size(M, I) * 2) if amx_input else 0
    cdef size_t amx_hh = _round64(fastrnn_amx_packed_size(M, P) * 2) if amx_steps else 0
    cdef size_t amx_split = 0
    if amx_steps or amx_input:
        amx_split = _round64(fastrnn_amx_split_size(_amx_split_rows(c, amx_steps, amx_input),
                                                max(I, P)) * 2)
    cdef size_t amx_at = per
    per += amx_ih + amx_hh + amx_split
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
                sl[k].amx_split = (<uint16_t*>(base + k * per + amx_at + amx_ih + amx_hh)
                               if amx_split else NULL)
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


cdef void _amx_work(Work* w, char* at, Py_ssize_t ih, Py_ssize_t hh, Py_ssize_t second,
                    Py_ssize_t a) noexcept nogil:
    """Point a direction's AMX buffers into its scratch at `at` (sizes in
    uint16 elements; 0: none)."""
    w.amx_ih = <uint16_t*>at if ih else NULL
    at += _round64(ih * 2)
    w.amx_hh = <uint16_t*>at if hh else NULL
    at += _round64(hh * 2)
    w.amx_second = <uint16_t*>at if second else NULL
    at += _round64(second * 2)
    w.amx_split = <uint16_t*>at if a else NULL


cdef int _run(const Spec* s, const Call* c, bint alone, floating* type_tag) except -1:
    """Allocate one scratch block for the call, then run every direction without the GIL."""
    global _split_calls
    cdef Py_ssize_t L = c.L, N = c.N, D = s.D, G = s.G * s.H, H = s.H, d
    cdef Py_ssize_t first = 0, packed = 0, P = s.P, I = s.In
    cdef bint amx_steps = floating is float and _amx_steps(s, c)
    cdef bint amx_input = floating is float and _amx_input(s, c)
    cdef bint use_packed = floating is float and not amx_steps and _packed_path(s, c)
    cdef int threads = _split_threads(s, c, floating is double) if alone else 1
    cdef bint packed_input = floating is float and _packed_input(s, c, use_packed)
    if threads >= 2 and fastrnn_split_allowed():
        if _run_sliced(s, c, threads, use_packed, type_tag) == 0:
            _split_calls += 1
            return 0
    if use_packed:
        packed = _packed_floats(c.isa, s, &first)
    # uint16 elements of the copies packed for AMX: w_ih, w_hh (GRU: w_rz),
    # w_hr / w_hn, the split scratch
    cdef Py_ssize_t amx_ih = fastrnn_amx_packed_size(G, I) if amx_input else 0
    cdef Py_ssize_t amx_hh = 0, amx_second = 0, amx_split = 0
    if amx_steps:
        if s.kind == KIND_GRU and not s.gates[0].linear_before_reset:
            amx_hh = fastrnn_amx_packed_size(2 * H, H)
            amx_second = fastrnn_amx_packed_size(H, H)
        else:
            amx_hh = fastrnn_amx_packed_size(G, P)
            if s.w_hr != NULL:
                amx_second = fastrnn_amx_packed_size(P, H)
    if amx_steps or amx_input:
        amx_split = fastrnn_amx_split_size(_amx_split_rows(c, amx_steps, amx_input),
                                       max(I, max(P, H)))
    # Sizes are bounded by the checks (L*N and D*G*H below 2**31): no wrap-around.
    cdef size_t item = sizeof(floating)
    cdef size_t gx_bytes = 0 if s.kind == KIND_RNN else _round64(<size_t>c.rows * <size_t>(D * G) * item)
    cdef size_t gh_bytes = _round64(<size_t>(N * G) * item)
    cdef size_t bias_bytes = _round64(<size_t>(G + H) * item)
    cdef size_t units_bytes = _round64(<size_t>(N * H) * item)
    cdef size_t amx_bytes = (_round64(amx_ih * 2) + _round64(amx_hh * 2) + _round64(amx_second * 2)
                             + _round64(amx_split * 2))
    cdef size_t per_dir = (gh_bytes + bias_bytes + units_bytes + _round64(<size_t>packed * sizeof(float))
                           + amx_bytes)
    cdef void* raw = fastrnn_scratch_take(gx_bytes + <size_t>D * per_dir)
    if raw == NULL:
        raise MemoryError(f"cannot allocate {gx_bytes + D * per_dir} bytes of kernel scratch")
    cdef char* base = <char*>raw
    cdef DirectionJob jobs[2]
    cdef pthread_t thread
    cdef bint parallel = alone and _parallel_directions(s, c)
    cdef bint direction_thread = False
    try:
        with nogil:
            for d in range(D):
                jobs[d % 2].s, jobs[d % 2].c, jobs[d % 2].d = s, c, d
                jobs[d % 2].gx, jobs[d % 2].f64 = base, floating is double
                jobs[d % 2].work.gh = base + gx_bytes + d * per_dir
                jobs[d % 2].work.bias = <char*>jobs[d % 2].work.gh + gh_bytes
                jobs[d % 2].work.units = <char*>jobs[d % 2].work.bias + bias_bytes
                jobs[d % 2].work.packed = (<float*>(<char*>jobs[d % 2].work.units + units_bytes)
                                           if use_packed else NULL)
                jobs[d % 2].work.packed_hh = first
                jobs[d % 2].work.packed_input = packed_input
                _amx_work(&jobs[d % 2].work,
                          <char*>jobs[d % 2].work.units + units_bytes + _round64(<size_t>packed * 4),
                          amx_ih, amx_hh, amx_second, amx_split)
                if parallel and d == 0:
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
