"""fastrnn.onnx.export and verify: every file passes onnx.checker and computes,
in onnxruntime, what torch computes (LSTM and GRU models and lengths:
test_onnx_export_gated.py).

The torch side comes from the stored parity data (tests/data, written by
tools/make_reference_data.py from torch), so these tests need no torch; the
few that export torch modules directly skip without it.
"""
import io
import pathlib
import warnings

import numpy as np
import onnx
import onnxruntime
import pytest
from onnx import TensorProto, numpy_helper

import fastrnn
import fastrnn.onnx
import reference
from fastrnn.onnx import _export, _names
from reference import assert_close

from onnx_exports import ort_session, value_dims

CASES = reference.parity_cases()
FLOAT32_CASES = [c for c in CASES if c["dtype"] == "float32"]
FLOAT64_CASES = [c for c in CASES if c["dtype"] == "float64"]
FLOAT64_SAMPLE = FLOAT64_CASES[::4] + [c for c in FLOAT64_CASES if c["hidden_size"] == 1]


def _run(proto, x, h0=None):
    feed = {"input": x}
    if h0 is not None:
        feed["h0"] = h0
    return ort_session(proto).run(["output", "h_n"], feed)


def _stored_model(stored, dtype):
    case = stored["case"]
    model = fastrnn.RNN(**reference.case_config(case), dtype=dtype)
    model.load_state_dict(stored["state"])
    return model


def _batched(case, x, hx):
    """The graph takes batched input: an unbatched case runs as batch 1."""
    if case["batch"] is not None:
        return x, hx
    x = x[None] if case["batch_first"] else x[:, None]
    return x, (None if hx is None else hx[:, None])


# ============================================================== parity grid
@pytest.mark.parametrize("case", FLOAT32_CASES, ids=[c["id"] for c in FLOAT32_CASES])
def test_export_runs_in_onnxruntime_like_torch(case):
    """Stored torch output == onnxruntime on the exported file == fastrnn (float32 grid)."""
    stored = reference.load_case(reference.case_path(case["id"]))
    model = _stored_model(stored, np.float32)
    proto = fastrnn.onnx.export(model, None, initial_state=case["with_hx"])
    onnx.checker.check_model(proto, full_check=True)

    x, hx = _batched(case, stored["input"], stored["hx"])
    torch_output, torch_h_n = _batched(case, stored["output"], stored["h_n"])
    output, h_n = _run(proto, x, hx)
    assert_close(output, torch_output, np.float32, "onnxruntime output vs torch")
    assert_close(h_n, torch_h_n, np.float32, "onnxruntime h_n vs torch")
    ours = model(x, hx)
    assert_close(output, ours[0], np.float32, "onnxruntime output vs fastrnn")
    assert_close(h_n, ours[1], np.float32, "onnxruntime h_n vs fastrnn")


@pytest.mark.parametrize("case", FLOAT64_SAMPLE, ids=[c["id"] for c in FLOAT64_SAMPLE])
def test_float64_export_is_a_valid_double_graph(case):
    stored = reference.load_case(reference.case_path(case["id"]))
    model = _stored_model(stored, np.float64)
    proto = fastrnn.onnx.export(model, None, initial_state=case["with_hx"])
    onnx.checker.check_model(proto, full_check=True)
    graph = proto.graph
    for value in list(graph.input) + list(graph.output):
        assert value.type.tensor_type.elem_type == TensorProto.DOUBLE, value.name
    for init in graph.initializer:
        if init.name[0] in "WRB":
            assert init.data_type == TensorProto.DOUBLE, init.name
    # The weights are stored exactly: loading gives float64 results equal to torch's.
    loaded = fastrnn.onnx.load(proto)
    assert loaded.dtype == np.float64
    output, h_n = loaded(stored["input"], stored["hx"])
    assert_close(output, stored["output"], np.float64, "loaded float64 output vs torch")
    assert_close(h_n, stored["h_n"], np.float64, "loaded float64 h_n vs torch")


def test_float64_verify_says_onnxruntime_cannot_run_it():
    model = fastrnn.RNN(3, 4, dtype=np.float64, seed=0)
    proto = fastrnn.onnx.export(model, None)
    with pytest.raises(fastrnn.onnx.UnsupportedModelError,
                       match="float64 model: onnxruntime has no double"):
        fastrnn.onnx.verify(model, proto)
    # And onnxruntime really refuses the graph (the reason verify gives).
    with pytest.raises(Exception, match="(?i)double|implementation|type"):
        _run(proto, np.zeros((2, 1, 3)))


# ============================================================== graph layout
@pytest.mark.parametrize("num_layers, bidirectional, batch_first, bias, nonlinearity, h0", [
    (1, False, False, True, "tanh", False),
    (2, True, True, False, "relu", True),
    (3, True, False, True, "relu", False),
    (3, False, True, True, "tanh", True),
])
def test_graph_is_one_rnn_node_per_layer(num_layers, bidirectional, batch_first, bias,
                                         nonlinearity, h0):
    model = fastrnn.RNN(3, 5, num_layers, nonlinearity=nonlinearity, bias=bias,
                        batch_first=batch_first, bidirectional=bidirectional, seed=1)
    proto = fastrnn.onnx.export(model, None, initial_state=h0)
    graph = proto.graph
    D = 2 if bidirectional else 1
    rnn_nodes = [n for n in graph.node if n.op_type == "RNN"]
    assert len(rnn_nodes) == num_layers
    assert {n.op_type for n in graph.node} <= {"RNN", "Transpose", "Reshape", "Concat", "Slice"}
    inits = {i.name: numpy_helper.to_array(i) for i in graph.initializer}
    state = model.state_dict()
    for k, node in enumerate(rnn_nodes):
        attrs = {a.name: onnx.helper.get_attribute_value(a) for a in node.attribute}
        assert attrs["hidden_size"] == 5
        assert attrs["direction"] == (b"bidirectional" if bidirectional else b"forward")
        assert attrs["activations"] == [nonlinearity.title().encode()] * D
        assert "layout" not in attrs and "clip" not in attrs
        W, R = inits[node.input[1]], inits[node.input[2]]
        assert W.shape == (D, 5, 3 if k == 0 else D * 5) and R.shape == (D, 5, 5)
        for d, suffix in enumerate(["", "_reverse"][:D]):
            np.testing.assert_array_equal(W[d], state[f"weight_ih_l{k}{suffix}"])
            np.testing.assert_array_equal(R[d], state[f"weight_hh_l{k}{suffix}"])
            if bias:
                B = inits[node.input[3]]
                np.testing.assert_array_equal(
                    B[d], np.concatenate([state[f"bias_ih_l{k}{suffix}"],
                                          state[f"bias_hh_l{k}{suffix}"]]))
        if not bias:
            assert len(node.input) < 4 or node.input[3] == ""
        assert (len(node.input) > 5 and node.input[5] != "") == h0
    # The input keeps the model's layout; outputs have torch's shapes.
    names = [i.name for i in graph.input]
    assert names == (["input", "h0"] if h0 else ["input"])
    expected_input = ["batch", "sequence", 3] if batch_first else ["sequence", "batch", 3]
    assert value_dims(graph.input[0]) == expected_input
    if h0:
        assert value_dims(graph.input[1]) == [D * num_layers, "batch", 5]
    assert [o.name for o in graph.output] == ["output", "h_n"]
    assert value_dims(graph.output[0]) == expected_input[:2] + [D * 5]
    assert value_dims(graph.output[1]) == [D * num_layers, "batch", 5]
    transposes = [n for n in graph.node if n.op_type == "Transpose"
                  and list(n.attribute[0].ints) == [1, 0, 2]]
    assert len(transposes) == (2 if batch_first else 0)


def test_one_file_serves_every_batch_size_and_length(tmp_path):
    model = fastrnn.RNN(4, 6, 2, bidirectional=True, batch_first=True, seed=3)
    path = tmp_path / "rnn.onnx"
    fastrnn.onnx.export(model, path, initial_state=True)
    session = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    rng = np.random.default_rng(0)
    for n in (1, 2, 7):
        for length in (1, 3, 11):
            x = rng.standard_normal((n, length, 4)).astype(np.float32)
            h0 = rng.standard_normal((4, n, 6)).astype(np.float32)
            output, h_n = session.run(["output", "h_n"], {"input": x, "h0": h0})
            assert output.shape == (n, length, 12) and h_n.shape == (4, n, 6)
            ours = model(x, h0)
            assert_close(output, ours[0], np.float32, f"output n={n} L={length}")
            assert_close(h_n, ours[1], np.float32, f"h_n n={n} L={length}")


@pytest.mark.parametrize("batch_first", [False, True])
def test_exported_graph_runs_at_batch_size_zero(batch_first):
    """An empty batch has no elements to infer a Reshape -1 from; the file still runs,
    in onnxruntime and in fastrnn's backend, with the shapes the model gives."""
    from fastrnn.onnx import backend

    model = fastrnn.RNN(3, 4, 2, bidirectional=True, batch_first=batch_first, seed=0)
    proto = fastrnn.onnx.export(model, None, initial_state=True)
    x = np.zeros((0, 5, 3) if batch_first else (5, 0, 3), np.float32)
    h0 = np.zeros((4, 0, 4), np.float32)
    want = model(x, h0)
    assert [w.shape for w in want] == [x.shape[:2] + (8,), (4, 0, 4)]
    for got in (_run(proto, x, h0), backend.prepare(proto).run([x, h0])):
        assert [g.shape for g in got] == [w.shape for w in want]
        assert [g.dtype for g in got] == [np.float32, np.float32]
    # verify refuses an empty case: nothing to compare, and onnxruntime 1.31
    # terminates the process on an empty GRU or LSTM batch.
    with pytest.raises(ValueError, match="has no sequence: nothing to compare"):
        fastrnn.onnx.verify(model, proto, [(x, h0)])


@pytest.mark.parametrize("cls", [fastrnn.LSTM, fastrnn.GRU])
def test_verify_refuses_an_empty_gated_batch_before_onnxruntime(cls):
    model = cls(3, 5, seed=0)
    with pytest.raises(ValueError, match="nothing to compare"):
        fastrnn.onnx.verify(model, fastrnn.onnx.export(model, None),
                            [np.zeros((4, 0, 3), np.float32)])


def test_verify_reports_a_file_onnxruntime_cannot_load():
    model = fastrnn.GRU(3, 5, seed=0)
    proto = fastrnn.onnx.export(model, None, opset=onnx.defs.onnx_opset_version())
    if proto.ir_version <= fastrnn.onnx.default_opset()[1]:
        pytest.skip("the installed onnxruntime loads the newest opset")
    with pytest.raises(fastrnn.onnx.UnsupportedModelError, match="cannot load this file"):
        fastrnn.onnx.verify(model, proto)


def test_without_initial_state_every_layer_starts_from_zeros():
    model = fastrnn.RNN(3, 4, 3, bidirectional=True, seed=5)
    proto = fastrnn.onnx.export(model, None)
    x = np.random.default_rng(1).standard_normal((5, 2, 3)).astype(np.float32)
    output, h_n = _run(proto, x)
    zeros = np.zeros((6, 2, 4), np.float32)
    ours = model(x, zeros)
    assert_close(output, ours[0], np.float32)
    assert_close(h_n, ours[1], np.float32)
    # and a non-zero h0 really changes the result, so the h0 tests can fail
    assert not np.allclose(model(x, zeros + 0.5)[1], h_n, atol=1e-3)


# ============================================================== targets
def test_export_to_path_pathlike_and_file_object(tmp_path):
    model = fastrnn.RNN(3, 4, 2, seed=0)
    proto = fastrnn.onnx.export(model, None)
    data = proto.SerializeToString()
    assert isinstance(proto, onnx.ModelProto)

    text_path = str(tmp_path / "a.onnx")
    assert fastrnn.onnx.export(model, text_path) == proto
    assert pathlib.Path(text_path).read_bytes() == data
    assert fastrnn.onnx.export(model, tmp_path / "b.onnx") == proto
    assert (tmp_path / "b.onnx").read_bytes() == data

    buffer = io.BytesIO()
    fastrnn.onnx.export(model, buffer)
    assert buffer.getvalue() == data
    with open(tmp_path / "c.onnx", "wb") as file:
        fastrnn.onnx.export(model, file)
    assert onnx.load(tmp_path / "c.onnx") == proto
    x = np.ones((2, 1, 3), np.float32)
    assert_close(_run(onnx.load(text_path), x)[0], model(x)[0], np.float32)


def test_export_refuses_bad_arguments(tmp_path):
    model = fastrnn.RNN(3, 4)
    with pytest.raises(TypeError, match="fastrnn.RNN"):
        fastrnn.onnx.export(object(), tmp_path / "x.onnx")
    with pytest.raises(TypeError, match="binary file object"):
        fastrnn.onnx.export(model, 42)
    with open(tmp_path / "text.onnx", "w") as text_file:
        with pytest.raises(TypeError, match="binary mode"):
            fastrnn.onnx.export(model, text_file)
    with pytest.raises(TypeError, match="initial_state"):
        fastrnn.onnx.export(model, None, initial_state="yes")
    with pytest.raises(ValueError, match="opset must be between"):
        fastrnn.onnx.export(model, None, opset=9)
    with pytest.raises(ValueError, match="opset must be between"):
        fastrnn.onnx.export(model, None, opset=onnx.defs.onnx_opset_version() + 1)
    with pytest.raises(TypeError, match="opset must be an int"):
        fastrnn.onnx.export(model, None, opset=17.0)
    assert not (tmp_path / "x.onnx").exists()


# ============================================================== opset / IR
def test_default_opset_is_the_newest_onnxruntime_loads():
    opset, ir_version = _export.default_opset()
    proto = fastrnn.onnx.export(fastrnn.RNN(2, 3, seed=0), None)
    assert [(o.domain, o.version) for o in proto.opset_import] == [("", opset)]
    assert proto.ir_version == ir_version
    assert opset <= onnx.defs.onnx_opset_version()
    assert ir_version == onnx.helper.find_min_ir_version_for([onnx.helper.make_opsetid("", opset)])
    assert opset >= 17  # onnxruntime >= 1.17 loads at least this
    ort_session(proto)  # loads
    # ...and it is the highest: onnxruntime refuses the next opset (or onnx has none).
    if opset < onnx.defs.onnx_opset_version():
        newer = fastrnn.onnx.export(fastrnn.RNN(2, 3, seed=0), None, opset=opset + 1)
        with pytest.raises(Exception):
            ort_session(newer)


@pytest.mark.parametrize("opset", [10, 13, 14, 17, 21])
def test_explicit_opsets_pass_checker_and_run(opset):
    model = fastrnn.RNN(3, 4, 2, bidirectional=True, batch_first=True, seed=2)
    proto = fastrnn.onnx.export(model, None, opset=opset, initial_state=True)
    onnx.checker.check_model(proto, full_check=True)
    assert proto.opset_import[0].version == opset
    assert fastrnn.onnx.verify(model, proto) <= 1e-5


# ============================================================== verify
def test_verify_random_inputs_returns_the_largest_difference():
    model = fastrnn.RNN(3, 4, 2, bidirectional=True, seed=0)
    proto = fastrnn.onnx.export(model, None, initial_state=True)
    error = fastrnn.onnx.verify(model, proto)
    assert isinstance(error, float) and 0 <= error <= 1e-5
    # The same number by hand, on the inputs verify documents.
    rng = np.random.default_rng(0)
    worst = 0.0
    for n in (1, 4):
        for length in (1, 7):
            x = rng.standard_normal((length, n, 3)).astype(np.float32)
            h0 = rng.standard_normal((4, n, 4)).astype(np.float32)
            for got, want in zip(_run(proto, x, h0), model(x, h0)):
                worst = max(worst, reference.normalized_error(got, want))
    assert error == pytest.approx(worst, rel=1e-6, abs=1e-12)


def test_verify_given_inputs(tmp_path):
    model = fastrnn.RNN(3, 4, 2, batch_first=True, seed=0)
    path = tmp_path / "m.onnx"
    fastrnn.onnx.export(model, path, initial_state=True)
    rng = np.random.default_rng(5)
    x = rng.standard_normal((2, 6, 3)).astype(np.float32)
    h0 = rng.standard_normal((2, 2, 4)).astype(np.float32)
    x_before = x.copy()
    assert fastrnn.onnx.verify(model, path, x) <= 1e-5
    assert fastrnn.onnx.verify(model, str(path), [x, (x, h0), x[:1]]) <= 1e-5
    assert fastrnn.onnx.verify(model, path.read_bytes(), (x, h0)) <= 1e-5
    with open(path, "rb") as file:
        assert fastrnn.onnx.verify(model, file, [rng.standard_normal((6, 3))]) <= 1e-5  # unbatched
    np.testing.assert_array_equal(x, x_before)


def test_verify_catches_a_model_that_differs():
    model = fastrnn.RNN(3, 4, 2, seed=0)
    proto = fastrnn.onnx.export(model, None)
    model.weight_hh_l1 = model.weight_hh_l1 + 1e-3
    with pytest.raises(fastrnn.onnx.VerificationError,
                       match=r"differ on (output|h_n).*> tolerance"):
        fastrnn.onnx.verify(model, proto)
    with pytest.raises(AssertionError):
        fastrnn.onnx.verify(model, proto)
    with pytest.raises(ValueError):
        fastrnn.onnx.verify(model, proto)


def test_verify_catches_an_unused_h0():
    """A file without h0 checked with h0 is refused, not silently compared."""
    model = fastrnn.RNN(3, 4, seed=0)
    proto = fastrnn.onnx.export(model, None)
    x = np.zeros((2, 1, 3), np.float32)
    with pytest.raises(ValueError, match="no initial state"):
        fastrnn.onnx.verify(model, proto, (x, np.zeros((1, 1, 4))))


def test_verify_nan_and_infinity_at_the_same_places_agree():
    """NaN in both results is agreement; the difference is taken over finite entries."""
    model = fastrnn.RNN(3, 4, seed=0)
    proto = fastrnn.onnx.export(model, None)
    x = np.ones((2, 2, 3), np.float32)
    x[0, 0, 0] = np.nan  # batch item 0 is NaN from the first step on, item 1 is not
    output, h_n = model(x)
    assert np.isnan(output[:, 0]).all() and np.isfinite(output[:, 1]).all()
    assert 0 <= fastrnn.onnx.verify(model, proto, [x]) <= 1e-5

    # Relu without bias, positive weights: the last steps overflow to +inf in both.
    model = fastrnn.RNN(2, 3, nonlinearity="relu", bias=False, seed=0)
    model.weight_ih_l0 = np.abs(model.weight_ih_l0) + 0.1
    model.weight_hh_l0 = np.abs(model.weight_hh_l0) + 0.1
    proto = fastrnn.onnx.export(model, None)
    x = np.full((3, 1, 2), 1e38, np.float32)
    output, _ = model(x)
    assert np.isposinf(output).any() and np.isfinite(output).any()
    assert 0 <= fastrnn.onnx.verify(model, proto, [x]) <= 1e-5


def test_verify_catches_nan_in_one_result_only():
    model = fastrnn.RNN(3, 4, seed=0)
    proto = fastrnn.onnx.export(model, None)
    (w,) = [t for t in proto.graph.initializer if t.name == _names.initializer_names(0)["W"]]
    W = numpy_helper.to_array(w).copy()
    W[0, 1, 0] = np.nan  # the file's W only: onnxruntime's results become NaN
    w.CopyFrom(numpy_helper.from_array(W, w.name))
    with pytest.raises(fastrnn.onnx.VerificationError,
                       match=r"differ on output .*at output\[0, 0, 1\] onnxruntime gives nan "
                             r"and fastrnn -?\d.*NaN or an infinity is in one and not the other"):
        fastrnn.onnx.verify(model, proto, [np.ones((2, 1, 3), np.float32)])
    # ... and the other way round: onnxruntime's Relu maps NaN to 0, fastrnn's (as
    # torch's) keeps NaN.
    model = fastrnn.RNN(3, 4, nonlinearity="relu", seed=0)
    x = np.ones((2, 1, 3), np.float32)
    x[0, 0, 0] = np.nan
    with pytest.raises(fastrnn.onnx.VerificationError,
                       match=r"onnxruntime gives 0\.0 and fastrnn nan"):
        fastrnn.onnx.verify(model, fastrnn.onnx.export(model, None), [x])


def test_verify_refuses_inputs_it_cannot_compare():
    model = fastrnn.RNN(3, 4, seed=0)
    proto = fastrnn.onnx.export(model, None, initial_state=True)
    x = np.ones((2, 1, 3), np.float32)
    h0 = np.zeros((1, 1, 4), np.float32)
    with pytest.raises(ValueError, match="no inputs to compare"):
        fastrnn.onnx.verify(model, proto, [])
    with pytest.raises(ValueError, match=r"case 1 must be an array, a tuple \(input, h0\[, "
                                         r"lengths\]\) or a dict, got a tuple of 4"):
        fastrnn.onnx.verify(model, proto, [x, (x, h0, [1, 1], None)])
    with pytest.raises(ValueError, match="case 1: lengths were given, but the ONNX file has no "
                                         "sequence_lens input"):
        fastrnn.onnx.verify(model, proto, [x, (x, h0, [1, 1])])
    with pytest.raises(ValueError, match=r"case 0: a dict case holds the model's arguments "
                                         r"'input' \(required\), 'hx' and 'lengths', got keys "
                                         r"\['h0', 'input'\]"):
        fastrnn.onnx.verify(model, proto, {"input": x, "h0": h0})
    for bad in (x.astype(np.complex64), x.astype(object), np.full((2, 1, 3), "1"),
                x.astype(bool)):
        with pytest.raises(TypeError, match=rf"verify input \(case 0\) must hold real numbers.*"
                                            rf"got dtype {bad.dtype}"):
            fastrnn.onnx.verify(model, proto, [bad])
        # the model refuses the same inputs the same way
        with pytest.raises(TypeError, match="must hold real numbers"):
            model(bad)
    with pytest.raises(TypeError, match=r"verify h0 \(case 0\) must hold real numbers"):
        fastrnn.onnx.verify(model, proto, [(x, h0.astype(complex))])
    # integer input is real: converted, as the model converts it
    assert fastrnn.onnx.verify(model, proto, [(x.astype(np.int64), h0)]) <= 1e-5


@pytest.mark.parametrize("tolerance, error, message", [
    (-1e-5, ValueError, "tolerance must be a number >= 0, got -1e-05"),
    (float("nan"), ValueError, "tolerance must be a number >= 0, got nan"),
    ("1e-5", TypeError, "tolerance must be a number, got str"),
    (None, TypeError, "tolerance must be a number, got NoneType"),
    (True, TypeError, "tolerance must be a number, got bool"),
])
def test_verify_refuses_a_bad_tolerance(tolerance, error, message):
    model = fastrnn.RNN(3, 4, seed=0)
    with pytest.raises(error, match=message):
        fastrnn.onnx.verify(model, fastrnn.onnx.export(model, None), tolerance=tolerance)


def test_verify_refuses_a_file_for_another_input_size():
    proto = fastrnn.onnx.export(fastrnn.RNN(3, 4, seed=0), None)
    with pytest.raises(ValueError, match="3 features.*input_size is 5"):
        fastrnn.onnx.verify(fastrnn.RNN(5, 4, seed=0), proto)


# ============================================================== torch modules
def test_export_and_verify_a_torch_module_and_a_torch_file():
    torch = pytest.importorskip("torch")
    torch.manual_seed(0)
    module = torch.nn.RNN(3, 5, 2, bidirectional=True, batch_first=True, nonlinearity="relu")
    proto = fastrnn.onnx.export(module, None, initial_state=True)
    x = torch.randn(4, 6, 3)
    h0 = torch.randn(4, 4, 5)
    with torch.no_grad():
        want = module(x, h0)
    got = _run(proto, x.numpy(), h0.numpy())
    for g, w in zip(got, want):
        assert_close(g, w.numpy(), np.float32, "onnxruntime on fastrnn's file vs torch")
    # verify also checks torch's own file against the fastrnn model (fixed shapes).
    buffer = io.BytesIO()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the legacy exporter's deprecation and tracer notes
        torch.onnx.export(module, (x, h0), buffer, dynamo=False)
    assert fastrnn.onnx.verify(module, buffer.getvalue()) <= 1e-5


# ============================================================== name mapping
def test_names_map_torch_parameters_to_onnx_tensors_and_back():
    model = fastrnn.RNN(3, 4, 2, bidirectional=True, seed=0)
    state = model.state_dict()
    W, R, B = _names.onnx_layer_tensors(state, 1, 2, bias=True)
    assert W.shape == (2, 4, 8) and R.shape == (2, 4, 4) and B.shape == (2, 8)
    np.testing.assert_array_equal(W[1], state["weight_ih_l1_reverse"])
    np.testing.assert_array_equal(B[0, 4:], state["bias_hh_l1"])
    back = _names.torch_layer_parameters(W, R, B, 1)
    assert sorted(back) == sorted(k for k in state if "_l1" in k)
    for name, array in back.items():
        np.testing.assert_array_equal(array, state[name])
    assert _names.onnx_layer_tensors(state, 0, 2, bias=False)[2] is None
    with pytest.raises(ValueError, match="no torch <-> ONNX gate mapping for op 'Scan'"):
        _names.onnx_layer_tensors(state, 0, 2, bias=True, op="Scan")
    assert [_names.onnx_op(m) for m in ("RNN_TANH", "RNN_RELU", "LSTM", "GRU")] == \
        ["RNN", "RNN", "LSTM", "GRU"]
    assert [_names.gate_count(op) for op in ("RNN", "GRU", "LSTM")] == [1, 3, 4]


# Gate blocks by name: torch's order and ONNX's, from the two projects' documentation.
TORCH_GATES = {"LSTM": ("i", "f", "g", "o"), "GRU": ("r", "z", "n")}
ONNX_GATES = {"LSTM": ("i", "o", "f", "g"), "GRU": ("z", "r", "n")}  # ONNX c = g, h = n


@pytest.mark.parametrize("op", ["LSTM", "GRU"])
def test_names_reorder_gate_blocks_by_name_and_back(op):
    """Each ONNX gate block of W, R and both halves of B holds torch's block of the same
    gate; the inverse mapping, and the kernels' reading of an ONNX node, give torch's back."""
    G, H = len(TORCH_GATES[op]), 3
    rng = np.random.default_rng(0)
    state = {}
    for d, suffix in enumerate(["", "_reverse"]):
        state.update({f"weight_ih_l0{suffix}": rng.standard_normal((G * H, 5)),
                      f"weight_hh_l0{suffix}": rng.standard_normal((G * H, H)),
                      f"bias_ih_l0{suffix}": rng.standard_normal(G * H),
                      f"bias_hh_l0{suffix}": rng.standard_normal(G * H)})
    W, R, B = _names.onnx_layer_tensors(state, 0, 2, bias=True, op=op)
    assert W.shape == (2, G * H, 5) and R.shape == (2, G * H, H) and B.shape == (2, 2 * G * H)

    def block(array, gate, gates):
        j = gates.index(gate)
        return array[j * H:(j + 1) * H]
    for d, suffix in enumerate(["", "_reverse"]):
        for gate in TORCH_GATES[op]:
            for onnx_array, kind in ((W[d], "weight_ih"), (R[d], "weight_hh"),
                                     (B[d, :G * H], "bias_ih"), (B[d, G * H:], "bias_hh")):
                np.testing.assert_array_equal(
                    block(onnx_array, gate, ONNX_GATES[op]),
                    block(state[f"{kind}_l0{suffix}"], gate, TORCH_GATES[op]), err_msg=gate)
    back = _names.torch_layer_parameters(W, R, B, 0, op=op)
    assert sorted(back) == sorted(state)
    for name, array in state.items():
        np.testing.assert_array_equal(back[name], array)
    w_ih, w_hh = _names.kernel_gates(W, op), _names.kernel_gates(R, op)
    b_ih, b_hh = _names.kernel_biases(B, op)
    for d, suffix in enumerate(["", "_reverse"]):
        np.testing.assert_array_equal(w_ih[d], state[f"weight_ih_l0{suffix}"])
        np.testing.assert_array_equal(w_hh[d], state[f"weight_hh_l0{suffix}"])
        np.testing.assert_array_equal(b_ih[d], state[f"bias_ih_l0{suffix}"])
        np.testing.assert_array_equal(b_hh[d], state[f"bias_hh_l0{suffix}"])
    assert all(a.flags.c_contiguous for a in (w_ih, w_hh, b_ih, b_hh))


def test_names_peepholes_go_from_onnx_order_to_the_kernels():
    """ONNX stacks P as (i, o, f); the kernel reads (i, f, o)."""
    H = 2
    P = np.array([[1, 1, 2, 2, 3, 3], [4, 4, 5, 5, 6, 6]], np.float32)  # i, o, f per direction
    peep = _names.kernel_peepholes(P)
    assert peep.shape == (2, 3, H) and peep.flags.c_contiguous
    np.testing.assert_array_equal(peep[0], [[1, 1], [3, 3], [2, 2]])  # i, f, o
    np.testing.assert_array_equal(peep[1], [[4, 4], [6, 6], [5, 5]])


def test_names_reorder_gate_blocks_when_an_op_has_several(monkeypatch):
    """Any gate order works: blocks move, and come back."""
    monkeypatch.setitem(_names.GATE_ORDER, "THREE_GATES", (2, 0, 1))
    H = 2
    rows = np.arange(3 * H * 5, dtype=np.float32).reshape(3 * H, 5)
    biases = np.arange(3 * H, dtype=np.float32)
    state = {"weight_ih_l0": rows, "weight_hh_l0": rows[:, :H].copy(),
             "bias_ih_l0": biases, "bias_hh_l0": biases + 100}
    W, R, B = _names.onnx_layer_tensors(state, 0, 1, bias=True, op="THREE_GATES")
    # ONNX gate block 0 is torch's block 2, block 1 torch's 0, block 2 torch's 1.
    np.testing.assert_array_equal(W[0, 0:H], rows[2 * H:3 * H])
    np.testing.assert_array_equal(W[0, H:2 * H], rows[0:H])
    np.testing.assert_array_equal(B[0, :3 * H], np.concatenate([biases[4:], biases[:4]]))
    back = _names.torch_layer_parameters(W, R, B, 0, op="THREE_GATES")
    for name, array in state.items():
        np.testing.assert_array_equal(back[name], array)


def test_activation_names_have_one_map():
    """_names.ACTIVATIONS spells every activation the kernels have, as the ONNX operator
    lists them; torch's nonlinearities are two of them."""
    import onnx_reference
    from fastrnn import _kernels

    assert set(_names.ACTIVATIONS) == set(_kernels.ACTIVATIONS)
    assert list(_names.ACTIVATIONS.values()) == list(onnx_reference.ACTIVATIONS)
    assert all(key == name.lower() for key, name in _names.ACTIVATIONS.items())
    assert _names.onnx_activation("leakyRELU") == "LeakyRelu"
    assert _names.onnx_activation("Swish") is None
    assert [_names.ACTIVATIONS[n] for n in _names.TORCH_NONLINEARITIES] == ["Tanh", "Relu"]
    assert _names.torch_nonlinearity("RELU") == "relu"
    assert _names.torch_nonlinearity("Sigmoid") is None
    for nonlinearity in _names.TORCH_NONLINEARITIES:
        proto = fastrnn.onnx.export(fastrnn.RNN(2, 3, nonlinearity=nonlinearity, seed=0), None)
        (rnn,) = [n for n in proto.graph.node if n.op_type == "RNN"]
        (activations,) = [a.strings for a in rnn.attribute if a.name == "activations"]
        assert activations == [_names.ACTIVATIONS[nonlinearity].encode()]
        assert fastrnn.onnx.load(proto).nonlinearity == nonlinearity
