"""Property-based tests (hypothesis): random models and inputs against the numpy
references (and torch when installed).

Drawn per example: the class, sizes from 1 up, layers, directions, layout,
bias, dtype, LSTM projections, an initial state or none, batched or
unbatched input, lengths or none, and an input that is not C-contiguous
(a strided or transposed view) or of another dtype. fastrnn must agree with
the reference within the project's tolerance, leave the input untouched, and
zero the output past each length.

CI runs the "ci" profile: derandomized (the same examples every run), 60
examples per test. HYPOTHESIS_PROFILE=long runs 2000 random examples per
test by hand.
"""
import os

import numpy as np
import pytest

hypothesis = pytest.importorskip("hypothesis")
from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

import fastrnn  # noqa: E402
from reference import assert_close, gru_forward, lstm_forward, rnn_forward  # noqa: E402

settings.register_profile("ci", max_examples=60, derandomize=True, deadline=None,
                          suppress_health_check=[HealthCheck.too_slow])
settings.register_profile("long", max_examples=2000, deadline=None,
                          suppress_health_check=[HealthCheck.too_slow])
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))

CLASSES = {"rnn": (fastrnn.RNN, rnn_forward), "lstm": (fastrnn.LSTM, lstm_forward),
           "gru": (fastrnn.GRU, gru_forward)}


@st.composite
def cases(draw):
    kind = draw(st.sampled_from(sorted(CLASSES)))
    hidden = draw(st.integers(1, 40))
    config = dict(
        input_size=draw(st.integers(1, 12)), hidden_size=hidden,
        num_layers=draw(st.integers(1, 3)), bias=draw(st.booleans()),
        batch_first=draw(st.booleans()), bidirectional=draw(st.booleans()))
    if kind == "rnn":
        config["nonlinearity"] = draw(st.sampled_from(["tanh", "relu"]))
    if kind == "lstm" and hidden > 1 and draw(st.booleans()):
        config["proj_size"] = draw(st.integers(1, hidden - 1))
    dtype = draw(st.sampled_from([np.float32, np.float64]))
    L = draw(st.integers(1, 9))
    batched = draw(st.booleans())
    N = draw(st.integers(1, 7)) if batched else 1
    layout = draw(st.sampled_from(["contiguous", "strided", "fortran", "float16", "int"]))
    with_hx = draw(st.booleans())
    with_lengths = draw(st.booleans())
    lengths = draw(st.lists(st.integers(1, L), min_size=N, max_size=N)) if with_lengths else None
    seed = draw(st.integers(0, 2**32 - 1))
    return kind, config, dtype, L, N, batched, layout, with_hx, lengths, seed


def _make_input(config, L, N, batched, layout, rng):
    I = config["input_size"]
    shape = ((N, L, I) if config["batch_first"] else (L, N, I)) if batched else (L, I)
    base = rng.standard_normal(shape)
    if layout == "strided":   # every other element of a larger array
        big = np.zeros(tuple(2 * s for s in shape))
        big[tuple(slice(None, None, 2) for _ in shape)] = base
        return big[tuple(slice(None, None, 2) for _ in shape)]
    if layout == "fortran":
        return np.asfortranarray(base)
    if layout == "float16":
        return base.astype(np.float16)
    if layout == "int":
        return np.round(base * 2).astype(np.int32)
    return base.astype(np.float32)


def _make_hx(model, kind, N, batched, rng):
    rows = model.num_directions * model.num_layers
    shape = (lambda size: (rows, N, size)) if batched else (lambda size: (rows, size))
    h0 = rng.standard_normal(shape(model.proj_size or model.hidden_size))
    if kind == "lstm":
        return (h0, rng.standard_normal(shape(model.hidden_size)))
    return h0


def _flat(result):
    output, state = result
    return [output] + (list(state) if isinstance(state, tuple) else [state])


def _slice_time(array, length, batch_first, batched, n):
    """Sequence n's first `length` steps, kept 3-D (or 2-D unbatched)."""
    if not batched:
        return array[:length]
    return array[n:n + 1, :length] if batch_first else array[:length, n:n + 1]


def _state_item(state, n, batched):
    if state is None or not batched:
        return state
    if isinstance(state, tuple):
        return tuple(s[:, n:n + 1] for s in state)
    return state[:, n:n + 1]


@given(cases())
def test_every_class_matches_the_numpy_reference(case):
    kind, config, dtype, L, N, batched, layout, with_hx, lengths, seed = case
    cls, reference = CLASSES[kind]
    rng = np.random.default_rng(seed)
    model = cls(**config, dtype=dtype, seed=seed)
    x = _make_input(config, L, N, batched, layout, rng)
    hx = _make_hx(model, kind, N, batched, rng) if with_hx else None
    x_before = x.copy()
    got = _flat(model(x, hx, lengths=lengths if batched or lengths is None else lengths[0]))
    np.testing.assert_array_equal(x, x_before)
    state = model.state_dict()
    name = np.dtype(dtype).name
    if lengths is None:
        want = _flat(reference(state, config, x, hx))
        for g, w, what in zip(got, want, ("output", "h_n", "c_n")):
            assert g.shape == w.shape and g.dtype == dtype
            assert_close(g, w, name, what, kind=kind)
        return
    # With lengths: each sequence as if alone, zeros past its length.
    bf = config["batch_first"]
    for n, length in enumerate(lengths):
        want = _flat(reference(state, config, _slice_time(x, length, bf, batched, n),
                               _state_item(hx, n, batched)))
        out_n = _slice_time(got[0], length, bf, batched, n)
        assert_close(out_n, want[0], name, "output", kind=kind)
        rest = got[0][n, length:] if batched and bf else (
            got[0][length:, n] if batched else got[0][length:])
        assert not rest.any()
        for g, w in zip(got[1:], want[1:]):
            g_n = g[:, n:n + 1] if batched else g
            assert_close(g_n, w, name, "state", kind=kind)


@given(cases())
@settings(max_examples=25)
def test_every_class_matches_torch(case):
    torch = pytest.importorskip("torch")
    kind, config, dtype, L, N, batched, layout, with_hx, lengths, seed = case
    cls, _ = CLASSES[kind]
    rng = np.random.default_rng(seed)
    model = cls(**config, dtype=dtype, seed=seed)
    tdtype = torch.float64 if dtype == np.float64 else torch.float32
    module = getattr(torch.nn, kind.upper())(**config).to(tdtype)
    module.load_state_dict({k: torch.from_numpy(v) for k, v in model.state_dict().items()})
    x = _make_input(config, L, N, batched, "contiguous", rng).astype(dtype)
    hx = _make_hx(model, kind, N, batched, rng) if with_hx else None
    if hx is not None:
        hx = tuple(h.astype(dtype) for h in hx) if isinstance(hx, tuple) else hx.astype(dtype)
    thx = None if hx is None else (tuple(torch.from_numpy(h) for h in hx)
                                   if isinstance(hx, tuple) else torch.from_numpy(hx))
    with torch.no_grad():
        want = [t.numpy() for t in _flat(module(torch.from_numpy(x), thx))]
    got = _flat(model(x, hx))
    for g, w, what in zip(got, want, ("output", "h_n", "c_n")):
        assert_close(g, w, np.dtype(dtype).name, what, kind=kind)
