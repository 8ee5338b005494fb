"""fastrnn.RNN against torch.nn.RNN, stored torch outputs and the numpy reference.

Tests named *_torch_* need torch and skip without it; every other test runs
without torch. The stored-data tests check torch parity from tests/data/,
written by tools/make_reference_data.py.
"""
import importlib.util
import itertools
import os
import pathlib
import subprocess
import sys
import warnings

import numpy as np
import pytest

import fastrnn
import reference
from reference import assert_close

CASES = reference.parity_cases()
CASE_IDS = [c["id"] for c in CASES]
STORED_PATHS = reference.stored_case_paths()
TOOL_PATH = pathlib.Path(__file__).resolve().parent.parent / "tools" / "make_reference_data.py"


def _tool():
    """tools/make_reference_data.py as a module (it builds the torch side of a case)."""
    spec = importlib.util.spec_from_file_location("make_reference_data", TOOL_PATH)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _model_for(config, dtype, state=None, **kwargs):
    model = fastrnn.RNN(**{k: config[k] for k in reference.case_config(config)},
                        dtype=dtype, **kwargs)
    if state is not None:
        model.load_state_dict(state)
    return model


def _random_config(rng, **override):
    config = dict(input_size=int(rng.integers(1, 9)), hidden_size=int(rng.integers(1, 9)),
                  num_layers=int(rng.integers(1, 4)), nonlinearity=str(rng.choice(["tanh", "relu"])),
                  bias=bool(rng.integers(2)), batch_first=bool(rng.integers(2)),
                  bidirectional=bool(rng.integers(2)))
    config.update(override)
    return config


def _random_input(rng, config, L, N, dtype):
    F = config["input_size"]
    if N is None:
        shape = (L, F)
    else:
        shape = (N, L, F) if config["batch_first"] else (L, N, F)
    return rng.standard_normal(shape).astype(dtype)


def _hx_shape(config, N):
    rows = config["num_layers"] * (2 if config["bidirectional"] else 1)
    return (rows, config["hidden_size"]) if N is None else (rows, N, config["hidden_size"])


# ============================================================== the grid itself
def test_grid_covers_every_pair_of_option_values():
    main = [c for c in CASES]
    for (a, values_a), (b, values_b) in itertools.combinations(reference.OPTIONS.items(), 2):
        seen = {(c[a], c[b]) for c in main}
        missing = set(itertools.product(values_a, values_b)) - seen
        assert not missing, f"grid never combines {a} and {b} as {sorted(missing)}"


def test_grid_covers_required_combinations():
    combos = {(c["batch_first"], c["unbatched"], c["with_hx"]) for c in CASES}
    assert combos == set(itertools.product([False, True], repeat=3))
    bidirectional_layers = {c["num_layers"] for c in CASES if c["bidirectional"]}
    assert {2, 3} <= bidirectional_layers
    for size in ("hidden_size", "input_size", "seq_len"):
        assert any(c[size] == 1 for c in CASES), size
    assert any(c["batch"] == 1 for c in CASES)
    assert any(c["batch"] == 1 and c["bidirectional"] and c["num_layers"] > 1 for c in CASES)


def test_stored_data_matches_the_grid():
    """One stored file per grid case, holding that case, small in total."""
    assert sorted(p.stem for p in STORED_PATHS) == sorted(CASE_IDS)
    total = sum(p.stat().st_size for p in STORED_PATHS)
    assert total < 3 * 1024 * 1024
    for case in CASES:
        stored = reference.load_case(reference.case_path(case["id"]))
        assert stored["case"] == case
        assert stored["state_keys"] == reference.torch_parameter_names(
            case["num_layers"], case["bidirectional"], case["bias"])
        assert stored["input"].shape == reference.case_input_shape(case)
        assert stored["input"].dtype == np.dtype(case["dtype"])
        if case["with_hx"]:
            assert stored["hx"].shape == reference.case_hx_shape(case)
        else:
            assert stored["hx"] is None


# ============================================================== stored torch outputs
@pytest.mark.parametrize("path", STORED_PATHS, ids=[p.stem for p in STORED_PATHS])
def test_fastrnn_matches_stored_torch_output(path):
    stored = reference.load_case(path)
    case = stored["case"]
    model = _model_for(case, case["dtype"], stored["state"])
    output, h_n = model(stored["input"], stored["hx"])
    assert output.dtype == np.dtype(case["dtype"]) and h_n.dtype == np.dtype(case["dtype"])
    assert_close(output, stored["output"], case["dtype"], "output")
    assert_close(h_n, stored["h_n"], case["dtype"], "h_n")


@pytest.mark.parametrize("path", STORED_PATHS, ids=[p.stem for p in STORED_PATHS])
def test_reference_matches_stored_torch_output(path):
    stored = reference.load_case(path)
    case = stored["case"]
    output, h_n = reference.rnn_forward(stored["state"], case, stored["input"], stored["hx"])
    assert_close(output, stored["output"], case["dtype"], "reference output")
    assert_close(h_n, stored["h_n"], case["dtype"], "reference h_n")


def _without_torch_env(tmp_path):
    """An environment in which `import torch` fails as if torch were not installed."""
    (tmp_path / "torch.py").write_text(
        'raise ModuleNotFoundError("No module named \'torch\'", name="torch")\n')
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(tmp_path)] + [p for p in [env.get("PYTHONPATH")] if p])
    return env


def test_fastrnn_does_not_import_torch():
    code = ("import sys, numpy as np, fastrnn\n"
            "fastrnn.RNN(3, 4)(np.zeros((2, 1, 3)))\n"
            "assert 'torch' not in sys.modules, 'fastrnn imported torch'\n")
    subprocess.run([sys.executable, "-c", code], check=True)


def test_stored_parity_runs_without_torch(tmp_path):
    """The stored-data tests pass with torch hidden; the live ones skip, none fail."""
    env = _without_torch_env(tmp_path)
    subprocess.run([sys.executable, "-c", "import fastrnn, reference"], env=env, check=True,
                   cwd=pathlib.Path(__file__).parent)
    result = subprocess.run(
        [sys.executable, "-m", "pytest", __file__, "-q", "-p", "no:cacheprovider",
         "-k", "(stored or live) and not without_torch", "-W", "error::pytest.PytestDeprecationWarning"],
        env=env, capture_output=True, text=True, cwd=pathlib.Path(__file__).parent)
    summary = result.stdout.strip().splitlines()[-1]
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    counts = {word: int(number) for number, word in
              (part.split()[:2] for part in summary.split(" in ")[0].split(", "))}
    assert counts.get("failed", 0) == 0
    # Each stored case ran through fastrnn and through the reference.
    assert counts["passed"] >= 2 * len(STORED_PATHS) + 1
    assert counts["skipped"] >= 2 * len(CASES)  # the live comparisons


# ============================================================== live torch
@pytest.mark.parametrize("case", CASES, ids=CASE_IDS)
def test_fastrnn_matches_torch_live(case):
    torch = pytest.importorskip("torch")
    # A seed other than the stored one: fresh weights and inputs.
    result = _tool().run_torch_case(torch, case, seed=12345 + CASE_IDS.index(case["id"]))
    model = fastrnn.RNN.from_torch(result["module"])
    assert model.dtype == np.dtype(case["dtype"])
    output, h_n = model(result["input"], result["hx"])
    assert_close(output, result["output"], case["dtype"], "output")
    assert_close(h_n, result["h_n"], case["dtype"], "h_n")

    # The same through torch tensors as inputs.
    hx = None if result["hx"] is None else torch.from_numpy(result["hx"])
    output_t, h_n_t = model(torch.from_numpy(result["input"]), hx)
    np.testing.assert_array_equal(output_t, output)
    np.testing.assert_array_equal(h_n_t, h_n)


@pytest.mark.parametrize("case", CASES, ids=CASE_IDS)
def test_reference_matches_torch_live(case):
    torch = pytest.importorskip("torch")
    result = _tool().run_torch_case(torch, case, seed=777 + CASE_IDS.index(case["id"]))
    output, h_n = reference.rnn_forward(result["state"], case, result["input"], result["hx"])
    assert_close(output, result["output"], case["dtype"], "reference output")
    assert_close(h_n, result["h_n"], case["dtype"], "reference h_n")


def test_stored_data_is_what_torch_computes_now():
    """The stored outputs are torch's for the stored weights and inputs."""
    torch = pytest.importorskip("torch")
    for path in STORED_PATHS:
        stored = reference.load_case(path)
        case = stored["case"]
        module = torch.nn.RNN(**reference.case_config(case), dtype=getattr(torch, case["dtype"]))
        module.load_state_dict({k: torch.from_numpy(v) for k, v in stored["state"].items()})
        hx = None if stored["hx"] is None else torch.from_numpy(stored["hx"])
        with torch.no_grad():
            output, h_n = module(torch.from_numpy(stored["input"]), hx)
        assert_close(output.numpy(), stored["output"], case["dtype"], path.stem)
        assert_close(h_n.numpy(), stored["h_n"], case["dtype"], path.stem)


@pytest.mark.parametrize("seed", range(6))
def test_fastrnn_matches_torch_live_larger_sizes(seed):
    """Sizes past the BLAS kernels' small-size paths."""
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(seed)
    config = _random_config(rng, input_size=int(rng.integers(20, 70)),
                            hidden_size=int(rng.integers(20, 70)))
    for dtype in ("float32", "float64"):
        torch.manual_seed(seed)
        module = torch.nn.RNN(**config, dtype=getattr(torch, dtype))
        x = _random_input(rng, config, L=int(rng.integers(10, 40)), N=int(rng.integers(1, 9)),
                          dtype=dtype)
        with torch.no_grad():
            expected, expected_h = module(torch.from_numpy(x))
        output, h_n = fastrnn.RNN.from_torch(module)(x)
        assert_close(output, expected.numpy(), dtype, f"output {config}")
        assert_close(h_n, expected_h.numpy(), dtype, f"h_n {config}")


# ============================================================== numpy reference
@pytest.mark.parametrize("seed", range(30))
def test_fastrnn_matches_reference_random_configs(seed):
    rng = np.random.default_rng(1000 + seed)
    big = seed % 5 == 0
    config = _random_config(rng)
    if big:
        config.update(input_size=int(rng.integers(16, 48)), hidden_size=int(rng.integers(16, 48)))
    dtype = ("float32", "float64")[seed % 2]
    N = [None, 1, int(rng.integers(2, 7))][seed % 3]
    L = int(rng.integers(1, 30 if big else 10))
    x = _random_input(rng, config, L, N, dtype)
    hx = None if seed % 4 < 2 else (0.5 * rng.standard_normal(_hx_shape(config, N))).astype(dtype)
    model = _model_for(config, dtype, seed=seed)
    output, h_n = model(x, hx)
    ref_output, ref_h_n = reference.rnn_forward(model.state_dict(), config, x, hx)
    assert_close(output, ref_output, dtype, f"output {config}")
    assert_close(h_n, ref_h_n, dtype, f"h_n {config}")


def test_forward_is_call():
    model = fastrnn.RNN(3, 4, 2, seed=0)
    x = np.random.default_rng(0).standard_normal((5, 2, 3)).astype(np.float32)
    for a, b in zip(model.forward(x), model(x)):
        np.testing.assert_array_equal(a, b)


# ============================================================== from_torch
@pytest.mark.parametrize("torch_dtype, expected", [("float32", np.float32), ("float64", np.float64)])
def test_from_torch_copies_config_and_weights(torch_dtype, expected):
    torch = pytest.importorskip("torch")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        module = torch.nn.RNN(3, 5, num_layers=2, nonlinearity="relu", bias=False,
                              batch_first=True, dropout=0.25, bidirectional=True,
                              dtype=getattr(torch, torch_dtype))
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # from_torch itself must not warn
        model = fastrnn.RNN.from_torch(module)
    assert model.dtype == expected
    for name in ("input_size", "hidden_size", "num_layers", "nonlinearity", "bias",
                 "batch_first", "dropout", "bidirectional"):
        assert getattr(model, name) == getattr(module, name), name
    torch_state = module.state_dict()
    model_state = model.state_dict()
    assert list(model_state) == list(torch_state)
    for name, value in torch_state.items():
        np.testing.assert_array_equal(model_state[name], value.numpy().astype(expected))
    # The model owns its weights: changing torch's afterwards does not reach it.
    with torch.no_grad():
        module.weight_hh_l0.add_(1.0)
    np.testing.assert_array_equal(model.state_dict()["weight_hh_l0"], model_state["weight_hh_l0"])


def test_from_torch_dtype_override():
    torch = pytest.importorskip("torch")
    module = torch.nn.RNN(2, 3, dtype=torch.float32)
    model = fastrnn.RNN.from_torch(module, dtype=np.float64)
    assert model.dtype == np.float64
    np.testing.assert_array_equal(model.weight_ih_l0, module.weight_ih_l0.detach().numpy())


def test_from_torch_rejects_other_modules():
    torch = pytest.importorskip("torch")
    with pytest.raises(TypeError, match="torch.nn.RNN.*LSTM"):
        fastrnn.RNN.from_torch(torch.nn.LSTM(2, 3))


# ============================================================== state dict
STATE_CONFIGS = [
    dict(input_size=3, hidden_size=4),
    dict(input_size=3, hidden_size=4, num_layers=3, bidirectional=True),
    dict(input_size=2, hidden_size=5, num_layers=2, bias=False),
    dict(input_size=1, hidden_size=1, num_layers=2, bias=False, bidirectional=True),
]


@pytest.mark.parametrize("config", STATE_CONFIGS, ids=str)
def test_state_dict_keys_order_shapes(config):
    model = fastrnn.RNN(**config)
    state = model.state_dict()
    full = dict(num_layers=1, bidirectional=False, bias=True) | config
    assert list(state) == reference.torch_parameter_names(
        full["num_layers"], full["bidirectional"], full["bias"])
    D = 2 if full["bidirectional"] else 1
    H = full["hidden_size"]
    for name, value in state.items():
        layer = int(name.split("_l")[1].split("_")[0])
        in_size = full["input_size"] if layer == 0 else D * H
        expected = {"weight_ih": (H, in_size), "weight_hh": (H, H),
                    "bias_ih": (H,), "bias_hh": (H,)}[name.split("_l")[0]]
        assert value.shape == expected, name
        assert value.dtype == np.float32
    assert [n for n, _ in model.named_parameters()] == list(state)


@pytest.mark.parametrize("config", STATE_CONFIGS, ids=str)
def test_state_dict_matches_torch_keys_order_shapes(config):
    torch = pytest.importorskip("torch")
    torch_state = torch.nn.RNN(**config).state_dict()
    state = fastrnn.RNN(**config).state_dict()
    assert list(state) == list(torch_state)
    assert [v.shape for v in state.values()] == [tuple(v.shape) for v in torch_state.values()]


def test_state_dict_returns_copies():
    model = fastrnn.RNN(3, 4, 2, bidirectional=True, seed=0)
    x = np.ones((2, 1, 3), np.float32)
    before = model(x)[0].copy()
    state = model.state_dict()
    original = {k: v.copy() for k, v in state.items()}
    for value in state.values():
        value += 1.0
    for name, value in model.state_dict().items():
        np.testing.assert_array_equal(value, original[name])
        assert not np.shares_memory(value, getattr(model, name))
    np.testing.assert_array_equal(model(x)[0], before)


@pytest.mark.parametrize("kind", ["numpy", "list", "float64", "torch", "torch_grad"])
def test_load_state_dict_accepts_array_likes(kind):
    source = fastrnn.RNN(3, 4, 2, bidirectional=True, dtype=np.float64, seed=1)
    state = source.state_dict()
    if kind == "numpy":
        given = {k: v.astype(np.float32) for k, v in state.items()}
    elif kind == "list":
        given = {k: v.tolist() for k, v in state.items()}
    elif kind == "float64":
        given = state
    else:
        torch = pytest.importorskip("torch")
        given = {k: torch.tensor(v, requires_grad=kind == "torch_grad") for k, v in state.items()}
    model = fastrnn.RNN(3, 4, 2, bidirectional=True, seed=2)
    result = model.load_state_dict(given)
    assert result.missing_keys == [] and result.unexpected_keys == []
    assert tuple(result) == ([], [])
    for name, value in model.state_dict().items():
        assert value.dtype == np.float32
        np.testing.assert_array_equal(value, state[name].astype(np.float32))
    # The model copied: changing the source afterwards does not reach it.
    if kind == "numpy":
        given["weight_ih_l0"][...] = 7
        assert not np.any(model.weight_ih_l0 == 7)


def test_load_state_dict_non_strict_reports_keys():
    model = fastrnn.RNN(3, 4, 2, seed=0)
    other = fastrnn.RNN(3, 4, 2, seed=1).state_dict()
    partial = {k: other[k] for k in ("weight_ih_l0", "bias_hh_l1")}
    partial["extra.weight"] = np.zeros(3)
    before = model.state_dict()
    missing, unexpected = model.load_state_dict(partial, strict=False)
    assert missing == [k for k in before if k not in partial]
    assert unexpected == ["extra.weight"]
    after = model.state_dict()
    for name in before:
        expected = other[name] if name in partial else before[name]
        np.testing.assert_array_equal(after[name], expected)


def test_load_state_dict_non_strict_matches_torch():
    torch = pytest.importorskip("torch")
    module = torch.nn.RNN(3, 4, 2, bidirectional=True)
    state = module.state_dict()
    partial = {k: v for k, v in list(state.items())[::3]}
    partial["foo"] = torch.zeros(2)
    expected = module.load_state_dict(partial, strict=False)
    got = fastrnn.RNN(3, 4, 2, bidirectional=True).load_state_dict(partial, strict=False)
    assert got.missing_keys == expected.missing_keys
    assert got.unexpected_keys == expected.unexpected_keys


# ============================================================== initialization
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_init_is_uniform_within_torch_bounds(dtype):
    H = 50
    model = fastrnn.RNN(30, H, num_layers=2, bidirectional=True, dtype=dtype, seed=0)
    bound = dtype(1 / np.sqrt(H))
    values = np.concatenate([p.ravel() for p in model.parameters()])
    assert values.dtype == dtype
    assert np.all(np.abs(values) <= bound)
    # Close to the bounds and flat in between: U(-bound, bound), not e.g. a normal.
    assert values.min() < -0.99 * bound and values.max() > 0.99 * bound
    counts, _ = np.histogram(values, bins=10, range=(-bound, bound))
    expected = values.size / 10
    assert np.all(np.abs(counts - expected) < 0.1 * expected), counts
    assert abs(values.mean()) < 0.01 * bound
    for name, p in model.named_parameters():
        assert np.std(p) > 0.5 * bound / np.sqrt(3), name  # every parameter is drawn


def test_init_bounds_follow_hidden_size_for_every_parameter():
    for H in (1, 4, 9):
        model = fastrnn.RNN(2, H, num_layers=2, seed=3)
        for name, p in model.named_parameters():
            assert np.all(np.abs(p) <= np.float32(1 / np.sqrt(H))), (H, name)


def test_init_matches_torch_bounds():
    torch = pytest.importorskip("torch")
    H = 16
    torch.manual_seed(0)
    module = torch.nn.RNN(5, H, 2)
    torch_max = max(float(p.detach().abs().max()) for p in module.parameters())
    model_max = max(float(np.abs(p).max()) for p in fastrnn.RNN(5, H, 2, seed=0).parameters())
    bound = 1 / np.sqrt(H)
    assert 0.9 * bound < torch_max <= bound + 1e-7
    assert 0.9 * bound < model_max <= bound + 1e-7


def test_seed_reproducibility():
    def params(**kw):
        return fastrnn.RNN(3, 6, 2, bidirectional=True, **kw).state_dict()

    a, b = params(seed=42), params(seed=42)
    c = params(seed=np.random.default_rng(42))
    d = params(seed=43)
    e, f = params(), params()
    for name in a:
        np.testing.assert_array_equal(a[name], b[name])
        np.testing.assert_array_equal(a[name], c[name])
    assert any(not np.array_equal(a[n], d[n]) for n in a)
    assert any(not np.array_equal(e[n], f[n]) for n in e)


def test_reset_parameters_redraws():
    model = fastrnn.RNN(3, 4, seed=0)
    first = model.state_dict()
    model.reset_parameters(seed=1)
    assert not np.array_equal(model.weight_ih_l0, first["weight_ih_l0"])
    model.reset_parameters(seed=0)
    np.testing.assert_array_equal(model.weight_ih_l0, first["weight_ih_l0"])


# ============================================================== repr and dropout
REPR_CONFIGS = [
    dict(),
    dict(num_layers=2, bidirectional=True),
    dict(nonlinearity="relu"),
    dict(bias=False),
    dict(batch_first=True),
    dict(num_layers=3, bias=False, batch_first=True, dropout=0.5, bidirectional=True),
    dict(num_layers=2, dropout=1),
    dict(num_layers=2, dropout=0.0),
]


def test_repr_examples():
    assert repr(fastrnn.RNN(8, 12, num_layers=2, bidirectional=True)) == \
        "RNN(8, 12, num_layers=2, bidirectional=True)"
    assert repr(fastrnn.RNN(8, 12)) == "RNN(8, 12)"
    assert repr(fastrnn.RNN(8, 12, 3, bias=False, batch_first=True, dropout=0.5)) == \
        "RNN(8, 12, num_layers=3, bias=False, batch_first=True, dropout=0.5)"
    # torch stores float(dropout), so an int dropout prints as a float.
    model = fastrnn.RNN(8, 12, num_layers=2, dropout=1)
    assert isinstance(model.dropout, float) and model.dropout == 1.0
    assert repr(model) == "RNN(8, 12, num_layers=2, dropout=1.0)"


@pytest.mark.parametrize("config", REPR_CONFIGS, ids=str)
def test_repr_equals_torch(config):
    torch = pytest.importorskip("torch")
    model, module = fastrnn.RNN(8, 12, **config), torch.nn.RNN(8, 12, **config)
    assert repr(model) == repr(module)
    assert repr(model.dropout) == repr(module.dropout)


def _warnings_of(make):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        make()
    return [(w.category, str(w.message)) for w in caught]


@pytest.mark.parametrize("dropout", [0.3, 1, 1.0])
def test_dropout_warning_equals_torch(dropout):
    torch = pytest.importorskip("torch")
    expected = _warnings_of(lambda: torch.nn.RNN(3, 4, dropout=dropout))
    got = _warnings_of(lambda: fastrnn.RNN(3, 4, dropout=dropout))
    assert expected and got == expected


def test_dropout_warning_only_for_one_layer():
    with pytest.warns(UserWarning, match="dropout=0.3 and num_layers=1"):
        fastrnn.RNN(3, 4, dropout=0.3)
    assert _warnings_of(lambda: fastrnn.RNN(3, 4, num_layers=2, dropout=0.3)) == []
    assert _warnings_of(lambda: fastrnn.RNN(3, 4, dropout=0.0)) == []


def test_dropout_has_no_effect_at_inference():
    x = np.random.default_rng(0).standard_normal((6, 2, 3)).astype(np.float32)
    plain = fastrnn.RNN(3, 4, num_layers=3, seed=5)
    dropped = fastrnn.RNN(3, 4, num_layers=3, dropout=0.9, seed=5)
    assert dropped.dropout == 0.9
    for a, b in zip(plain(x), dropped(x)):
        np.testing.assert_array_equal(a, b)


# ============================================================== inputs
def _model_and_input(dtype=np.float32, batch_first=False, seed=0):
    model = fastrnn.RNN(3, 5, num_layers=2, bidirectional=True, batch_first=batch_first,
                        dtype=dtype, seed=seed)
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((2, 4, 3) if batch_first else (4, 2, 3))
    hx = 0.5 * rng.standard_normal((4, 2, 5))
    return model, x, hx


@pytest.mark.parametrize("input_dtype", [np.float64, np.float16, np.int32, np.int64, np.uint8])
def test_input_is_cast_to_model_dtype(input_dtype):
    model, x, hx = _model_and_input()
    if np.dtype(input_dtype).kind in "iu":
        x = np.rint(4 * np.abs(x))
    given = x.astype(input_dtype)
    output, h_n = model(given, hx.astype(input_dtype) if input_dtype != np.uint8 else None)
    assert output.dtype == np.float32 and h_n.dtype == np.float32
    expected = model(given.astype(np.float32),
                     hx.astype(input_dtype).astype(np.float32) if input_dtype != np.uint8 else None)
    np.testing.assert_array_equal(output, expected[0])
    np.testing.assert_array_equal(h_n, expected[1])


def test_float32_input_into_float64_model():
    model, x, hx = _model_and_input(dtype=np.float64)
    x32 = x.astype(np.float32)
    output, h_n = model(x32, hx)
    assert output.dtype == np.float64
    expected = model(x32.astype(np.float64), hx)
    np.testing.assert_array_equal(output, expected[0])
    np.testing.assert_array_equal(h_n, expected[1])


def test_nested_lists_are_accepted():
    model, x, hx = _model_and_input()
    x = x.astype(np.float32)
    hx = hx.astype(np.float32)
    for a, b in zip(model(x.tolist(), hx.tolist()), model(x, hx)):
        np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("batch_first", [False, True])
@pytest.mark.parametrize("layout", ["fortran", "transposed", "strided", "reversed", "readonly",
                                    "broadcast"])
def test_non_contiguous_inputs(layout, batch_first):
    model, x, hx = _model_and_input(batch_first=batch_first)
    x = x.astype(np.float32)
    hx = hx.astype(np.float32)
    expected = model(x, hx)
    if layout == "fortran":
        given_x, given_hx = np.asfortranarray(x), np.asfortranarray(hx)
        assert not given_x.flags.c_contiguous
    elif layout == "transposed":
        given_x = np.ascontiguousarray(x.transpose(2, 1, 0)).transpose(2, 1, 0)
        given_hx = np.ascontiguousarray(hx.transpose(1, 0, 2)).transpose(1, 0, 2)
    elif layout == "strided":
        big_x = np.zeros((x.shape[0] * 2, x.shape[1] * 3, x.shape[2] * 2), np.float32)
        big_x[::2, ::3, ::2] = x
        given_x = big_x[::2, ::3, ::2]
        big_hx = np.zeros((hx.shape[0], hx.shape[1], hx.shape[2] * 2), np.float32)
        big_hx[:, :, 1::2] = hx
        given_hx = big_hx[:, :, 1::2]
    elif layout == "broadcast":
        x[:] = x[:1]  # every step the same, so a stride-0 view can stand for it
        hx[:, :] = hx[:, :1]
        expected = model(x, hx)
        given_x = np.broadcast_to(x[:1], x.shape)
        given_hx = np.broadcast_to(hx[:, :1], hx.shape)
    elif layout == "reversed":
        given_x = x[::-1, ::-1, ::-1].copy()[::-1, ::-1, ::-1]
        given_hx = hx[:, ::-1].copy()[:, ::-1]
    else:
        given_x, given_hx = x.copy(), hx.copy()
        given_x.flags.writeable = False
        given_hx.flags.writeable = False
    if layout != "readonly":
        assert not given_x.flags.c_contiguous
    np.testing.assert_array_equal(given_x, x)
    output, h_n = model(given_x, given_hx)
    np.testing.assert_array_equal(output, expected[0])
    np.testing.assert_array_equal(h_n, expected[1])


def test_non_contiguous_unbatched_input():
    model = fastrnn.RNN(3, 4, 2, bidirectional=True, seed=0)
    x = np.random.default_rng(0).standard_normal((3, 7)).astype(np.float32)
    hx = np.random.default_rng(1).standard_normal((5, 4)).astype(np.float32)
    given_x = x.T  # (7, 3), Fortran-ordered
    given_hx = hx[1:, :]
    for a, b in zip(model(given_x, given_hx), model(np.ascontiguousarray(given_x),
                                                    np.ascontiguousarray(given_hx))):
        np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("kind", ["plain", "requires_grad", "transposed", "float64", "float16",
                                  "bfloat16", "int64"])
def test_torch_tensor_inputs(kind):
    torch = pytest.importorskip("torch")
    model, x, hx = _model_and_input()
    x = x.astype(np.float32)
    hx = hx.astype(np.float32)
    tx, thx = torch.from_numpy(x.copy()), torch.from_numpy(hx.copy())
    if kind == "requires_grad":
        tx.requires_grad_(True)
        thx.requires_grad_(True)
    elif kind == "transposed":
        tx = tx.permute(2, 1, 0).contiguous().permute(2, 1, 0)
        assert not tx.is_contiguous()
    elif kind in ("float64", "float16", "bfloat16", "int64"):
        tx, thx = tx.to(getattr(torch, kind)), thx.to(getattr(torch, kind))
    expected_x = tx.detach().to(torch.float32).numpy()
    expected_hx = thx.detach().to(torch.float32).numpy()
    output, h_n = model(tx, thx)
    assert isinstance(output, np.ndarray) and isinstance(h_n, np.ndarray)
    expected = model(expected_x, expected_hx)
    np.testing.assert_array_equal(output, expected[0])
    np.testing.assert_array_equal(h_n, expected[1])


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("with_hx", [False, True])
def test_caller_arrays_are_not_modified(dtype, with_hx):
    for batch_first, unbatched in itertools.product([False, True], repeat=2):
        model = fastrnn.RNN(3, 4, 2, bidirectional=True, batch_first=batch_first, dtype=dtype,
                            seed=0)
        rng = np.random.default_rng(0)
        shape = (5, 3) if unbatched else ((2, 5, 3) if batch_first else (5, 2, 3))
        x = rng.standard_normal(shape).astype(dtype)
        hx = rng.standard_normal((4, 4) if unbatched else (4, 2, 4)).astype(dtype) \
            if with_hx else None
        x_copy = x.copy()
        hx_copy = None if hx is None else hx.copy()
        params = model.state_dict()
        output, h_n = model(x, hx)
        np.testing.assert_array_equal(x, x_copy)
        if with_hx:
            np.testing.assert_array_equal(hx, hx_copy)
            assert not np.shares_memory(h_n, hx)
        assert not np.shares_memory(output, x)
        for name, value in model.state_dict().items():
            np.testing.assert_array_equal(value, params[name])
        # Writing into the results does not reach the model or the inputs.
        output[...] = 9
        h_n[...] = 9
        np.testing.assert_array_equal(x, x_copy)
        again = model(x, hx)
        assert not np.any(again[0] == 9)


def test_caller_torch_tensors_are_not_modified():
    torch = pytest.importorskip("torch")
    model = fastrnn.RNN(3, 4, 2, seed=0)
    tx = torch.randn(5, 2, 3)
    thx = torch.randn(2, 2, 4)
    tx_copy, thx_copy = tx.clone(), thx.clone()
    output, h_n = model(tx, thx)
    output[...] = 5
    h_n[...] = 5
    assert torch.equal(tx, tx_copy) and torch.equal(thx, thx_copy)


@pytest.mark.parametrize("batch_first", [False, True])
@pytest.mark.parametrize("with_hx", [False, True])
def test_empty_batch_gives_empty_outputs(batch_first, with_hx):
    model = fastrnn.RNN(3, 4, num_layers=2, bidirectional=True, batch_first=batch_first)
    x = np.zeros((0, 5, 3) if batch_first else (5, 0, 3), np.float32)
    hx = np.zeros((4, 0, 4), np.float32) if with_hx else None
    output, h_n = model(x, hx)
    assert output.shape == ((0, 5, 8) if batch_first else (5, 0, 8))
    assert h_n.shape == (4, 0, 4)


@pytest.mark.parametrize("batch_first", [False, True])
def test_empty_batch_shapes_equal_torch(batch_first):
    torch = pytest.importorskip("torch")
    module = torch.nn.RNN(3, 4, num_layers=2, bidirectional=True, batch_first=batch_first)
    x = torch.zeros((0, 5, 3) if batch_first else (5, 0, 3))
    expected_output, expected_h_n = module(x)
    output, h_n = fastrnn.RNN.from_torch(module)(x.numpy())
    assert output.shape == tuple(expected_output.shape)
    assert h_n.shape == tuple(expected_h_n.shape)


# ============================================================== NaN and Inf
def _poison(kind, state, x, hx):
    """Put NaN or Inf into one place of the weights, the input or hx."""
    if kind == "nan_input":
        x[2, 1, 0] = np.nan
    elif kind == "inf_input":
        x[1, 0, 2] = np.inf
    elif kind == "neg_inf_input":
        x[3, 1, 1] = -np.inf
    elif kind == "nan_hx":
        hx[1, 0, 3] = np.nan
    elif kind == "inf_hx":
        hx[0, 1, 2] = np.inf
    elif kind == "nan_bias":
        state["bias_ih_l1"][2] = np.nan
    elif kind == "nan_weight_ih":
        state["weight_ih_l0_reverse"][1, 2] = np.nan
    elif kind in ("nan_weight_hh", "nan_weight_hh_no_hx"):
        state["weight_hh_l0"][2, 3] = np.nan
    elif kind in ("inf_weight_hh", "inf_weight_hh_no_hx"):
        state["weight_hh_l1_reverse"][0, 1] = np.inf
    return None if kind.endswith("no_hx") else hx


POISONS = ["nan_input", "inf_input", "neg_inf_input", "nan_hx", "inf_hx", "nan_bias",
           "nan_weight_ih", "nan_weight_hh", "inf_weight_hh", "nan_weight_hh_no_hx",
           "inf_weight_hh_no_hx"]


def _assert_same_non_finite(got, expected, dtype, what):
    got, expected = np.asarray(got), np.asarray(expected)
    assert got.shape == expected.shape
    np.testing.assert_array_equal(np.isnan(got), np.isnan(expected), err_msg=f"{what}: NaN positions")
    np.testing.assert_array_equal(np.isposinf(got), np.isposinf(expected), err_msg=f"{what}: +Inf")
    np.testing.assert_array_equal(np.isneginf(got), np.isneginf(expected), err_msg=f"{what}: -Inf")
    finite = np.isfinite(expected)
    assert_close(got[finite], expected[finite], dtype, what)


def _yields_non_finite(kind, nonlinearity):
    # tanh maps +-Inf to +-1: Inf alone does not make a tanh output non-finite.
    return kind.startswith("nan") or nonlinearity == "relu"


def _poisoned_case(kind, nonlinearity, dtype):
    model = fastrnn.RNN(3, 4, num_layers=2, bidirectional=True, nonlinearity=nonlinearity,
                        dtype=dtype, seed=0)
    rng = np.random.default_rng(0)
    x = rng.standard_normal((5, 2, 3)).astype(dtype)
    hx = (0.5 * rng.standard_normal((4, 2, 4))).astype(dtype)
    state = model.state_dict()
    hx = _poison(kind, state, x, hx)
    model.load_state_dict(state)
    return model, state, x, hx


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("nonlinearity", ["tanh", "relu"])
@pytest.mark.parametrize("kind", POISONS)
def test_nan_inf_propagate_like_torch(kind, nonlinearity, dtype):
    torch = pytest.importorskip("torch")
    model, state, x, hx = _poisoned_case(kind, nonlinearity, dtype)
    module = torch.nn.RNN(3, 4, num_layers=2, bidirectional=True, nonlinearity=nonlinearity,
                          dtype=getattr(torch, np.dtype(dtype).name))
    module.load_state_dict({k: torch.from_numpy(v) for k, v in state.items()})
    with torch.no_grad():
        expected = module(torch.from_numpy(x), None if hx is None else torch.from_numpy(hx))
    output, h_n = model(x, hx)
    if _yields_non_finite(kind, nonlinearity):  # the case does poison something
        assert not np.all(np.isfinite(expected[0].numpy()))
    _assert_same_non_finite(output, expected[0].numpy(), dtype, f"{kind} output")
    _assert_same_non_finite(h_n, expected[1].numpy(), dtype, f"{kind} h_n")


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("nonlinearity", ["tanh", "relu"])
@pytest.mark.parametrize("kind", POISONS)
def test_nan_inf_propagate_like_reference(kind, nonlinearity, dtype):
    """Without torch: the numpy reference (checked against torch above) is the judge."""
    model, state, x, hx = _poisoned_case(kind, nonlinearity, dtype)
    config = dict(num_layers=2, bidirectional=True, nonlinearity=nonlinearity, bias=True,
                  hidden_size=4, batch_first=False)
    with np.errstate(invalid="ignore", over="ignore"):
        expected = reference.rnn_forward(state, config, x, hx)
    output, h_n = model(x, hx)
    if _yields_non_finite(kind, nonlinearity):
        assert not np.all(np.isfinite(expected[0]))
    _assert_same_non_finite(output, expected[0], dtype, f"{kind} output")
    _assert_same_non_finite(h_n, expected[1], dtype, f"{kind} h_n")


# ============================================================== parameters as attributes
def test_in_place_parameter_edit_is_seen_by_forward():
    model = fastrnn.RNN(3, 4, num_layers=2, bidirectional=True, dtype=np.float64, seed=0)
    x = np.random.default_rng(0).standard_normal((5, 2, 3))
    before = model(x)[0]
    model.weight_hh_l0[...] = 0.0
    model.bias_ih_l1_reverse[1] += 0.5
    state = model.state_dict()
    assert np.all(state["weight_hh_l0"] == 0) and state["bias_ih_l1_reverse"][1] != 0
    output, h_n = model(x)
    assert not np.array_equal(output, before)
    ref_output, ref_h_n = reference.rnn_forward(
        state, dict(num_layers=2, bidirectional=True, nonlinearity="tanh", bias=True,
                    hidden_size=4, batch_first=False), x)
    assert_close(output, ref_output, np.float64)
    assert_close(h_n, ref_h_n, np.float64)


def test_parameter_assignment_copies_and_checks_shape():
    model = fastrnn.RNN(3, 4, num_layers=2, seed=0)
    x = np.random.default_rng(0).standard_normal((5, 2, 3)).astype(np.float32)
    new = np.random.default_rng(1).uniform(-1, 1, (4, 3))  # float64, cast on assignment
    model.weight_ih_l0 = new
    assert model.weight_ih_l0.dtype == np.float32
    np.testing.assert_array_equal(model.weight_ih_l0, new.astype(np.float32))
    output = model(x)[0]
    new[...] = 0  # the model copied
    np.testing.assert_array_equal(model.weight_ih_l0, model.state_dict()["weight_ih_l0"])
    assert np.any(model.weight_ih_l0 != 0)
    np.testing.assert_array_equal(model(x)[0], output)
    ref = reference.rnn_forward(model.state_dict(), dict(
        num_layers=2, bidirectional=False, nonlinearity="tanh", bias=True, hidden_size=4,
        batch_first=False), x)[0]
    assert_close(output, ref, np.float32)

    model.bias_hh_l1 = [1, 2, 3, 4]
    np.testing.assert_array_equal(model.bias_hh_l1, [1, 2, 3, 4])
    kept = model.state_dict()
    with pytest.raises(ValueError, match=r"weight_ih_l0.*\(4, 3\).*\(3, 4\)"):
        model.weight_ih_l0 = np.zeros((3, 4))
    with pytest.raises(ValueError, match=r"weight_hh_l1.*\(4, 4\).*\(16,\)"):
        model.weight_hh_l1 = np.zeros(16)
    with pytest.raises(ValueError, match="bias_ih_l0"):
        model.bias_ih_l0 = ["a", "b", "c", "d"]
    for name, value in model.state_dict().items():
        np.testing.assert_array_equal(value, kept[name])


def test_structural_attributes_are_read_only():
    model = fastrnn.RNN(3, 4)
    for name, value in [("hidden_size", 5), ("input_size", 2), ("num_layers", 2),
                        ("bidirectional", True)]:
        with pytest.raises(AttributeError, match=name):
            setattr(model, name, value)
    assert (model.input_size, model.hidden_size, model.num_layers) == (3, 4, 1)


def test_torch_constructor_arguments_are_understood():
    """device, torch dtypes and proj_size=0, as torch code passes them."""
    torch = pytest.importorskip("torch")
    model = fastrnn.RNN(3, 4, device="cpu", dtype=torch.float64)
    assert model.dtype is np.float64 and model.weight_ih_l0.dtype == np.float64
    assert fastrnn.RNN(3, 4, device=torch.device("cpu"), dtype=torch.float32).dtype is np.float32
    assert fastrnn.RNN(3, 4, proj_size=0).hidden_size == 4
    with pytest.raises(TypeError, match="float32 or numpy.float64"):
        fastrnn.RNN(3, 4, dtype=torch.float16)


def test_constructor_refuses_what_it_cannot_do():
    with pytest.raises(ValueError, match="proj_size argument is only supported for LSTM"):
        fastrnn.RNN(3, 4, proj_size=2)
    with pytest.raises(ValueError, match="device must be None or 'cpu', got 'cuda'"):
        fastrnn.RNN(3, 4, device="cuda")


def test_flatten_parameters_is_a_harmless_no_op():
    model = fastrnn.RNN(3, 4, seed=0)
    x = np.ones((2, 1, 3), np.float32)
    before = model(x)[0]
    assert model.flatten_parameters() is None
    assert np.array_equal(model(x)[0], before)
