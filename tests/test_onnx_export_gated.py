"""fastrnn.onnx.export of LSTM and GRU models (projections included) and of
lengths, verified in onnxruntime."""
import io
import warnings

import numpy as np
import onnx
import pytest
from onnx import TensorProto, numpy_helper

import fastrnn
import fastrnn.onnx
import reference
from fastrnn.onnx import _names
from reference import assert_close

from onnx_exports import ort_session, value_dims


# ============================================================== LSTM and GRU
GATED_CASES = {kind: reference.parity_cases(kind) for kind in ("lstm", "gru")}
GATED_FLOAT32 = [c for kind in ("lstm", "gru") for c in GATED_CASES[kind]
                 if c["dtype"] == "float32" and not c.get("proj_size")]  # projections below
GATED_FLOAT64 = [c for kind in ("lstm", "gru") for c in GATED_CASES[kind]
                 if c["dtype"] == "float64" and not c.get("proj_size")]
PROJECTION_CASES = [c for c in GATED_CASES["lstm"] if c["proj_size"]]


def _stored_gated(case, dtype):
    stored = reference.load_case(reference.case_path(case["id"]))
    cls = fastrnn.LSTM if case["kind"] == "lstm" else fastrnn.GRU
    model = cls(**reference.case_config(case), dtype=dtype)
    model.load_state_dict(stored["state"])
    return stored, model


def _flat_states(case, hx):
    """An LSTM's (h0, c0), an h0 or None as the list of graph inputs after `input`."""
    if hx is None:
        return []
    return list(hx) if case["kind"] == "lstm" else [hx]


def _batched_gated(case, x, states):
    if case["batch"] is not None:
        return x, states
    x = x[None] if case["batch_first"] else x[:, None]
    return x, [s[:, None] for s in states]


def _stored_outputs(case, stored):
    names = ["output", "h_n"] + (["c_n"] if case["kind"] == "lstm" else [])
    return names, [stored[name] for name in names]


def _model_outputs(case, model, x, states):
    hx = None
    if states:
        hx = tuple(states) if case["kind"] == "lstm" else states[0]
    output, finals = model(x, hx)
    return [output] + (list(finals) if case["kind"] == "lstm" else [finals])


def _batched_outputs(case, names, outputs):
    """Stored unbatched torch outputs as the graph gives them, with a batch axis of 1."""
    if case["batch"] is not None:
        return outputs
    return [o[None] if name == "output" and case["batch_first"] else o[:, None]
            for name, o in zip(names, outputs)]


def _check_export_in_onnxruntime(case):
    """Stored torch output == onnxruntime on the exported file == fastrnn (float32)."""
    stored, model = _stored_gated(case, np.float32)
    proto = fastrnn.onnx.export(model, None, initial_state=case["with_hx"])
    x, states = _batched_gated(case, stored["input"], _flat_states(case, stored["hx"]))
    names, torch_outputs = _stored_outputs(case, stored)
    feed = dict(zip(["input"] + [f"{n[0]}0" for n in names[1:]], [x] + states))
    got = ort_session(proto).run(names, feed)
    ours = _model_outputs(case, model, x, states)
    for name, g, t, o in zip(names, got, _batched_outputs(case, names, torch_outputs), ours):
        assert_close(g, t, np.float32, f"onnxruntime {name} vs torch", kind=case["kind"])
        assert_close(g, o, np.float32, f"onnxruntime {name} vs fastrnn", kind=case["kind"])


@pytest.mark.parametrize("case", GATED_FLOAT32, ids=[c["id"] for c in GATED_FLOAT32])
def test_lstm_and_gru_export_runs_in_onnxruntime_like_torch(case):
    _check_export_in_onnxruntime(case)


@pytest.mark.parametrize("case", GATED_FLOAT64, ids=[c["id"] for c in GATED_FLOAT64])
def test_float64_lstm_and_gru_export(case):
    """onnxruntime has no double GRU or LSTM: the valid float64 graph runs in fastrnn's
    backend, identically to the model, and loads back to the same weights."""
    from fastrnn.onnx import backend

    stored, model = _stored_gated(case, np.float64)
    proto = fastrnn.onnx.export(model, None, initial_state=case["with_hx"])
    for value in list(proto.graph.input) + list(proto.graph.output):
        assert value.type.tensor_type.elem_type == TensorProto.DOUBLE, value.name
    x, states = _batched_gated(case, stored["input"], _flat_states(case, stored["hx"]))
    got = backend.prepare(proto).run([x] + states)
    ours = _model_outputs(case, model, x, states)
    for g, o in zip(got, ours):
        np.testing.assert_array_equal(g, o)
    loaded = fastrnn.onnx.load(proto)
    assert type(loaded) is type(model) and loaded.dtype == np.float64
    names, torch_outputs = _stored_outputs(case, stored)
    unbatched = _model_outputs(case, loaded, stored["input"], _flat_states(case, stored["hx"]))
    for name, g, t in zip(names, unbatched, torch_outputs):
        assert_close(g, t, np.float64, f"loaded float64 {name} vs torch")


PROJECTION_FLOAT32 = [c for c in PROJECTION_CASES if c["dtype"] == "float32"]
PROJECTION_FLOAT64 = [c for c in PROJECTION_CASES if c["dtype"] == "float64"]


@pytest.mark.parametrize("case", PROJECTION_FLOAT32, ids=[c["id"] for c in PROJECTION_FLOAT32])
def test_lstm_with_projections_runs_in_onnxruntime_like_torch(case):
    """torch.onnx.export refuses proj_size > 0; fastrnn writes the same math in standard
    ops (R = MatMul(W_hh, W_hr), MatMul by W_hr^T, h0 through extra input features)."""
    _check_export_in_onnxruntime(case)


@pytest.mark.parametrize("case", PROJECTION_FLOAT64, ids=[c["id"] for c in PROJECTION_FLOAT64])
def test_float64_lstm_with_projections_runs_in_the_backend_like_torch(case):
    """No double LSTM in onnxruntime: fastrnn's backend runs the float64 graph. The node
    groups the sums differently from the model, so the results agree to rounding."""
    from fastrnn.onnx import backend

    stored, model = _stored_gated(case, np.float64)
    proto = fastrnn.onnx.export(model, None, initial_state=case["with_hx"])
    x, states = _batched_gated(case, stored["input"], _flat_states(case, stored["hx"]))
    got = backend.prepare(proto).run([x] + states)
    names, torch_outputs = _stored_outputs(case, stored)
    for name, g, t, o in zip(names, got, _batched_outputs(case, names, torch_outputs),
                             _model_outputs(case, model, x, states)):
        assert_close(g, t, np.float64, f"backend {name} vs torch", kind="lstm")
        assert_close(g, o, np.float64, f"backend {name} vs fastrnn", kind="lstm")


@pytest.mark.parametrize("bidirectional", [False, True])
def test_lstm_with_projections_graph(bidirectional):
    model = fastrnn.LSTM(3, 5, 2, proj_size=2, bidirectional=bidirectional, seed=4)
    D = 2 if bidirectional else 1
    state = model.state_dict()
    for initial_state in (False, True):
        proto = fastrnn.onnx.export(model, None, initial_state=initial_state)
        graph = proto.graph
        ops = [n.op_type for n in graph.node]
        # per layer: R = MatMul(W_hh, W_hr), Y and Y_h times W_hr^T
        assert ops.count("LSTM") == 2 and ops.count("MatMul") == 6
        inits = {i.name: numpy_helper.to_array(i) for i in graph.initializer}
        for k, node in enumerate(n for n in graph.node if n.op_type == "LSTM"):
            W = inits[node.input[1]]
            (fold,) = [n for n in graph.node if n.output[0] == node.input[2]]
            assert fold.op_type == "MatMul"
            W_hh, W_hr = (inits[name] for name in fold.input)
            in_k = 3 if k == 0 else D * 2
            assert W.shape == (D, 20, in_k + (D * 2 if initial_state else 0))
            assert W_hh.shape == (D, 20, 2) and W_hr.shape == (D, 2, 5)
            assert node.input[5:6] in ([], [""])  # never an initial_h: zeros
            if initial_state:
                assert node.input[6] == "c0_l%d" % k
            back = _names.torch_layer_parameters(W[:, :, :in_k], W_hh, None, k, "LSTM")
            back.update(_names.torch_projection_parameters(W_hr, k))
            for name, array in back.items():  # the file keeps torch's parameters as they are
                np.testing.assert_array_equal(array, state[name], err_msg=name)
            for d in range(D):
                if initial_state:  # direction d's h0 features carry its W_hh, the other's 0
                    extra = W[d][:, in_k:]
                    np.testing.assert_array_equal(extra[:, d * 2:(d + 1) * 2], W_hh[d])
                    assert not np.any(np.delete(extra, np.s_[d * 2:(d + 1) * 2], axis=1))
        assert [value_dims(v) for v in graph.output] == [["sequence", "batch", D * 2],
                                                   [2 * D, "batch", 2], [2 * D, "batch", 5]]
        if initial_state:
            assert [value_dims(v) for v in graph.input[1:]] == [[2 * D, "batch", 2],
                                                          [2 * D, "batch", 5]]


def test_lstm_with_projections_from_torch_and_h0_that_matters():
    torch = pytest.importorskip("torch")
    torch.manual_seed(3)
    module = torch.nn.LSTM(4, 6, 2, proj_size=3, bidirectional=True, batch_first=True)
    proto = fastrnn.onnx.export(module, None, initial_state=True)
    x = torch.randn(2, 5, 4)
    hx = (torch.randn(4, 2, 3), torch.randn(4, 2, 6))
    with torch.no_grad():
        output, (h_n, c_n) = module(x, hx)
    feed = {"input": x.numpy(), "h0": hx[0].numpy(), "c0": hx[1].numpy()}
    got = ort_session(proto).run(["output", "h_n", "c_n"], feed)
    for g, w in zip(got, (output, h_n, c_n)):
        assert_close(g, w.numpy(), np.float32, "onnxruntime on a projected LSTM vs torch")
    # h0 changes the result, in both directions, so the comparison above can fail
    zero_h0 = ort_session(proto).run(["output"], dict(feed, h0=np.zeros((4, 2, 3), np.float32)))
    assert not np.allclose(zero_h0[0][:, 0, :3], got[0][:, 0, :3], atol=1e-3)  # forward, t=0
    assert not np.allclose(zero_h0[0][:, -1, 3:6], got[0][:, -1, 3:6], atol=1e-3)  # backward
    assert fastrnn.onnx.verify(module, proto) <= 1e-5


@pytest.mark.parametrize("op", ["LSTM", "GRU"])
@pytest.mark.parametrize("num_layers, bidirectional, batch_first, bias, initial_state", [
    (1, False, False, True, False),
    (2, True, True, False, True),
    (3, True, False, True, True),
])
def test_lstm_and_gru_graph_is_one_node_per_layer(op, num_layers, bidirectional, batch_first,
                                                  bias, initial_state):
    model = getattr(fastrnn, op)(3, 5, num_layers, bias=bias, batch_first=batch_first,
                                 bidirectional=bidirectional, seed=1)
    proto = fastrnn.onnx.export(model, None, initial_state=initial_state)
    graph = proto.graph
    D, G = (2 if bidirectional else 1), _names.gate_count(op)
    nodes = [n for n in graph.node if n.op_type == op]
    assert len(nodes) == num_layers
    assert {n.op_type for n in graph.node} <= {op, "Transpose", "Reshape", "Concat", "Slice"}
    inits = {i.name: numpy_helper.to_array(i) for i in graph.initializer}
    state = model.state_dict()
    states = ["h", "c"] if op == "LSTM" else ["h"]
    for k, node in enumerate(nodes):
        attrs = {a.name: onnx.helper.get_attribute_value(a) for a in node.attribute}
        expected = dict(hidden_size=5, direction=b"bidirectional" if bidirectional else b"forward")
        if op == "GRU":
            expected["linear_before_reset"] = 1  # torch's GRU
        assert attrs == expected  # default activations: torch's
        W, R = inits[node.input[1]], inits[node.input[2]]
        assert W.shape == (D, G * 5, 3 if k == 0 else D * 5) and R.shape == (D, G * 5, 5)
        B = inits[node.input[3]] if bias else None
        if not bias:
            assert node.input[3] == ""
        back = _names.torch_layer_parameters(W, R, B, k, op)
        assert sorted(back) == sorted(n for n in state if f"_l{k}" in n)
        for name, array in back.items():
            np.testing.assert_array_equal(array, state[name])
        initial = list(node.input[5:])
        assert initial == ([f"{s}0" if num_layers == 1 else f"{s}0_l{k}" for s in states]
                           if initial_state else [])
        assert len(node.output) == 1 + len(states)
    names = [i.name for i in graph.input]
    assert names == ["input"] + ([f"{s}0" for s in states] if initial_state else [])
    expected_input = ["batch", "sequence", 3] if batch_first else ["sequence", "batch", 3]
    assert value_dims(graph.input[0]) == expected_input
    for value in graph.input[1:]:
        assert value_dims(value) == [D * num_layers, "batch", 5]
    assert [o.name for o in graph.output] == ["output"] + [f"{s}_n" for s in states]
    assert value_dims(graph.output[0]) == expected_input[:2] + [D * 5]
    for value in graph.output[1:]:
        assert value_dims(value) == [D * num_layers, "batch", 5]


@pytest.mark.parametrize("op", ["LSTM", "GRU"])
def test_lstm_and_gru_one_file_serves_every_shape_and_starts_from_given_states(op):
    model = getattr(fastrnn, op)(4, 6, 2, bidirectional=True, batch_first=True, seed=3)
    with_states = ort_session(fastrnn.onnx.export(model, None, initial_state=True))
    without = ort_session(fastrnn.onnx.export(model, None))
    count = 2 if op == "LSTM" else 1
    names = ["output", "h_n", "c_n"][:1 + count]
    rng = np.random.default_rng(0)
    for n, length in ((1, 1), (2, 3), (7, 11)):
        x = rng.standard_normal((n, length, 4)).astype(np.float32)
        states = [rng.standard_normal((4, n, 6)).astype(np.float32) for _ in range(count)]
        got = with_states.run(names, dict(zip(["input", "h0", "c0"], [x] + states)))
        want = _model_outputs(dict(kind=op.lower()), model, x, states)
        for name, g, w in zip(names, got, want):
            assert_close(g, w, np.float32, f"{op} {name} n={n} L={length}")
        zeros = [np.zeros_like(s) for s in states]
        for name, g, w in zip(names, without.run(names, {"input": x}),
                              _model_outputs(dict(kind=op.lower()), model, x, zeros)):
            assert_close(g, w, np.float32, f"{op} {name} from zeros")
        # the initial states matter, so these comparisons can fail
        assert not np.allclose(got[1], without.run(names, {"input": x})[1], atol=1e-3)


@pytest.mark.parametrize("op", ["LSTM", "GRU", "projected LSTM"])
@pytest.mark.parametrize("opset", [10, 14, 21])
def test_lstm_and_gru_explicit_opsets_pass_checker_and_verify(op, opset):
    if op == "projected LSTM":
        model = fastrnn.LSTM(3, 4, 2, bidirectional=True, batch_first=True, proj_size=3, seed=2)
    else:
        model = getattr(fastrnn, op)(3, 4, 2, bidirectional=True, batch_first=True, seed=2)
    proto = fastrnn.onnx.export(model, None, opset=opset, initial_state=True)
    onnx.checker.check_model(proto, full_check=True)
    assert proto.opset_import[0].version == opset
    assert fastrnn.onnx.verify(model, proto) <= 1e-5


def test_verify_lstm_and_gru_inputs_and_errors():
    lstm = fastrnn.LSTM(3, 4, 2, batch_first=True, seed=0)
    proto = fastrnn.onnx.export(lstm, None, initial_state=True)
    rng = np.random.default_rng(5)
    x = rng.standard_normal((2, 6, 3)).astype(np.float32)
    h0, c0 = (rng.standard_normal((2, 2, 4)).astype(np.float32) for _ in range(2))
    assert fastrnn.onnx.verify(lstm, proto, [x, (x, (h0, c0)), x[:1]]) <= 1e-5
    assert fastrnn.onnx.verify(lstm, proto, [rng.standard_normal((6, 3))]) <= 1e-5  # unbatched
    with pytest.raises(ValueError, match=r"an LSTM's initial state is a pair \(h0, c0\), got "
                                         "ndarray"):
        fastrnn.onnx.verify(lstm, proto, [(x, h0)])
    with pytest.raises(TypeError, match=r"verify c0 \(case 0\) must hold real numbers"):
        fastrnn.onnx.verify(lstm, proto, [(x, (h0, c0.astype(complex)))])
    with pytest.raises(ValueError, match="no initial state input"):
        fastrnn.onnx.verify(lstm, fastrnn.onnx.export(lstm, None), [(x, (h0, c0))])
    # a file for another class: the graph inputs and outputs say so
    gru = fastrnn.GRU(3, 4, 2, batch_first=True, seed=0)
    with pytest.raises(ValueError, match=r"outputs \(output, h_n, c_n\) for a fastrnn.LSTM"):
        fastrnn.onnx.verify(lstm, fastrnn.onnx.export(gru, None, initial_state=True))
    # a weight changed after export is caught, on c_n too
    lstm.weight_hh_l1 = lstm.weight_hh_l1 + 1e-3
    with pytest.raises(fastrnn.onnx.VerificationError,
                       match=r"differ on (output|h_n|c_n) .*> tolerance"):
        fastrnn.onnx.verify(lstm, proto)
    for model in (fastrnn.LSTM(3, 4, dtype=np.float64), fastrnn.GRU(3, 4, dtype=np.float64)):
        op = type(model).__name__
        with pytest.raises(fastrnn.onnx.UnsupportedModelError,
                           match=f"float64 model: onnxruntime has no double .* for the {op} op"):
            fastrnn.onnx.verify(model, fastrnn.onnx.export(model, None))


@pytest.mark.parametrize("op", ["LSTM", "GRU"])
def test_export_and_verify_torch_lstm_and_gru_and_their_files(op):
    torch = pytest.importorskip("torch")
    torch.manual_seed(0)
    module = getattr(torch.nn, op)(3, 5, 2, bidirectional=True, batch_first=True)
    proto = fastrnn.onnx.export(module, None, initial_state=True)
    assert proto.graph.node[[n.op_type for n in proto.graph.node].index(op)].op_type == op
    x = torch.randn(4, 6, 3)
    states = [torch.randn(4, 4, 5) for _ in range(2 if op == "LSTM" else 1)]
    hx = tuple(states) if op == "LSTM" else states[0]
    with torch.no_grad():
        output, finals = module(x, hx)
    want = [output] + (list(finals) if op == "LSTM" else [finals])
    names = ["output", "h_n", "c_n"][:len(want)]
    got = ort_session(proto).run(names, dict(zip(["input", "h0", "c0"],
                                              [x.numpy()] + [s.numpy() for s in states])))
    for g, w in zip(got, want):
        assert_close(g, w.numpy(), np.float32, f"onnxruntime on fastrnn's {op} file vs torch")
    # verify also checks torch's own file against the fastrnn model (fixed shapes)
    buffer = io.BytesIO()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the legacy exporter's deprecation and tracer notes
        torch.onnx.export(module, (x, hx), buffer, dynamo=False)
    assert fastrnn.onnx.verify(module, buffer.getvalue()) <= 1e-5
    # any other torch module is a whole model: exported with example inputs
    with pytest.raises(TypeError, match="needs example inputs"):
        fastrnn.onnx.export(torch.nn.Linear(2, 2), None)
    with pytest.raises(TypeError, match="fastrnn.RNN, LSTM or GRU"):
        fastrnn.onnx.export(object(), None)


# ============================================================== lengths
# (kind, options): RNN, GRU, LSTM, and LSTM with projections.
LENGTHS_KINDS = [("RNN", {}), ("LSTM", {}), ("GRU", {}), ("LSTM", {"proj_size": 2})]
LENGTHS_GRID = [(kind, options, layers, bi, bf, h0)
                for kind, options in LENGTHS_KINDS for layers in (1, 2)
                for bi in (False, True) for bf in (False, True) for h0 in (False, True)]


def _lengths_case(kind, options, num_layers, bidirectional, batch_first, with_h0, dtype,
                  seed=0):
    """A model, its inputs (x padded with large values past each length, states or None)
    and unsorted lengths holding 1 and L."""
    model = getattr(fastrnn, kind)(3, 4, num_layers, bidirectional=bidirectional,
                                   batch_first=batch_first, dtype=dtype, seed=seed, **options)
    rng = np.random.default_rng(seed)
    L, lengths = 7, np.array([4, 7, 1, 5, 7, 2], np.int32)
    N = len(lengths)
    x = rng.standard_normal((N, L, 3) if batch_first else (L, N, 3)).astype(dtype)
    for n, length in enumerate(lengths):  # padding that must not matter
        pad = (n, slice(length, None)) if batch_first else (slice(length, None), n)
        x[pad] = 1e3
    states = []
    if with_h0:
        D = 2 if bidirectional else 1
        sizes = [options.get("proj_size") or 4] + ([4] if kind == "LSTM" else [])
        states = [rng.standard_normal((D * num_layers, N, s)).astype(dtype) for s in sizes]
    return model, x, states, lengths


def _call(model, x, states, lengths=None):
    """What the model returns, as the list of graph outputs (output, h_n[, c_n])."""
    hx = None
    if states:
        hx = tuple(states) if model.mode == "LSTM" else states[0]
    output, finals = model(x, hx, lengths=lengths)
    return [output] + (list(finals) if model.mode == "LSTM" else [finals])


@pytest.mark.parametrize("kind, options, num_layers, bidirectional, batch_first, with_h0",
                         LENGTHS_GRID, ids=[
                             f"{k}{'-proj' if o else ''}-l{n}-{'bi' if b else 'uni'}-"
                             f"{'bf' if f else 'tf'}-{'h0' if h else 'zero'}"
                             for k, o, n, b, f, h in LENGTHS_GRID])
def test_lengths_export_runs_in_onnxruntime_like_fastrnn_with_lengths(
        kind, options, num_layers, bidirectional, batch_first, with_h0):
    """onnxruntime on export(..., lengths=True) == model(x, hx, lengths=...): output zero
    past each length, states at each sequence's last step, the backward direction
    starting at each sequence's own end (unsorted lengths, 1 and L among them)."""
    model, x, states, lengths = _lengths_case(kind, options, num_layers, bidirectional,
                                              batch_first, with_h0, np.float32)
    proto = fastrnn.onnx.export(model, None, initial_state=with_h0, lengths=True)
    names = ["output", "h_n"] + (["c_n"] if kind == "LSTM" else [])
    feed = dict(zip(["input", "h0", "c0"][:1 + len(states)], [x] + states))
    feed["sequence_lens"] = lengths
    got = ort_session(proto).run(names, feed)
    want = _call(model, x, states, lengths)
    for name, g, w in zip(names, got, want):
        assert_close(g, w, np.float32, f"onnxruntime {name} vs fastrnn with lengths",
                     kind=kind.lower())
    # the lengths matter: without them the model gives other results
    assert not np.allclose(got[0], _call(model, x, states)[0])
    # and verify agrees, on these inputs and on random ones with random lengths
    hx = None if not states else (tuple(states) if kind == "LSTM" else states[0])
    assert fastrnn.onnx.verify(model, proto, (x, hx, lengths)) <= 1e-5
    assert fastrnn.onnx.verify(model, proto) <= 1e-5


@pytest.mark.parametrize("kind, options", LENGTHS_KINDS)
def test_float64_lengths_export_runs_in_the_backend_like_fastrnn(kind, options):
    """No double kernels in onnxruntime: fastrnn's backend runs the float64 graph."""
    from fastrnn.onnx import backend

    model, x, states, lengths = _lengths_case(kind, options, 2, True, True, True, np.float64)
    proto = fastrnn.onnx.export(model, None, initial_state=True, lengths=True)
    got = backend.prepare(proto).run([x] + states + [lengths])
    for g, w in zip(got, _call(model, x, states, lengths)):
        if options:  # projections: the node groups the sums differently
            assert_close(g, w, np.float64, "backend vs fastrnn with lengths", kind="lstm")
        else:  # the same kernels on the same numbers
            np.testing.assert_array_equal(g, w)


@pytest.mark.parametrize("kind, options", LENGTHS_KINDS)
def test_lengths_graph_feeds_one_input_to_every_layer(kind, options):
    model = getattr(fastrnn, kind)(3, 4, 3, bidirectional=True, seed=0, **options)
    proto = fastrnn.onnx.export(model, None, initial_state=True, lengths=True)
    onnx.checker.check_model(proto, full_check=True)
    graph = proto.graph
    lengths = graph.input[-1]
    assert lengths.name == "sequence_lens"
    assert lengths.type.tensor_type.elem_type == TensorProto.INT32
    assert value_dims(lengths) == ["batch"]  # the same symbolic axis as the input's batch
    assert "batch" in value_dims(graph.input[0])
    recurrent = [n for n in graph.node if n.op_type == kind]
    assert len(recurrent) == 3
    assert all(n.input[4] == "sequence_lens" for n in recurrent)
    reverse = [n for n in graph.node if n.op_type == "ReverseSequence"]
    # only a projected LSTM's backward h0 needs moving to each sequence's last step
    assert len(reverse) == (3 if options else 0)
    # without lengths=True nothing of this is there
    plain = fastrnn.onnx.export(model, None, initial_state=True)
    assert [i.name for i in plain.graph.input] == [i.name for i in graph.input[:-1]]
    assert all(len(n.input) < 5 or n.input[4] == "" for n in plain.graph.node)


@pytest.mark.parametrize("opset", [10, 14])
def test_lengths_export_at_old_opsets(opset):
    """ReverseSequence and Cast exist from opset 10, the oldest export writes."""
    model = fastrnn.LSTM(3, 4, 2, bidirectional=True, batch_first=True, proj_size=2, seed=1)
    proto = fastrnn.onnx.export(model, None, opset=opset, initial_state=True, lengths=True)
    assert proto.opset_import[0].version == opset
    assert fastrnn.onnx.verify(model, proto) <= 1e-5


def test_verify_with_lengths_inputs_and_errors():
    model = fastrnn.GRU(3, 4, 2, bidirectional=True, seed=0)
    proto = fastrnn.onnx.export(model, None, lengths=True)
    rng = np.random.default_rng(3)
    x = rng.standard_normal((5, 3, 3)).astype(np.float32)  # L = 5, N = 3
    h0 = rng.standard_normal((4, 3, 4)).astype(np.float32)
    # given lengths (a tuple, a dict, a list of ints), drawn ones, unbatched input
    assert fastrnn.onnx.verify(model, proto, [
        (x, None, [5, 1, 3]), {"input": x, "lengths": np.array([2, 2, 5], np.int64)}, x,
        {"input": x[:, 0]}, (x[:, 0], None, 4)]) <= 1e-5
    # the file takes no h0
    with pytest.raises(ValueError, match="no initial state input"):
        fastrnn.onnx.verify(model, proto, [(x, h0, [5, 1, 3])])
    # lengths are checked as the model checks them, before onnxruntime runs
    for bad, match in (([5, 1], r"expected shape \(3,\)"), ([0, 1, 1], "between 1 and"),
                       ([6, 1, 1], "between 1 and the sequence length 5"),
                       ([1.5, 1, 1], "must hold integers")):
        with pytest.raises(ValueError, match=match):
            fastrnn.onnx.verify(model, proto, [(x, None, bad)])
        with pytest.raises(ValueError, match=match):
            model(x, lengths=bad)
    # a file with h0 and lengths: random h0 and lengths are filled in
    both = fastrnn.onnx.export(model, None, initial_state=True, lengths=True)
    assert fastrnn.onnx.verify(model, both, [x, (x, h0), {"input": x, "hx": h0}]) <= 1e-5


def test_verify_catches_a_layer_that_ignores_the_lengths():
    """A file whose second layer runs every sequence to the full length differs from the
    model at the lengths verify draws (1 and L among them)."""
    model = fastrnn.LSTM(3, 4, 2, bidirectional=True, seed=0)
    proto = fastrnn.onnx.export(model, None, lengths=True)
    second = [n for n in proto.graph.node if n.op_type == "LSTM"][1]
    second.input[4] = ""
    with pytest.raises(fastrnn.onnx.VerificationError, match="with lengths"):
        fastrnn.onnx.verify(model, proto)


def test_verify_does_not_allocate_a_fixed_shape_the_file_claims():
    model = fastrnn.RNN(3, 4, seed=0)
    proto = fastrnn.onnx.export(model, None)
    dims = proto.graph.input[0].type.tensor_type.shape.dim
    dims[0].dim_value, dims[1].dim_value = 2**40, 2**20  # [sequence, batch] fixed, huge
    with pytest.raises(ValueError, match=r"random input would have \d+ elements .*pass inputs"):
        fastrnn.onnx.verify(model, proto)
