"""fastrnn as an ONNX backend: run ONNX graphs of RNN, GRU and LSTM nodes on fastrnn's kernels.

    >>> from fastrnn.onnx import backend
    >>> rep = backend.prepare(model)             # an onnx.ModelProto, bytes or a path
    >>> Y, Y_h = rep.run([X])                    # or rep.run({"X": X})
    >>> backend.run_node(node, [X, W, R])        # one node, no model needed

`FastRNNBackend` implements `onnx.backend.base.Backend`, so
`onnx.backend.test.BackendTest(FastRNNBackend)` runs the ONNX project's own
conformance cases through it (the test suite runs the eighteen RNN, GRU and
LSTM ones).

What runs: the RNN, GRU and LSTM operators (every opset version) and the
shape ops exporters put around them: Identity, Constant, ConstantOfShape,
Shape, Gather, Unsqueeze, Squeeze, Concat, Transpose, Reshape, Slice, Cast,
Split, Expand, with their attribute or input forms per opset, MatMul
(fastrnn's export of an LSTM with proj_size uses it) and ReverseSequence (with
an initial state and lengths too). Any other op is refused
when the model is prepared, with an UnsupportedModelError naming it.

The recurrent operators, in full (fastrnn._kernels.Layer computes them; W, R,
B and P are turned from ONNX's gate order into the kernels', which is torch's,
by fastrnn.onnx._names):

- direction forward, reverse or bidirectional; layout 0 ([T, N, I]) and
  layout 1 ([N, T, I], which onnxruntime refuses); float32 and float64;
- W, R, B, sequence_lens, initial_h, initial_c and P as initializers or
  runtime inputs, optional inputs and outputs (Y, Y_h, Y_c) absent or named "";
- hidden_size may be left out; it is then W's second dimension divided by the
  op's gate count (1, GRU 3, LSTM 4);
- the attributes each op has at the model's opset (output_sequence until
  version 7, which only says Y may be left out; layout from 14; GRU's
  linear_before_reset from GRU-3), read by the parser fastrnn.onnx.load
  shares (fastrnn.onnx._rnn_attributes);
- activations: Relu, Tanh, Sigmoid, Affine, LeakyRelu, ThresholdedRelu,
  ScaledTanh, HardSigmoid, Elu, Softsign, Softplus (names in any case), per
  direction: RNN f (default Tanh), GRU f, g (Sigmoid, Tanh), LSTM f, g, h
  (Sigmoid, Tanh, Tanh). activation_alpha and activation_beta are consumed in
  order by the activations that take them (as onnxruntime does). Missing
  values take the defaults of the ONNX operators of the same name: LeakyRelu
  0.01, HardSigmoid 0.2 and 0.5, Elu 1.0 (as onnxruntime), ThresholdedRelu
  1.0 and Affine 1.0 and 0.0 (onnxruntime uses 0 for these). ScaledTanh has
  no ONNX default: its alpha and beta must be given;
- clip bounds pre-activations to [-clip, clip]; it must be >= 0. As in
  onnxruntime (measured): for LSTM the bound applies to the inputs of the
  gates i, f, o with their peephole terms p*c already added, and to the
  input of g; not to the cell state before h(C_t). For GRU it applies to the
  inputs of z, r and of the candidate (for linear_before_reset=1 after r
  multiplies R_h h + Rb_h);
- GRU linear_before_reset 0 (the ONNX default: R_h applied to r*h) and 1
  (torch's GRU: r applied to R_h h + Rb_h);
- LSTM peepholes P [D, 3*H] in ONNX's order (i, o, f), input_forget=1
  (f = 1 - i, as onnxruntime), initial_c and Y_c;
- sequence_lens (int32, each 0..T) as onnxruntime: Y is zero at t >= len;
  Y_h (and Y_c) hold the last step of each sequence, the forward state at
  t = len-1 and the reverse state at t = 0 (the reverse pass starts at
  t = len-1). A sequence of length 0 has no step, so its Y_h and Y_c are
  zero whatever initial_h and initial_c are; so are all of them when T = 0
  (onnxruntime 1.31 does the same).

Where fastrnn and onnxruntime 1.31 differ beyond rounding, fastrnn computes
the operator's formula, for all three ops: Softplus of a float32
pre-activation above about 88.7 is inf in onnxruntime (its exp overflows),
NaN at later steps, while fastrnn returns log(1 + e^v), which is v there;
Relu of NaN is 0 in onnxruntime and NaN in fastrnn, as in torch. fastrnn
also runs what onnxruntime refuses: layout=1, a missing hidden_size, and
float64 (onnxruntime has no double kernel for RNN, GRU or LSTM).

Inputs are checked before any kernel runs; a wrong shape, dtype or length
raises ShapeError/TypeError/ValueError naming the node and what was expected
(a Python list for an integer input, such as sequence_lens, must hold values
that type holds: not 1.5, not 2**40 for int32). The caller's arrays are never
written to and outputs never alias them.

Files are distrusted: prepare refuses with UnsupportedModelError (or its
subclass InvalidModelError) a file whose tensors claim dims their data does
not have (checked before numpy reads them), negative declared dimensions,
text that is not UTF-8, names defined twice or read before they are defined
(cycles), and anything the checks above refuse. A node whose inputs are all
stored in the file (Constant, a projected LSTM's R = MatMul(W_hh, W_hr), ...)
is computed once when the model is prepared. What such nodes make (their
results, the loops making them take, a recurrent node's kernel scratch) is
summed over the file and held to fastrnn.onnx's folded_elements limit, and
every tensor a run makes to its run_elements limit, checked before it is made
(fastrnn/onnx/_limits.py; fastrnn.onnx.set_limits changes them): a small file
cannot make the backend allocate a large claimed size or loop over one.
"""
from __future__ import annotations

from typing import Any, Mapping, Optional, Sequence, Union

import numpy as np
import onnx
from onnx import helper
from onnx.backend.base import Backend, BackendRep, Device, DeviceType, namedtupledict

from fastrnn import _kernels
from fastrnn._arrays import ShapeError, check_layer_sizes
from fastrnn.onnx import _names
from fastrnn.onnx._graph import SHAPE_OPS, Graph, check_result_size
from fastrnn.onnx._limits import limit
from fastrnn.onnx._ops import MATH_OPS
from fastrnn.onnx._proto import InvalidModelError, read_model
from fastrnn.onnx._rnn_attributes import parse_rnn_attributes

__all__ = ["FastRNNBackend", "FastRNNBackendRep", "prepare", "run_model", "run_node",
           "supports_device", "is_compatible"]


def _shape_text(shape):
    return "[" + ", ".join(str(d) for d in shape) + "]"


# The node's inputs by position (LSTM has all eight; RNN and GRU the first six).
INPUT_NAMES = ("X", "W", "R", "B", "sequence_lens", "initial_h", "initial_c", "P")
# The node's outputs by position (LSTM has Y_c too).
OUTPUT_NAMES = ("Y", "Y_h", "Y_c")


class RecurrentNode:
    """One ONNX RNN, GRU or LSTM node: attributes read and checked once, then run on the
    kernels: a fastrnn._kernels.Layer built at prepare when the weights are stored, else
    one built for the run on the run's weights (checked here first)."""

    def __init__(self, ctx):
        self.ctx = ctx
        self.label = ctx.label
        attributes = parse_rnn_attributes(ctx, ctx.opset)
        self.op = op = attributes.op
        self.gates = _names.gate_count(op)
        is_lstm = op == "LSTM"
        ctx.inputs(3, 8 if is_lstm else 6)
        outputs = ctx.outputs(0, 3 if is_lstm else 2)
        self.wanted = [i < len(outputs) and bool(outputs[i]) for i in range(3 if is_lstm else 2)]

        self.num_directions = D = attributes.num_directions
        self.hidden_size = attributes.hidden_size
        self.layout = attributes.layout
        self.clip = attributes.clip
        self.input_forget = attributes.input_forget
        self.linear_before_reset = attributes.linear_before_reset
        # Kernel arguments: one row per direction, one column per activation of the op
        # (RNN's kernel takes one value per direction).
        k = attributes.functions_per_direction
        codes = [_kernels.ACTIVATIONS[name.lower()] for name in attributes.activations]
        shape = (D,) if op == "RNN" else (D, k)
        self.reverse = np.array(attributes.reverse, np.int32)
        self.act = np.array(codes, np.int32).reshape(shape)
        self.alpha = np.array(attributes.alpha, np.float64).reshape(shape)
        self.beta = np.array(attributes.beta, np.float64).reshape(shape)

        # Tensors stored in the model are checked now, so a model that contradicts
        # itself fails when it is prepared rather than when it first runs.
        W, R, B = ctx.constant(1), ctx.constant(2), ctx.constant(3)
        P = ctx.constant(7) if is_lstm else None
        dtype = W.dtype if W is not None else None
        for name, value in (("W", W), ("R", R), ("B", B), ("P", P)):
            if value is not None:
                self._check_float(name, value, dtype, InvalidModelError)
        H = self._hidden_size(W, R, InvalidModelError)
        G = self.gates
        if W is not None:
            self._check_shape("W", W, (D, G * H if H else None,
                                       W.shape[2] if W.ndim == 3 else None), InvalidModelError)
        if R is not None:
            self._check_shape("R", R, (D, G * H if H else None, H), InvalidModelError)
        if B is not None:
            self._check_shape("B", B, (D, 2 * G * H if H else None), InvalidModelError)
        if P is not None:
            self._check_shape("P", P, (D, 3 * H if H else None), InvalidModelError)
        # ... and made ready for the kernel once: gate blocks in torch's order (the
        # kernels'), contiguous, B split into b_ih and b_hh, P as [D, 3, H] (i, f, o).
        self._H = H  # None when only run-time tensors say it
        self._W = None if W is None else _names.kernel_gates(W, op)
        self._R = None if R is None else _names.kernel_gates(R, op)
        self._biases = None if B is None or H is None else _names.kernel_biases(B, op)
        self._peepholes = None if P is None or H is None else _names.kernel_peepholes(P)
        # With every weight stored, the kernels' Layer holds them, checked once: a run
        # then checks only what it brings (as fastrnn.RNN, LSTM and GRU run). They
        # are constants, as onnxruntime takes initializers: the Layer is frozen
        # (its weights packed once, on read-only copies).
        self._layer = None
        self._ran = None  # (shape, dtype, run limit) of X a run with only X passed
        names = list(ctx.node.input)

        def stored_or_absent(position, value):
            return value is not None or position >= len(names) or not names[position]
        if (self._W is not None and self._R is not None and stored_or_absent(3, B)
                and (not is_lstm or stored_or_absent(7, P))):
            b_ih, b_hh = self._biases if self._biases is not None else (None, None)
            weights = [None if a is None else _read_only_copy(a)
                       for a in (self._W, self._R, b_ih, b_hh, self._peepholes)]
            try:
                self._layer = self._kernel_layer(*weights, frozen=True)
            except ValueError:  # sizes beyond the kernels' 32-bit counts: refused at run
                self._layer = None

    def _kernel_layer(self, w_ih, w_hh, b_ih, b_hh, peepholes, frozen=False):
        """The kernels' Layer of this node on weights in the kernels' gate order
        (frozen: read-only weights packed once, see fastrnn._kernels.Layer)."""
        is_lstm = self.op == "LSTM"
        return _kernels.Layer(
            self.op.lower(), w_ih, w_hh, b_ih, b_hh, None, peepholes if is_lstm else None,
            reverse=self.reverse, act=self.act, alpha=self.alpha, beta=self.beta,
            clip=self.clip, option=self.input_forget if is_lstm else self.linear_before_reset,
            frozen=frozen)

    # -------------------------------------------------------------- checks
    def _check_float(self, name, value, dtype, cls=TypeError):
        if value.dtype not in (np.float32, np.float64):
            raise self.ctx.error(f"{name} must be float32 or float64 (tensor(float) or "
                                 f"tensor(double)), got {value.dtype}", cls)
        if dtype is not None and value.dtype != dtype:
            raise self.ctx.error(f"{name} must have the dtype of X ({dtype}), got {value.dtype}",
                                 cls)

    def _hidden_size(self, W, R, cls):
        """hidden_size from the attribute, else from W (or R) when they are known."""
        if self.hidden_size is not None:
            return self.hidden_size
        G = self.gates
        for name, source in (("W", W), ("R", R)):
            if source is not None and source.ndim == 3:
                rows = source.shape[1]
                if rows < 1 or rows % G:
                    gates = "" if G == 1 else f"{G} gates of {self.op} times "
                    raise self.ctx.error(
                        f"hidden_size is not given and {name}'s second dimension ({gates}"
                        f"hidden_size) is {rows}; it must be a positive multiple of {G}",
                        cls)
                return rows // G
        return None

    def _meaning(self, name):
        G = {1: "", 3: "3*", 4: "4*"}[self.gates]
        return {"W": f"[num_directions, {G}hidden_size, input_size]",
                "R": f"[num_directions, {G}hidden_size, hidden_size]",
                "B": f"[num_directions, {2 * self.gates}*hidden_size]",
                "P": "[num_directions, 3*hidden_size]"}.get(name)

    def _check_shape(self, name, value, expected, cls, meaning=None):
        """value.shape must equal `expected`; None entries match any size."""
        if value.shape == expected:
            return
        if value.ndim != len(expected) or any(
                e is not None and e != g for e, g in zip(expected, value.shape)):
            shown = _shape_text("?" if e is None else e for e in expected)
            meaning = meaning or self._meaning(name)
            raise self.ctx.error(
                f"{name} must have shape {meaning + ' = ' if meaning else ''}{shown}, got "
                f"{_shape_text(value.shape)}", cls)

    def _check_state(self, name, value, D, N, H):
        if self.layout == 0:
            self._check_shape(name, value, (D, N, H), ShapeError,
                              "[num_directions, batch_size, hidden_size]")
        else:
            self._check_shape(name, value, (N, D, H), ShapeError,
                              "[batch_size, num_directions, hidden_size] (layout 1)")

    # -------------------------------------------------------------- run
    def __call__(self, inputs):
        # A node with stored weights that ran X of this shape and dtype before, under the
        # same run limit, with no states and no lengths: every check below depends on
        # those alone and passed then.
        ran = self._ran
        if (ran is not None and len(inputs) > 0 and type(inputs[0]) is np.ndarray
                and (inputs[0].shape, inputs[0].dtype, limit("run_elements")) == ran
                and all(v is None for v in inputs[4:7])):
            X = inputs[0]
            T, N, I = X.shape if self.layout == 0 else (X.shape[1], X.shape[0], X.shape[2])
            return self._execute(self._layer, X, T, N, I, self._H, None, None, None)
        X, W, R, B, seq_lens, h0, c0, P = list(inputs) + [None] * (8 - len(inputs))
        D, G, layout = self.num_directions, self.gates, self.layout

        X = np.asarray(X)
        dtype = X.dtype
        if self._layer is None or dtype != self._W.dtype:
            self._check_float("X", X, None)
            for name, value in zip(INPUT_NAMES, (None, W, R, B, None, h0, c0, P)):
                if value is not None and value.dtype != dtype:
                    self._check_float(name, np.asarray(value), dtype)
        else:  # stored weights: the states are the only other floats a run brings
            for name, value in (("initial_h", h0), ("initial_c", c0)):
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
        # Stored W, R, B, P were checked and prepared with the node; only X's input
        # size is left to compare. Run-time ones are checked in full.
        H = self._H if self._H is not None else self._hidden_size(
            None if W is None else np.asarray(W), None if R is None else np.asarray(R),
            ShapeError)
        w_ih, w_hh = self._W, self._R
        if w_ih is None:
            W = np.asarray(W)
            self._check_shape("W", W, (D, G * H, I), ShapeError)
            w_ih = _names.kernel_gates(W, self.op)
        elif w_ih.shape[2] != I:
            self._check_shape("W", w_ih, (D, G * H, I), ShapeError)
        if w_hh is None:
            R = np.asarray(R)
            self._check_shape("R", R, (D, G * H, H), ShapeError)
            w_hh = _names.kernel_gates(R, self.op)
        biases = self._biases
        if biases is None and B is not None:
            B = np.asarray(B)
            self._check_shape("B", B, (D, 2 * G * H), ShapeError)
            biases = _names.kernel_biases(B, self.op)
        peepholes = self._peepholes
        if peepholes is None and P is not None:
            P = np.asarray(P)
            self._check_shape("P", P, (D, 3 * H), ShapeError)
            peepholes = _names.kernel_peepholes(P)
        if h0 is not None:
            h0 = np.asarray(h0)
            self._check_state("initial_h", h0, D, N, H)
        if c0 is not None:
            c0 = np.asarray(c0)
            self._check_state("initial_c", c0, D, N, H)
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
        check_layer_sizes(T, N, I, D, G * H, layout == 1)
        # Y's size, X's rows times D*H, and the kernel's scratch (every step's gates):
        # products that a file with a stored X (computed when the model is prepared)
        # must not make large.
        check_result_size(self.ctx, (T * N, D * H), dtype, "Y")
        check_result_size(self.ctx, (T * N, D * G * H), dtype, "the kernel scratch")

        layer = self._layer
        if T > 0 and N > 0 and (layer is None or w_ih is not self._W or dtype != self._W.dtype):
            # weights given at run time: a Layer for this run (the same kernels)
            b_ih, b_hh = biases if biases is not None else (None, None)
            layer = self._kernel_layer(w_ih, w_hh, b_ih, b_hh, peepholes)
        results = self._execute(layer, X, T, N, I, H, h0, c0, seq_lens)
        if (layer is self._layer and T > 0 and N > 0 and type(X) is np.ndarray
                and h0 is None and c0 is None and seq_lens is None):
            self._ran = (X.shape, X.dtype, limit("run_elements"))
        return results

    def _execute(self, layer, X, T, N, I, H, h0, c0, seq_lens):
        """Run a checked call on the kernels' layer (None without steps or rows); the
        node's results."""
        D, layout = self.num_directions, self.layout
        dtype = X.dtype
        # Kernel arrays. Row (t, n) of x__ri and out__ro is t*N+n for layout 0 and
        # n*T+t for layout 1, so both layouts read X and fill Y without a transpose.
        # The kernel writes every element of out__ro, hn__dnh and cn__dnh (the states
        # start as initial_h / initial_c or zeros). Without steps (T = 0) it does not
        # run and the states are zeroed below; with N = 0 all are empty.
        out__ro = np.empty((T * N, D * H), dtype)
        hn__dnh = np.empty((D, N, H), dtype)
        cn__dnh = np.empty((D, N, H), dtype) if self.op == "LSTM" else None
        if T > 0 and N > 0:
            layer.run(np.ascontiguousarray(X).reshape(T * N, I), out__ro,
                      _kernel_state(h0, layout), _kernel_state(c0, layout), hn__dnh, cn__dnh,
                      None if seq_lens is None else np.ascontiguousarray(seq_lens), T,
                      layout == 1)
        states = (hn__dnh,) if cn__dnh is None else (hn__dnh, cn__dnh)
        if T == 0 or seq_lens is not None:
            # Y_h (and Y_c) hold each sequence's last step. A sequence without steps
            # (length 0, or T = 0) has none, so its states are zero as in onnxruntime;
            # the kernel leaves such a state at its initial value (or does not run).
            empty = slice(None) if T == 0 else seq_lens == 0
            for state in states:
                state[:, empty] = 0
        # Views, not copies: a next node (the exporters' Transpose back to
        # [T, N, D, H]) often undoes the transpose, and the graph copies an
        # output the caller gets only when it is not C-contiguous.
        wanted = self.wanted
        results = [None] * len(wanted)
        if wanted[0]:
            if layout == 0:  # rows (t, n), columns (d, h) -> [T, D, N, H]
                results[0] = out__ro.reshape(T, N, D, H).transpose(0, 2, 1, 3)
            else:  # rows (n, t) -> [N, T, D, H] as it is
                results[0] = out__ro.reshape(N, T, D, H)
        if wanted[1]:
            results[1] = hn__dnh if layout == 0 else hn__dnh.transpose(1, 0, 2)
        if cn__dnh is not None and wanted[2]:
            results[2] = cn__dnh if layout == 0 else cn__dnh.transpose(1, 0, 2)
        return results


def _read_only_copy(array):
    """A C-contiguous copy of array that cannot be written (a frozen Layer's weight)."""
    copy = np.array(array, order="C", copy=True)
    copy.flags.writeable = False
    return copy


def _kernel_state(state, layout):
    """An initial state in the kernels' [D, N, H] order, contiguous (or None)."""
    if state is None:
        return None
    return np.ascontiguousarray(state if layout == 0 else state.transpose(1, 0, 2))


OPS = dict(SHAPE_OPS, **MATH_OPS, RNN=RecurrentNode, GRU=RecurrentNode, LSTM=RecurrentNode)


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
    def input_names(self) -> list[str]:
        """The inputs run() expects, in the order of a list argument."""
        return [spec.name for spec in self._graph.inputs]

    @property
    def output_names(self) -> list[str]:
        return [spec.name for spec in self._graph.outputs]

    def run(self, inputs: Union[Sequence[Any], Mapping[str, Any], Any],
            **kwargs: Any) -> tuple[np.ndarray[Any, Any], ...]:
        """Run the model.

        inputs: a list or tuple with one array per graph input (in input_names
        order), a dict {name: array} (which may also override initializers that
        the graph lists as inputs), or one array for a one-input model.
        Returns a namedtuple of the graph outputs (index it or use names).
        """
        _no_options(kwargs, "run()")
        return self._outputs_type(*self._graph.run(self._graph.feeds(inputs)))


class FastRNNBackend(Backend):
    """onnx.backend.base.Backend that runs RNN, GRU and LSTM graphs on fastrnn's kernels (CPU)."""

    @classmethod
    def is_compatible(cls, model: Any, device: str = "CPU", **kwargs: Any) -> bool:
        """True when prepare() would accept the model on the device."""
        try:
            cls.prepare(model, device, **kwargs)
        except (ValueError, TypeError):  # UnsupportedModelError is a ValueError
            return False
        return True

    @classmethod
    def prepare(cls, model: Any, device: str = "CPU", **kwargs: Any) -> FastRNNBackendRep:
        """Check a model (ModelProto, bytes, path or binary file) and make it runnable."""
        _no_options(kwargs, "prepare()")
        _check_device(device)
        # Graph checks what running needs (known ops and attributes, names defined
        # before use, shapes of stored weights); onnx.checker is not run because it
        # refuses models onnxruntime runs, e.g. inputs of unknown rank.
        return FastRNNBackendRep(Graph(read_model(model), OPS))

    @classmethod
    def run_model(cls, model: Any, inputs: Any, device: str = "CPU",
                  **kwargs: Any) -> tuple[np.ndarray[Any, Any], ...]:
        return cls.prepare(model, device, **kwargs).run(inputs)

    @classmethod
    def run_node(cls, node: Any, inputs: Any, device: str = "CPU",
                 outputs_info: Optional[Any] = None, **kwargs: Any) -> tuple[np.ndarray[Any, Any], ...]:
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
    def supports_device(cls, device: str) -> bool:
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
