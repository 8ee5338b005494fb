"""fastrnn.onnx.backend's GRU and LSTM nodes against onnxruntime, the numpy reference
and torch, and their bad models and inputs."""
import io
import itertools

import numpy as np
import pytest
from onnx import TensorProto, helper, numpy_helper

import onnx_reference
import reference
from fastrnn._arrays import ShapeError
from fastrnn.onnx import backend
from fastrnn.onnx._load import InvalidModelError, UnsupportedModelError

from onnx_nodes import (ACTIVATIONS, DIRECTIONS, INPUT_ORDER, OUTPUT_MODES, SEQ_MODES,
                        check_error, f32, from_layout0, make_model, random_parameters,
                        rnn_attributes, rnn_model, run_fastrnn, run_ort, to_layout0)


# ================================================================== GRU and LSTM nodes
# The same checks as for RNN nodes above: random nodes against onnxruntime and the
# numpy reference (tests/onnx_reference.py lstm / gru), float64 against the
# reference, the edge cases of sequence_lens, torch's and fastrnn's files, and
# bad models and inputs.
GATED = {"GRU": 3, "LSTM": 4}  # op -> gate blocks G of W, R and half of B
FUNCTIONS = {"GRU": 2, "LSTM": 3}  # op -> activations per direction (f, g[, h])
GATED_OUTPUT_MODES = {
    "GRU": OUTPUT_MODES,
    "LSTM": (("Y", "Y_h", "Y_c"), ("Y",), ("", "Y_h"), ("", "", "Y_c"), ("Y", "", "Y_c")),
}
ALL_OUTPUTS = {"GRU": ("Y", "Y_h"), "LSTM": ("Y", "Y_h", "Y_c")}


def gated_arrays(rng, op, T, N, I, H, D, dtype, layout=0, bias=True, h0=False, c0=False,
                 peepholes=False, lengths=None):
    """Random X, W, R, B, sequence_lens, initial_h (, initial_c, P) in `layout`; None
    where absent. Weights are scaled so that T <= 8 steps stay in a moderate range."""
    G = GATED[op]
    state_shape = (N, D, H) if layout else (D, N, H)
    arrays = dict(
        X=rng.standard_normal((N, T, I) if layout else (T, N, I)).astype(dtype),
        W=(rng.uniform(-1, 1, (D, G * H, I)) * 0.8).astype(dtype),
        R=(rng.uniform(-1, 1, (D, G * H, H)) / np.sqrt(H)).astype(dtype),
        B=rng.uniform(-0.5, 0.5, (D, 2 * G * H)).astype(dtype) if bias else None,
        sequence_lens=None if lengths is None else np.asarray(lengths, np.int32),
        initial_h=(rng.standard_normal(state_shape) * 0.5).astype(dtype) if h0 else None)
    if op == "LSTM":
        arrays["initial_c"] = (rng.standard_normal(state_shape)).astype(dtype) if c0 else None
        arrays["P"] = rng.uniform(-1, 1, (D, 3 * H)).astype(dtype) if peepholes else None
    return arrays


def gated_reference(op, arrays, direction, activations, alphas, betas, clip=None, layout=0,
                    input_forget=0, linear_before_reset=0):
    """onnx_reference's outputs {"Y": .., "Y_h": .. (, "Y_c": ..)}; activations, alphas
    and betas flat, as the node lists them."""
    k = FUNCTIONS[op]
    D = 2 if direction == "bidirectional" else 1

    def per_direction(values):
        return [list(values[d * k:(d + 1) * k]) for d in range(D)]
    common = dict(direction=direction, activations=per_direction(activations),
                  alphas=per_direction(alphas), betas=per_direction(betas), clip=clip,
                  layout=layout)
    a = arrays
    if op == "LSTM":
        results = onnx_reference.lstm(a["X"], a["W"], a["R"], a["B"], a["sequence_lens"],
                                      a["initial_h"], a["initial_c"], a["P"],
                                      input_forget=input_forget, **common)
    else:
        results = onnx_reference.gru(a["X"], a["W"], a["R"], a["B"], a["sequence_lens"],
                                     a["initial_h"], linear_before_reset=linear_before_reset,
                                     **common)
    return dict(zip(ALL_OUTPUTS[op], results))


def gated_node_cases(op):
    """directions x layouts x 8 cases; every activation in every slot (f, g, h) over the
    op's cases, the other options cycling with different periods so that each value
    appears in every (direction, layout) group (test_gated_cases_cover_every_option)."""
    k = FUNCTIONS[op]
    modes = GATED_OUTPUT_MODES[op]
    cases = []
    for g, (direction, layout) in enumerate(itertools.product(DIRECTIONS, (0, 1))):
        D = 2 if direction == "bidirectional" else 1
        for j in range(8):
            index = g * 8 + j
            rng = np.random.default_rng(2000 + index + (100 if op == "LSTM" else 0))
            activations = [ACTIVATIONS[(index + 4 * slot + 5 * d) % len(ACTIVATIONS)]
                           for d in range(D) for slot in range(k)]
            case = dict(
                id=f"{op}-{index}-{direction}-l{layout}-{'-'.join(activations)}",
                op=op, seed=index, direction=direction, layout=layout, activations=activations,
                clip=[None, "clip"][(j + g) % 2],
                seq=SEQ_MODES[(j // 2 + g) % 4],
                h0=bool((j // 4 + g) % 2),
                outputs=modes[(j + g) % len(modes)],
                initializers=bool(((j + 1) // 2 + g) % 2),
                bias=(j + g) % 4 != 3,  # mostly with B
                hidden_size_attr=(j + g) % 5 != 4,  # mostly given
                opset=(14, 22)[(j // 4 + g + 1) % 2],
                T=int(rng.integers(1, 7)), N=int(rng.integers(1, 5)),
                I=int(rng.integers(1, 6)), H=int(rng.integers(1, 7)))
            if op == "LSTM":
                case.update(c0=bool((j // 2 + j + g) % 2), peepholes=bool((j // 4 + j + g) % 2),
                            input_forget=int((j + 2 * g) % 3 == 0))
            else:
                case.update(linear_before_reset=(j + g // 2) % 2)
            cases.append(case)
    return cases


GATED_CASES = gated_node_cases("GRU") + gated_node_cases("LSTM")
GATED_OPTIONS = {
    "common": {"clip": [None, "clip"], "seq": SEQ_MODES, "h0": [False, True],
               "initializers": [False, True], "bias": [False, True],
               "hidden_size_attr": [False, True], "opset": [14, 22]},
    "GRU": {"outputs": GATED_OUTPUT_MODES["GRU"], "linear_before_reset": [0, 1]},
    "LSTM": {"outputs": GATED_OUTPUT_MODES["LSTM"], "c0": [False, True],
             "peepholes": [False, True], "input_forget": [0, 1]},
}


def test_gated_cases_cover_every_option():
    for op in GATED:
        cases = [c for c in GATED_CASES if c["op"] == op]
        k = FUNCTIONS[op]
        for slot in range(k):  # every activation as f, as g (and as h)
            seen = {c["activations"][slot + k * d] for c in cases
                    for d in range(len(c["activations"]) // k)}
            assert seen == set(ACTIVATIONS), (op, slot)
        options = dict(GATED_OPTIONS["common"], **GATED_OPTIONS[op])
        for direction, layout in itertools.product(DIRECTIONS, (0, 1)):
            group = [c for c in cases if c["direction"] == direction and c["layout"] == layout]
            for key, values in options.items():
                seen = {c[key] for c in group}
                assert seen == set(values), (op, direction, layout, key, seen)
        assert any(c["N"] == 1 for c in cases) and any(c["H"] == 1 for c in cases)
        assert any(c["T"] == 1 for c in cases) and any(c["I"] == 1 for c in cases)


def build_gated_case(case, dtype=np.float32):
    """(arrays, flat alphas, flat betas, clip, extra attributes) of a case."""
    rng = np.random.default_rng(case["seed"])
    op, T, N, I, H = case["op"], case["T"], case["N"], case["I"], case["H"]
    D = 2 if case["direction"] == "bidirectional" else 1
    lengths = {"none": None, "full": [T] * N,
               "short": rng.integers(1, T + 1, N),
               "with_zero": np.r_[0, rng.integers(0, T + 1, N - 1)] if N > 1 else [0]}[case["seq"]]
    arrays = gated_arrays(rng, op, T, N, I, H, D, dtype, case["layout"], case["bias"],
                          case["h0"], case.get("c0", False), case.get("peepholes", False),
                          lengths)
    params = [random_parameters(rng, name) for name in case["activations"]]
    alphas = [p[0] for p in params]
    betas = [p[1] for p in params]
    clip = f32(rng.uniform(0.5, 2.0)) if case["clip"] else None
    extra = ({"input_forget": case["input_forget"]} if op == "LSTM"
             else {"linear_before_reset": case["linear_before_reset"]})
    return arrays, alphas, betas, clip, extra


@pytest.mark.parametrize("case", GATED_CASES, ids=[c["id"] for c in GATED_CASES])
def test_random_gated_node_matches_onnxruntime(case):
    op, layout, outputs = case["op"], case["layout"], case["outputs"]
    arrays, alphas, betas, clip, extra = build_gated_case(case)
    inits = tuple(n for n in INPUT_ORDER[1:] if case["initializers"])
    hidden = case["H"] if case["hidden_size_attr"] else None
    model, feeds = rnn_model(
        arrays, rnn_attributes(case["direction"], hidden, case["activations"], alphas, betas,
                               clip, layout, **extra),
        outputs, inits, case["opset"], op=op)
    got = run_fastrnn(model, feeds)

    # onnxruntime: layout 0, always with hidden_size (it requires it), every output
    arrays0 = to_layout0(arrays) if layout else arrays
    model0, feeds0 = rnn_model(
        arrays0, rnn_attributes(case["direction"], case["H"], case["activations"], alphas,
                                betas, clip, **extra),
        ALL_OUTPUTS[op], inits, case["opset"], op=op)
    expected = run_ort(model0, feeds0)
    if layout:
        expected = from_layout0(expected)
    ref = gated_reference(op, arrays, case["direction"], case["activations"], alphas, betas,
                          clip, layout, **extra)

    assert set(got) == {o for o in outputs if o}
    for name in ALL_OUTPUTS[op]:
        # the reference agrees with onnxruntime (not recorded: not fastrnn's error)
        assert reference.normalized_error(ref[name], expected[name]) <= 1e-5, name
        if name in got:
            assert got[name].dtype == np.float32
            check_error(got[name], expected[name], np.float32, f"{op} {name} vs onnxruntime")
            check_error(got[name], ref[name], np.float32, f"{op} {name} vs reference")


GATED_FLOAT64_CASES = [c for c in GATED_CASES if c["seed"] % 4 == 1]


@pytest.mark.parametrize("case", GATED_FLOAT64_CASES, ids=[c["id"] for c in GATED_FLOAT64_CASES])
def test_float64_gated_node_matches_reference(case):
    """onnxruntime has no double GRU or LSTM: float64 nodes are checked against the
    reference, which the float32 cases check against onnxruntime."""
    op, layout = case["op"], case["layout"]
    arrays, alphas, betas, clip, extra = build_gated_case(case, np.float64)
    model, feeds = rnn_model(
        arrays, rnn_attributes(case["direction"], case["H"], case["activations"], alphas, betas,
                               clip, layout, **extra),
        ALL_OUTPUTS[op], ("W", "R") if case["initializers"] else (), op=op)
    got = run_fastrnn(model, feeds)
    ref = gated_reference(op, arrays, case["direction"], case["activations"], alphas, betas,
                          clip, layout, **extra)
    for name in ALL_OUTPUTS[op]:
        assert got[name].dtype == np.float64
        check_error(got[name], ref[name], np.float64, f"{op} {name}")


def test_float64_gated_nodes_are_refused_by_onnxruntime():
    """What the two float64 tests above stand in for: onnxruntime has no double kernel."""
    rng = np.random.default_rng(30)
    for op in GATED:
        arrays = gated_arrays(rng, op, 3, 2, 2, 3, 1, np.float64)
        model, feeds = rnn_model(arrays, dict(hidden_size=3), ALL_OUTPUTS[op], op=op)
        with pytest.raises(Exception, match="double"):
            run_ort(model, feeds)
        assert run_fastrnn(model, feeds)["Y"].dtype == np.float64


# ------------------------------------------------------------------ LSTM and GRU semantics
def _lstm_clip_case(rng):
    T, N, I, H = 5, 3, 3, 4
    arrays = gated_arrays(rng, "LSTM", T, N, I, H, 1, np.float32, h0=True, c0=True,
                          peepholes=True)
    arrays["P"] *= 3  # large peepholes: the clip bound matters with them
    return arrays, dict(hidden_size=H, clip=0.5)


def test_lstm_clip_bounds_the_peephole_sum_as_onnxruntime():
    """clip applies to x W^T + h R^T + b + p*c: the peephole term is inside the bound, as in
    onnxruntime (clipping before adding it gives other values)."""
    arrays, attributes = _lstm_clip_case(np.random.default_rng(31))
    model, feeds = rnn_model(arrays, attributes, ALL_OUTPUTS["LSTM"], op="LSTM")
    got, expected = run_fastrnn(model, feeds), run_ort(model, feeds)
    inside = gated_reference("LSTM", arrays, "forward", ["Sigmoid", "Tanh", "Tanh"],
                             [None] * 3, [None] * 3, clip=0.5)
    for name in ALL_OUTPUTS["LSTM"]:
        check_error(got[name], expected[name], np.float32, f"{name} vs onnxruntime")
        check_error(got[name], inside[name], np.float32, f"{name} vs reference")
    # the other reading, the peephole term added after clipping, differs by far more
    a = arrays
    W, R, B, P = (a[k][0].astype(np.float64) for k in ("W", "R", "B", "P"))
    H = attributes["hidden_size"]
    h, c = a["initial_h"][0].astype(np.float64), a["initial_c"][0].astype(np.float64)
    sigmoid = onnx_reference.activation
    for t in range(a["X"].shape[0]):
        pre = np.clip(a["X"][t] @ W.T + h @ R.T + B[:4 * H] + B[4 * H:], -0.5, 0.5)
        p_i, p_o, p_f = np.split(P, 3)
        i = sigmoid("Sigmoid", pre[:, :H] + p_i * c)
        f = sigmoid("Sigmoid", pre[:, 2 * H:3 * H] + p_f * c)
        c = f * c + i * np.tanh(pre[:, 3 * H:])
        h = sigmoid("Sigmoid", pre[:, H:2 * H] + p_o * c) * np.tanh(c)
    assert reference.normalized_error(expected["Y_h"], h[None]) > 1e-2


def test_lstm_input_forget_couples_the_gates_as_onnxruntime():
    rng = np.random.default_rng(32)
    arrays = gated_arrays(rng, "LSTM", 4, 2, 3, 5, 2, np.float32, h0=True, c0=True,
                          peepholes=True)
    results = {}
    for input_forget in (0, 1):
        model, feeds = rnn_model(arrays, dict(hidden_size=5, direction="bidirectional",
                                              input_forget=input_forget),
                                 ALL_OUTPUTS["LSTM"], op="LSTM")
        got, expected = run_fastrnn(model, feeds), run_ort(model, feeds)
        for name in ALL_OUTPUTS["LSTM"]:
            check_error(got[name], expected[name], np.float32, f"input_forget={input_forget}")
        results[input_forget] = got["Y_c"]
    assert reference.normalized_error(results[0], results[1]) > 1e-2  # it does change things


@pytest.mark.parametrize("linear_before_reset", [0, 1])
def test_gru_linear_before_reset_as_onnxruntime(linear_before_reset):
    """torch's GRU is linear_before_reset=1; the ONNX default 0 (the conformance cases'
    reading) applies R_h to r*h and gives other values."""
    rng = np.random.default_rng(33)
    arrays = gated_arrays(rng, "GRU", 5, 3, 3, 4, 2, np.float32, h0=True)
    attributes = dict(hidden_size=4, direction="bidirectional",
                      linear_before_reset=linear_before_reset)
    model, feeds = rnn_model(arrays, attributes, op="GRU")
    got, expected = run_fastrnn(model, feeds), run_ort(model, feeds)
    check_error(got["Y"], expected["Y"], np.float32, "Y vs onnxruntime")
    check_error(got["Y_h"], expected["Y_h"], np.float32, "Y_h vs onnxruntime")
    other, _ = rnn_model(arrays, dict(attributes, linear_before_reset=1 - linear_before_reset),
                         op="GRU")
    assert reference.normalized_error(run_fastrnn(other, feeds)["Y"], got["Y"]) > 1e-3


def test_gated_activation_defaults_and_parameters_as_onnxruntime():
    """Without activations: Sigmoid, Tanh(, Tanh). Given ones consume activation_alpha/beta
    in order across f, g, h and the directions, as onnxruntime does."""
    rng = np.random.default_rng(34)
    cases = [
        ("LSTM", [], {}),
        ("GRU", [], {}),
        ("LSTM", ["HardSigmoid", "LeakyRelu", "Tanh", "Sigmoid", "Elu", "Softsign"],
         dict(activation_alpha=[0.3, 0.25, 0.7], activation_beta=[0.6])),
        ("GRU", ["HardSigmoid", "Tanh", "Sigmoid", "ScaledTanh"],
         dict(activation_alpha=[0.15, 0.9], activation_beta=[0.45, 1.1])),
        ("LSTM", ["HardSigmoid", "Tanh", "Tanh", "HardSigmoid", "Tanh", "Tanh"], {}),
    ]
    for op, activations, lists in cases:
        arrays = gated_arrays(rng, op, 4, 3, 3, 4, 2, np.float32, h0=True, c0=True)
        attributes = dict(hidden_size=4, direction="bidirectional", **lists)
        if activations:
            attributes["activations"] = activations
        model, feeds = rnn_model(arrays, attributes, ALL_OUTPUTS[op], op=op)
        got, expected = run_fastrnn(model, feeds), run_ort(model, feeds)
        for name in ALL_OUTPUTS[op]:
            check_error(got[name], expected[name], np.float32, f"{op} {activations} {name}")


@pytest.mark.parametrize("op", list(GATED))
@pytest.mark.parametrize("layout", [0, 1])
def test_gated_sequence_length_zero(op, layout):
    """A sequence of length 0: Y, Y_h (and Y_c) zero in both directions, whatever the
    initial states are; other sequences as onnxruntime."""
    rng = np.random.default_rng(35)
    T, N, H = 4, 3, 5
    arrays = gated_arrays(rng, op, T, N, 2, H, 2, np.float32, layout=layout, h0=True, c0=True,
                          lengths=[0, T, 2])
    arrays["initial_h"] += 3  # far from zero
    attributes = dict(direction="bidirectional", hidden_size=H)
    model, feeds = rnn_model(arrays, dict(attributes, layout=layout), ALL_OUTPUTS[op], op=op)
    got = run_fastrnn(model, feeds)
    if layout:  # look at it in layout 0
        got = {"Y": got["Y"].transpose(1, 2, 0, 3),
               **{k: v.transpose(1, 0, 2) for k, v in got.items() if k != "Y"}}
    assert np.all(got["Y"][:, :, 0] == 0) and np.all(got["Y"][2:, :, 2] == 0)
    assert np.all(got["Y"][:2, :, 2] != 0)
    for name in ALL_OUTPUTS[op][1:]:
        assert np.all(got[name][:, 0] == 0) and np.all(got[name][:, 1:] != 0), name
    arrays0 = to_layout0(arrays) if layout else arrays
    model0, feeds0 = rnn_model(arrays0, attributes, ALL_OUTPUTS[op], op=op)
    expected = run_ort(model0, feeds0)
    for name in ALL_OUTPUTS[op]:
        if name != "Y":
            assert np.all(expected[name][:, 0] == 0)  # onnxruntime's reading
        check_error(got[name], expected[name], np.float32, name)


@pytest.mark.parametrize("op", list(GATED))
def test_gated_empty_sequence_and_empty_batch(op):
    rng = np.random.default_rng(36)
    for layout, (T, N) in itertools.product((0, 1), ((0, 3), (4, 0), (0, 0))):
        arrays = gated_arrays(rng, op, T, N, 2, 3, 2, np.float64, layout=layout, h0=True,
                              c0=True, peepholes=True, lengths=[0] * N)
        model, feeds = rnn_model(arrays, dict(direction="bidirectional", hidden_size=3,
                                              layout=layout), ALL_OUTPUTS[op], op=op)
        got = run_fastrnn(model, feeds)
        assert got["Y"].shape == ((N, T, 2, 3) if layout else (T, 2, N, 3))
        for name in ALL_OUTPUTS[op][1:]:
            assert got[name].shape == arrays["initial_h"].shape
            assert not np.any(got[name])  # no steps, no last output


def test_gated_hidden_size_may_be_left_out():
    """W's second dimension is G * hidden_size: the node may leave hidden_size out."""
    rng = np.random.default_rng(37)
    for op in GATED:
        arrays = gated_arrays(rng, op, 4, 2, 3, 5, 2, np.float32, layout=1, h0=True, c0=True,
                              peepholes=True)
        with_attr, feeds = rnn_model(arrays, dict(direction="bidirectional", hidden_size=5,
                                                  layout=1), ALL_OUTPUTS[op], op=op)
        without, _ = rnn_model(arrays, dict(direction="bidirectional", layout=1),
                               ALL_OUTPUTS[op], op=op)
        a, b = run_fastrnn(with_attr, feeds), run_fastrnn(without, feeds)
        for name in ALL_OUTPUTS[op]:
            np.testing.assert_array_equal(a[name], b[name])


def test_gated_run_node_and_optional_outputs():
    rng = np.random.default_rng(38)
    arrays = gated_arrays(rng, "LSTM", 3, 2, 4, 5, 2, np.float64, layout=1, h0=True, c0=True,
                          peepholes=True)
    node = helper.make_node("LSTM", ["X", "W", "R", "", "", "initial_h", "", "P"],
                            ["", "", "Y_c"], direction="bidirectional", hidden_size=5, layout=1)
    (Y_c,) = backend.run_node(node, [arrays[k] for k in ("X", "W", "R", "initial_h", "P")])
    ref = gated_reference("LSTM", dict(arrays, B=None, initial_c=None), "bidirectional",
                          ["Sigmoid", "Tanh", "Tanh"] * 2, [None] * 6, [None] * 6, layout=1)
    check_error(Y_c, ref["Y_c"], np.float64, "Y_c")


# ------------------------------------------------------------------ torch's and fastrnn's files
GATED_TORCH_CASES = [
    dict(op="LSTM", num_layers=1, bidirectional=False, batch_first=False, bias=True, h0=False,
         opset=9),
    dict(op="LSTM", num_layers=2, bidirectional=True, batch_first=True, bias=False, h0=True,
         opset=14),
    dict(op="GRU", num_layers=3, bidirectional=True, batch_first=False, bias=True, h0=True,
         opset=11),
    dict(op="GRU", num_layers=1, bidirectional=True, batch_first=True, bias=True, h0=False,
         opset=17),
]


@pytest.mark.parametrize("case", GATED_TORCH_CASES,
                         ids=lambda c: "-".join(f"{k}={v}" for k, v in c.items()))
def test_torch_exported_lstm_and_gru(case):
    torch = pytest.importorskip("torch")
    import warnings
    torch.manual_seed(1)
    op = case["op"]
    module = getattr(torch.nn, op)(3, 5, case["num_layers"], bias=case["bias"],
                                   batch_first=case["batch_first"],
                                   bidirectional=case["bidirectional"]).eval()
    rows = (2 if case["bidirectional"] else 1) * case["num_layers"]
    states = ["h0", "c0"] if op == "LSTM" else ["h0"]

    def example(N, L):
        x = torch.randn((N, L, 3) if case["batch_first"] else (L, N, 3))
        if not case["h0"]:
            return (x,)
        hx = tuple(torch.randn(rows, N, 5) * 0.5 for _ in states)
        return (x, hx if op == "LSTM" else hx[0])

    names = ["input"] + (states if case["h0"] else [])
    axes = {"input": {0: "a", 1: "b"}}
    axes.update({name: {1: "batch"} for name in names[1:]})
    outputs = ["output", "h_n"] + (["c_n"] if op == "LSTM" else [])
    f = io.BytesIO()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(module, example(2, 4), f, dynamo=False, opset_version=case["opset"],
                          input_names=names, output_names=outputs, dynamic_axes=axes)
    rep = backend.prepare(f.getvalue())
    for N, L in ((2, 4), (3, 7), (1, 1)):
        args = example(N, L)
        with torch.no_grad():
            output, finals = module(*args)
        want = [output] + (list(finals) if op == "LSTM" else [finals])
        flat = [args[0]] + (list(args[1]) if op == "LSTM" and case["h0"] else list(args[1:]))
        got = rep.run([a.numpy() for a in flat])
        for name, w in zip(outputs, want):
            check_error(got[name], w.numpy(), np.float32, f"{op} {name} vs torch")


@pytest.mark.parametrize("op", list(GATED))
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_lstm_and_gru_exported_by_fastrnn_run_unchanged(op, dtype):
    """fastrnn.onnx.export's LSTM and GRU graphs run on the same kernels: identical
    outputs (time-major; batch-first ones equal to rounding). The backend's stored
    weights are constants, packed once, as a frozen model's: the model is frozen
    to run the same path."""
    import fastrnn
    from fastrnn.onnx import export

    cls = getattr(fastrnn, op)
    for batch_first, bidirectional in itertools.product((False, True), repeat=2):
        model = cls(3, 4, 2, batch_first=batch_first, bidirectional=bidirectional, dtype=dtype,
                    seed=2)
        rep = backend.prepare(export(model, None, initial_state=True))
        model.freeze()
        rng = np.random.default_rng(3)
        for N, L in ((2, 5), (1, 1)):
            x = rng.standard_normal((N, L, 3) if batch_first else (L, N, 3)).astype(dtype)
            rows = 2 * (2 if bidirectional else 1)
            states = [rng.standard_normal((rows, N, 4)).astype(dtype)
                      for _ in range(2 if op == "LSTM" else 1)]
            output, finals = model(x, tuple(states) if op == "LSTM" else states[0])
            want = [output] + (list(finals) if op == "LSTM" else [finals])
            got = rep.run([x] + states)
            assert len(got) == len(want)
            for g, w in zip(got, want):
                if batch_first:
                    # the graph transposes to time-major: the same rows in
                    # another order, whose sums OpenBLAS may round otherwise
                    np.testing.assert_allclose(g, w, rtol=1e-6, atol=1e-6)
                else:
                    np.testing.assert_array_equal(g, w)



# ------------------------------------------------------------------ bad GRU and LSTM nodes
def _gated_node_model(op, attributes, shapes, inputs=None):
    """A node whose W, R, B, P (and initial_c) are initializers of the given shapes."""
    rng = np.random.default_rng(39)
    inits = {name: rng.standard_normal(shape).astype(np.float32)
             for name, shape in shapes.items()}
    names = inputs or ["X", "W", "R"] + [n if n in shapes else "" for n in INPUT_ORDER[3:8]]
    while not names[-1]:
        names.pop()
    node = helper.make_node(op, names, ["Y", "Y_h"], name="cell", **attributes)
    return make_model([node], [("X", TensorProto.FLOAT, None)], ["Y", "Y_h"], inits)


LSTM_SHAPES = dict(W=(1, 16, 3), R=(1, 16, 4))
GRU_SHAPES = dict(W=(1, 12, 3), R=(1, 12, 4))


@pytest.mark.parametrize("op, attributes, shapes, error, message", [
    ("LSTM", dict(hidden_size=5), LSTM_SHAPES, InvalidModelError,
     r"node 0 \(LSTM 'cell'\): W must have shape \[num_directions, 4\*hidden_size, "
     r"input_size\] = \[1, 20, 3\], got \[1, 16, 3\]"),
    ("LSTM", dict(hidden_size=4), dict(LSTM_SHAPES, R=(1, 16, 5)), InvalidModelError,
     r"R must have shape \[num_directions, 4\*hidden_size, hidden_size\] = \[1, 16, 4\]"),
    ("LSTM", dict(hidden_size=4), dict(LSTM_SHAPES, B=(1, 16)), InvalidModelError,
     r"B must have shape \[num_directions, 8\*hidden_size\] = \[1, 32\], got \[1, 16\]"),
    ("LSTM", dict(hidden_size=4), dict(LSTM_SHAPES, P=(1, 16)), InvalidModelError,
     r"P must have shape \[num_directions, 3\*hidden_size\] = \[1, 12\], got \[1, 16\]"),
    ("LSTM", dict(hidden_size=4), dict(LSTM_SHAPES, P=(12,)), InvalidModelError,
     r"P must have shape .* = \[1, 12\], got \[12\]"),
    ("LSTM", {}, dict(W=(1, 15, 3), R=(1, 15, 4)), InvalidModelError,
     r"hidden_size is not given and W's second dimension \(4 gates of LSTM times hidden_size\)"
     r" is 15; it must be a positive multiple of 4"),
    ("GRU", dict(hidden_size=4, direction="bidirectional"), GRU_SHAPES, InvalidModelError,
     r"W must have shape \[num_directions, 3\*hidden_size, input_size\] = \[2, 12, 3\]"),
    ("GRU", dict(hidden_size=4), dict(GRU_SHAPES, B=(1, 12)), InvalidModelError,
     r"B must have shape \[num_directions, 6\*hidden_size\] = \[1, 24\]"),
    ("GRU", dict(hidden_size=4), dict(GRU_SHAPES, R=(1, 16, 4)), InvalidModelError,
     r"R must have shape .* = \[1, 12, 4\], got \[1, 16, 4\]"),
    ("LSTM", dict(hidden_size=4, input_forget=2), LSTM_SHAPES, InvalidModelError,
     "input_forget must be 0 or 1, got 2"),
    ("GRU", dict(hidden_size=4, linear_before_reset=-1), GRU_SHAPES, InvalidModelError,
     "linear_before_reset must be 0 or 1, got -1"),
    ("GRU", dict(hidden_size=4, input_forget=1), GRU_SHAPES, UnsupportedModelError,
     r"attribute\(s\) input_forget not supported"),
    ("LSTM", dict(hidden_size=4, linear_before_reset=1), LSTM_SHAPES, UnsupportedModelError,
     r"attribute\(s\) linear_before_reset not supported"),
    ("LSTM", dict(hidden_size=4, activations=["Sigmoid", "Tanh"]), LSTM_SHAPES,
     InvalidModelError, r"activations must name 3 functions \(f, g, h\) per direction \(3 for "
                        r"direction 'forward'\), got \['Sigmoid', 'Tanh'\]"),
    ("GRU", dict(hidden_size=4, activations=["Sigmoid", "Tanh"] * 2), GRU_SHAPES,
     InvalidModelError, r"activations must name 2 functions \(f, g\) per direction \(2 for"),
    ("GRU", dict(hidden_size=4, activations=["Sigmoid", "Gelu"]), GRU_SHAPES,
     UnsupportedModelError, "unknown activation 'Gelu'"),
    ("LSTM", dict(hidden_size=4, activations=["Sigmoid", "Tanh", "Tanh"],
                  activation_alpha=[1.0]), LSTM_SHAPES, InvalidModelError,
     r"activation_alpha has 1 value\(s\) but the activations .* take 0"),
    ("LSTM", dict(hidden_size=4, clip=-2.0), LSTM_SHAPES, InvalidModelError,
     "clip must be a number >= 0"),
])
def test_bad_gated_node_is_refused_at_prepare(op, attributes, shapes, error, message):
    model = _gated_node_model(op, attributes, shapes)
    with pytest.raises(error, match=message):
        backend.prepare(model)


def test_gated_attributes_of_older_opsets():
    """linear_before_reset came with GRU-3; output_sequence left both ops at version 7."""
    for opset, attributes, ok in ((1, dict(linear_before_reset=1), False),
                                  (3, dict(linear_before_reset=1, output_sequence=1), True),
                                  (7, dict(output_sequence=1), False)):
        model = _gated_node_model("GRU", dict(hidden_size=4, **attributes), GRU_SHAPES)
        model.opset_import[0].version = opset
        if ok:
            backend.prepare(model)
        else:
            with pytest.raises(UnsupportedModelError, match="not supported"):
                backend.prepare(model)


def _gated_runtime(op, layout=0):
    names = list(INPUT_ORDER[:8 if op == "LSTM" else 6])
    node = helper.make_node(op, names, list(ALL_OUTPUTS[op]), hidden_size=4, layout=layout)
    inputs = [(n, TensorProto.INT32 if n == "sequence_lens" else TensorProto.FLOAT, None)
              for n in names]
    return backend.prepare(make_model([node], inputs, list(ALL_OUTPUTS[op])))


def _gated_feeds(op, layout=0, T=5, N=2, I=3, H=4):
    rng = np.random.default_rng(40)
    arrays = gated_arrays(rng, op, T, N, I, H, 1, np.float32, layout=layout, h0=True, c0=True,
                          peepholes=True, lengths=[T, 2])
    return {k: v for k, v in arrays.items()}


@pytest.mark.parametrize("op, change, error, message", [
    ("LSTM", dict(W=np.zeros((1, 12, 3), np.float32)), ShapeError,
     r"W must have shape \[num_directions, 4\*hidden_size, input_size\] = \[1, 16, 3\], got "
     r"\[1, 12, 3\]"),
    ("LSTM", dict(W=np.zeros((1, 16, 2), np.float32)), ShapeError, r"W must have shape .*\[1, 16, 3\]"),
    ("LSTM", dict(R=np.zeros((1, 16, 16), np.float32)), ShapeError,
     r"R must have shape .*\[1, 16, 4\]"),
    ("LSTM", dict(B=np.zeros((1, 16), np.float32)), ShapeError, r"B must have shape .*\[1, 32\]"),
    ("LSTM", dict(P=np.zeros((1, 16), np.float32)), ShapeError,
     r"P must have shape \[num_directions, 3\*hidden_size\] = \[1, 12\], got \[1, 16\]"),
    ("LSTM", dict(P=np.zeros((3, 4), np.float32)), ShapeError, r"P must have shape"),
    ("LSTM", dict(initial_c=np.zeros((1, 3, 4), np.float32)), ShapeError,
     r"initial_c must have shape \[num_directions, batch_size, hidden_size\] = \[1, 2, 4\], "
     r"got \[1, 3, 4\]"),
    ("LSTM", dict(sequence_lens=np.array([6, 2], np.int32)), ValueError,
     r"sequence_lens\[0\] = 6 is outside 0..5"),
    ("GRU", dict(W=np.zeros((1, 16, 3), np.float32)), ShapeError,
     r"W must have shape \[num_directions, 3\*hidden_size, input_size\] = \[1, 12, 3\]"),
    ("GRU", dict(B=np.zeros((1, 12), np.float32)), ShapeError, r"B must have shape .*\[1, 24\]"),
    ("GRU", dict(initial_h=np.zeros((2, 2, 4), np.float32)), ShapeError,
     r"initial_h must have shape .*\[1, 2, 4\]"),
])
def test_bad_gated_runtime_inputs(op, change, error, message):
    rep = _gated_runtime(op)
    feeds = {k: v for k, v in dict(_gated_feeds(op), **change).items() if k in rep.input_names}
    with pytest.raises(error, match=message):
        rep.run(feeds)


def test_bad_gated_runtime_dtypes():
    """Every float input must have X's dtype (checked by the node when the graph declares
    no types); P and initial_c too."""
    names = list(INPUT_ORDER)
    node = helper.make_node("LSTM", names, ["Y"], hidden_size=4)
    loose = backend.prepare(make_model([node], names, ["Y"]))
    good = _gated_feeds("LSTM")
    assert loose.run(good)[0].shape == (5, 1, 2, 4)
    for name in ("W", "R", "B", "initial_h", "initial_c", "P"):
        with pytest.raises(TypeError, match=rf"{name} must have the dtype of X \(float32\), got "
                                            "float64"):
            loose.run(dict(good, **{name: good[name].astype(np.float64)}))
    with pytest.raises(TypeError, match="X must be float32 or float64 .* got int32"):
        loose.run(dict(good, X=good["X"].astype(np.int32)))
    with pytest.raises(TypeError, match="sequence_lens must be int32 .* got int64"):
        loose.run(dict(good, sequence_lens=good["sequence_lens"].astype(np.int64)))
    stored = _gated_node_model("LSTM", dict(hidden_size=4), dict(LSTM_SHAPES, P=(1, 12)))
    stored.graph.initializer[2].CopyFrom(numpy_helper.from_array(
        np.zeros((1, 12), np.float64), stored.graph.initializer[2].name))
    with pytest.raises(InvalidModelError, match=r"P must have the dtype of X \(float32\), got "
                                                "float64"):
        backend.prepare(stored)


def test_gated_layout1_states_are_batch_major():
    rep = _gated_runtime("LSTM", layout=1)
    feeds = _gated_feeds("LSTM", layout=1)
    got = rep.run(feeds)
    assert [g.shape for g in got] == [(2, 5, 1, 4), (2, 1, 4), (2, 1, 4)]
    with pytest.raises(ShapeError, match=r"initial_c must have shape \[batch_size, "
                                         r"num_directions, hidden_size\] \(layout 1\)"):
        rep.run(dict(feeds, initial_c=np.ascontiguousarray(feeds["initial_c"].transpose(1, 0, 2))))


@pytest.mark.parametrize("op", list(GATED))
def test_gated_inputs_are_never_modified_and_outputs_are_fresh(op):
    rng = np.random.default_rng(41)
    for layout in (0, 1):
        arrays = gated_arrays(rng, op, 4, 3, 2, 3, 2, np.float32, layout=layout, h0=True,
                              c0=True, peepholes=True, lengths=[4, 0, 2])
        model, feeds = rnn_model(arrays, dict(direction="bidirectional", hidden_size=3,
                                              layout=layout, clip=0.5), ALL_OUTPUTS[op], op=op)
        copies = {k: v.copy() for k, v in feeds.items()}
        outputs = backend.prepare(model).run(feeds)
        for name, value in feeds.items():
            np.testing.assert_array_equal(value, copies[name])
        for a, b in itertools.combinations(outputs, 2):
            assert not np.may_share_memory(a, b)
        for output in outputs:
            assert output.flags.c_contiguous and output.flags.writeable
            assert not any(np.may_share_memory(output, v) for v in feeds.values())
