"""The attributes of ONNX's recurrent operators (RNN, GRU, LSTM), read and checked in one place.

fastrnn.onnx.load and fastrnn.onnx.backend both read recurrent nodes through
parse_rnn_attributes, so a node means the same to both: the backend runs
everything the operators define, and load then refuses only what a
fastrnn.RNN, GRU or LSTM cannot hold (clipping, reverse-only layers,
activations torch's layers do not have, peepholes, ...).
"""
import dataclasses
import math

import numpy as np

from fastrnn.onnx import _names
from fastrnn.onnx._proto import UnsupportedModelError

__all__ = ["RNNAttributes", "parse_rnn_attributes", "rnn_attribute_names", "RECURRENT_OPS"]

# direction -> for each direction index, whether it runs backwards
DIRECTIONS = {"forward": (0,), "reverse": (1,), "bidirectional": (0, 1)}

# op -> the activations of one direction when the node names none, in the order
# the node lists them: RNN f; GRU f (gates z, r), g (candidate h); LSTM f (gates
# i, o, f), g (cell candidate c), h (of the cell, for the output).
DEFAULT_ACTIVATIONS = {"RNN": ("Tanh",), "GRU": ("Sigmoid", "Tanh"),
                       "LSTM": ("Sigmoid", "Tanh", "Tanh")}
RECURRENT_OPS = tuple(DEFAULT_ACTIVATIONS)


# Activations that read alpha / beta, with the defaults of the ONNX operators
# of the same name (None: that operator has no default, the value is required).
# Stored as float32 values, as an attribute would hold them, so that a default
# and the same number written in the model give identical results.
def _f32(value):
    return float(np.float32(value))


ALPHA_DEFAULTS = {"Affine": _f32(1.0), "LeakyRelu": _f32(0.01), "ThresholdedRelu": _f32(1.0),
                  "ScaledTanh": None, "HardSigmoid": _f32(0.2), "Elu": _f32(1.0)}
BETA_DEFAULTS = {"Affine": _f32(0.0), "ScaledTanh": None, "HardSigmoid": _f32(0.5)}


def rnn_attribute_names(opset, op="RNN"):
    """The attributes an op has at an opset: output_sequence until version 7 of each op,
    layout from 14, GRU's linear_before_reset from GRU-3, LSTM's input_forget always."""
    names = ["activation_alpha", "activation_beta", "activations", "clip", "direction",
             "hidden_size"]
    if opset < 7:
        names.append("output_sequence")
    if opset >= 14:
        names.append("layout")
    if op == "GRU" and opset >= 3:
        names.append("linear_before_reset")
    if op == "LSTM":
        names.append("input_forget")
    return names


@dataclasses.dataclass(frozen=True)
class RNNAttributes:
    """What a recurrent node's attributes say, with the operator's defaults filled in."""

    op: str  # RNN, GRU or LSTM
    direction: str  # forward, reverse or bidirectional
    hidden_size: object  # int, or None when the node leaves it to W's shape
    layout: int  # 0: X is [T, N, I]; 1: [N, T, I]
    clip: float  # bound of the pre-activations; inf: no clipping
    # ONNX's spelling, per direction the op's functions in the node's order, e.g.
    # ("Tanh", "Relu") for a bidirectional RNN, ("Sigmoid", "Tanh", "Tanh") for an LSTM
    activations: tuple
    alpha: tuple  # one float per activation, 0.0 where the activation takes none
    beta: tuple
    input_forget: int = 0  # LSTM: 1 couples the forget gate to the input gate (f = 1 - i)
    linear_before_reset: int = 0  # GRU: 1 applies R_h before the reset gate (torch's GRU)

    @property
    def num_directions(self):
        return len(DIRECTIONS[self.direction])

    @property
    def reverse(self):
        """Per direction index: 1 if it runs backwards."""
        return DIRECTIONS[self.direction]

    @property
    def functions_per_direction(self):
        """How many activations one direction has: RNN 1, GRU 2, LSTM 3."""
        return len(DEFAULT_ACTIVATIONS[self.op])

    def per_direction(self, values):
        """A flat per-activation tuple (activations, alpha, beta) as one tuple per direction."""
        k = self.functions_per_direction
        return tuple(tuple(values[d * k:(d + 1) * k]) for d in range(self.num_directions))


def _consume(reader, what, values, activations, defaults):
    """Per-activation parameters: `values` are taken in order by the activations that use
    them (as onnxruntime does); the others get 0.0, and missing ones the operator's default."""
    users = [name for name in activations if name in defaults]
    if len(values) > len(users):
        raise reader.error(
            f"{what} has {len(values)} value(s) but the activations {list(activations)} take "
            f"{len(users)}: values are consumed in order by {', '.join(defaults)} only")
    result, position = [], 0
    for name in activations:
        if name not in defaults:
            result.append(0.0)
        elif position < len(values):
            result.append(float(values[position]))
            position += 1
        elif defaults[name] is None:
            raise reader.error(f"{name} needs a value in {what}: ONNX defines no default for it")
        else:
            result.append(defaults[name])
    return tuple(result)


def _flag(reader, name):
    value = reader.attribute(name, "int", 0)
    if value not in (0, 1):
        raise reader.error(f"{name} must be 0 or 1, got {value}")
    return value


def parse_rnn_attributes(reader, opset):
    """RNNAttributes of an RNN, GRU or LSTM node, or a clear error naming the node and
    attribute.

    reader: a fastrnn.onnx._proto.NodeReader of the node (its op_type picks the
    operator); opset: the model's default-domain opset, which decides the
    attributes the operator has.

    Raises UnsupportedModelError for an attribute the operator does not have at
    that opset or an activation ONNX does not define, InvalidModelError (a
    subclass) for values the operator forbids or attributes that contradict
    each other.
    """
    op = reader.node.op_type
    if op not in DEFAULT_ACTIVATIONS:
        raise reader.error(f"{op} is not a recurrent operator ({', '.join(RECURRENT_OPS)})",
                           UnsupportedModelError)
    reader.allow_attributes(*rnn_attribute_names(opset, op))

    direction = reader.attribute("direction", "string", "forward")
    if direction not in DIRECTIONS:
        raise reader.error(f"direction must be forward, reverse or bidirectional, got "
                           f"{direction!r}")
    D = len(DIRECTIONS[direction])

    hidden_size = reader.attribute("hidden_size", "int")
    if hidden_size is not None and hidden_size < 1:
        raise reader.error(f"hidden_size must be positive, got {hidden_size}")

    layout = reader.attribute("layout", "int", 0)
    if layout not in (0, 1):
        raise reader.error(f"layout must be 0 or 1, got {layout}")

    # Version 1's output_sequence only says whether Y may be left out; a node
    # names the outputs it wants either way.
    reader.attribute("output_sequence", "int")

    clip = reader.attribute("clip", "float", math.inf)
    if not clip >= 0:  # refuses NaN too
        raise reader.error(f"clip must be a number >= 0, got {clip!r}")

    defaults = DEFAULT_ACTIVATIONS[op]
    k = len(defaults)
    names = reader.attribute("activations", "strings", list(defaults) * D)
    activations = []
    for given in names:
        name = _names.onnx_activation(given)
        if name is None:
            raise reader.error(f"unknown activation {given!r}; {op} takes "
                               f"{', '.join(_names.ACTIVATIONS.values())}", UnsupportedModelError)
        activations.append(name)
    if op == "RNN" and D == 1 and len(activations) == 2 and activations[0] == activations[1]:
        # RNN's schema default is ["Tanh", "Tanh"] whatever the direction; tools that
        # write defaults out give two equal names to a one-direction node.
        activations = activations[:1]
    if len(activations) != k * D:
        what = ("one function per direction" if k == 1 else
                f"{k} functions ({', '.join('fgh'[:k])}) per direction")
        raise reader.error(f"activations must name {what} ({k * D} for direction "
                           f"{direction!r}), got {list(names)}")
    activations = tuple(activations)

    alpha = _consume(reader, "activation_alpha", reader.attribute("activation_alpha", "floats", []),
                     activations, ALPHA_DEFAULTS)
    beta = _consume(reader, "activation_beta", reader.attribute("activation_beta", "floats", []),
                    activations, BETA_DEFAULTS)
    return RNNAttributes(
        op=op, direction=direction, hidden_size=hidden_size, layout=layout, clip=float(clip),
        activations=activations, alpha=alpha, beta=beta,
        input_forget=_flag(reader, "input_forget") if op == "LSTM" else 0,
        linear_before_reset=_flag(reader, "linear_before_reset") if op == "GRU" else 0)
