"""A small numpy interpreter for the ONNX graphs fastrnn's backend runs.

`Graph` checks a model once (every op known, every name defined before use,
attributes understood) and then runs its nodes in file order, which ONNX
requires to be a topological order. The ops here are the shape plumbing that
exporters put around recurrent nodes, and MatMul, with which fastrnn's
exporter projects an LSTM's hidden states (fastrnn.onnx._names, Projections);
the recurrent ops themselves are given by the caller (fastrnn.onnx.backend)
in the same form:

    factory(node: NodeContext) -> run(inputs: list) -> list of outputs

`factory` reads and checks the node's attributes when the model is prepared,
and the inputs the model stores (initializers, Constant nodes) that it can use
then: shapes, bounds and axes are read once, not on every run. `run` gets one
value per node input (None for an absent optional input) and returns one
value per node output (None where the node does not produce it), views where
numpy gives them: Graph.run copies what the caller gets when it has to.
Nothing here writes into an array it did not create; graph inputs,
initializers and constants are read-only, and so is every view of them.
"""
import math

import numpy as np
from onnx import TensorProto

from fastrnn._arrays import ShapeError
from fastrnn.onnx._limits import Budget, check_run, cost, limit, shape_text
from fastrnn.onnx._proto import (
    DEFAULT_DOMAINS, InvalidModelError, NodeReader, UnsupportedModelError,
    check_unique_names, declared_dims, matmul_shape, model_opset, node_label, numpy_type,
    runtime_inputs, tensor_value, type_name)


# ------------------------------------------------------------------ node context
class NodeContext(NodeReader):
    """One node as the op factories see it: label, typed attributes, opset, constants."""

    def __init__(self, node, index, opset, constants):
        super().__init__(node, index)
        self.opset = opset
        self._constants = constants
        # While the node is computed from stored values when the model is
        # prepared: the file's budget (check_result_size charges it).
        self.budget = None

    def constant(self, position):
        """The value of input `position` if it is a fixed initializer, else None."""
        if position < len(self.node.input) and self.node.input[position]:
            return self._constants.get(self.node.input[position])
        return None

    def inputs(self, minimum, maximum):
        """Check the node's input count; the first `minimum` must be present."""
        names = list(self.node.input)
        if len(names) > maximum:
            raise self.error(f"takes at most {maximum} inputs, got {len(names)}")
        missing = [i for i in range(minimum) if i >= len(names) or not names[i]]
        if missing:
            raise self.error(f"input {missing[0]} is required but missing")
        return names

    def outputs(self, minimum, maximum):
        names = list(self.node.output)
        if not minimum <= len(names) <= maximum:
            raise self.error(f"must have {minimum} to {maximum} outputs, got {len(names)}")
        return names


# Entries of a shape, axes or slice bounds: numpy's arrays have at most 64 dimensions.
MAX_RANK = 64


def _int_values(ctx, value, what, most=MAX_RANK):
    """A 1-D list of Python ints from an integer tensor input (shapes, axes, ...), of at
    most `most` entries."""
    array = np.asarray(value)
    if array.dtype.kind not in "iu":
        raise ctx.error(f"{what} must be an integer tensor, got {array.dtype}", TypeError)
    if array.ndim > 1:
        raise ctx.error(f"{what} must be a scalar or 1-D, got shape {shape_text(array.shape)}",
                        ShapeError)
    if array.size > most:
        raise ctx.error(f"{what} has {array.size} entries; at most {most} (numpy's arrays "
                        f"have at most {MAX_RANK} dimensions)", ShapeError)
    return [int(v) for v in array.reshape(-1)]


def _axes(ctx, values, rank, what="axes"):
    """Axes normalized to 0..rank-1, refusing out-of-range and repeated ones."""
    axes = []
    for axis in values:
        if not -rank <= axis < rank:
            raise ctx.error(f"{what} {axis} is out of range for rank {rank}", ValueError)
        axes.append(axis % rank)
    if len(set(axes)) != len(axes):
        raise ctx.error(f"{what} {values} repeat an axis", ValueError)
    return axes


def check_result_size(ctx, shape, dtype, what="the result"):
    """Refuse a result of `shape` beyond the limits (fastrnn/onnx/_limits.py) before it
    is made: the file's budget while the node is computed from stored values, the run
    limit otherwise."""
    itemsize = np.dtype(dtype).itemsize
    if ctx.budget is not None:
        ctx.budget.charge(ctx.label, shape, itemsize, what)
    else:
        check_run(ctx.label, shape, itemsize, what)


def _data_axis(ctx, axis, data):
    """`axis` of an input that must have rank >= 1, normalized to 0..rank-1."""
    rank = data.ndim
    if -rank <= axis < rank:  # (a run's common case, without _axes' lists and sets)
        return axis % rank
    if rank == 0:
        raise ctx.error(f"the input must have rank >= 1 to have an axis {axis}, got a "
                        "scalar", ShapeError)
    (ax,) = _axes(ctx, [axis], data.ndim, "axis")
    return ax


def _read_ints(ctx, inputs, position, what, most=MAX_RANK):
    """Integer input `position` of a run (shape, axes, bounds) as a list, None when absent."""
    if len(inputs) <= position or inputs[position] is None:
        return None
    return _int_values(ctx, inputs[position], what, most)


def _stored_ints(ctx, position, what, most=MAX_RANK):
    """(known, value) of an integer input when the model fixes it, so runs need not read it.

    known is True when the input is absent (value None) or stored in the model
    (value a list of ints, read and checked now); False when it comes at run time.
    """
    if position >= len(ctx.node.input) or not ctx.node.input[position]:
        return True, None
    stored = ctx.constant(position)
    if stored is None:
        return False, None
    try:
        return True, _int_values(ctx, stored, what, most)
    except (TypeError, ValueError) as exc:  # a stored value of the wrong kind
        raise InvalidModelError(str(exc)) from exc


def _ints_argument(ctx, position, what, most=MAX_RANK):
    """A function of a run's inputs giving integer input `position`; read now if stored."""
    known, value = _stored_ints(ctx, position, what, most)
    if known:
        return lambda inputs: value
    return lambda inputs: _read_ints(ctx, inputs, position, what, most)


def _axes_argument(ctx, position, attribute_until):
    """Axes are an attribute before opset `attribute_until` and an input from then on."""
    if ctx.opset < attribute_until:
        ctx.allow_attributes("axes")
        axes = ctx.attribute("axes", "ints")
        return lambda inputs: axes
    ctx.allow_attributes()
    return _ints_argument(ctx, position, "axes")


# ------------------------------------------------------------------ shape ops
def op_identity(ctx):
    ctx.allow_attributes()
    ctx.inputs(1, 1)
    ctx.outputs(1, 1)
    return lambda inputs: [inputs[0]]


def op_constant(ctx):
    ctx.inputs(0, 0)
    ctx.outputs(1, 1)
    kinds = {"value": "tensor", "value_float": "float", "value_floats": "floats",
             "value_int": "int", "value_ints": "ints", "sparse_value": None,
             "value_string": None, "value_strings": None}
    ctx.allow_attributes(*kinds)
    given = [name for name in ctx.attribute_names() if name in kinds]
    if len(given) != 1:
        raise ctx.error(f"needs exactly one value attribute, got {given or 'none'}")
    (name,) = given
    if kinds[name] is None:
        raise ctx.error(f"{name} constants are not supported", UnsupportedModelError)
    raw = ctx.attribute(name, kinds[name])
    if name == "value":
        value = tensor_value(raw, f"{ctx.label} value")
    else:
        dtype = np.float32 if kinds[name].startswith("float") else np.int64
        value = np.array(raw, dtype)
        if kinds[name].endswith("s"):
            value = value.reshape(-1)
    value.flags.writeable = False  # shared by every run
    return lambda inputs: [value]


def op_constant_of_shape(ctx):
    ctx.allow_attributes("value")
    ctx.inputs(1, 1)
    ctx.outputs(1, 1)
    if ctx.has("value"):
        fill = tensor_value(ctx.attribute("value", "tensor"), f"{ctx.label} value")
        if fill.size != 1:
            raise ctx.error(f"value must hold one element, got shape {fill.shape}")
        fill = fill.reshape(-1)
    else:
        fill = np.zeros(1, np.float32)
    get_shape = _ints_argument(ctx, 0, "shape")

    def run(inputs):
        shape = get_shape(inputs)
        if any(d < 0 for d in shape):
            raise ctx.error(f"shape {shape} has a negative dimension", ValueError)
        check_result_size(ctx, shape, fill.dtype)
        return [np.full(shape, fill[0], fill.dtype)]
    return run


def op_shape(ctx):
    ctx.allow_attributes(*(("start", "end") if ctx.opset >= 15 else ()))
    ctx.inputs(1, 1)
    ctx.outputs(1, 1)
    start = ctx.attribute("start", "int", 0)
    end = ctx.attribute("end", "int")
    # Python slicing clamps and counts negatives from the back, as ONNX does.
    return lambda inputs: [np.array(np.shape(inputs[0])[start:end], np.int64)]


def op_gather(ctx):
    ctx.allow_attributes("axis")
    ctx.inputs(2, 2)
    ctx.outputs(1, 1)
    axis = ctx.attribute("axis", "int", 0)

    def run(inputs):
        data, indices = np.asarray(inputs[0]), np.asarray(inputs[1])
        if indices.dtype.kind not in "iu":
            raise ctx.error(f"indices must be integers, got {indices.dtype}", TypeError)
        ax = _data_axis(ctx, axis, data)
        size = data.shape[ax]
        if indices.size <= 8:  # (Python's min and max are faster on a few values)
            values = indices.reshape(-1).tolist()
            low, high = (min(values), max(values)) if values else (0, 0)
        else:
            low, high = (indices.min(), indices.max()) if indices.size else (0, 0)
        if indices.size and (low < -size or high >= size):
            raise ctx.error(f"indices must lie in [{-size}, {size - 1}] for axis {axis} of "
                            f"shape {data.shape}", ValueError)
        check_result_size(ctx, data.shape[:ax] + indices.shape + data.shape[ax + 1:],
                           data.dtype)
        # (the method: np.take's dispatch costs 4x the copy of a few rows)
        return [data.take(indices if indices.dtype == np.intp else indices.astype(np.intp),
                          axis=ax)]
    return run


def op_unsqueeze(ctx):
    ctx.inputs(1, 1 if ctx.opset < 13 else 2)
    ctx.outputs(1, 1)
    get_axes = _axes_argument(ctx, 1, 13)

    def run(inputs):
        data = np.asarray(inputs[0])
        axes = get_axes(inputs)
        if axes is None:
            raise ctx.error("axes are required", InvalidModelError)
        axes = _axes(ctx, axes, data.ndim + len(axes))
        return [np.expand_dims(data, tuple(axes))]
    return run


def op_squeeze(ctx):
    ctx.inputs(1, 1 if ctx.opset < 13 else 2)
    ctx.outputs(1, 1)
    get_axes = _axes_argument(ctx, 1, 13)

    def run(inputs):
        data = np.asarray(inputs[0])
        axes = get_axes(inputs)
        if axes is None:
            return [np.squeeze(data)]
        axes = _axes(ctx, axes, data.ndim)
        wrong = [a for a in axes if data.shape[a] != 1]
        if wrong:
            raise ctx.error(f"cannot squeeze axis {wrong[0]} of shape {data.shape}: its size "
                            "is not 1", ShapeError)
        return [np.squeeze(data, tuple(axes))]
    return run


def op_concat(ctx):
    ctx.allow_attributes("axis")
    names = ctx.inputs(1, 2**31)
    if any(not n for n in names):
        raise ctx.error("has an empty input name")
    ctx.outputs(1, 1)
    axis = ctx.attribute("axis", "int", 1 if ctx.opset < 4 else None)
    if axis is None:
        raise ctx.error("attribute 'axis' is required")

    def run(inputs):
        arrays = [np.asarray(v) for v in inputs]
        rank = arrays[0].ndim
        if rank == 0 or any(a.ndim != rank for a in arrays):
            raise ctx.error(f"inputs must share one rank >= 1, got shapes "
                            f"{[a.shape for a in arrays]}", ShapeError)
        (ax,) = _axes(ctx, [axis], rank, "axis")
        others = {a.shape[:ax] + a.shape[ax + 1:] for a in arrays}
        if len(others) > 1:
            raise ctx.error(f"inputs must agree but on axis {axis}, got shapes "
                            f"{[shape_text(a.shape) for a in arrays[:4]]}", ShapeError)
        target = list(arrays[0].shape)
        target[ax] = sum(a.shape[ax] for a in arrays)
        check_result_size(ctx, target, np.result_type(*arrays))
        return [np.concatenate(arrays, axis=ax)]
    return run


def op_transpose(ctx):
    ctx.allow_attributes("perm")
    ctx.inputs(1, 1)
    ctx.outputs(1, 1)
    perm = ctx.attribute("perm", "ints")

    def run(inputs):
        data = np.asarray(inputs[0])
        if perm is None:
            return [data.transpose()]
        if sorted(perm) != list(range(data.ndim)):
            raise ctx.error(f"perm {perm} is not a permutation of the {data.ndim} axes of "
                            f"shape {data.shape}", ShapeError)
        return [data.transpose(perm)]
    return run


def _check_target_shape(ctx, shape, cls):
    if shape.count(-1) > 1 or any(d < -1 for d in shape):
        raise ctx.error(f"shape {shape} is not a valid target shape", cls)


def op_reshape(ctx):
    ctx.outputs(1, 1)
    if ctx.opset < 5:
        ctx.allow_attributes("shape", "consumed_inputs")
        ctx.inputs(1, 1)
        stored = ctx.attribute("shape", "ints")
        if stored is None:
            raise ctx.error("attribute 'shape' is required")
        allowzero = 0
    else:
        ctx.allow_attributes(*(("allowzero",) if ctx.opset >= 14 else ()))
        ctx.inputs(2, 2)
        stored = _stored_ints(ctx, 1, "shape")[1]
        allowzero = ctx.attribute("allowzero", "int", 0)
    if stored is not None:  # a shape in the model is checked once, here
        _check_target_shape(ctx, stored, InvalidModelError)

    def run(inputs):
        data = np.asarray(inputs[0])
        shape = stored
        if shape is None:
            shape = _int_values(ctx, inputs[1], "shape")
            _check_target_shape(ctx, shape, ShapeError)
        target = shape
        if not allowzero and 0 in shape:
            # 0 copies the input's dimension at the same position.
            if 0 in shape[data.ndim:]:
                i = data.ndim + shape[data.ndim:].index(0)
                raise ctx.error(f"shape {shape} copies dimension {i} (0) but the input "
                                f"has shape {data.shape}", ShapeError)
            target = [data.shape[i] if d == 0 else d for i, d in enumerate(shape)]
        if -1 not in target:  # (a view, but the ops after it loop over its shape)
            check_result_size(ctx, target, data.dtype)
        try:  # numpy refuses every size mismatch ONNX does, -1 with a 0 dimension too
            return [data.reshape(target)]
        except ValueError:
            raise ctx.error(f"cannot reshape {data.shape} ({data.size} elements) to {target}",
                            ShapeError) from None
    return run


_SLICE_INPUTS = ("starts", "ends", "axes", "steps")  # inputs 1..4 of Slice-10 and later


def _slice_bounds(ctx, starts, ends, axes, steps, stored):
    """starts, ends, axes, steps with ONNX's defaults filled in, or a clear error.

    stored: the bounds come from the model, so a bad one makes it an
    InvalidModelError rather than an error of this run's inputs.
    """
    axes = list(range(len(starts))) if axes is None else axes
    steps = [1] * len(starts) if steps is None else steps
    if not len(starts) == len(ends) == len(axes) == len(steps):
        raise ctx.error(f"starts, ends, axes and steps differ in length: {starts}, {ends}, "
                        f"{axes}, {steps}", InvalidModelError if stored else ShapeError)
    if 0 in steps:
        raise ctx.error("steps must not be 0", InvalidModelError if stored else ValueError)
    return starts, ends, axes, steps


def _slice_index(ctx, rank, starts, ends, axes, steps):
    """The numpy index that slices a rank-`rank` tensor as ONNX Slice does."""
    index = [slice(None)] * rank
    # numpy's slicing clamps starts/ends and counts negatives from the end
    # exactly as ONNX Slice specifies, for both signs of step.
    for axis, start, end, step in zip(_axes(ctx, axes, rank), starts, ends, steps):
        index[axis] = slice(start, end, step)
    return tuple(index)


def op_slice(ctx):
    ctx.outputs(1, 1)
    if ctx.opset < 10:
        ctx.allow_attributes("starts", "ends", "axes")
        ctx.inputs(1, 1)
        bounds = [ctx.attribute(name, "ints") for name in ("starts", "ends", "axes")] + [None]
        if bounds[0] is None or bounds[1] is None:
            raise ctx.error("attributes 'starts' and 'ends' are required")
    else:
        ctx.allow_attributes()
        ctx.inputs(3, 5)
        given = [_stored_ints(ctx, position, what) for position, what in
                 enumerate(_SLICE_INPUTS, 1)]
        bounds = [value for _, value in given] if all(known for known, _ in given) else None
    # Bounds in the model are checked once, and the index built once per input rank.
    stored = None if bounds is None else _slice_bounds(ctx, *bounds, stored=True)
    index_by_rank = {}

    def run(inputs):
        data = np.asarray(inputs[0])
        if stored is None:
            bounds = _slice_bounds(ctx, *(_read_ints(ctx, inputs, position, what) for
                                          position, what in enumerate(_SLICE_INPUTS, 1)),
                                   stored=False)
            return [data[_slice_index(ctx, data.ndim, *bounds)]]
        index = index_by_rank.get(data.ndim)
        if index is None:
            index = index_by_rank[data.ndim] = _slice_index(ctx, data.ndim, *stored)
        return [data[index]]
    return run


def op_cast(ctx):
    ctx.allow_attributes("to", "saturate", "round_mode")
    ctx.inputs(1, 1)
    ctx.outputs(1, 1)
    if ctx.opset < 6:  # Cast-1 names the type
        to = ctx.attribute("to", "string")
    else:
        to = ctx.attribute("to", "int")
    if isinstance(to, str):
        try:
            to = TensorProto.DataType.Value(to.upper())
        except ValueError:
            raise ctx.error(f"unknown type {to!r} in attribute 'to'") from None
    if to is None:
        raise ctx.error("attribute 'to' is required")
    dtype = numpy_type(to, f"{ctx.label} target")
    return lambda inputs: [np.asarray(inputs[0]).astype(dtype)]


def op_split(ctx):
    ctx.allow_attributes(*(["axis"] + (["split"] if ctx.opset < 13 else [])
                           + (["num_outputs"] if ctx.opset >= 18 else [])))
    ctx.inputs(1, 2 if ctx.opset == 1 or ctx.opset >= 13 else 1)
    outputs = ctx.outputs(1, 2**31)
    axis = ctx.attribute("axis", "int", 0)
    split_attr = ctx.attribute("split", "ints")
    num_outputs = ctx.attribute("num_outputs", "int")
    if num_outputs is not None and num_outputs != len(outputs):
        raise ctx.error(f"num_outputs is {num_outputs} but the node has {len(outputs)} outputs")
    split_input = _ints_argument(ctx, 1, "split", most=len(outputs))

    def run(inputs):
        data = np.asarray(inputs[0])
        ax = _data_axis(ctx, axis, data)
        size = data.shape[ax]
        sizes = split_attr
        if split_input(inputs) is not None:
            sizes = split_input(inputs)
        count = len(outputs)
        if sizes is None:
            if num_outputs is not None:
                # Opset 18: equal chunks of ceil(size / n), the last one smaller.
                chunk = -(-size // count)
                sizes = [min(chunk, max(size - i * chunk, 0)) for i in range(count)]
            elif size % count:
                raise ctx.error(f"axis {axis} of size {size} does not split evenly into "
                                f"{count} outputs", ShapeError)
            else:
                sizes = [size // count] * count
        if len(sizes) != count or sum(sizes) != size or min(sizes) < 0:
            raise ctx.error(f"split sizes {sizes} do not cut axis {axis} of size {size} into "
                            f"{count} outputs", ShapeError)
        return np.split(data, np.cumsum(sizes)[:-1], axis=ax)
    return run


def op_expand(ctx):
    ctx.allow_attributes()
    ctx.inputs(2, 2)
    ctx.outputs(1, 1)
    get_shape = _ints_argument(ctx, 1, "shape")
    stored = get_shape(None) if ctx.constant(1) is not None else None
    most = limit("run_elements")
    if stored is not None and min(stored, default=0) >= 0 and max(cost(stored)) > most:
        # the result has at least these elements (or loops), whatever X is
        raise ctx.error(f"expands to the stored shape {shape_text(stored)} "
                        f"({math.prod(stored)} elements); a run makes at most {most} "
                        "(fastrnn.onnx.set_limits(run_elements=...))", UnsupportedModelError)

    def run(inputs):
        data = np.asarray(inputs[0])
        shape = get_shape(inputs)
        try:
            target = np.broadcast_shapes(data.shape, tuple(shape))
        except ValueError:
            raise ctx.error(f"cannot broadcast shape {data.shape} with {shape}",
                            ShapeError) from None
        check_result_size(ctx, target, data.dtype)
        return [np.broadcast_to(data, target).copy()]
    return run


def op_matmul(ctx):
    ctx.allow_attributes()
    ctx.inputs(2, 2)
    ctx.outputs(1, 1)

    def run(inputs):
        a, b = np.asarray(inputs[0]), np.asarray(inputs[1])
        if a.dtype != b.dtype:
            raise ctx.error(f"inputs must have one dtype, got {a.dtype} and {b.dtype}", TypeError)
        if a.dtype.kind not in "fiu":
            raise ctx.error(f"inputs must be numbers, got {a.dtype}", TypeError)
        if a.ndim == 0 or b.ndim == 0:
            raise ctx.error(f"inputs must have rank >= 1, got shapes {a.shape} and {b.shape}",
                            ShapeError)
        target = matmul_shape(a.shape, b.shape)  # numpy's matmul broadcasts as ONNX's does
        if target is None:
            raise ctx.error(f"cannot multiply shapes {a.shape} and {b.shape}", ShapeError)
        check_result_size(ctx, target, a.dtype)
        return [np.matmul(a, b)]
    return run


def op_reverse_sequence(ctx):
    ctx.allow_attributes("batch_axis", "time_axis")
    ctx.inputs(2, 2)
    ctx.outputs(1, 1)
    batch_axis = ctx.attribute("batch_axis", "int", 1)
    time_axis = ctx.attribute("time_axis", "int", 0)
    if {batch_axis, time_axis} != {0, 1}:
        raise ctx.error(f"batch_axis and time_axis must be 0 and 1 (one each), got "
                        f"{batch_axis} and {time_axis}")

    def run(inputs):
        data, lengths = np.asarray(inputs[0]), np.asarray(inputs[1])
        if lengths.dtype != np.int64:
            raise ctx.error(f"sequence_lens must be int64 (tensor(int64)), got {lengths.dtype}",
                            TypeError)
        if data.ndim < 2:
            raise ctx.error(f"the input must have rank >= 2, got shape {data.shape}", ShapeError)
        batch, steps = data.shape[batch_axis], data.shape[time_axis]
        if lengths.shape != (batch,):
            raise ctx.error(f"sequence_lens must have shape [{batch}] (the batch axis), got "
                            f"{list(lengths.shape)}", ShapeError)
        bad = np.flatnonzero((lengths < 0) | (lengths > steps))
        if bad.size:
            raise ctx.error(f"sequence_lens[{bad[0]}] = {lengths[bad[0]]} is outside 0..{steps} "
                            "(the time axis)", ValueError)
        check_result_size(ctx, data.shape, data.dtype)
        # each sequence's first steps reversed: step t of sequence b reads step
        # length - 1 - t while t < length, else t (one gather, no loop per sequence)
        t = np.arange(steps)[:, None]
        source = np.where(t < lengths[None, :], lengths[None, :] - 1 - t, t)  # [time, batch]
        if batch_axis == 0:
            source = source.T
        source = source.reshape(source.shape + (1,) * (data.ndim - 2))
        return [np.take_along_axis(data, source, axis=time_axis)]
    return run


SHAPE_OPS = {
    "Identity": op_identity, "Constant": op_constant, "ConstantOfShape": op_constant_of_shape,
    "Shape": op_shape, "Gather": op_gather, "Unsqueeze": op_unsqueeze, "Squeeze": op_squeeze,
    "Concat": op_concat, "Transpose": op_transpose, "Reshape": op_reshape, "Slice": op_slice,
    "Cast": op_cast, "Split": op_split, "Expand": op_expand, "MatMul": op_matmul,
    "ReverseSequence": op_reverse_sequence,
}


# ------------------------------------------------------------------ graph
class ValueSpec:
    """A graph input or output: name, numpy dtype (None if not stated), shape (None = any)."""

    def __init__(self, value_info):
        self.name = value_info.name
        kind = value_info.type.WhichOneof("value")
        if kind not in ("tensor_type", None):
            raise UnsupportedModelError(
                f"graph value {self.name!r} is a {kind.replace('_type', '')}; fastrnn's backend "
                "only handles tensors")
        tensor_type = value_info.type.tensor_type
        self.elem_type = tensor_type.elem_type
        self.dtype = (numpy_type(self.elem_type, f"graph value {self.name!r}")
                      if self.elem_type else None)
        dims = declared_dims(value_info)
        self.shape = None if dims is None else tuple(dims)

    def accept(self, value):
        """The caller's value as an array of the declared type and shape, or a clear error."""
        is_array = isinstance(value, np.ndarray) or hasattr(value, "dtype")
        try:
            array = np.asarray(value)
        except (TypeError, ValueError) as exc:
            raise TypeError(f"input {self.name!r} must be an array: {exc}") from exc
        if self.dtype is not None and array.dtype != self.dtype:
            converted = None
            if not is_array and array.dtype.kind in "iufb":  # Python numbers and lists
                with np.errstate(all="ignore"):
                    converted = array.astype(self.dtype)
                # to an integer type only when every value survives: not 1.5 or 2**40
                # as int32 lengths (floats round to float32 as numbers do)
                if self.dtype.kind in "iub" and not np.array_equal(converted, array):
                    converted = None
            if converted is None:
                raise TypeError(
                    f"input {self.name!r} must be {type_name(self.elem_type)} "
                    f"(numpy {self.dtype}), got {array.dtype}"
                    + ("" if is_array else f" values {value!r:.60} that it cannot hold"))
            array = converted
        if self.shape is not None:
            if array.ndim != len(self.shape) or any(
                    want is not None and want != got for want, got in zip(self.shape, array.shape)):
                shown = "[" + ", ".join("?" if d is None else str(d) for d in self.shape) + "]"
                raise ShapeError(f"input {self.name!r} must have shape {shown}, got "
                                 f"{list(array.shape)}")
        # A read-only view: no node can write into the caller's array, and every
        # view a node makes of it is read-only too, which Graph.run relies on.
        array = array.view()
        array.flags.writeable = False
        return array


class Graph:
    """A checked, ready-to-run ONNX graph."""

    def __init__(self, model, ops):
        graph = model.graph
        self.opset = opset = model_opset(model)
        if len(graph.sparse_initializer):
            raise UnsupportedModelError("sparse initializers are not supported")
        check_unique_names(graph)

        self.budget = Budget()  # what folding stored values may make, for the whole file
        self.initializers = {}
        for tensor in graph.initializer:
            value = tensor_value(tensor, f"initializer {tensor.name!r}")
            value.flags.writeable = False
            self.initializers[tensor.name] = value
        self.inputs = [ValueSpec(vi) for vi in runtime_inputs(graph)]
        # An initializer listed among the graph inputs is a default the caller may override.
        self.overridable = {vi.name: ValueSpec(vi) for vi in graph.input
                            if vi.name in self.initializers}
        fixed = {name: value for name, value in self.initializers.items()
                 if name not in self.overridable}

        defined = set(self.initializers) | {spec.name for spec in self.inputs}
        self.steps = []
        self.op_types = {}  # label -> op type, of every node
        for index, node in enumerate(graph.node):
            label = node_label(node, index)
            if node.domain not in DEFAULT_DOMAINS:
                raise UnsupportedModelError(
                    f"{label}: operator {node.domain}.{node.op_type} is not supported: "
                    f"fastrnn's backend runs only {', '.join(sorted(ops))} of the default domain")
            factory = ops.get(node.op_type)
            if factory is None:
                raise UnsupportedModelError(
                    f"{label}: operator {node.op_type} is not supported: fastrnn's backend "
                    f"runs only {', '.join(sorted(ops))}")
            for name in node.input:
                if name and name not in defined:
                    raise InvalidModelError(
                        f"{label} reads {name!r}, which no graph input, initializer or earlier "
                        "node provides (nodes must be in topological order)")
            for name in node.output:
                if name in defined:
                    raise InvalidModelError(f"{label} writes {name!r}, which is already defined "
                                            "(ONNX names are assigned once)")
                if name:
                    defined.add(name)
            ctx = NodeContext(node, index, opset, fixed)
            run = factory(ctx)
            if all(name in fixed for name in node.input if name):
                # Computed from stored values alone (Constant, a projected LSTM's
                # R = MatMul(W_hh, W_hr), ...): once, now, within the file's budget.
                # Later nodes read the result as stored, so it is prepared once too.
                run = self._fold(ctx, run, fixed)
            # The names as tuples: reading a protobuf field costs more than most ops.
            self.steps.append((tuple(node.input), tuple(node.output), label, run))
            self.op_types[label] = node.op_type
        self.outputs = [ValueSpec(vi) for vi in graph.output]
        for spec in self.outputs:
            if spec.name not in defined:
                raise InvalidModelError(f"graph output {spec.name!r} is never computed")

        # Only the nodes the outputs need run (every node was checked above).
        needed = {spec.name for spec in self.outputs}
        live = []
        for step in reversed(self.steps):
            if any(name in needed for name in step[1]):
                live.append(step)
                needed.update(name for name in step[0] if name)
        self.steps = live[::-1]

        # Values that depend on the inputs' shapes alone (Shape, and what is computed from
        # shapes and stored values: torch's exporters build zero initial states and
        # reshape targets this way) are computed once per input shape and kept.
        from_shapes = set(self.initializers) - set(self.overridable)
        self._shape_steps = []
        for position, (input_names, output_names, label, run) in enumerate(self.steps):
            if self.op_types[label] == "Shape" or all(not n or n in from_shapes
                                                       for n in input_names):
                from_shapes.update(n for n in output_names if n)
                self._shape_steps.append(position)
        self._by_shape = {}  # (input shapes and dtypes) -> {name: value}

        # Free each intermediate after its last reader.
        keep = {spec.name for spec in self.outputs}
        last_use = {}
        for position, (input_names, _, _, _) in enumerate(self.steps):
            for name in input_names:
                last_use[name] = position
        self._release = [[] for _ in self.steps]
        for name, position in last_use.items():
            if name and name not in keep and name not in self.initializers:
                self._release[position].append(name)
        # (position, step, release) of every step, and of those a known shape leaves
        shape_steps = set(self._shape_steps)
        self._all_steps = [(p, step, release) for p, (step, release)
                           in enumerate(zip(self.steps, self._release))]
        self._value_steps = [entry for entry in self._all_steps if entry[0] not in shape_steps]
        self._shape_steps = shape_steps

    def _fold(self, ctx, run, fixed):
        """Run a node whose inputs are all stored, its results charged to the file's
        budget (_limits.py); record them in `fixed` and return a run giving them."""
        args = [fixed[name] if name else None for name in ctx.node.input]
        ctx.budget = self.budget
        try:
            results = run(args)
        except UnsupportedModelError:
            raise
        except (ValueError, TypeError, IndexError, KeyError, ArithmeticError) as exc:
            # the file's own values contradict each other
            message = str(exc) if str(exc).startswith(ctx.label) else f"{ctx.label}: {exc}"
            raise InvalidModelError(message) from exc
        except MemoryError as exc:
            raise MemoryError(f"{ctx.label}: {exc}") from exc
        finally:
            ctx.budget = None
        for name, value in zip(ctx.node.output, results):
            if name and value is not None:
                value = np.asarray(value)
                value.flags.writeable = False  # shared by every run
                fixed[name] = value
        return lambda inputs: results

    def feeds(self, inputs):
        """Map the caller's inputs (list, tuple, dict or one array) to graph input names."""
        if isinstance(inputs, dict):
            known = {spec.name: spec for spec in self.inputs}
            known.update(self.overridable)
            unknown = [name for name in inputs if name not in known]
            if unknown:
                raise KeyError(f"unknown input name(s) {unknown}; the model's inputs are "
                               f"{list(known)}")
            missing = [spec.name for spec in self.inputs if spec.name not in inputs]
            if missing:
                raise KeyError(f"missing input(s) {missing}")
            return {name: known[name].accept(value) for name, value in inputs.items()}
        if isinstance(inputs, (list, tuple)):
            values = list(inputs)
        else:
            values = [inputs]
        if len(values) != len(self.inputs):
            raise ValueError(
                f"the model takes {len(self.inputs)} input(s) "
                f"{[spec.name for spec in self.inputs]}, got {len(values)}")
        return {spec.name: spec.accept(value) for spec, value in zip(self.inputs, values)}

    def run(self, feeds):
        """Run every node on feeds (from self.feeds); returns the graph outputs in order,
        as C-contiguous arrays the caller owns."""
        env = dict(self.initializers)
        env.update(feeds)
        key = known = None
        if self._shape_steps:
            key = tuple((name, value.shape, value.dtype) for name, value in feeds.items())
            known = self._by_shape.get(key)
            if known is not None:
                env.update(known)
        env[""] = None  # an absent input (no name) reads as None
        value_of = env.__getitem__
        for position, (input_names, output_names, label, run), release in (
                self._all_steps if known is None else self._value_steps):
            try:
                results = run(list(map(value_of, input_names)))
            except (ValueError, TypeError, IndexError, KeyError) as exc:
                if str(exc).startswith(label) or isinstance(exc, UnsupportedModelError):
                    raise
                cls = TypeError if isinstance(exc, TypeError) else ValueError
                raise cls(f"{label}: {exc}") from exc
            except MemoryError as exc:  # say which node asked for the memory
                raise MemoryError(f"{label}: {exc}") from exc
            for name, value in zip(output_names, results):
                if name:
                    env[name] = value
            if known is None and position in self._shape_steps:
                if not self._by_shape.get(key):
                    if len(self._by_shape) >= 64:  # a few shapes are what a model sees
                        self._by_shape.clear()
                    self._by_shape[key] = {}
                for name, value in zip(output_names, results):
                    if name:
                        value = np.asarray(value)
                        value.flags.writeable = False  # shared by later runs
                        self._by_shape[key][name] = value
            for name in release:
                env.pop(name, None)
        outputs = []
        for spec in self.outputs:
            value = np.asarray(env[spec.name])
            # Nodes pass views along to save copies; the caller gets a copy of a view
            # that is not its own to write: of an input, initializer or constant (all
            # read-only, and so is every view of them), of an output already given
            # (two outputs must not change together), of a larger buffer it would keep
            # alive, or that is not C-contiguous.
            base = value.base
            if (not value.flags.writeable or not value.flags.c_contiguous
                    or (isinstance(base, np.ndarray) and base.nbytes > value.nbytes)
                    or (outputs and any(np.may_share_memory(value, given)
                                        for given in outputs))):
                value = np.array(value, order="C")
            outputs.append(value)
        return outputs
