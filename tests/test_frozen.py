"""Frozen weights (model.freeze(), a frozen kernel Layer, the ONNX backend's
stored weights): packed once, read by every call on the path they were packed
for; the same results as the live model and as the plain numpy reference."""
import io
import pickle
import threading

import numpy as np
import pytest

import fastrnn
from fastrnn import _kernels, _testing

import reference

FORWARD = {fastrnn.RNN: reference.rnn_forward, fastrnn.LSTM: reference.lstm_forward,
           fastrnn.GRU: reference.gru_forward}
KIND = {fastrnn.RNN: "rnn", fastrnn.LSTM: "lstm", fastrnn.GRU: "gru"}

# (input_size, hidden_size, extra constructor arguments)
CONFIGS = [
    (16, 32, {}),
    (40, 100, dict(num_layers=2, bidirectional=True)),
    (64, 256, {}),
    (24, 48, dict(bias=False, batch_first=True)),
]
# (steps, batch): one step of one row and of a few (streaming), short and long calls
CALLS = [(1, 1), (1, 3), (1, 8), (2, 1), (5, 2), (30, 16), (20, 1)]


def _flat(result):
    output, states = result
    states = list(states) if isinstance(states, tuple) else [states]
    return [output] + states


def _model(cls, F, H, extra, dtype=np.float32):
    return cls(F, H, dtype=dtype, seed=7, **extra)


def _path_packs():
    """Whether "auto" runs packed products on the current path (packed_auto)."""
    return _testing.use_packed_step(8, 8, 64)


@pytest.mark.parametrize("cls", list(FORWARD))
@pytest.mark.parametrize("F, H, extra", CONFIGS)
def test_a_frozen_model_computes_what_the_live_one_does(cls, F, H, extra, each_isa, amx_off):
    """Every call on every path: the frozen model within the tolerance of the
    plain numpy reference and of the live model, its products read from the
    packing freeze() made wherever the path packs (packed_auto; AMX's products
    pack their own copy)."""
    threads = fastrnn.get_num_threads()
    fastrnn.set_num_threads(1)  # (slices pack their own rows: see the split test)
    try:
        live = _model(cls, F, H, extra)
        frozen = _model(cls, F, H, extra).freeze()
        assert frozen.frozen and not live.frozen
        state = live.state_dict()
        config = dict(num_layers=live.num_layers, bidirectional=live.bidirectional,
                      bias=live.bias, batch_first=live.batch_first, hidden_size=H,
                      nonlinearity="tanh")
        rng = np.random.default_rng(1)
        packs = _path_packs()
        for L, N in CALLS:
            shape = (N, L, F) if live.batch_first else (L, N, F)
            x = rng.standard_normal(shape).astype(np.float32)
            before = _testing.frozen_calls()
            got = _flat(frozen(x))
            ran = _testing.frozen_calls() - before
            # every direction of every layer read the frozen packing
            assert ran == (live.num_layers * live.num_directions if packs else 0), (L, N)
            want = _flat(FORWARD[cls](state, config, x))
            for g, w in zip(got, want):
                reference.assert_close(g, w, np.float32, f"frozen L={L} N={N}", KIND[cls])
            for g, w in zip(got, _flat(live(x))):
                reference.assert_close(g, w, np.float32, f"frozen vs live L={L} N={N}")
    finally:
        fastrnn.set_num_threads(threads)


def test_a_frozen_lstm_with_projection_matches_the_reference(each_isa, amx_off):
    """w_hr is packed after w_hh, once: one step and many, bidirectional."""
    model = fastrnn.LSTM(12, 40, num_layers=2, bidirectional=True, proj_size=9, seed=4)
    config = dict(num_layers=2, bidirectional=True, bias=True, batch_first=False,
                  hidden_size=40, proj_size=9)
    state = model.state_dict()
    model.freeze()
    rng = np.random.default_rng(8)
    for L, N in ((1, 1), (1, 5), (7, 3)):
        x = rng.standard_normal((L, N, 12)).astype(np.float32)
        before = _testing.frozen_calls()
        got = _flat(model(x))
        assert _testing.frozen_calls() - before == (4 if _path_packs() else 0)
        for g, w in zip(got, _flat(reference.lstm_forward(state, config, x))):
            reference.assert_close(g, w, np.float32, f"proj L={L} N={N}", "lstm")


@pytest.mark.parametrize("cls", list(FORWARD))
def test_frozen_calls_with_lengths_and_states_stream_as_one_call(cls):
    """Streaming a frozen model one step at a time with its state passed back
    gives one call's results; lengths run as on the live model."""
    model = cls(8, 64, num_layers=2, seed=3).freeze()
    rng = np.random.default_rng(2)
    x = rng.standard_normal((12, 5, 8)).astype(np.float32)
    whole = _flat(model(x))
    state, outputs = None, []
    for t in range(12):
        output, state = model(x[t:t + 1], state)
        outputs.append(output)
    np.testing.assert_allclose(np.concatenate(outputs), whole[0], rtol=0, atol=1e-6)
    lengths = [12, 3, 7, 1, 12]
    live = cls(8, 64, num_layers=2, seed=3)
    for g, w in zip(_flat(model(x, lengths=lengths)), _flat(live(x, lengths=lengths))):
        reference.assert_close(g, w, np.float32, "lengths")


def test_the_parameters_of_a_frozen_model_are_read_only_copies():
    model = fastrnn.LSTM(4, 8, num_layers=2)
    taken = model.weight_hh_l0
    out = model(np.ones((3, 1, 4), np.float32))[0]
    assert model.freeze() is model
    with pytest.raises(ValueError, match="read-only"):
        model.weight_hh_l0[0, 0] = 1.0
    with pytest.raises(ValueError, match="read-only"):
        next(model.parameters())[...] = 0
    with pytest.raises(ValueError, match="WRITEABLE"):
        model.weight_ih_l1.flags.writeable = True  # (a view of a read-only block)
    # an array taken before no longer shares the model's memory
    taken[...] = 0
    reference.assert_close(model(np.ones((3, 1, 4), np.float32))[0], out, np.float32)
    assert not np.shares_memory(taken, model.weight_hh_l0)


def test_assignment_load_reset_and_dtype_keep_a_model_frozen():
    """Changes through the model's API work on a frozen model, are seen by the
    next call (packed again) and leave it frozen."""
    rng = np.random.default_rng(4)
    x = rng.standard_normal((6, 2, 5)).astype(np.float32)
    live = fastrnn.GRU(5, 16, seed=1)
    model = fastrnn.GRU(5, 16, seed=1).freeze()
    new = rng.standard_normal((48, 16)).astype(np.float32)
    model.weight_hh_l0 = new
    live.weight_hh_l0 = new
    assert model.frozen and not model.weight_hh_l0.flags.writeable
    reference.assert_close(model(x)[0], live(x)[0], np.float32, "assigned")
    other = fastrnn.GRU(5, 16, seed=9).state_dict()
    model.load_state_dict(other)
    live.load_state_dict(other)
    assert model.frozen
    reference.assert_close(model(x)[0], live(x)[0], np.float32, "loaded")
    model.reset_parameters(seed=5)
    live.reset_parameters(seed=5)
    assert model.frozen
    reference.assert_close(model(x)[0], live(x)[0], np.float32, "reset")
    model.double()
    assert model.frozen and model.dtype == np.float64
    reference.assert_close(model(x.astype(np.float64))[0], live.double()(x.astype(np.float64))[0],
                           np.float64, "float64")
    with pytest.raises(ValueError, match="read-only"):
        model.bias_ih_l0[0] = 1


def test_unfreeze_makes_the_weights_live_again():
    model = fastrnn.RNN(3, 8, seed=0).freeze()
    assert model.unfreeze() is model and not model.frozen
    x = np.ones((2, 1, 3), np.float32)
    before = model(x)[0]
    model.weight_ih_l0[...] *= 2  # in place, seen by the next call
    after = model(x)[0]
    assert not np.allclose(before, after)
    calls = _testing.frozen_calls()
    model(x)
    assert _testing.frozen_calls() == calls


def test_a_frozen_model_pickles_frozen():
    model = fastrnn.LSTM(6, 32, proj_size=8, seed=2).freeze()
    copy = pickle.loads(pickle.dumps(model))
    assert copy.frozen
    x = np.random.default_rng(0).standard_normal((4, 3, 6)).astype(np.float32)
    for g, w in zip(_flat(copy(x)), _flat(model(x))):
        np.testing.assert_array_equal(g, w)
    assert not pickle.loads(pickle.dumps(fastrnn.LSTM(6, 32))).frozen


def test_a_model_frozen_on_one_path_runs_right_on_another():
    """The packing belongs to the path it was made for: a call on another path
    packs for itself, with that path's results."""
    paths = _kernels.isa_paths()
    if len(paths) < 2:
        pytest.skip(f"this CPU runs one kernel path only ({paths})")
    first = _kernels.set_isa(paths[0])
    try:
        model = fastrnn.LSTM(16, 64, seed=1).freeze()
        live = fastrnn.LSTM(16, 64, seed=1)
        x = np.random.default_rng(0).standard_normal((3, 4, 16)).astype(np.float32)
        for path in paths[1:]:
            _kernels.set_isa(path)
            calls = _testing.frozen_calls()
            for g, w in zip(_flat(model(x)), _flat(live(x))):
                np.testing.assert_array_equal(g, w)
            assert _testing.frozen_calls() == calls
    finally:
        _kernels.set_isa(first)


def test_a_frozen_layer_needs_read_only_weights():
    w_ih = np.zeros((1, 16, 3), np.float32)
    w_hh = np.zeros((1, 16, 4), np.float32)
    w_ih.flags.writeable = False
    settings = dict(reverse=[0], act=[[0, 1, 1]], alpha=np.zeros((1, 3)),
                    beta=np.zeros((1, 3)), frozen=True)
    with pytest.raises(ValueError, match="w_hh is writeable"):
        _kernels.Layer("lstm", w_ih, w_hh, **settings)
    w_hh.flags.writeable = False
    layer = _kernels.Layer("lstm", w_ih, w_hh, **settings)
    assert layer.frozen


def test_auto_takes_the_packed_kernel_for_every_frozen_call(each_isa):
    packs = _path_packs()
    assert packs == (each_isa != "sse2")
    for L, N, H in ((1, 1, 64), (1, 2, 512), (2, 1, 1024), (1, 4, 256), (100, 16, 256)):
        assert _testing.use_packed_step(L, N, H, frozen=True) == packs


def test_concurrent_calls_on_a_frozen_model_match_serial_ones():
    model = fastrnn.LSTM(32, 128, num_layers=2, seed=5).freeze()
    rng = np.random.default_rng(6)
    inputs = [rng.standard_normal((1 + k % 3, 1 + k % 5, 32)).astype(np.float32)
              for k in range(12)]
    serial = [_flat(model(x)) for x in inputs]
    results = [None] * len(inputs)

    def worker(k):
        for _ in range(20):
            results[k] = _flat(model(inputs[k]))
    threads = [threading.Thread(target=worker, args=(k,)) for k in range(len(inputs))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for got, want in zip(results, serial):
        for g, w in zip(got, want):
            np.testing.assert_array_equal(g, w)


@pytest.mark.parametrize("cls", list(FORWARD))
@pytest.mark.parametrize("L, N", [(100, 1), (1, 16), (5, 16)])
def test_a_frozen_call_split_between_threads_matches_one_thread(cls, L, N, split_unpaused,
                                                                amx_off):
    """At H=512 every path's slices lie on whole panels of the packing: a split
    call reads it in place, one product per gate block, and gives one thread's
    bits."""
    model = cls(64, 512, seed=2).freeze()
    x = np.random.default_rng(3).standard_normal((L, N, 64)).astype(np.float32)
    threads = fastrnn.get_num_threads()
    fastrnn.set_num_threads(1)
    try:
        one = _flat(model(x))
        fastrnn.set_num_threads(2)
        calls, frozen = _testing.split_calls(), _testing.frozen_calls()
        two = _flat(model(x))
        split = _testing.split_calls() - calls
        splits = model._kernel_layers[0].threads_for(L, N) >= 2
    finally:
        fastrnn.set_num_threads(threads)
    assert split == (1 if splits else 0)
    assert _testing.frozen_calls() - frozen == (1 if _path_packs() else 0)
    for g, w in zip(two, one):
        np.testing.assert_array_equal(g, w)


def test_when_a_frozen_call_splits(amx_off):
    """Slices on whole panels (H=512): a call of several rows splits from 8M
    multiply-adds (their threads cost more below); slices that are not (H=100)
    would pack their rows: such a call splits from 64 rows."""
    if not _path_packs():
        pytest.skip("this path does not run the packed kernel")
    threads = fastrnn.get_num_threads()
    fastrnn.set_num_threads(2)
    try:
        on_panels = fastrnn.LSTM(64, 512, seed=1).freeze()._kernel_layers[0]
        assert on_panels.threads_for(1, 4) == 1        # 4.7M multiply-adds
        assert on_panels.threads_for(1, 16) == 2       # 18.9M
        off_panels = fastrnn.LSTM(64, 100, seed=1).freeze()._kernel_layers[0]
        live = fastrnn.LSTM(64, 100, seed=1)._kernel_layers[0]
        assert off_panels.threads_for(1, 63) == 1
        assert live.threads_for(1, 63) == 2
        assert off_panels.threads_for(1, 64) == 2
    finally:
        fastrnn.set_num_threads(threads)


def test_the_onnx_backend_runs_stored_weights_frozen(amx_off):
    backend = pytest.importorskip("fastrnn.onnx.backend")
    from fastrnn.onnx import export

    model = fastrnn.LSTM(8, 64, seed=1)
    rep = backend.prepare(export(model, io.BytesIO()))
    x = np.random.default_rng(0).standard_normal((1, 3, 8)).astype(np.float32)
    calls = _testing.frozen_calls()
    got = rep.run([x])[0]
    assert _testing.frozen_calls() == calls + (1 if _path_packs() else 0)
    reference.assert_close(got, model(x)[0], np.float32, "backend")
