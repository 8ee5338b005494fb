"""Hostile ONNX input for fastrnn.onnx.load, fastrnn.onnx.backend and verify.

Files that are truncated, corrupted or that lie (dims their data does not
have, sizes that contradict each other, wrong types, cycles) must give a clear
exception: UnsupportedModelError / InvalidModelError for a file, ValueError /
TypeError for inputs given at run time. Never a crash, a hang, another
exception, or an allocation sized by what a file claims rather than by the
data it holds; the last is checked in a subprocess whose address space is
limited to what it had after its imports plus 1 GB, with claims of more than
100 GB.
"""
import json
import os
import re
import subprocess
import sys
import textwrap

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

import fastrnn
import fastrnn.onnx
from fastrnn._arrays import ShapeError
from fastrnn.onnx import InvalidModelError, UnsupportedModelError, backend


def _real_files():
    """Files as export writes them: every op, stacked layers, both directions, batch_first,
    initial states, lengths, a projected LSTM (MatMul, ReverseSequence, Slice, Concat...)."""
    return {
        "rnn": fastrnn.onnx.export(
            fastrnn.RNN(2, 3, 2, bidirectional=True, batch_first=True, seed=0), None,
            initial_state=True),
        "lstm-proj": fastrnn.onnx.export(
            fastrnn.LSTM(2, 3, 2, bidirectional=True, proj_size=2, seed=0), None,
            initial_state=True, lengths=True),
        "gru": fastrnn.onnx.export(fastrnn.GRU(2, 3, 1, seed=0), None, lengths=True),
    }


FILES = _real_files()
X = np.ones((3, 2, 2), np.float32)  # rnn: [N, T, I]; the others: [T, N, I]
FEEDS = {
    "rnn": dict(input=X, h0=np.zeros((4, 3, 3), np.float32)),
    "lstm-proj": dict(input=X, h0=np.zeros((4, 2, 2), np.float32),
                      c0=np.zeros((4, 2, 3), np.float32),
                      sequence_lens=np.array([3, 1], np.int32)),
    "gru": dict(input=X, sequence_lens=np.array([3, 1], np.int32)),
}


def _feeds(name, input_names):
    """The file's inputs (a mutated file may name others: they get a small array)."""
    return [FEEDS[name].get(n, np.zeros(1, np.float32)) for n in input_names]


def _outcome(name, data):
    """How load and the backend take `data`, a changed file `name`: "loaded"/"refused" and
    "ran"/"refused"/"bad input"; any other exception propagates (and fails the test)."""
    try:
        model = fastrnn.onnx.load(data)
    except UnsupportedModelError:  # InvalidModelError is one
        loaded = "refused"
    else:
        loaded = "loaded"
        try:
            model(X)
        except (ValueError, TypeError):  # e.g. a changed input_size
            pass
    try:
        rep = backend.prepare(data)
    except UnsupportedModelError:
        return loaded, "refused"
    try:
        rep.run(_feeds(name, rep.input_names))
    except (ValueError, TypeError):  # the inputs do not fit the changed file
        return loaded, "bad input"
    return loaded, "ran"


def _check_outcomes(outcomes):
    """Both readers refused some files and accepted others: the test exercised both."""
    loads = [o[0] for o in outcomes]
    runs = [o[1] for o in outcomes]
    assert loads.count("refused") > len(outcomes) // 10, outcomes
    assert loads.count("loaded") > len(outcomes) // 20, outcomes
    assert runs.count("refused") > len(outcomes) // 10, outcomes
    assert runs.count("ran") > len(outcomes) // 20, outcomes


# ============================================================== byte-level corruption
def _corrupt(data, rng):
    """A truncation, random bytes, flipped bits, or bytes inserted or deleted."""
    kind, data = int(rng.integers(0, 4)), bytearray(data)
    if kind == 0:
        return bytes(data[:int(rng.integers(0, len(data)))])
    if kind == 1:
        for position in rng.integers(0, len(data), size=int(rng.integers(1, 5))):
            data[position] = int(rng.integers(0, 256))
    elif kind == 2:
        for position in rng.integers(0, len(data), size=int(rng.integers(1, 3))):
            data[position] ^= 1 << int(rng.integers(0, 8))
    else:
        position, count = int(rng.integers(0, len(data))), int(rng.integers(1, 8))
        if rng.integers(0, 2):
            del data[position:position + count]
        else:
            data[position:position] = rng.integers(0, 256, count, dtype=np.uint8).tobytes()
    return bytes(data)


@pytest.mark.parametrize("name", list(FILES))
def test_corrupted_files_give_clear_errors(name):
    """500 seeded corruptions per file: load and prepare refuse with UnsupportedModelError
    or give a model that runs or refuses its inputs with ValueError/TypeError."""
    data = FILES[name].SerializeToString()
    outcomes = []
    for seed in range(500):
        corrupt = _corrupt(data, np.random.default_rng(seed))
        try:
            outcomes.append(_outcome(name, corrupt))
        except Exception as exc:  # pragma: no cover - what the test is for
            raise AssertionError(f"{name}, seed {seed}: {type(exc).__name__}: {exc}") from exc
    _check_outcomes(outcomes)


def test_every_truncation_of_a_projected_lstm_file_is_refused():
    data = FILES["lstm-proj"].SerializeToString()
    for cut in range(0, len(data), 7):
        for read in (fastrnn.onnx.load, backend.prepare):
            with pytest.raises(InvalidModelError):
                read(data[:cut])


def test_names_that_are_not_utf8_are_refused_by_every_reader():
    """Protobuf keeps a proto2 string field that is not UTF-8 as bytes; readers would
    then fail comparing or joining names (TypeError): refused when the file is read."""
    data = FILES["gru"].SerializeToString()
    name = b"GRU_l0"  # the node's name
    assert data.count(name) == 1
    broken = data.replace(name, b"GRU_\xff0")
    for read in (fastrnn.onnx.load, backend.prepare):
        with pytest.raises(InvalidModelError, match=r"NodeProto.name b'GRU_\\xff0' is not "
                                                    "UTF-8 text"):
            read(broken)
    with pytest.raises(InvalidModelError, match="is not UTF-8 text"):
        fastrnn.onnx.verify(fastrnn.GRU(2, 3, seed=0), broken)
    # an attribute name too (this one made allow_attributes raise TypeError)
    assert data.count(b"linear_before_reset") == 1
    broken = data.replace(b"linear_before_reset", b"linear_before_rese\xff")
    with pytest.raises(InvalidModelError, match="AttributeProto.name .* is not UTF-8 text"):
        backend.prepare(broken)


# ============================================================== structural mutations
BIG = [-1, -(2**40), 0, 1, 2, 3, 7, 2**31 - 1, 2**31, 2**40, 2**62, 2**63 - 1]
OPS = ["RNN", "LSTM", "GRU", "Concat", "Slice", "MatMul", "Reshape", "Transpose",
       "ReverseSequence", "Cast", "Identity", "Expand", "ConstantOfShape", "Gather"]


def _pick(rng, items):
    return items[int(rng.integers(0, len(items)))]


def _mutate(proto, rng):
    """One or two seeded changes to a parsed file: tensor dims, types and data; attribute
    types and values (huge hidden_size); wiring (missing inputs, cycles, redefined
    names, node order); declared shapes and types; op types."""
    model = onnx.ModelProto()
    model.CopyFrom(proto)
    graph = model.graph
    for _ in range(int(rng.integers(1, 3))):
        kind = int(rng.integers(0, 11))
        tensor = _pick(rng, graph.initializer)
        node = _pick(rng, graph.node)
        value = _pick(rng, list(graph.input) + list(graph.output))
        if kind == 0:  # dims that the data does not have
            del tensor.dims[:]
            tensor.dims.extend(int(rng.choice(BIG)) for _ in range(int(rng.integers(0, 4))))
        elif kind == 1:
            tensor.data_type = int(rng.integers(0, 27))
        elif kind == 2:  # data shortened, or moved to the typed field
            if tensor.raw_data and rng.integers(0, 2):
                tensor.raw_data = tensor.raw_data[:int(rng.integers(0, len(tensor.raw_data)))]
            else:
                tensor.ClearField("raw_data")
                tensor.float_data.extend(rng.standard_normal(int(rng.integers(0, 5))).tolist())
        elif kind == 3 and len(node.attribute):  # an attribute's type or value
            attribute = _pick(rng, node.attribute)
            change = int(rng.integers(0, 5))
            if change == 0:
                attribute.type = int(rng.integers(0, 15))
            elif change == 1:
                attribute.i = int(rng.choice(BIG))
            elif change == 2:
                del attribute.ints[:]
                attribute.ints.extend(int(v) for v in rng.choice(BIG, 3))
            elif change == 3:
                del attribute.strings[:]
                attribute.strings.extend([b"Tanh", b"Bogus"])
            else:
                attribute.f = float(_pick(rng, [np.nan, -1.0, np.inf, 1e30]))
        elif kind == 4:  # hidden_size that the weights do not have
            for n in graph.node:
                for attribute in n.attribute:
                    if attribute.name == "hidden_size":
                        attribute.i = int(rng.choice(BIG))
        elif kind == 5 and len(node.input):  # missing inputs, cycles
            names = [o for n in graph.node for o in n.output] + ["", "nowhere"]
            node.input[int(rng.integers(0, len(node.input)))] = _pick(rng, names)
        elif kind == 6 and len(value.type.tensor_type.shape.dim):  # declared dims
            _pick(rng, value.type.tensor_type.shape.dim).dim_value = int(rng.choice(BIG))
        elif kind == 7:
            value.type.tensor_type.elem_type = int(rng.integers(0, 27))
        elif kind == 8:
            node.op_type = _pick(rng, OPS)
        elif kind == 9:  # node order
            nodes = list(graph.node)
            i, j = rng.integers(0, len(nodes), 2)
            nodes[i], nodes[j] = nodes[j], nodes[i]
            del graph.node[:]
            graph.node.extend(nodes)
        elif kind == 10 and len(node.output):  # a name defined twice
            node.output[0] = _pick(rng, [i for n in graph.node for i in n.input if i])
    return model


@pytest.mark.parametrize("name", list(FILES))
def test_structurally_mutated_files_give_clear_errors(name):
    outcomes = []
    for seed in range(500):
        mutated = _mutate(FILES[name], np.random.default_rng(seed))
        try:
            outcomes.append(_outcome(name, mutated))
        except Exception as exc:  # pragma: no cover - what the test is for
            raise AssertionError(f"{name}, seed {seed}: {type(exc).__name__}: {exc}") from exc
    _check_outcomes(outcomes)


# ============================================================== targeted lies
def _copy(name):
    model = onnx.ModelProto()
    model.CopyFrom(FILES[name])
    return model


def _initializer(model, name):
    return next(t for t in model.graph.initializer if t.name == name)


def _node(model, op_type):
    return next(n for n in model.graph.node if n.op_type == op_type)


def _set_attribute(node, attribute):
    for i, old in enumerate(node.attribute):
        if old.name == attribute.name:
            node.attribute[i].CopyFrom(attribute)
            return
    node.attribute.append(attribute)


def _replace_tensor(model, name, array):
    _initializer(model, name).CopyFrom(numpy_helper.from_array(array, name))


def _lie_weight_shape(model):  # R's data agrees with its dims, but not with hidden_size
    _replace_tensor(model, "R_l0", np.zeros((2, 3, 4), np.float32))


def _lie_huge_hidden_size(model):
    _set_attribute(_node(model, "RNN"), helper.make_attribute("hidden_size", 2**40))


def _lie_negative_hidden_size(model):
    _set_attribute(_node(model, "RNN"), helper.make_attribute("hidden_size", -3))


def _lie_huge_dims(model):  # 2**40 floats claimed, 24 bytes held
    tensor = _initializer(model, "W_l0")
    del tensor.dims[:]
    tensor.dims.extend([2**40])


def _lie_short_raw_data(model):
    tensor = _initializer(model, "W_l0")
    tensor.raw_data = tensor.raw_data[:-4]


def _lie_short_typed_data(model):
    tensor = _initializer(model, "W_l0")
    values = numpy_helper.to_array(tensor).ravel().tolist()
    tensor.ClearField("raw_data")
    tensor.float_data.extend(values[:-1])


def _lie_negative_declared_dim(model):
    model.graph.input[0].type.tensor_type.shape.dim[0].dim_value = -4


def _lie_declared_features(model):
    model.graph.input[0].type.tensor_type.shape.dim[2].dim_value = 2**40


def _lie_unknown_activation(model):
    _set_attribute(_node(model, "RNN"), helper.make_attribute("activations", ["Tanh", "Swish"]))


def _lie_activation_type(model):
    _set_attribute(_node(model, "RNN"), helper.make_attribute("activations", [1, 2]))


def _lie_hidden_size_type(model):
    _set_attribute(_node(model, "RNN"), helper.make_attribute("hidden_size", 3.0))


def _lie_integer_weights(model):
    _replace_tensor(model, "W_l0", np.zeros((2, 3, 2), np.int32))


def _lie_double_bias(model):
    _replace_tensor(model, "B_l0", np.zeros((2, 6), np.float64))


def _lie_double_input(model):
    model.graph.input[0].type.tensor_type.elem_type = TensorProto.DOUBLE


def _lie_integer_h0(model):
    model.graph.input[1].type.tensor_type.elem_type = TensorProto.INT32


def _lie_cycle(model):  # layer 0 reads what layer 1 computes from it
    _node(model, "RNN").input[0] = "output_l0"


def _lie_missing_input(model):
    _node(model, "RNN").input[1] = "W_nowhere"


def _lie_redefined_name(model):  # a node writes a graph input's name
    _node(model, "Transpose").output[0] = "h0"


def _lie_reversed_order(model):
    nodes = list(model.graph.node)[::-1]
    del model.graph.node[:]
    model.graph.node.extend(nodes)


TARGETED = [
    # (lie, load's error and message, prepare's error and message) on the "rnn" file
    (_lie_weight_shape, InvalidModelError, r"R has shape \[2, 3, 4\], which contradicts "
     r"hidden_size=3", InvalidModelError, r"R must have shape .*\[2, 3, 3\], got \[2, 3, 4\]"),
    (_lie_huge_hidden_size, InvalidModelError, "W has shape .* contradicts hidden_size="
     "1099511627776", InvalidModelError, r"W must have shape .*\[2, 1099511627776, 2\]"),
    (_lie_negative_hidden_size, InvalidModelError, "hidden_size must be positive, got -3",
     InvalidModelError, "hidden_size must be positive, got -3"),
    (_lie_huge_dims, InvalidModelError, r"initializer 'W_l0' has dims \[1099511627776\] "
     r"\(1099511627776 elements of float32, 4398046511104 bytes\) but its raw_data holds "
     "48 bytes", InvalidModelError, r"initializer 'W_l0' has dims \[1099511627776\]"),
    (_lie_short_raw_data, InvalidModelError, r"has dims \[2, 3, 2\] \(12 elements of float32, "
     "48 bytes\\) but its raw_data holds 44 bytes", InvalidModelError, "raw_data holds 44"),
    (_lie_short_typed_data, InvalidModelError, r"12 values\) but its float_data holds 11 "
     "values", InvalidModelError, "float_data holds 11 values"),
    (_lie_negative_declared_dim, InvalidModelError, r"graph value 'input' declares shape "
     r"\[-4, None, 2\]; a dimension cannot be negative", InvalidModelError,
     "a dimension cannot be negative"),
    (_lie_declared_features, InvalidModelError, "declares 1099511627776 features but W has "
     "input_size 2", None, None),
    (_lie_unknown_activation, UnsupportedModelError, "unknown activation 'Swish'",
     UnsupportedModelError, "unknown activation 'Swish'"),
    (_lie_activation_type, InvalidModelError, "attribute activations must be a list of "
     "strings", InvalidModelError, "attribute activations must be a list of strings"),
    (_lie_hidden_size_type, InvalidModelError, "attribute hidden_size must be an integer",
     InvalidModelError, "attribute hidden_size must be an integer"),
    (_lie_integer_weights, UnsupportedModelError, "W has dtype int32; fastrnn models are "
     "float32 or float64", InvalidModelError, "W must be float32 or float64"),
    (_lie_double_bias, InvalidModelError, r"W, R, B have different dtypes", InvalidModelError,
     r"B must have the dtype of X \(float32\), got float64"),
    (_lie_double_input, InvalidModelError, r"graph input 'input' is tensor\(double\) but the "
     "weights are float32", None, None),
    (_lie_integer_h0, InvalidModelError, r"graph input 'h0' is tensor\(int32\) but the "
     "weights are float32", None, None),
    (_lie_cycle, InvalidModelError, "reads 'output_l0', which no initializer, graph input or "
     "earlier node defines", InvalidModelError, "reads 'output_l0', which no graph input, "
     "initializer or earlier node provides"),
    (_lie_missing_input, InvalidModelError, "reads 'W_nowhere'", InvalidModelError,
     "reads 'W_nowhere'"),
    (_lie_redefined_name, InvalidModelError, r"writes 'h0', which is already defined",
     InvalidModelError, r"writes 'h0', which is already defined"),
    (_lie_reversed_order, InvalidModelError, "which no initializer, graph input or earlier "
     "node defines", InvalidModelError, "nodes must be in topological order"),
]


@pytest.mark.parametrize("lie, load_error, load_message, prepare_error, prepare_message",
                         TARGETED, ids=[t[0].__name__[5:] for t in TARGETED])
def test_a_file_that_lies_is_refused_by_name(lie, load_error, load_message, prepare_error,
                                             prepare_message):
    model = _copy("rnn")
    lie(model)
    with pytest.raises(load_error, match=load_message) as loading:
        fastrnn.onnx.load(model)
    assert type(loading.value) is load_error
    if prepare_error is None:  # the backend runs it; the run-time inputs decide
        rep = backend.prepare(model)
        with pytest.raises((TypeError, ValueError)):
            rep.run(_feeds("rnn", rep.input_names))
        return
    with pytest.raises(prepare_error, match=prepare_message) as preparing:
        backend.prepare(model)
    assert type(preparing.value) is prepare_error


# ============================================================== run-time inputs
@pytest.mark.parametrize("lengths, error, message, model_refuses", [
    (np.array([2.0, 1.0], np.float32), TypeError, r"'sequence_lens' must be tensor\(int32\) "
     r"\(numpy int32\), got float32", True),
    (np.array([2, 1], np.int64), TypeError, r"must be tensor\(int32\) .*got int64", False),
    ([1.5, 1], TypeError, "got float64 values .* that it cannot hold", True),
    ([2**40, 1], TypeError, "got int64 values .* that it cannot hold", True),
    (np.array([3, 1, 2], np.int32), ShapeError, r"sequence_lens must have shape "
     r"\[(batch_size\] = \[)?2\]( \(the batch axis\))?, got \[3\]", True),
    (np.array([[3, 1]], np.int32), ShapeError, r"input 'sequence_lens' must have shape "
     r"\[\?\], got \[1, 2\]", True),
    (np.array([4, 1], np.int32), ValueError, r"sequence_lens\[0\] = 4 is outside 0..3", True),
    (np.array([2, -1], np.int32), ValueError, r"sequence_lens\[1\] = -1 is outside 0..3",
     True),
    (np.array(["2", "1"]), TypeError, r"must be tensor\(int32\)", True),
])
@pytest.mark.parametrize("name", ["gru", "lstm-proj"])
def test_bad_sequence_lens_at_run_time(name, lengths, error, message, model_refuses):
    """The backend on files with sequence_lens; for the projected LSTM the lengths reach
    ReverseSequence first, which refuses them the same way. The loaded model takes N
    integers of any integer dtype in 1..L, as fastrnn's classes do."""
    rep = backend.prepare(FILES[name])
    feeds = dict(FEEDS[name], sequence_lens=lengths)
    with pytest.raises(error, match=message):
        rep.run(feeds)
    model = fastrnn.onnx.load(FILES[name])
    if model_refuses:
        with pytest.raises(ValueError, match="lengths"):
            model(X, lengths=lengths)
    else:
        model(X, lengths=lengths)


def test_wrong_dtypes_of_run_time_inputs():
    rep = backend.prepare(FILES["rnn"])
    good = FEEDS["rnn"]
    rep.run(good)  # as given: runs
    for name in rep.input_names:
        for bad in (good[name].astype(np.float64), good[name].astype(np.int32),
                    good[name].astype(np.float16), good[name].astype(bool)):
            with pytest.raises(TypeError, match=rf"input '{name}' must be tensor\(float\)"):
                rep.run(dict(good, **{name: bad}))
    # a node whose W, R, B and initial state come at run time checks each against X
    node = helper.make_node("LSTM", ["X", "W", "R", "B", "", "h", "c"], ["Y"], hidden_size=3)
    rng = np.random.default_rng(0)
    feeds = dict(X=rng.standard_normal((2, 1, 2)), W=rng.standard_normal((1, 12, 2)),
                 R=rng.standard_normal((1, 12, 3)), B=rng.standard_normal((1, 24)),
                 h=np.zeros((1, 1, 3)), c=np.zeros((1, 1, 3)))
    feeds = {k: v.astype(np.float32) for k, v in feeds.items()}
    backend.run_node(node, feeds)  # as given: runs
    for name in ("W", "R", "B", "h", "c"):
        what = {"h": "initial_h", "c": "initial_c"}.get(name, name)
        with pytest.raises(TypeError, match=rf"{what} must have the dtype of X \(float32\), got "
                                            "float64"):
            backend.run_node(node, dict(feeds, **{name: feeds[name].astype(np.float64)}))
        with pytest.raises(TypeError, match=rf"{what} must be float32 or float64 .*got int32"):
            backend.run_node(node, dict(feeds, **{name: feeds[name].astype(np.int32)}))
    with pytest.raises(TypeError, match="X must be float32 or float64 .*got int64"):
        backend.run_node(node, dict(feeds, X=feeds["X"].astype(np.int64)))


# ============================================================== claims of > 100 GB
# Each case builds a file claiming more than 100 GB (or a product of small tensors that
# size) and reads it; the child prints what was raised. Its address space is limited to
# what it had after its imports plus 1 GB, so allocating a claimed size fails with
# MemoryError, which the test reports.
_CLAIMS = textwrap.dedent(r'''
    import json, resource, sys, time
    import numpy as np
    import onnx
    from onnx import TensorProto, helper, numpy_helper
    import fastrnn, fastrnn.onnx
    from fastrnn.onnx import backend

    def vm_size():
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith("VmSize:"):
                    return int(line.split()[1]) * 1024

    def graph(nodes, inputs, outputs, initializers, opset=21):
        model = helper.make_model(helper.make_graph(nodes, "claims", inputs, outputs,
                                                    initializers),
                                  opset_imports=[helper.make_opsetid("", opset)])
        model.ir_version = 10
        return model

    def value(name, elem=TensorProto.FLOAT, shape=None):
        return helper.make_tensor_value_info(name, elem, shape)

    def huge_tensor(name, dims, data=b""):
        tensor = helper.make_tensor(name, TensorProto.FLOAT, [1], [0.0])
        tensor.ClearField("float_data")
        del tensor.dims[:]
        tensor.dims.extend(dims)
        tensor.raw_data = data
        return tensor

    model = fastrnn.RNN(2, 3, seed=0)
    exported = fastrnn.onnx.export(model, None)
    cases = {}

    # An initializer claiming 2**44 floats (64 TB), with 8 bytes and with no data.
    for data in (b"\0" * 8, b""):
        claim = onnx.ModelProto(); claim.CopyFrom(exported)
        w = next(t for t in claim.graph.initializer if t.name == "W_l0")
        w.CopyFrom(huge_tensor("W_l0", [2**20, 2**20, 2**4], data))
        cases[f"initializer dims, {len(data)} bytes: load"] = (fastrnn.onnx.load, claim)
        cases[f"initializer dims, {len(data)} bytes: prepare"] = (backend.prepare, claim)
    # A Constant node's tensor claiming the same.
    constant = graph([helper.make_node("Constant", [], ["c"],
                                       value=huge_tensor("v", [2**42]))], [], [value("c")], [])
    cases["constant dims: prepare"] = (backend.prepare, constant)
    # MatMul of two small constants whose product has 2**34 elements (64 GB): as a
    # projected LSTM's R (load reads it through its factors) and in the backend.
    a = numpy_helper.from_array(np.ones((1, 2**17, 1), np.float32), "a")
    b = numpy_helper.from_array(np.ones((1, 1, 2**17), np.float32), "b")
    product = graph([helper.make_node("MatMul", ["a", "b"], ["p"])], [], [value("p")], [a, b])
    cases["MatMul of constants: prepare"] = (backend.prepare, product)
    lstm = fastrnn.onnx.export(fastrnn.LSTM(2, 4, proj_size=2, seed=0), None)
    for t in lstm.graph.initializer:
        if t.name == "W_hh_l0":
            t.CopyFrom(numpy_helper.from_array(np.ones((1, 2**17, 1), np.float32), t.name))
        if t.name == "W_hr_l0":
            t.CopyFrom(numpy_helper.from_array(np.ones((1, 1, 2**17), np.float32), t.name))
    cases["projected R of huge factors: load"] = (fastrnn.onnx.load, lstm)
    cases["projected R of huge factors: prepare"] = (backend.prepare, lstm)
    # ConstantOfShape and Expand to stored shapes of 2**40 elements.
    shape = numpy_helper.from_array(np.array([2**20, 2**20], np.int64), "shape")
    cases["ConstantOfShape: prepare"] = (backend.prepare, graph(
        [helper.make_node("ConstantOfShape", ["shape"], ["z"])], [], [value("z")], [shape]))
    cases["Expand: prepare"] = (backend.prepare, graph(
        [helper.make_node("Expand", ["x", "shape"], ["z"])], [value("x", shape=[1])],
        [value("z")], [shape]))
    # X [2**24, 1, 1], W [1, 2**11, 1] and R [1, 2**11, 2**11] stored (80 MB): Y would
    # have 2**35 elements (128 GB).
    x = numpy_helper.from_array(np.zeros((2**24, 1, 1), np.float32), "X")
    w = numpy_helper.from_array(np.zeros((1, 2**11, 1), np.float32), "W")
    r = numpy_helper.from_array(np.zeros((1, 2**11, 2**11), np.float32), "R")
    rnn = graph([helper.make_node("RNN", ["X", "W", "R"], ["Y"], hidden_size=2**11)],
                [], [value("Y")], [x, w, r])
    cases["RNN over a stored X: prepare"] = (backend.prepare, rnn)
    # A huge hidden_size with small weights.
    big_h = onnx.ModelProto(); big_h.CopyFrom(exported)
    for attribute in big_h.graph.node[0].attribute:
        if attribute.name == "hidden_size":
            attribute.i = 2**40
    cases["hidden_size 2**40: load"] = (fastrnn.onnx.load, big_h)
    cases["hidden_size 2**40: prepare"] = (backend.prepare, big_h)
    # verify's random inputs for an input shape a file fixes at 2**40 x 2**20 x 2.
    fixed = onnx.ModelProto(); fixed.CopyFrom(exported)
    dims = fixed.graph.input[0].type.tensor_type.shape.dim
    dims[0].dim_value, dims[1].dim_value = 2**40, 2**20
    cases["fixed input shape: verify"] = (lambda m: fastrnn.onnx.verify(model, m), fixed)
    # the same claims as bytes, read by the protobuf parser first
    data = cases["initializer dims, 8 bytes: load"][1].SerializeToString()
    cases["initializer dims from bytes: load"] = (fastrnn.onnx.load, data)

    limit = vm_size() + 2**30
    resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
    results = {}
    for name, (read, argument) in cases.items():
        start = time.perf_counter()
        try:
            read(argument)
            outcome = ["accepted", ""]
        except BaseException as exc:
            outcome = [type(exc).__name__, str(exc)[:300]]
        results[name] = outcome + [time.perf_counter() - start]  # seconds, for the report
    json.dump(dict(results=results, maxrss_mb=resource.getrusage(
        resource.RUSAGE_SELF).ru_maxrss / 1024), sys.stdout)
''')


@pytest.mark.skipif(os.environ.get("FASTRNN_ASAN") == "1",
                    reason="measures peak memory, which AddressSanitizer's shadow memory inflates")
def test_claims_of_more_than_100_gb_fail_fast_without_allocating():
    child = subprocess.run([sys.executable, "-c", _CLAIMS], capture_output=True, text=True,
                           timeout=120)
    assert child.returncode == 0, child.stderr[-3000:]
    report = json.loads(child.stdout)
    results = report["results"]
    expected = {
        "initializer dims": ("InvalidModelError", r"has dims \[1048576, 1048576, 16\] "
                             r"\(17592186044416 elements of float32"),
        "constant dims": ("InvalidModelError", r"has dims \[4398046511104\]"),
        "MatMul of constants": ("InvalidModelError", r"the result would have shape "
                                r"\[1, 131072, 131072\]: 17179869184 elements .* from stored"),
        "projected R of huge factors: load": ("InvalidModelError", "R has shape "
                                              r"\[1, 131072, 131072\], which contradicts"),
        "projected R of huge factors: prepare": ("InvalidModelError", "the result would have "
                                                 "shape .* from stored values"),
        "ConstantOfShape": ("InvalidModelError", "the result would have shape "
                            r"\[1048576, 1048576\]: 1099511627776 elements"),
        "Expand": ("UnsupportedModelError", r"expands to the stored shape \[1048576, "
                   r"1048576\] \(1099511627776 elements\)"),
        "RNN over a stored X": ("InvalidModelError", r"Y would have shape "
                                r"\[16777216, 2048\]: 34359738368 elements .* from stored"),
        "hidden_size 2**40: load": ("InvalidModelError", "contradicts hidden_size="
                                    "1099511627776"),
        "hidden_size 2**40: prepare": ("InvalidModelError", r"W must have shape .*"
                                       r"\[1, 1099511627776, 2\], got \[1, 3, 2\]"),
        "fixed input shape": ("ValueError", r"random input would have 2305843009213693952 "
                              "elements"),
    }
    for name, (error, message, _) in results.items():
        key = next(k for k in expected if name.startswith(k))
        want_error, want_message = expected[key]
        assert error == want_error, (name, results[name])
        assert re.search(want_message, message), (name, results[name])
    assert len(results) == 15
    assert report["maxrss_mb"] < 1024, report  # nothing near a claimed size was touched


# ============================================================== the hostile corpus
# Each file of tests/hostile_corpus.py (the cases of the hostile-file issue) is read,
# prepared or run in a child process whose address space is limited to what it had
# after its imports plus 4 GiB: each must be refused (or run) within seconds, with
# a short message naming the node, never a MemoryError or a hang.
_CORPUS = textwrap.dedent(r'''
    import json, resource, sys, time
    sys.path.insert(0, sys.argv[1])
    import hostile_corpus
    import fastrnn.onnx
    from fastrnn.onnx import backend

    cases = hostile_corpus.corpus()
    with open("/proc/self/status") as status:
        vm = next(int(l.split()[1]) * 1024 for l in status if l.startswith("VmSize:"))
    limit = vm + 4 * 2**30
    resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
    results = {}
    for name, (step, model, feeds) in cases.items():
        start = time.perf_counter()
        try:
            if step == "load":
                fastrnn.onnx.load(model)
            else:
                rep = backend.prepare(model)
                if step == "run":
                    rep.run(feeds)
            outcome = ["ran", ""]
        except BaseException as exc:
            outcome = [type(exc).__name__, str(exc)]
        results[name] = outcome + [time.perf_counter() - start]
    json.dump(dict(results=results, maxrss_mb=resource.getrusage(
        resource.RUSAGE_SELF).ru_maxrss / 1024), sys.stdout)
''')


@pytest.mark.skipif(os.environ.get("FASTRNN_ASAN") == "1",
                    reason="measures peak memory, which AddressSanitizer's shadow memory inflates")
def test_the_hostile_corpus_is_refused_in_seconds_and_bounded_memory():
    here = os.path.dirname(os.path.abspath(__file__))
    child = subprocess.run([sys.executable, "-c", _CORPUS, here], capture_output=True,
                           text=True, timeout=300)
    assert child.returncode == 0, child.stderr[-3000:]
    report = json.loads(child.stdout)
    results = report["results"]
    refusals = {"InvalidModelError", "UnsupportedModelError", "LimitError", "ShapeError"}
    for name, (error, message, seconds) in results.items():
        assert error in refusals, (name, error, message[:500])
        assert seconds < 10, (name, seconds)
        assert len(message) < 600, (name, len(message), message[:300])
        assert re.match(r"node \d+ \(\w+", message), (name, message)   # names the node and op
    expected = {  # the refusal each case gets, and where it says the limit is set
        "MatMul of a zero-size claim": ("InvalidModelError", "1099511627776 loops"),
        "the same product as an RNN's R": ("InvalidModelError", "1099511627776 loops"),
        "Reshape to a stored zero-size claim": ("LimitError", "run_elements"),
        "exported file, merge_directions_shape": ("LimitError", "run_elements"),
        "ReverseSequence over a stored": ("InvalidModelError", "folded_elements"),
        "a shape of 2**27 entries": ("InvalidModelError", "at most 64"),
        "three chained Gathers": ("InvalidModelError", "folded_elements"),
        "three chained Concats": ("InvalidModelError", "folded_elements"),
        "five ConstantOfShape": ("InvalidModelError", "folded_elements"),
        "LSTM with every input stored": ("InvalidModelError", "kernel scratch"),
        "initial state of a mutated projection size": ("LimitError", "1174405122"),
        "Expand of a small input": ("LimitError", "run_elements"),
    }
    for name, (error, message, _) in results.items():
        key = next(k for k in expected if name.startswith(k))
        assert error == expected[key][0], (name, error, message)
        assert expected[key][1] in message, (name, message)
    assert len(results) == 14
    assert report["maxrss_mb"] < 2048, report


def test_a_short_fuzzing_run_finds_nothing():
    # tools/fuzz_onnx.py mutates exported files and the corpus above; a longer run is
    # `python tools/fuzz_onnx.py --seconds 600 --seed N`
    tool = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "tools",
                        "fuzz_onnx.py")
    run = subprocess.run([sys.executable, "-W", "ignore", tool, "--seconds", "20", "--seed",
                          "20261207"], capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    match = re.search(r"^(\d+) cases, 0 findings", run.stdout, re.M)
    assert match and int(match.group(1)) > 100, run.stdout[-2000:]
