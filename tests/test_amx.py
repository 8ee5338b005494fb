"""float32 products on AMX tiles (fastrnn/_amx.h): each float32 value split
into three bfloat16 parts, six tile products per sum. Checked against the
plain numpy references in float64 and against the same calls with AMX off,
at the sizes that reach every block shape (16- and 32-row blocks, partial
blocks of rows, columns and k), with lengths, threads, and values that are
not finite."""
import threading

import numpy as np
import pytest

import fastrnn
import reference
from fastrnn import _kernels

pytestmark = pytest.mark.skipif(not _kernels.AMX, reason="this CPU or OS does not run AMX")

FORWARD = {"RNN": reference.rnn_forward, "LSTM": reference.lstm_forward,
           "GRU": reference.gru_forward}


@pytest.fixture
def amx_everywhere():
    """AMX for every product of every float32 call, whatever its size."""
    previous = _kernels.set_amx(True)
    thresholds = _kernels._amx_thresholds()
    _kernels._amx_thresholds(1, 1, 1)
    yield
    _kernels._amx_thresholds(*thresholds)
    _kernels.set_amx(previous)


def _model(kind, F, H, seed, **options):
    model = getattr(fastrnn, kind)(F, H, batch_first=True, **options)
    rng = np.random.default_rng(seed)
    state = {name: (rng.standard_normal(value.shape) / np.sqrt(H)).astype(np.float32)
             for name, value in model.state_dict().items()}
    model.load_state_dict(state)
    return model, state


def _config(kind, H, options):
    config = {"hidden_size": H, "num_layers": options.get("num_layers", 1), "bias": True,
              "batch_first": True, "bidirectional": options.get("bidirectional", False)}
    if kind == "RNN":
        config["nonlinearity"] = "tanh"
    if kind == "LSTM":
        config["proj_size"] = options.get("proj_size", 0)
    return config


def _run(model, x, amx):
    previous = _kernels.set_amx(amx)
    try:
        return model(x)
    finally:
        _kernels.set_amx(previous)


def _first(result):
    output, state = result
    return [output] + (list(state) if isinstance(state, tuple) else [state])


SIZES = [  # (N, L, F, H): 16-row and 32-row blocks, partial blocks, odd k and columns
    (1, 5, 3, 7), (3, 7, 40, 100), (16, 6, 32, 64), (17, 5, 33, 65), (32, 4, 64, 32),
    (40, 6, 31, 47), (70, 3, 100, 130),
    (33, 20, 40, 50),   # input projection in chunks of 256 rows, the last partial
    (300, 2, 20, 40),   # recurrent products in chunks too
]
CASES = [(kind, size, options) for kind in ("RNN", "LSTM", "GRU") for size in SIZES
         for options in ({}, {"num_layers": 2, "bidirectional": True})]
CASES += [("LSTM", (33, 5, 20, 40), {"proj_size": 24}),
          ("LSTM", (40, 4, 64, 96), {"proj_size": 50, "num_layers": 2})]


@pytest.mark.parametrize("kind,size,options", CASES,
                         ids=[f"{k}-{'x'.join(map(str, s))}-{'-'.join(o) or 'plain'}"
                              for k, s, o in CASES])
def test_amx_matches_the_float64_reference(amx_everywhere, kind, size, options):
    N, L, F, H = size
    model, state = _model(kind, F, H, seed=N * 1000 + H, **options)
    x = np.random.default_rng(N + L).standard_normal((N, L, F)).astype(np.float32)
    got = _first(_run(model, x, True))
    ref = _first(FORWARD[kind](state, _config(kind, H, options), x))
    for g, r in zip(got, ref):
        reference.assert_close(g, r, np.float32, kind=kind.lower())
    # and within the same bound of the float32 kernels without AMX
    for g, f in zip(got, _first(_run(model, x, False))):
        assert reference.normalized_error(g, f) <= 1e-5


def test_auto_uses_amx_only_from_the_measured_sizes():
    rows, input_rows, depth = _kernels._amx_thresholds()
    assert (rows, input_rows, depth) == (16, 64, 16)
    model, _ = _model("LSTM", 16, 32, seed=1)
    x = np.random.default_rng(2).standard_normal((rows, 4, 16)).astype(np.float32)
    # the rule holds in the results: below both thresholds AMX changes nothing
    small = x[:1, :1]
    assert all(np.array_equal(a, b) for a, b in zip(_first(_run(model, small, True)),
                                                     _first(_run(model, small, False))))
    # at them it runs (the split sums differ from float32's in the last bits)
    assert not all(np.array_equal(a, b) for a, b in zip(_first(_run(model, x, True)),
                                                         _first(_run(model, x, False))))


@pytest.mark.parametrize("kind", ["RNN", "LSTM", "GRU"])
def test_rows_do_not_depend_on_their_neighbours(amx_everywhere, kind):
    # each sequence alone (a 16-row block) gives the bits it gets in a batch
    # of 40 (32-row blocks): what makes lengths and threads exact below
    model, _ = _model(kind, 24, 48, seed=3)
    x = np.random.default_rng(4).standard_normal((40, 6, 24)).astype(np.float32)
    together = model(x)[0]
    for n in (0, 17, 39):
        assert np.array_equal(model(x[n:n + 1])[0][0], together[n])


def _lengths_case(kind):
    """A model, a batch of 40 sequences of 30 steps (AMX steps and input) and
    random lengths, the longest 30."""
    model, _ = _model(kind, 32, 64, seed=5)
    rng = np.random.default_rng(6)
    x = rng.standard_normal((40, 30, 32)).astype(np.float32)
    lengths = rng.integers(1, 31, size=40)
    lengths[0] = 30
    return model, x, lengths


@pytest.mark.parametrize("kind", ["RNN", "LSTM", "GRU"])
def test_lengths_give_the_padded_bits(kind):
    model, x, lengths = _lengths_case(kind)
    out, _ = model(x, lengths=lengths)
    padded, _ = model(x)
    # a call with lengths runs only the rows still going (packed rows), and
    # decides on AMX from L and N as the padded call does: a row's steps
    # up to its length are the padded call's bits
    for n in range(40):
        assert np.array_equal(out[n, :lengths[n]], padded[n, :lengths[n]])


@pytest.mark.parametrize("kind", ["RNN", "LSTM", "GRU"])
def test_threads_give_the_bits_of_one(kind):
    # a unidirectional layer this size splits its units between threads, each
    # with its rows of the weights packed for AMX
    model, _ = _model(kind, 64, 256, seed=7)
    x = np.random.default_rng(8).standard_normal((48, 40, 64)).astype(np.float32)
    previous = fastrnn.get_num_threads()
    try:
        fastrnn.set_num_threads(1)
        one = _first(model(x))
        for threads in (2, 3):
            fastrnn.set_num_threads(threads)
            _kernels.resume_split()
            assert all(np.array_equal(a, b) for a, b in zip(_first(model(x)), one))
    finally:
        fastrnn.set_num_threads(previous)


def test_python_threads_on_one_model():
    model, _ = _model("LSTM", 48, 96, seed=9)
    inputs = [np.random.default_rng(10 + k).standard_normal((36, 12, 48)).astype(np.float32)
              for k in range(6)]
    serial = [model(x)[0] for x in inputs]
    results = {}

    def work(k):
        for _ in range(5):
            results[k] = model(inputs[k])[0]

    threads = [threading.Thread(target=work, args=(k,)) for k in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert all(np.array_equal(results[k], serial[k]) for k in range(6))


def _nonfinite_pattern(a):
    return np.isnan(a), np.isposinf(a), np.isneginf(a)


@pytest.mark.parametrize("kind", ["RNN", "LSTM", "GRU"])
@pytest.mark.parametrize("where", ["input", "state", "weight"])
def test_values_that_are_not_finite_fall_back_to_float32(amx_everywhere, kind, where):
    # Inf - Inf has no three-part split: such products run in float32, and the
    # NaN and Inf come out where they do without AMX (and in torch)
    model, state = _model(kind, 8, 16, seed=11)
    x = np.random.default_rng(12).standard_normal((33, 5, 8)).astype(np.float32)
    hx = None
    if where == "input":
        x[3, 2, 1] = np.inf
        x[20, 0, 0] = -np.inf
    elif where == "state":
        h0 = np.zeros((1, 33, 16), np.float32)
        h0[0, 7, 3] = np.inf
        hx = (h0, np.zeros_like(h0)) if kind == "LSTM" else h0
    else:
        name = "weight_hh_l0"
        state[name] = state[name].copy()
        state[name][2, 5] = np.inf
        model.load_state_dict(state)
    saved = x.copy()
    got = _first(_run(model, x, True) if hx is None else model(x, hx))
    previous = _kernels.set_amx(False)
    try:
        plain = _first(model(x) if hx is None else model(x, hx))
    finally:
        _kernels.set_amx(previous)
    assert np.array_equal(x, saved)
    for g, p in zip(got, plain):
        for a, b in zip(_nonfinite_pattern(g), _nonfinite_pattern(p)):
            assert np.array_equal(a, b)
        finite = np.isfinite(p)
        assert reference.normalized_error(g[finite], p[finite]) <= 1e-5


def test_kept_scratch_is_released_and_reused():
    model, _ = _model("GRU", 64, 128, seed=13)
    x = np.random.default_rng(14).standard_normal((40, 20, 64)).astype(np.float32)
    first = model(x)[0]
    _kernels.release_scratch()
    assert np.array_equal(model(x)[0], first)
    assert np.array_equal(model(x)[0], first)  # on the block kept by the call before


@pytest.mark.parametrize("kind", ["RNN", "LSTM", "GRU"])
def test_a_weight_not_finite_gives_the_bits_of_one_thread(kind):
    # Inf in w_ih: the gates it reaches saturate and every output stays
    # finite. One thread runs the whole product in float32; split threads
    # must too, not only the thread whose slice holds the Inf.
    model, state = _model(kind, 64, 256, seed=7)
    state["weight_ih_l0"][3, 5] = np.inf
    model.load_state_dict(state)
    x = np.random.default_rng(8).standard_normal((48, 40, 64)).astype(np.float32)
    previous = fastrnn.get_num_threads()
    try:
        fastrnn.set_num_threads(1)
        one = _first(model(x))
        assert all(np.isfinite(a).all() for a in one)
        fastrnn.set_num_threads(2)
        _kernels.resume_split()
        assert all(np.array_equal(a, b) for a, b in zip(_first(model(x)), one))
    finally:
        fastrnn.set_num_threads(previous)


@pytest.mark.parametrize("kind", ["RNN", "LSTM", "GRU"])
@pytest.mark.parametrize("where", ["valid step", "padding"])
def test_a_row_not_finite_leaves_the_other_rows_bits(kind, where):
    # a NaN in one sequence (in its steps, or in the padding a call with
    # lengths never reads) goes to float32 for that row alone: the other
    # rows keep their bits, and lengths keep giving the padded call's bits
    model, x, lengths = _lengths_case(kind)
    clean, _ = model(x, lengths=lengths)
    short = int(np.argmin(lengths))
    if where == "valid step":
        x[5, 0, 3] = np.nan
    else:
        x[short, lengths[short]:] = np.nan
    out, _ = model(x, lengths=lengths)
    padded, _ = model(x)
    for n in range(40):
        assert np.array_equal(out[n, :lengths[n]], padded[n, :lengths[n]], equal_nan=True)
        if not (where == "valid step" and n == 5):
            assert np.array_equal(out[n], clean[n])


@pytest.mark.parametrize("kind", ["RNN", "LSTM", "GRU"])
def test_streaming_gives_the_bits_of_one_call(kind):
    # one call takes w's column blocks backwards on odd steps (_amx.h); step by
    # step every call starts forwards: the order must not change the sums
    model, _ = _model(kind, 32, 64, seed=15)
    x = np.random.default_rng(16).standard_normal((64, 5, 32)).astype(np.float32)
    whole, final = model(x)
    state = None
    for t in range(5):
        out, state = model(x[:, t:t + 1]) if state is None else model(x[:, t:t + 1], state)
        assert np.array_equal(out[:, 0], whole[:, t])
    for a, b in zip(_first((None, state))[1:], _first((None, final))[1:]):
        assert np.array_equal(a, b)
