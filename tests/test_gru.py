"""fastrnn.GRU against torch.nn.GRU, stored torch outputs and the numpy reference,
and GRU's own checks: its hidden state and the refused proj_size.

Tests named *_torch_* / *_live* need torch and skip without it; every other
test runs without torch. The stored-data tests check torch parity from
tests/data/gru/, written by tools/make_reference_data.py. What GRU shares
with LSTM (state dicts, init, repr, common errors) is in test_lstm_gru_api.py.
"""
import itertools
import re

import numpy as np
import pytest

import fastrnn
import reference
from reference import assert_close

pytestmark = pytest.mark.usefixtures("torch_one_thread")  # see conftest.py

KIND = "gru"
CASES = reference.parity_cases(KIND)
CASE_IDS = [c["id"] for c in CASES]
STORED_PATHS = reference.stored_case_paths(KIND)


def _model_for(config, dtype, state=None, **kwargs):
    model = fastrnn.GRU(**reference.case_config(dict(config, kind=KIND)), dtype=dtype, **kwargs)
    if state is not None:
        model.load_state_dict(state)
    return model


def _assert_gru_close(got, expected, dtype, what=""):
    """got, expected: (output, h_n)."""
    assert_close(got[0], expected[0], dtype, f"{what} output", kind=KIND)
    assert_close(got[1], expected[1], dtype, f"{what} h_n", kind=KIND)


def _random_config(rng, **override):
    config = dict(input_size=int(rng.integers(1, 9)), hidden_size=int(rng.integers(1, 9)),
                  num_layers=int(rng.integers(1, 4)), bias=bool(rng.integers(2)),
                  batch_first=bool(rng.integers(2)), bidirectional=bool(rng.integers(2)))
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
    (shape,) = reference.case_state_shapes(dict(config, kind=KIND, batch=N))
    return (0.5 * rng.standard_normal(shape)).astype(dtype)


# ============================================================== the grid itself
def test_grid_covers_every_pair_of_option_values():
    options = reference.GRID_OPTIONS[KIND]
    for (a, values_a), (b, values_b) in itertools.combinations(options.items(), 2):
        seen = {(reference.option_value(c, a), reference.option_value(c, b)) for c in CASES}
        missing = set(itertools.product(values_a, values_b)) - seen
        assert not missing, f"grid never combines {a} and {b} as {sorted(missing)}"


def test_grid_covers_required_combinations():
    assert all(c["kind"] == KIND and "proj_size" not in c for c in CASES)
    combos = {(c["batch_first"], c["unbatched"], c["with_hx"]) for c in CASES}
    assert combos == set(itertools.product([False, True], repeat=3))
    for size in ("hidden_size", "input_size", "seq_len"):
        assert any(c[size] == 1 for c in CASES), size
    assert any(c["batch"] == 1 for c in CASES)
    assert any(c["batch"] == 1 and c["bidirectional"] and c["num_layers"] > 1 for c in CASES)
    packed = [c for c in CASES if c["dtype"] == "float32" and c["hidden_size"] >= 16
              and c["seq_len"] * (c["batch"] or 1) >= 16]
    assert any(c["batch"] == 8 and c["seq_len"] == 20 and c["hidden_size"] == 64 for c in packed)
    assert any(c["bidirectional"] and c["num_layers"] > 1 for c in packed)


def test_stored_data_matches_the_grid():
    """One stored file per grid case, holding that case and torch's shapes."""
    assert sorted(p.stem for p in STORED_PATHS) == sorted(CASE_IDS)
    for case in CASES:
        stored = reference.load_case(reference.case_path(case["id"]))
        assert stored["case"] == case
        assert stored["state_keys"] == reference.torch_parameter_names(
            case["num_layers"], case["bidirectional"], case["bias"])
        assert stored["input"].shape == reference.case_input_shape(case)
        assert stored["input"].dtype == np.dtype(case["dtype"])
        (h_shape,) = reference.case_state_shapes(case)
        if case["with_hx"]:
            assert stored["hx"].shape == h_shape
        else:
            assert stored["hx"] is None
        assert stored["h_n"].shape == h_shape and "c_n" not in stored


# ============================================================== stored torch outputs
@pytest.mark.parametrize("path", STORED_PATHS, ids=[p.stem for p in STORED_PATHS])
def test_fastrnn_matches_stored_torch_output(path):
    stored = reference.load_case(path)
    case = stored["case"]
    model = _model_for(case, case["dtype"], stored["state"])
    output, h_n = model(stored["input"], stored["hx"])
    assert output.dtype == np.dtype(case["dtype"]) and h_n.dtype == np.dtype(case["dtype"])
    _assert_gru_close((output, h_n), (stored["output"], stored["h_n"]), case["dtype"], path.stem)


@pytest.mark.parametrize("path", STORED_PATHS, ids=[p.stem for p in STORED_PATHS])
def test_reference_matches_stored_torch_output(path):
    stored = reference.load_case(path)
    case = stored["case"]
    got = reference.gru_forward(stored["state"], case, stored["input"], stored["hx"])
    _assert_gru_close(got, (stored["output"], stored["h_n"]), case["dtype"], "reference")


# ============================================================== live torch
@pytest.mark.parametrize("case", CASES, ids=CASE_IDS)
def test_fastrnn_matches_torch_live(case):
    torch = pytest.importorskip("torch")
    # A seed other than the stored one: fresh weights and inputs.
    result = reference.data_tool().run_torch_case(torch, case, seed=4321 + CASE_IDS.index(case["id"]))
    model = fastrnn.GRU.from_torch(result["module"])
    assert model.dtype == np.dtype(case["dtype"])
    output, h_n = model(result["input"], result["hx"])
    _assert_gru_close((output, h_n), (result["output"], result["h_n"]), case["dtype"])

    # The same through torch tensors as inputs.
    hx = None if result["hx"] is None else torch.from_numpy(result["hx"])
    output_t, h_n_t = model(torch.from_numpy(result["input"]), hx)
    np.testing.assert_array_equal(output_t, output)
    np.testing.assert_array_equal(h_n_t, h_n)


@pytest.mark.parametrize("case", CASES, ids=CASE_IDS)
def test_reference_matches_torch_live(case):
    torch = pytest.importorskip("torch")
    result = reference.data_tool().run_torch_case(torch, case, seed=888 + CASE_IDS.index(case["id"]))
    got = reference.gru_forward(result["state"], case, result["input"], result["hx"])
    _assert_gru_close(got, (result["output"], result["h_n"]), case["dtype"], "reference")


def test_stored_data_is_what_torch_computes_now():
    """The stored outputs are torch's for the stored weights and inputs."""
    torch = pytest.importorskip("torch")
    tool = reference.data_tool()
    for path in STORED_PATHS:
        stored = reference.load_case(path)
        module = tool.torch_module(torch, stored["case"])
        module.load_state_dict({k: torch.from_numpy(v) for k, v in stored["state"].items()})
        hx = None if stored["hx"] is None else torch.from_numpy(stored["hx"])
        with torch.no_grad():
            output, h_n = module(torch.from_numpy(stored["input"]), hx)
        _assert_gru_close((output.numpy(), h_n.numpy()), (stored["output"], stored["h_n"]),
                          stored["case"]["dtype"], path.stem)


@pytest.mark.parametrize("seed", range(5))
def test_fastrnn_matches_torch_live_larger_sizes(seed):
    """Sizes past the kernels' small-size paths."""
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(seed)
    config = _random_config(rng, input_size=int(rng.integers(20, 70)),
                            hidden_size=int(rng.integers(20, 70)))
    for dtype in ("float32", "float64"):
        torch.manual_seed(seed)
        module = torch.nn.GRU(**config, dtype=getattr(torch, dtype))
        N = int(rng.integers(1, 12))
        x = _random_input(rng, config, L=int(rng.integers(10, 30)), N=N, dtype=dtype)
        hx = _random_hx(rng, config, N, dtype)
        with torch.no_grad():
            expected, expected_h = module(torch.from_numpy(x), torch.from_numpy(hx))
        got = fastrnn.GRU.from_torch(module)(x, hx)
        _assert_gru_close(got, (expected.numpy(), expected_h.numpy()), dtype, str(config))


# ============================================================== numpy reference
@pytest.mark.parametrize("seed", range(24))
def test_fastrnn_matches_reference_random_configs(seed):
    rng = np.random.default_rng(3000 + seed)
    big = seed % 5 == 0
    config = _random_config(rng)
    if big:
        config.update(input_size=int(rng.integers(16, 48)), hidden_size=int(rng.integers(16, 48)))
    dtype = ("float32", "float64")[seed % 2]
    N = [None, 1, int(rng.integers(2, 9))][seed % 3]
    L = int(rng.integers(1, 30 if big else 10))
    x = _random_input(rng, config, L, N, dtype)
    hx = None if seed % 4 < 2 else _random_hx(rng, config, N, dtype)
    model = _model_for(config, dtype, seed=seed)
    got = model(x, hx)
    expected = reference.gru_forward(model.state_dict(), config, x, hx)
    _assert_gru_close(got, expected, dtype, str(config))


def test_reset_gate_multiplies_the_recurrent_product():
    """torch's n = tanh(W_in x + b_in + r * (W_hn h + b_hn)), not ONNX's default
    (W_hn (r * h) + b_hn): with b_hn != 0 and h_0 = 0 the two differ at the first step."""
    model = fastrnn.GRU(2, 3, dtype=np.float64, seed=0)
    model.bias_hh_l0[6:] = 2.0  # b_hn
    x = np.random.default_rng(0).standard_normal((1, 1, 2))
    output, _ = model(x)
    w_ir, w_iz, w_in = np.split(model.weight_ih_l0, 3)
    b_ir, b_iz, b_in = np.split(model.bias_ih_l0, 3)
    b_hr, b_hz, b_hn = np.split(model.bias_hh_l0, 3)
    r = 1 / (1 + np.exp(-(x[0] @ w_ir.T + b_ir + b_hr)))
    z = 1 / (1 + np.exp(-(x[0] @ w_iz.T + b_iz + b_hz)))
    torch_n = np.tanh(x[0] @ w_in.T + b_in + r * b_hn)
    onnx_default_n = np.tanh(x[0] @ w_in.T + b_in + b_hn)
    assert not np.allclose(torch_n, onnx_default_n)
    assert_close(output[0], (1 - z) * torch_n, np.float64, kind=KIND)


# ============================================================== outputs
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_output_ends_are_the_final_hidden_states(dtype):
    """output[:, -1] == h_n[-1] (batch-first, one direction); for two
    directions the forward half ends at the last step and the reverse half at the first."""
    rng = np.random.default_rng(0)
    H = 5
    for num_layers, bidirectional, batch_first in itertools.product([1, 3], [False, True],
                                                                    [False, True]):
        model = fastrnn.GRU(2, H, num_layers, batch_first=batch_first,
                            bidirectional=bidirectional, dtype=dtype, seed=1)
        x = rng.standard_normal((3, 6, 2) if batch_first else (6, 3, 2))
        output, h_n = model(x)
        D = 2 if bidirectional else 1
        assert output.shape[-1] == D * H and h_n.shape == (D * num_layers, 3, H)
        time_major = output.transpose(1, 0, 2) if batch_first else output
        np.testing.assert_array_equal(time_major[-1, :, :H], h_n[-2] if bidirectional else h_n[-1])
        if batch_first and not bidirectional:
            np.testing.assert_array_equal(output[:, -1], h_n[-1])
        if bidirectional:
            np.testing.assert_array_equal(time_major[0, :, H:], h_n[-1])
        assert not np.array_equal(time_major[0, :, :H], time_major[-1, :, :H])


def test_unbatched_is_a_batch_of_one():
    model = fastrnn.GRU(3, 5, 2, bidirectional=True, dtype=np.float64, seed=0)
    rng = np.random.default_rng(1)
    x, h0 = rng.standard_normal((7, 3)), rng.standard_normal((4, 5))
    output, h_n = model(x, h0)
    assert output.shape == (7, 10) and h_n.shape == (4, 5)
    batched, batched_h = model(x[:, None], h0[:, None])
    np.testing.assert_array_equal(output, batched[:, 0])
    np.testing.assert_array_equal(h_n, batched_h[:, 0])


# ============================================================== proj_size
def test_proj_size_zero_is_accepted():
    """torch code may pass proj_size=0 (torch.nn.GRU itself refuses the keyword)."""
    model = fastrnn.GRU(3, 4, proj_size=0)
    assert model.proj_size == 0 and repr(model) == "GRU(3, 4)"


@pytest.mark.parametrize("proj_size", [1, 2, 3, 7])
def test_proj_size_is_refused(proj_size):
    with pytest.raises(ValueError, match=re.escape(
            "proj_size argument is only supported for LSTM, not RNN or GRU")):
        fastrnn.GRU(3, 4, proj_size=proj_size)


def test_proj_size_error_equals_torch():
    torch = pytest.importorskip("torch")
    with pytest.raises(Exception) as expected:
        torch.nn.GRU(3, 4, proj_size=2)
    with pytest.raises(Exception) as got:
        fastrnn.GRU(3, 4, proj_size=2)
    reference.assert_error_like_torch(got.value, expected.value)


# ============================================================== hx errors
# A 2-layer bidirectional GRU(3, 4): hx is (4, N, 4).
BAD_HX = {
    "batch": ((5, 2, 3), (4, 3, 4), "Expected hidden size (4, 2, 4), got [4, 3, 4]"),
    "hidden": ((5, 2, 3), (4, 2, 5), "Expected hidden size (4, 2, 4), got [4, 2, 5]"),
    "layers": ((5, 2, 3), (2, 2, 4), "Expected hidden size (4, 2, 4), got [2, 2, 4]"),
    "batch_major": ((5, 2, 3), (2, 4, 4), "Expected hidden size (4, 2, 4), got [2, 4, 4]"),
    "unbatched": ((5, 3), (3, 4), "Expected hidden size (4, 4), got [3, 4]"),
    "unbatched_hidden": ((5, 3), (4, 1), "Expected hidden size (4, 4), got [4, 1]"),
    "batched_2d": ((5, 2, 3), (4, 4), "For batched 3-D input, hx should also be 3-D but got 2-D"),
    "batched_4d": ((5, 2, 3), (1, 4, 2, 4),
                   "For batched 3-D input, hx should also be 3-D but got 4-D"),
    "unbatched_3d": ((5, 3), (4, 1, 4),
                     "For unbatched 2-D input, hx should also be 2-D but got 3-D"),
    "unbatched_1d": ((5, 3), (4,), "For unbatched 2-D input, hx should also be 2-D but got 1-D"),
    "unbatched_0d": ((5, 3), (), "For unbatched 2-D input, hx should also be 2-D but got 0-D"),
}


@pytest.mark.parametrize("kind", list(BAD_HX))
def test_wrong_hx(kind, no_kernel):
    x_shape, hx_shape, message = BAD_HX[kind]
    model = fastrnn.GRU(3, 4, 2, bidirectional=True, seed=0)
    with pytest.raises(ValueError, match=re.escape(message)) as error:
        model(np.zeros(x_shape, np.float32), np.zeros(hx_shape, np.float32))
    assert isinstance(error.value, RuntimeError)
    assert no_kernel() == 0


@pytest.mark.parametrize("kind", list(BAD_HX))
def test_wrong_hx_equals_torch(kind):
    torch = pytest.importorskip("torch")
    x_shape, hx_shape, _ = BAD_HX[kind]
    x, hx = np.zeros(x_shape, np.float32), np.zeros(hx_shape, np.float32)
    with pytest.raises(Exception) as expected:
        torch.nn.GRU(3, 4, 2, bidirectional=True)(torch.from_numpy(x), torch.from_numpy(hx))
    with pytest.raises(Exception) as got:
        fastrnn.GRU(3, 4, 2, bidirectional=True)(x, hx)
    reference.assert_error_like_torch(got.value, expected.value,
                                      unbatched_state=len(x_shape) == 2)


@pytest.mark.parametrize("bad", [(np.zeros((4, 2, 4)), np.zeros((4, 2, 4))), "hx", None,
                                 np.zeros((4, 2, 4), complex), [[1.0], [1.0, 2.0]]],
                         ids=["tuple", "str", "None_inside", "complex", "ragged"])
def test_hx_must_be_one_real_array(bad, no_kernel):
    """A pair (as for LSTM) is not a GRU state; neither is anything non-numeric."""
    model = fastrnn.GRU(3, 4, 2, bidirectional=True, seed=0)
    given = [bad, bad] if bad is None else bad
    with pytest.raises((TypeError, ValueError), match="hx"):
        model(np.zeros((5, 2, 3), np.float32), given)
    assert no_kernel() == 0
