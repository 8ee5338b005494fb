"""fastrnn.LSTM against torch.nn.LSTM, stored torch outputs and the numpy reference,
and what only LSTM has: the (h_0, c_0) pair, c_n and proj_size.

Tests named *_torch_* / *_live* need torch and skip without it; every other
test runs without torch. The stored-data tests check torch parity from
tests/data/lstm/, written by tools/make_reference_data.py. What LSTM shares
with GRU (state dicts, init, repr, common errors) is in test_lstm_gru_api.py.
"""
import itertools
import re

import numpy as np
import pytest

import fastrnn
import reference
from reference import assert_close

pytestmark = pytest.mark.usefixtures("torch_one_thread")  # see conftest.py

KIND = "lstm"
CASES = reference.parity_cases(KIND)
CASE_IDS = [c["id"] for c in CASES]
STORED_PATHS = reference.stored_case_paths(KIND)


def _model_for(config, dtype, state=None, **kwargs):
    model = fastrnn.LSTM(**reference.case_config(dict(config, kind=KIND)), dtype=dtype, **kwargs)
    if state is not None:
        model.load_state_dict(state)
    return model


def _assert_lstm_close(got, expected, dtype, what=""):
    """got, expected: (output, (h_n, c_n))."""
    output, (h_n, c_n) = got
    ref_output, (ref_h_n, ref_c_n) = expected
    assert_close(output, ref_output, dtype, f"{what} output", kind=KIND)
    assert_close(h_n, ref_h_n, dtype, f"{what} h_n", kind=KIND)
    assert_close(c_n, ref_c_n, dtype, f"{what} c_n", kind=KIND)


def _random_config(rng, **override):
    H = int(rng.integers(1, 9))
    config = dict(input_size=int(rng.integers(1, 9)), hidden_size=H,
                  num_layers=int(rng.integers(1, 4)), bias=bool(rng.integers(2)),
                  batch_first=bool(rng.integers(2)), bidirectional=bool(rng.integers(2)),
                  proj_size=int(rng.integers(0, H)) if rng.integers(2) else 0)
    config.update(override)
    return config


def _random_input(rng, config, L, N, dtype):
    F = config["input_size"]
    if N is None:
        shape = (L, F)
    else:
        shape = (N, L, F) if config["batch_first"] else (L, N, F)
    return rng.standard_normal(shape).astype(dtype)


def _random_hx(rng, config, N, dtype):
    case = dict(config, kind=KIND, batch=N)
    return tuple((0.5 * rng.standard_normal(shape)).astype(dtype)
                 for shape in reference.case_state_shapes(case))


# ============================================================== the grid itself
def test_grid_covers_every_pair_of_option_values():
    options = reference.GRID_OPTIONS[KIND]
    for (a, values_a), (b, values_b) in itertools.combinations(options.items(), 2):
        seen = {(reference.option_value(c, a), reference.option_value(c, b)) for c in CASES}
        missing = set(itertools.product(values_a, values_b)) - seen
        assert not missing, f"grid never combines {a} and {b} as {sorted(missing)}"


def test_grid_covers_required_combinations():
    assert all(c["kind"] == KIND for c in CASES)
    combos = {(c["batch_first"], c["unbatched"], c["with_hx"]) for c in CASES}
    assert combos == set(itertools.product([False, True], repeat=3))
    projected = [c for c in CASES if c["proj_size"]]
    assert all(0 < c["proj_size"] < c["hidden_size"] for c in projected)
    # Projections with every other option that changes a state's shape.
    assert any(c["bidirectional"] and c["num_layers"] > 1 and c["with_hx"] for c in projected)
    assert any(c["unbatched"] and c["with_hx"] for c in projected)
    assert any(c["batch_first"] and c["bidirectional"] for c in projected)
    assert any(c["proj_size"] == 1 for c in projected)
    for size in ("hidden_size", "input_size", "seq_len"):
        assert any(c[size] == 1 for c in CASES), size
    assert any(c["batch"] == 1 for c in CASES)
    assert any(c["batch"] == 1 and c["bidirectional"] and c["num_layers"] > 1 for c in CASES)
    # Sizes on which the kernels take their packed recurrent step (float32,
    # L*N >= 16, batch 4-16), with and without a projection.
    packed = [c for c in CASES if c["dtype"] == "float32" and c["hidden_size"] >= 16
              and c["seq_len"] * (c["batch"] or 1) >= 16]
    assert any(c["batch"] == 8 and c["seq_len"] == 20 and c["hidden_size"] == 64 for c in packed)
    assert any(c["proj_size"] for c in packed) and any(not c["proj_size"] for c in packed)
    assert any(c["bidirectional"] and c["num_layers"] > 1 for c in packed)


def test_stored_data_matches_the_grid():
    """One stored file per grid case, holding that case and torch's shapes."""
    assert sorted(p.stem for p in STORED_PATHS) == sorted(CASE_IDS)
    for case in CASES:
        stored = reference.load_case(reference.case_path(case["id"]))
        assert stored["case"] == case
        assert stored["state_keys"] == reference.torch_parameter_names(
            case["num_layers"], case["bidirectional"], case["bias"], case["proj_size"])
        assert stored["input"].shape == reference.case_input_shape(case)
        assert stored["input"].dtype == np.dtype(case["dtype"])
        h_shape, c_shape = reference.case_state_shapes(case)
        if case["with_hx"]:
            assert [s.shape for s in stored["hx"]] == [h_shape, c_shape]
        else:
            assert stored["hx"] is None
        assert stored["h_n"].shape == h_shape and stored["c_n"].shape == c_shape
        D = 2 if case["bidirectional"] else 1
        assert stored["output"].shape[-1] == D * (case["proj_size"] or case["hidden_size"])


# ============================================================== stored torch outputs
@pytest.mark.parametrize("path", STORED_PATHS, ids=[p.stem for p in STORED_PATHS])
def test_fastrnn_matches_stored_torch_output(path):
    stored = reference.load_case(path)
    case = stored["case"]
    model = _model_for(case, case["dtype"], stored["state"])
    output, (h_n, c_n) = model(stored["input"], stored["hx"])
    assert {a.dtype for a in (output, h_n, c_n)} == {np.dtype(case["dtype"])}
    _assert_lstm_close((output, (h_n, c_n)), (stored["output"], (stored["h_n"], stored["c_n"])),
                       case["dtype"], path.stem)


@pytest.mark.parametrize("path", STORED_PATHS, ids=[p.stem for p in STORED_PATHS])
def test_reference_matches_stored_torch_output(path):
    stored = reference.load_case(path)
    case = stored["case"]
    got = reference.lstm_forward(stored["state"], case, stored["input"], stored["hx"])
    _assert_lstm_close(got, (stored["output"], (stored["h_n"], stored["c_n"])), case["dtype"],
                       "reference")


# ============================================================== live torch
@pytest.mark.parametrize("case", CASES, ids=CASE_IDS)
def test_fastrnn_matches_torch_live(case):
    torch = pytest.importorskip("torch")
    # A seed other than the stored one: fresh weights and inputs.
    result = reference.data_tool().run_torch_case(torch, case, seed=54321 + CASE_IDS.index(case["id"]))
    model = fastrnn.LSTM.from_torch(result["module"])
    assert model.dtype == np.dtype(case["dtype"])
    got = model(result["input"], result["hx"])
    _assert_lstm_close(got, (result["output"], (result["h_n"], result["c_n"])), case["dtype"])

    # The same through torch tensors as inputs.
    hx = None if result["hx"] is None else tuple(torch.from_numpy(s) for s in result["hx"])
    output_t, (h_n_t, c_n_t) = model(torch.from_numpy(result["input"]), hx)
    np.testing.assert_array_equal(output_t, got[0])
    np.testing.assert_array_equal(h_n_t, got[1][0])
    np.testing.assert_array_equal(c_n_t, got[1][1])


@pytest.mark.parametrize("case", CASES, ids=CASE_IDS)
def test_reference_matches_torch_live(case):
    torch = pytest.importorskip("torch")
    result = reference.data_tool().run_torch_case(torch, case, seed=999 + CASE_IDS.index(case["id"]))
    got = reference.lstm_forward(result["state"], case, result["input"], result["hx"])
    _assert_lstm_close(got, (result["output"], (result["h_n"], result["c_n"])), case["dtype"],
                       "reference")


def test_stored_data_is_what_torch_computes_now():
    """The stored outputs are torch's for the stored weights and inputs."""
    torch = pytest.importorskip("torch")
    tool = reference.data_tool()
    for path in STORED_PATHS:
        stored = reference.load_case(path)
        module = tool.torch_module(torch, stored["case"])
        module.load_state_dict({k: torch.from_numpy(v) for k, v in stored["state"].items()})
        hx = None if stored["hx"] is None else tuple(torch.from_numpy(s) for s in stored["hx"])
        with torch.no_grad():
            output, (h_n, c_n) = module(torch.from_numpy(stored["input"]), hx)
        _assert_lstm_close((output.numpy(), (h_n.numpy(), c_n.numpy())),
                           (stored["output"], (stored["h_n"], stored["c_n"])),
                           stored["case"]["dtype"], path.stem)


@pytest.mark.parametrize("seed", range(5))
def test_fastrnn_matches_torch_live_larger_sizes(seed):
    """Sizes past the kernels' small-size paths, with and without projections."""
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(seed)
    H = int(rng.integers(20, 70))
    config = _random_config(rng, input_size=int(rng.integers(20, 70)), hidden_size=H,
                            proj_size=int(rng.integers(1, H)) if seed % 2 else 0)
    for dtype in ("float32", "float64"):
        torch.manual_seed(seed)
        module = torch.nn.LSTM(**config, dtype=getattr(torch, dtype))
        N = int(rng.integers(1, 12))
        x = _random_input(rng, config, L=int(rng.integers(10, 30)), N=N, dtype=dtype)
        hx = _random_hx(rng, config, N, dtype)
        with torch.no_grad():
            expected, (expected_h, expected_c) = module(
                torch.from_numpy(x), tuple(torch.from_numpy(s) for s in hx))
        got = fastrnn.LSTM.from_torch(module)(x, hx)
        _assert_lstm_close(got, (expected.numpy(), (expected_h.numpy(), expected_c.numpy())),
                           dtype, str(config))


# ============================================================== numpy reference
@pytest.mark.parametrize("seed", range(24))
def test_fastrnn_matches_reference_random_configs(seed):
    rng = np.random.default_rng(2000 + seed)
    big = seed % 5 == 0
    config = _random_config(rng)
    if big:
        H = int(rng.integers(16, 48))
        config.update(input_size=int(rng.integers(16, 48)), hidden_size=H,
                      proj_size=int(rng.integers(1, H)) if seed % 2 else 0)
    dtype = ("float32", "float64")[seed % 2]
    N = [None, 1, int(rng.integers(2, 9))][seed % 3]
    L = int(rng.integers(1, 30 if big else 10))
    x = _random_input(rng, config, L, N, dtype)
    hx = None if seed % 4 < 2 else _random_hx(rng, config, N, dtype)
    model = _model_for(config, dtype, seed=seed)
    got = model(x, hx)
    expected = reference.lstm_forward(model.state_dict(), config, x, hx)
    _assert_lstm_close(got, expected, dtype, str(config))


# ============================================================== outputs
@pytest.mark.parametrize("proj_size", [0, 3])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_output_ends_are_the_final_hidden_states(proj_size, dtype):
    """output[:, -1] == h_n[-1] (batch-first, one direction); for two
    directions the forward half ends at the last step and the reverse half at
    the first. c_n is the cell state, not in the output."""
    rng = np.random.default_rng(0)
    P = proj_size or 5
    for num_layers, bidirectional in itertools.product([1, 3], [False, True]):
        for batch_first in (False, True):
            model = fastrnn.LSTM(2, 5, num_layers, batch_first=batch_first,
                                 bidirectional=bidirectional, proj_size=proj_size, dtype=dtype,
                                 seed=1)
            x = rng.standard_normal((3, 6, 2) if batch_first else (6, 3, 2))
            output, (h_n, c_n) = model(x)
            D = 2 if bidirectional else 1
            assert output.shape[-1] == D * P
            assert h_n.shape == (D * num_layers, 3, P) and c_n.shape == (D * num_layers, 3, 5)
            time_major = output.transpose(1, 0, 2) if batch_first else output
            last = h_n[-2] if bidirectional else h_n[-1]
            np.testing.assert_array_equal(time_major[-1, :, :P], last)
            if batch_first and not bidirectional:
                np.testing.assert_array_equal(output[:, -1], h_n[-1])
            if bidirectional:
                np.testing.assert_array_equal(time_major[0, :, P:], h_n[-1])
            assert not np.array_equal(time_major[0, :, :P], time_major[-1, :, :P])


def test_unbatched_is_a_batch_of_one():
    model = fastrnn.LSTM(3, 5, 2, bidirectional=True, proj_size=2, dtype=np.float64, seed=0)
    rng = np.random.default_rng(1)
    x = rng.standard_normal((7, 3))
    h0, c0 = rng.standard_normal((4, 2)), rng.standard_normal((4, 5))
    output, (h_n, c_n) = model(x, (h0, c0))
    assert output.shape == (7, 4) and h_n.shape == (4, 2) and c_n.shape == (4, 5)
    batched, (bh, bc) = model(x[:, None], (h0[:, None], c0[:, None]))
    np.testing.assert_array_equal(output, batched[:, 0])
    np.testing.assert_array_equal(h_n, bh[:, 0])
    np.testing.assert_array_equal(c_n, bc[:, 0])


def test_hx_as_list():
    """torch accepts [h_0, c_0] as well as (h_0, c_0); tensors are read like arrays."""
    model = fastrnn.LSTM(3, 4, proj_size=2, seed=0)
    rng = np.random.default_rng(0)
    x = rng.standard_normal((5, 2, 3)).astype(np.float32)
    h0 = rng.standard_normal((1, 2, 2)).astype(np.float32)
    c0 = rng.standard_normal((1, 2, 4)).astype(np.float32)
    expected = model(x, (h0, c0))
    output, (h_n, c_n) = model(x, [h0, c0])
    np.testing.assert_array_equal(output, expected[0])
    np.testing.assert_array_equal(c_n, expected[1][1])
    # Zeros are the default state.
    zeros = model(x, (np.zeros_like(h0), np.zeros_like(c0)))
    for a, b in zip(model(x)[1], zeros[1]):
        np.testing.assert_array_equal(a, b)


def test_hx_as_torch_tensors():
    torch = pytest.importorskip("torch")
    model = fastrnn.LSTM(3, 4, proj_size=2, seed=0)
    rng = np.random.default_rng(0)
    x = rng.standard_normal((5, 2, 3)).astype(np.float32)
    h0 = rng.standard_normal((1, 2, 2)).astype(np.float32)
    c0 = rng.standard_normal((1, 2, 4)).astype(np.float32)
    expected = model(x, (h0, c0))
    hx = (torch.from_numpy(h0).requires_grad_(True), torch.from_numpy(c0).double())
    output, (h_n, c_n) = model(torch.from_numpy(x), hx)
    assert isinstance(output, np.ndarray) and isinstance(c_n, np.ndarray)
    np.testing.assert_array_equal(output, expected[0])
    np.testing.assert_array_equal(h_n, expected[1][0])
    np.testing.assert_array_equal(c_n, expected[1][1])


# ============================================================== proj_size
@pytest.mark.parametrize("num_layers, bidirectional", [(1, False), (2, True), (3, False)])
def test_projection_parameter_shapes(num_layers, bidirectional):
    model = fastrnn.LSTM(3, 6, num_layers, bidirectional=bidirectional, proj_size=2)
    D = 2 if bidirectional else 1
    assert model.proj_size == 2 and model.hidden_size == 6
    shapes = {name: p.shape for name, p in model.named_parameters()}
    assert list(shapes) == reference.torch_parameter_names(num_layers, bidirectional, True, 2)
    for name, shape in shapes.items():
        layer = int(name.split("_l")[1].split("_")[0])
        expected = {"weight_ih": (24, 3 if layer == 0 else D * 2), "weight_hh": (24, 2),
                    "bias_ih": (24,), "bias_hh": (24,), "weight_hr": (2, 6)}[name.split("_l")[0]]
        assert shape == expected, name


def test_projection_is_applied_to_h_not_c():
    """With W_hr = [I 0], h_t is the first P units of o * tanh(c_t): the same as
    an unprojected LSTM's first units when W_hh reads only those units."""
    H, P = 4, 2
    projected = fastrnn.LSTM(3, H, proj_size=P, dtype=np.float64, seed=0)
    plain = fastrnn.LSTM(3, H, dtype=np.float64, seed=0)
    projected.weight_hr_l0 = np.eye(P, H)
    plain.weight_ih_l0 = projected.weight_ih_l0
    plain.bias_ih_l0 = projected.bias_ih_l0
    plain.bias_hh_l0 = projected.bias_hh_l0
    w_hh = np.zeros((4 * H, H))
    w_hh[:, :P] = projected.weight_hh_l0
    plain.weight_hh_l0 = w_hh
    x = np.random.default_rng(3).standard_normal((6, 2, 3))
    out_p, (h_p, c_p) = projected(x)
    out, (h, c) = plain(x)
    np.testing.assert_allclose(out_p, out[..., :P], rtol=0, atol=1e-14)
    np.testing.assert_allclose(h_p, h[..., :P], rtol=0, atol=1e-14)
    np.testing.assert_allclose(c_p, c, rtol=0, atol=1e-14)


@pytest.mark.parametrize("proj_size, error, message", [
    (-1, ValueError, "proj_size should be a positive integer or zero to disable projections"),
    (6, ValueError, "proj_size has to be smaller than hidden_size"),
    (7, ValueError, "proj_size has to be smaller than hidden_size"),
    (2.0, TypeError, "proj_size should be of type int, got: float"),
    (True, TypeError, "proj_size should be of type int, got: bool"),
    ("2", TypeError, "proj_size should be of type int, got: str"),
    (None, TypeError, "proj_size should be of type int, got: NoneType"),
])
def test_bad_proj_size(proj_size, error, message):
    with pytest.raises(error, match=message):
        fastrnn.LSTM(3, 6, proj_size=proj_size)


@pytest.mark.parametrize("proj_size", [-1, 6, 7, 2.0, True, "2", None])
def test_bad_proj_size_errors_equal_torch(proj_size):
    """Same class as torch; same message where torch's is its own (not an
    incidental one from deeper inside torch)."""
    torch = pytest.importorskip("torch")
    with pytest.raises(Exception) as expected:
        torch.nn.LSTM(3, 6, proj_size=proj_size)
    with pytest.raises(Exception) as got:
        fastrnn.LSTM(3, 6, proj_size=proj_size)
    if "proj_size" in str(expected.value):
        reference.assert_error_like_torch(got.value, expected.value)
    else:
        assert isinstance(got.value, type(expected.value))


def test_numpy_int_proj_size():
    model = fastrnn.LSTM(3, 6, proj_size=np.int64(2))
    assert model.proj_size == 2 and type(model.proj_size) is int


# ============================================================== (h_0, c_0) errors
def _pair(h_shape, c_shape):
    return np.zeros(h_shape, np.float32), np.zeros(c_shape, np.float32)


# A 2-layer bidirectional LSTM(3, 5, proj_size=2): h is (4, N, 2), c is (4, N, 5).
BAD_STATES = {
    "h_hidden": ((5, 2, 3), (4, 2, 5), (4, 2, 5)),   # h given hidden_size features, not proj_size
    "h_proj_plus": ((5, 2, 3), (4, 2, 3), (4, 2, 5)),
    "c_proj": ((5, 2, 3), (4, 2, 2), (4, 2, 2)),     # c given proj_size features
    "h_batch": ((5, 2, 3), (4, 3, 2), (4, 2, 5)),
    "c_batch": ((5, 2, 3), (4, 2, 2), (4, 3, 5)),
    "h_layers": ((5, 2, 3), (2, 2, 2), (4, 2, 5)),
    "c_layers": ((5, 2, 3), (4, 2, 2), (8, 2, 5)),
    "both": ((5, 2, 3), (4, 2, 5), (4, 2, 2)),       # swapped: h's error comes first
    "unbatched_h": ((5, 3), (4, 5), (4, 5)),
    "unbatched_c": ((5, 3), (4, 2), (3, 5)),
    "unbatched_c_batch_one": ((5, 3), (4, 2), (4, 1)),
}

BAD_STATE_DIMS = {
    "h_2d": ((5, 2, 3), (4, 2), (4, 2, 5)),
    "c_2d": ((5, 2, 3), (4, 2, 2), (4, 5)),
    "both_4d": ((5, 2, 3), (1, 4, 2, 2), (1, 4, 2, 5)),
    "h_1d": ((5, 2, 3), (2,), (4, 2, 5)),
    "unbatched_h_3d": ((5, 3), (4, 1, 2), (4, 5)),
    "unbatched_c_3d": ((5, 3), (4, 2), (4, 1, 5)),
    "unbatched_c_0d": ((5, 3), (4, 2), ()),
}


def _bad_model(**kwargs):
    return fastrnn.LSTM(3, 5, 2, bidirectional=True, proj_size=2, seed=0, **kwargs)


@pytest.mark.parametrize("kind", list(BAD_STATES))
def test_wrong_state_shapes(kind, no_kernel):
    x_shape, h_shape, c_shape = BAD_STATES[kind]
    with pytest.raises(ValueError, match=r"Expected hidden\[[01]\] size") as error:
        _bad_model()(np.zeros(x_shape, np.float32), _pair(h_shape, c_shape))
    assert isinstance(error.value, RuntimeError)
    which = 1 if kind.startswith(("c_", "unbatched_c")) else 0
    assert f"hidden[{which}]" in str(error.value)
    assert no_kernel() == 0


def test_wrong_state_shape_message_names_both_shapes(no_kernel):
    with pytest.raises(ValueError) as error:
        _bad_model()(np.zeros((5, 2, 3), np.float32), _pair((4, 2, 5), (4, 2, 5)))
    assert str(error.value) == "Expected hidden[0] size (4, 2, 2), got [4, 2, 5]"
    with pytest.raises(ValueError) as error:
        _bad_model()(np.zeros((5, 2, 3), np.float32), _pair((4, 2, 2), (4, 2, 2)))
    assert str(error.value) == "Expected hidden[1] size (4, 2, 5), got [4, 2, 2]"


@pytest.mark.parametrize("kind", list(BAD_STATES))
def test_wrong_state_shapes_equal_torch(kind):
    torch = pytest.importorskip("torch")
    x_shape, h_shape, c_shape = BAD_STATES[kind]
    model = _bad_model()
    module = torch.nn.LSTM(3, 5, 2, bidirectional=True, proj_size=2)
    x, hx = np.zeros(x_shape, np.float32), _pair(h_shape, c_shape)
    with pytest.raises(Exception) as expected:
        module(torch.from_numpy(x), tuple(torch.from_numpy(s) for s in hx))
    with pytest.raises(Exception) as got:
        model(x, hx)
    reference.assert_error_like_torch(got.value, expected.value,
                                      unbatched_state=len(x_shape) == 2)


@pytest.mark.parametrize("kind", list(BAD_STATE_DIMS))
def test_state_dims_mismatch(kind, no_kernel):
    x_shape, h_shape, c_shape = BAD_STATE_DIMS[kind]
    batched = len(x_shape) == 3
    message = (f"For {'batched 3-D' if batched else 'unbatched 2-D'} input, hx and cx should "
               f"also be {3 if batched else 2}-D but got ({len(h_shape)}-D, {len(c_shape)}-D)")
    with pytest.raises(ValueError, match=re.escape(message)) as error:
        _bad_model()(np.zeros(x_shape, np.float32), _pair(h_shape, c_shape))
    assert isinstance(error.value, RuntimeError)
    assert no_kernel() == 0


@pytest.mark.parametrize("kind", list(BAD_STATE_DIMS))
def test_state_dims_mismatch_equal_torch(kind):
    torch = pytest.importorskip("torch")
    x_shape, h_shape, c_shape = BAD_STATE_DIMS[kind]
    x, hx = np.zeros(x_shape, np.float32), _pair(h_shape, c_shape)
    with pytest.raises(Exception) as expected:
        torch.nn.LSTM(3, 5, 2, bidirectional=True, proj_size=2)(
            torch.from_numpy(x), tuple(torch.from_numpy(s) for s in hx))
    with pytest.raises(Exception) as got:
        _bad_model()(x, hx)
    reference.assert_error_like_torch(got.value, expected.value)


NOT_A_PAIR = {
    "array": lambda h, c: h,
    "one_tuple": lambda h, c: (h,),
    "three_tuple": lambda h, c: (h, c, c),
    "empty_tuple": lambda h, c: (),
    "number": lambda h, c: 0.0,
    "string": lambda h, c: "hx",
    "dict": lambda h, c: {"h": h, "c": c},
    "generator": lambda h, c: (s for s in (h, c)),
}


@pytest.mark.parametrize("kind", list(NOT_A_PAIR))
def test_hx_must_be_a_pair(kind, no_kernel):
    h, c = _pair((4, 2, 2), (4, 2, 5))
    given = NOT_A_PAIR[kind](h, c)
    # RuntimeError as in torch (and ValueError: fastrnn's shape errors are both)
    with pytest.raises(RuntimeError, match=r"\(h_0, c_0\)") as error:
        _bad_model()(np.zeros((5, 2, 3), np.float32), given)
    assert isinstance(error.value, ValueError)
    assert type(given).__name__ in str(error.value)  # names what came
    assert no_kernel() == 0


@pytest.mark.parametrize("which", [0, 1])
@pytest.mark.parametrize("bad", [None, "abc", np.zeros((4, 2, 2), complex), [[1.0], [1.0, 2.0]]],
                         ids=["None", "str", "complex", "ragged"])
def test_pair_members_must_be_real_arrays(which, bad, no_kernel):
    pair = list(_pair((4, 2, 2), (4, 2, 5)))
    pair[which] = bad
    with pytest.raises(TypeError, match=rf"hx\[{which}\] must"):
        _bad_model()(np.zeros((5, 2, 3), np.float32), tuple(pair))
    assert no_kernel() == 0


def test_caller_state_arrays_are_not_modified():
    for dtype, batch_first, unbatched in itertools.product(
            (np.float32, np.float64), (False, True), (False, True)):
        model = fastrnn.LSTM(3, 5, 2, bidirectional=True, proj_size=2, batch_first=batch_first,
                             dtype=dtype, seed=0)
        rng = np.random.default_rng(0)
        shape = (6, 3) if unbatched else ((2, 6, 3) if batch_first else (6, 2, 3))
        x = rng.standard_normal(shape).astype(dtype)
        h0 = rng.standard_normal((4, 2) if unbatched else (4, 2, 2)).astype(dtype)
        c0 = rng.standard_normal((4, 5) if unbatched else (4, 2, 5)).astype(dtype)
        copies = [a.copy() for a in (x, h0, c0)]
        output, (h_n, c_n) = model(x, (h0, c0))
        for given, copy in zip((x, h0, c0), copies):
            np.testing.assert_array_equal(given, copy)
        for result in (output, h_n, c_n):
            assert not any(np.shares_memory(result, a) for a in (x, h0, c0))
        assert not np.shares_memory(h_n, c_n)
        # Writing into the results reaches neither the model nor the inputs.
        for result in (output, h_n, c_n):
            result[...] = 9
        again = model(x, (h0, c0))
        assert not np.any(again[0] == 9) and not np.any(again[1][1] == 9)
