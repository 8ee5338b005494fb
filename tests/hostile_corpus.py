"""Small ONNX files that ask for far more time or memory than their bytes hold, built
here (not stored as binaries): the cases of the hostile-file issue, one builder each.

corpus() returns {name: (step, model, feeds)}: step is "load" (fastrnn.onnx.load),
"prepare" (backend.prepare) or "run" (prepare, then run with feeds). Used by
tests/test_onnx_hostile.py, which runs each in a child process under an address-space
limit and a time limit, and by tools/fuzz_onnx.py as seeds.
"""
import numpy as np
from onnx import TensorProto, helper, numpy_helper

import fastrnn
import fastrnn.onnx


def _model(nodes, inputs, outputs, initializers, opset=21):
    model = helper.make_model(helper.make_graph(nodes, "hostile", inputs, outputs, initializers),
                              opset_imports=[helper.make_opsetid("", opset)])
    model.ir_version = 10
    return model


def _value(name, elem=TensorProto.FLOAT, shape=None):
    return helper.make_tensor_value_info(name, elem, shape)


def _claim(name, dims, elem=TensorProto.FLOAT):
    """A stored tensor of `dims` holding no bytes (legal when a dimension is 0)."""
    tensor = helper.make_tensor(name, elem, [0], [])
    del tensor.dims[:]
    tensor.dims.extend(dims)
    return tensor


def _ints(name, values):
    return numpy_helper.from_array(np.array(values, np.int64), name)


def corpus():
    cases = {}
    # MatMul of a stored [2**40, 0, 1] (no bytes) by a [1, 1]: 0 elements, 2**40 loops.
    a, b = _claim("a", [2**40, 0, 1]), numpy_helper.from_array(np.ones((1, 1), np.float32), "b")
    cases["MatMul of a zero-size claim: prepare"] = (
        "prepare", _model([helper.make_node("MatMul", ["a", "b"], ["y"])], [], [_value("y")],
                          [a, b]), None)
    # the same product read as an RNN's R
    rnn = _model([helper.make_node("MatMul", ["a", "b"], ["R"]),
                  helper.make_node("RNN", ["x", "W", "R"], ["Y"], hidden_size=1)],
                 [_value("x", shape=[None, None, 1])], [_value("Y")],
                 [a, b, numpy_helper.from_array(np.ones((1, 1, 1), np.float32), "W")])
    cases["the same product as an RNN's R: load"] = ("load", rnn, None)
    # Reshape of an input to a stored [2**40, 0, 3], then MatMul, run on a (1, 0, 3) input
    reshape = _model([helper.make_node("Reshape", ["x", "shape"], ["r"]),
                      helper.make_node("MatMul", ["r", "m"], ["y"])],
                     [_value("x", shape=[1, None, 3])], [_value("y")],
                     [_ints("shape", [2**40, 0, 3]),
                      numpy_helper.from_array(np.ones((3, 1), np.float32), "m")])
    cases["Reshape to a stored zero-size claim, then MatMul: run"] = (
        "run", reshape, [np.zeros((1, 0, 3), np.float32)])
    # an exported file whose merge_directions_shape has a huge first dimension, batch 0
    exported = fastrnn.onnx.export(fastrnn.LSTM(3, 4, proj_size=2, bidirectional=True, seed=0),
                                   None)
    for tensor in exported.graph.initializer:
        if tensor.name == "merge_directions_shape":
            tensor.CopyFrom(_ints("merge_directions_shape", [2**40, 0, 4]))
    cases["exported file, merge_directions_shape mutated: run"] = (
        "run", exported, [np.zeros((1, 0, 3), np.float32)])
    # ReverseSequence over a stored [2**27, 0] (batch axis 0), lengths computed from stored
    # values
    reverse = _model([helper.make_node("ConstantOfShape", ["n"], ["lengths"],
                                       value=numpy_helper.from_array(np.zeros(1, np.int64))),
                      helper.make_node("ReverseSequence", ["data", "lengths"], ["y"],
                                       batch_axis=0, time_axis=1)],
                     [], [_value("y")], [_claim("data", [2**27, 0]), _ints("n", [2**27])])
    cases["ReverseSequence over a stored [2**27, 0]: prepare"] = ("prepare", reverse, None)
    # a stored shape of 2**27 entries (ConstantOfShape) used by Reshape
    shape = _model([helper.make_node("ConstantOfShape", ["n"], ["shape"],
                                     value=numpy_helper.from_array(np.ones(1, np.int64))),
                    helper.make_node("Reshape", ["x", "shape"], ["y"])],
                   [_value("x", shape=[1])], [_value("y")], [_ints("n", [2**27])])
    cases["a shape of 2**27 entries for Reshape: run"] = ("run", shape, [np.ones(1, np.float32)])
    # three chained Gathers of stored values (indices 32 x 32)
    index = numpy_helper.from_array(np.arange(1024, dtype=np.int64).reshape(32, 32) % 32, "i")
    data = numpy_helper.from_array(np.ones((1024, 32), np.float32), "d")
    gathers = [helper.make_node("Gather", ["d", "i"], ["g1"], axis=1),
               helper.make_node("Gather", ["g1", "i"], ["g2"], axis=2),
               helper.make_node("Gather", ["g2", "i"], ["g3"], axis=3)]
    cases["three chained Gathers: load"] = (
        "load", _model(gathers, [], [_value("g3")], [index, data]), None)
    cases["three chained Gathers: prepare"] = (
        "prepare", _model(gathers, [], [_value("g3")], [index, data]), None)
    # three chained Concats of one stored value, 256 times each
    v = numpy_helper.from_array(np.ones(2**10, np.float32), "v")
    concats = [helper.make_node("Concat", ["v"] * 256, ["c1"], axis=0),
               helper.make_node("Concat", ["c1"] * 256, ["c2"], axis=0),
               helper.make_node("Concat", ["c2"] * 256, ["c3"], axis=0)]
    cases["three chained Concats: load"] = (
        "load", _model(concats, [], [_value("c3")], [v]), None)
    cases["three chained Concats: prepare"] = (
        "prepare", _model(concats, [], [_value("c3")], [v]), None)
    # five stored ConstantOfShape nodes of 2**27 int64 each: the budget is the file's
    fives = [helper.make_node("ConstantOfShape", ["n"], [f"z{k}"],
                              value=numpy_helper.from_array(np.zeros(1, np.int64)))
             for k in range(5)]
    cases["five ConstantOfShape of 2**27 each: prepare"] = (
        "prepare", _model(fives, [], [_value(f"z{k}", TensorProto.INT64) for k in range(5)],
                          [_ints("n", [2**27])]), None)
    # an LSTM with every input stored (float64): Y of 2**27 elements, and its scratch
    T, H = 2**18, 512
    lstm = _model([helper.make_node("LSTM", ["X", "W", "R"], ["Y"], hidden_size=H)], [],
                  [_value("Y", TensorProto.DOUBLE)],
                  [numpy_helper.from_array(np.zeros((T, 1, 1)), "X"),
                   numpy_helper.from_array(np.zeros((1, 4 * H, 1)), "W"),
                   numpy_helper.from_array(np.zeros((1, 4 * H, H)), "R")])
    cases["LSTM with every input stored: prepare"] = ("prepare", lstm, None)
    # a state shape from the batch and a stored (mutated) projection size of 1,174,405,122
    state = _model([helper.make_node("Shape", ["x"], ["s"], start=1, end=2),
                    helper.make_node("Concat", ["s", "p"], ["shape"], axis=0),
                    helper.make_node("ConstantOfShape", ["shape"], ["h0"])],
                   [_value("x", shape=[None, None, 2])], [_value("h0")],
                   [_ints("p", [1174405122])])
    cases["initial state of a mutated projection size: run"] = (
        "run", state, [np.zeros((1, 1, 2), np.float32)])
    # Expand of a (1, 1, 8) input to a stored [8192, 8192, 1]
    expand = _model([helper.make_node("Expand", ["x", "shape"], ["y"])],
                    [_value("x", shape=[1, 1, 8])], [_value("y")],
                    [_ints("shape", [8192, 8192, 1])])
    cases["Expand of a small input to a stored [8192, 8192, 1]: run"] = (
        "run", expand, [np.ones((1, 1, 8), np.float32)])
    return cases
