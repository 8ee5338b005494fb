"""Whole models: torch modules with layers around their recurrent ones, exported by
torch's TorchScript exporter (dynamo=False: it writes nn.RNN/LSTM/GRU as ONNX RNN,
LSTM and GRU nodes with dynamic batch and sequence axes), by fastrnn.onnx.export and
by torch's default dynamo exporter (fixed shapes; needs onnxscript), loaded by
fastrnn.onnx.load as a GraphModel (recurrent nodes on fastrnn's kernels, the rest on
numpy) and run against torch at several batch sizes and lengths, B=1 and L=1
included, and against onnxruntime on the same file. Needs torch (the reference and
the exporter); tests/test_onnx_whole_stored.py checks stored files without it."""
import io
import warnings

import numpy as np
import onnx
import onnxruntime as ort
import pytest

import fastrnn
import fastrnn.onnx
import reference

torch = pytest.importorskip("torch")
nn = torch.nn


class Seed(nn.Module):
    """The tutorials' model: an RNN with a Linear head on out[:, -1]."""

    def __init__(self):
        super().__init__()
        self.rnn = nn.RNN(1, 32, num_layers=2, batch_first=True)
        self.fc = nn.Linear(32, 1)

    def forward(self, x):
        out, _ = self.rnn(x)
        return self.fc(out[:, -1])


class SeedLastStates(nn.Module):
    """A head on the concatenated last hidden states of both directions."""

    def __init__(self):
        super().__init__()
        self.rnn = nn.RNN(3, 16, batch_first=True, bidirectional=True)
        self.fc = nn.Linear(32, 2)

    def forward(self, x):
        _, h = self.rnn(x)
        return self.fc(torch.cat([h[-2], h[-1]], dim=1))


class Tagger(nn.Module):
    """Embedding + BiLSTM + Linear + log_softmax on every step."""

    def __init__(self):
        super().__init__()
        self.embed = nn.Embedding(50, 12)
        self.lstm = nn.LSTM(12, 16, batch_first=True, bidirectional=True)
        self.fc = nn.Linear(32, 5)

    def forward(self, tokens):
        out, _ = self.lstm(self.embed(tokens))
        return torch.log_softmax(self.fc(out), dim=-1)


class Classifier(nn.Module):
    """GRU, then an MLP head and softmax."""

    def __init__(self):
        super().__init__()
        self.gru = nn.GRU(6, 24, num_layers=2, batch_first=True)
        self.head = nn.Sequential(nn.Linear(24, 16), nn.ReLU(), nn.Linear(16, 3))

    def forward(self, x):
        out, _ = self.gru(x)
        return torch.softmax(self.head(out[:, -1]), dim=-1)


class Forecaster(nn.Module):
    """LSTM with proj_size and a head on every step (torch's TorchScript exporter
    refuses proj_size; fastrnn.onnx.export splices its own LSTM nodes in)."""

    def __init__(self):
        super().__init__()
        self.lstm = nn.LSTM(4, 20, batch_first=True, proj_size=6)
        self.fc = nn.Linear(6, 2)

    def forward(self, x):
        out, _ = self.lstm(x)
        return self.fc(out)


class ResidualNorm(nn.Module):
    """Linear in, GRU, residual, LayerNorm, mean over time."""

    def __init__(self):
        super().__init__()
        self.inp = nn.Linear(5, 16)
        self.gru = nn.GRU(16, 16, batch_first=True)
        self.norm = nn.LayerNorm(16)

    def forward(self, x):
        z = self.inp(x)
        out, _ = self.gru(z)
        return self.norm(out + z).mean(dim=1)


class Stateful(nn.Module):
    """An LSTM taking and returning (h0, c0), with a head."""

    def __init__(self):
        super().__init__()
        self.lstm = nn.LSTM(3, 8, num_layers=2)
        self.fc = nn.Linear(8, 1)

    def forward(self, x, h0, c0):
        out, (h, c) = self.lstm(x, (h0, c0))
        return self.fc(out), h, c


def _inputs(name, B, L, rng):
    if name == "tagger":
        return (torch.from_numpy(rng.integers(0, 50, (B, L))),)
    if name == "stateful":
        return (torch.from_numpy(rng.standard_normal((L, B, 3), dtype=np.float32)),
                torch.from_numpy(rng.standard_normal((2, B, 8), dtype=np.float32)),
                torch.from_numpy(rng.standard_normal((2, B, 8), dtype=np.float32)))
    features = {"seed": 1, "last-states": 3, "classifier": 6, "forecaster": 4, "residual": 5}
    return (torch.from_numpy(rng.standard_normal((B, L, features[name]), dtype=np.float32)),)


MODELS = {"seed": Seed, "last-states": SeedLastStates, "tagger": Tagger,
          "classifier": Classifier, "forecaster": Forecaster, "residual": ResidualNorm,
          "stateful": Stateful}


def _export(name, exporter="torch"):
    """The module and its file, by torch's TorchScript exporter with dynamic axes named by
    hand, or by fastrnn.onnx.export (which finds them)."""
    torch.manual_seed(0)
    module = MODELS[name]().eval()
    example = _inputs(name, 3, 5, np.random.default_rng(0))
    names = ["x", "h0", "c0"][:len(example)]
    buffer = io.BytesIO()
    if exporter == "fastrnn":
        fastrnn.onnx.export(module, buffer, args=example, input_names=names)
        return module, buffer.getvalue()
    axes = {"x": {1: "L", 0: "N"} if name != "stateful" else {0: "L", 1: "N"},
            "h0": {1: "N"}, "c0": {1: "N"}}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(module, example, buffer, dynamo=False, input_names=names,
                          dynamic_axes={n: axes[n] for n in names})
    return module, buffer.getvalue()


# torch's TorchScript exporter writes every model but the projected forecaster
# (test_torchscript_exporter_refuses_proj_size); fastrnn's writes all of them.
EXPORTS = [(name, exporter) for exporter in ("torch", "fastrnn") for name in sorted(MODELS)
           if not (exporter == "torch" and name == "forecaster")]


def test_torchscript_exporter_refuses_proj_size():
    module = Forecaster().eval()
    with pytest.raises(Exception, match="LSTMs with projections"), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(module, _inputs("forecaster", 3, 5, np.random.default_rng(0)),
                          io.BytesIO(), dynamo=False)


@pytest.mark.parametrize("name, exporter", EXPORTS)
def test_whole_model_matches_torch_and_onnxruntime(name, exporter):
    module, data = _export(name, exporter)
    model = fastrnn.onnx.load(data)
    assert isinstance(model, fastrnn.onnx.GraphModel)
    assert "RNN" in repr(model) or "LSTM" in repr(model) or "GRU" in repr(model)
    session = ort.InferenceSession(data, providers=["CPUExecutionProvider"])
    rng = np.random.default_rng(1)
    for B, L in [(1, 1), (1, 9), (3, 5), (4, 17)]:
        args = _inputs(name, B, L, rng)
        with torch.no_grad():
            want = module(*args)
        want = [w.numpy() for w in (want if isinstance(want, tuple) else (want,))]
        got = model(*[a.numpy() for a in args])
        got = list(got) if isinstance(got, tuple) else [got]
        assert len(got) == len(want)
        for g, w in zip(got, want):
            reference.assert_close(g, w, np.float32, f"{name} B={B} L={L} against torch")
        theirs = session.run(None, {i.name: a.numpy() for i, a in zip(session.get_inputs(), args)})
        for g, t in zip(got, theirs):
            reference.assert_close(g, t, np.float32, f"{name} B={B} L={L} against onnxruntime")


def test_inputs_by_name_and_clear_errors():
    module, data = _export("stateful")
    model = fastrnn.onnx.load(data)
    rng = np.random.default_rng(2)
    x, h0, c0 = (a.numpy() for a in _inputs("stateful", 2, 4, rng))
    by_position = model(x, h0, c0)
    by_name = model(x, c0=c0, h0=h0)
    for a, b in zip(by_position, by_name):
        np.testing.assert_array_equal(a, b)
    with pytest.raises(TypeError, match="must be tensor\\(float\\)"):
        model(x.astype(np.float64), h0, c0)
    with pytest.raises(ValueError, match="input 'h0' must have shape"):
        model(x, h0[:, :, :3], c0)
    with pytest.raises(TypeError, match="given twice"):
        model(x, h0, c0, h0=h0)


def test_a_graph_of_only_recurrent_nodes_still_loads_as_a_fastrnn_class():
    data = fastrnn.onnx.export(fastrnn.GRU(3, 4, seed=0), None)
    assert isinstance(fastrnn.onnx.load(data), fastrnn.GRU)


@pytest.mark.parametrize("name", sorted(MODELS))
def test_fastrnn_export_of_a_module_verifies_and_keeps_its_recurrent_nodes(name):
    module, data = _export(name, "fastrnn")
    proto = onnx.load_from_string(data)
    onnx.checker.check_model(proto, full_check=True)
    recurrent = [n.op_type for n in proto.graph.node if n.op_type in ("RNN", "LSTM", "GRU")]
    assert recurrent and len(proto.graph.node) < 60   # never unrolled over the length
    assert fastrnn.onnx.verify(module, data) <= 1e-5   # onnxruntime against torch
    worst = fastrnn.onnx.verify(module, data, [[a.numpy() for a in _inputs(name, 2, 9, np.random.default_rng(3))]])
    assert worst <= 1e-5
    # the batch and sequence axes are symbolic, the others fixed
    x = proto.graph.input[0].type.tensor_type.shape.dim
    assert [d.HasField("dim_param") for d in x][:2] == [True, True]


class Projected(nn.Module):
    """Two projected LSTMs (one bidirectional and two layers, one taking a state) between
    other layers: each spliced in as fastrnn writes it."""

    def __init__(self):
        super().__init__()
        self.first = nn.LSTM(2, 8, num_layers=2, bidirectional=True, proj_size=3)
        self.second = nn.LSTM(6, 5, proj_size=4)
        self.fc = nn.Linear(4, 1)

    def forward(self, x, h0, c0):
        y, _ = self.first(x)
        z, (h, c) = self.second(torch.tanh(y), (h0, c0))
        return self.fc(z), h, c


def test_export_of_a_module_with_projected_lstms_splices_fastrnn_nodes():
    torch.manual_seed(0)
    module = Projected().eval()
    rng = np.random.default_rng(5)

    def args(B, L):
        return (torch.from_numpy(rng.standard_normal((L, B, 2), dtype=np.float32)),
                torch.from_numpy(rng.standard_normal((1, B, 4), dtype=np.float32)),
                torch.from_numpy(rng.standard_normal((1, B, 5), dtype=np.float32)))
    buffer = io.BytesIO()
    proto = fastrnn.onnx.export(module, buffer, args=args(3, 5), input_names=["x", "h0", "c0"])
    ops = [n.op_type for n in proto.graph.node]
    assert ops.count("LSTM") == 3 and "MatMul" in ops     # 2 + 1 layers, projections
    assert all(n.domain in ("", "ai.onnx") for n in proto.graph.node)
    assert [o.domain for o in proto.opset_import] == [""]
    assert "forward" not in vars(module.first)   # the class's forward again
    assert fastrnn.onnx.verify(module, buffer.getvalue()) <= 1e-5
    model = fastrnn.onnx.load(buffer.getvalue())
    for B, L in [(1, 1), (2, 6), (4, 3)]:
        case = args(B, L)
        with torch.no_grad():
            want = module(*case)
        got = model(*[a.numpy() for a in case])
        for g, w in zip(got, want):
            reference.assert_close(g, w.numpy(), np.float32, f"B={B} L={L}")


def test_export_of_a_module_needs_args_and_batched_input_to_a_projected_lstm():
    with pytest.raises(TypeError, match="needs example inputs"):
        fastrnn.onnx.export(Seed(), None)

    class Unbatched(nn.Module):
        def __init__(self):
            super().__init__()
            self.lstm = nn.LSTM(2, 8, proj_size=3)

        def forward(self, x):
            return self.lstm(x)[0]

    module = Unbatched()
    with pytest.raises(fastrnn.onnx.UnsupportedModelError, match="batched tensor input"):
        fastrnn.onnx.export(module, None, args=(torch.zeros(4, 2),))
    assert "forward" not in vars(module.lstm)   # the LSTM's own forward again
    with pytest.raises(TypeError, match="initial_state and lengths are for"):
        fastrnn.onnx.export(Seed(), None, args=(torch.zeros(1, 2, 1),), initial_state=True)


def test_shapes_are_resolved_once_per_input_shape():
    # what depends on the inputs' shapes alone (torch's Shape -> Gather -> Concat ->
    # ConstantOfShape for the zero h0) is computed on a shape's first call and kept;
    # alternating shapes gives torch's results every time
    module, data = _export("seed")
    model = fastrnn.onnx.load(data)
    graph = model._graph
    assert len(graph._shape_steps) >= 5
    rng = np.random.default_rng(4)
    for B, L in [(2, 5), (1, 9), (2, 5), (1, 9), (3, 1)] * 2:
        (x,) = _inputs("seed", B, L, rng)
        with torch.no_grad():
            want = module(x).numpy()
        reference.assert_close(model(x.numpy()), want, np.float32, f"B={B} L={L}")
    assert len(graph._by_shape) == 3
    out = model(x.numpy())
    assert out.flags.writeable and out.flags.c_contiguous   # the caller's own array


# ---------------------------------------------------------------- torch's dynamo exporter
def dynamo_export(module, args):
    """The file torch.onnx.export(..., dynamo=True) writes: every shape fixed to args'
    (nn.RNN unrolled over the length; nn.LSTM and nn.GRU as nodes whose Y is reshaped)."""
    pytest.importorskip("onnxscript")
    import logging

    logging.disable(logging.WARNING)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            program = torch.onnx.export(module, args, dynamo=True, verbose=False)
    finally:
        logging.disable(logging.NOTSET)
    return program.model_proto.SerializeToString()


def _check_file(module, args, data, what):
    """load(data) against torch and onnxruntime on args."""
    with torch.no_grad():
        want = module(*args)
    want = [w for w in (want if isinstance(want, tuple) else (want,))]
    want = [t.numpy() for w in want for t in (w if isinstance(w, tuple) else (w,))]
    model = fastrnn.onnx.load(data)
    got = model(*[a.numpy() for a in args])
    got = list(got) if isinstance(got, tuple) else [got]
    got = [t for g in got for t in (g if isinstance(g, tuple) else (g,))]
    assert len(got) == len(want)
    session = ort.InferenceSession(data, providers=["CPUExecutionProvider"])
    theirs = session.run(None, {i.name: a.numpy() for i, a in zip(session.get_inputs(), args)})
    for g, w, t in zip(got, want, theirs):
        reference.assert_close(g, w, np.float32, f"{what} against torch")
        reference.assert_close(g, t, np.float32, f"{what} against onnxruntime")
    return model


@pytest.mark.parametrize("name", sorted(n for n in MODELS if n != "forecaster"))
def test_dynamo_exports_load_and_match_torch(name):
    torch.manual_seed(0)
    module = MODELS[name]().eval()
    rng = np.random.default_rng(6)
    for B, L in [(1, 1), (3, 5)]:
        args = _inputs(name, B, L, rng)
        model = _check_file(module, args, dynamo_export(module, args), f"{name} B={B} L={L}")
        assert isinstance(model, fastrnn.onnx.GraphModel)


@pytest.mark.parametrize("make, x", [
    (lambda: nn.LSTM(3, 8, num_layers=2, batch_first=True), (2, 5, 3)),
    (lambda: nn.GRU(3, 8, bidirectional=True), (5, 2, 3)),
    (lambda: nn.RNN(3, 8), (5, 2, 3)),
], ids=["lstm", "gru", "rnn"])
def test_dynamo_exports_of_bare_recurrent_modules_load(make, x):
    # LSTM and GRU nodes whose Y is reshaped, and nn.RNN unrolled: no class holds
    # that wiring, the whole graph runs (GraphModel)
    torch.manual_seed(0)
    module = make().eval()
    args = (torch.from_numpy(np.random.default_rng(7).standard_normal(x, dtype=np.float32)),)
    model = _check_file(module, args, dynamo_export(module, args), type(module).__name__)
    assert isinstance(model, fastrnn.onnx.GraphModel)


def test_dynamo_export_of_a_projected_lstm_is_refused_as_onnxruntime_refuses_it():
    # torch's dynamo exporter writes the projected LSTM as an LSTM node of hidden_size
    # proj_size with a c0 of hidden_size features: onnxruntime refuses to run it, and
    # fastrnn refuses to, for the same reason (fastrnn.onnx.export writes it right)
    torch.manual_seed(0)
    module = Forecaster().eval()
    args = _inputs("forecaster", 3, 5, np.random.default_rng(0))
    data = dynamo_export(module, args)
    session = ort.InferenceSession(data, providers=["CPUExecutionProvider"])
    with pytest.raises(Exception, match="initial_c must have shape"):
        session.run(None, {session.get_inputs()[0].name: args[0].numpy()})
    model = fastrnn.onnx.load(data)
    with pytest.raises(ValueError, match=r"initial_c must have shape .*\[1, 3, 6\], got \[1, 3, 20\]"):
        model(args[0].numpy())
