"""A small numpy interpreter for the ONNX graphs fastrnn's backend runs.

`Graph` checks a model once (every op known, every name defined before use,
attributes understood) and then runs its nodes in file order, which ONNX
requires to be a topological order. The ops here are the shape plumbing that
exporters put around recurrent nodes; the recurrent ops themselves are given
by the caller (fastrnn.onnx.backend) in the same form:

    factory(node: NodeContext) -> run(inputs: list) -> list of outputs

`factory` reads and checks the node's attributes when the model is prepared;
`run` gets one value per node input (None for an absent optional input) and
returns one value per node output (None where the node does not produce it).
Nothing here writes into an array it did not create.
"""
import numbers

import numpy as np
from onnx import TensorProto, helper, numpy_helper

from fastrnn._arrays import ShapeError
from fastrnn.onnx._load import InvalidModelError, UnsupportedModelError

# ONNX element types numpy holds natively. Others (bfloat16, float8, int4,
# strings, complex) are refused with a message naming them.
NUMPY_TYPES = {
    TensorProto.FLOAT: np.dtype(np.float32), TensorProto.DOUBLE: np.dtype(np.float64),
    TensorProto.FLOAT16: np.dtype(np.float16),
    TensorProto.INT8: np.dtype(np.int8), TensorProto.INT16: np.dtype(np.int16),
    TensorProto.INT32: np.dtype(np.int32), TensorProto.INT64: np.dtype(np.int64),
    TensorProto.UINT8: np.dtype(np.uint8), TensorProto.UINT16: np.dtype(np.uint16),
    TensorProto.UINT32: np.dtype(np.uint32), TensorProto.UINT64: np.dtype(np.uint64),
    TensorProto.BOOL: np.dtype(np.bool_),
}
DEFAULT_DOMAINS = ("", "ai.onnx")


def type_name(elem_type):
    """'tensor(float)' style name of an ONNX element type number."""
    try:
        return f"tensor({TensorProto.DataType.Name(elem_type).lower()})"
    except ValueError:
        return f"element type {elem_type}"


def numpy_type(elem_type, what):
    try:
        return NUMPY_TYPES[elem_type]
    except KeyError:
        raise UnsupportedModelError(
            f"{what} has type {type_name(elem_type)}, which fastrnn's backend does not "
            "handle (it handles float, double, float16, integer and bool tensors)") from None


def tensor_value(tensor, what):
    """A numpy array from a TensorProto, or a clear error."""
    if tensor.data_location == TensorProto.EXTERNAL and not tensor.raw_data:
        raise UnsupportedModelError(
            f"{what} is stored as external data; prepare the model from its path (or "
            "onnx.load it) so the data files next to it are read")
    numpy_type(tensor.data_type, what)
    try:
        return numpy_helper.to_array(tensor)
    except Exception as exc:  # sizes that do not match the dims, unreadable data
        raise InvalidModelError(f"{what} cannot be read: {type(exc).__name__}: {exc}") from exc


# ------------------------------------------------------------------ node context
class NodeContext:
    """One node as the op factories see it: attributes, opset, constants, errors."""

    def __init__(self, node, index, opset, constants):
        self.node = node
        self.opset = opset
        self.label = (f"node {index} ({node.op_type} {node.name!r})" if node.name
                      else f"node {index} ({node.op_type})")
        self._constants = constants
        self.attrs = {}
        for attribute in node.attribute:
            if attribute.ref_attr_name:
                raise UnsupportedModelError(
                    f"{self.label}: attribute {attribute.name!r} refers to a function "
                    "attribute; fastrnn's backend does not run functions")
            try:
                value = helper.get_attribute_value(attribute)
            except Exception as exc:
                raise InvalidModelError(
                    f"{self.label}: attribute {attribute.name!r} cannot be read: {exc}") from exc
            if isinstance(value, bytes):
                value = value.decode("utf-8", "replace")
            elif isinstance(value, list) and value and isinstance(value[0], bytes):
                value = [v.decode("utf-8", "replace") for v in value]
            self.attrs[attribute.name] = value

    def error(self, message, cls=InvalidModelError):
        return cls(f"{self.label}: {message}")

    def allow_attributes(self, *names):
        """Refuse attributes this implementation does not know (e.g. from a newer opset)."""
        unknown = sorted(set(self.attrs) - set(names))
        if unknown:
            raise self.error(
                f"attribute(s) {', '.join(unknown)} not supported "
                f"(this op understands: {', '.join(names) or 'none'})", UnsupportedModelError)

    def attr(self, name, default=None):
        return self.attrs.get(name, default)

    def int_attr(self, name, default=None):
        value = self.attrs.get(name, default)
        if value is not None and (isinstance(value, bool)
                                  or not isinstance(value, numbers.Integral)):
            raise self.error(f"attribute {name!r} must be an integer, got {value!r}")
        return value

    def ints_attr(self, name, default=None):
        value = self.attrs.get(name, default)
        if value is not None:
            if not isinstance(value, (list, tuple)) or not all(
                    isinstance(v, numbers.Integral) for v in value):
                raise self.error(f"attribute {name!r} must be a list of integers, got {value!r}")
            value = [int(v) for v in value]
        return value

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


def _int_values(ctx, value, what):
    """A 1-D list of Python ints from an integer tensor input (shapes, axes, ...)."""
    array = np.asarray(value)
    if array.dtype.kind not in "iu":
        raise ctx.error(f"{what} must be an integer tensor, got {array.dtype}", TypeError)
    if array.ndim > 1:
        raise ctx.error(f"{what} must be a scalar or 1-D, got shape {array.shape}", ShapeError)
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


def _axes_argument(ctx, position, attribute_until):
    """Axes are an attribute before opset `attribute_until` and an input from then on."""
    if ctx.opset < attribute_until:
        ctx.allow_attributes("axes")
        return lambda inputs: ctx.ints_attr("axes")
    ctx.allow_attributes()
    return lambda inputs: (None if len(inputs) <= position or inputs[position] is None
                           else _int_values(ctx, inputs[position], "axes"))


# ------------------------------------------------------------------ shape ops
def op_identity(ctx):
    ctx.allow_attributes()
    ctx.inputs(1, 1)
    ctx.outputs(1, 1)
    return lambda inputs: [inputs[0]]


def op_constant(ctx):
    ctx.inputs(0, 0)
    ctx.outputs(1, 1)
    kinds = {"value", "value_float", "value_floats", "value_int", "value_ints",
             "sparse_value", "value_string", "value_strings"}
    ctx.allow_attributes(*kinds)
    given = [k for k in ctx.attrs if k in kinds]
    if len(given) != 1:
        raise ctx.error(f"needs exactly one value attribute, got {given or 'none'}")
    kind = given[0]
    raw = ctx.attrs[kind]
    if kind == "value":
        value = tensor_value(raw, f"{ctx.label} value")
    elif kind == "value_float":
        value = np.array(raw, np.float32)
    elif kind == "value_floats":
        value = np.array(raw, np.float32).reshape(-1)
    elif kind == "value_int":
        value = np.array(raw, np.int64)
    elif kind == "value_ints":
        value = np.array(raw, np.int64).reshape(-1)
    else:
        raise ctx.error(f"{kind} constants are not supported", UnsupportedModelError)
    value.flags.writeable = False  # shared by every run
    return lambda inputs: [value]


def op_constant_of_shape(ctx):
    ctx.allow_attributes("value")
    ctx.inputs(1, 1)
    ctx.outputs(1, 1)
    if "value" in ctx.attrs:
        fill = tensor_value(ctx.attrs["value"], f"{ctx.label} value")
        if fill.size != 1:
            raise ctx.error(f"value must hold one element, got shape {fill.shape}")
        fill = fill.reshape(-1)
    else:
        fill = np.zeros(1, np.float32)

    def run(inputs):
        shape = _int_values(ctx, inputs[0], "shape")
        if any(d < 0 for d in shape):
            raise ctx.error(f"shape {shape} has a negative dimension", ValueError)
        return [np.full(shape, fill[0], fill.dtype)]
    return run


def op_shape(ctx):
    ctx.allow_attributes(*(("start", "end") if ctx.opset >= 15 else ()))
    ctx.inputs(1, 1)
    ctx.outputs(1, 1)
    start = ctx.int_attr("start", 0)
    end = ctx.int_attr("end", None)
    # Python slicing clamps and counts negatives from the back, as ONNX does.
    return lambda inputs: [np.array(np.shape(inputs[0])[start:end], np.int64)]


def op_gather(ctx):
    ctx.allow_attributes("axis")
    ctx.inputs(2, 2)
    ctx.outputs(1, 1)
    axis = ctx.int_attr("axis", 0)

    def run(inputs):
        data, indices = np.asarray(inputs[0]), np.asarray(inputs[1])
        if indices.dtype.kind not in "iu":
            raise ctx.error(f"indices must be integers, got {indices.dtype}", TypeError)
        (ax,) = _axes(ctx, [axis], max(data.ndim, 1), "axis")
        size = data.shape[ax] if data.ndim else 0
        if indices.size and (indices.min() < -size or indices.max() >= size):
            raise ctx.error(f"indices must lie in [{-size}, {size - 1}] for axis {axis} of "
                            f"shape {data.shape}", ValueError)
        return [np.take(data, indices.astype(np.intp), axis=ax)]
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
    axis = ctx.int_attr("axis", 1 if ctx.opset < 4 else None)
    if axis is None:
        raise ctx.error("attribute 'axis' is required")

    def run(inputs):
        arrays = [np.asarray(v) for v in inputs]
        rank = arrays[0].ndim
        if rank == 0 or any(a.ndim != rank for a in arrays):
            raise ctx.error(f"inputs must share one rank >= 1, got shapes "
                            f"{[a.shape for a in arrays]}", ShapeError)
        (ax,) = _axes(ctx, [axis], rank, "axis")
        return [np.concatenate(arrays, axis=ax)]
    return run


def op_transpose(ctx):
    ctx.allow_attributes("perm")
    ctx.inputs(1, 1)
    ctx.outputs(1, 1)
    perm = ctx.ints_attr("perm")

    def run(inputs):
        data = np.asarray(inputs[0])
        if perm is None:
            return [data.transpose()]
        if sorted(perm) != list(range(data.ndim)):
            raise ctx.error(f"perm {perm} is not a permutation of the {data.ndim} axes of "
                            f"shape {data.shape}", ShapeError)
        return [data.transpose(perm)]
    return run


def op_reshape(ctx):
    ctx.outputs(1, 1)
    if ctx.opset < 5:
        ctx.allow_attributes("shape", "consumed_inputs")
        ctx.inputs(1, 1)
        fixed = ctx.ints_attr("shape")
        if fixed is None:
            raise ctx.error("attribute 'shape' is required")
        allowzero = 0
    else:
        ctx.allow_attributes(*(("allowzero",) if ctx.opset >= 14 else ()))
        ctx.inputs(2, 2)
        fixed = None
        allowzero = ctx.int_attr("allowzero", 0)

    def run(inputs):
        data = np.asarray(inputs[0])
        shape = fixed if fixed is not None else _int_values(ctx, inputs[1], "shape")
        if not allowzero:
            # 0 copies the input's dimension at the same position.
            for i, d in enumerate(shape):
                if d == 0:
                    if i >= data.ndim:
                        raise ctx.error(f"shape {shape} copies dimension {i} (0) but the input "
                                        f"has shape {data.shape}", ShapeError)
                    shape = shape[:i] + [data.shape[i]] + shape[i + 1:]
        if shape.count(-1) > 1 or any(d < -1 for d in shape):
            raise ctx.error(f"shape {shape} is not a valid target shape", ShapeError)
        known = int(np.prod([d for d in shape if d != -1], dtype=np.int64))
        if (-1 in shape and (known == 0 or data.size % known)) or (
                -1 not in shape and known != data.size):
            raise ctx.error(f"cannot reshape {data.shape} ({data.size} elements) to {shape}",
                            ShapeError)
        return [data.reshape(shape)]
    return run


def op_slice(ctx):
    ctx.outputs(1, 1)
    if ctx.opset < 10:
        ctx.allow_attributes("starts", "ends", "axes")
        ctx.inputs(1, 1)
        fixed = (ctx.ints_attr("starts"), ctx.ints_attr("ends"), ctx.ints_attr("axes"))
        if fixed[0] is None or fixed[1] is None:
            raise ctx.error("attributes 'starts' and 'ends' are required")
    else:
        ctx.allow_attributes()
        ctx.inputs(3, 5)
        fixed = None

    def run(inputs):
        data = np.asarray(inputs[0])
        if fixed is not None:
            starts, ends, axes = fixed
            steps = None
        else:
            starts = _int_values(ctx, inputs[1], "starts")
            ends = _int_values(ctx, inputs[2], "ends")
            axes = (None if len(inputs) < 4 or inputs[3] is None
                    else _int_values(ctx, inputs[3], "axes"))
            steps = (None if len(inputs) < 5 or inputs[4] is None
                     else _int_values(ctx, inputs[4], "steps"))
        if axes is None:
            axes = list(range(len(starts)))
        if steps is None:
            steps = [1] * len(starts)
        if not len(starts) == len(ends) == len(axes) == len(steps):
            raise ctx.error(f"starts, ends, axes and steps differ in length: {starts}, {ends}, "
                            f"{axes}, {steps}", ShapeError)
        if 0 in steps:
            raise ctx.error("steps must not be 0", ValueError)
        index = [slice(None)] * data.ndim
        # numpy's slicing clamps starts/ends and counts negatives from the end
        # exactly as ONNX Slice specifies, for both signs of step.
        for axis, start, end, step in zip(_axes(ctx, axes, data.ndim), starts, ends, steps):
            index[axis] = slice(start, end, step)
        return [data[tuple(index)]]
    return run


def op_cast(ctx):
    ctx.allow_attributes("to", "saturate", "round_mode")
    ctx.inputs(1, 1)
    ctx.outputs(1, 1)
    to = ctx.attr("to")
    if isinstance(to, str):  # Cast-1 names the type
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
    axis = ctx.int_attr("axis", 0)
    split_attr = ctx.ints_attr("split")
    num_outputs = ctx.int_attr("num_outputs")
    if num_outputs is not None and num_outputs != len(outputs):
        raise ctx.error(f"num_outputs is {num_outputs} but the node has {len(outputs)} outputs")

    def run(inputs):
        data = np.asarray(inputs[0])
        (ax,) = _axes(ctx, [axis], max(data.ndim, 1), "axis")
        size = data.shape[ax]
        sizes = split_attr
        if len(inputs) > 1 and inputs[1] is not None:
            sizes = _int_values(ctx, inputs[1], "split")
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

    def run(inputs):
        data = np.asarray(inputs[0])
        shape = _int_values(ctx, inputs[1], "shape")
        try:
            target = np.broadcast_shapes(data.shape, tuple(shape))
        except ValueError:
            raise ctx.error(f"cannot broadcast shape {data.shape} with {shape}",
                            ShapeError) from None
        return [np.broadcast_to(data, target).copy()]
    return run


SHAPE_OPS = {
    "Identity": op_identity, "Constant": op_constant, "ConstantOfShape": op_constant_of_shape,
    "Shape": op_shape, "Gather": op_gather, "Unsqueeze": op_unsqueeze, "Squeeze": op_squeeze,
    "Concat": op_concat, "Transpose": op_transpose, "Reshape": op_reshape, "Slice": op_slice,
    "Cast": op_cast, "Split": op_split, "Expand": op_expand,
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
        self.shape = None
        if tensor_type.HasField("shape"):
            self.shape = tuple(d.dim_value if d.HasField("dim_value") else None
                               for d in tensor_type.shape.dim)

    def accept(self, value):
        """The caller's value as an array of the declared type and shape, or a clear error."""
        is_array = isinstance(value, np.ndarray) or hasattr(value, "dtype")
        try:
            array = np.asarray(value)
        except (TypeError, ValueError) as exc:
            raise TypeError(f"input {self.name!r} must be an array: {exc}") from exc
        if self.dtype is not None and array.dtype != self.dtype:
            if is_array or array.dtype.kind not in "iufb":
                raise TypeError(
                    f"input {self.name!r} must be {type_name(self.elem_type)} "
                    f"(numpy {self.dtype}), got {array.dtype}")
            array = array.astype(self.dtype)  # Python numbers and lists
        if self.shape is not None:
            if array.ndim != len(self.shape) or any(
                    want is not None and want != got for want, got in zip(self.shape, array.shape)):
                shown = "[" + ", ".join("?" if d is None else str(d) for d in self.shape) + "]"
                raise ShapeError(f"input {self.name!r} must have shape {shown}, got "
                                 f"{list(array.shape)}")
        return array


class Graph:
    """A checked, ready-to-run ONNX graph."""

    def __init__(self, model, ops):
        graph = model.graph
        opsets = {o.domain: o.version for o in model.opset_import}
        opset = next((opsets[d] for d in DEFAULT_DOMAINS if d in opsets), None)
        if opset is None:
            raise InvalidModelError("the model imports no version of the default ONNX domain")
        self.opset = opset
        if len(graph.sparse_initializer):
            raise UnsupportedModelError("sparse initializers are not supported")

        self.initializers = {}
        for tensor in graph.initializer:
            value = tensor_value(tensor, f"initializer {tensor.name!r}")
            value.flags.writeable = False
            self.initializers[tensor.name] = value
        graph_inputs = [ValueSpec(vi) for vi in graph.input]
        # An initializer listed among the graph inputs is a default the caller may override.
        self.inputs = [spec for spec in graph_inputs if spec.name not in self.initializers]
        self.overridable = {spec.name: spec for spec in graph_inputs
                            if spec.name in self.initializers}
        fixed = {name: value for name, value in self.initializers.items()
                 if name not in self.overridable}

        defined = set(self.initializers) | {spec.name for spec in self.inputs}
        self.steps = []
        for index, node in enumerate(graph.node):
            label = f"node {index} ({node.op_type}{' ' + repr(node.name) if node.name else ''})"
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
            run = factory(NodeContext(node, index, opset, fixed))
            self.steps.append((node, label, run))
            for name in node.output:
                if name in defined:
                    raise InvalidModelError(f"{label} writes {name!r}, which is already defined "
                                            "(ONNX names are assigned once)")
                if name:
                    defined.add(name)
        self.outputs = [ValueSpec(vi) for vi in graph.output]
        for spec in self.outputs:
            if spec.name not in defined:
                raise InvalidModelError(f"graph output {spec.name!r} is never computed")

        # Free each intermediate after its last reader.
        keep = {spec.name for spec in self.outputs}
        last_use = {}
        for position, (node, _, _) in enumerate(self.steps):
            for name in node.input:
                last_use[name] = position
        self._release = [[] for _ in self.steps]
        for name, position in last_use.items():
            if name not in keep and name not in self.initializers:
                self._release[position].append(name)

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
        """Run every node; returns the graph outputs in order, as arrays the caller owns."""
        env = dict(self.initializers)
        env.update(feeds)
        protected = list(env.values())
        for position, (node, label, run) in enumerate(self.steps):
            args = [env[name] if name else None for name in node.input]
            try:
                results = run(args)
            except (ValueError, TypeError, IndexError, KeyError) as exc:
                if str(exc).startswith(label) or isinstance(exc, UnsupportedModelError):
                    raise
                cls = TypeError if isinstance(exc, TypeError) else ValueError
                raise cls(f"{label}: {exc}") from exc
            for name, value in zip(node.output, results):
                if name:
                    env[name] = value
            for name in self._release[position]:
                env.pop(name, None)
        outputs = []
        for spec in self.outputs:
            value = np.asarray(env[spec.name])
            # Views of inputs, initializers or constants must not reach the caller:
            # writing into them would change the caller's data or the next run.
            if not value.flags.writeable or any(
                    np.may_share_memory(value, p) for p in protected):
                value = value.copy()
            outputs.append(value)
        return outputs
