"""The ONNX RNN operator's attributes, read and checked in one place.

fastrnn.onnx.load and fastrnn.onnx.backend both read RNN nodes through
parse_rnn_attributes, so a node means the same to both: the backend runs
everything the operator defines, and load then refuses only what a
fastrnn.RNN cannot hold (clipping, reverse-only layers, activations other
than one Tanh or Relu for every direction, ...).
"""
import dataclasses
import math

import numpy as np

from fastrnn.onnx import _names
from fastrnn.onnx._proto import UnsupportedModelError

__all__ = ["RNNAttributes", "parse_rnn_attributes", "rnn_attribute_names"]

# direction -> for each direction index, whether it runs backwards
DIRECTIONS = {"forward": (0,), "reverse": (1,), "bidirectional": (0, 1)}


# Activations that read alpha / beta, with the defaults of the ONNX operators
# of the same name (None: that operator has no default, the value is required).
# Stored as float32 values, as an attribute would hold them, so that a default
# and the same number written in the model give identical results.
def _f32(value):
    return float(np.float32(value))


ALPHA_DEFAULTS = {"Affine": _f32(1.0), "LeakyRelu": _f32(0.01), "ThresholdedRelu": _f32(1.0),
                  "ScaledTanh": None, "HardSigmoid": _f32(0.2), "Elu": _f32(1.0)}
BETA_DEFAULTS = {"Affine": _f32(0.0), "ScaledTanh": None, "HardSigmoid": _f32(0.5)}


def rnn_attribute_names(opset):
    """The attributes RNN has at an opset: output_sequence until RNN-7, layout from RNN-14."""
    names = ["activation_alpha", "activation_beta", "activations", "clip", "direction",
             "hidden_size"]
    if opset < 7:
        names.append("output_sequence")
    if opset >= 14:
        names.append("layout")
    return names


@dataclasses.dataclass(frozen=True)
class RNNAttributes:
    """What an RNN node's attributes say, with the operator's defaults filled in."""

    direction: str  # forward, reverse or bidirectional
    hidden_size: object  # int, or None when the node leaves it to W's shape
    layout: int  # 0: X is [T, N, I]; 1: [N, T, I]
    clip: float  # bound of the pre-activation; inf: no clipping
    activations: tuple  # ONNX's spelling, one per direction, e.g. ("Tanh", "Relu")
    alpha: tuple  # one float per direction, 0.0 where the activation takes none
    beta: tuple

    @property
    def num_directions(self):
        return len(DIRECTIONS[self.direction])

    @property
    def reverse(self):
        """Per direction index: 1 if it runs backwards."""
        return DIRECTIONS[self.direction]


def _consume(reader, what, values, activations, defaults):
    """Per-direction parameters: `values` are taken in order by the activations that use them
    (as onnxruntime does); the others get 0.0, and missing ones the operator's default."""
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


def parse_rnn_attributes(reader, opset):
    """RNNAttributes of an RNN node, or a clear error naming the node and attribute.

    reader: a fastrnn.onnx._proto.NodeReader of the node; opset: the model's
    default-domain opset, which decides the attributes RNN has.

    Raises UnsupportedModelError for an attribute RNN does not have at that
    opset or an activation ONNX does not define, InvalidModelError (a
    subclass) for values the operator forbids or attributes that contradict
    each other.
    """
    reader.allow_attributes(*rnn_attribute_names(opset))

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

    # RNN-1's output_sequence only says whether Y may be left out; a node
    # names the outputs it wants either way.
    reader.attribute("output_sequence", "int")

    clip = reader.attribute("clip", "float", math.inf)
    if not clip >= 0:  # refuses NaN too
        raise reader.error(f"clip must be a number >= 0, got {clip!r}")

    names = reader.attribute("activations", "strings", ["Tanh"] * D)
    activations = []
    for given in names:
        name = _names.onnx_activation(given)
        if name is None:
            raise reader.error(f"unknown activation {given!r}; RNN takes "
                               f"{', '.join(_names.ACTIVATIONS.values())}", UnsupportedModelError)
        activations.append(name)
    if D == 1 and len(activations) == 2 and activations[0] == activations[1]:
        # The schema's default is ["Tanh", "Tanh"] whatever the direction; tools that
        # write defaults out give two equal names to a one-direction node.
        activations = activations[:1]
    if len(activations) != D:
        raise reader.error(f"activations must name one function per direction ({D} for "
                           f"direction {direction!r}), got {list(names)}")
    activations = tuple(activations)

    alpha = _consume(reader, "activation_alpha", reader.attribute("activation_alpha", "floats", []),
                     activations, ALPHA_DEFAULTS)
    beta = _consume(reader, "activation_beta", reader.attribute("activation_beta", "floats", []),
                    activations, BETA_DEFAULTS)
    return RNNAttributes(direction=direction, hidden_size=hidden_size, layout=layout,
                         clip=float(clip), activations=activations, alpha=alpha, beta=beta)
