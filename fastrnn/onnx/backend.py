"""fastrnn as an ONNX backend: run ONNX graphs of RNN nodes on fastrnn's kernels.

    >>> from fastrnn.onnx import backend
    >>> rep = backend.prepare(model)             # an onnx.ModelProto, bytes or a path
    >>> Y, Y_h = rep.run([X])                    # or rep.run({"X": X})
    >>> backend.run_node(node, [X, W, R])        # one node, no model needed

`FastRNNBackend` implements `onnx.backend.base.Backend`, so
`onnx.backend.test.BackendTest(FastRNNBackend)` runs the ONNX project's own
conformance cases through it (the test suite runs the six RNN ones).

What runs: the RNN operator (every opset version) and the shape ops exporters
put around it: Identity, Constant, ConstantOfShape, Shape, Gather, Unsqueeze,
Squeeze, Concat, Transpose, Reshape, Slice, Cast, Split, Expand, with their
attribute or input forms per opset. Any other op is refused when the model is
prepared, with an UnsupportedModelError naming it.

The RNN operator, in full:

- direction forward, reverse or bidirectional; layout 0 ([T, N, I]) and
  layout 1 ([N, T, I], which onnxruntime refuses); float32 and float64;
- W, R, B, sequence_lens and initial_h as initializers or runtime inputs,
  optional inputs and outputs absent or named "";
- hidden_size may be left out; it is then W's second dimension;
- the attributes RNN has at the model's opset (output_sequence in RNN-1,
  which only says Y may be left out; layout from RNN-14), read by the parser
  fastrnn.onnx.load shares (fastrnn.onnx._rnn_attributes);
- activations: Relu, Tanh, Sigmoid, Affine, LeakyRelu, ThresholdedRelu,
  ScaledTanh, HardSigmoid, Elu, Softsign, Softplus (names in any case), one
  per direction, Tanh by default. activation_alpha and activation_beta are
  consumed in order by the activations that take them (as onnxruntime does).
  Missing values take the defaults of the ONNX operators of the same name:
  LeakyRelu 0.01, HardSigmoid 0.2 and 0.5, Elu 1.0 (as onnxruntime),
  ThresholdedRelu 1.0 and Affine 1.0 and 0.0 (onnxruntime uses 0 for these).
  ScaledTanh has no ONNX default: its alpha and beta must be given;
- clip bounds the pre-activation to [-clip, clip]; it must be >= 0;
- sequence_lens (int32, each 0..T) as onnxruntime: Y is zero at t >= len;
  Y_h is the last output of each sequence, the forward state at t = len-1 and
  the reverse state at t = 0 (the reverse pass starts at t = len-1). A
  sequence of length 0 has no output, so its Y_h is zero whatever initial_h
  is; so is every Y_h when T = 0 (onnxruntime 1.31 does the same).

Where fastrnn and onnxruntime 1.31 differ beyond rounding, fastrnn computes
the operator's formula: Softplus of a float32 pre-activation above about 88.7
is inf in onnxruntime (its exp overflows), NaN at later steps, while fastrnn
returns log(1 + e^v), which is v there; Relu of NaN is 0 in onnxruntime and
NaN in fastrnn, as in torch.

Inputs are checked before any kernel runs; a wrong shape, dtype or length
raises ShapeError/TypeError/ValueError naming the node and what was expected.
The caller's arrays are never written to and outputs never alias them.
"""
import numpy as np
import onnx
from onnx import helper
from onnx.backend.base import Backend, BackendRep, Device, DeviceType, namedtupledict

from fastrnn import _kernels
from fastrnn._arrays import ShapeError, check_layer_sizes
from fastrnn.onnx._graph import SHAPE_OPS, Graph
from fastrnn.onnx._proto import InvalidModelError, read_model
from fastrnn.onnx._rnn_attributes import parse_rnn_attributes

__all__ = ["FastRNNBackend", "FastRNNBackendRep", "prepare", "run_model", "run_node",
           "supports_device", "is_compatible"]


def _shape_text(shape):
    return "[" + ", ".join(str(d) for d in shape) + "]"


class RNNNode:
    """One ONNX RNN node: attributes read and checked once, then run on the kernel."""

    def __init__(self, ctx):
        self.ctx = ctx
        self.label = ctx.label
        attributes = parse_rnn_attributes(ctx, ctx.opset)
        ctx.inputs(3, 6)
        outputs = ctx.outputs(0, 2)
        self.want_y = len(outputs) > 0 and bool(outputs[0])
        self.want_y_h = len(outputs) > 1 and bool(outputs[1])

        self.num_directions = D = attributes.num_directions
        self.hidden_size = attributes.hidden_size
        self.layout = attributes.layout
        self.clip = attributes.clip
        # Kernel arguments, one entry per direction.
        self.reverse = np.array(attributes.reverse, np.int32)
        self.act = np.array([_kernels.ACTIVATIONS[name.lower()]
                             for name in attributes.activations], np.int32)
        self.alpha = np.array(attributes.alpha, np.float64)
        self.beta = np.array(attributes.beta, np.float64)

        # Weights stored in the model are checked now, so a model that contradicts
        # itself fails when it is prepared rather than when it first runs.
        W, R, B = ctx.constant(1), ctx.constant(2), ctx.constant(3)
        dtype = W.dtype if W is not None else None
        for name, value in (("W", W), ("R", R), ("B", B)):
            if value is not None:
                self._check_float(name, value, dtype, InvalidModelError)
        H = self._hidden_size(W, R)
        if W is not None:
            self._check_shape("W", W, (D, H, W.shape[2] if W.ndim == 3 else None),
                              InvalidModelError)
        if R is not None:
            self._check_shape("R", R, (D, H, H), InvalidModelError)
        if B is not None:
            self._check_shape("B", B, (D, 2 * H if H else None), InvalidModelError)
        # ... and made ready for the kernel once: contiguous, B split into b_ih and b_hh.
        self._H = H  # None when only run-time tensors say it
        self._W = None if W is None else np.ascontiguousarray(W)
        self._R = None if R is None else np.ascontiguousarray(R)
        self._biases = None
        if B is not None and H is not None:
            self._biases = (np.ascontiguousarray(B[:, :H]), np.ascontiguousarray(B[:, H:]))

    # -------------------------------------------------------------- checks
    def _check_float(self, name, value, dtype, cls=TypeError):
        if value.dtype not in (np.float32, np.float64):
            raise self.ctx.error(f"{name} must be float32 or float64 (tensor(float) or "
                                 f"tensor(double)), got {value.dtype}", cls)
        if dtype is not None and value.dtype != dtype:
            raise self.ctx.error(f"{name} must have the dtype of X ({dtype}), got {value.dtype}",
                                 cls)

    def _hidden_size(self, W, R):
        """hidden_size from the attribute, else from W (or R) when they are known."""
        if self.hidden_size is not None:
            return self.hidden_size
        for source in (W, R):
            if source is not None and source.ndim == 3:
                if source.shape[1] < 1:
                    raise self.ctx.error(f"hidden_size (W's second dimension) must be "
                                         f"positive, got {source.shape[1]}")
                return source.shape[1]
        return None

    def _check_shape(self, name, value, expected, cls, meaning=None):
        """value.shape must equal `expected`; None entries match any size."""
        if value.shape == expected:
            return
        if value.ndim != len(expected) or any(
                e is not None and e != g for e, g in zip(expected, value.shape)):
            shown = _shape_text("?" if e is None else e for e in expected)
            meaning = meaning or {
                "W": "[num_directions, hidden_size, input_size]",
                "R": "[num_directions, hidden_size, hidden_size]",
                "B": "[num_directions, 2*hidden_size]"}.get(name)
            raise self.ctx.error(
                f"{name} must have shape {meaning + ' = ' if meaning else ''}{shown}, got "
                f"{_shape_text(value.shape)}", cls)

    # -------------------------------------------------------------- run
    def __call__(self, inputs):
        X, W, R, B, seq_lens, h0 = list(inputs) + [None] * (6 - len(inputs))
        D, layout = self.num_directions, self.layout

        X = np.asarray(X)
        self._check_float("X", X, None)
        dtype = X.dtype
        for name, value in (("W", W), ("R", R), ("B", B), ("initial_h", h0)):
            if value is not None and value.dtype != dtype:
                self._check_float(name, np.asarray(value), dtype)
        if X.ndim != 3:
            raise self.ctx.error(
                f"X must have 3 dimensions ({'[N, T, I]' if layout else '[T, N, I]'} for layout "
                f"{layout}), got shape {_shape_text(X.shape)}", ShapeError)
        if layout == 0:
            T, N, I = X.shape
        else:
            N, T, I = X.shape
        if I < 1:
            raise self.ctx.error(f"X's input size (last dimension) must be positive, got "
                                 f"shape {_shape_text(X.shape)}", ShapeError)
        # Stored W, R, B were checked and prepared with the node; only X's input
        # size is left to compare. Run-time ones are checked in full.
        W = np.asarray(W) if self._W is None else self._W
        R = np.asarray(R) if self._R is None else self._R
        H = self._H if self._H is not None else self._hidden_size(W, R)
        if self._W is None or W.shape[2] != I:
            self._check_shape("W", W, (D, H, I), ShapeError)
        if self._R is None:
            self._check_shape("R", R, (D, H, H), ShapeError)
        biases = self._biases
        if biases is None and B is not None:
            B = np.asarray(B)
            self._check_shape("B", B, (D, 2 * H), ShapeError)
            biases = (np.ascontiguousarray(B[:, :H]), np.ascontiguousarray(B[:, H:]))
        if h0 is not None:
            h0 = np.asarray(h0)
            if layout == 0:
                self._check_shape("initial_h", h0, (D, N, H), ShapeError,
                                  "[num_directions, batch_size, hidden_size]")
            else:
                self._check_shape("initial_h", h0, (N, D, H), ShapeError,
                                  "[batch_size, num_directions, hidden_size] (layout 1)")
        if seq_lens is not None:
            seq_lens = np.asarray(seq_lens)
            if seq_lens.dtype != np.int32:
                raise self.ctx.error(f"sequence_lens must be int32 (ONNX allows only "
                                     f"tensor(int32)), got {seq_lens.dtype}", TypeError)
            self._check_shape("sequence_lens", seq_lens, (N,), ShapeError, "[batch_size]")
            bad = np.flatnonzero((seq_lens < 0) | (seq_lens > T))
            if bad.size:
                raise self.ctx.error(
                    f"sequence_lens[{bad[0]}] = {seq_lens[bad[0]]} is outside 0..{T} (the "
                    "sequence length)", ValueError)
        check_layer_sizes(T, N, I, D, H, layout == 1)

        # Kernel arrays. Row (t, n) of x__ri and out__ro is t*N+n for layout 0 and
        # n*T+t for layout 1, so both layouts read X and fill Y without a transpose.
        # The kernel writes every element of out__ro and hn__dnh (h_n starts as
        # initial_h or zeros). Without steps (T = 0) it does not run and hn__dnh is
        # zeroed below; with N = 0 both are empty.
        out__ro = np.empty((T * N, D * H), dtype)
        hn__dnh = np.empty((D, N, H), dtype)
        if T > 0 and N > 0:
            h0__dnh = None
            if h0 is not None:
                h0__dnh = np.ascontiguousarray(h0 if layout == 0 else h0.transpose(1, 0, 2))
            b_ih, b_hh = biases if biases is not None else (None, None)
            _kernels.rnn_layer(
                np.ascontiguousarray(X).reshape(T * N, I), out__ro,
                np.ascontiguousarray(W), np.ascontiguousarray(R), b_ih, b_hh, h0__dnh, hn__dnh,
                None if seq_lens is None else np.ascontiguousarray(seq_lens), T, layout == 1,
                self.reverse, self.act, self.alpha, self.beta, self.clip)

        # Y_h is each sequence's last output. A sequence without steps (length 0, or
        # T = 0) has none, so its Y_h is zero as in onnxruntime; the kernel leaves
        # such a state at initial_h (or does not run).
        if T == 0:
            hn__dnh.fill(0)
        elif seq_lens is not None:
            empty = seq_lens == 0
            if empty.any():
                hn__dnh[:, empty] = 0
        # Views, not copies: a next node (the exporters' Transpose back to
        # [T, N, D, H]) often undoes the transpose, and the graph copies an
        # output the caller gets only when it is not C-contiguous.
        Y = Y_h = None
        if self.want_y:
            if layout == 0:  # rows (t, n), columns (d, h) -> [T, D, N, H]
                Y = out__ro.reshape(T, N, D, H).transpose(0, 2, 1, 3)
            else:  # rows (n, t) -> [N, T, D, H] as it is
                Y = out__ro.reshape(N, T, D, H)
        if self.want_y_h:
            Y_h = hn__dnh if layout == 0 else hn__dnh.transpose(1, 0, 2)
        return [Y, Y_h]


OPS = dict(SHAPE_OPS, RNN=RNNNode)


# ------------------------------------------------------------------ backend API
def _check_device(device):
    try:
        kind = Device(device).type
    except (AttributeError, ValueError, TypeError):
        raise ValueError(f"unknown device {device!r}; fastrnn's backend runs on 'CPU'") from None
    if kind != DeviceType.CPU:
        raise ValueError(f"fastrnn's backend runs on CPU only, got device {device!r}")


def _no_options(kwargs, where):
    if kwargs:
        raise TypeError(f"{where} got unexpected keyword argument(s) "
                        f"{', '.join(sorted(kwargs))}")


class FastRNNBackendRep(BackendRep):
    """A prepared model: run(inputs) as often as needed."""

    def __init__(self, graph):
        self._graph = graph
        self._outputs_type = namedtupledict("Outputs", [spec.name for spec in graph.outputs])

    @property
    def input_names(self):
        """The inputs run() expects, in the order of a list argument."""
        return [spec.name for spec in self._graph.inputs]

    @property
    def output_names(self):
        return [spec.name for spec in self._graph.outputs]

    def run(self, inputs, **kwargs):
        """Run the model.

        inputs: a list or tuple with one array per graph input (in input_names
        order), a dict {name: array} (which may also override initializers that
        the graph lists as inputs), or one array for a one-input model.
        Returns a namedtuple of the graph outputs (index it or use names).
        """
        _no_options(kwargs, "run()")
        return self._outputs_type(*self._graph.run(self._graph.feeds(inputs)))


class FastRNNBackend(Backend):
    """onnx.backend.base.Backend that runs RNN graphs on fastrnn's kernels (CPU)."""

    @classmethod
    def is_compatible(cls, model, device="CPU", **kwargs):
        """True when prepare() would accept the model on the device."""
        try:
            cls.prepare(model, device, **kwargs)
        except (ValueError, TypeError):  # UnsupportedModelError is a ValueError
            return False
        return True

    @classmethod
    def prepare(cls, model, device="CPU", **kwargs):
        """Check a model (ModelProto, bytes, path or binary file) and make it runnable."""
        _no_options(kwargs, "prepare()")
        _check_device(device)
        # Graph checks what running needs (known ops and attributes, names defined
        # before use, shapes of stored weights); onnx.checker is not run because it
        # refuses models onnxruntime runs, e.g. inputs of unknown rank.
        return FastRNNBackendRep(Graph(read_model(model), OPS))

    @classmethod
    def run_model(cls, model, inputs, device="CPU", **kwargs):
        return cls.prepare(model, device, **kwargs).run(inputs)

    @classmethod
    def run_node(cls, node, inputs, device="CPU", outputs_info=None, **kwargs):
        """Run one node on `inputs`, one array per non-empty entry of node.input.

        opset_version=... picks the opset the node is read with (default: the
        newest the installed onnx knows). Returns the node's non-empty outputs.
        """
        opset_version = kwargs.pop("opset_version", onnx.defs.onnx_opset_version())
        _no_options(kwargs, "run_node()")
        _check_device(device)
        names = [name for name in node.input if name]
        if isinstance(inputs, dict):
            inputs = [inputs[name] for name in names]
        inputs = [np.asarray(value) for value in inputs]
        if len(inputs) != len(names):
            raise ValueError(f"{node.op_type} node has {len(names)} input(s) {names}, got "
                             f"{len(inputs)} array(s)")
        # A name the node reads twice (Concat(x, x)) is one graph input.
        by_name = {}
        for name, value in zip(names, inputs):
            first = by_name.get(name)
            if first is not None and not (first.dtype == value.dtype and first.shape == value.shape
                                          and first.tobytes() == value.tobytes()):
                raise ValueError(f"{node.op_type} node reads {name!r} more than once, and the "
                                 "arrays given for it differ")
            by_name.setdefault(name, value)
        graph_inputs = []
        for name, value in by_name.items():
            try:
                elem_type = helper.np_dtype_to_tensor_dtype(value.dtype)
            except (KeyError, TypeError, ValueError):
                raise TypeError(f"input {name!r} has dtype {value.dtype}, which ONNX does "
                                "not have") from None
            graph_inputs.append(helper.make_tensor_value_info(name, elem_type, None))
        graph_outputs = [helper.make_empty_tensor_value_info(name) for name in node.output if name]
        model = helper.make_model(
            helper.make_graph([node], "run_node", graph_inputs, graph_outputs),
            opset_imports=[helper.make_opsetid("", opset_version)])
        graph = Graph(model, OPS)
        return FastRNNBackendRep(graph).run(list(by_name.values()))

    @classmethod
    def supports_device(cls, device):
        try:
            _check_device(device)
        except ValueError:
            return False
        return True


prepare = FastRNNBackend.prepare
run_model = FastRNNBackend.run_model
run_node = FastRNNBackend.run_node
supports_device = FastRNNBackend.supports_device
is_compatible = FastRNNBackend.is_compatible
