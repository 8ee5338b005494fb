"""fastrnn.onnx.backend against onnxruntime, a numpy reference and torch.

- random RNN nodes (float32) against onnxruntime: every direction, layout and
  activation, with clip, sequence_lens, initial_h, absent outputs and the
  tensors as initializers or runtime inputs. onnxruntime refuses layout=1, so
  those nodes are compared with the layout-0 node on transposed data;
- float64 nodes (onnxruntime has no double RNN) against tests/onnx_reference.py,
  which is itself checked against onnxruntime in float32;
- activation parameters and their defaults, sequence length edge cases;
- graphs of shape ops around RNN nodes, each shape op at the opsets where its
  form changes, and graphs torch.onnx.export(dynamo=False) writes for nn.RNN;
- bad models and bad inputs give clear errors before any kernel runs.
"""
import io
import itertools

import numpy as np
import onnx
import onnxruntime as ort
import pytest
from onnx import TensorProto, helper, numpy_helper

import onnx_reference
import reference
from fastrnn._arrays import ShapeError
import fastrnn.onnx
from fastrnn.onnx import backend
from fastrnn.onnx._load import InvalidModelError, UnsupportedModelError

ACTIVATIONS = onnx_reference.ACTIVATIONS
DIRECTIONS = ("forward", "reverse", "bidirectional")
FLOAT = {np.dtype(np.float32): TensorProto.FLOAT, np.dtype(np.float64): TensorProto.DOUBLE}


# ------------------------------------------------------------------ helpers
def make_model(nodes, inputs, outputs, initializers=(), opset=14):
    """A model onnxruntime loads: inputs/outputs are (name, elem_type, shape) or names."""
    def info(spec):
        if isinstance(spec, str):
            return helper.make_empty_tensor_value_info(spec)
        return helper.make_tensor_value_info(*spec)
    opsets = [helper.make_opsetid("", opset)]
    graph = helper.make_graph(nodes, "test", [info(i) for i in inputs],
                              [info(o) for o in outputs],
                              [numpy_helper.from_array(np.asarray(v), n)
                               for n, v in dict(initializers).items()])
    return helper.make_model(graph, opset_imports=opsets,
                             ir_version=helper.find_min_ir_version_for(opsets))


def run_ort(model, feeds):
    session = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    names = [o.name for o in session.get_outputs()]
    return dict(zip(names, session.run(None, feeds)))


def run_fastrnn(model, feeds):
    rep = backend.prepare(model)
    outputs = rep.run(feeds)
    return dict(zip(rep.output_names, outputs))


def check_error(got, ref, dtype, what):
    """Record and assert the brief's tolerance (fastrnn against a reference)."""
    reference.assert_close(got, ref, dtype, what)


def f32(value):
    """A number as an ONNX float attribute holds it."""
    return float(np.float32(value))


def random_parameters(rng, name):
    """Explicit alpha, beta for an activation, in ranges that keep the recurrence tame."""
    ranges = {"Affine": ((0.5, 1.0), (-0.3, 0.3)), "LeakyRelu": ((0.01, 0.3), None),
              "ThresholdedRelu": ((0.05, 0.5), None), "ScaledTanh": ((0.5, 1.5), (0.5, 1.5)),
              "HardSigmoid": ((0.1, 0.5), (0.3, 0.7)), "Elu": ((0.5, 1.5), None)}
    alpha_range, beta_range = ranges.get(name, (None, None))
    alpha = f32(rng.uniform(*alpha_range)) if alpha_range else None
    beta = f32(rng.uniform(*beta_range)) if beta_range else None
    return alpha, beta


def rnn_attributes(direction, hidden_size, activations, alphas, betas, clip=None, layout=0,
                   **extra):
    """Node attributes: alpha/beta lists hold the values of the activations that take them.

    activations, alphas, betas: flat lists, one entry per activation of the node
    (direction-major for GRU and LSTM); extra: further attributes as they are."""
    attributes = dict(direction=direction, activations=list(activations), **extra)
    if hidden_size is not None:
        attributes["hidden_size"] = hidden_size
    alpha_list = [a for name, a in zip(activations, alphas) if name in onnx_reference.TAKES_ALPHA]
    beta_list = [b for name, b in zip(activations, betas) if name in onnx_reference.TAKES_BETA]
    if alpha_list:
        attributes["activation_alpha"] = alpha_list
    if beta_list:
        attributes["activation_beta"] = beta_list
    if clip is not None:
        attributes["clip"] = clip
    if layout:
        attributes["layout"] = layout
    return attributes


def rnn_arrays(rng, T, N, I, H, D, dtype, layout=0, bias=True, h0=False, lengths=None):
    """Random X, W, R, B, sequence_lens, initial_h (None where absent) in `layout`."""
    X = rng.standard_normal((N, T, I) if layout else (T, N, I)).astype(dtype)
    W = (rng.uniform(-1, 1, (D, H, I)) * 0.8).astype(dtype)
    R = (rng.uniform(-1, 1, (D, H, H)) / np.sqrt(H)).astype(dtype)
    B = rng.uniform(-0.5, 0.5, (D, 2 * H)).astype(dtype) if bias else None
    initial_h = (rng.standard_normal((N, D, H) if layout else (D, N, H)) * 0.5).astype(dtype) \
        if h0 else None
    seq = None if lengths is None else np.asarray(lengths, np.int32)
    return dict(X=X, W=W, R=R, B=B, sequence_lens=seq, initial_h=initial_h)


INPUT_ORDER = ("X", "W", "R", "B", "sequence_lens", "initial_h", "initial_c", "P")


def rnn_model(arrays, attributes, outputs=("Y", "Y_h"), initializers=(), opset=14, op="RNN"):
    """A one-node model of `op` (RNN, GRU, LSTM). `initializers`: names of the arrays
    stored in the model."""
    order = INPUT_ORDER[:8 if op == "LSTM" else 6]
    names = [name if arrays.get(name) is not None else "" for name in order]
    while names and not names[-1]:
        names.pop()
    node = helper.make_node(op, names, list(outputs), **attributes)
    dtype = FLOAT[arrays["X"].dtype]
    inputs, inits = [], {}
    for name in names:
        if not name:
            continue
        if name in initializers:
            inits[name] = arrays[name]
        else:
            elem = TensorProto.INT32 if name == "sequence_lens" else dtype
            inputs.append((name, elem, None))
    graph_outputs = [(o, dtype, None) for o in outputs if o]
    model = make_model([node], inputs, graph_outputs, inits, opset)
    feeds = {name: arrays[name] for name, *_ in inputs}
    return model, feeds


def to_layout0(arrays):
    """The same tensors for a layout-0 node: X and the initial states with N and T (or D)
    swapped."""
    out = dict(arrays)
    for name in ("X", "initial_h", "initial_c"):
        if arrays.get(name) is not None:
            out[name] = np.ascontiguousarray(arrays[name].transpose(1, 0, 2))
    return out


def from_layout0(outputs):
    out = dict(outputs)
    if "Y" in out:
        out["Y"] = out["Y"].transpose(2, 0, 1, 3)
    for name in ("Y_h", "Y_c"):
        if name in out:
            out[name] = out[name].transpose(1, 0, 2)
    return out


# ------------------------------------------------------------------ random nodes vs onnxruntime
SEQ_MODES = ("none", "full", "short", "with_zero")
OUTPUT_MODES = (("Y", "Y_h"), ("Y",), ("", "Y_h"))


def random_node_cases():
    """directions x layouts x activations (66 cases), the other options spread over them.

    A bidirectional node's reverse direction gets a different activation. Within
    each (direction, layout) group of 11 cases the options cycle with different
    periods so that every value of every option appears in every group
    (test_random_cases_cover_every_option); sizes are drawn from a seeded rng.
    """
    cases = []
    groups = itertools.product(DIRECTIONS, (0, 1))
    for g, (direction, layout) in enumerate(groups):
        for k in range(len(ACTIVATIONS)):
            index = g * len(ACTIVATIONS) + k
            rng = np.random.default_rng(1000 + index)
            acts = [ACTIVATIONS[k]] + ([ACTIVATIONS[(k + 4) % len(ACTIVATIONS)]]
                                       if direction == "bidirectional" else [])
            cases.append(dict(
                id=f"{index}-{direction}-l{layout}-{'-'.join(acts)}",
                seed=index, direction=direction, layout=layout, activations=acts,
                clip=[None, "clip"][(k + g) % 2],
                seq=SEQ_MODES[(k // 2 + g) % 4],
                h0=bool((k // 3 + g) % 2),
                outputs=OUTPUT_MODES[(k + 2 * g) % 3],
                initializers=bool(((k + 1) // 2 + g) % 2),
                bias=(k + g) % 5 != 4,  # mostly with B
                hidden_size_attr=(k + g) % 6 != 5,  # mostly given
                opset=(14, 22)[(k // 4 + g) % 2],
                T=int(rng.integers(1, 7)), N=int(rng.integers(1, 5)),
                I=int(rng.integers(1, 6)), H=int(rng.integers(1, 7)),
            ))
    return cases


RANDOM_CASES = random_node_cases()


def test_random_cases_cover_every_option():
    options = {"clip": [None, "clip"], "seq": SEQ_MODES, "h0": [False, True],
               "outputs": OUTPUT_MODES, "initializers": [False, True], "bias": [False, True],
               "hidden_size_attr": [False, True], "opset": [14, 22]}
    for direction, layout in itertools.product(DIRECTIONS, (0, 1)):
        group = [c for c in RANDOM_CASES if c["direction"] == direction and c["layout"] == layout]
        assert {a for c in group for a in c["activations"]} == set(ACTIVATIONS)
        for key, values in options.items():
            seen = {c[key] for c in group}
            assert seen == set(values), (direction, layout, key, seen)
    assert any(c["N"] == 1 for c in RANDOM_CASES) and any(c["H"] == 1 for c in RANDOM_CASES)
    assert any(c["T"] == 1 for c in RANDOM_CASES) and any(c["I"] == 1 for c in RANDOM_CASES)


def build_random_case(case, dtype=np.float32):
    rng = np.random.default_rng(case["seed"])
    T, N, I, H = case["T"], case["N"], case["I"], case["H"]
    D = 2 if case["direction"] == "bidirectional" else 1
    lengths = {"none": None, "full": [T] * N,
               "short": rng.integers(1, T + 1, N),
               "with_zero": np.r_[0, rng.integers(0, T + 1, N - 1)] if N > 1 else [0]}[case["seq"]]
    arrays = rnn_arrays(rng, T, N, I, H, D, dtype, case["layout"], case["bias"], case["h0"],
                        lengths)
    params = [random_parameters(rng, name) for name in case["activations"]]
    alphas = [p[0] for p in params]
    betas = [p[1] for p in params]
    clip = f32(rng.uniform(0.5, 2.0)) if case["clip"] else None
    return arrays, alphas, betas, clip


@pytest.mark.parametrize("case", RANDOM_CASES, ids=[c["id"] for c in RANDOM_CASES])
def test_random_node_matches_onnxruntime(case):
    arrays, alphas, betas, clip = build_random_case(case)
    layout, outputs = case["layout"], case["outputs"]
    inits = ("W", "R", "B", "sequence_lens", "initial_h") if case["initializers"] else ()
    hidden = case["H"] if case["hidden_size_attr"] else None
    model, feeds = rnn_model(
        arrays, rnn_attributes(case["direction"], hidden, case["activations"], alphas, betas,
                               clip, layout),
        outputs, inits, case["opset"])
    got = run_fastrnn(model, feeds)

    # onnxruntime: layout 0, always with hidden_size (it requires it)
    arrays0 = to_layout0(arrays) if layout else arrays
    model0, feeds0 = rnn_model(
        arrays0, rnn_attributes(case["direction"], case["H"], case["activations"], alphas,
                                betas, clip), ("Y", "Y_h"), inits, case["opset"])
    expected = run_ort(model0, feeds0)
    if layout:
        expected = from_layout0(expected)

    ref_Y, ref_Y_h = onnx_reference.rnn(
        arrays["X"], arrays["W"], arrays["R"], arrays["B"], arrays["sequence_lens"],
        arrays["initial_h"], direction=case["direction"], activations=case["activations"],
        alphas=alphas, betas=betas, clip=clip, layout=layout)

    assert set(got) == {o for o in outputs if o}
    for name, ref in (("Y", ref_Y), ("Y_h", ref_Y_h)):
        ort_value = expected[name]
        # the reference agrees with onnxruntime (not recorded: not fastrnn's error)
        assert reference.normalized_error(ref, ort_value) <= 1e-5, name
        if name in got:
            assert got[name].dtype == np.float32
            check_error(got[name], ort_value, np.float32, f"{name} vs onnxruntime")
            check_error(got[name], ref, np.float32, f"{name} vs reference")


# ------------------------------------------------------------------ float64 vs reference
FLOAT64_CASES = [
    dict(direction=direction, layout=layout, activations=acts, seq=seq, h0=h0, clip=clip)
    for (direction, layout), (acts, seq, h0, clip) in zip(
        itertools.product(DIRECTIONS, (0, 1)) ,
        [(["Tanh"], "short", True, None), (["Relu"], "with_zero", False, 1.5),
         (["Softplus"], "none", True, 0.7), (["HardSigmoid"], "with_zero", True, None),
         (["Elu", "ScaledTanh"], "short", True, 1.2),
         (["Affine", "LeakyRelu"], "with_zero", True, None)])
] + [
    dict(direction=("reverse", "bidirectional", "forward")[i % 3], layout=i % 2,
         activations=[name] * (2 if i % 3 == 1 else 1), seq=SEQ_MODES[i % 4], h0=bool(i % 2 == 0),
         clip=None if i % 3 else 0.9)
    for i, name in enumerate(ACTIVATIONS)
]


@pytest.mark.parametrize("case", FLOAT64_CASES,
                         ids=[f"{i}-{c['direction']}-l{c['layout']}-{'-'.join(c['activations'])}"
                              for i, c in enumerate(FLOAT64_CASES)])
def test_float64_node_matches_reference(case):
    index = FLOAT64_CASES.index(case)
    rng = np.random.default_rng(500 + index)
    T, N, I, H = 5, 3, 4, 5
    D = 2 if case["direction"] == "bidirectional" else 1
    lengths = {"none": None, "full": [T] * N, "short": [T, 2, 1],
               "with_zero": [0, T, 3]}[case["seq"]]
    arrays = rnn_arrays(rng, T, N, I, H, D, np.float64, case["layout"], True, case["h0"], lengths)
    params = [random_parameters(rng, name) for name in case["activations"]]
    alphas, betas = [p[0] for p in params], [p[1] for p in params]
    clip = None if case["clip"] is None else f32(case["clip"])
    model, feeds = rnn_model(arrays, rnn_attributes(case["direction"], H, case["activations"],
                                                    alphas, betas, clip, case["layout"]),
                             initializers=("W", "R") if index % 2 else ())
    got = run_fastrnn(model, feeds)
    ref_Y, ref_Y_h = onnx_reference.rnn(
        arrays["X"], arrays["W"], arrays["R"], arrays["B"], arrays["sequence_lens"],
        arrays["initial_h"], direction=case["direction"], activations=case["activations"],
        alphas=alphas, betas=betas, clip=clip, layout=case["layout"])
    assert got["Y"].dtype == got["Y_h"].dtype == np.float64
    check_error(got["Y"], ref_Y, np.float64, "Y")
    check_error(got["Y_h"], ref_Y_h, np.float64, "Y_h")


# ------------------------------------------------------------------ activation parameters
def _single_node(rng, direction, attributes, T=4, N=3, I=3, H=4, dtype=np.float32, h0=True):
    D = 2 if direction == "bidirectional" else 1
    arrays = rnn_arrays(rng, T, N, I, H, D, dtype, h0=h0)
    attributes = dict(attributes, direction=direction, hidden_size=H)
    return arrays, rnn_model(arrays, attributes, opset=14)


@pytest.mark.parametrize("name, alpha, beta", [
    ("LeakyRelu", 0.01, None), ("HardSigmoid", 0.2, 0.5), ("Elu", 1.0, None)])
def test_defaults_shared_with_onnxruntime(name, alpha, beta):
    arrays, (model, feeds) = _single_node(np.random.default_rng(1), "bidirectional",
                                          dict(activations=[name, name]))
    got = run_fastrnn(model, feeds)
    expected = run_ort(model, feeds)
    ref_Y, _ = onnx_reference.rnn(arrays["X"], arrays["W"], arrays["R"], arrays["B"],
                                  initial_h=arrays["initial_h"], direction="bidirectional",
                                  activations=[name, name], alphas=[f32(alpha)] * 2,
                                  betas=[None if beta is None else f32(beta)] * 2)
    check_error(got["Y"], expected["Y"], np.float32, "Y vs onnxruntime")
    check_error(got["Y"], ref_Y, np.float32, "Y vs reference with the defaults")


def test_softplus_is_right_for_large_pre_activations():
    """log(1 + e^v) is v for large v; float32 exp overflows above ~88.7, and onnxruntime
    returns inf (then NaN) there. fastrnn agrees with the float64 reference."""
    rng = np.random.default_rng(4)
    T, N, I, H = 3, 4, 2, 3
    arrays = dict(X=rng.uniform(90, 500, (T, N, I)).astype(np.float32),
                  W=rng.uniform(0.5, 1, (1, H, I)).astype(np.float32),
                  R=(rng.uniform(-1, 1, (1, H, H)) / H).astype(np.float32),
                  B=None, sequence_lens=None, initial_h=None)
    arrays["X"][:, 0] = rng.uniform(-3, 3, (T, I))  # batch item 0 stays small
    model, feeds = rnn_model(arrays, dict(hidden_size=H, activations=["Softplus"]))
    ref_Y, ref_Y_h = onnx_reference.rnn(arrays["X"], arrays["W"], arrays["R"],
                                        activations=["Softplus"])
    assert ref_Y[:, :, 1:].min() > 88.8  # the overflowing range is reached
    got = run_fastrnn(model, feeds)
    assert np.isfinite(got["Y"]).all()
    check_error(got["Y"], ref_Y, np.float32, "Softplus Y vs float64 reference")
    check_error(got["Y_h"], ref_Y_h, np.float32, "Softplus Y_h vs float64 reference")
    # The difference the backend's docstring states: onnxruntime overflows on items
    # 1.., and still agrees on the small item 0.
    expected = run_ort(model, feeds)
    assert not np.isfinite(expected["Y"][:, :, 1:]).any()
    check_error(got["Y"][:, :, :1], expected["Y"][:, :, :1], np.float32, "small Softplus")


def test_relu_keeps_nan_as_torch_does():
    """The other stated difference: onnxruntime's Relu turns NaN into 0."""
    rng = np.random.default_rng(5)
    arrays = rnn_arrays(rng, 2, 2, 3, 4, 1, np.float32)
    arrays["X"][0, 0, 0] = np.nan
    model, feeds = rnn_model(arrays, dict(hidden_size=4, activations=["Relu"]))
    got = run_fastrnn(model, feeds)
    assert np.isnan(got["Y"][:, 0, 0]).all() and np.isfinite(got["Y"][:, 0, 1]).all()
    expected = run_ort(model, feeds)
    assert not np.isnan(expected["Y"]).any()
    check_error(got["Y"][:, :, 1], expected["Y"][:, :, 1], np.float32, "Relu Y, item 1")


@pytest.mark.parametrize("name, alpha, beta",
                         [("ThresholdedRelu", 1.0, None), ("Affine", 1.0, 0.0)])
def test_defaults_of_the_onnx_operators(name, alpha, beta):
    """ONNX: 'default values are the same as of corresponding ONNX operators'."""
    arrays, (model, feeds) = _single_node(np.random.default_rng(2), "forward",
                                          dict(activations=[name]), dtype=np.float64)
    got = run_fastrnn(model, feeds)
    ref_Y, ref_Y_h = onnx_reference.rnn(arrays["X"], arrays["W"], arrays["R"], arrays["B"],
                                        initial_h=arrays["initial_h"], activations=[name],
                                        alphas=[alpha], betas=[beta])
    check_error(got["Y"], ref_Y, np.float64, "Y")
    # onnxruntime uses 0 instead (a zero Affine, a ThresholdedRelu at 0): documented difference
    model32, feeds32 = rnn_model({k: None if v is None else v.astype(np.float32)
                                  for k, v in arrays.items()},
                                 dict(direction="forward", hidden_size=4, activations=[name]))
    ort_Y = run_ort(model32, feeds32)["Y"]
    zero_Y, _ = onnx_reference.rnn(arrays["X"], arrays["W"], arrays["R"], arrays["B"],
                                   initial_h=arrays["initial_h"], activations=[name],
                                   alphas=[0.0], betas=[0.0])
    assert reference.normalized_error(ort_Y, zero_Y) <= 1e-5
    assert reference.normalized_error(ort_Y, ref_Y) > 1e-3


def test_parameters_are_consumed_by_the_activations_that_take_them():
    """[Tanh, LeakyRelu] with alpha [0.2]: LeakyRelu takes 0.2 (onnxruntime agrees)."""
    rng = np.random.default_rng(3)
    cases = [
        (["Tanh", "LeakyRelu"], dict(activation_alpha=[0.2]), [None, 0.2], [None, None]),
        (["LeakyRelu", "HardSigmoid"], dict(activation_alpha=[0.3], activation_beta=[0.6]),
         [0.3, 0.2], [None, 0.6]),
        (["Affine", "Elu"], dict(activation_alpha=[0.7, 0.4], activation_beta=[0.1]),
         [0.7, 0.4], [0.1, None]),
        (["Softsign", "ScaledTanh"], dict(activation_alpha=[1.3], activation_beta=[0.8]),
         [None, 1.3], [None, 0.8]),
    ]
    for activations, lists, alphas, betas in cases:
        arrays, (model, feeds) = _single_node(rng, "bidirectional",
                                              dict(activations=activations, **lists))
        got = run_fastrnn(model, feeds)
        expected = run_ort(model, feeds)
        ref_Y, ref_Y_h = onnx_reference.rnn(
            arrays["X"], arrays["W"], arrays["R"], arrays["B"], initial_h=arrays["initial_h"],
            direction="bidirectional", activations=activations,
            alphas=[None if a is None else f32(a) for a in alphas],
            betas=[None if b is None else f32(b) for b in betas])
        for name, ref in (("Y", ref_Y), ("Y_h", ref_Y_h)):
            check_error(got[name], expected[name], np.float32, f"{activations} {name} vs ort")
            check_error(got[name], ref, np.float32, f"{activations} {name} vs reference")


def test_activation_names_ignore_case_and_repeated_default():
    rng = np.random.default_rng(4)
    arrays, (model, feeds) = _single_node(rng, "forward", dict(activations=["LeakyRelu"]))
    lower, _ = rnn_model(arrays, dict(direction="forward", hidden_size=4,
                                      activations=["leakyRELU"]))
    twice, _ = rnn_model(arrays, dict(direction="forward", hidden_size=4,
                                      activations=["LeakyRelu", "LeakyRelu"]))
    expected = run_fastrnn(model, feeds)["Y"]
    np.testing.assert_array_equal(run_fastrnn(lower, feeds)["Y"], expected)
    np.testing.assert_array_equal(run_fastrnn(twice, feeds)["Y"], expected)
    # the same defaults as a value written in the model
    written, _ = rnn_model(arrays, dict(direction="forward", hidden_size=4,
                                        activations=["LeakyRelu"], activation_alpha=[0.01]))
    np.testing.assert_array_equal(run_fastrnn(written, feeds)["Y"], expected)


def test_hidden_size_may_be_left_out():
    """The spec makes hidden_size optional (onnxruntime requires it): W's shape gives it."""
    rng = np.random.default_rng(5)
    arrays = rnn_arrays(rng, 4, 2, 3, 5, 2, np.float32, layout=1, h0=True)
    with_attr, feeds = rnn_model(arrays, dict(direction="bidirectional", hidden_size=5, layout=1))
    without, _ = rnn_model(arrays, dict(direction="bidirectional", layout=1))
    a, b = run_fastrnn(with_attr, feeds), run_fastrnn(without, feeds)
    np.testing.assert_array_equal(a["Y"], b["Y"])
    np.testing.assert_array_equal(a["Y_h"], b["Y_h"])
    with pytest.raises(Exception, match="hidden_size"):
        run_ort(without, feeds)


# ------------------------------------------------------------------ sequence lengths
@pytest.mark.parametrize("layout", [0, 1])
def test_sequence_length_zero(layout):
    """A sequence of length 0: Y and Y_h zero in both directions, whatever initial_h is."""
    rng = np.random.default_rng(6)
    T, N, H = 4, 3, 5
    arrays = rnn_arrays(rng, T, N, 2, H, 2, np.float32, layout=layout, h0=True,
                        lengths=[0, T, 2])
    arrays["initial_h"] += 3  # far from zero
    model, feeds = rnn_model(arrays, dict(direction="bidirectional", hidden_size=H,
                                          layout=layout))
    got = run_fastrnn(model, feeds)
    Y, Y_h = got["Y"], got["Y_h"]
    if layout:  # look at it in layout 0
        Y, Y_h = Y.transpose(1, 2, 0, 3), Y_h.transpose(1, 0, 2)
    assert np.all(Y[:, :, 0] == 0) and np.all(Y_h[:, 0] == 0)
    assert np.all(Y[2:, :, 2] == 0) and np.all(Y[:2, :, 2] != 0)
    assert np.all(Y_h[:, 1:] != 0)
    arrays0 = to_layout0(arrays) if layout else arrays
    model0, feeds0 = rnn_model(arrays0, dict(direction="bidirectional", hidden_size=H))
    expected = run_ort(model0, feeds0)
    assert np.all(expected["Y_h"][:, 0] == 0)  # onnxruntime's reading
    check_error(Y, expected["Y"], np.float32, "Y")
    check_error(Y_h, expected["Y_h"], np.float32, "Y_h")


@pytest.mark.parametrize("layout", [0, 1])
def test_empty_sequence_and_empty_batch(layout):
    rng = np.random.default_rng(7)
    for T, N in ((0, 3), (4, 0), (0, 0)):
        arrays = rnn_arrays(rng, T, N, 2, 3, 2, np.float64, layout=layout, h0=True,
                            lengths=[0] * N)
        model, feeds = rnn_model(arrays, dict(direction="bidirectional", hidden_size=3,
                                              layout=layout))
        got = run_fastrnn(model, feeds)
        assert got["Y"].shape == ((N, T, 2, 3) if layout else (T, 2, N, 3))
        assert got["Y_h"].shape == arrays["initial_h"].shape
        assert not np.any(got["Y_h"])  # no steps, no last output
        if layout == 0 and N:  # onnxruntime agrees (it refuses layout 1 and N = 0)
            f32_arrays = {k: None if v is None else v.astype(v.dtype if k == "sequence_lens"
                                                              else np.float32)
                          for k, v in arrays.items()}
            model32, feeds32 = rnn_model(f32_arrays, dict(direction="bidirectional",
                                                          hidden_size=3))
            expected = run_ort(model32, feeds32)
            assert expected["Y"].shape == got["Y"].shape and not np.any(expected["Y_h"])
        no_h0 = dict(arrays, initial_h=None)
        model, feeds = rnn_model(no_h0, dict(direction="bidirectional", hidden_size=3,
                                             layout=layout))
        got = run_fastrnn(model, feeds)
        assert got["Y_h"].shape == ((N, 2, 3) if layout else (2, N, 3))
        assert not np.any(got["Y_h"])


# ------------------------------------------------------------------ shape ops
def _i64(*values):
    return np.array(values, np.int64)


SHAPE_OP_CASES = [
    # (id, op, opset, inputs (arrays; None = absent), attributes, number of outputs)
    ("transpose-perm", "Transpose", 13, [np.arange(24.).reshape(2, 3, 4)], dict(perm=[1, 2, 0]), 1),
    ("transpose-default", "Transpose", 1, [np.arange(24.).reshape(2, 3, 4)], {}, 1),
    ("reshape-zero-minus-one", "Reshape", 13, [np.arange(24.).reshape(2, 3, 4), _i64(0, -1)],
     {}, 1),
    ("reshape-allowzero", "Reshape", 14, [np.zeros((0, 3)), _i64(3, 0)], dict(allowzero=1), 1),
    ("reshape-v5", "Reshape", 5, [np.arange(6.), _i64(2, 3)], {}, 1),
    ("squeeze-attr", "Squeeze", 11, [np.zeros((1, 3, 1))], dict(axes=[-1]), 1),
    ("squeeze-input", "Squeeze", 13, [np.zeros((1, 3, 1)), _i64(0)], {}, 1),
    ("squeeze-all", "Squeeze", 13, [np.zeros((1, 3, 1))], {}, 1),
    ("unsqueeze-attr", "Unsqueeze", 9, [np.zeros((2, 3))], dict(axes=[0, 3]), 1),
    ("unsqueeze-input", "Unsqueeze", 13, [np.zeros((2, 3)), _i64(-1, 1)], {}, 1),
    ("concat", "Concat", 13, [np.ones((2, 1)), np.zeros((2, 3))], dict(axis=-1), 1),
    ("slice-attrs", "Slice", 9, [np.arange(20.).reshape(4, 5)],
     dict(starts=[1, -3], ends=[1000, -1], axes=[0, 1]), 1),
    ("slice-inputs-steps", "Slice", 13, [np.arange(20.).reshape(4, 5), _i64(-1, 4), _i64(-1000, 0),
                                         _i64(0, 1), _i64(-2, -3)], {}, 1),
    ("slice-no-axes", "Slice", 10, [np.arange(20.).reshape(4, 5), _i64(1), _i64(3)], {}, 1),
    ("shape", "Shape", 13, [np.zeros((2, 3, 4))], {}, 1),
    ("shape-start-end", "Shape", 15, [np.zeros((2, 3, 4))], dict(start=-2, end=3), 1),
    ("gather-negative", "Gather", 13, [_i64(5, 6, 7), np.array(-1, np.int64)], dict(axis=0), 1),
    ("gather-axis1", "Gather", 11, [np.arange(12.).reshape(3, 4), _i64(3, 0)], dict(axis=1), 1),
    ("identity", "Identity", 14, [np.arange(3.)], {}, 1),
    ("cast", "Cast", 13, [np.array([1.7, -2.5, 3.0])], dict(to=TensorProto.INT32), 1),
    ("cast-to-float", "Cast", 6, [_i64(1, 2)], dict(to=TensorProto.FLOAT), 1),
    ("constant-of-shape", "ConstantOfShape", 9, [_i64(2, 3)],
     dict(value=numpy_helper.from_array(np.array([0.5], np.float32))), 1),
    ("constant-of-shape-default", "ConstantOfShape", 20, [_i64(2)], {}, 1),
    ("split-attr", "Split", 11, [np.arange(10.)], dict(split=[3, 7]), 2),
    ("split-input", "Split", 13, [np.arange(12.).reshape(2, 6), _i64(2, 4)], dict(axis=1), 2),
    ("split-equal", "Split", 13, [np.arange(12.).reshape(2, 6)], dict(axis=1), 3),
    ("split-num-outputs", "Split", 18, [np.arange(7.)], dict(num_outputs=3), 3),
    ("expand", "Expand", 13, [np.arange(3.).reshape(3, 1), _i64(2, 1, 4)], {}, 1),
    # an LSTM's projection: Y [T, D, N, H] @ W_hr^T [D, H, P]
    ("matmul-broadcast", "MatMul", 13, [np.arange(60.).reshape(2, 2, 3, 5) / 10,
                                         np.arange(20.).reshape(2, 5, 2) / 7], {}, 1),
    ("matmul-1d", "MatMul", 9, [np.arange(3.), np.arange(6.).reshape(3, 2)], {}, 1),
    ("matmul-vector-right", "MatMul", 13, [np.arange(6.).reshape(2, 3), np.arange(3.)], {}, 1),
    # a projected bidirectional LSTM's backward h0 moved to each sequence's last step
    ("reverse-sequence", "ReverseSequence", 10, [np.arange(24.).reshape(4, 3, 2), _i64(0, 1, 4)],
     dict(time_axis=0, batch_axis=1), 1),
    ("reverse-sequence-batch-major", "ReverseSequence", 10,
     [np.arange(24.).reshape(3, 4, 2), _i64(4, 2, 3)], dict(time_axis=1, batch_axis=0), 1),
]


@pytest.mark.parametrize("name, op, opset, inputs, attributes, n_out", SHAPE_OP_CASES,
                         ids=[c[0] for c in SHAPE_OP_CASES])
def test_shape_op_matches_onnxruntime(name, op, opset, inputs, attributes, n_out):
    inputs = [v.astype(np.float32) if v.dtype == np.float64 else v for v in inputs]
    input_names = [f"in{i}" for i in range(len(inputs))]
    outputs = [f"out{i}" for i in range(n_out)]
    node = helper.make_node(op, input_names, outputs, **attributes)
    graph_inputs = [(n, helper.np_dtype_to_tensor_dtype(v.dtype), v.shape)
                    for n, v in zip(input_names, inputs)]
    model = make_model([node], graph_inputs, outputs, opset=opset)
    feeds = dict(zip(input_names, inputs))
    expected = run_ort(model, feeds)
    got = run_fastrnn(model, feeds)
    for key in outputs:
        assert got[key].dtype == expected[key].dtype, key
        np.testing.assert_array_equal(got[key], expected[key])


def test_constant_forms():
    nodes = [helper.make_node("Constant", [], ["a"], value_ints=[1, 2]),
             helper.make_node("Constant", [], ["b"], value_float=2.5),
             helper.make_node("Constant", [], ["c"],
                              value=numpy_helper.from_array(np.eye(2, dtype=np.float32)))]
    model = make_model(nodes, [], ["a", "b", "c"], opset=13)
    got = backend.prepare(model).run([])
    expected = run_ort(model, {})
    for key in "abc":
        np.testing.assert_array_equal(got[key], expected[key])
        assert got[key].dtype == expected[key].dtype
    got[key][...] = 7  # outputs are the caller's: the next run is unchanged
    np.testing.assert_array_equal(backend.prepare(model).run([])["c"], np.eye(2))


def const(name, value):
    tensor = numpy_helper.from_array(np.asarray(value))
    return helper.make_node("Constant", [], [name], value=tensor)


def _graph_around_rnn(opset, seed):
    """A batch-first input through shape ops, a bidirectional RNN and back, as exporters write.

    Uses Shape/Gather/Unsqueeze/Concat/ConstantOfShape (zero state), Slice,
    Transpose, Reshape, Squeeze, Split, Cast, Expand and Identity.
    """
    rng = np.random.default_rng(seed)
    I, H = 3, 4
    W = rng.uniform(-1, 1, (2, H, I)).astype(np.float32)
    R = rng.uniform(-0.5, 0.5, (2, H, H)).astype(np.float32)
    B = rng.uniform(-0.5, 0.5, (2, 2 * H)).astype(np.float32)
    attr_axes = opset < 13

    def axes_node(op, data, out, axes):
        if attr_axes:
            return [helper.make_node(op, [data], [out], axes=axes)]
        return [helper.make_node("Constant", [], [out + "_axes"], value_ints=axes),
                helper.make_node(op, [data, out + "_axes"], [out])]

    nodes = [
        helper.make_node("Identity", ["input"], ["x_nti"]),
        helper.make_node("Transpose", ["x_nti"], ["x"], perm=[1, 0, 2]),  # [T, N, I]
        helper.make_node("Shape", ["x"], ["x_shape"]),
        const("one", np.array(1, np.int64)),
        helper.make_node("Gather", ["x_shape", "one"], ["batch"], axis=0),
        *axes_node("Unsqueeze", "batch", "batch_1d", [0]),
        const("two", _i64(2)),
        const("hid", _i64(H)),
        helper.make_node("Concat", ["two", "batch_1d", "hid"], ["h0_shape"], axis=0),
        helper.make_node("ConstantOfShape", ["h0_shape"], ["h0"],
                         value=numpy_helper.from_array(np.array([0.25], np.float32))),
        # lengths [3, 5, 2, 4][:N]
        const("all_lens", _i64(3, 5, 2, 4)),
        const("zero", _i64(0)),
        helper.make_node("Slice", ["all_lens", "zero", "batch_1d"], ["lens64"]),
        helper.make_node("Cast", ["lens64"], ["lens"], to=TensorProto.INT32),
        helper.make_node("RNN", ["x", "W", "R", "B", "lens", "h0"], ["Y", "Y_h"],
                         hidden_size=H, direction="bidirectional", activations=["Tanh", "Relu"]),
        helper.make_node("Transpose", ["Y"], ["Y_tndh"], perm=[0, 2, 1, 3]),
        const("flat", _i64(0, 0, -1)),
        helper.make_node("Reshape", ["Y_tndh", "flat"], ["seq"]),
        helper.make_node("Transpose", ["seq"], ["output"], perm=[1, 0, 2]),
    ]
    if opset < 13:
        nodes.append(helper.make_node("Split", ["Y_h"], ["h_fwd", "h_bwd"], axis=0, split=[1, 1]))
    else:
        nodes += [const("halves", _i64(1, 1)),
                  helper.make_node("Split", ["Y_h", "halves"], ["h_fwd", "h_bwd"], axis=0)]
    nodes += axes_node("Squeeze", "h_bwd", "h_bwd_2d", [0])
    nodes += [helper.make_node("Shape", ["h_bwd_2d"], ["hb_shape"]),
              helper.make_node("Expand", ["h_fwd", "hb_shape"], ["h_fwd_expanded"]),
              const("starts", _i64(1)),
              const("ends", _i64(4)),
              const("axes", _i64(1)),
              helper.make_node("Slice", ["output", "starts", "ends", "axes"], ["middle"])]
    model = make_model(
        nodes, [("input", TensorProto.FLOAT, ["N", "T", I])],
        [("output", TensorProto.FLOAT, None), ("h_fwd_expanded", TensorProto.FLOAT, None),
         ("h_bwd_2d", TensorProto.FLOAT, None), ("middle", TensorProto.FLOAT, None)],
        dict(W=W, R=R, B=B), opset)
    return model


@pytest.mark.parametrize("opset", [11, 13, 18])
def test_graph_of_shape_ops_around_rnn_matches_onnxruntime(opset):
    model = _graph_around_rnn(opset, opset)
    rep = backend.prepare(model)
    for N, T in ((2, 6), (1, 5)):
        x = np.random.default_rng(N * 10 + T).standard_normal((N, T, 3)).astype(np.float32)
        expected = run_ort(model, {"input": x})
        got = dict(zip(rep.output_names, rep.run([x])))
        for key in expected:
            check_error(got[key], expected[key], np.float32, key)


# ------------------------------------------------------------------ torch exports
TORCH_CASES = [
    dict(num_layers=1, bidirectional=False, batch_first=False, nonlinearity="tanh", bias=True,
         h0=False, opset=9),
    dict(num_layers=2, bidirectional=True, batch_first=True, nonlinearity="relu", bias=False,
         h0=True, opset=11),
    dict(num_layers=2, bidirectional=False, batch_first=True, nonlinearity="tanh", bias=True,
         h0=False, opset=13),
    dict(num_layers=3, bidirectional=True, batch_first=False, nonlinearity="tanh", bias=True,
         h0=True, opset=17),
    dict(num_layers=1, bidirectional=True, batch_first=True, nonlinearity="relu", bias=True,
         h0=False, opset=20),
]


@pytest.mark.parametrize("case", TORCH_CASES,
                         ids=lambda c: "-".join(f"{k}={v}" for k, v in c.items()))
def test_torch_exported_rnn(case):
    torch = pytest.importorskip("torch")
    import warnings
    torch.manual_seed(0)
    module = torch.nn.RNN(3, 5, case["num_layers"], nonlinearity=case["nonlinearity"],
                          bias=case["bias"], batch_first=case["batch_first"],
                          bidirectional=case["bidirectional"]).eval()
    D = 2 if case["bidirectional"] else 1

    def example(N, L):
        x = torch.randn((N, L, 3) if case["batch_first"] else (L, N, 3))
        h0 = torch.randn(D * case["num_layers"], N, 5) * 0.5
        return (x, h0) if case["h0"] else (x,)

    names = ["input", "h0"] if case["h0"] else ["input"]
    axes = {"input": {0: "a", 1: "b"}}
    if case["h0"]:
        axes["h0"] = {1: "batch"}
    f = io.BytesIO()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(module, example(2, 4), f, dynamo=False, opset_version=case["opset"],
                          input_names=names, output_names=["output", "h_n"], dynamic_axes=axes)
    rep = backend.prepare(f.getvalue())
    for N, L in ((2, 4), (3, 7), (1, 1)):
        args = example(N, L)
        with torch.no_grad():
            output, h_n = module(*args)
        got = rep.run([a.numpy() for a in args])
        check_error(got["output"], output.numpy(), np.float32, "output vs torch")
        check_error(got["h_n"], h_n.numpy(), np.float32, "h_n vs torch")


# ------------------------------------------------------------------ backend API
def _simple(rng=None, dtype=np.float32, **attributes):
    rng = rng or np.random.default_rng(8)
    arrays = rnn_arrays(rng, 4, 2, 3, 5, 1, dtype, h0=True)
    model, feeds = rnn_model(arrays, dict(dict(direction="forward", hidden_size=5), **attributes),
                             initializers=("W", "R", "B"))
    return arrays, model, feeds


def test_prepare_accepts_model_bytes_path_and_file(tmp_path):
    arrays, model, feeds = _simple()
    expected = backend.prepare(model).run(feeds)
    path = tmp_path / "rnn.onnx"
    onnx.save(model, path)
    for source in (model.SerializeToString(), str(path), path, io.BytesIO(path.read_bytes())):
        got = backend.prepare(source).run(feeds)
        np.testing.assert_array_equal(got[0], expected[0])
    assert backend.prepare(model).input_names == ["X", "initial_h"]


def test_run_forms_and_named_outputs():
    arrays, model, feeds = _simple()
    rep = backend.prepare(model)
    by_dict = rep.run(feeds)
    by_list = rep.run([feeds["X"], feeds["initial_h"]])
    np.testing.assert_array_equal(by_dict["Y"], by_list[0])
    np.testing.assert_array_equal(by_dict.Y_h, by_list[1])
    np.testing.assert_array_equal(backend.run_model(model, feeds)[1], by_list[1])
    one_input, _ = rnn_model(dict(arrays, initial_h=None), dict(direction="forward",
                                                                hidden_size=5),
                             initializers=("W", "R", "B"))
    assert backend.prepare(one_input).run(feeds["X"])[0].shape == (4, 1, 2, 5)
    # Python lists are converted to the declared type
    assert backend.prepare(one_input).run([feeds["X"].tolist()])[0].dtype == np.float32


def test_run_node():
    rng = np.random.default_rng(9)
    arrays = rnn_arrays(rng, 3, 2, 4, 5, 2, np.float64, layout=1, h0=True)
    node = helper.make_node("RNN", ["X", "W", "R", "", "", "initial_h"], ["", "Y_h"],
                            direction="bidirectional", hidden_size=5, layout=1,
                            activations=["Sigmoid", "Softsign"])
    (Y_h,) = backend.run_node(node, [arrays["X"], arrays["W"], arrays["R"], arrays["initial_h"]])
    _, ref_Y_h = onnx_reference.rnn(arrays["X"], arrays["W"], arrays["R"],
                                    initial_h=arrays["initial_h"], direction="bidirectional",
                                    activations=["Sigmoid", "Softsign"], layout=1)
    check_error(Y_h, ref_Y_h, np.float64, "Y_h")
    squeezed = backend.run_node(helper.make_node("Squeeze", ["x"], ["y"], axes=[0]),
                                [np.zeros((1, 2))], opset_version=11)
    assert squeezed[0].shape == (2,)


def test_devices():
    assert backend.supports_device("CPU")
    assert not backend.supports_device("CUDA")
    arrays, model, feeds = _simple()
    with pytest.raises(ValueError, match="CPU only"):
        backend.prepare(model, "CUDA")
    with pytest.raises(TypeError, match="unexpected keyword"):
        backend.prepare(model, "CPU", optimize=True)
    assert backend.is_compatible(model)


def test_inputs_are_never_modified_and_outputs_are_fresh():
    rng = np.random.default_rng(10)
    for layout in (0, 1):
        arrays = rnn_arrays(rng, 4, 3, 2, 3, 2, np.float32, layout=layout, h0=True,
                            lengths=[4, 0, 2])
        model, feeds = rnn_model(arrays, dict(direction="bidirectional", hidden_size=3,
                                              layout=layout, clip=0.5))
        copies = {k: v.copy() for k, v in feeds.items()}
        outputs = backend.prepare(model).run(feeds)
        for name, value in feeds.items():
            np.testing.assert_array_equal(value, copies[name])
        for output in outputs:
            assert not any(np.may_share_memory(output, v) for v in feeds.values())
    # a graph that hands back an input and an initializer unchanged gives copies
    x = np.arange(3, dtype=np.float32)
    model = make_model([helper.make_node("Identity", ["x"], ["y"]),
                        helper.make_node("Reshape", ["w", "shape"], ["z"])],
                       [("x", TensorProto.FLOAT, [3])], ["y", "z"],
                       dict(w=np.ones((2, 2), np.float32), shape=_i64(4)))
    rep = backend.prepare(model)
    y, z = rep.run([x])
    assert not np.may_share_memory(y, x)
    z[...] = 5
    np.testing.assert_array_equal(rep.run([x])[1], np.ones(4))


def test_outputs_are_separate_c_contiguous_arrays():
    """Nodes hand views along (a Y transposed to [T, D, N, H], Identity); what the caller
    gets is always its own C-contiguous, writeable array, never shared between outputs."""
    rng = np.random.default_rng(13)
    arrays = rnn_arrays(rng, 4, 3, 2, 3, 2, np.float32, h0=True)
    model, feeds = rnn_model(arrays, dict(direction="bidirectional", hidden_size=3),
                             initializers=("W", "R", "B"))
    graph = model.graph
    graph.node.extend([helper.make_node("Identity", ["Y"], ["Y_again"]),
                       helper.make_node("Transpose", ["Y"], ["Y_TNDH"], perm=[0, 2, 1, 3])])
    graph.output.extend([helper.make_empty_tensor_value_info("Y_again"),
                         helper.make_empty_tensor_value_info("Y_TNDH")])
    x_before = feeds["X"].flags.writeable
    Y, Y_h, Y_again, Y_TNDH = backend.prepare(model).run(feeds)
    assert feeds["X"].flags.writeable == x_before  # the caller's flags are left alone
    outputs = (Y, Y_h, Y_again, Y_TNDH)
    for a, b in itertools.combinations(outputs, 2):
        assert not np.may_share_memory(a, b)
    for output in outputs:
        assert output.flags.c_contiguous and output.flags.writeable
    np.testing.assert_array_equal(Y_again, Y)
    np.testing.assert_array_equal(Y_TNDH, Y.transpose(0, 2, 1, 3))
    ref_Y, ref_Y_h = onnx_reference.rnn(arrays["X"], arrays["W"], arrays["R"], arrays["B"],
                                        initial_h=arrays["initial_h"], direction="bidirectional")
    check_error(Y, ref_Y, np.float32, "Y")
    check_error(Y_h, ref_Y_h, np.float32, "Y_h")


def test_stored_weights_are_prepared_once_and_overridable_ones_are_not():
    """W, R, B stored in the model are checked and split when it is prepared; an
    initializer the graph also lists as an input is the caller's to replace."""
    rng = np.random.default_rng(14)
    arrays = rnn_arrays(rng, 5, 2, 3, 4, 2, np.float32, h0=True)
    attributes = dict(direction="bidirectional", hidden_size=4)
    stored, feeds = rnn_model(arrays, attributes, initializers=("W", "R", "B"))
    runtime, runtime_feeds = rnn_model(arrays, attributes)
    rep = backend.prepare(stored)
    for _ in range(2):  # the prepared tensors serve every run unchanged
        for got, want in zip(rep.run(feeds), backend.prepare(runtime).run(runtime_feeds)):
            np.testing.assert_array_equal(got, want)
    overridable = onnx.ModelProto()
    overridable.CopyFrom(stored)
    overridable.graph.input.append(helper.make_tensor_value_info("B", TensorProto.FLOAT, None))
    rep = backend.prepare(overridable)
    np.testing.assert_array_equal(rep.run(feeds)[0], backend.prepare(stored).run(feeds)[0])
    other_B = rng.uniform(-0.5, 0.5, arrays["B"].shape).astype(np.float32)
    got = rep.run(dict(feeds, B=other_B))
    want = backend.prepare(runtime).run(dict(runtime_feeds, B=other_B))
    for g, w in zip(got, want):
        np.testing.assert_array_equal(g, w)
    # a stored W of another dtype than X is still refused at run time
    node = helper.make_node("RNN", ["X", "W", "R"], ["Y"], hidden_size=4,
                            direction="bidirectional")
    loose = make_model([node], ["X"], ["Y"], dict(W=arrays["W"], R=arrays["R"]))
    with pytest.raises(TypeError, match=r"W must have the dtype of X \(float64\), got float32"):
        backend.prepare(loose).run([arrays["X"].astype(np.float64)])


def test_stored_shapes_and_bounds_are_read_when_prepared():
    """Reshape shapes and Slice bounds in the model (initializers or Constant nodes) are
    read and checked once: a bad one fails prepare, not every run."""
    x = ("x", TensorProto.FLOAT, None)
    bad_shape = make_model([helper.make_node("Reshape", ["x", "s"], ["y"])], [x], ["y"],
                           dict(s=_i64(-1, -1)))
    with pytest.raises(InvalidModelError, match=r"node 0 \(Reshape\): shape \[-1, -1\] is not"):
        backend.prepare(bad_shape)
    float_shape = make_model([helper.make_node("Reshape", ["x", "s"], ["y"])], [x], ["y"],
                             dict(s=np.array([2.0, 3.0], np.float32)))
    with pytest.raises(InvalidModelError, match="shape must be an integer tensor"):
        backend.prepare(float_shape)
    zero_step = make_model(
        [helper.make_node("Constant", [], ["steps"], value_ints=[0]),
         helper.make_node("Slice", ["x", "starts", "ends", "", "steps"], ["y"])],
        [x], ["y"], dict(starts=_i64(0), ends=_i64(2)))
    with pytest.raises(InvalidModelError, match=r"node 1 \(Slice\): steps must not be 0"):
        backend.prepare(zero_step)
    lengths = make_model(
        [helper.make_node("Slice", ["x", "starts", "ends", "axes"], ["y"])],
        [x], ["y"], dict(starts=_i64(0, 1), ends=_i64(2), axes=_i64(0)))
    with pytest.raises(InvalidModelError, match="differ in length"):
        backend.prepare(lengths)
    # a good stored Slice serves inputs of any rank (one index per rank)
    good = make_model(
        [helper.make_node("Constant", [], ["ends"], value_ints=[-1]),
         helper.make_node("Slice", ["x", "starts", "ends"], ["y"])],
        [x], ["y"], dict(starts=_i64(1)))
    rep = backend.prepare(good)
    for shape in ((5,), (4, 2), (3, 2, 2), (5,)):
        data = np.arange(np.prod(shape), dtype=np.float32).reshape(shape)
        np.testing.assert_array_equal(rep.run([data])[0], data[1:-1])
        assert run_ort(good, {"x": data})["y"].shape == data[1:-1].shape


# ------------------------------------------------------------------ bad models
def _rnn_node_model(attributes, W_shape=(1, 4, 3), R_shape=(1, 4, 4), B_shape=None,
                    inputs=("X", "W", "R"), W_init=True):
    rng = np.random.default_rng(11)
    inits = {"W": rng.standard_normal(W_shape).astype(np.float32),
             "R": rng.standard_normal(R_shape).astype(np.float32)}
    if B_shape:
        inits["B"] = rng.standard_normal(B_shape).astype(np.float32)
    if not W_init:
        inits = {}
    node = helper.make_node("RNN", list(inputs), ["Y", "Y_h"], **attributes)
    graph_inputs = [("X", TensorProto.FLOAT, None)] + (
        [] if W_init else [(n, TensorProto.FLOAT, None) for n in inputs[1:]])
    return make_model([node], graph_inputs, ["Y", "Y_h"], inits)


@pytest.mark.parametrize("attributes, kwargs, error, message", [
    (dict(hidden_size=5), {}, InvalidModelError,
     r"W must have shape .*\[1, 5, 3\], got \[1, 4, 3\]"),
    (dict(hidden_size=4), dict(R_shape=(1, 4, 5)), InvalidModelError, r"R must have shape"),
    (dict(hidden_size=4), dict(B_shape=(1, 4), inputs=("X", "W", "R", "B")), InvalidModelError,
     r"B must have shape .*\[1, 8\], got \[1, 4\]"),
    (dict(hidden_size=4, direction="bidirectional"), {}, InvalidModelError,
     r"W must have shape .*\[2, 4, 3\]"),
    (dict(hidden_size=4, direction="sideways"), {}, InvalidModelError, "direction must be"),
    (dict(hidden_size=0), {}, InvalidModelError, "hidden_size must be positive"),
    (dict(hidden_size=4, layout=2), {}, InvalidModelError, "layout must be 0 or 1"),
    (dict(hidden_size=4, clip=-1.0), {}, InvalidModelError, "clip must be a number >= 0"),
    (dict(hidden_size=4, clip=float("nan")), {}, InvalidModelError, "clip must be"),
    (dict(hidden_size=4, activations=["Swish"]), {}, UnsupportedModelError,
     "unknown activation 'Swish'"),
    (dict(hidden_size=4, activations=["Tanh", "Relu"]), {}, InvalidModelError,
     "one function per direction"),
    (dict(hidden_size=4, direction="bidirectional", activations=["Tanh"]),
     dict(W_shape=(2, 4, 3), R_shape=(2, 4, 4)), InvalidModelError, "one function per direction"),
    (dict(hidden_size=4, activations=["ScaledTanh"], activation_alpha=[1.0]), {},
     InvalidModelError, "ScaledTanh needs a value in activation_beta"),
    (dict(hidden_size=4, activations=["Tanh"], activation_alpha=[0.5]), {}, InvalidModelError,
     "activation_alpha has 1 value.* take 0"),
    (dict(hidden_size=4, activations=["LeakyRelu"], activation_alpha=[0.5, 0.1]), {},
     InvalidModelError, "activation_alpha has 2 value.* take 1"),
    (dict(hidden_size=4, activations=["LeakyRelu"], activation_alpha=0.5), {},
     InvalidModelError, "activation_alpha must be a list of floats"),
    (dict(hidden_size=4.0), {}, InvalidModelError,
     r"attribute hidden_size must be an integer \(int\), got FLOAT"),
    (dict(hidden_size=4, foo=1), {}, UnsupportedModelError, r"attribute\(s\) foo not supported"),
    # RNN-1's output_sequence is not an attribute of RNN-14
    (dict(hidden_size=4, output_sequence=1), {}, UnsupportedModelError,
     r"attribute\(s\) output_sequence not supported"),
    (dict(hidden_size=4), dict(inputs=("X", "W", "")), InvalidModelError, "input 2 is required"),
])
def test_bad_rnn_node_is_refused_at_prepare(attributes, kwargs, error, message):
    model = _rnn_node_model(attributes, **kwargs)
    with pytest.raises(error, match=message):
        backend.prepare(model)


def test_unsupported_ops_are_named_at_prepare():
    x = ("x", TensorProto.FLOAT, [2])
    for node, name in ((helper.make_node("Conv", ["x", "x"], ["y"]), "Conv"),
                       (helper.make_node("Scan", ["x"], ["y"], num_scan_inputs=1), "Scan"),
                       (helper.make_node("Frob", ["x"], ["y"], domain="com.example"),
                        "com.example.Frob")):
        model = make_model([node], [x], ["y"])
        if node.domain:
            model.opset_import.append(helper.make_opsetid("com.example", 1))
        with pytest.raises(UnsupportedModelError, match=f"operator {name} is not supported"):
            backend.prepare(model)
        assert not backend.is_compatible(model)


def test_truncated_or_inconsistent_models():
    arrays, model, feeds = _simple()
    data = model.SerializeToString()
    with pytest.raises(InvalidModelError):
        backend.prepare(data[: len(data) // 2])
    with pytest.raises(InvalidModelError):
        backend.prepare(b"not an onnx file")
    # a node reading a value that is never produced
    bad = make_model([helper.make_node("Identity", ["nowhere"], ["y"])],
                     [("x", TensorProto.FLOAT, [1])], ["y"])
    with pytest.raises(InvalidModelError, match="'nowhere'"):
        backend.prepare(bad)
    # an unsupported attribute form: Squeeze axes as attribute at opset 13
    bad = make_model([helper.make_node("Squeeze", ["x"], ["y"], axes=[0])],
                     [("x", TensorProto.FLOAT, [1])], ["y"], opset=13)
    with pytest.raises(UnsupportedModelError, match="axes not supported"):
        backend.prepare(bad)


# ------------------------------------------------------------------ bad inputs
def _runtime_model(layout=0, D=1, with_seq=True, with_h0=True, with_B=True):
    names = ["X", "W", "R", "B" if with_B else "", "sequence_lens" if with_seq else "",
             "initial_h" if with_h0 else ""]
    node = helper.make_node("RNN", names, ["Y", "Y_h"], hidden_size=4, layout=layout,
                            direction="bidirectional" if D == 2 else "forward")
    inputs = [(n, TensorProto.INT32 if n == "sequence_lens" else TensorProto.FLOAT, None)
              for n in names if n]
    return backend.prepare(make_model([node], inputs, ["Y", "Y_h"]))


def _good_feeds(layout=0, D=1, T=5, N=2, I=3, H=4):
    rng = np.random.default_rng(12)
    return dict(X=rng.standard_normal((N, T, I) if layout else (T, N, I)).astype(np.float32),
                W=rng.standard_normal((D, H, I)).astype(np.float32),
                R=rng.standard_normal((D, H, H)).astype(np.float32),
                B=rng.standard_normal((D, 2 * H)).astype(np.float32),
                sequence_lens=np.array([T, 2], np.int32),
                initial_h=rng.standard_normal((N, D, H) if layout else (D, N, H))
                .astype(np.float32))


@pytest.mark.parametrize("change, error, message", [
    (dict(sequence_lens=np.array([5, -1], np.int32)), ValueError,
     r"sequence_lens\[1\] = -1 is outside 0..5"),
    (dict(sequence_lens=np.array([6, 2], np.int32)), ValueError,
     r"sequence_lens\[0\] = 6 is outside 0..5"),
    (dict(sequence_lens=np.array([5, 2, 1], np.int32)), ShapeError,
     r"sequence_lens must have shape \[batch_size\] = \[2\], got \[3\]"),
    (dict(W=np.zeros((1, 5, 3), np.float32)), ShapeError, r"W must have shape .*\[1, 4, 3\]"),
    (dict(W=np.zeros((1, 4, 2), np.float32)), ShapeError, r"W must have shape .*\[1, 4, 3\]"),
    (dict(R=np.zeros((1, 4), np.float32)), ShapeError, "R must have shape"),
    (dict(B=np.zeros((1, 4), np.float32)), ShapeError, r"B must have shape .*\[1, 8\]"),
    (dict(initial_h=np.zeros((1, 3, 4), np.float32)), ShapeError,
     r"initial_h must have shape .*\[1, 2, 4\], got \[1, 3, 4\]"),
    (dict(X=np.zeros((5, 2), np.float32)), ShapeError, "X must have 3 dimensions"),
    (dict(X=np.zeros((5, 2, 0), np.float32)), ShapeError, "input size .* must be positive"),
])
def test_bad_runtime_inputs(change, error, message):
    rep = _runtime_model()
    feeds = dict(_good_feeds(), **change)
    with pytest.raises(error, match=message):
        rep.run(feeds)


def test_bad_runtime_dtypes():
    rep = _runtime_model()
    feeds = _good_feeds()
    # declared graph input types are enforced
    with pytest.raises(TypeError, match=r"'sequence_lens' must be tensor\(int32\).*got int64"):
        rep.run(dict(feeds, sequence_lens=feeds["sequence_lens"].astype(np.int64)))
    with pytest.raises(TypeError, match=r"'W' must be tensor\(float\).*got float64"):
        rep.run(dict(feeds, W=feeds["W"].astype(np.float64)))
    # and the node's own type rules when the graph declares nothing
    node = helper.make_node("RNN", ["X", "W", "R", "", "sequence_lens"], ["Y"], hidden_size=4)
    loose = backend.prepare(make_model([node], ["X", "W", "R", "sequence_lens"], ["Y"]))
    good = dict(X=feeds["X"], W=feeds["W"], R=feeds["R"], sequence_lens=feeds["sequence_lens"])
    with pytest.raises(TypeError, match="sequence_lens must be int32 .* got int64"):
        loose.run(dict(good, sequence_lens=good["sequence_lens"].astype(np.int64)))
    with pytest.raises(TypeError, match=r"W must have the dtype of X \(float32\), got float64"):
        loose.run(dict(good, W=good["W"].astype(np.float64)))
    with pytest.raises(TypeError, match="X must be float32 or float64 .* got float16"):
        loose.run({k: v.astype(np.float16) if v.dtype == np.float32 else v
                   for k, v in good.items()})
    assert loose.run(good)[0].shape == (5, 1, 2, 4)


def test_bad_runtime_layout1_and_call_forms():
    rep = _runtime_model(layout=1, D=2)
    feeds = _good_feeds(layout=1, D=2)
    assert rep.run(feeds)[0].shape == (2, 5, 2, 4)
    with pytest.raises(ShapeError, match=r"initial_h must have shape \[batch_size, num_directions"):
        rep.run(dict(feeds, initial_h=np.zeros((2, 2, 4), np.float32).transpose(1, 0, 2)[:, :1]))
    with pytest.raises(ValueError, match="takes 6 input"):
        rep.run([feeds["X"]])
    with pytest.raises(KeyError, match="missing input"):
        rep.run({"X": feeds["X"]})
    with pytest.raises(KeyError, match="unknown input name"):
        rep.run(dict(feeds, Z=feeds["X"]))
    with pytest.raises(TypeError, match="unexpected keyword"):
        rep.run(feeds, verbose=True)


def test_shape_op_errors_name_the_node():
    model = make_model([helper.make_node("Reshape", ["x", "s"], ["y"], name="flatten")],
                       [("x", TensorProto.FLOAT, None), "s"], ["y"])
    rep = backend.prepare(model)
    with pytest.raises(ShapeError, match=r"node 0 \(Reshape 'flatten'\): cannot reshape"):
        rep.run([np.zeros(6, np.float32), _i64(4, -1)])
    with pytest.raises(TypeError, match="shape must be an integer tensor"):
        rep.run([np.zeros(6, np.float32), np.array([2.0, 3.0], np.float32)])
    model = make_model([helper.make_node("Gather", ["x", "i"], ["y"])],
                       [("x", TensorProto.FLOAT, None), ("i", TensorProto.INT64, None)], ["y"])
    with pytest.raises(ValueError, match=r"indices must lie in \[-3, 2\]"):
        backend.prepare(model).run([np.zeros(3, np.float32), _i64(3)])


def test_reverse_sequence_refuses_what_onnxruntime_refuses():
    node = helper.make_node("ReverseSequence", ["x", "lens"], ["y"], name="rev")
    x = np.zeros((4, 2, 3), np.float32)
    for lens, error, message in (
            (_i64(1, 5), ValueError, r"sequence_lens\[1\] = 5 is outside 0..4"),
            (_i64(-1, 2), ValueError, r"sequence_lens\[0\] = -1 is outside 0..4"),
            (_i64(1, 2, 3), ShapeError, r"sequence_lens must have shape \[2\]"),
            (np.array([1, 2], np.int32), TypeError, "sequence_lens must be int64"),
            (np.array([1.0, 2.0]), TypeError, "sequence_lens must be int64")):
        with pytest.raises(error, match=r"node 0 \(ReverseSequence 'rev'\): " + message):
            backend.run_node(node, [x, lens])
    with pytest.raises(ShapeError, match="rank >= 2"):
        backend.run_node(node, [np.zeros(3, np.float32), _i64(1)])
    bad_axes = helper.make_node("ReverseSequence", ["x", "lens"], ["y"], time_axis=2)
    with pytest.raises(InvalidModelError, match="batch_axis and time_axis must be 0 and 1"):
        backend.run_node(bad_axes, [x, _i64(1, 2)])


def test_matmul_refuses_what_does_not_multiply():
    node = helper.make_node("MatMul", ["a", "b"], ["y"], name="project")
    for a, b, error, message in (
            (np.ones((2, 3), np.float32), np.ones((4, 2), np.float32), ShapeError,
             r"cannot multiply shapes \(2, 3\) and \(4, 2\)"),
            (np.ones((2, 2, 3), np.float32), np.ones((3, 3, 2), np.float32), ShapeError,
             r"cannot multiply shapes \(2, 2, 3\) and \(3, 3, 2\)"),
            (np.float32(2), np.ones(2, np.float32), ShapeError,
             "inputs must have rank >= 1"),
            (np.ones((2, 3), np.float32), np.ones((3, 2)), TypeError,
             "inputs must have one dtype, got float32 and float64")):
        with pytest.raises(error, match=rf"node 0 \(MatMul 'project'\): {message}"):
            backend.run_node(node, [a, b])


def test_names_are_assigned_once():
    model = make_model([helper.make_node("Identity", ["x"], ["x"])],
                       [("x", TensorProto.FLOAT, [1])], ["x"])
    with pytest.raises(InvalidModelError, match="'x', which is already defined"):
        backend.prepare(model)


@pytest.mark.parametrize("op, attributes", [("Split", dict(axis=0)), ("Gather", dict(axis=0))])
def test_ops_on_an_axis_refuse_a_scalar(op, attributes):
    inputs = ["x"] if op == "Split" else ["x", "i"]
    outputs = ["a", "b"] if op == "Split" else ["y"]
    node = helper.make_node(op, inputs, outputs, name="n", **attributes)
    arrays = [np.float32(1)] + ([] if op == "Split" else [np.array(0, np.int64)])
    with pytest.raises(ShapeError, match=rf"node 0 \({op} 'n'\): the input must have rank >= 1 "
                                         r"to have an axis 0, got a scalar"):
        backend.run_node(node, arrays)
    # one axis up, both work
    got = backend.run_node(node, [np.arange(4, dtype=np.float32)] + arrays[1:])
    assert [g.shape for g in got] == ([(2,), (2,)] if op == "Split" else [()])


@pytest.mark.parametrize("where", ["input", "output", "initializer"])
def test_a_name_listed_twice_is_refused_at_prepare(where):
    """A second graph input, output or initializer of one name would silently replace the
    first in the backend's (and load's) maps."""
    import fastrnn.onnx

    model = make_model([helper.make_node("Identity", ["a"], ["y"])],
                       [("a", TensorProto.FLOAT, [1])], [("y", TensorProto.FLOAT, [1])])
    graph = model.graph
    if where == "input":
        graph.input.append(helper.make_tensor_value_info("a", TensorProto.FLOAT, [1]))
    elif where == "output":
        graph.output.append(helper.make_tensor_value_info("y", TensorProto.FLOAT, [1]))
    else:
        del graph.input[:]
        graph.initializer.extend([numpy_helper.from_array(np.ones(1, np.float32), "a"),
                                  numpy_helper.from_array(np.zeros(1, np.float32), "a")])
    message = rf"the graph has two {where}s named '{'y' if where == 'output' else 'a'}'"
    with pytest.raises(InvalidModelError, match=message):
        backend.prepare(model)
    with pytest.raises(InvalidModelError, match=message):
        fastrnn.onnx.load(model)


def test_run_node_reads_a_repeated_input_name_once():
    node = helper.make_node("Concat", ["x", "x"], ["y"], axis=0)
    x = np.arange(2, dtype=np.float32)
    (y,) = backend.run_node(node, [x, x.copy()])
    np.testing.assert_array_equal(y, [0, 1, 0, 1])
    with pytest.raises(ValueError, match="reads 'x' more than once, and the arrays given for it "
                                         "differ"):
        backend.run_node(node, [x, x + 1])


@pytest.mark.parametrize("op, inputs", [
    ("Expand", [np.ones(1, np.float32), np.array([2**40], np.int64)]),
    ("ConstantOfShape", [np.array([2**20, 2**20], np.int64)]),
    ("Gather", [np.ones((1, 2**16), np.float32), np.zeros(2**16, np.int64)]),
])
def test_huge_results_are_refused_before_allocating(op, inputs):
    names = ["x", "s"][:len(inputs)]
    node = helper.make_node(op, names, ["y"], name="big")
    with pytest.raises(fastrnn.onnx.LimitError,
                       match=rf"node 0 \({op} 'big'\): the result would have shape "
                             r"\[.*\]: \d+ elements .*more than the 268435456 a run makes"):
        backend.run_node(node, inputs)
    # the limit is settable: a user who really runs a huge graph raises it
    previous = fastrnn.onnx.set_limits(run_elements=2**16)
    try:
        with pytest.raises(fastrnn.onnx.LimitError, match="more than the 65536 a run makes"):
            backend.run_node(helper.make_node("ConstantOfShape", ["s"], ["y"]),
                             [np.array([2**8, 2**8 + 1], np.int64)])
    finally:
        fastrnn.onnx.set_limits(**previous)
    assert backend.run_node(helper.make_node("ConstantOfShape", ["s"], ["y"]),
                            [np.array([2**8, 2**8 + 1], np.int64)])[0].shape == (256, 257)


def test_memory_errors_name_the_node(monkeypatch):
    """What the size check lets through may still not fit: the MemoryError says where."""
    def no_memory(*args, **kwargs):
        raise MemoryError("Unable to allocate 3 GiB")

    node = helper.make_node("ConstantOfShape", ["s"], ["y"], name="zeros")
    monkeypatch.setattr(np, "full", no_memory)
    with pytest.raises(MemoryError, match=r"node 0 \(ConstantOfShape 'zeros'\): Unable to "
                                          r"allocate 3 GiB"):
        backend.run_node(node, [np.array([2], np.int64)])


@pytest.mark.parametrize("raw", [True, False])
def test_negative_tensor_dims_are_refused(raw):
    """numpy reads a -1 in a reshape as 'infer this size': a tensor must not get that far."""
    import fastrnn.onnx

    tensor = numpy_helper.from_array(np.arange(4, dtype=np.float32).reshape(2, 2), "c")
    if not raw:
        tensor.ClearField("raw_data")
        tensor.float_data.extend([0, 1, 2, 3])
    for dims in ([2, -2], [-1, 4]):
        tensor.ClearField("dims")
        tensor.dims.extend(dims)
        model = make_model([helper.make_node("Identity", ["c"], ["y"])], [], ["y"],
                           opset=14)
        model.graph.initializer.append(tensor)
        with pytest.raises(InvalidModelError, match=rf"initializer 'c' has dims "
                                                    rf"\[{dims[0]}, {dims[1]}\]; a dimension "
                                                    "cannot be negative"):
            backend.prepare(model)
        with pytest.raises(InvalidModelError, match="a dimension cannot be negative"):
            fastrnn.onnx.load(model)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_models_exported_by_fastrnn_run_unchanged(dtype):
    """fastrnn.onnx.export's graphs run on the same kernels: identical outputs."""
    import fastrnn
    from fastrnn.onnx import export

    for batch_first, bidirectional in itertools.product((False, True), repeat=2):
        model = fastrnn.RNN(3, 4, 2, nonlinearity="relu", batch_first=batch_first,
                            bidirectional=bidirectional, dtype=dtype, seed=2)
        proto = export(model, io.BytesIO(), initial_state=True)
        rep = backend.prepare(proto)
        rng = np.random.default_rng(3)
        for N, L in ((2, 5), (1, 1)):
            x = rng.standard_normal((N, L, 3) if batch_first else (L, N, 3)).astype(dtype)
            h0 = rng.standard_normal((2 * (2 if bidirectional else 1), N, 4)).astype(dtype)
            output, h_n = model(x, h0)
            got = rep.run([x, h0])
            np.testing.assert_array_equal(got[0], output)
            np.testing.assert_array_equal(got[1], h_n)


def test_sizes_beyond_32_bit_blas_are_refused_before_allocating():
    """Layout 1 steps through Y with a stride of T*D*H elements: it must fit BLAS's int."""
    T, H = 2**19, 2048  # T * 2 * H = 2**31 > INT_MAX; Y would need 16 GiB
    node = helper.make_node("RNN", ["X", "W", "R"], ["Y"], hidden_size=H, layout=1,
                            direction="bidirectional")
    rep = backend.prepare(make_model([node], ["X", "W", "R"], ["Y"]))
    with pytest.raises(ValueError, match="too large for 32-bit BLAS"):
        rep.run([np.zeros((1, T, 1), np.float32), np.zeros((2, H, 1), np.float32),
                 np.zeros((2, H, H), np.float32)])


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
    outputs (time-major; batch-first ones equal to rounding)."""
    import fastrnn
    from fastrnn.onnx import export

    cls = getattr(fastrnn, op)
    for batch_first, bidirectional in itertools.product((False, True), repeat=2):
        model = cls(3, 4, 2, batch_first=batch_first, bidirectional=bidirectional, dtype=dtype,
                    seed=2)
        rep = backend.prepare(export(model, None, initial_state=True))
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
