"""The walk of an ONNX graph that fastrnn.onnx.load turns into a fastrnn.RNN, LSTM or GRU.

_Walk goes over the nodes once in order and gives every tensor an abstract value
saying what it is (a constant, a runtime shape, a zero state, the graph's input
with its axes possibly permuted or sliced, a layer's raw output Y, a sequence of
features, or final states), collecting the recurrent layers; _load.py builds the
model from them. A shape op whose inputs are all stored values is computed by the
backend's own op (_graph.py), charged to the file's budget (_limits.py).
"""
from __future__ import annotations

import math

import numpy as np
from onnx import TensorProto

from fastrnn.onnx import _names
from fastrnn.onnx._graph import SHAPE_OPS, NodeContext
from fastrnn.onnx._limits import Budget, shape_text
from fastrnn.onnx._proto import (
    DEFAULT_DOMAINS, InvalidModelError, NodeReader, UnsupportedModelError,
    check_unique_names, declared_dims, matmul_shape, node_label,
    runtime_inputs, tensor_value)
from fastrnn.onnx._rnn_attributes import RECURRENT_OPS, parse_rnn_attributes


# ------------------------------------------------------------------ abstract values
class _Const:
    """A tensor whose value is in the file."""

    def __init__(self, array):
        self.array = array


class _Product(_Const):
    """A MatMul of two constants (fastrnn's W_hh W_hr of a projected LSTM), with its factors.

    The product is computed only when read as an array: a projected LSTM's R is read
    through its factors, and the product of small factors can be far larger than they
    are (charged to the file's budget when computed, _limits.py).
    """

    def __init__(self, reader, a, b, budget):
        self.label, self.factors, self.budget = reader.label, (a, b), budget
        self.shape = matmul_shape(a.shape, b.shape)
        if self.shape is None:
            raise InvalidModelError(f"{reader.label}: cannot multiply constants of shapes "
                                    f"{shape_text(a.shape)} and {shape_text(b.shape)}")
        self.dtype = np.result_type(a, b)
        self._array = None

    @property
    def array(self):
        if self._array is None:
            self.budget.charge(self.label, self.shape, self.dtype.itemsize,
                               "the product of constants")
            self._array = np.matmul(*self.factors)
        return self._array

    def placeholder(self):
        """An array of the product's shape and dtype whose values are not to be read (one
        element, broadcast): for checking the shape of R."""
        return np.broadcast_to(np.zeros((), self.dtype), self.shape)


class _Dims:
    """Integers computed from runtime shapes (Shape, Gather, ...): only good for Expand."""


class _Zeros:
    """A tensor of zeros of a runtime shape (torch's default initial state)."""


NEW_AXIS = "new"


class _GraphInput:
    """A graph input, maybe rearranged.

    axes[i] is the graph input's axis that axis i is, or NEW_AXIS for an axis
    an Unsqueeze inserted (a batch axis of 1 for an unbatched input, at
    position unsqueezed_at); rows is None or (start, stop) taken from the
    input's axis 0 (stop None: to the end).
    """

    def __init__(self, name, axes, rows=None, unsqueezed_at=None):
        self.name, self.axes, self.rows, self.unsqueezed_at = name, tuple(axes), rows, unsqueezed_at

    @property
    def rank(self):
        return len(self.axes)


class _Y:
    """Raw output Y of a layer, axes labelled e.g. ('T', 'D', 'N', 'H'); projected: an
    LSTM layer's Y multiplied by W_hr^T (its H axis then has proj_size entries)."""

    def __init__(self, layer, labels, projected=False):
        self.layer, self.labels, self.projected = layer, labels, projected


class _Seq:
    """A layer's output sequence with directions merged, e.g. ('T', 'N', 'F')."""

    def __init__(self, layer, labels):
        self.layer, self.labels = layer, labels


class _States:
    """Final states of consecutive layers concatenated, e.g. ('D', 'N', 'H'): kind "h"
    for hidden states (Y_h), "c" for an LSTM's cell states (Y_c)."""

    def __init__(self, layers, labels, kind, projected=False):
        self.layers, self.labels, self.kind, self.projected = layers, labels, kind, projected

    def with_labels(self, labels):
        return _States(self.layers, labels, self.kind, self.projected)


class _FirstStep:
    """Rows of a graph input (h0 of one direction, [1, N, P]) at the first or the last
    time step, zeros at the others: how fastrnn's export feeds h0 to a projected LSTM
    layer (fastrnn.onnx._names, Projections). reversed_by: None, or the graph input of
    sequence lengths by which ReverseSequence moved rows at the first step to each
    sequence's last (the backward direction's first step with lengths)."""

    def __init__(self, name, rows, at_start, reversed_by=None):
        self.name, self.rows, self.at_start = name, rows, at_start
        self.reversed_by = reversed_by


class _CastInput:
    """A graph input cast to another element type (`to`, an ONNX type number): the
    int64 sequence lengths ReverseSequence takes."""

    def __init__(self, name, to):
        self.name, self.to = name, to


class _WithFirstSteps:
    """A layer's input (x) with _FirstStep features appended along the feature axis."""

    def __init__(self, x, steps):
        self.x, self.steps = x, tuple(steps)


_DESCRIPTIONS = {_Const: "a constant", _Product: "a product of constants",
                 _Dims: "a shape computation", _Zeros: "a zero tensor",
                 _GraphInput: "a graph input", _Y: "a recurrent node's Y output",
                 _Seq: "a recurrent layer's output sequence",
                 _States: "final states (Y_h or Y_c)",
                 _FirstStep: "initial states placed at a first time step",
                 _CastInput: "a graph input cast to another type",
                 _WithFirstSteps: "a sequence with initial states appended"}


def _describe(value):
    return "an absent input" if value is None else _DESCRIPTIONS[type(value)]


_SUPPORTED_OPS = RECURRENT_OPS + (
    "MatMul", "Constant", "Identity", "Transpose", "Reshape", "Squeeze", "Unsqueeze", "Concat",
    "Slice", "Gather", "Shape", "Expand", "ConstantOfShape", "Cast", "ReverseSequence")
_ZERO_PRESERVING = ("Identity", "Transpose", "Reshape", "Squeeze", "Unsqueeze", "Slice", "Expand",
                    "Cast")
_FLOAT_TYPES = {TensorProto.FLOAT: np.float32, TensorProto.DOUBLE: np.float64}


class NotAStack(UnsupportedModelError):
    """A graph whose shape ops do with a recurrent node's values what a fastrnn.RNN,
    LSTM or GRU does not (torch's dynamo exporter reshapes Y): load runs it whole
    (GraphModel) instead."""


class _Walk:
    """One pass over a graph in node order; collects the RNN layers."""

    def __init__(self, graph, opset):
        self.graph = graph
        self.opset = opset  # of the default domain: it decides the attributes RNN has
        self.budget = Budget()  # what computing from stored values may make, for the file
        self.values = {}
        self.layers = []  # per recurrent node: dict of what the model needs
        # graph input name -> "sequence", "initial hidden state", "initial cell state" or
        # "sequence lengths"
        self.input_uses = {}
        check_unique_names(graph)
        for init in graph.initializer:
            self.values[init.name] = _Const(tensor_value(init, f"initializer {init.name!r}"))
        for value_info in runtime_inputs(graph):
            dims = declared_dims(value_info)
            # Without a declared shape, assume 3-D; the recurrent node checks the rest at
            # run time.
            rank = 3 if dims is None else len(dims)
            self.values[value_info.name] = _GraphInput(value_info.name, range(rank))

    # -------------------------------------------------------------- helpers
    def get(self, reader, index):
        """The abstract value of input `index` of the node, or None when absent."""
        node = reader.node
        if index >= len(node.input) or node.input[index] == "":
            return None
        name = node.input[index]
        if name not in self.values:
            raise InvalidModelError(
                f"{reader.label} reads {name!r}, which no initializer, graph input or "
                "earlier node defines")
        return self.values[name]

    def const(self, reader, index, what):
        value = self.get(reader, index)
        if not isinstance(value, _Const):
            got = _describe(value)
            raise UnsupportedModelError(
                f"{reader.label}: {what} (input {index}) must be a constant in the file, "
                f"got {got}")
        return value.array

    def axes(self, reader):
        """Squeeze's and Unsqueeze's axes: an attribute before opset 13, an input from
        then on (as the backend reads them: _graph._axes_argument)."""
        if self.opset >= 13 and reader.has("axes"):
            raise UnsupportedModelError(
                f"{reader.label}: attribute(s) axes not supported at opset {self.opset} "
                "(axes are an input from opset 13)")
        return self.ints(reader, 1, "axes" if self.opset < 13 else None, "axes")

    def ints(self, reader, index, attribute, what):
        """Integer list (at most 64: a rank, axes, bounds) from attribute `attribute` (older
        opsets) or a constant input."""
        if attribute is not None and reader.has(attribute):
            values = reader.attribute(attribute, "ints")
        elif index < len(reader.node.input) and reader.node.input[index]:
            values = np.atleast_1d(self.const(reader, index, what))
        else:
            return None
        if len(values) > 64:
            raise InvalidModelError(f"{reader.label}: {what} has {len(values)} entries; at most "
                                    "64 (numpy's arrays have at most 64 dimensions)")
        return [int(v) for v in values]

    def fold(self, reader, shape, dtype):
        """Charge a value computed from stored ones to the file's budget, before making it."""
        self.budget.charge(reader.label, shape, np.dtype(dtype).itemsize)

    def refuse(self, reader, value, index=0):
        node = reader.node
        raise NotAStack(
            f"{reader.label}: fastrnn cannot load a graph that applies {node.op_type} to "
            f"{_describe(value)} (input {node.input[index] if index < len(node.input) else ''!r})")

    # -------------------------------------------------------------- walk
    def run(self):
        # Every op is checked before any wiring: a graph with an op fastrnn does not
        # read is refused for that op, whatever comes before it.
        for index, node in enumerate(self.graph.node):
            if node.domain not in DEFAULT_DOMAINS:
                raise UnsupportedModelError(
                    f"unsupported node: {node.op_type} of domain {node.domain!r} "
                    f"({node_label(node, index)}); fastrnn loads recurrent graphs of the "
                    "default ONNX domain")
            if node.op_type not in _SUPPORTED_OPS:
                raise UnsupportedModelError(
                    f"unsupported node: op_type {node.op_type!r} ({node_label(node, index)}). "
                    f"fastrnn loads graphs of {', '.join(RECURRENT_OPS)} nodes and the ops "
                    f"{', '.join(_SUPPORTED_OPS[len(RECURRENT_OPS):])}")
        for index, node in enumerate(self.graph.node):
            reader = NodeReader(node, index)
            for name in node.output:
                if name in self.values:  # a graph input, initializer or earlier output
                    raise InvalidModelError(
                        f"{reader.label} writes {name!r}, which is already defined (ONNX "
                        "names are assigned once)")
            if node.op_type in _ZERO_PRESERVING and isinstance(self.get(reader, 0), _Zeros):
                # Reshaping, slicing or expanding zeros gives zeros: torch builds its
                # default initial states this way.
                for name in node.output[:1]:
                    self.values[name] = _Zeros()
                continue
            try:
                results = self._fold(node, index) if self._foldable(node) else \
                    getattr(self, "op_" + node.op_type)(reader)
            except UnsupportedModelError:
                raise
            except (ValueError, IndexError, TypeError, KeyError, ArithmeticError) as exc:
                # e.g. numpy refusing a constant computation: the file contradicts itself
                raise InvalidModelError(
                    f"{reader.label} is malformed: {type(exc).__name__}: {exc}") from exc
            if len(results) < len([o for o in node.output if o]):
                raise UnsupportedModelError(
                    f"{reader.label} has {len(node.output)} outputs; fastrnn expects "
                    f"{len(results)}")
            for name, value in zip(node.output, results):
                if name:
                    self.values[name] = value

    # -------------------------------------------------------------- stored values
    # A shape op whose inputs are all stored values is computed by the backend's own op
    # (fastrnn/onnx/_graph.py), with its checks and charged to the file's budget: one
    # reading of the ops for both readers; the op_ methods below see only values that
    # depend on the graph's inputs. MatMul stays lazy (a projected LSTM's R is read
    # through its factors, _Product; a shape op applied to one computes it, charged).
    def _foldable(self, node):
        if node.op_type not in SHAPE_OPS or node.op_type == "MatMul":
            return False
        names = [name for name in node.input if name]
        return all(isinstance(self.values.get(name), _Const) for name in names)

    def _fold(self, node, index):
        constants = {name: self.values[name].array for name in node.input if name}
        ctx = NodeContext(node, index, self.opset, constants)
        run = SHAPE_OPS[node.op_type](ctx)
        ctx.budget = self.budget
        results = run([constants[name] if name else None for name in node.input])
        return [_Const(np.asarray(value)) for value in results]

    # -------------------------------------------------------------- ops
    def op_Constant(self, reader):
        if reader.has("value"):
            return [_Const(tensor_value(reader.attribute("value", "tensor"),
                                        f"{reader.label} value"))]
        for key, dtype in (("value_float", np.float32), ("value_floats", np.float32),
                           ("value_int", np.int64), ("value_ints", np.int64)):
            if reader.has(key):
                return [_Const(np.asarray(reader.attribute(key, key[6:]), dtype))]
        raise UnsupportedModelError(
            f"{reader.label}: unsupported Constant attribute(s) {reader.attribute_names()}; "
            "fastrnn reads value, value_float(s) and value_int(s)")

    def op_Identity(self, reader):
        return [self.get(reader, 0)]

    def op_Cast(self, reader):
        value = self.get(reader, 0)
        to = reader.attribute("to", "int")
        if to is None:
            raise InvalidModelError(f"{reader.label} has no 'to' attribute")
        if isinstance(value, _GraphInput) and value.axes == (0,) and value.rows is None:
            return [_CastInput(value.name, to)]  # lengths for ReverseSequence
        self.refuse(reader, value)

    def op_ReverseSequence(self, reader):
        """The backward direction's h0 moved from t = 0 to each sequence's last step (how
        fastrnn's export writes a projected bidirectional LSTM with lengths)."""
        value, lengths = self.get(reader, 0), self.get(reader, 1)
        reader.allow_attributes("batch_axis", "time_axis")
        axes = (reader.attribute("time_axis", "int", 0), reader.attribute("batch_axis", "int", 1))
        if not (isinstance(value, _FirstStep) and value.at_start and value.reversed_by is None
                and isinstance(lengths, _CastInput) and lengths.to == TensorProto.INT64
                and axes == (0, 1)):
            raise UnsupportedModelError(
                f"{reader.label}: fastrnn reads ReverseSequence only as the move of initial "
                "states at the first time step (time_axis 0, batch_axis 1) to each sequence's "
                "last, by the sequence lengths input cast to int64")
        self._use_input(lengths.name, "sequence lengths", reader.label)
        return [_FirstStep(value.name, value.rows, False, lengths.name)]

    def op_Shape(self, reader):
        return [_Dims()]

    def op_Gather(self, reader):
        data = self.get(reader, 0)
        if isinstance(data, _Dims):
            return [_Dims()]
        self.refuse(reader, data)

    def op_Expand(self, reader):
        data = self.get(reader, 0)
        if isinstance(data, _Zeros) or (isinstance(data, _Const) and not np.any(data.array)):
            return [_Zeros()]
        if isinstance(data, _Const):
            raise UnsupportedModelError(
                f"{reader.label} expands a non-zero constant; fastrnn's models start from "
                "zeros or from their initial state inputs, never from a stored state")
        self.refuse(reader, data)

    def op_ConstantOfShape(self, reader):
        if reader.has("value") and np.any(tensor_value(reader.attribute("value", "tensor"),
                                                 "ConstantOfShape value")):
            raise UnsupportedModelError(
                f"{reader.label} makes a non-zero tensor; fastrnn's models start from zeros "
                "or from their initial state inputs, never from a stored state")
        return [_Zeros()]

    def op_Unsqueeze(self, reader):
        value = self.get(reader, 0)
        axes = self.axes(reader)
        if isinstance(value, _Dims):
            return [_Dims()]
        if (isinstance(value, _GraphInput) and value.axes == (0, 1) and axes is not None
                and len(axes) == 1 and -3 <= axes[0] <= 2):
            # torch adds the batch axis of an unbatched input (or hx) this way.
            at = axes[0] % 3
            new = list(value.axes)
            new.insert(at, NEW_AXIS)
            return [_GraphInput(value.name, new, value.rows, at)]
        self.refuse(reader, value)

    def op_Squeeze(self, reader):
        value = self.get(reader, 0)
        axes = self.axes(reader)
        if isinstance(value, _Dims):
            return [_Dims()]
        if isinstance(value, (_Seq, _States)) and axes is not None and len(axes) == 1 \
                and value.labels[axes[0] % len(value.labels)] == "N":
            # dropping the batch axis of 1 again for an unbatched input
            labels = tuple(a for a in value.labels if a != "N")
            if isinstance(value, _Seq):
                return [_Seq(value.layer, labels)]
            return [value.with_labels(labels)]
        if isinstance(value, _Y) and axes is not None and len(axes) == 1:
            axis = axes[0] % len(value.labels)
            layer = self.layers[value.layer]
            self.check_projected(reader.label, value)
            if value.labels[axis] == "D" and layer["num_directions"] == 1:
                labels = value.labels[:axis] + value.labels[axis + 1:]
                return [_Seq(value.layer, tuple("F" if a == "H" else a for a in labels))]
        self.refuse(reader, value)

    def op_Transpose(self, reader):
        value = self.get(reader, 0)
        rank = (value.rank if isinstance(value, _GraphInput)
                else len(value.labels) if isinstance(value, (_Y, _Seq, _States)) else None)
        if rank is None:
            self.refuse(reader, value)
        perm = tuple(reader.attribute("perm", "ints", range(rank - 1, -1, -1)))
        if sorted(perm) != list(range(rank)):
            raise InvalidModelError(f"{reader.label}: perm {list(perm)} does not permute "
                                    f"{rank} axes")
        if isinstance(value, _GraphInput):
            return [_GraphInput(value.name, (value.axes[p] for p in perm), value.rows,
                                value.unsqueezed_at)]
        labels = tuple(value.labels[p] for p in perm)
        if isinstance(value, _States):
            return [value.with_labels(labels)]
        if isinstance(value, _Y):
            return [_Y(value.layer, labels, value.projected)]
        return [_Seq(value.layer, labels)]

    def op_Reshape(self, reader):
        value = self.get(reader, 0)
        shape = self.ints(reader, 1, None, "the shape")
        if shape is None:
            raise InvalidModelError(f"{reader.label} has no shape input")
        if isinstance(value, _Dims):
            return [_Dims()]
        if isinstance(value, (_Y, _Seq)) and reader.attribute("allowzero", "int", 0) == 0:
            layer = self.layers[value.layer]
            if isinstance(value, _Y):
                self.check_projected(reader.label, value)
            D, H = layer["num_directions"], layer["output_size"]
            labels = value.labels
            # [A, B, D, H] -> [A, B, D*H]: the directions side by side, as torch's output.
            if (isinstance(value, _Y) and len(shape) == 3 and labels[2:] == ("D", "H")
                    and shape[:2] == [0, 0] and shape[2] in (-1, D * H)):
                return [_Seq(value.layer, labels[:2] + ("F",))]
            if isinstance(value, _Seq) and shape[:2] == [0, 0] and shape[2:] in ([-1], [D * H]):
                return [value]
        self.refuse(reader, value)

    def op_Concat(self, reader):
        node = reader.node
        values = [self.get(reader, i) for i in range(len(node.input))]
        axis = reader.attribute("axis", "int")
        if axis is None:
            raise InvalidModelError(f"{reader.label} has no axis attribute")
        if all(isinstance(v, _Zeros) or (isinstance(v, _Const) and v.array.dtype.kind == "f"
                                         and not np.any(v.array)) for v in values) \
                and any(isinstance(v, _Zeros) for v in values):
            return [_Zeros()]
        if all(isinstance(v, (_Const, _Dims)) for v in values):
            return [_Dims()]
        if all(isinstance(v, _States) for v in values):
            labels, kind = values[0].labels, values[0].kind
            layers = sum((v.layers for v in values), ())
            if any(v.kind != kind for v in values):
                raise UnsupportedModelError(
                    f"{reader.label} concatenates hidden states (Y_h) with cell states (Y_c)")
            for v in values:
                self.check_projected(reader.label, v)
            if (all(v.labels == labels for v in values) and labels[axis % len(labels)] == "D"
                    and layers == tuple(range(layers[0], layers[0] + len(layers)))):
                return [_States(layers, labels, kind, values[0].projected)]
            raise UnsupportedModelError(
                f"{reader.label} concatenates final states in an order fastrnn's h_n does "
                f"not have (layers {list(layers)}, axis {axis}); expected consecutive layers "
                "along the direction axis")
        first_step = self._first_step(values, axis)
        if first_step is not None:
            return [first_step]
        if (len(values) > 1 and axis in (2, -1) and isinstance(values[0], (_GraphInput, _Seq))
                and all(isinstance(v, _FirstStep) for v in values[1:])):
            return [_WithFirstSteps(values[0], values[1:])]
        # the first input that is neither a constant nor a shape, else the first states
        # (concatenated with constants or shapes)
        odd = next((i for i, v in enumerate(values)
                    if not isinstance(v, (_Const, _Dims, _States))), None)
        if odd is None:
            odd = next(i for i, v in enumerate(values) if isinstance(v, _States))
        self.refuse(reader, values[odd], odd)

    @staticmethod
    def _first_step(values, axis):
        """Concat([h0 rows, zeros]) or Concat([zeros, h0 rows]) along time: a _FirstStep."""
        if axis != 0 or len(values) != 2:
            return None
        for at_start, (rows, zeros) in ((True, values), (False, values[::-1])):
            if (isinstance(rows, _GraphInput) and rows.axes == (0, 1, 2)
                    and isinstance(zeros, _Zeros)):
                return _FirstStep(rows.name, rows.rows, at_start)
        return None

    def op_Slice(self, reader):
        value = self.get(reader, 0)
        if reader.has("starts"):  # opset < 10: bounds are attributes
            starts, ends = reader.attribute("starts", "ints"), reader.attribute("ends", "ints")
            axes, steps = reader.attribute("axes", "ints"), None
        else:
            starts = self.ints(reader, 1, None, "starts")
            ends = self.ints(reader, 2, None, "ends")
            axes = self.ints(reader, 3, None, "axes")
            steps = self.ints(reader, 4, None, "steps")
        if starts is None or ends is None:
            raise InvalidModelError(f"{reader.label} has no starts/ends")
        axes = list(range(len(starts))) if axes is None else list(axes)
        steps = [1] * len(starts) if steps is None else list(steps)
        if isinstance(value, _Dims):
            return [_Dims()]
        if (isinstance(value, _GraphInput) and value.axes[:1] == (0,) and axes == [0]
                and steps == [1] and starts[0] >= 0 and ends[0] > starts[0]):
            stop = None if ends[0] >= 2**31 - 1 else ends[0]
            if value.rows is None:
                return [_GraphInput(value.name, value.axes, (starts[0], stop),
                                    value.unsqueezed_at)]
            # rows of rows (a direction's row of a layer's h0)
            first, last = value.rows
            if stop is not None and (last is None or first + stop <= last):
                return [_GraphInput(value.name, value.axes, (first + starts[0], first + stop),
                                    value.unsqueezed_at)]
        if isinstance(value, _GraphInput):
            raise UnsupportedModelError(
                f"{reader.label}: fastrnn reads a graph input sliced only along axis 0 "
                f"with step 1 (rows of h0), got starts {starts}, ends {ends}, axes {axes}, "
                f"steps {steps}")
        self.refuse(reader, value)

    def op_MatMul(self, reader):
        """Constants multiplied (a projected LSTM's W_hh W_hr, kept with its factors), or a
        projected LSTM layer's Y or Y_h multiplied by its W_hr^T."""
        a, b = self.get(reader, 0), self.get(reader, 1)
        if isinstance(a, _Const) and isinstance(b, _Const):
            return [_Product(reader, a.array, b.array, self.budget)]
        if isinstance(a, (_Y, _States)) and isinstance(b, _Const):
            layer = self.layers[a.layer if isinstance(a, _Y) else a.layers[0]]
            W_hr_T = None if layer["W_hr"] is None else layer["W_hr"].transpose(0, 2, 1)
            # [.., D, N, H] @ [D, H, P]: numpy's (and ONNX's) broadcasting pairs the directions
            ok = (W_hr_T is not None and not a.projected and len(a.labels) >= 3
                  and a.labels[-3] == "D" and a.labels[-1] == "H"
                  and (isinstance(a, _Y) or (a.kind == "h" and len(a.layers) == 1))
                  and b.array.shape == W_hr_T.shape and np.array_equal(b.array, W_hr_T))
            if not ok:
                raise UnsupportedModelError(
                    f"{reader.label}: fastrnn reads MatMul after a recurrent node only as an "
                    f"LSTM layer's projection: its Y or Y_h times W_hr^T, the transpose of "
                    f"the W_hr of the layer's R = MatMul(W_hh, W_hr)")
            if isinstance(a, _Y):
                return [_Y(a.layer, a.labels, projected=True)]
            return [_States(a.layers, a.labels, a.kind, projected=True)]
        odd = 1 if isinstance(a, _Const) else 0
        self.refuse(reader, (a, b)[odd], odd)

    def check_projected(self, where, value):
        """A projected LSTM layer's Y and Y_h (a _Y or _States) are only read after their
        MatMul by W_hr^T."""
        if value.projected or (isinstance(value, _States) and value.kind == "c"):
            return
        for k in [value.layer] if isinstance(value, _Y) else value.layers:
            if self.layers[k]["W_hr"] is not None:
                raise UnsupportedModelError(
                    f"{where} reads layer {k}'s unprojected "
                    f"{'Y' if isinstance(value, _Y) else 'Y_h'}; fastrnn.LSTM's layers with "
                    "projections give h only after MatMul by W_hr^T")

    def op_RNN(self, reader):
        """An RNN, GRU or LSTM node: one layer of the model."""
        node = reader.node
        op = node.op_type
        cls = f"fastrnn.{op}"
        k = len(self.layers)
        where = f"{reader.label} (layer {k})"
        # The backend's reading of the node; then what fastrnn's class cannot hold.
        attributes = parse_rnn_attributes(reader, self.opset)
        direction, layout, activations = (attributes.direction, attributes.layout,
                                          list(attributes.activations))
        if math.isfinite(attributes.clip):
            raise UnsupportedModelError(
                f"{where}: unsupported attribute clip={attributes.clip}; {cls} does not clip")
        if direction == "reverse":
            raise UnsupportedModelError(
                f"{where}: unsupported attribute direction={direction!r}; {cls} runs "
                "'forward' or 'bidirectional' layers")
        D = attributes.num_directions
        nonlinearity = None
        if op == "RNN":
            if len(set(activations)) != 1:
                raise UnsupportedModelError(
                    f"{where}: attribute activations={activations} differ between directions; "
                    f"{cls} uses one nonlinearity")
            nonlinearity = _names.torch_nonlinearity(activations[0])
            if nonlinearity is None:
                raise UnsupportedModelError(
                    f"{where}: unsupported attribute activations={activations}; {cls} "
                    "supports Tanh and Relu")
        else:
            torch_activations = list(_names.TORCH_ACTIVATIONS[op])
            if activations != torch_activations * D:
                raise UnsupportedModelError(
                    f"{where}: unsupported attribute activations={activations}; {cls} computes "
                    f"{torch_activations} in each direction, as torch's {op}")
            if attributes.input_forget:
                raise UnsupportedModelError(
                    f"{where}: unsupported attribute input_forget=1; {cls} has separate input "
                    "and forget gates, as torch's LSTM")
            if op == "GRU" and not attributes.linear_before_reset:
                raise UnsupportedModelError(
                    f"{where}: unsupported attribute linear_before_reset=0; {cls} (as torch's "
                    "GRU) applies the reset gate after the recurrent product, "
                    "linear_before_reset=1")
        # Tanh, Relu and torch's LSTM/GRU activations take no alpha or beta, so the
        # parser has refused any given.
        time_labels = ("T", "N", "F") if layout == 0 else ("N", "T", "F")

        max_inputs = 8 if op == "LSTM" else 6
        if len(node.input) > max_inputs:
            raise InvalidModelError(f"{where} has {len(node.input)} inputs; {op} takes at most "
                                    f"{max_inputs}")
        # sequence_lens: the graph input that every layer reads (checked when the model is
        # built); the model takes those lengths as its own `lengths` argument.
        lengths = self.get(reader, 4)
        if lengths is not None:
            # (its declared type and shape are checked with the other graph inputs)
            if not (isinstance(lengths, _GraphInput) and lengths.rows is None
                    and lengths.axes == tuple(range(lengths.rank))):
                raise UnsupportedModelError(
                    f"{where}: sequence_lens ({node.input[4]!r}) must be absent or a graph "
                    f"input ({cls} takes lengths as an argument), got {_describe(lengths)}"
                    + (" rearranged" if isinstance(lengths, _GraphInput) else ""))
            self._use_input(lengths.name, "sequence lengths", where)
            lengths = lengths.name

        # X: the graph's input for layer 0, the previous layer's output after that.
        x = self.get(reader, 0)
        first_steps = ()
        if isinstance(x, _WithFirstSteps):  # h0 of a projected LSTM layer, in the input
            x, first_steps = x.x, x.steps
        batch_first = None
        if k == 0 and isinstance(x, _GraphInput):
            if NEW_AXIS in x.axes:  # an unbatched (L, F) input given a batch axis
                ok = x.rank == 3 and x.axes[2] == 1 and time_labels[x.axes.index(NEW_AXIS)] == "N"
                expected = "(L, F) with a batch axis added"
            else:
                ok = x.rank == 3 and x.axes[2] == 2
                expected = "3-D, possibly with its first two axes swapped"
            if not ok or x.rows is not None:
                raise UnsupportedModelError(
                    f"{where}: X must be the graph input {x.name!r} {expected}, got its axes "
                    f"{list(x.axes)}" + (" sliced" if x.rows is not None else "")
                    + f" read as {time_labels}")
            self._use_input(x.name, "sequence", where)
            if NEW_AXIS in x.axes:  # torch puts the batch axis where batch_first says
                batch_first = x.unsqueezed_at == 0
            else:  # the graph input's axis 0 is what X's axis x.axes.index(0) means
                batch_first = time_labels[x.axes.index(0)] == "N"
            input_name = x.name
        elif isinstance(x, _Seq) and x.layer == k - 1:
            if x.labels != time_labels:
                raise UnsupportedModelError(
                    f"{where}: X has axes {x.labels} but layout={layout} reads {time_labels}")
            input_name = None
        else:
            got = _describe(x)
            if isinstance(x, (_Seq, _Y)):
                got += f" of layer {x.layer}"
            expected = "the graph input" if k == 0 else f"the output sequence of layer {k - 1}"
            raise UnsupportedModelError(
                f"{where}: X must be {expected} ({cls} is a straight stack of layers), "
                f"got {got}")

        W = self.const(reader, 1, "W")
        W_hh = W_hr = None
        if op == "LSTM" and isinstance(self.get(reader, 2), _Product):
            # R = MatMul(W_hh, W_hr): a layer with projections (fastrnn.onnx._names),
            # read through its factors; R's shape is checked, its values never used
            product = self.get(reader, 2)
            W_hh, W_hr = product.factors
            R = product.placeholder()
        else:
            R = self.const(reader, 2, "R")
        B = self.get(reader, 3)
        if B is not None:
            B = self.const(reader, 3, "B")
        P = self.get(reader, 7) if op == "LSTM" else None
        if P is not None:
            P = self.const(reader, 7, "P (peepholes)")
        tensors = (("W", W), ("R", R), ("B", B), ("P", P))
        for name, array in tensors:
            if array is not None and array.dtype not in (np.float32, np.float64):
                raise UnsupportedModelError(
                    f"{where}: {name} has dtype {array.dtype}; fastrnn models are float32 "
                    "or float64")
        G = _names.gate_count(op)
        gates = "" if G == 1 else f"{G}*"
        hidden_size = attributes.hidden_size
        if hidden_size is None:  # the operator lets W's shape give it
            if W.ndim != 3 or W.shape[0] != D or W.shape[1] % G:
                raise InvalidModelError(
                    f"{where}: W has shape {list(W.shape)}; direction={direction!r} and no "
                    f"hidden_size attribute: expected [{D}, {gates}hidden_size, input_size]")
            hidden_size = W.shape[1] // G
        H = hidden_size
        if W.ndim != 3 or W.shape[:2] != (D, G * H):
            raise InvalidModelError(
                f"{where}: W has shape {list(W.shape)}, which contradicts hidden_size="
                f"{H} and direction={direction!r}: expected [{D}, {G * H}, input_size]")
        for name, array, shape in (("R", R, (D, G * H, H)), ("B", B, (D, 2 * G * H)),
                                   ("P", P, (D, 3 * H))):
            if array is not None and array.shape != shape:
                raise InvalidModelError(
                    f"{where}: {name} has shape {list(array.shape)}, which contradicts "
                    f"hidden_size={H} and direction={direction!r}: expected {list(shape)}")
        dtypes = {a.dtype for _, a in tensors if a is not None}
        if len(dtypes) != 1:
            raise InvalidModelError(f"{where}: {', '.join(n for n, a in tensors if a is not None)}"
                                    f" have different dtypes {sorted(map(str, dtypes))}")
        if P is not None and np.any(P):
            raise UnsupportedModelError(
                f"{where}: unsupported input P (peepholes) with non-zero values; {cls} has no "
                "peepholes, as torch's LSTM")
        if W_hr is not None:
            proj_size = W_hr.shape[1] if W_hr.ndim == 3 else None
            if not (W_hr.ndim == 3 and W_hh.ndim == 3 and W_hr.shape == (D, proj_size, H)
                    and W_hh.shape == (D, G * H, proj_size) and proj_size < H):
                raise UnsupportedModelError(
                    f"{where}: R is MatMul of constants of shapes {list(W_hh.shape)} and "
                    f"{list(W_hr.shape)}; fastrnn reads that as W_hh [{D}, {G * H}, P] times "
                    f"W_hr [{D}, P, {H}] with proj_size P < hidden_size {H}")
            R = W_hh

        initial = {"h": self._initial_state(reader, 5, "initial_h", "initial hidden state",
                                            layout, where)}
        if op == "LSTM":
            initial["c"] = self._initial_state(reader, 6, "initial_c", "initial cell state",
                                               layout, where)
        if first_steps:
            W = self._strip_first_steps(reader, where, first_steps, W, W_hh, W_hr, initial,
                                        lengths)

        self.layers.append(dict(
            node=where, op=op, hidden_size=H, num_directions=D, nonlinearity=nonlinearity,
            layout=layout, W=W, R=R, B=B, W_hr=W_hr,
            output_size=H if W_hr is None else W_hr.shape[1], initial=initial,
            batch_first=batch_first, input_name=input_name, lengths=lengths))
        y_labels, state_labels = ((("T", "D", "N", "H"), ("D", "N", "H")) if layout == 0
                                  else (("N", "T", "D", "H"), ("N", "D", "H")))
        return [_Y(k, y_labels)] + [_States((k,), state_labels, kind) for kind in initial]

    op_GRU = op_LSTM = op_RNN

    def _strip_first_steps(self, reader, where, steps, W, W_hh, W_hr, initial, lengths):
        """W without the columns of the h0 features fastrnn's export appends to a projected
        LSTM layer's input (fastrnn.onnx._names, Projections), after checking them; the
        layer's h0 is then those features' rows of the graph input. The backward
        direction's rows must be at its first step: t = T-1, or with the layer's
        sequence lengths (graph input `lengths`) t = len-1, moved there by
        ReverseSequence with those lengths."""
        D = W.shape[0]
        if W_hr is None or initial["h"] is not None:
            raise UnsupportedModelError(
                f"{where}: X has initial states appended, which fastrnn reads only as the h0 "
                "of an LSTM layer with projections (R = MatMul(W_hh, W_hr), no initial_h)")
        P = W_hr.shape[1]
        names = {step.name for step in steps}
        rows = [step.rows for step in steps]
        if D == 1:
            ok, joined = len(steps) == 1 and steps[0].at_start, rows[0]
        else:
            ok = (len(steps) == 2 and steps[0].at_start and not steps[1].at_start
                  and steps[1].reversed_by == lengths and None not in rows
                  and rows[0][1] == rows[0][0] + 1 == rows[1][0] and rows[1][1] == rows[1][0] + 1)
            joined = (rows[0][0], rows[1][1]) if ok else None
        extra = W[:, :, W.shape[2] - D * P:]
        if not (ok and len(names) == 1 and W.shape[2] > D * P
                and np.array_equal(extra, _names.recurrence_as_input(W_hh))):
            raise UnsupportedModelError(
                f"{where}: X has initial states appended that are not h0 of each direction at "
                "its first step with W_hh as their weights (how fastrnn.onnx.export writes a "
                "projected LSTM's h0; with sequence_lens, the backward direction's moved to "
                "each sequence's last step by ReverseSequence with the layer's lengths)")
        name = names.pop()
        self._use_input(name, "initial hidden state", where)
        initial["h"] = (name, joined)
        return W[:, :, :W.shape[2] - D * P]

    def _initial_state(self, reader, index, what, role, layout, where):
        """None (zeros) or (graph input name, rows) for initial_h or initial_c."""
        value = self.get(reader, index)
        if value is None or isinstance(value, _Zeros) or (
                isinstance(value, _Const) and not np.any(value.array)):
            return None
        if (isinstance(value, _GraphInput) and value.axes in ((0, 1, 2), (0, NEW_AXIS, 1))
                and (layout == 0 or (value.rows is None and value.axes == (0, 1, 2)))):
            # [D*layers, N, H] or an unbatched [D*layers, H] given its batch axis;
            # layout=1 states are [N, D, H]: only a whole input makes sense there.
            self._use_input(value.name, role, where)
            return value.name, value.rows
        raise UnsupportedModelError(
            f"{where}: {what} must be absent, zeros, or rows of a graph input, got "
            f"{_describe(value)}" + (" that is not zero" if isinstance(value, _Const) else ""))

    def _use_input(self, name, role, where):
        previous = self.input_uses.setdefault(name, role)
        if previous != role:
            raise UnsupportedModelError(
                f"{where}: graph input {name!r} is used as both the {previous} and the {role}")


# op -> (fastrnn class, the name of its initial state input per state kind)
