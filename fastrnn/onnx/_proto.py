"""Reading ONNX protos: the one place fastrnn.onnx turns files, tensors, declared
shapes and node attributes into Python values, and the errors it raises.

load, verify and the backend all read models through here, so a file is
refused (or accepted) for the same reasons and with the same words whichever
of them reads it.
"""
import io
import math
import os

import numpy as np
import onnx
from google.protobuf.descriptor import FieldDescriptor
from google.protobuf.message import DecodeError
from onnx import AttributeProto, TensorProto, helper, numpy_helper

__all__ = ["UnsupportedModelError", "InvalidModelError", "read_model", "model_opset",
           "matmul_shape",
           "tensor_value", "numpy_type", "type_name", "declared_dims", "runtime_inputs",
           "check_unique_names", "node_label", "NodeReader", "DEFAULT_DOMAINS"]


class UnsupportedModelError(ValueError):
    """An ONNX model that fastrnn cannot turn into (or run as) a fastrnn.RNN, LSTM or GRU."""


class InvalidModelError(UnsupportedModelError):
    """Bytes that are not a readable ONNX model, or a model contradicting itself."""


DEFAULT_DOMAINS = ("", "ai.onnx")


# ------------------------------------------------------------------ models
def read_model(f):
    """A ModelProto from a path, bytes, a binary file object or a ModelProto."""
    if isinstance(f, onnx.ModelProto):
        _check_text(f, "the given ModelProto")
        return f
    if isinstance(f, (bytes, bytearray, memoryview)):
        data, where = bytes(f), "the given bytes"
    elif isinstance(f, (str, os.PathLike)):
        where = f"file {os.fspath(f)!r}"
        try:
            # onnx.load also reads tensors stored as external data next to the file.
            proto = onnx.load(f)
        except onnx.checker.ValidationError as exc:
            # onnx checks external data locations: absolute, outside the model's
            # directory, missing or not a regular file.
            raise InvalidModelError(f"{where} has unreadable external data: {exc}") from exc
        except (DecodeError, RuntimeError, ValueError, TypeError, IndexError) as exc:
            raise InvalidModelError(f"{where} is not a readable ONNX model: {exc}") from exc
        return _checked_proto(proto, where)
    elif hasattr(f, "read"):
        where = "the file object's contents"
        # A text file would fail decoding ONNX bytes inside read(); say why first.
        if isinstance(f, io.TextIOBase):
            raise TypeError("the file object must be opened in binary mode ('rb'), got a "
                            "text file")
        try:
            data = f.read()
        except UnicodeDecodeError as exc:  # a text-mode reader that is no TextIOBase
            raise TypeError(f"the file object must be opened in binary mode ('rb'); reading "
                            f"it as text failed: {exc}") from exc
        if not isinstance(data, (bytes, bytearray)):
            raise TypeError(f"the file object must be opened in binary mode, read() gave "
                            f"{type(data).__name__}")
        data = bytes(data)
    else:
        raise TypeError(
            f"expected a path, bytes, a binary file object or an onnx.ModelProto, got "
            f"{type(f).__name__}")
    proto = onnx.ModelProto()
    try:
        proto.ParseFromString(data)
    except (DecodeError, RuntimeError, ValueError) as exc:
        raise InvalidModelError(
            f"{where} ({len(data)} bytes) is not a readable ONNX model: "
            f"{type(exc).__name__}: {exc}") from exc
    return _checked_proto(proto, where)


def _checked_proto(proto, where):
    # Protobuf happily parses a prefix or random bytes into a message with few
    # fields; a model needs at least a graph and an opset.
    if not proto.HasField("graph") or len(proto.opset_import) == 0:
        missing = "graph" if not proto.HasField("graph") else "opset_import"
        raise InvalidModelError(
            f"{where} is not a complete ONNX model: it has no {missing} (truncated or not "
            f"an ONNX file?)")
    _check_text(proto, where)
    return proto


def _check_text(proto, where):
    """Refuse a model with a text field (a name, op_type, attribute name, ...) that is not
    UTF-8.

    ONNX's messages are proto2, whose parser keeps such a field as bytes instead of str
    (and a ModelProto parsed elsewhere may hold them too); every reader here compares
    and joins names as str. Messages are walked with a stack, not recursion: graphs
    nest in attributes.
    """
    string = FieldDescriptor.TYPE_STRING
    message = FieldDescriptor.TYPE_MESSAGE
    stack = [proto]
    while stack:
        for field, value in stack.pop().ListFields():
            if field.type == message:
                if _is_repeated(field):
                    stack.extend(value)
                else:
                    stack.append(value)
            elif field.type == string:
                for text in (value if _is_repeated(field) else [value]):
                    if not isinstance(text, str):
                        raise InvalidModelError(
                            f"{where} is not a valid ONNX model: its {field.containing_type.name}"
                            f".{field.name} {text[:40]!r} is not UTF-8 text (corrupted file?)")


def _is_repeated(field):
    # protobuf >= 5.28 says is_repeated; older versions only have label
    repeated = getattr(field, "is_repeated", None)
    return repeated if repeated is not None else field.label == FieldDescriptor.LABEL_REPEATED


def model_opset(model):
    """The version of the default ONNX domain a ModelProto imports."""
    versions = {o.domain: o.version for o in model.opset_import}
    for domain in DEFAULT_DOMAINS:
        if domain in versions:
            return versions[domain]
    raise InvalidModelError("the model imports no version of the default ONNX domain")


# ------------------------------------------------------------------ tensors
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


def type_name(elem_type):
    """'tensor(float)' style name of an ONNX element type number."""
    try:
        return f"tensor({TensorProto.DataType.Name(elem_type).lower()})"
    except ValueError:
        return f"element type {elem_type}"


def numpy_type(elem_type, what):
    """The numpy dtype of an ONNX element type, or UnsupportedModelError naming `what`."""
    try:
        return NUMPY_TYPES[elem_type]
    except KeyError:
        raise UnsupportedModelError(
            f"{what} has type {type_name(elem_type)}, which fastrnn does not handle (it "
            "handles float, double, float16, integer and bool tensors)") from None


def tensor_value(tensor, what):
    """A numpy array from a TensorProto, or a clear error naming `what`.

    The dims are checked against the data the tensor holds before numpy sees
    it: a file may claim any dims, and nothing is allocated for a claim.
    """
    if tensor.data_location == TensorProto.EXTERNAL and not tensor.raw_data:
        raise UnsupportedModelError(
            f"{what} is stored as external data; read the model from its path (or onnx.load "
            "it) so the data files next to it are read")
    dtype = numpy_type(tensor.data_type, what)
    # numpy would read a -1 as "infer this dimension" and accept the tensor.
    if any(d < 0 for d in tensor.dims):
        raise InvalidModelError(f"{what} has dims {list(tensor.dims)}; a dimension cannot be "
                                "negative")
    count = math.prod(tensor.dims)  # a Python int: no overflow, whatever the dims claim
    if tensor.HasField("raw_data"):
        field, held, needed = "raw_data", f"{len(tensor.raw_data)} bytes", count * dtype.itemsize
        ok = len(tensor.raw_data) == needed
    else:  # one entry per element in the type's field (float_data, int32_data, ...)
        field = helper.tensor_dtype_to_field(tensor.data_type)
        held, needed = f"{len(getattr(tensor, field))} values", count
        ok = len(getattr(tensor, field)) == needed
    if not ok:
        raise InvalidModelError(
            f"{what} has dims {list(tensor.dims)} ({count} elements of {dtype}, {needed} "
            f"{'bytes' if field == 'raw_data' else 'values'}) but its {field} holds {held}")
    try:
        return numpy_helper.to_array(tensor)
    except Exception as exc:  # unreadable data (e.g. segments)
        raise InvalidModelError(f"{what} cannot be read: {type(exc).__name__}: {exc}") from exc


def matmul_shape(a, b):
    """The shape of numpy's (and ONNX's) MatMul of arrays of shapes a and b, or None when
    they do not multiply; computed from the shapes only."""
    if not a or not b:
        return None
    a2, b2 = (tuple(a) if len(a) > 1 else (1,) + tuple(a)), (tuple(b) if len(b) > 1
                                                              else tuple(b) + (1,))
    if a2[-1] != b2[-2]:
        return None
    try:  # the leading axes broadcast
        batch = np.broadcast_shapes(a2[:-2], b2[:-2])
    except ValueError:
        return None
    return batch + (a2[-2:-1] if len(a) > 1 else ()) + (b2[-1:] if len(b) > 1 else ())


# ------------------------------------------------------------------ graphs
def declared_dims(value_info):
    """The shape a graph value declares: a list with an int per fixed dimension and
    None per symbolic or unknown one; None when no shape is declared at all."""
    tensor_type = value_info.type.tensor_type
    if not tensor_type.HasField("shape"):
        return None
    dims = [d.dim_value if d.HasField("dim_value") else None for d in tensor_type.shape.dim]
    if any(d is not None and d < 0 for d in dims):
        raise InvalidModelError(
            f"graph value {value_info.name!r} declares shape {dims}; a dimension cannot be "
            "negative")
    return dims


def runtime_inputs(graph):
    """The graph inputs a caller feeds: those that are not also initializers.

    (An initializer listed among the inputs is a constant with a default that
    the backend lets a caller override; load and verify treat it as a constant.)
    """
    initializers = {tensor.name for tensor in graph.initializer}
    return [value_info for value_info in graph.input if value_info.name not in initializers]


def check_unique_names(graph):
    """Refuse a graph that lists an input, output or initializer name twice.

    Readers keep values in a dict by name, where a second entry would silently
    replace the first. (An initializer that is also a graph input is allowed:
    it is a default the caller may override.)
    """
    for what, names in (("input", [vi.name for vi in graph.input]),
                        ("output", [vi.name for vi in graph.output]),
                        ("initializer", [tensor.name for tensor in graph.initializer])):
        seen = set()
        for name in names:
            if name in seen:
                raise InvalidModelError(
                    f"the graph has two {what}s named {name!r}; names must be unique")
            seen.add(name)


def node_label(node, index):
    """How messages name a node: 'node 3 (RNN 'rnn_l0')', 'node 3 (RNN)' without a name."""
    return (f"node {index} ({node.op_type} {node.name!r})" if node.name
            else f"node {index} ({node.op_type})")


# ------------------------------------------------------------------ attributes
# The attribute kinds readers ask for, with the AttributeProto type each needs
# and how a message says it.
_ATTRIBUTE_KINDS = {
    "int": (AttributeProto.INT, "an integer"),
    "ints": (AttributeProto.INTS, "a list of integers"),
    "float": (AttributeProto.FLOAT, "a number"),
    "floats": (AttributeProto.FLOATS, "a list of floats"),
    "string": (AttributeProto.STRING, "a string"),
    "strings": (AttributeProto.STRINGS, "a list of strings"),
    "tensor": (AttributeProto.TENSOR, "a tensor"),
}


def _enum_name(enum, value):
    try:
        return enum.Name(value)
    except ValueError:
        return f"unknown ({value})"


class NodeReader:
    """One node's label and attributes, each read with the type its use expects."""

    def __init__(self, node, index):
        self.node = node
        self.label = node_label(node, index)
        self._attributes = {}
        for attribute in node.attribute:
            if attribute.ref_attr_name:
                raise self.error(f"attribute {attribute.name} refers to a function attribute "
                                 f"({attribute.ref_attr_name}); fastrnn does not run functions",
                                 UnsupportedModelError)
            self._attributes[attribute.name] = attribute

    def error(self, message, cls=InvalidModelError):
        """An exception of class `cls` whose message starts with the node's label."""
        return cls(f"{self.label}: {message}")

    def attribute_names(self):
        return sorted(self._attributes)

    def has(self, name):
        return name in self._attributes

    def allow_attributes(self, *names):
        """Refuse attributes the reader does not know (e.g. from another opset)."""
        unknown = sorted(set(self._attributes) - set(names))
        if unknown:
            raise self.error(
                f"attribute(s) {', '.join(unknown)} not supported "
                f"(this op understands: {', '.join(names) or 'none'})", UnsupportedModelError)

    def attribute(self, name, kind, default=None):
        """Attribute `name` as `kind` (int, ints, float, floats, string, strings, tensor),
        or `default` when the node does not have it.

        The AttributeProto's declared type must be `kind`: an attribute of
        another type, or text that is not UTF-8, is an InvalidModelError.
        ints and floats come back as lists, strings as str.
        """
        proto = self._attributes.get(name)
        if proto is None:
            return default
        proto_type, meaning = _ATTRIBUTE_KINDS[kind]
        if proto.type != proto_type:
            raise self.error(
                f"attribute {name} must be {meaning} ({kind}), got "
                f"{_enum_name(AttributeProto.AttributeType, proto.type)}")
        value = helper.get_attribute_value(proto)
        try:
            if kind == "string":
                return value.decode("utf-8")
            if kind == "strings":
                return [v.decode("utf-8") for v in value]
        except UnicodeDecodeError as exc:
            raise self.error(f"attribute {name} is not UTF-8 text") from exc
        return list(value) if kind in ("ints", "floats") else value
