"""fastrnn.onnx.load of GRU and LSTM graphs: fastrnn's and torch's files, single
nodes, and clear errors for what the classes cannot hold."""
import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

import fastrnn
import fastrnn.onnx
import reference
from fastrnn.onnx import InvalidModelError, UnsupportedModelError
from reference import assert_close

from onnx_files import OPSET, assert_refused, ort_run, torch_export


# ============================================================== LSTM and GRU
GATED = {"GRU": 3, "LSTM": 4}  # op -> gate blocks G
GATED_ROUND_TRIP = [c for kind in ("lstm", "gru") for c in reference.parity_cases(kind)]


def _gated_weights(rng, op, D=1, H=4, I=3, bias=True, dtype=np.float32):
    G = GATED[op]
    W = rng.uniform(-0.6, 0.6, (D, G * H, I)).astype(dtype)
    R = rng.uniform(-0.6, 0.6, (D, G * H, H)).astype(dtype)
    B = rng.uniform(-0.6, 0.6, (D, 2 * G * H)).astype(dtype) if bias else None
    return W, R, B


def _gated_graph(op, W, R, B=None, *, initial_h=None, initial_c=None, P=None, outputs=None,
                 constants=False, opset=OPSET, **attrs):
    """One GRU or LSTM node reading graph input X; initial_h/initial_c None, "input"
    (a graph input) or an array (an initializer); P an array (an initializer)."""
    D = R.shape[0]
    H = R.shape[2]
    attrs.setdefault("hidden_size", H)
    layout = attrs.get("layout", 0)
    elem = helper.np_dtype_to_tensor_dtype(W.dtype)
    tensors = {"W": W, "R": R}
    if B is not None:
        tensors["B"] = B
    if P is not None:
        tensors["P"] = P
    graph_inputs = [helper.make_tensor_value_info(
        "X", elem, ["T", "N", W.shape[2]] if layout == 0 else ["N", "T", W.shape[2]])]
    names = {}
    for name, value in (("initial_h", initial_h), ("initial_c", initial_c))[:2 if op == "LSTM"
                                                                              else 1]:
        if isinstance(value, np.ndarray):
            tensors[name] = value
            names[name] = name
        elif value == "input":
            graph_inputs.append(helper.make_tensor_value_info(
                name, elem, [D, "N", H] if layout == 0 else ["N", D, H]))
            names[name] = name
    initializers, nodes = [], []
    for name, array in tensors.items():
        if constants:
            nodes.append(helper.make_node("Constant", [], [name],
                                          value=numpy_helper.from_array(array, name)))
        else:
            initializers.append(numpy_helper.from_array(array, name))
    node_inputs = ["X", "W", "R", "B" if B is not None else "", "", names.get("initial_h", "")]
    if op == "LSTM":
        node_inputs += [names.get("initial_c", ""), "P" if P is not None else ""]
    while node_inputs[-1] == "":
        node_inputs.pop()
    node_outputs = ["Y", "Y_h"] + (["Y_c"] if op == "LSTM" else [])
    nodes.append(helper.make_node(op, node_inputs, node_outputs, name="cell", **attrs))
    if outputs is None:
        y_shape = ["T", D, "N", H] if layout == 0 else ["N", "T", D, H]
        state_shape = [D, "N", H] if layout == 0 else ["N", D, H]
        outputs = [helper.make_tensor_value_info(name, elem, y_shape if name == "Y" else
                                                 state_shape) for name in node_outputs]
    graph = helper.make_graph(nodes, "single_cell", graph_inputs, outputs, initializers)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)])
    model.ir_version = 10
    return model


def _gated_model_outputs(model, x, states=()):
    hx = None
    if states:
        hx = tuple(states) if isinstance(model, fastrnn.LSTM) else states[0]
    output, finals = model(x, hx)
    return [output] + (list(finals) if isinstance(model, fastrnn.LSTM) else [finals])


@pytest.mark.parametrize("case", GATED_ROUND_TRIP, ids=[c["id"] for c in GATED_ROUND_TRIP])
def test_lstm_and_gru_round_trip_gives_identical_outputs(case):
    stored = reference.load_case(reference.case_path(case["id"]))
    dtype = np.dtype(case["dtype"]).type
    cls = fastrnn.LSTM if case["kind"] == "lstm" else fastrnn.GRU
    model = cls(**reference.case_config(case), dtype=dtype)
    model.load_state_dict(stored["state"])
    loaded = fastrnn.onnx.load(fastrnn.onnx.export(model, None, initial_state=case["with_hx"]))
    assert type(loaded) is cls and repr(loaded) == repr(model)
    for attribute in ("input_size", "hidden_size", "num_layers", "bias", "batch_first",
                      "bidirectional", "proj_size", "dtype", "mode"):
        assert getattr(loaded, attribute) == getattr(model, attribute), attribute
    for name, array in model.state_dict().items():
        np.testing.assert_array_equal(loaded.state_dict()[name], array, err_msg=name)
    states = [] if stored["hx"] is None else (
        list(stored["hx"]) if case["kind"] == "lstm" else [stored["hx"]])
    want = _gated_model_outputs(model, stored["input"], states)
    got = _gated_model_outputs(loaded, stored["input"], states)
    for g, w in zip(got, want):
        np.testing.assert_array_equal(g, w)  # same weights, same kernel: bitwise equal
    assert_close(got[0], stored["output"], dtype, "loaded output vs torch", kind=case["kind"])


# layers x directions x layouts per op; with and without initial states alternate so that
# each op has both at every layer count (torch's export takes most of the time here).
GATED_TORCH_CONFIGS = [(op, layers, bi, bf, (layers + bi + bf + (op == "GRU")) % 2 == 1)
                       for op in ("LSTM", "GRU") for layers in (1, 2, 3)
                       for bi in (False, True) for bf in (False, True)]


def _torch_gated_args(torch, op, num_layers, bidirectional, batch_first, with_h0, unbatched=False,
                      N=2, L=5):
    D = 2 if bidirectional else 1
    x = torch.randn((L, 3) if unbatched else ((N, L, 3) if batch_first else (L, N, 3)))
    if not with_h0:
        return (x,)
    shape = (D * num_layers, 4) if unbatched else (D * num_layers, N, 4)
    states = [torch.randn(shape) for _ in range(2 if op == "LSTM" else 1)]
    return (x, tuple(states) if op == "LSTM" else states[0])


def _numpy_args(args):
    """torch's (x[, hx]) as numpy (x, [states]): hx an LSTM's (h0, c0) or an h0."""
    if len(args) == 1:
        return args[0].numpy(), []
    hx = args[1]
    return args[0].numpy(), [h.numpy() for h in (hx if isinstance(hx, tuple) else (hx,))]


def _torch_outputs(module, args):
    import torch

    with torch.no_grad():
        output, finals = module(*args)
    return [output.numpy()] + ([f.numpy() for f in finals] if isinstance(finals, tuple)
                               else [finals.numpy()])


@pytest.mark.parametrize("config", GATED_TORCH_CONFIGS,
                         ids=[f"{c[0]}-l{c[1]}-{'bi' if c[2] else 'uni'}-{'bf' if c[3] else 'tm'}-"
                              f"{'hx' if c[4] else 'nohx'}" for c in GATED_TORCH_CONFIGS])
def test_torch_exported_lstm_and_gru_load_and_match_torch(config):
    torch = pytest.importorskip("torch")
    op, num_layers, bidirectional, batch_first, with_h0 = config
    torch.manual_seed(sum(config[1:]) + len(op))
    bias = (num_layers + bidirectional) % 3 != 2
    module = getattr(torch.nn, op)(3, 4, num_layers, bias=bias, batch_first=batch_first,
                                   bidirectional=bidirectional)
    args = _torch_gated_args(torch, op, *config[1:])
    # dynamic axes on two layers, constant folding off on one
    kwargs = {2: dict(dynamic_axes={"input": {0: "a", 1: "b"}}, input_names=["input"]),
              1: dict(do_constant_folding=False)}.get(num_layers, {})
    loaded = fastrnn.onnx.load(torch_export(module, args, **kwargs))
    assert type(loaded).__name__ == op
    assert (loaded.num_layers, loaded.bidirectional, loaded.batch_first) == config[1:4]
    assert (loaded.input_size, loaded.hidden_size, loaded.bias) == (3, 4, bias)
    got = _gated_model_outputs(loaded, *_numpy_args(args))
    for g, w in zip(got, _torch_outputs(module, args)):
        assert_close(g, w, np.float32, f"loaded torch {op} file vs torch", kind=op.lower())


@pytest.mark.parametrize("op", ["LSTM", "GRU"])
@pytest.mark.parametrize("opset, unbatched", [(9, True), (11, False), (14, True), (17, True)])
def test_torch_lstm_and_gru_files_of_older_opsets_and_unbatched_inputs(op, opset, unbatched):
    torch = pytest.importorskip("torch")
    torch.manual_seed(opset)
    module = getattr(torch.nn, op)(3, 4, 2, bidirectional=True, batch_first=opset % 2 == 1)
    for with_h0 in (True, False):
        args = _torch_gated_args(torch, op, 2, True, module.batch_first, with_h0, unbatched)
        loaded = fastrnn.onnx.load(torch_export(module, args, opset_version=opset))
        assert loaded.batch_first == module.batch_first
        for g, w in zip(_gated_model_outputs(loaded, *_numpy_args(args)),
                        _torch_outputs(module, args)):
            assert_close(g, w, np.float32, f"{op} opset {opset}")


def test_torch_float64_lstm_and_gru_files_load_as_float64():
    torch = pytest.importorskip("torch")
    torch.manual_seed(0)
    for op in ("LSTM", "GRU"):
        module = getattr(torch.nn, op)(3, 4, 2, bidirectional=True).double()
        x = torch.randn(5, 2, 3, dtype=torch.float64)
        loaded = fastrnn.onnx.load(torch_export(module, (x,)))
        assert loaded.dtype == np.float64
        for g, w in zip(_gated_model_outputs(loaded, x.numpy()), _torch_outputs(module, (x,))):
            assert_close(g, w, np.float64, f"float64 torch {op} file")


@pytest.mark.parametrize("op", ["LSTM", "GRU"])
@pytest.mark.parametrize("direction", ["forward", "bidirectional"])
@pytest.mark.parametrize("bias", [True, False])
@pytest.mark.parametrize("initial", [None, "input", "zeros"])
@pytest.mark.parametrize("constants", [False, True])
def test_single_lstm_and_gru_node_loads_and_matches_onnxruntime(op, direction, bias, initial,
                                                                constants):
    rng = np.random.default_rng(len(op) + len(direction) + bias)
    D, H, I, T, N = (2 if direction == "bidirectional" else 1), 4, 3, 6, 2
    W, R, B = _gated_weights(rng, op, D, H, I, bias)
    state = np.zeros((D, N, H), np.float32) if initial == "zeros" else initial
    extra = {"linear_before_reset": 1} if op == "GRU" else {}
    # zero peepholes are no peepholes: accepted
    P = np.zeros((D, 3 * H), np.float32) if op == "LSTM" and bias else None
    proto = _gated_graph(op, W, R, B, initial_h=state, initial_c=state, P=P, direction=direction,
                         constants=constants, **extra)
    onnx.checker.check_model(proto)
    model = fastrnn.onnx.load(proto)
    assert type(model).__name__ == op
    assert (model.input_size, model.hidden_size, model.num_layers) == (I, H, 1)
    assert model.bidirectional == (D == 2) and model.bias == bias and not model.batch_first

    x = rng.standard_normal((T, N, I)).astype(np.float32)
    feed, states = {"X": x}, []
    if initial == "input":
        for name in ["initial_h", "initial_c"][:2 if op == "LSTM" else 1]:
            feed[name] = rng.standard_normal((D, N, H)).astype(np.float32)
            states.append(feed[name])
    expected = ort_run(proto, feed)
    got = _gated_model_outputs(model, x, states)
    assert_close(got[0], expected[0].transpose(0, 2, 1, 3).reshape(T, N, D * H), np.float32, "Y")
    for g, e, name in zip(got[1:], expected[1:], ("Y_h", "Y_c")):
        assert_close(g, e, np.float32, name)


@pytest.mark.parametrize("op", ["LSTM", "GRU"])
def test_single_lstm_and_gru_node_with_layout_1_is_batch_first(op):
    """onnxruntime refuses layout=1, so compare with the layout-0 node on transposed data."""
    rng = np.random.default_rng(7)
    D, H, I, T, N = 2, 5, 3, 4, 3
    W, R, B = _gated_weights(rng, op, D, H, I)
    extra = {"linear_before_reset": 1} if op == "GRU" else {}
    model = fastrnn.onnx.load(_gated_graph(op, W, R, B, direction="bidirectional", layout=1,
                                           initial_h="input", initial_c="input", **extra))
    assert model.batch_first
    x = rng.standard_normal((N, T, I)).astype(np.float32)
    states = [rng.standard_normal((N, D, H)).astype(np.float32) for _ in range(1 + (op == "LSTM"))]
    feed = dict(zip(["X", "initial_h", "initial_c"],
                    [x.transpose(1, 0, 2)] + [s.transpose(1, 0, 2) for s in states]))
    expected = ort_run(_gated_graph(op, W, R, B, direction="bidirectional", initial_h="input",
                                 initial_c="input", **extra), feed)
    # The loaded model takes torch's states [D*layers, N, H] and batch-first input.
    got = _gated_model_outputs(model, x, [s.transpose(1, 0, 2) for s in states])
    assert_close(got[0], expected[0].transpose(2, 0, 1, 3).reshape(N, T, D * H), np.float32,
                 "layout=1 output")
    for g, e in zip(got[1:], expected[1:]):
        assert_close(g, e, np.float32, "layout=1 states")


def test_lstm_and_gru_without_hidden_size_w_gives_it():
    rng = np.random.default_rng(20)
    for op in GATED:
        W, R, B = _gated_weights(rng, op, 2, 4, 3)
        extra = {"linear_before_reset": 1} if op == "GRU" else {}
        model = fastrnn.onnx.load(_gated_graph(op, W, R, B, hidden_size=None,
                                               direction="bidirectional", **extra))
        assert model.hidden_size == 4 and type(model).__name__ == op
        assert fastrnn.onnx.load(_gated_graph(op, W, R, B, direction="bidirectional",
                                              **extra)).state_dict().keys() == \
            model.state_dict().keys()


def test_lstm_with_h0_input_and_zero_c0_loads():
    """A graph whose initial_c is zero while initial_h is an input: the model computes it
    when called with zeros for c0."""
    rng = np.random.default_rng(21)
    W, R, B = _gated_weights(rng, "LSTM", 1, 3, 2)
    proto = _gated_graph("LSTM", W, R, B, initial_h="input")
    model = fastrnn.onnx.load(proto)
    x = rng.standard_normal((4, 2, 2)).astype(np.float32)
    h0 = rng.standard_normal((1, 2, 3)).astype(np.float32)
    expected = ort_run(proto, {"X": x, "initial_h": h0})
    got = _gated_model_outputs(model, x, [h0, np.zeros_like(h0)])
    for g, e in zip(got[1:], expected[1:]):
        assert_close(g, e, np.float32, "h0 input, c0 zero")


@pytest.mark.parametrize("op, attrs, match, error", [
    ("LSTM", dict(clip=3.0), "unsupported attribute clip=3.0; fastrnn.LSTM does not clip",
     UnsupportedModelError),
    ("GRU", dict(direction="reverse"), r"unsupported attribute direction='reverse'; fastrnn.GRU",
     UnsupportedModelError),
    ("LSTM", dict(input_forget=1), "unsupported attribute input_forget=1; fastrnn.LSTM has "
     "separate input and forget gates", UnsupportedModelError),
    ("GRU", dict(linear_before_reset=0), "unsupported attribute linear_before_reset=0; "
     r"fastrnn.GRU \(as torch's GRU\) applies the reset gate after", UnsupportedModelError),
    ("GRU", {}, "unsupported attribute linear_before_reset=0", UnsupportedModelError),
    ("LSTM", dict(activations=["HardSigmoid", "Tanh", "Tanh"]),
     r"unsupported attribute activations=\['HardSigmoid', 'Tanh', 'Tanh'\]; fastrnn.LSTM "
     r"computes \['Sigmoid', 'Tanh', 'Tanh'\] in each direction", UnsupportedModelError),
    ("GRU", dict(activations=["Sigmoid", "Relu"]),
     r"unsupported attribute activations=\['Sigmoid', 'Relu'\]", UnsupportedModelError),
    ("LSTM", dict(activations=["Sigmoid", "Tanh"]),
     r"activations must name 3 functions \(f, g, h\) per direction", InvalidModelError),
    ("LSTM", dict(input_forget=3), "input_forget must be 0 or 1, got 3", InvalidModelError),
    ("GRU", dict(input_forget=1), r"attribute\(s\) input_forget not supported",
     UnsupportedModelError),
])
def test_lstm_and_gru_attributes_torch_cannot_hold_are_refused_by_name(op, attrs, match, error):
    rng = np.random.default_rng(0)
    W, R, B = _gated_weights(rng, op, 2 if attrs.get("direction") == "bidirectional" else 1, 3, 2)
    if op == "GRU":
        attrs = dict(dict(linear_before_reset=1), **attrs) if attrs else {}
    proto = _gated_graph(op, W, R, B, **attrs)
    error_raised = assert_refused(proto, match, error)
    assert str(error_raised).startswith(f"node 0 ({op} 'cell')")
    # the backend runs what load refuses for lack of a torch equivalent, and refuses
    # what it refuses with the same words
    try:
        fastrnn.onnx.backend.prepare(proto)
    except UnsupportedModelError as exc:
        assert str(exc) == str(error_raised)
    else:
        assert type(error_raised) is UnsupportedModelError


def test_peepholes_are_refused_unless_zero():
    rng = np.random.default_rng(1)
    W, R, B = _gated_weights(rng, "LSTM", 1, 3, 2)
    P = np.zeros((1, 9), np.float32)
    P[0, 4] = 0.5
    assert_refused(_gated_graph("LSTM", W, R, B, P=P),
             r"node 0 \(LSTM 'cell'\) \(layer 0\): unsupported input P \(peepholes\) with "
             "non-zero values; fastrnn.LSTM has no peepholes")
    assert_refused(_gated_graph("LSTM", W, R, B, P=np.zeros((1, 6), np.float32)),
             r"P has shape \[1, 6\], which contradicts hidden_size=3 .* expected \[1, 9\]",
             InvalidModelError)
    proto = _gated_graph("LSTM", W, R, B)
    proto.graph.node[-1].input.extend(["", "", "", "P"])
    proto.graph.input.append(helper.make_tensor_value_info("P", TensorProto.FLOAT, [1, 9]))
    assert_refused(proto, r"P \(peepholes\) \(input 7\) must be a constant in the file, got a graph "
                    "input")


@pytest.mark.parametrize("op, which, shape, match", [
    ("LSTM", "W", (2, 12, 2), r"W has shape \[2, 12, 2\], which contradicts hidden_size=3 "
                              r"and direction='forward': expected \[1, 12, input_size\]"),
    ("LSTM", "W", (1, 15, 2), r"W has shape \[1, 15, 2\], which contradicts hidden_size=3"),
    ("LSTM", "R", (1, 12, 4), r"R has shape \[1, 12, 4\].*expected \[1, 12, 3\]"),
    ("LSTM", "B", (1, 12), r"B has shape \[1, 12\].*expected \[1, 24\]"),
    ("GRU", "W", (1, 12, 2), r"W has shape \[1, 12, 2\], which contradicts hidden_size=3 "
                             r"and direction='forward': expected \[1, 9, input_size\]"),
    ("GRU", "B", (1, 9), r"B has shape \[1, 9\].*expected \[1, 18\]"),
])
def test_lstm_and_gru_weight_shapes_contradicting_hidden_size_are_refused(op, which, shape, match):
    rng = np.random.default_rng(0)
    tensors = dict(zip("WRB", _gated_weights(rng, op, 1, 3, 2)))
    tensors[which] = rng.standard_normal(shape).astype(np.float32)
    extra = {"linear_before_reset": 1} if op == "GRU" else {}
    assert_refused(_gated_graph(op, tensors["W"], tensors["R"], tensors["B"], hidden_size=3, **extra),
             match, InvalidModelError)


def test_lstm_wiring_that_is_not_torch_s_is_refused():
    rng = np.random.default_rng(2)
    W, R, B = _gated_weights(rng, "LSTM", 1, 3, 2)
    assert_refused(_gated_graph("LSTM", W, R, B, initial_c=np.ones((1, 2, 3), np.float32)),
             "initial_c must be absent, zeros, or rows of a graph input, got a constant that is "
             "not zero")
    # one input used as both h0 and c0
    proto = _gated_graph("LSTM", W, R, B, initial_h="input")
    proto.graph.node[-1].input.append("initial_h")
    assert_refused(proto, "graph input 'initial_h' is used as both the initial hidden state and the "
                    "initial cell state")
    # Y_h and Y_c concatenated into one output
    model = fastrnn.LSTM(2, 3, 2, seed=0)
    proto = fastrnn.onnx.export(model, None)
    stack = [n for n in proto.graph.node if n.op_type == "Concat"][0]
    stack.input[1] = stack.input[1].replace("Y_h", "Y_c")
    assert_refused(proto, r"concatenates hidden states \(Y_h\) with cell states \(Y_c\)")
    # c0 for one layer only
    model = fastrnn.LSTM(2, 3, 2, seed=0)
    proto = fastrnn.onnx.export(model, None, initial_state=True)
    lstm = [n for n in proto.graph.node if n.op_type == "LSTM"][1]
    lstm.input[6] = ""
    assert_refused(proto, "initial_c: some layers start from the graph input c0 and others from zeros "
                    "or another input; fastrnn.LSTM takes one c0 for all layers")


def test_projected_lstm_files_load_only_as_fastrnn_writes_them():
    """fastrnn's projected LSTM graphs (R = MatMul(W_hh, W_hr), Y and Y_h times W_hr^T, h0
    through appended input features) load back; variations that compute something else
    are refused by name."""
    model = fastrnn.LSTM(2, 4, 2, proj_size=2, bidirectional=True, seed=0)

    def exported():
        return fastrnn.onnx.export(model, None, initial_state=True)

    x = np.random.default_rng(0).standard_normal((3, 2, 2)).astype(np.float32)
    hx = (np.ones((4, 2, 2), np.float32), np.ones((4, 2, 4), np.float32))
    loaded = fastrnn.onnx.load(exported())
    for g, w in zip(_gated_model_outputs(loaded, x, hx), _gated_model_outputs(model, x, hx)):
        np.testing.assert_array_equal(g, w)

    proto = exported()  # an output before the projection
    proto.graph.output.append(helper.make_tensor_value_info("U_h_l1", TensorProto.FLOAT, None))
    assert_refused(proto, "graph output 'U_h_l1' reads layer 1's unprojected Y_h")

    proto = exported()  # a projection by another matrix
    project = [n for n in proto.graph.node if n.name == "project_Y_l0"][0]
    W_hr = [numpy_helper.to_array(i) for i in proto.graph.initializer if i.name == "W_hr_l0"][0]
    proto.graph.initializer.append(numpy_helper.from_array(
        np.ascontiguousarray(W_hr.transpose(0, 2, 1)) + 1, "not_W_hr_T"))
    project.input[1] = "not_W_hr_T"
    assert_refused(proto, r"node \d+ \(MatMul 'project_Y_l0'\): fastrnn reads MatMul after a "
                    "recurrent node only as an LSTM layer's projection")

    proto = exported()  # h0 features with other weights
    for init in proto.graph.initializer:
        if init.name == "W_l1":
            W = numpy_helper.to_array(init).copy()
            W[0, 0, -1] += 1
            init.CopyFrom(numpy_helper.from_array(W, "W_l1"))
    assert_refused(proto, r"\(layer 1\): X has initial states appended that are not h0 of each "
                    "direction at its first step")

    proto = exported()  # the backward direction's h0 at the first step instead of the last
    steps = [n for n in proto.graph.node if n.name == "h0_steps_l0_d1"][0]
    steps.input[0], steps.input[1] = steps.input[1], steps.input[0]
    assert_refused(proto, r"\(layer 0\): X has initial states appended that are not h0")


@pytest.mark.parametrize("op", ["Squeeze", "Unsqueeze"])
def test_load_and_the_backend_read_axes_alike(op):
    # axes are an attribute before opset 13 and an input from then on: an attribute at
    # opset 13 is refused by both readers, the same way
    node = helper.make_node(op, ["x"], ["y"], axes=[0])
    model = helper.make_model(
        helper.make_graph([node], "axes", [helper.make_tensor_value_info("x", TensorProto.FLOAT,
                                                                         [1, 2])],
                          [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)]),
        opset_imports=[helper.make_opsetid("", 13)])
    for read in (fastrnn.onnx.load, fastrnn.onnx.backend.prepare):
        with pytest.raises(UnsupportedModelError, match="axes"):
            read(model)
