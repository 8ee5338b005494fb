"""What fastrnn is checked against: plain numpy torch.nn.RNN, LSTM and GRU,
the parity grids, the stored torch outputs and the tolerance rule.

Nothing here imports torch or fastrnn. `rnn_forward`, `lstm_forward` and
`gru_forward` are written from torch's documented equations, one layer, one
direction, one time step at a time, so they can be read against the docs
line by line; the tests check them against live torch when torch is
installed and against the stored torch outputs always.
"""
import importlib.util
import itertools
import json
import pathlib
import re

import numpy as np

DATA_DIR = pathlib.Path(__file__).parent / "data"
TOOL_PATH = pathlib.Path(__file__).resolve().parent.parent / "tools" / "make_reference_data.py"

# The kinds of recurrent module, named as the parity cases' "kind".
KINDS = ("rnn", "lstm", "gru")

# The largest normalized error |got - ref| / max(1, max|ref|) seen during a
# test session, printed in pytest's summary (see conftest.py): per dtype, and
# per (kind, dtype) for comparisons that name their kind.
OBSERVED_ERRORS = {}  # dtype name -> largest error seen, only for dtypes compared
OBSERVED_ERRORS_BY_KIND = {}  # (kind, dtype name) -> largest error seen

# Tolerance of the project brief, relative to max(1, max|ref|).
TOLERANCE = {"float32": 1e-5, "float64": 1e-10}


# ---------------------------------------------------------------- reference
def torch_parameter_names(num_layers, bidirectional, bias, proj_size=0):
    """Parameter names in torch's order for RNN, LSTM and GRU (written
    independently of fastrnn); weight_hr_l{k} only for an LSTM with proj_size."""
    names = []
    for layer in range(num_layers):
        for suffix in ["", "_reverse"][: 2 if bidirectional else 1]:
            kinds = ["weight_ih", "weight_hh"] + (["bias_ih", "bias_hh"] if bias else [])
            kinds += ["weight_hr"] if proj_size else []
            names += [f"{kind}_l{layer}{suffix}" for kind in kinds]
    return names


def _time_major(input, batch_first, dtype):
    """input as (L, N, features) in `dtype`, and whether it was batched."""
    x = np.array(input, dtype=dtype)
    batched = x.ndim == 3
    if not batched:
        x = x[:, None, :]
    elif batch_first:
        x = x.transpose(1, 0, 2)
    return x, batched


def _initial_state(given, rows, N, size, batched, dtype):
    """h0 or c0 as (rows, N, size): zeros when not given."""
    if given is None:
        return np.zeros((rows, N, size), dtype)
    state = np.array(given, dtype=dtype)
    return state if batched else state[:, None, :]


def _outputs(output, finals, batched, batch_first):
    """torch's shapes for the time-major output and the final states."""
    if not batched:
        return output[:, 0, :], [final[:, 0, :] for final in finals]
    if batch_first:
        output = output.transpose(1, 0, 2)
    return output, finals


def _run_layers(config, x, initial, cell):
    """The stacked, optionally bidirectional time loop shared by the three modules.

    x: (L, N, features) time-major. initial: list of states, each
    (D * num_layers, N, size). cell(suffix, x_t, states) -> new states for one
    step of the layer and direction named by suffix ("_l{k}" or "_l{k}_reverse");
    states[0] is the step's output h_t. Returns (output, finals) with output
    (L, N, D * size of h) and finals like `initial`.
    """
    D = 2 if config["bidirectional"] else 1
    L = x.shape[0]
    finals = [np.zeros_like(state) for state in initial]
    layer_input = x
    for layer in range(config["num_layers"]):
        direction_outputs = []
        for direction in range(D):
            suffix = f"_l{layer}" + ("_reverse" if direction == 1 else "")
            row = layer * D + direction
            states = [state[row] for state in initial]
            out = np.zeros((L,) + states[0].shape, x.dtype)
            times = range(L - 1, -1, -1) if direction == 1 else range(L)
            for t in times:
                states = cell(suffix, layer_input[t], states)
                out[t] = states[0]
            for final, state in zip(finals, states):
                final[row] = state
            direction_outputs.append(out)
        layer_input = np.concatenate(direction_outputs, axis=2)
    return layer_input, finals


def _parameters(state, suffix, dtype, config, gates):
    """(w_ih, w_hh, b_ih, b_hh) of one layer and direction; zero biases when bias=False."""
    w_ih = np.asarray(state["weight_ih" + suffix], dtype)
    w_hh = np.asarray(state["weight_hh" + suffix], dtype)
    if config["bias"]:
        b_ih = np.asarray(state["bias_ih" + suffix], dtype)
        b_hh = np.asarray(state["bias_hh" + suffix], dtype)
    else:
        b_ih = b_hh = np.zeros(gates * config["hidden_size"], dtype)
    return w_ih, w_hh, b_ih, b_hh


def _sigmoid(v):
    with np.errstate(over="ignore"):  # exp(-v) = inf for very negative v gives 0, as it should
        return 1 / (1 + np.exp(-v))


def rnn_forward(state, config, input, hx=None, dtype=np.float64):
    """torch.nn.RNN's forward in plain numpy, computed in `dtype`.

    state: mapping name -> array with torch's parameter names.
    config: mapping with hidden_size, num_layers, nonlinearity, bias,
        batch_first, bidirectional (input_size is taken from the input).
    input: (L, H_in) unbatched, (L, N, H_in), or (N, L, H_in) if batch_first.
    hx: None or (D*num_layers, [N,] H_out).
    Returns (output, h_n) with torch's shapes.
    """
    D = 2 if config["bidirectional"] else 1
    H = config["hidden_size"]
    activation = {"tanh": np.tanh, "relu": lambda v: np.maximum(v, 0)}[config["nonlinearity"]]
    x, batched = _time_major(input, config["batch_first"], dtype)
    h0 = _initial_state(hx, D * config["num_layers"], x.shape[1], H, batched, dtype)

    def cell(suffix, x_t, states):
        w_ih, w_hh, b_ih, b_hh = _parameters(state, suffix, dtype, config, 1)
        (h,) = states
        # h_t = act(x_t W_ih^T + b_ih + h_{t-1} W_hh^T + b_hh)
        return [activation(x_t @ w_ih.T + b_ih + h @ w_hh.T + b_hh)]

    output, (h_n,) = _run_layers(config, x, [h0], cell)
    output, (h_n,) = _outputs(output, [h_n], batched, config["batch_first"])
    return output, h_n


def lstm_forward(state, config, input, hx=None, dtype=np.float64):
    """torch.nn.LSTM's forward in plain numpy, computed in `dtype`.

    config: mapping with hidden_size, num_layers, bias, batch_first,
        bidirectional and optionally proj_size (0 or absent: no projection).
    hx: None or (h0, c0) with h0 (D*num_layers, [N,] H_out) and
        c0 (D*num_layers, [N,] H_cell), H_out = proj_size or hidden_size.
    Returns (output, (h_n, c_n)) with torch's shapes.

    torch's equations, gates stacked in the rows of weight_ih/weight_hh as (i, f, g, o):
        i = sigmoid(W_ii x + b_ii + W_hi h + b_hi)
        f = sigmoid(W_if x + b_if + W_hf h + b_hf)
        g = tanh(W_ig x + b_ig + W_hg h + b_hg)
        o = sigmoid(W_io x + b_io + W_ho h + b_ho)
        c' = f * c + i * g
        h' = o * tanh(c')            then h' = W_hr h' with proj_size > 0
    """
    D = 2 if config["bidirectional"] else 1
    H = config["hidden_size"]
    P = config.get("proj_size", 0) or H
    x, batched = _time_major(input, config["batch_first"], dtype)
    rows, N = D * config["num_layers"], x.shape[1]
    h0 = _initial_state(None if hx is None else hx[0], rows, N, P, batched, dtype)
    c0 = _initial_state(None if hx is None else hx[1], rows, N, H, batched, dtype)

    def cell(suffix, x_t, states):
        w_ih, w_hh, b_ih, b_hh = _parameters(state, suffix, dtype, config, 4)
        W_ii, W_if, W_ig, W_io = np.split(w_ih, 4)
        W_hi, W_hf, W_hg, W_ho = np.split(w_hh, 4)
        b_ii, b_if, b_ig, b_io = np.split(b_ih, 4)
        b_hi, b_hf, b_hg, b_ho = np.split(b_hh, 4)
        h, c = states
        i = _sigmoid(x_t @ W_ii.T + b_ii + h @ W_hi.T + b_hi)
        f = _sigmoid(x_t @ W_if.T + b_if + h @ W_hf.T + b_hf)
        g = np.tanh(x_t @ W_ig.T + b_ig + h @ W_hg.T + b_hg)
        o = _sigmoid(x_t @ W_io.T + b_io + h @ W_ho.T + b_ho)
        c = f * c + i * g
        h = o * np.tanh(c)
        if P != H:
            h = h @ np.asarray(state["weight_hr" + suffix], dtype).T
        return [h, c]

    output, finals = _run_layers(config, x, [h0, c0], cell)
    output, (h_n, c_n) = _outputs(output, finals, batched, config["batch_first"])
    return output, (h_n, c_n)


def gru_forward(state, config, input, hx=None, dtype=np.float64):
    """torch.nn.GRU's forward in plain numpy, computed in `dtype`.

    config: mapping with hidden_size, num_layers, bias, batch_first, bidirectional.
    hx: None or (D*num_layers, [N,] H_out). Returns (output, h_n) with torch's shapes.

    torch's equations, gates stacked in the rows of weight_ih/weight_hh as (r, z, n):
        r = sigmoid(W_ir x + b_ir + W_hr h + b_hr)
        z = sigmoid(W_iz x + b_iz + W_hz h + b_hz)
        n = tanh(W_in x + b_in + r * (W_hn h + b_hn))
        h' = (1 - z) * n + z * h
    """
    D = 2 if config["bidirectional"] else 1
    H = config["hidden_size"]
    x, batched = _time_major(input, config["batch_first"], dtype)
    h0 = _initial_state(hx, D * config["num_layers"], x.shape[1], H, batched, dtype)

    def cell(suffix, x_t, states):
        w_ih, w_hh, b_ih, b_hh = _parameters(state, suffix, dtype, config, 3)
        W_ir, W_iz, W_in = np.split(w_ih, 3)
        W_hr, W_hz, W_hn = np.split(w_hh, 3)
        b_ir, b_iz, b_in = np.split(b_ih, 3)
        b_hr, b_hz, b_hn = np.split(b_hh, 3)
        (h,) = states
        r = _sigmoid(x_t @ W_ir.T + b_ir + h @ W_hr.T + b_hr)
        z = _sigmoid(x_t @ W_iz.T + b_iz + h @ W_hz.T + b_hz)
        n = np.tanh(x_t @ W_in.T + b_in + r * (h @ W_hn.T + b_hn))
        return [(1 - z) * n + z * h]

    output, (h_n,) = _run_layers(config, x, [h0], cell)
    output, (h_n,) = _outputs(output, [h_n], batched, config["batch_first"])
    return output, h_n


FORWARDS = {"rnn": rnn_forward, "lstm": lstm_forward, "gru": gru_forward}


# ---------------------------------------------------------------- tolerance
def normalized_error(got, ref):
    """max|got - ref| / max(1, max|ref|), over the finite entries of ref."""
    got = np.asarray(got, np.float64)
    ref = np.asarray(ref, np.float64)
    if ref.size == 0:
        return 0.0
    return float(np.max(np.abs(got - ref)) / max(1.0, float(np.max(np.abs(ref)))))


def assert_close(got, ref, dtype, what="output", kind=None):
    """Assert the brief's tolerance: max abs diff <= tol * max(1, max|ref|).

    kind ("rnn", "lstm", "gru") also records the error under that module kind.
    """
    name = np.dtype(dtype).name
    got = np.asarray(got)
    ref = np.asarray(ref)
    assert got.shape == ref.shape, f"{what}: shape {got.shape}, expected {ref.shape}"
    assert np.all(np.isfinite(ref)), f"{what}: reference is not finite"
    assert np.all(np.isfinite(got)), f"{what}: result has NaN/Inf where the reference has none"
    error = normalized_error(got, ref)
    OBSERVED_ERRORS[name] = max(OBSERVED_ERRORS.get(name, 0.0), error)
    if kind is not None:
        key = (kind, name)
        OBSERVED_ERRORS_BY_KIND[key] = max(OBSERVED_ERRORS_BY_KIND.get(key, 0.0), error)
    assert error <= TOLERANCE[name], (
        f"{what}: normalized max abs error {error:.3e} > {TOLERANCE[name]:.0e} ({name})")


# ---------------------------------------------------------------- parity grid
# The options each kind's grid varies. RNN's main grid is every combination of
# the first six; nonlinearity and bias follow from them (see _main_grid).
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
_SHAPE_OPTIONS = ["num_layers", "bidirectional", "batch_first", "unbatched", "with_hx", "dtype"]
GRID_OPTIONS = {
    "rnn": OPTIONS,
    # "projection": proj_size > 0 (LSTM only)
    "lstm": {**{k: OPTIONS[k] for k in _SHAPE_OPTIONS}, "projection": [False, True],
             "bias": [True, False]},
    "gru": {**{k: OPTIONS[k] for k in _SHAPE_OPTIONS}, "bias": [True, False]},
}


def option_value(case, option):
    """The value a case takes for one of GRID_OPTIONS' options."""
    if option == "projection":
        return case["proj_size"] > 0
    return case[option]


def _case_id(case):
    kind = case["kind"]
    parts = [] if kind == "rnn" else [kind]  # RNN's ids predate the other kinds
    parts += [
        f"l{case['num_layers']}",
        "bi" if case["bidirectional"] else "uni",
        "bf" if case["batch_first"] else "tm",
        "unbatched" if case["unbatched"] else f"n{case['batch']}",
        "hx" if case["with_hx"] else "nohx",
    ]
    if kind == "rnn":
        parts.append(case["nonlinearity"])
    elif kind == "lstm":
        parts.append(f"proj{case['proj_size']}" if case["proj_size"] else "noproj")
    parts += [
        "bias" if case["bias"] else "nobias",
        case["dtype"][-2:],
        f"f{case['input_size']}h{case['hidden_size']}L{case['seq_len']}",
    ]
    return "-".join(parts)


def _option_bits(case):
    return [case["num_layers"] % 2, case["bidirectional"], case["batch_first"],
            case["unbatched"], case["with_hx"], case["dtype"] == "float64"]


def _main_grid():
    """RNN: every combination of the shape-related options and dtype (96 cases).

    nonlinearity and bias are parities of the other option bits, two
    independent ones, so every pair of option values appears (checked by
    test_grid_covers_every_pair_of_option_values). Sizes vary a little too.
    """
    cases = []
    for index, values in enumerate(itertools.product(*(OPTIONS[k] for k in _SHAPE_OPTIONS))):
        case = dict(zip(_SHAPE_OPTIONS, values))
        bits = _option_bits(case)
        case["nonlinearity"] = "relu" if sum(bits) % 2 else "tanh"
        case["bias"] = not (bits[1] ^ bits[3] ^ bits[5])
        case["input_size"] = (3, 5)[index % 2]
        case["hidden_size"] = (4, 6, 5)[index % 3]
        case["seq_len"] = (5, 7)[(index // 2) % 2]
        case["batch"] = None if case["unbatched"] else (2, 3)[(index // 3) % 2]
        case["kind"] = "rnn"
        cases.append(case)
    return cases


def _gated_main_grid(kind):
    """LSTM or GRU: every combination of the shape-related options and dtype
    (96 cases). As for RNN, the other options are parities of these bits: for
    LSTM, projection (proj_size > 0) and bias; for GRU, bias. Sizes are small
    (the stored files hold 3 or 4 gates' weights) and vary with the index.
    """
    cases = []
    for index, values in enumerate(itertools.product(*(OPTIONS[k] for k in _SHAPE_OPTIONS))):
        case = dict(zip(_SHAPE_OPTIONS, values), kind=kind)
        bits = _option_bits(case)
        mix = index * 5 + index // 7  # sizes not tied to any one option bit
        case["bias"] = not (bits[1] ^ bits[3] ^ bits[5]) if kind == "lstm" else not sum(bits) % 2
        case["input_size"] = (2, 3)[mix % 2]
        case["hidden_size"] = (4, 5, 3)[mix % 3]
        if kind == "lstm":
            case["proj_size"] = (2, 3, 1)[mix % 3] if sum(bits) % 2 else 0
        case["seq_len"] = (4, 6)[(mix // 2) % 2]
        case["batch"] = None if case["unbatched"] else (2, 3)[(mix // 3) % 2]
        cases.append(case)
    return cases


def _edge(num_layers=1, bidirectional=False, batch_first=False, batch=2, with_hx=False,
          dtype="float32", nonlinearity="tanh", bias=True, input_size=3, hidden_size=4,
          seq_len=4, kind="rnn", proj_size=0):
    case = dict(num_layers=num_layers, bidirectional=bidirectional, batch_first=batch_first,
                unbatched=batch is None, with_hx=with_hx, dtype=dtype,
                nonlinearity=nonlinearity, bias=bias, input_size=input_size,
                hidden_size=hidden_size, seq_len=seq_len, batch=batch, kind=kind)
    if kind != "rnn":
        del case["nonlinearity"]
    if kind == "lstm":
        case["proj_size"] = proj_size
    return case


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


def _gated_edge_cases(kind):
    """Sizes of 1 for LSTM or GRU, and for LSTM the smallest projection (P=1, H=2)."""
    def edge(**kwargs):
        return _edge(kind=kind, **kwargs)

    cases = [
        edge(hidden_size=1),
        edge(hidden_size=1, num_layers=2, bidirectional=True, batch_first=True, with_hx=True,
             dtype="float64"),
        edge(input_size=1),
        edge(input_size=1, num_layers=3, bidirectional=True, batch=None, with_hx=True,
             dtype="float64", bias=False),
        edge(seq_len=1),
        edge(seq_len=1, num_layers=2, bidirectional=True, batch_first=True, with_hx=True,
             dtype="float64"),
        edge(seq_len=1, batch=None),
        edge(batch=1),
        edge(batch=1, batch_first=True, num_layers=3, bidirectional=True, with_hx=True),
        edge(batch=1, num_layers=2, with_hx=True, dtype="float64", bias=False),
        edge(batch=1, input_size=1, hidden_size=1, seq_len=1),
        edge(batch=1, input_size=1, hidden_size=1, seq_len=1, num_layers=2,
             bidirectional=True, with_hx=True, dtype="float64", batch_first=True),
        edge(batch=None, input_size=1, hidden_size=1, seq_len=1),
    ]
    if kind == "lstm":
        cases += [
            edge(hidden_size=2, proj_size=1),
            edge(hidden_size=2, proj_size=1, num_layers=2, bidirectional=True, with_hx=True,
                 dtype="float64", batch_first=True),
            edge(hidden_size=2, proj_size=1, input_size=1, seq_len=1, batch=1, with_hx=True),
            edge(hidden_size=3, proj_size=1, seq_len=1, batch=None, num_layers=3,
                 bidirectional=True, with_hx=True, bias=False),
            edge(hidden_size=5, proj_size=4, batch=1, num_layers=2, with_hx=True,
                 dtype="float64"),
        ]
    return cases


def _packed_step_cases():
    """float32 sizes on which the kernel's "auto" rule picks its packed step
    kernel (fastrnn._testing.use_packed_step): batch 4-9, L*N >= 16, H on both
    sides of the kernel's 16/32-column panel edges."""
    return [
        _edge(batch=4, seq_len=6, hidden_size=33, input_size=7),
        _edge(batch=5, seq_len=4, hidden_size=17, num_layers=2, bidirectional=True,
              batch_first=True, with_hx=True),
        _edge(batch=9, seq_len=3, hidden_size=64, nonlinearity="relu", with_hx=True),
        _edge(batch=6, seq_len=5, hidden_size=40, num_layers=3, bidirectional=True, bias=False),
        _edge(batch=None, seq_len=20, hidden_size=31, num_layers=2, with_hx=True),
    ]


def _gated_packed_step_cases(kind):
    """float32 sizes with L*N >= 16 and batch 4-9, where the "auto" rule of
    the kernels picks a packed recurrent step: H at and around the 16/32-column
    panel edges, up to 64; for LSTM also a projection (W_hh is 4H x P)."""
    def edge(**kwargs):
        return _edge(kind=kind, **kwargs)

    cases = [
        edge(batch=8, seq_len=20, hidden_size=64, input_size=8, with_hx=True),
        edge(batch=4, seq_len=6, hidden_size=33, input_size=7),
        edge(batch=5, seq_len=4, hidden_size=17, num_layers=2, bidirectional=True,
             batch_first=True, with_hx=True),
        edge(batch=6, seq_len=5, hidden_size=32, num_layers=2, bidirectional=True, bias=False),
        edge(batch=None, seq_len=20, hidden_size=31, num_layers=2, with_hx=True),
    ]
    if kind == "lstm":
        cases += [
            edge(batch=6, seq_len=5, hidden_size=40, proj_size=24, num_layers=2,
                 bidirectional=True, with_hx=True),
            edge(batch=8, seq_len=4, hidden_size=48, proj_size=33, batch_first=True),
        ]
    return cases


def parity_cases(kind="rnn"):
    """The parity grid of one kind ("rnn", "lstm" or "gru"): a list of case
    dicts, each with its "kind" and a unique "id"."""
    if kind == "rnn":
        cases = _main_grid() + _edge_cases() + _packed_step_cases()
    elif kind in ("lstm", "gru"):
        cases = _gated_main_grid(kind) + _gated_edge_cases(kind) + _gated_packed_step_cases(kind)
    else:
        raise ValueError(f"kind must be one of {KINDS}, got {kind!r}")
    for case in cases:
        case["id"] = _case_id(case)
    ids = [c["id"] for c in cases]
    assert len(set(ids)) == len(ids), "case ids must be unique"
    return cases


def all_parity_cases():
    """Every kind's parity grid, RNN's first."""
    return [case for kind in KINDS for case in parity_cases(kind)]


def case_config(case):
    """The keyword arguments of the case's torch module (and fastrnn class)."""
    kind = case.get("kind", "rnn")
    names = ["input_size", "hidden_size", "num_layers", "bias", "batch_first", "bidirectional"]
    if kind == "rnn":
        names.insert(3, "nonlinearity")
    elif kind == "lstm":
        names.append("proj_size")
    return {k: case[k] for k in names}


def case_input_shape(case):
    L, N, F = case["seq_len"], case["batch"], case["input_size"]
    if N is None:
        return (L, F)
    return (N, L, F) if case["batch_first"] else (L, N, F)


def case_state_shapes(case):
    """Shapes of the initial states: [h0] for RNN and GRU, [h0, c0] for LSTM
    (h0 has proj_size features when the LSTM projects, c0 hidden_size)."""
    rows = case["num_layers"] * (2 if case["bidirectional"] else 1)
    H = case["hidden_size"]
    sizes = [H]
    if case.get("kind", "rnn") == "lstm":
        sizes = [case["proj_size"] or H, H]
    if case["batch"] is None:
        return [(rows, size) for size in sizes]
    return [(rows, case["batch"], size) for size in sizes]


def case_hx_shape(case):
    """Shape of h0 (for LSTM, of h0 in (h0, c0))."""
    return case_state_shapes(case)[0]


# ---------------------------------------------------------------- stored data
# RNN cases sit in data/ itself; LSTM and GRU cases in data/lstm/ and data/gru/.
def kind_dir(kind):
    return DATA_DIR if kind == "rnn" else DATA_DIR / kind


def _kind_of_id(case_id):
    prefix = case_id.split("-", 1)[0]
    return prefix if prefix in KINDS else "rnn"


def case_path(case_id):
    return kind_dir(_kind_of_id(case_id)) / f"{case_id}.npz"


def load_case(path):
    """A stored case: dict(case, state, input, hx, output, h_n, torch_version),
    and c_n for LSTM. hx is None, h0, or (h0, c0) for LSTM."""
    with np.load(path, allow_pickle=False) as data:
        meta = json.loads(str(data["meta"]))
        case = meta["case"]
        case.setdefault("kind", "rnn")  # files written before LSTM and GRU
        state = {name: data["param." + name] for name in meta["state_keys"]}
        hx = data["hx"] if "hx" in data.files else None
        if hx is not None and case["kind"] == "lstm":
            hx = (hx, data["cx"])
        stored = dict(case=case, torch_version=meta["torch_version"],
                      state_keys=meta["state_keys"], state=state, input=data["input"],
                      hx=hx, output=data["output"], h_n=data["h_n"])
        if case["kind"] == "lstm":
            stored["c_n"] = data["c_n"]
        return stored


def save_case(path, case, state, input, hx, output, h_n, torch_version, c_n=None):
    """Store one case compactly (compressed npz, no pickles).

    For LSTM, hx is None or (h0, c0) and c_n is given. An RNN case is stored
    without its "kind", as the files written before LSTM and GRU are.
    """
    stored_case = {k: v for k, v in case.items() if not (k == "kind" and v == "rnn")}
    meta = dict(case=stored_case, state_keys=list(state), torch_version=torch_version)
    arrays = {"meta": np.array(json.dumps(meta, sort_keys=True)), "input": input,
              "output": output, "h_n": h_n}
    if c_n is not None:
        arrays["c_n"] = c_n
    if hx is not None:
        if case.get("kind") == "lstm":
            arrays["hx"], arrays["cx"] = hx
        else:
            arrays["hx"] = hx
    for name, value in state.items():
        arrays["param." + name] = value
    np.savez_compressed(path, **arrays)


def stored_case_paths(kind="rnn"):
    return sorted(kind_dir(kind).glob("*.npz"))


def data_tool():
    """tools/make_reference_data.py as a module: it builds the torch side of a
    case (run_torch_case) and imports torch only when given it."""
    spec = importlib.util.spec_from_file_location("make_reference_data", TOOL_PATH)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


# ---------------------------------------------------------------- torch's errors
def _unbatched_shapes(message):
    """torch's message with the batch dimension of 1 that torch inserts into
    unbatched states taken out: "(2, 1, 4)" -> "(2, 4)", "[2, 1, 5]" -> "[2, 5]"."""
    message = re.sub(r"\((\d+), 1, (\d+)\)", r"(\1, \2)", message)
    return re.sub(r"\[(\d+), 1, (\d+)\]", r"[\1, \2]", message)


def assert_error_like_torch(got, expected, unbatched_state=False):
    """fastrnn's exception `got` says what torch's `expected` says.

    got must be an instance of expected's class (code written for torch keeps
    catching it), and torch's words and numbers must appear in got's message
    in the same order: fastrnn may add to torch's message (what came, the
    input's shape) but not leave anything out. unbatched_state: the error is
    about the shape of an unbatched hx, which fastrnn names without the batch
    dimension of 1 that torch inserts before checking.
    """
    assert isinstance(got, type(expected)), (
        f"fastrnn raised {type(got).__name__}({got}), torch {type(expected).__name__}({expected})")
    want = str(expected)
    if unbatched_state:
        want = _unbatched_shapes(want)
    words = iter(re.findall(r"\w+", str(got)))
    missing = [w for w in re.findall(r"\w+", want) if not any(w == g for g in words)]
    assert not missing, (f"fastrnn's message {str(got)!r} does not say torch's {want!r} "
                         f"(missing from {missing[0]!r} on)")
