"""fastrnn.onnx.load: fastrnn's own files, torch's files, single RNN nodes, and
clear errors for everything else (GRU and LSTM graphs: test_onnx_load_gated.py).

Tests that export with torch skip without it; the rest compare with
onnxruntime, the stored torch outputs, or the original fastrnn model.
"""
import io

import numpy as np
import onnx
import onnxruntime
import pytest
from onnx import TensorProto, helper, numpy_helper

import fastrnn
import fastrnn.onnx
import reference
from fastrnn.onnx import InvalidModelError, UnsupportedModelError
from reference import assert_close

from onnx_files import OPSET, assert_refused, ort_run, torch_export

CASES = reference.parity_cases()


# ============================================================== helpers


def _rnn_graph(W, R, B=None, *, hidden_size="auto", initial_h=None, inputs_extra=(),
               constants=False, nodes_after=(), outputs=None, op_type="RNN", opset=OPSET,
               **attrs):
    """A model of one RNN node reading graph input X; weights as initializers or Constants."""
    D, H, I = R.shape[0], R.shape[1], W.shape[-1]
    if hidden_size == "auto":
        attrs["hidden_size"] = H
    elif hidden_size is not None:
        attrs["hidden_size"] = hidden_size
    elem = helper.np_dtype_to_tensor_dtype(W.dtype)
    layout = attrs.get("layout", 0)
    tensors = {"W": W, "R": R}
    if B is not None:
        tensors["B"] = B
    if isinstance(initial_h, np.ndarray):
        tensors["initial_h"] = initial_h
    initializers, nodes = [], []
    for name, array in tensors.items():
        if constants:
            nodes.append(helper.make_node("Constant", [], [name],
                                          value=numpy_helper.from_array(array, name)))
        else:
            initializers.append(numpy_helper.from_array(array, name))
    x_shape = ["T", "N", I] if layout == 0 else ["N", "T", I]
    graph_inputs = [helper.make_tensor_value_info("X", elem, x_shape)]
    h_input = ""
    if isinstance(initial_h, np.ndarray):
        h_input = "initial_h"
    elif initial_h == "input":
        h_input = "initial_h"
        h_shape = [D, "N", H] if layout == 0 else ["N", D, H]
        graph_inputs.append(helper.make_tensor_value_info("initial_h", elem, h_shape))
    graph_inputs += list(inputs_extra)
    node_inputs = ["X", "W", "R", "B" if B is not None else "", attrs.pop("sequence_lens", ""),
                   h_input]
    while node_inputs and node_inputs[-1] == "":
        node_inputs.pop()
    nodes.append(helper.make_node(op_type, node_inputs, ["Y", "Y_h"], name="rnn", **attrs))
    nodes += list(nodes_after)
    if outputs is None:
        y_shape = ["T", D, "N", H] if layout == 0 else ["N", "T", D, H]
        outputs = [helper.make_tensor_value_info("Y", elem, y_shape),
                   helper.make_tensor_value_info("Y_h", elem,
                                                 [D, "N", H] if layout == 0 else ["N", D, H])]
    graph = helper.make_graph(nodes, "single_rnn", graph_inputs, outputs, initializers)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)])
    model.ir_version = 10
    return model


def _weights(rng, D=1, H=4, I=3, bias=True, dtype=np.float32):
    W = rng.uniform(-0.6, 0.6, (D, H, I)).astype(dtype)
    R = rng.uniform(-0.6, 0.6, (D, H, H)).astype(dtype)
    B = rng.uniform(-0.6, 0.6, (D, 2 * H)).astype(dtype) if bias else None
    return W, R, B


def _tiny_file(**kwargs):
    model = fastrnn.RNN(2, 3, seed=0, **kwargs)
    return model, fastrnn.onnx.export(model, None).SerializeToString()


# ============================================================== round trip
@pytest.mark.parametrize("case", CASES, ids=[c["id"] for c in CASES])
def test_round_trip_gives_identical_outputs(case):
    stored = reference.load_case(reference.case_path(case["id"]))
    dtype = np.dtype(case["dtype"]).type
    model = fastrnn.RNN(**reference.case_config(case), dtype=dtype)
    model.load_state_dict(stored["state"])
    loaded = fastrnn.onnx.load(fastrnn.onnx.export(model, None, initial_state=case["with_hx"]))
    assert repr(loaded) == repr(model)
    for attribute in ("input_size", "hidden_size", "num_layers", "nonlinearity", "bias",
                      "batch_first", "bidirectional", "dtype"):
        assert getattr(loaded, attribute) == getattr(model, attribute), attribute
    for name, array in model.state_dict().items():
        np.testing.assert_array_equal(loaded.state_dict()[name], array, err_msg=name)
    want = model(stored["input"], stored["hx"])
    got = loaded(stored["input"], stored["hx"])
    for g, w in zip(got, want):
        np.testing.assert_array_equal(g, w)  # same weights, same kernel: bitwise equal
    assert_close(got[0], stored["output"], dtype, "loaded output vs torch")


def test_load_reads_paths_bytes_file_objects_and_protos(tmp_path):
    model = fastrnn.RNN(3, 4, 2, bidirectional=True, seed=1)
    proto = fastrnn.onnx.export(model, tmp_path / "m.onnx")
    data = proto.SerializeToString()
    x = np.random.default_rng(0).standard_normal((5, 2, 3)).astype(np.float32)
    want = model(x)[0]
    with open(tmp_path / "m.onnx", "rb") as file:
        sources = [str(tmp_path / "m.onnx"), tmp_path / "m.onnx", data, bytearray(data),
                   memoryview(data), io.BytesIO(data), proto]
        sources.append(file)
        for source in sources:
            np.testing.assert_array_equal(fastrnn.onnx.load(source)(x)[0], want)
    with pytest.raises(TypeError, match="path, bytes, a binary file object"):
        fastrnn.onnx.load(12)
    with open(tmp_path / "m.onnx", "r", encoding="latin-1") as text_file:
        with pytest.raises(TypeError, match="binary mode"):
            fastrnn.onnx.load(text_file)


# ============================================================== torch's files
TORCH_CONFIGS = [(layers, bi, bf, h0) for layers in (1, 2, 3) for bi in (False, True)
                 for bf in (False, True) for h0 in (False, True)]
TORCH_OPTIONS = {
    "plain": {},
    "named_dynamic": "named_dynamic",
    "no_constant_folding": dict(do_constant_folding=False),
    "initializers_as_inputs": dict(keep_initializers_as_inputs=True),
}


@pytest.mark.parametrize("option", list(TORCH_OPTIONS))
@pytest.mark.parametrize("config", TORCH_CONFIGS,
                         ids=[f"l{c[0]}-{'bi' if c[1] else 'uni'}-{'bf' if c[2] else 'tm'}-"
                              f"{'h0' if c[3] else 'noh0'}" for c in TORCH_CONFIGS])
def test_torch_exported_rnn_loads_and_matches_torch(config, option):
    torch = pytest.importorskip("torch")
    num_layers, bidirectional, batch_first, with_h0 = config
    torch.manual_seed(sum(config) + len(option))
    nonlinearity = "relu" if (num_layers + bidirectional) % 2 else "tanh"
    bias = option != "plain" or num_layers != 2
    module = torch.nn.RNN(3, 4, num_layers, nonlinearity=nonlinearity, bias=bias,
                          batch_first=batch_first, bidirectional=bidirectional)
    D = 2 if bidirectional else 1
    x = torch.randn((2, 5, 3) if batch_first else (5, 2, 3))
    args = (x, torch.randn(D * num_layers, 2, 4)) if with_h0 else (x,)
    kwargs = TORCH_OPTIONS[option]
    if kwargs == "named_dynamic":
        names = ["x", "h"] if with_h0 else ["x"]
        axes = {"x": {0: "a", 1: "b"}, "y": {0: "a", 1: "b"}}
        if with_h0:
            axes["h"] = {1: "batch"}
        kwargs = dict(input_names=names, output_names=["y", "hn"], dynamic_axes=axes)
    loaded = fastrnn.onnx.load(torch_export(module, args, **kwargs))
    assert (loaded.num_layers, loaded.bidirectional, loaded.batch_first) == config[:3]
    assert (loaded.input_size, loaded.hidden_size) == (3, 4)
    assert (loaded.nonlinearity, loaded.bias, loaded.dtype) == (nonlinearity, bias, np.float32)
    with torch.no_grad():
        want = module(*args)
    got = loaded(*[a.numpy() for a in args])
    for g, w, what in zip(got, want, ("output", "h_n")):
        assert_close(g, w.numpy(), np.float32, f"loaded torch file {what} vs torch")
    if option == "named_dynamic":  # the same loaded model serves other shapes too
        x = torch.randn((3, 7, 3) if batch_first else (7, 3, 3))
        with torch.no_grad():
            want = module(x)
        assert_close(loaded(x.numpy())[0], want[0].numpy(), np.float32)


@pytest.mark.parametrize("opset", [9, 11, 14, 17])
@pytest.mark.parametrize("unbatched", [False, True])
def test_torch_files_of_older_opsets_and_unbatched_inputs(opset, unbatched):
    torch = pytest.importorskip("torch")
    torch.manual_seed(opset)
    module = torch.nn.RNN(3, 4, 2, bidirectional=True, batch_first=opset % 2 == 1)
    x = torch.randn((5, 3) if unbatched else ((2, 5, 3) if module.batch_first else (5, 2, 3)))
    h0 = torch.randn((4, 4) if unbatched else (4, 2, 4))
    loaded = fastrnn.onnx.load(torch_export(module, (x, h0), opset_version=opset))
    assert loaded.batch_first == module.batch_first
    with torch.no_grad():
        want = module(x, h0)
    for g, w in zip(loaded(x.numpy(), h0.numpy()), want):
        assert_close(g, w.numpy(), np.float32, f"opset {opset}")


def test_torch_float64_file_loads_as_float64():
    torch = pytest.importorskip("torch")
    torch.manual_seed(0)
    module = torch.nn.RNN(3, 4, 2, bidirectional=True).double()
    x = torch.randn(5, 2, 3, dtype=torch.float64)
    loaded = fastrnn.onnx.load(torch_export(module, (x,)))
    assert loaded.dtype == np.float64
    with torch.no_grad():
        want = module(x)
    for g, w in zip(loaded(x.numpy()), want):
        assert_close(g, w.numpy(), np.float64, "float64 torch file")


# ============================================================== single RNN nodes
@pytest.mark.parametrize("direction", ["forward", "bidirectional"])
@pytest.mark.parametrize("activation", ["Tanh", "Relu"])
@pytest.mark.parametrize("bias", [True, False])
@pytest.mark.parametrize("initial_h", [None, "input", "zeros"])
@pytest.mark.parametrize("constants", [False, True])
def test_single_rnn_node_loads_and_matches_onnxruntime(direction, activation, bias, initial_h,
                                                       constants):
    rng = np.random.default_rng(len(direction) + len(activation) + bias)
    D, H, I, T, N = (2 if direction == "bidirectional" else 1), 4, 3, 6, 2
    W, R, B = _weights(rng, D, H, I, bias)
    h = np.zeros((D, N, H), np.float32) if initial_h == "zeros" else initial_h
    proto = _rnn_graph(W, R, B, direction=direction, activations=[activation] * D,
                       initial_h=h, constants=constants)
    onnx.checker.check_model(proto)
    model = fastrnn.onnx.load(proto)
    assert (model.input_size, model.hidden_size, model.num_layers) == (I, H, 1)
    assert model.bidirectional == (D == 2) and model.nonlinearity == activation.lower()
    assert model.bias == bias and not model.batch_first

    x = rng.standard_normal((T, N, I)).astype(np.float32)
    feed = {"X": x}
    h0 = None
    if initial_h == "input":
        h0 = feed["initial_h"] = rng.standard_normal((D, N, H)).astype(np.float32)
    Y, Y_h = ort_run(proto, feed)
    output, h_n = model(x, h0)
    assert_close(output, Y.transpose(0, 2, 1, 3).reshape(T, N, D * H), np.float32, "Y")
    assert_close(h_n, Y_h, np.float32, "Y_h")


@pytest.mark.parametrize("direction", ["forward", "bidirectional"])
def test_single_rnn_node_with_layout_1_is_batch_first(direction):
    """onnxruntime refuses layout=1, so compare with the layout-0 node on transposed data."""
    rng = np.random.default_rng(7)
    D, H, I, T, N = (2 if direction == "bidirectional" else 1), 5, 3, 4, 3
    W, R, B = _weights(rng, D, H, I)
    model = fastrnn.onnx.load(_rnn_graph(W, R, B, direction=direction, layout=1))
    assert model.batch_first
    x = rng.standard_normal((N, T, I)).astype(np.float32)
    Y, Y_h = ort_run(_rnn_graph(W, R, B, direction=direction), {"X": x.transpose(1, 0, 2)})
    output, h_n = model(x)
    expected = Y.transpose(2, 0, 1, 3).reshape(N, T, D * H)  # [T,D,N,H] -> [N,T,D*H]
    assert_close(output, expected, np.float32, "layout=1 output")
    assert_close(h_n, Y_h, np.float32, "layout=1 h_n")


def test_single_node_without_activations_defaults_to_tanh():
    rng = np.random.default_rng(3)
    W, R, B = _weights(rng, 2, 3, 2)
    model = fastrnn.onnx.load(_rnn_graph(W, R, B, direction="bidirectional"))
    assert model.nonlinearity == "tanh" and model.bidirectional


def test_single_node_float64():
    rng = np.random.default_rng(4)
    W, R, B = _weights(rng, 1, 3, 2, dtype=np.float64)
    model = fastrnn.onnx.load(_rnn_graph(W, R, B))
    assert model.dtype == np.float64
    np.testing.assert_array_equal(model.weight_ih_l0, W[0])
    np.testing.assert_array_equal(model.bias_hh_l0, B[0, 3:])


# ============================================================== load and the backend agree
def _load_and_prepare(proto):
    """(loaded model or the error load raised, prepared rep or the error prepare raised)."""
    results = []
    for read in (fastrnn.onnx.load, fastrnn.onnx.backend.prepare):
        try:
            results.append(read(proto))
        except UnsupportedModelError as exc:
            results.append(exc)
    return results


def _same_outputs(model, rep, D, I, seed=0):
    x = np.random.default_rng(seed).standard_normal((5, 2, I)).astype(np.float32)
    Y, Y_h = rep.run({"X": x})
    T, _, N, H = Y.shape[0], D, Y.shape[2], Y.shape[3]
    output, h_n = model(x)
    assert_close(output, Y.transpose(0, 2, 1, 3).reshape(T, N, D * H), np.float32,
                 "loaded model vs backend: output")
    assert_close(h_n, Y_h, np.float32, "loaded model vs backend: h_n")


def test_without_hidden_size_w_gives_it_to_load_and_backend():
    """The operator makes hidden_size optional; load used to refuse what the backend ran."""
    rng = np.random.default_rng(20)
    W, R, B = _weights(rng, 2, 4, 3)
    without = _rnn_graph(W, R, B, hidden_size=None, direction="bidirectional")
    model, rep = _load_and_prepare(without)
    assert model.hidden_size == 4 and model.bidirectional
    _same_outputs(model, rep, 2, 3)
    with_attribute = fastrnn.onnx.load(_rnn_graph(W, R, B, direction="bidirectional"))
    x = rng.standard_normal((3, 2, 3)).astype(np.float32)
    for a, b in zip(model(x), with_attribute(x)):
        np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("activation", ["Tanh", "Relu"])
def test_a_forward_node_may_repeat_its_activation(activation):
    """The schema's default activations list has two entries whatever the direction; tools
    that write defaults out give a forward node two equal names. Both readers take it."""
    rng = np.random.default_rng(21)
    W, R, B = _weights(rng, 1, 3, 2)
    model, rep = _load_and_prepare(_rnn_graph(W, R, B, activations=[activation] * 2))
    assert model.nonlinearity == activation.lower() and not model.bidirectional
    _same_outputs(model, rep, 1, 2)
    # still one function per direction: two different names are refused by both
    errors = _load_and_prepare(_rnn_graph(W, R, B, activations=["Tanh", "Relu"]))
    assert all(isinstance(e, InvalidModelError) for e in errors)
    assert str(errors[0]) == str(errors[1])
    assert "activations must name one function per direction (1 for direction 'forward')" \
        in str(errors[0])


def test_output_sequence_is_an_attribute_of_rnn_1_only():
    rng = np.random.default_rng(22)
    W, R, B = _weights(rng, 1, 3, 2)
    model, rep = _load_and_prepare(_rnn_graph(W, R, B, opset=6, output_sequence=1))
    _same_outputs(model, rep, 1, 2)
    errors = _load_and_prepare(_rnn_graph(W, R, B, opset=7, output_sequence=1))
    assert all(type(e) is UnsupportedModelError for e in errors)
    assert str(errors[0]) == str(errors[1])
    assert "attribute(s) output_sequence not supported" in str(errors[0])


@pytest.mark.parametrize("attrs", [
    dict(clip=float("inf")), dict(activations=["relu"]), dict(layout=1),
    dict(direction="bidirectional", activations=["RELU", "Relu"]),
    dict(clip=2.0), dict(direction="reverse"), dict(activations=["Sigmoid"]),
    dict(direction="bidirectional", activations=["Tanh", "Relu"]),
    dict(activations=["LeakyRelu"], activation_alpha=[0.1]),
    dict(activations=["Affine"], activation_beta=[0.5]),
    dict(hidden_size=-1), dict(layout=3), dict(clip=float("nan")),
    dict(direction="both"), dict(activations=["Gelu"]),
    dict(activations=["Tanh"], activation_beta=[1.0]), dict(activations=["ScaledTanh"]),
    dict(activations="Tanh"), dict(hidden_size=3.0),
], ids=repr)
def test_load_refuses_only_what_fastrnn_rnn_cannot_hold(attrs):
    """One parser reads RNN attributes for both: a node the backend refuses, load refuses
    with the same message; a node the backend runs, load either loads (and computes the
    same) or refuses with UnsupportedModelError naming the attribute fastrnn.RNN lacks."""
    rng = np.random.default_rng(23)
    D = 2 if attrs.get("direction") == "bidirectional" else 1
    W, R, B = _weights(rng, D, 3, 2)
    loaded, prepared = _load_and_prepare(_rnn_graph(W, R, B, **attrs))
    if isinstance(prepared, Exception):
        assert type(loaded) is type(prepared) and str(loaded) == str(prepared)
        assert str(prepared).startswith("node 0 (RNN 'rnn'): ")
    elif isinstance(loaded, Exception):
        assert type(loaded) is UnsupportedModelError
        assert any(f"{name}=" in str(loaded) for name in attrs), str(loaded)
    elif attrs.get("layout") != 1:
        _same_outputs(loaded, prepared, D, 2)
    else:
        assert loaded.batch_first


# ============================================================== refusals


def test_layers_of_different_ops_are_refused():
    """A stack whose layers are RNN, GRU or LSTM nodes of different ops is no fastrnn model."""
    proto = fastrnn.onnx.export(fastrnn.GRU(2, 3, 2, seed=0), None)
    gru = [n for n in proto.graph.node if n.op_type == "GRU"][1]
    rnn = fastrnn.onnx.export(fastrnn.RNN(6, 3, seed=0), None)
    (rnn_node,) = [n for n in rnn.graph.node if n.op_type == "RNN"]
    for init in rnn.graph.initializer:
        if init.name[0] in "WRB":
            init.name = init.name.replace("_l0", "_rnn")
            proto.graph.initializer.append(init)
    gru.op_type = "RNN"
    del gru.input[1:]
    gru.input.extend(["W_rnn", "R_rnn", "B_rnn"])
    del gru.attribute[:]
    gru.attribute.extend(rnn_node.attribute)
    assert_refused(proto, r"node \d+ \(RNN 'GRU_l1'\) \(layer 1\): op 'RNN' differs from layer 0's "
                    "'GRU'")


def test_an_op_around_the_recurrent_ones_loads_the_whole_graph_and_others_are_refused():
    rng = np.random.default_rng(0)
    W, R, B = _weights(rng, 1, 3, 2)
    proto = _rnn_graph(W, R, B, nodes_after=[helper.make_node("Add", ["Y_h", "Y_h"], ["Z"])],
                       outputs=[helper.make_tensor_value_info("Z", TensorProto.FLOAT, None)])
    model = fastrnn.onnx.load(proto)  # a layer around the RNN: the whole graph, as a GraphModel
    assert isinstance(model, fastrnn.onnx.GraphModel)
    custom = _rnn_graph(W, R, B, nodes_after=[
        helper.make_node("Gelu", ["Y_h"], ["Z"], domain="com.example")])
    assert_refused(custom, "Gelu of domain 'com.example'")
    unknown = _rnn_graph(W, R, B, nodes_after=[helper.make_node("Conv", ["Y_h", "Y_h"], ["Z"])],
                         outputs=[helper.make_tensor_value_info("Z", TensorProto.FLOAT, None)])
    assert_refused(unknown, "op_type 'Conv'")


@pytest.mark.parametrize("which, shape, match", [
    ("W", (1, 5, 2), r"W has shape \[1, 5, 2\].*hidden_size=3"),
    ("W", (2, 3, 2), r"W has shape \[2, 3, 2\].*hidden_size=3.*'forward'"),
    ("R", (1, 3, 4), r"R has shape \[1, 3, 4\].*hidden_size=3"),
    ("B", (1, 3), r"B has shape \[1, 3\].*expected \[1, 6\]"),
    ("W", (3, 2), r"W has shape \[3, 2\]"),
])
def test_weight_shapes_contradicting_hidden_size_are_refused(which, shape, match):
    rng = np.random.default_rng(0)
    tensors = dict(zip("WRB", _weights(rng, 1, 3, 2)))
    tensors[which] = rng.standard_normal(shape).astype(np.float32)
    assert_refused(_rnn_graph(tensors["W"], tensors["R"], tensors["B"], hidden_size=3), match,
             InvalidModelError)


def test_second_layer_reading_the_wrong_width_is_refused():
    model = fastrnn.RNN(2, 3, 2, seed=0)
    proto = fastrnn.onnx.export(model, None)
    for init in proto.graph.initializer:
        if init.name == "W_l1":
            init.CopyFrom(numpy_helper.from_array(np.zeros((1, 3, 5), np.float32), "W_l1"))
    assert_refused(proto, r"W has shape \[1, 3, 5\].*reads 3 features", InvalidModelError)


@pytest.mark.parametrize("attrs, match, error", [
    (dict(clip=5.0), "attribute clip=5.0", UnsupportedModelError),
    (dict(activations=["Sigmoid"]), r"activations=\['Sigmoid'\]", UnsupportedModelError),
    (dict(direction="bidirectional", activations=["Tanh", "Relu"]),
     r"activations=\['Tanh', 'Relu'\] differ between directions", UnsupportedModelError),
    (dict(direction="bidirectional", activations=["Tanh"]),
     r"activations must name one function per direction \(2 for direction 'bidirectional'\)",
     InvalidModelError),
    (dict(activations=["Tanh"], activation_alpha=[0.5]),
     r"activation_alpha has 1 value\(s\) but the activations \['Tanh'\] take 0",
     InvalidModelError),
    (dict(activations=["LeakyRelu"], activation_alpha=[0.5]), r"activations=\['LeakyRelu'\]",
     UnsupportedModelError),
    (dict(direction="reverse"), "direction='reverse'", UnsupportedModelError),
    (dict(layout=2), "layout must be 0 or 1", InvalidModelError),
    (dict(hidden_size=0), "hidden_size must be positive, got 0", InvalidModelError),
    (dict(clip=-1.0), "clip must be a number >= 0", InvalidModelError),
    (dict(direction="sideways"), "direction must be forward, reverse or bidirectional",
     InvalidModelError),
    (dict(activations=["Swish"]), "unknown activation 'Swish'", UnsupportedModelError),
    # RNN-1's output_sequence is no attribute of RNN-22
    (dict(output_sequence=1), r"attribute\(s\) output_sequence not supported",
     UnsupportedModelError),
])
def test_bad_or_unsupported_attributes_are_refused_by_name(attrs, match, error):
    rng = np.random.default_rng(0)
    D = 2 if attrs.get("direction") == "bidirectional" else 1
    W, R, B = _weights(rng, D, 3, 2)
    assert_refused(_rnn_graph(W, R, B, **attrs), match, error)


def test_stored_initial_states_are_refused():
    rng = np.random.default_rng(0)
    W, R, B = _weights(rng, 1, 3, 2)
    assert_refused(_rnn_graph(W, R, B, initial_h=np.ones((1, 2, 3), np.float32)),
             "initial_h .*not zero")


# ============================================================== sequence lengths
def test_a_sequence_lens_input_loads_as_the_models_lengths_argument():
    rng = np.random.default_rng(0)
    W, R, B = _weights(rng, 2, 3, 2)
    lens = helper.make_tensor_value_info("lens", TensorProto.INT32, ["N"])
    proto = _rnn_graph(W, R, B, sequence_lens="lens", inputs_extra=[lens],
                       direction="bidirectional")
    model = fastrnn.onnx.load(proto)
    x = rng.standard_normal((5, 4, 2)).astype(np.float32)
    lengths = np.array([3, 5, 1, 2], np.int32)
    Y, Y_h = ort_run(proto, {"X": x, "lens": lengths})
    output, h_n = model(x, lengths=lengths)
    assert_close(output, Y.transpose(0, 2, 1, 3).reshape(5, 4, 6), np.float32,
                 "loaded model with lengths vs onnxruntime with sequence_lens")
    assert_close(h_n, Y_h, np.float32, "loaded h_n with lengths vs onnxruntime")
    # without lengths the model runs every sequence to the end, as the graph does with
    # lengths all equal to the sequence length
    full = ort_run(proto, {"X": x, "lens": np.full(4, 5, np.int32)})
    assert_close(model(x)[1], full[1], np.float32, "loaded h_n without lengths")


@pytest.mark.parametrize("kind, options", [("RNN", {}), ("LSTM", {}), ("GRU", {}),
                                           ("LSTM", {"proj_size": 2})])
def test_exported_files_with_lengths_round_trip(kind, options):
    model = getattr(fastrnn, kind)(3, 4, 2, bidirectional=True, batch_first=True, seed=4,
                                   **options)
    loaded = fastrnn.onnx.load(fastrnn.onnx.export(model, None, initial_state=True,
                                                   lengths=True))
    rng = np.random.default_rng(1)
    x = rng.standard_normal((3, 6, 3)).astype(np.float32)
    states = [rng.standard_normal((4, 3, s)).astype(np.float32)
              for s in ([options.get("proj_size") or 4] + ([4] if kind == "LSTM" else []))]
    hx = tuple(states) if kind == "LSTM" else states[0]
    for lengths in ([6, 1, 4], None):
        want, got = model(x, hx, lengths=lengths), loaded(x, hx, lengths=lengths)
        np.testing.assert_array_equal(got[0], want[0])
        for g, w in zip(*(r[1] if kind == "LSTM" else [r[1]] for r in (got, want))):
            np.testing.assert_array_equal(g, w)


def test_sequence_lens_that_a_model_cannot_take_is_refused():
    rng = np.random.default_rng(0)
    W, R, B = _weights(rng, 1, 3, 2)
    # stored lengths: a fastrnn model takes them as an argument, not as a constant
    stored = _rnn_graph(W, R, B, sequence_lens="lens")
    stored.graph.initializer.append(numpy_helper.from_array(np.array([2, 2], np.int32), "lens"))
    assert_refused(stored, r"sequence_lens \('lens'\) must be absent or a graph input .*"
                     "got a constant")
    # ONNX's sequence_lens is int32 [batch]
    for elem, shape in ((TensorProto.FLOAT, ["N"]), (TensorProto.INT64, ["N"]),
                        (TensorProto.INT32, ["N", 1])):
        lens = helper.make_tensor_value_info("lens", elem, shape)
        assert_refused(_rnn_graph(W, R, B, sequence_lens="lens", inputs_extra=[lens]),
                 "graph input 'lens' is tensor.* read as sequence_lens; ONNX's sequence_lens "
                 r"is tensor\(int32\) \[batch\]", InvalidModelError)
    # the same input as the sequence and as its lengths
    assert_refused(_rnn_graph(W, R, B, sequence_lens="X"),
             "graph input 'X' is used as both the sequence lengths and the sequence")
    # lengths for some layers only: the model applies its lengths to every layer
    model = fastrnn.LSTM(2, 3, 2, seed=0)
    proto = fastrnn.onnx.export(model, None, lengths=True)
    [n for n in proto.graph.node if n.op_type == "LSTM"][1].input[4] = ""
    assert_refused(proto, "sequence_lens: the layers read .*'sequence_lens', .* none; "
                    "fastrnn.LSTM applies one set of lengths to every layer")


def test_projected_backward_h0_must_start_at_each_sequences_end():
    """With lengths, a projected bidirectional LSTM's backward h0 is moved to t = len-1 by
    ReverseSequence; the same file without that move (h0 at t = T-1) or a move without
    lengths on the node computes something else and is refused."""
    model = fastrnn.LSTM(3, 4, 1, bidirectional=True, proj_size=2, seed=0)
    with_lengths = fastrnn.onnx.export(model, None, initial_state=True, lengths=True)
    fastrnn.onnx.load(with_lengths)  # as written: accepted
    moved = with_lengths.graph.node[[n.op_type for n in with_lengths.graph.node].index(
        "ReverseSequence")]
    # the node without lengths, while h0 was moved by them
    no_lengths = onnx.ModelProto()
    no_lengths.CopyFrom(with_lengths)
    [n for n in no_lengths.graph.node if n.op_type == "LSTM"][0].input[4] = ""
    assert_refused(no_lengths, "not h0 of each direction at its first step")
    # another axis pair, or lengths not from the graph's input
    for attribute, value in (("time_axis", 1), ("batch_axis", 0)):
        bad = onnx.ModelProto()
        bad.CopyFrom(with_lengths)
        node = bad.graph.node[list(with_lengths.graph.node).index(moved)]
        node.attribute.append(helper.make_attribute(attribute, value))
        assert_refused(bad, "fastrnn reads ReverseSequence only as the move of initial states")


def test_weights_that_are_not_in_the_file_are_refused():
    rng = np.random.default_rng(0)
    W, R, B = _weights(rng, 1, 3, 2)
    proto = _rnn_graph(W, R, B)
    graph = proto.graph
    w_init = [i for i in graph.initializer if i.name == "W"][0]
    graph.initializer.remove(w_init)
    graph.input.append(helper.make_tensor_value_info("W", TensorProto.FLOAT, [1, 3, 2]))
    assert_refused(proto, r"W \(input 1\) must be a constant in the file, got a graph input")
    graph.input.pop()
    assert_refused(proto, "reads 'W', which no initializer, graph input or earlier node defines",
             InvalidModelError)


def test_float16_weights_are_refused():
    rng = np.random.default_rng(0)
    W, R, B = _weights(rng, 1, 3, 2, dtype=np.float16)
    assert_refused(_rnn_graph(W, R, B), "W has dtype float16")


def test_graphs_that_are_not_a_plain_stack_are_refused():
    rng = np.random.default_rng(0)
    W, R, B = _weights(rng, 1, 3, 2)
    no_rnn = helper.make_model(helper.make_graph(
        [helper.make_node("Identity", ["X"], ["Y"])], "g",
        [helper.make_tensor_value_info("X", TensorProto.FLOAT, [1])],
        [helper.make_tensor_value_info("Y", TensorProto.FLOAT, [1])]))
    assert_refused(no_rnn, "no RNN, GRU or LSTM node")
    # A second RNN reading the graph input again (two branches, not a stack).
    branch = _rnn_graph(W, R, B, nodes_after=[helper.make_node(
        "RNN", ["X", "W", "R"], ["Y2", "Y_h2"], hidden_size=3)])
    assert_refused(branch, "straight stack of layers")
    # An output that is the input itself.
    echo = _rnn_graph(W, R, B, nodes_after=[helper.make_node("Identity", ["X"], ["X2"])],
                      outputs=[helper.make_tensor_value_info("X2", TensorProto.FLOAT, None)])
    assert_refused(echo, "graph output 'X2' is a graph input")
    # A stray graph input fastrnn would have no use for.
    extra = helper.make_tensor_value_info("mask", TensorProto.FLOAT, ["N"])
    assert_refused(_rnn_graph(W, R, B, inputs_extra=[extra]),
             "graph input 'mask' is neither the sequence nor the initial state")


def test_intermediate_layer_outputs_are_refused():
    model = fastrnn.RNN(2, 3, 2, seed=0)
    proto = fastrnn.onnx.export(model, None)
    proto.graph.output.append(helper.make_tensor_value_info("Y_l0", TensorProto.FLOAT, None))
    assert_refused(proto, "graph output 'Y_l0' is a recurrent node's Y output of layer 0, not the last")


def test_layers_that_disagree_are_refused():
    model = fastrnn.RNN(2, 3, 2, seed=0)
    proto = fastrnn.onnx.export(model, None)
    rnn = [n for n in proto.graph.node if n.op_type == "RNN"][1]
    for attribute in rnn.attribute:
        if attribute.name == "activations":
            attribute.CopyFrom(helper.make_attribute("activations", ["Relu"]))
    assert_refused(proto, "nonlinearity 'relu' differs from layer 0's 'tanh'")


# ============================================================== broken files
def test_garbage_and_empty_bytes_are_refused():
    assert_refused(b"", "not a complete ONNX model", InvalidModelError)
    assert_refused(b"this is not an onnx file at all", "not a readable ONNX model|not a complete",
             InvalidModelError)
    assert_refused(bytes(range(256)) * 4, "not a readable ONNX model|not a complete", InvalidModelError)


def test_every_truncation_of_a_file_is_refused_cleanly(tmp_path):
    _, data = _tiny_file(num_layers=2, bidirectional=True)
    for cut in range(len(data)):
        with pytest.raises(InvalidModelError):
            fastrnn.onnx.load(data[:cut])
    path = tmp_path / "cut.onnx"
    path.write_bytes(data[: len(data) // 2])
    assert_refused(path, "cut.onnx.*(not a readable ONNX model|not a complete)", InvalidModelError)


def test_random_byte_corruption_is_refused_cleanly_or_computes_what_onnxruntime_does():
    """Flipped bytes either raise UnsupportedModelError or load a model that computes what
    onnxruntime computes from the same corrupted file (e.g. a changed weight)."""
    model = fastrnn.RNN(2, 3, 2, bidirectional=True, seed=0)
    data = fastrnn.onnx.export(model, None, initial_state=True).SerializeToString()
    rng = np.random.default_rng(0)
    x = rng.standard_normal((4, 3, 2)).astype(np.float32)
    h0 = rng.standard_normal((4, 3, 3)).astype(np.float32)
    options = onnxruntime.SessionOptions()
    options.log_severity_level = 4
    refused = compared = 0
    for _ in range(400):
        corrupt = bytearray(data)
        for position in rng.integers(0, len(data), size=int(rng.integers(1, 3))):
            corrupt[position] = int(rng.integers(0, 256))
        try:
            loaded = fastrnn.onnx.load(bytes(corrupt))
        except UnsupportedModelError:
            refused += 1
            continue
        # a stack of layers, or wiring no class holds, run whole (GraphModel)
        assert isinstance(loaded, (fastrnn.RNN, fastrnn.onnx.GraphModel))
        try:
            session = onnxruntime.InferenceSession(bytes(corrupt), options,
                                                   providers=["CPUExecutionProvider"])
            got = session.run(["output", "h_n"], {"input": x, "h0": h0})
        except Exception:  # onnxruntime may refuse what load accepts (e.g. a renamed output)
            continue
        if isinstance(loaded, fastrnn.onnx.GraphModel):
            if [i.name for i in session.get_inputs()] != ["input", "h0"]:
                continue
            outputs = dict(zip([o.name for o in session.get_outputs()],
                               session.run(None, {"input": x, "h0": h0})))
            result = loaded(x, h0)
            result = dict(zip(outputs, result if isinstance(result, tuple) else (result,)))
            want = [result[name] for name in ("output", "h_n")]
        else:
            want = loaded(x, h0)
        if all(np.all(np.isfinite(w)) for w in want):  # a weight may now be huge or NaN
            for g, w in zip(got, want):
                assert_close(g, w, np.float32, "corrupted file: onnxruntime vs loaded model")
            compared += 1
    assert refused > 50 and compared > 50  # both outcomes occur, so both are tested


def test_external_data_needs_a_path(tmp_path):
    model = fastrnn.RNN(2, 3, seed=0)
    proto = fastrnn.onnx.export(model, None)
    onnx.save_model(proto, tmp_path / "ext.onnx", save_as_external_data=True,
                    all_tensors_to_one_file=True, location="ext.data", size_threshold=0)
    loaded = fastrnn.onnx.load(tmp_path / "ext.onnx")  # from the path: data found
    np.testing.assert_array_equal(loaded.weight_hh_l0, model.weight_hh_l0)
    assert_refused((tmp_path / "ext.onnx").read_bytes(), "external data")
