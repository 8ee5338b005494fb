"""fastrnn.onnx.backend's RNN nodes: bad models and bad inputs give clear errors
before any kernel runs."""
import io
import itertools

import numpy as np
import pytest
from onnx import TensorProto, helper, numpy_helper

from fastrnn._arrays import ShapeError
import fastrnn.onnx
from fastrnn.onnx import backend
from fastrnn.onnx._load import InvalidModelError, UnsupportedModelError

from onnx_nodes import i64, make_model, simple_node


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
    arrays, model, feeds = simple_node()
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
        rep.run([np.zeros(6, np.float32), i64(4, -1)])
    with pytest.raises(TypeError, match="shape must be an integer tensor"):
        rep.run([np.zeros(6, np.float32), np.array([2.0, 3.0], np.float32)])
    model = make_model([helper.make_node("Gather", ["x", "i"], ["y"])],
                       [("x", TensorProto.FLOAT, None), ("i", TensorProto.INT64, None)], ["y"])
    with pytest.raises(ValueError, match=r"indices must lie in \[-3, 2\]"):
        backend.prepare(model).run([np.zeros(3, np.float32), i64(3)])


def test_reverse_sequence_refuses_what_onnxruntime_refuses():
    node = helper.make_node("ReverseSequence", ["x", "lens"], ["y"], name="rev")
    x = np.zeros((4, 2, 3), np.float32)
    for lens, error, message in (
            (i64(1, 5), ValueError, r"sequence_lens\[1\] = 5 is outside 0..4"),
            (i64(-1, 2), ValueError, r"sequence_lens\[0\] = -1 is outside 0..4"),
            (i64(1, 2, 3), ShapeError, r"sequence_lens must have shape \[2\]"),
            (np.array([1, 2], np.int32), TypeError, "sequence_lens must be int64"),
            (np.array([1.0, 2.0]), TypeError, "sequence_lens must be int64")):
        with pytest.raises(error, match=r"node 0 \(ReverseSequence 'rev'\): " + message):
            backend.run_node(node, [x, lens])
    with pytest.raises(ShapeError, match="rank >= 2"):
        backend.run_node(node, [np.zeros(3, np.float32), i64(1)])
    bad_axes = helper.make_node("ReverseSequence", ["x", "lens"], ["y"], time_axis=2)
    with pytest.raises(InvalidModelError, match="batch_axis and time_axis must be 0 and 1"):
        backend.run_node(bad_axes, [x, i64(1, 2)])


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
    """fastrnn.onnx.export's graphs run on the same kernels: identical outputs.
    The backend's stored weights are constants, packed once, as a frozen
    model's are: the model is frozen to run the same path."""
    import fastrnn
    from fastrnn.onnx import export

    for batch_first, bidirectional in itertools.product((False, True), repeat=2):
        model = fastrnn.RNN(3, 4, 2, nonlinearity="relu", batch_first=batch_first,
                            bidirectional=bidirectional, dtype=dtype, seed=2)
        proto = export(model, io.BytesIO(), initial_state=True)
        rep = backend.prepare(proto)
        model.freeze()
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
