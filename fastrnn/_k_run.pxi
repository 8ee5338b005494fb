# One layer, any kind: the layer (Spec) and call (Call), threads, one direction's setup and loop.
# Included by fastrnn/_kernels.pyx (one extension module).

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
    PATH_FUSED = 4
    PATH_AHEAD = 5
    PATH_DOT = 6

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
PATHS = {"auto": PATH_AUTO, "packed": PATH_PACKED, "blas": PATH_BLAS, "amx": PATH_AMX,
         "fused": PATH_FUSED, "ahead": PATH_AHEAD, "dot": PATH_DOT}


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
    const Gates* gates         # D entries (activations, clip, input_forget / linear_before_reset; fast is set per run)
    const fastrnn_isa* frozen_isa  # the path the weights were packed for once (a frozen Layer), or NULL
    const float* frozen_ih[2]  # per direction: w_ih packed (isa.pack), read by every call on frozen_isa
    const float* frozen_hh[2]  # w_hh (GRU without linear_before_reset: w_rz) packed, w_hr's or w_hn's after it


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
    void* units                # (N, H) per unit: LSTM's unprojected h, GRU's r * h_{t-1}
    float* packed              # packed w_hh (and w_hr / w_hn), float32 only
    Py_ssize_t packed_hh       # floats of the first packed matrix
    bint frozen                # packed and frozen_ih are the frozen Layer's, packed once: not packed again
    float* frozen_ih           # w_ih packed once (frozen, packed_input), or NULL
    bint packed_input          # the input projection on the packed kernel (_packed_input)
    bint dot                   # every product on w as it is (_dot): nothing packed
    float* packed_ih           # w_ih packed apart, then 4 I floats: the projection inside the steps (_ahead)
    uint16_t* amx_ih           # w_ih packed for AMX, or NULL (float32 only)
    uint16_t* amx_hh           # w_hh (GRU: w_rz) packed for AMX, or NULL
    uint16_t* amx_second            # w_hr (LSTM) or w_hn (GRU) packed for AMX, or NULL
    uint16_t* amx_split            # the split of a product's rows (see _amx.h)


cdef Py_ssize_t _packed_floats(const fastrnn_isa* isa, const Spec* s,
                               Py_ssize_t* first) noexcept nogil:
    """Floats of one direction's packed weights: w_ih's packing (the input
    projection's), then in the same room w_hh's (or w_rz's: `first` floats)
    and w_hr's or w_hn's after it."""
    return max(_packed_recurrent_floats(isa, s, first), isa.packed_size(s.G * s.H, s.In))


cdef Py_ssize_t _packed_recurrent_floats(const fastrnn_isa* isa, const Spec* s,
                                         Py_ssize_t* first) noexcept nogil:
    """Floats of one direction's packed recurrent weights (_pack_recurrent):
    w_hh's (or w_rz's: `first` floats), then w_hr's or w_hn's."""
    cdef Py_ssize_t H = s.H, P = s.P, G = s.G, total
    if s.kind == KIND_RNN:
        first[0] = isa.packed_size(H, H)
        total = first[0]
    elif s.kind == KIND_LSTM:
        first[0] = isa.packed_size(G * H, P)
        total = first[0] + (isa.packed_size(P, H) if s.w_hr != NULL else 0)
    elif s.gates[0].linear_before_reset:  # GRU: one (3H, H)
        first[0] = isa.packed_size(G * H, H)
        total = first[0]
    else:
        first[0] = isa.packed_size(2 * H, H)
        total = first[0] + isa.packed_size(H, H)
    return total


cdef void _pack_recurrent(const fastrnn_isa* isa, const Spec* s, Py_ssize_t d, float* packed,
                          Py_ssize_t first) noexcept nogil:
    """Direction d's float32 recurrent weights packed for isa's step kernel
    (_packed_recurrent_floats): w_hh (RNN, LSTM, GRU with linear_before_reset)
    or w_rz, then at `first` LSTM's w_hr or the GRU's w_hn."""
    cdef Py_ssize_t H = s.H, P = s.P, G = s.G * s.H
    cdef const float* w_hh = <const float*>s.w_hh + d * G * P
    if s.kind == KIND_RNN:
        isa.pack(w_hh, H, H, packed)
    elif s.kind == KIND_LSTM:
        isa.pack(w_hh, G, P, packed)
        if s.w_hr != NULL:
            isa.pack(<const float*>s.w_hr + d * P * H, P, H, packed + first)
    elif s.gates[d].linear_before_reset:
        isa.pack(w_hh, G, H, packed)
    else:
        isa.pack(w_hh, 2 * H, H, packed)
        isa.pack(w_hh + 2 * H * H, H, H, packed + first)


cdef inline bint _fast_cells(const Spec* s, const Gates* g) noexcept nogil:
    """Whether float32 LSTM/GRU cells with these settings take the fused C cell:
    torch's activations, no clip (LSTM: no peepholes, no input_forget)."""
    if s.kind == KIND_LSTM:
        return (g.act[0] == ACT_SIGMOID and g.act[1] == ACT_TANH and g.act[2] == ACT_TANH
                and not g.clip < INFINITY and s.peep == NULL and not g.input_forget)
    return g.act[0] == ACT_SIGMOID and g.act[1] == ACT_TANH and not g.clip < INFINITY


cdef inline bint _fused_row(const Spec* s, const Call* c, const Gates* g,
                            bint packed) noexcept nogil:
    """Whether a direction's one-row steps run on the isa's fused step and cell:
    float32 LSTM without projection or GRU with linear_before_reset, torch's
    cells, packed w_hh, as measured per path (_fused_lstm / _fused_gru,
    tools/perf_notes.md), not on path "ahead"."""
    if not (g.fast and c.N == 1 and packed) or s.path == PATH_AHEAD:
        return False
    if s.kind == KIND_LSTM:
        return s.w_hr == NULL and _fused_lstm(c.isa, s.H, g.force_fused)
    return g.linear_before_reset and _fused_gru(c.isa, s.H, g.force_fused)


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


cdef void fold_biases(const Spec* s, bint linear_before_reset, const floating* b_ih,
                      const floating* b_hh, Py_ssize_t a, Py_ssize_t U,
                      floating* bias) noexcept nogil:
    """The cells' biases of units a..a+U-1 (gate blocks U apart; a direction
    takes all H, a slice its own): b_ih + b_hh, but for a GRU with
    linear_before_reset b_n = b_in alone and b_hn after the gate blocks (at
    G*U; zeros without it). Zeros without biases. The one-thread and the split
    paths both fold them here."""
    cdef Py_ssize_t G = s.G, H = s.H, k, j
    for k in range(G):
        for j in range(U):
            bias[k * U + j] = 0
            if b_ih != NULL:
                bias[k * U + j] = b_ih[k * H + a + j]
                if s.kind == KIND_LSTM or k < 2 or not linear_before_reset:
                    bias[k * U + j] = bias[k * U + j] + b_hh[k * H + a + j]
    if s.kind == KIND_GRU:
        for j in range(U):
            bias[G * U + j] = (b_hh[2 * H + a + j] if b_hh != NULL and linear_before_reset
                               else 0)


cdef inline uint16_t* amx_packed(const float* w, Py_ssize_t M, Py_ssize_t K,
                                  uint16_t* room) noexcept nogil:
    """w (M, K) packed for AMX into room, or NULL: without room (this call's
    products do not run on AMX), or when w holds a weight that is not finite
    (see _amx.h): that matrix's products run in float32."""
    if room != NULL and fastrnn_amx_pack(w, M, K, room) == 0:
        return room
    return NULL


cdef void run_direction(const Spec* s, const Call* c, Py_ssize_t d, floating* gx,
                        const Work* w) noexcept nogil:
    """Every step of direction d: input projection, packing, state init, the loop."""
    cdef Py_ssize_t L = c.L, N = c.N, D = s.D, H = s.H, P = s.P, I = s.In
    cdef Py_ssize_t G = s.G * H, j
    cdef Py_ssize_t out_ld = D * P, gx_ld = D * G
    cdef Gates g = s.gates[d]
    g.isa = c.isa
    g.force_fused = s.path == PATH_FUSED
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
    cdef uint16_t* amx_second = NULL
    cdef Steps st = _steps(L, N, gx_ld, out_ld, c.batch_major, s.reverse[d] != 0, c.lens,
                           c.offs)
    cdef bint fused
    cdef Ahead ahead
    cdef Ahead* ahead_p = NULL
    if packed != NULL:
        fastrnn_count(&_packed_steps)
    st.dot = floating is float and w.dot
    if st.dot:
        fastrnn_count(&_dot_calls)
    if s.b_ih != NULL:
        b_ih = <const floating*>s.b_ih + d * G
        b_hh = <const floating*>s.b_hh + d * G
    _init_states(s, c, d, gx)
    if floating is float:
        amx_ih = amx_packed(<const float*>w_ih, G, I, w.amx_ih)
        if s.kind == KIND_GRU and not g.linear_before_reset:
            amx_hh = amx_packed(<const float*>w_hh, 2 * H, H, w.amx_hh)
            amx_second = amx_packed(<const float*>w_hh + 2 * H * H, H, H, w.amx_second)
        else:
            amx_hh = amx_packed(<const float*>w_hh, G, P, w.amx_hh)
            if s.kind == KIND_LSTM and s.w_hr != NULL:
                amx_second = amx_packed(<const float*>s.w_hr + d * P * H, P, H, w.amx_second)
    # The input projection of every row at once, into the output (RNN, in x's row
    # order) or gx (gx[:, d*G:(d+1)*G] = x @ w_ih[d].T, time-major: project_steps);
    # on the packed kernel as _packed_input says, w_ih packed where w_hh's packing
    # goes next.
    cdef float* packed_ih = (w.frozen_ih if w.frozen else packed) if w.packed_input else NULL
    if s.kind == KIND_RNN:
        if packed_ih != NULL and amx_ih == NULL and not w.frozen:
            c.isa.pack(<const float*>w_ih, H, I, packed_ih)
        input_projection(c.isa, x, I, w_ih, out, out_ld, c.rows, H, I, packed_ih, amx_ih,
                         w.amx_split, st.dot)
        if packed != NULL and not w.frozen:
            _pack_recurrent(c.isa, s, d, packed, w.packed_hh)
        rnn_direction(c.isa, out, &st, w_hh, packed, b_ih, b_hh, hn, H,
                      g.act[0], <floating>g.alpha[0], <floating>g.beta[0], <floating>g.clip,
                      amx_hh, w.amx_split)
        return
    g.fast = floating is float and _fast_cells(s, &g)
    # the projection inside the steps where the plan has it (in the place of the
    # fused steps too: GRU H=128 1.14-1.16x faster, LSTM H=64 level)
    fused = w.packed_ih == NULL and _fused_row(s, c, &g, packed != NULL)
    if floating is float and w.packed_ih != NULL:
        # the projection inside the steps (the plan's _ahead): only w_ih's packing now
        # (a frozen Layer's is done: the room after it holds the rows of x)
        if not w.frozen:
            c.isa.pack(<const float*>w_ih, G, I, w.packed_ih)
        ahead.packed_ih = w.frozen_ih if w.frozen else w.packed_ih
        ahead.x, ahead.In, ahead.M = <const float*>x, I, G
        ahead.xt = w.packed_ih + c.isa.packed_size(G, I)
        ahead.panels = c.isa.packed_size(G, 1) // (2 * c.isa.lanes)
        ahead_p = &ahead
        _gx_time_major(&st, gx_ld)
        fastrnn_count(&_ahead_calls)
    elif project_steps(c.isa, x, w_ih, gx + d * G, gx_ld, L, N, c.rows, c.batch_major, G, I,
                       packed_ih, amx_ih, w.amx_split, st.dot, w.frozen):
        _gx_time_major(&st, gx_ld)
    fold_biases(s, g.linear_before_reset, b_ih, b_hh, 0, H, bias)
    if s.kind == KIND_LSTM:
        cn = <floating*>c.cn + d * N * H
        if packed != NULL and not w.frozen:
            _pack_recurrent(c.isa, s, d, packed, w.packed_hh)
        lstm_direction(gx + d * G, out, &st, w_hh, packed,
                       <const floating*>s.w_hr + d * P * H if s.w_hr != NULL else NULL,
                       packed + w.packed_hh if packed != NULL and s.w_hr != NULL else NULL,
                       bias, <const floating*>s.peep + d * 3 * H if s.peep != NULL else NULL,
                       hn, cn, <floating*>w.gh, <floating*>w.units, H, P, &g, fused, ahead_p,
                       amx_hh, amx_second, w.amx_split)
        return
    if packed != NULL and not w.frozen:
        _pack_recurrent(c.isa, s, d, packed, w.packed_hh)
    gru_direction(gx + d * G, out, &st, w_hh, packed,
                  packed + w.packed_hh if packed != NULL and not g.linear_before_reset else NULL,
                  bias, bias + G, hn, <floating*>w.gh, <floating*>w.units, H, &g, fused, ahead_p,
                  amx_hh, amx_second, w.amx_split)


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
