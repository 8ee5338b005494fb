"""Whole models: torch modules with layers around their recurrent ones, exported by
torch's TorchScript exporter (dynamo=False: it writes nn.RNN/LSTM/GRU as ONNX RNN,
LSTM and GRU nodes with dynamic batch and sequence axes), loaded by fastrnn.onnx.load
as a GraphModel (recurrent nodes on fastrnn's kernels, the rest on numpy) and run
against torch at several batch sizes and lengths, B=1 and L=1 included, and against
onnxruntime on the same file. Needs torch (the reference and the exporter)."""
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
    """LSTM with a head on every step (proj_size: the TorchScript exporter refuses it)."""

    def __init__(self):
        super().__init__()
        self.lstm = nn.LSTM(4, 20, batch_first=True)
        self.fc = nn.Linear(20, 2)

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


@pytest.mark.parametrize("exporter", ["torch", "fastrnn"])
@pytest.mark.parametrize("name", sorted(MODELS))
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


def test_export_of_a_module_needs_args_and_refuses_a_projected_lstm():
    with pytest.raises(TypeError, match="needs example inputs"):
        fastrnn.onnx.export(Seed(), None)

    class Projected(nn.Module):
        def __init__(self):
            super().__init__()
            self.lstm = nn.LSTM(2, 8, proj_size=3)

        def forward(self, x):
            return self.lstm(x)[0]

    with pytest.raises(fastrnn.onnx.UnsupportedModelError, match="proj_size=3"):
        fastrnn.onnx.export(Projected(), None, args=(torch.zeros(4, 1, 2),))
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
