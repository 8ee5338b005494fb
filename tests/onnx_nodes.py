"""Building ONNX recurrent nodes and models for the backend tests, and running them in
onnxruntime and in fastrnn's backend: shared by tests/test_onnx_backend*.py."""

import numpy as np
import onnxruntime as ort
from onnx import TensorProto, helper, numpy_helper

import onnx_reference
import reference
from fastrnn.onnx import backend

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


# ------------------------------------------------------------------ shared by the test files
SEQ_MODES = ("none", "full", "short", "with_zero")


OUTPUT_MODES = (("Y", "Y_h"), ("Y",), ("", "Y_h"))


def i64(*values):
    return np.array(values, np.int64)


def simple_node(rng=None, dtype=np.float32, **attributes):
    rng = rng or np.random.default_rng(8)
    arrays = rnn_arrays(rng, 4, 2, 3, 5, 1, dtype, h0=True)
    model, feeds = rnn_model(arrays, dict(dict(direction="forward", hidden_size=5), **attributes),
                             initializers=("W", "R", "B"))
    return arrays, model, feeds
