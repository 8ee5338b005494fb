"""What reading and running an ONNX file may cost, whatever the file claims.

A file costs what its bytes hold. Two limits, settable with
fastrnn.onnx.set_limits:

- folded_elements: what `load` and the backend's `prepare` compute from the
  file's stored values alone (a MatMul of two initializers, Gather, Concat,
  ConstantOfShape, Expand to a stored shape, a recurrent node whose inputs are
  all stored), summed over the whole file, not per node. Each value counts the
  larger of its elements and the loops making it takes (a dimension of 0 still
  loops over the others: numpy's MatMul of [2**40, 0, 1] by [1, 1] writes
  nothing and takes 2**40 steps). Default 2**27 (512 MB of float32): a
  bidirectional projected LSTM's R with hidden_size 4096.
- run_elements: the most elements (or loops) of any one tensor a run makes
  (an op's result, a recurrent node's Y and its kernel scratch), checked
  before it is made. Default 2**28 (1 GB of float32).

Going past one raises InvalidModelError at load/prepare (the file asks for more
than a file may) and LimitError (a ValueError) at run time, naming the node,
the op and the sizes. Shapes in messages are abbreviated.
"""
from __future__ import annotations

from typing import Iterable, Optional

from fastrnn.onnx._proto import InvalidModelError

_LIMITS = {"folded_elements": 2**27, "run_elements": 2**28}


class LimitError(ValueError):
    """A run would make a tensor beyond fastrnn.onnx's run_elements limit."""


def set_limits(*, folded_elements: Optional[int] = None,
               run_elements: Optional[int] = None) -> dict[str, int]:
    """Set the limits (see the module docstring); returns the previous ones."""
    previous = dict(_LIMITS)
    for name, value in (("folded_elements", folded_elements), ("run_elements", run_elements)):
        if value is None:
            continue
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ValueError(f"{name} must be a positive integer, got {value!r}")
        _LIMITS[name] = value
    return previous


def get_limits() -> dict[str, int]:
    return dict(_LIMITS)


def limit(name: str) -> int:
    return _LIMITS[name]


def cost(shape: Iterable[int]) -> tuple[int, int]:
    """(elements, loops) of a tensor of `shape`: loops counts a 0 dimension as 1."""
    elements = loops = 1
    for d in shape:
        d = int(d)
        elements *= d
        loops *= max(d, 1)
    return elements, loops


def shape_text(shape: Iterable[int], most: int = 8) -> str:
    """[a, b, c], or its first and last dimensions and its rank when long."""
    dims = [int(d) for d in shape]
    if len(dims) <= most:
        return str(dims)
    return (f"[{', '.join(map(str, dims[:3]))}, ..., {', '.join(map(str, dims[-2:]))}] "
            f"({len(dims)} dimensions)")


def describe(shape: Iterable[int], itemsize: int) -> str:
    dims = list(shape)
    elements, loops = cost(dims)
    text = f"shape {shape_text(dims)}: {elements} elements ({elements * itemsize} bytes)"
    if loops > elements:
        text += f", {loops} loops to make"
    return text


class Budget:
    """What the values computed from one file's stored values may add up to."""

    def __init__(self) -> None:
        self.limit = limit("folded_elements")
        self.spent = 0

    def charge(self, label: str, shape: Iterable[int], itemsize: int,
               what: str = "the result") -> None:
        dims = list(shape)
        elements, loops = cost(dims)
        self.spent += max(elements, loops)
        if self.spent > self.limit:
            raise InvalidModelError(
                f"{label}: {what} would have {describe(dims, itemsize)} from stored values; "
                f"with the values folded before it that is {self.spent} elements, more than "
                f"the {self.limit} this reader creates from a file's stored values "
                "(fastrnn.onnx.set_limits(folded_elements=...))")


def check_run(label: str, shape: Iterable[int], itemsize: int, what: str = "the result") -> None:
    """Refuse a tensor a run would make beyond run_elements, before making it."""
    dims = tuple(shape)
    most = _LIMITS["run_elements"]
    loops = 1  # (>= the elements: a 0 dimension counts as 1)
    for d in dims:
        if d > 1:
            loops *= d
    if loops > most:
        raise LimitError(f"{label}: {what} would have {describe(dims, itemsize)}, more than "
                         f"the {most} a run makes (fastrnn.onnx.set_limits(run_elements=...))")
