"""What fastrnn is checked against: a plain numpy torch.nn.RNN, the parity grid,
the stored torch outputs and the tolerance rule.

Nothing here imports torch or fastrnn. `rnn_forward` is written from torch's
documented equation, one layer, one direction, one time step at a time, so it
can be read against the docs line by line; the tests check it against live
torch when torch is installed and against the stored torch outputs always.
"""
import itertools
import json
import pathlib

import numpy as np

DATA_DIR = pathlib.Path(__file__).parent / "data"

# The largest normalized error |got - ref| / max(1, max|ref|) seen per dtype
# during a test session, printed in pytest's summary (see conftest.py).
OBSERVED_ERRORS = {}  # dtype name -> largest error seen, only for dtypes compared

# Tolerance of the project brief, relative to max(1, max|ref|).
TOLERANCE = {"float32": 1e-5, "float64": 1e-10}


# ---------------------------------------------------------------- reference
def torch_parameter_names(num_layers, bidirectional, bias):
    """Parameter names in torch.nn.RNN's order (written independently of fastrnn)."""
    names = []
    for layer in range(num_layers):
        for suffix in ["", "_reverse"][: 2 if bidirectional else 1]:
            kinds = ["weight_ih", "weight_hh"] + (["bias_ih", "bias_hh"] if bias else [])
            names += [f"{kind}_l{layer}{suffix}" for kind in kinds]
    return names


def rnn_forward(state, config, input, hx=None, dtype=np.float64):
    """torch.nn.RNN's forward in plain numpy, computed in `dtype`.

    state: mapping name -> array with torch's parameter names.
    config: mapping with hidden_size, num_layers, nonlinearity, bias,
        batch_first, bidirectional (input_size is taken from the input).
    input: (L, H_in) unbatched, (L, N, H_in), or (N, L, H_in) if batch_first.
    hx: None or (D*num_layers, [N,] H_out).
    Returns (output, h_n) with torch's shapes.
    """
    num_layers = config["num_layers"]
    D = 2 if config["bidirectional"] else 1
    H = config["hidden_size"]
    activation = {"tanh": np.tanh, "relu": lambda v: np.maximum(v, 0)}[config["nonlinearity"]]

    x = np.array(input, dtype=dtype)
    batched = x.ndim == 3
    if not batched:
        x = x[:, None, :]
    elif config["batch_first"]:
        x = x.transpose(1, 0, 2)
    L, N = x.shape[0], x.shape[1]
    if hx is None:
        h0 = np.zeros((D * num_layers, N, H), dtype)
    else:
        h0 = np.array(hx, dtype=dtype)
        if not batched:
            h0 = h0[:, None, :]

    h_n = np.zeros((D * num_layers, N, H), dtype)
    layer_input = x  # (L, N, features), time-major
    for layer in range(num_layers):
        direction_outputs = []
        for direction in range(D):
            suffix = f"_l{layer}" + ("_reverse" if direction == 1 else "")
            w_ih = np.asarray(state["weight_ih" + suffix], dtype)
            w_hh = np.asarray(state["weight_hh" + suffix], dtype)
            if config["bias"]:
                b_ih = np.asarray(state["bias_ih" + suffix], dtype)
                b_hh = np.asarray(state["bias_hh" + suffix], dtype)
            else:
                b_ih = b_hh = np.zeros(H, dtype)
            h = h0[layer * D + direction]
            out = np.zeros((L, N, H), dtype)
            times = range(L - 1, -1, -1) if direction == 1 else range(L)
            for t in times:
                # h_t = act(x_t W_ih^T + b_ih + h_{t-1} W_hh^T + b_hh)
                h = activation(layer_input[t] @ w_ih.T + b_ih + h @ w_hh.T + b_hh)
                out[t] = h
            h_n[layer * D + direction] = h
            direction_outputs.append(out)
        layer_input = np.concatenate(direction_outputs, axis=2)

    output = layer_input
    if not batched:
        return output[:, 0, :], h_n[:, 0, :]
    if config["batch_first"]:
        output = output.transpose(1, 0, 2)
    return output, h_n


# ---------------------------------------------------------------- tolerance
def normalized_error(got, ref):
    """max|got - ref| / max(1, max|ref|), over the finite entries of ref."""
    got = np.asarray(got, np.float64)
    ref = np.asarray(ref, np.float64)
    if ref.size == 0:
        return 0.0
    return float(np.max(np.abs(got - ref)) / max(1.0, float(np.max(np.abs(ref)))))


def assert_close(got, ref, dtype, what="output"):
    """Assert the brief's tolerance: max abs diff <= tol * max(1, max|ref|)."""
    name = np.dtype(dtype).name
    got = np.asarray(got)
    ref = np.asarray(ref)
    assert got.shape == ref.shape, f"{what}: shape {got.shape}, expected {ref.shape}"
    assert np.all(np.isfinite(ref)), f"{what}: reference is not finite"
    assert np.all(np.isfinite(got)), f"{what}: result has NaN/Inf where the reference has none"
    error = normalized_error(got, ref)
    OBSERVED_ERRORS[name] = max(OBSERVED_ERRORS.get(name, 0.0), error)
    assert error <= TOLERANCE[name], (
        f"{what}: normalized max abs error {error:.3e} > {TOLERANCE[name]:.0e} ({name})")


# ---------------------------------------------------------------- parity grid
OPTIONS = {
    "num_layers": [1, 2, 3],
    "bidirectional": [False, True],
    "batch_first": [False, True],
    "unbatched": [False, True],
    "with_hx": [False, True],
    "dtype": ["float32", "float64"],
    "nonlinearity": ["tanh", "relu"],
    "bias": [True, False],
}


def _case_id(case):
    parts = [
        f"l{case['num_layers']}",
        "bi" if case["bidirectional"] else "uni",
        "bf" if case["batch_first"] else "tm",
        "unbatched" if case["unbatched"] else f"n{case['batch']}",
        "hx" if case["with_hx"] else "nohx",
        case["nonlinearity"],
        "bias" if case["bias"] else "nobias",
        case["dtype"][-2:],
        f"f{case['input_size']}h{case['hidden_size']}L{case['seq_len']}",
    ]
    return "-".join(parts)


def _main_grid():
    """Every combination of the shape-related options and dtype (96 cases).

    nonlinearity and bias are parities of the other option bits, two
    independent ones, so every pair of option values appears (checked by
    test_grid_covers_every_pair_of_option_values). Sizes vary a little too.
    """
    cases = []
    keys = ["num_layers", "bidirectional", "batch_first", "unbatched", "with_hx", "dtype"]
    for index, values in enumerate(itertools.product(*(OPTIONS[k] for k in keys))):
        case = dict(zip(keys, values))
        bits = [case["num_layers"] % 2, case["bidirectional"], case["batch_first"],
                case["unbatched"], case["with_hx"], case["dtype"] == "float64"]
        case["nonlinearity"] = "relu" if sum(bits) % 2 else "tanh"
        case["bias"] = not (bits[1] ^ bits[3] ^ bits[5])
        case["input_size"] = (3, 5)[index % 2]
        case["hidden_size"] = (4, 6, 5)[index % 3]
        case["seq_len"] = (5, 7)[(index // 2) % 2]
        case["batch"] = None if case["unbatched"] else (2, 3)[(index // 3) % 2]
        cases.append(case)
    return cases


def _edge(num_layers=1, bidirectional=False, batch_first=False, batch=2, with_hx=False,
          dtype="float32", nonlinearity="tanh", bias=True, input_size=3, hidden_size=4,
          seq_len=4):
    return dict(num_layers=num_layers, bidirectional=bidirectional, batch_first=batch_first,
                unbatched=batch is None, with_hx=with_hx, dtype=dtype,
                nonlinearity=nonlinearity, bias=bias, input_size=input_size,
                hidden_size=hidden_size, seq_len=seq_len, batch=batch)


def _edge_cases():
    """Sizes of 1: H=1, F=1, L=1, N=1 (N=1 takes the kernel's matrix-vector path)."""
    return [
        _edge(hidden_size=1),
        _edge(hidden_size=1, num_layers=2, bidirectional=True, batch_first=True,
              with_hx=True, nonlinearity="relu", dtype="float64"),
        _edge(input_size=1),
        _edge(input_size=1, num_layers=3, bidirectional=True, batch=None, with_hx=True,
              dtype="float64", bias=False),
        _edge(seq_len=1),
        _edge(seq_len=1, num_layers=2, bidirectional=True, batch_first=True, with_hx=True,
              dtype="float64"),
        _edge(seq_len=1, batch=None, nonlinearity="relu"),
        _edge(batch=1),
        _edge(batch=1, batch_first=True, num_layers=3, bidirectional=True, with_hx=True,
              nonlinearity="relu"),
        _edge(batch=1, num_layers=2, with_hx=True, dtype="float64", bias=False),
        _edge(batch=1, input_size=1, hidden_size=1, seq_len=1),
        _edge(batch=1, input_size=1, hidden_size=1, seq_len=1, num_layers=2,
              bidirectional=True, with_hx=True, dtype="float64", batch_first=True),
        _edge(batch=None, input_size=1, hidden_size=1, seq_len=1, nonlinearity="relu"),
    ]


def _packed_step_cases():
    """float32 sizes on which the kernel's "auto" rule picks its packed step
    kernel (fastrnn._kernels.use_packed_step): batch 4-9, L*N >= 16, H on both
    sides of the kernel's 16/32-column panel edges."""
    return [
        _edge(batch=4, seq_len=6, hidden_size=33, input_size=7),
        _edge(batch=5, seq_len=4, hidden_size=17, num_layers=2, bidirectional=True,
              batch_first=True, with_hx=True),
        _edge(batch=9, seq_len=3, hidden_size=64, nonlinearity="relu", with_hx=True),
        _edge(batch=6, seq_len=5, hidden_size=40, num_layers=3, bidirectional=True, bias=False),
        _edge(batch=None, seq_len=20, hidden_size=31, num_layers=2, with_hx=True),
    ]


def parity_cases():
    """The parity grid: a list of case dicts, each with a unique 'id'."""
    cases = _main_grid() + _edge_cases() + _packed_step_cases()
    for case in cases:
        case["id"] = _case_id(case)
    ids = [c["id"] for c in cases]
    assert len(set(ids)) == len(ids), "case ids must be unique"
    return cases


def case_config(case):
    """The torch.nn.RNN / fastrnn.RNN keyword arguments of a case."""
    return {k: case[k] for k in ("input_size", "hidden_size", "num_layers", "nonlinearity",
                                 "bias", "batch_first", "bidirectional")}


def case_input_shape(case):
    L, N, F = case["seq_len"], case["batch"], case["input_size"]
    if N is None:
        return (L, F)
    return (N, L, F) if case["batch_first"] else (L, N, F)


def case_hx_shape(case):
    rows = case["num_layers"] * (2 if case["bidirectional"] else 1)
    if case["batch"] is None:
        return (rows, case["hidden_size"])
    return (rows, case["batch"], case["hidden_size"])


# ---------------------------------------------------------------- stored data
def case_path(case_id):
    return DATA_DIR / f"{case_id}.npz"


def load_case(path):
    """A stored case: dict(case, state, input, hx, output, h_n, torch_version)."""
    with np.load(path, allow_pickle=False) as data:
        meta = json.loads(str(data["meta"]))
        state = {name: data["param." + name] for name in meta["state_keys"]}
        return dict(case=meta["case"], torch_version=meta["torch_version"],
                    state_keys=meta["state_keys"], state=state, input=data["input"],
                    hx=data["hx"] if "hx" in data.files else None,
                    output=data["output"], h_n=data["h_n"])


def save_case(path, case, state, input, hx, output, h_n, torch_version):
    """Store one case compactly (compressed npz, no pickles)."""
    meta = dict(case=case, state_keys=list(state), torch_version=torch_version)
    arrays = {"meta": np.array(json.dumps(meta, sort_keys=True)), "input": input,
              "output": output, "h_n": h_n}
    if hx is not None:
        arrays["hx"] = hx
    for name, value in state.items():
        arrays["param." + name] = value
    np.savez_compressed(path, **arrays)


def stored_case_paths():
    return sorted(DATA_DIR.glob("*.npz"))
