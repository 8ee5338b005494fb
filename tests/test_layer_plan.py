"""fastrnn._kernels.Layer: weights checked once, each run checks what the call brings."""
import numpy as np
import pytest

import fastrnn
from fastrnn import _kernels, _testing

import kernel_calls

F = np.float32


def _lstm(D=2, H=5, I=4, dtype=F, seed=0):
    model = fastrnn.LSTM(I, H, bidirectional=D == 2, dtype=dtype, seed=seed)
    return model, model._kernel_layers[0], model._layers[0]


def _outputs(layer, L, N, dtype=F):
    D, H, P, I = layer.sizes
    return (np.full((L * N, D * P), np.nan, dtype), np.full((D, N, P), np.nan, dtype),
            np.full((D, N, H), np.nan, dtype))


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("batch_major", [False, True])
def test_run_equals_the_checked_entry_point(dtype, batch_major):
    model, layer, block = _lstm(dtype=dtype)
    L, N = 4, 3
    rng = np.random.default_rng(1)
    x = rng.standard_normal((L * N, 4)).astype(dtype)
    h0, c0 = rng.standard_normal((2, N, 5)).astype(dtype), rng.standard_normal((2, N, 5)).astype(dtype)
    lens = np.array([4, 1, 2], np.int32)
    out, hn, cn = _outputs(layer, L, N, dtype)
    layer.run(x, out, h0, c0, hn, cn, lens, L, batch_major)
    out2, hn2, cn2 = _outputs(layer, L, N, dtype)
    kernel_calls.lstm_layer(x, out2, block["weight_ih"], block["weight_hh"], block["bias_ih"],
                        block["bias_hh"], None, None, h0, c0, hn2, cn2, lens, L, batch_major,
                        model._reverse, model._act, model._no_act_params, model._no_act_params,
                        np.inf, False)
    for a, b in ((out, out2), (hn, hn2), (cn, cn2)):
        assert np.array_equal(a, b)


def test_in_place_weight_edits_are_seen_by_the_next_run():
    model, layer, block = _lstm(D=1)
    x = np.ones((1, 1, 4), F)
    before = model(x)[0].copy()
    model.weight_ih_l0[...] *= 2
    after = model(x)[0]
    assert not np.array_equal(before, after)
    model.load_state_dict({k: v for k, v in fastrnn.LSTM(4, 5, seed=0).state_dict().items()})
    assert np.array_equal(model(x)[0], before)


def test_weights_held_by_a_layer_cannot_be_resized():
    # The layer keeps its own reference (and buffer export) to each block, so
    # numpy refuses to move its memory (refcheck=False is numpy's own hazard).
    model, layer, block = _lstm(D=1)
    weights = block["weight_hh"]
    del model, block
    with pytest.raises(ValueError, match="resize"):
        weights.resize((1, 2, 2))


@pytest.mark.parametrize("what, make, message", [
    ("x", lambda L, N: np.zeros((L * N + 1, 4), F), r"x must have shape \(6, 4\)"),
    ("x", lambda L, N: np.zeros((L * N, 4), np.float64), "format 'f'"),
    ("x", lambda L, N: np.zeros((L * N, 8), F)[:, ::2], "contiguous"),
    ("out", lambda L, N: np.zeros((L * N, 9), F), r"out must have shape \(6, 10\)"),
    ("out", lambda L, N: np.zeros((L * N, 10), F).setflags(write=False) or None, "required"),
    ("hn", lambda L, N: np.zeros((2, N, 4), F), r"hn must have shape \(2, 2, 5\)"),
    ("h0", lambda L, N: np.zeros((1, N, 5), F), r"h0 must have shape \(2, 2, 5\)"),
    ("c0", lambda L, N: np.zeros((2, N, 4), F), r"c0 must have shape \(2, 2, 5\)"),
    ("cn", lambda L, N: None, "cn is required"),
    ("lens", lambda L, N: np.array([1, 2, 3], np.int32), r"seq_lens must have shape \(2,\)"),
    ("lens", lambda L, N: np.array([1, 4], np.int32), r"seq_lens\[1\] = 4 is outside 0..3"),
    ("lens", lambda L, N: np.array([1, 2], np.int64), "format 'i'"),
])
def test_bad_runs_are_refused_before_the_kernel(what, make, message):
    model, layer, block = _lstm()
    L, N = 3, 2
    args = dict(x=np.zeros((L * N, 4), F), out=np.zeros((L * N, 10), F), h0=None, c0=None,
                hn=np.zeros((2, N, 5), F), cn=np.zeros((2, N, 5), F), lens=None)
    args[what] = make(L, N)
    with pytest.raises((ValueError, BufferError), match=message):
        layer.run(*args.values(), L, False)


def test_read_only_output_is_refused():
    model, layer, block = _lstm()
    out = np.zeros((6, 10), F)
    out.setflags(write=False)
    with pytest.raises((ValueError, BufferError)):
        layer.run(np.zeros((6, 4), F), out, None, None, np.zeros((2, 2, 5), F),
                  np.zeros((2, 2, 5), F), None, 3, False)


def test_sizes_beyond_32_bits_are_refused():
    model, layer, block = _lstm()
    with pytest.raises(ValueError, match="32-bit"):
        layer.run(np.zeros((0, 4), F), np.zeros((0, 10), F), None, None,
                  np.zeros((2, 4, 5), F), np.zeros((2, 4, 5), F), None, 2**62, False)


def test_state_arrays_of_other_kinds_are_refused():
    gru = fastrnn.GRU(4, 5, seed=0)
    layer = gru._kernel_layers[0]
    with pytest.raises(ValueError, match="LSTM layers only"):
        layer.run(np.zeros((2, 4), F), np.zeros((2, 5), F), None, None, np.zeros((1, 1, 5), F),
                  np.zeros((1, 1, 5), F), None, 2, False)


@pytest.mark.parametrize("kwargs, message", [
    (dict(kind="cnn"), "kind must be"),
    (dict(w_ih=np.zeros((1, 19, 4), F)), r"w_ih must have 4\*hidden_size rows, got 19"),
    (dict(w_hh=np.zeros((1, 20, 4), F)), r"w_hh must have shape \(1, 20, 5\), got \(1, 20, 4\)"),
    (dict(w_hh=np.zeros((1, 20, 5), np.float64)), "w_hh must be float32 as w_ih, got float64"),
    (dict(b_ih=None), "give both biases or neither"),
    (dict(recurrent="fast"), "recurrent must be"),
    (dict(act=[[2, 1, 11]]), "unknown activation code"),
])
def test_bad_layers_are_refused(kwargs, message):
    args = dict(kind="lstm", w_ih=np.zeros((1, 20, 4), F), w_hh=np.zeros((1, 20, 5), F),
                b_ih=np.zeros((1, 20), F), b_hh=np.zeros((1, 20), F),
                reverse=[0], act=[[2, 1, 1]], alpha=np.zeros((1, 3)), beta=np.zeros((1, 3)))
    args.update(kwargs)
    with pytest.raises(ValueError, match=message):
        _kernels.Layer(args.pop("kind"), args.pop("w_ih"), args.pop("w_hh"), args.pop("b_ih"),
                       args.pop("b_hh"), **args)


def _layers_in_turn(model, x, h0, c0, seq_lens, L, batch_major):
    """Every kernel Layer of model run in turn on x (L * N rows in the
    layout's order) by Layer.run itself: the padded batch, with seq_lens
    unsorted when given."""
    D, H, P = model.num_directions, model.hidden_size, model.output_size
    rows = x.shape[0] * x.shape[1]
    N = rows // L
    layer_in, hns, cns = x, [], []
    for k, layer in enumerate(model._kernel_layers):
        out = np.empty(x.shape[:2] + (D * P,), model.dtype)
        hn, cn = np.empty((D, N, P), model.dtype), np.empty((D, N, H), model.dtype)
        layer.run(layer_in, out, None if h0 is None else h0[D * k:D * k + D],
                  None if c0 is None else c0[D * k:D * k + D], hn,
                  cn if c0 is not None or model.mode == "LSTM" else None, seq_lens, L, batch_major)
        hns.append(hn)
        cns.append(cn)
        layer_in = out
    return layer_in, np.concatenate(hns), np.concatenate(cns)


@pytest.mark.parametrize("kind", ["rnn", "lstm", "gru"])
@pytest.mark.parametrize("batch_first", [False, True])
def test_lengths_run_packed_and_match_the_unsorted_kernel(kind, batch_first):
    # forward hands the kernels only the rows that run (sum(lengths) of
    # them, ordered by decreasing length as torch's PackedSequence); the
    # kernel given the padded batch and its lengths unsorted computes every
    # row and skips the finished ones. Both must agree, states and outputs in
    # the caller's order.
    cls = {"rnn": fastrnn.RNN, "lstm": fastrnn.LSTM, "gru": fastrnn.GRU}[kind]
    model = cls(3, 20, num_layers=2, bidirectional=True, batch_first=batch_first, seed=1)
    rng = np.random.default_rng(2)
    N, L = 7, 9
    x = rng.standard_normal((N, L, 3) if batch_first else (L, N, 3)).astype(F)
    lengths = np.array([3, 9, 1, 9, 5, 2, 7])
    before = _testing.rows_run()
    out, state = model(x, lengths=lengths)
    assert _testing.rows_run() - before == 2 * lengths.sum()  # two layers
    assert out.flags.c_contiguous
    padded, hn, cn = _layers_in_turn(model, x, None, None, lengths.astype(np.int32), L,
                                     batch_first)
    np.testing.assert_allclose(out, padded, rtol=0, atol=1e-6)
    for a, b in zip(state if kind == "lstm" else [state], [hn, cn]):
        np.testing.assert_allclose(a, b, rtol=0, atol=1e-6)


def test_stack_runs_equal_one_layer_run_after_another():
    model = fastrnn.GRU(4, 5, num_layers=3, bidirectional=True, seed=3)
    rng = np.random.default_rng(0)
    x = rng.standard_normal((6, 2, 4)).astype(F)
    h0 = rng.standard_normal((6, 2, 5)).astype(F)
    out, hn = model(x, h0)
    assert out.shape == (6, 2, 10) and hn.shape == (6, 2, 5)
    layer_out, layer_hn, _ = _layers_in_turn(model, x, h0, None, None, 6, False)
    np.testing.assert_array_equal(layer_hn, hn)
    np.testing.assert_array_equal(layer_out, out)
    with pytest.raises(ValueError, match="does not follow layer 0"):
        _kernels.Stack([model._kernel_layers[0], fastrnn.GRU(4, 5, seed=0)._kernel_layers[0]])
    with pytest.raises(ValueError, match="non-empty list of Layer"):
        _kernels.Stack([])


# ---------------------------------------------------------------- threads
@pytest.fixture
def restore_threads():
    before = fastrnn.get_num_threads()
    yield
    fastrnn.set_num_threads(before)


def test_default_threads_are_the_usable_cores(restore_threads, monkeypatch):
    import os
    # (the environment's counts come first: tests/test_threadpool.py)
    monkeypatch.delenv("FASTRNN_NUM_THREADS", raising=False)
    monkeypatch.delenv("OMP_NUM_THREADS", raising=False)
    # (fastrnn bench sets the count: the default is checked where it comes from)
    quota = None
    if os.path.exists("/sys/fs/cgroup/cpu.max"):
        text = open("/sys/fs/cgroup/cpu.max").read().split()
        quota = None if text[0] == "max" else -(-int(text[0]) // int(text[1]))
    cores = len(os.sched_getaffinity(0))
    assert _kernels._default_threads() == (cores if quota is None else min(cores, quota))
    fastrnn.set_num_threads(3)
    assert fastrnn.get_num_threads() == 3
    for bad in (0, -1):
        with pytest.raises(ValueError, match=">= 1"):
            fastrnn.set_num_threads(bad)
    assert fastrnn.get_num_threads() == 3


@pytest.mark.parametrize("kind", ["rnn", "lstm", "gru"])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_results_do_not_depend_on_the_thread_count(kind, dtype, restore_threads):
    # Big enough that 2 threads run the two directions at once (see
    # PARALLEL_MIN_MACS): the arithmetic of every element is the same.
    cls = {"rnn": fastrnn.RNN, "lstm": fastrnn.LSTM, "gru": fastrnn.GRU}[kind]
    model = cls(16, 64, num_layers=2, bidirectional=True, dtype=dtype, seed=3)
    rng = np.random.default_rng(4)
    x = rng.standard_normal((200, 5, 16)).astype(dtype)
    # the parallel path for every class and layer
    assert 200 * 5 * 64 * (64 + 16) >= _kernels.PARALLEL_MIN_MACS_PER_DIRECTION
    lengths = rng.integers(1, 201, 5)
    results = {}
    for threads in (1, 2, 4):
        fastrnn.set_num_threads(threads)
        results[threads] = [model(x), model(x, lengths=lengths)]
    for threads in (2, 4):
        for (out_a, st_a), (out_b, st_b) in zip(results[1], results[threads]):
            assert np.array_equal(out_a, out_b)
            for a, b in zip(st_a if kind == "lstm" else [st_a], st_b if kind == "lstm" else [st_b]):
                assert np.array_equal(a, b)


SPLIT_CASES = [
    # kind, N, L, F, H, layers, batch_first, dtype (each step >= SLICE_MIN_STEP_MACS)
    ("rnn", 2, 60, 32, 256, 1, False, np.float32),
    ("rnn", 4, 40, 300, 200, 2, True, np.float32),
    ("lstm", 1, 80, 64, 128, 1, False, np.float32),
    ("lstm", 3, 50, 40, 100, 2, True, np.float32),
    ("lstm", 1, 60, 16, 136, 1, False, np.float32),
    ("gru", 1, 70, 64, 160, 1, True, np.float32),
    ("gru", 4, 30, 20, 96, 2, False, np.float32),
]


def _split(threads, L, N, H):
    """Threads a unidirectional float32 layer of H units with large enough
    steps splits into on the current path: only the packed kernel splits (its
    sums do not depend on the slice), and "auto" takes it on every path but SSE2."""
    return threads if _testing.use_packed_step(L, N, H) else 1


def _flat(kind, result):
    out, state = result
    return [out] + (list(state) if kind == "lstm" else [state])


@pytest.mark.parametrize("kind, N, L, F, H, layers, batch_first, dtype", SPLIT_CASES)
def test_hidden_units_split_between_threads_give_the_one_thread_results(
        kind, N, L, F, H, layers, batch_first, dtype, restore_threads, each_isa, split_unpaused):
    # A unidirectional layer on several threads, each owning a slice of the
    # hidden units (all their gates): the same sums in the same order for
    # every element, so the results are bitwise those of one thread.
    cls = {"rnn": fastrnn.RNN, "lstm": fastrnn.LSTM, "gru": fastrnn.GRU}[kind]
    model = cls(F, H, num_layers=layers, batch_first=batch_first, dtype=dtype, seed=7)
    rng = np.random.default_rng(8)
    x = rng.standard_normal((N, L, F) if batch_first else (L, N, F)).astype(dtype)
    lengths = np.maximum(rng.integers(L // 2, L + 1, N), 1)
    lengths[0] = L  # (the batch's steps: the longest sequence's)
    hx = _flat(kind, model(x))[1:]
    hx = tuple(h * 0.5 for h in hx) if kind == "lstm" else hx[0] * 0.5
    calls = [dict(), dict(hx=hx), dict(lengths=lengths)]
    fastrnn.set_num_threads(1)
    assert model._kernel_layers[0].threads_for(L, N) == 1
    want = [_flat(kind, model(x, **call)) for call in calls]
    for threads in (2, 3):
        fastrnn.set_num_threads(threads)
        for layer in model._kernel_layers:
            assert layer.threads_for(L, N) == _split(threads, L, N, H)
        for call, expected in zip(calls, want):
            splits = _testing.split_calls()
            for got, ref in zip(_flat(kind, model(x, **call)), expected):
                np.testing.assert_array_equal(got, ref)
            # every layer whose plan splits ran split (with lengths the plan
            # follows the rows that run)
            rows = int(np.sum(call["lengths"])) if "lengths" in call else L * N
            planned = sum(layer.threads_for(L, N, rows=rows) > 1 for layer in model._kernel_layers)
            assert _testing.split_calls() - splits == planned
            if "lengths" not in call:
                assert planned == (layers if _split(threads, L, N, H) > 1 else 0)


def test_every_slicing_of_the_hidden_units_gives_the_one_thread_results(restore_threads,
                                                                          each_isa):
    # hidden sizes around the 16-unit blocks, 2..8 threads (on any core count)
    rng = np.random.default_rng(10)
    for H in (32, 33, 47, 63, 64, 100, 138, 200):
        for kind in ("rnn", "lstm", "gru"):
            cls = {"rnn": fastrnn.RNN, "lstm": fastrnn.LSTM, "gru": fastrnn.GRU}[kind]
            model = cls(8, H, seed=H)
            N = 128  # steps of >= SLICE_MIN_STEP_MACS even at H = 32
            x = rng.standard_normal((30, N, 8)).astype(F)
            fastrnn.set_num_threads(1)
            want = _flat(kind, model(x))
            for threads in (2, 3, 5, 8):
                fastrnn.set_num_threads(threads)
                assert model._kernel_layers[0].threads_for(30, N) == _split(min(threads, H // 16),
                                                                            30, N, H)
                for got, ref in zip(_flat(kind, model(x)), want):
                    np.testing.assert_array_equal(got, ref)


@pytest.mark.parametrize("kind", ["rnn", "lstm", "gru"])
def test_split_layers_with_unsorted_lengths_and_reverse_direction(kind, restore_threads, each_isa):
    # The entry point the ONNX backend uses: lengths in any order (zeros
    # too) and a reverse-only direction, on split hidden units.
    G = {"rnn": 1, "lstm": 4, "gru": 3}[kind]
    H, I, L, N = 176, 24, 60, 5
    rng = np.random.default_rng(9)
    w_ih = rng.standard_normal((1, G * H, I)).astype(F) * 0.2
    w_hh = rng.standard_normal((1, G * H, H)).astype(F) * 0.1
    b = rng.standard_normal((1, G * H)).astype(F) * 0.1
    act = [[3]] if kind == "rnn" else ([[2, 1, 1]] if kind == "lstm" else [[2, 1]])
    K = len(act[0])
    layer = _kernels.Layer(kind, w_ih, w_hh, b, b.copy(), reverse=[1], act=act,
                           alpha=np.zeros((1, K)), beta=np.zeros((1, K)), option=kind == "gru")
    x = rng.standard_normal((L * N, I)).astype(F)
    lens = np.array([60, 0, 12, 60, 7], np.int32)
    h0 = rng.standard_normal((1, N, H)).astype(F)
    c0 = rng.standard_normal((1, N, H)).astype(F) if kind == "lstm" else None
    results = {}
    for threads in (1, 2):
        fastrnn.set_num_threads(threads)
        assert layer.threads_for(L, N) == _split(threads, L, N, H)
        for with_lens in (False, True):
            out, hn = np.empty((L * N, H), F), np.empty((1, N, H), F)
            cn = np.empty((1, N, H), F) if kind == "lstm" else None
            layer.run(x, out, h0, c0, hn, cn, lens if with_lens else None, L, False)
            results[threads, with_lens] = [out, hn] + ([cn] if cn is not None else [])
    for with_lens in (False, True):
        for got, ref in zip(results[2, with_lens], results[1, with_lens]):
            np.testing.assert_array_equal(got, ref)


def test_layers_that_are_not_split(restore_threads):
    fastrnn.set_num_threads(2)
    # projections, small steps, bidirectional layers (their directions run at once instead)
    assert fastrnn.LSTM(64, 128, proj_size=64)._kernel_layers[0].threads_for(100, 1) == 1
    assert fastrnn.LSTM(32, 64)._kernel_layers[0].threads_for(100, 1) == 1
    assert fastrnn.LSTM(64, 256, bidirectional=True)._kernel_layers[0].threads_for(100, 16) == 2
    assert fastrnn.GRU(64, 256, bidirectional=True)._kernel_layers[0].threads_for(2, 1) == 1
    # float64: OpenBLAS's sums may depend on the slice, so never split
    assert fastrnn.LSTM(64, 256, dtype=np.float64)._kernel_layers[0].threads_for(100, 16) == 1
    gru_onnx = _kernels.Layer("gru", np.zeros((1, 768, 8), F), np.zeros((1, 768, 256), F),
                              reverse=[0], act=[[2, 1]], alpha=np.zeros((1, 2)),
                              beta=np.zeros((1, 2)), option=False)
    assert gru_onnx.threads_for(100, 1) == 1  # without linear_before_reset
    fastrnn.set_num_threads(1)
    assert fastrnn.LSTM(64, 256)._kernel_layers[0].threads_for(100, 16) == 1


@pytest.mark.parametrize("make", [lambda: fastrnn.LSTM(16, 64, bidirectional=True, seed=5),
                                  lambda: fastrnn.GRU(16, 192, seed=5),
                                  lambda: fastrnn.LSTM(16, 200, dtype=np.float64, seed=3)])
def test_parallel_calls_from_python_threads_equal_serial_ones(make, restore_threads):
    # calls that would use two threads each (directions at once, or split
    # hidden units) from four Python threads at once
    import concurrent.futures
    fastrnn.set_num_threads(2)
    model = make()
    directions = model.bidirectional and model.dtype == np.float32
    assert model._kernel_layers[0].threads_for(100, 4) == (
        1 if model.dtype == np.float64 else 2 if directions else _split(2, 100, 4, model.hidden_size))
    xs = [np.random.default_rng(k).standard_normal((100, 4, 16)).astype(F) for k in range(8)]
    serial = [model(x)[0] for x in xs]
    with concurrent.futures.ThreadPoolExecutor(4) as pool:
        parallel = list(pool.map(lambda x: model(x)[0], xs * 3))
    for k, got in enumerate(parallel):
        assert np.array_equal(got, serial[k % 8])


# ---------------------------------------------------------------- forward's first try
FAST_CASES = [
    ("rnn", dict(), False),
    ("gru", dict(num_layers=3, bidirectional=True), True),
    ("lstm", dict(num_layers=2, bidirectional=True, batch_first=True), True),
    ("lstm", dict(proj_size=3, num_layers=2), True),
    ("rnn", dict(dtype=np.float64, batch_first=True), True),
]


@pytest.mark.parametrize("kind, kwargs, with_hx", FAST_CASES)
@pytest.mark.parametrize("batched", [True, False])
def test_the_stack_takes_common_calls_and_gives_the_general_paths_results(kind, kwargs,
                                                                          with_hx, batched):
    cls = {"rnn": fastrnn.RNN, "lstm": fastrnn.LSTM, "gru": fastrnn.GRU}[kind]
    model = cls(4, 5, seed=0, **kwargs)
    rng = np.random.default_rng(0)
    x = rng.standard_normal((3, 6, 4) if batched else (3, 4)).astype(model.dtype)
    _, state = model(x)
    hx = state if with_hx else None
    x_before = x.copy()
    states_before = [s.copy() for s in (state if kind == "lstm" else [state])]
    common = _testing.common_calls()
    fast = model(x, hx)
    assert _testing.common_calls() == common + 1
    # the same values in Fortran order: checked and cast by the model first
    general = model(np.asfortranarray(x), hx)
    assert _testing.common_calls() == common + 1
    np.testing.assert_array_equal(x, x_before)  # the caller's arrays are not modified
    for s, before in zip(state if kind == "lstm" else [state], states_before):
        np.testing.assert_array_equal(s, before)
    flat = lambda r: [r[0]] + (list(r[1]) if kind == "lstm" else [r[1]])  # noqa: E731
    for a, b in zip(flat(fast), flat(general)):
        assert a.dtype == b.dtype and a.shape == b.shape and a.flags.c_contiguous
        np.testing.assert_array_equal(a, b)
    for a in flat(fast):
        assert not np.shares_memory(a, x) and all(not np.shares_memory(a, s) for s in flat(
            (None, state))[1:])


def _declined(model, x, hx):
    """Whether model(x, hx) did not run on the Stack's common path (it ran
    checked and cast, or raised)."""
    common = _testing.common_calls()
    try:
        model(x, hx)
    except (ValueError, TypeError):
        pass
    return _testing.common_calls() == common


def test_the_stack_declines_what_the_general_path_must_cast_or_check():
    lstm, gru = fastrnn.LSTM(4, 5, seed=0), fastrnn.GRU(4, 5, num_layers=2, seed=0)
    x = np.zeros((6, 3, 4), F)
    _, (h, c) = lstm(x)
    _, hg = gru(x)
    class Sub(np.ndarray):
        pass
    for model, bad_x in [
        (lstm, x[:, :2]), (lstm, x[::2]), (lstm, x.astype(np.float64)), (lstm, x.astype(">f4")),
        (lstm, x.tolist()), (lstm, x[:, 0]), (lstm, np.zeros((6, 3, 5), F)),
        (lstm, np.zeros((0, 3, 4), F)), (lstm, x.view(Sub)), (lstm, np.asfortranarray(x)),
        (gru, x.astype(np.int64)), (gru, x.astype("datetime64[s]")), (gru, np.float32(1)),
        (gru, np.zeros((), F)), (gru, np.zeros(4, F)), (gru, np.zeros((1, 1, 1, 4), F)),
    ]:
        assert _declined(model, bad_x, None), bad_x
    for hx in [[h, c], (h,), (h, c, c), (c, h[:, :2]), (h.astype(np.float64), c),
               (h, np.asfortranarray(np.zeros((1, 3, 5), F)[:, ::1])), (h[0], c[0]), h,
               (h, c.tolist())]:
        assert _declined(lstm, x, hx), hx
    for hx in [hg[:1], hg.astype(np.float64), hg[:, :, :4], hg.tolist(), (hg,), hg[..., None],
               np.zeros((2, 3, 10), F)[:, :, ::2], hg[:, 0]]:
        assert _declined(gru, x, hx), hx
    # unbatched input: states without their batch axis
    one = np.ascontiguousarray(x[:, 0])
    assert _declined(gru, x[:, 0], None)  # a strided view: cast by the general path
    _, hu = gru(one)
    assert not _declined(gru, one, hu) and hu.shape == (2, 5)
    for hx in [hu[:, None], hu[:1], hu[:, :4], np.zeros((2, 10), F)[:, ::2], hu[0], hu[0, 0],
               np.float32(0)]:
        assert _declined(gru, one, hx), hx
    for hx in [h[0, 0], h[0, 0, 0], (h[0, 0], c[0, 0]), (h[0, 0, 0], c)]:
        assert _declined(lstm, x, hx), hx
    _, (hl, cl) = lstm(one)
    assert not _declined(lstm, one, (hl, cl))
    assert _declined(lstm, one, (h, c)) and _declined(lstm, x, (hl, cl))
