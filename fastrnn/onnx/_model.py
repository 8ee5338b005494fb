"""A whole ONNX graph as a callable model (what fastrnn.onnx.load gives for a graph
with layers around its recurrent nodes): recurrent nodes on fastrnn's kernels, the
rest on numpy, through the backend's Graph (_graph.py, _ops.py, backend.py)."""
from __future__ import annotations

from typing import Any, Union

from fastrnn._types import Array


class GraphModel:
    """A loaded ONNX graph: call it with its inputs, positionally in the graph's order or
    by name as keywords; it returns one array for a one-output graph and a tuple
    otherwise, as the torch module did. An input of the wrong shape or dtype raises
    ValueError / TypeError naming the input, before anything runs."""

    def __init__(self, graph: Any, name: str = "") -> None:
        self._graph = graph
        self.name = name
        self.input_names = [spec.name for spec in graph.inputs]
        self.output_names = [spec.name for spec in graph.outputs]

    def __call__(self, *args: Any, **kwargs: Any) -> Union[Array, tuple[Array, ...]]:
        if len(args) > len(self.input_names):
            raise TypeError(f"the model takes {len(self.input_names)} input(s) "
                            f"{self.input_names}, got {len(args)} positional")
        feeds = dict(zip(self.input_names, args))
        for name, value in kwargs.items():
            if name in feeds:
                raise TypeError(f"input {name!r} given twice")
            feeds[name] = value
        missing = [name for name in self.input_names if name not in feeds]
        if missing:
            raise TypeError(f"the model takes {len(self.input_names)} input(s) "
                            f"{self.input_names}; missing {missing}")
        outputs = self._graph.run(self._graph.feeds(feeds))
        return outputs[0] if len(outputs) == 1 else tuple(outputs)

    def __repr__(self) -> str:
        ops: dict[str, int] = {}
        for _, _, label, _ in self._graph.steps:
            op = self._graph.op_types[label]
            ops[op] = ops.get(op, 0) + 1
        inner = ", ".join(f"{op}" + (f" x{n}" if n > 1 else "") for op, n in ops.items())
        return (f"GraphModel(inputs={self.input_names}, outputs={self.output_names}, "
                f"nodes: {inner})")


def graph_model(proto: Any) -> GraphModel:
    from fastrnn.onnx.backend import OPS
    from fastrnn.onnx._graph import Graph

    return GraphModel(Graph(proto, OPS), proto.graph.name)


def is_whole_model(proto: Any) -> bool:
    """Whether the graph has ops around its recurrent nodes beyond the plumbing that
    load turns into a fastrnn.RNN, LSTM or GRU (then load returns a GraphModel)."""
    from fastrnn.onnx._walk import _SUPPORTED_OPS
    from fastrnn.onnx._proto import DEFAULT_DOMAINS
    from fastrnn.onnx.backend import OPS

    return any(node.domain in DEFAULT_DOMAINS and node.op_type in OPS
               and node.op_type not in _SUPPORTED_OPS for node in proto.graph.node)


__all__ = ["GraphModel", "graph_model", "is_whole_model"]
