"""Export and verification of whole torch modules: the layers around the recurrent ones.

fastrnn.onnx.export(module, f, args=...) of a torch nn.Module (not a bare nn.RNN,
LSTM or GRU, which fastrnn writes itself) runs torch's TorchScript exporter
(torch.onnx.export with dynamo=False): it writes nn.RNN, LSTM and GRU as ONNX RNN,
LSTM and GRU nodes, never unrolled, and the rest of the module as torch exports
it; every batch and sequence axis of the inputs is dynamic, so one file serves
every batch size and length. torch's default (dynamo) exporter unrolls recurrent
modules over the traced length instead. An nn.LSTM with proj_size, which the
TorchScript exporter refuses, is traced as a placeholder node and replaced in the
file by the nodes fastrnn.onnx.export writes for it (splice_recurrent). The file
passes onnx.checker's full check.
verify(module, f) runs it in onnxruntime against the module in torch on random
inputs at several batch sizes and lengths. torch is needed here only.
"""
from __future__ import annotations

import io
import os
import warnings
from typing import Any, Optional, Sequence

import numpy as np
import onnx

from fastrnn.onnx._proto import UnsupportedModelError, read_model, runtime_inputs


def is_torch_module(model: Any) -> bool:
    """A torch.nn.Module, without importing torch."""
    return any(c.__module__.startswith("torch") and c.__name__ == "Module"
               for c in type(model).__mro__)


def _torch():
    try:
        import torch
    except ImportError as exc:
        raise ImportError("exporting or verifying a torch module needs torch (only at export "
                          "time): pip install torch") from exc
    return torch


def _dynamic_axes(torch, module, args, names):
    """The axes that may change size: every axis of an integer input (token ids) and every
    axis but the last of a floating one is a candidate; the candidates of one size form a
    group (the batch axes of x, h0 and c0 share the batch size), and a group is dynamic
    when the module still runs with all of its axes one longer. So the example inputs
    should give the batch and the sequence sizes no other dimension has (B=3, L=5 for an
    LSTM of 2 layers, not B=2)."""
    groups = {}
    for i, arg in enumerate(args):
        for axis in range(arg.dim() - (1 if arg.is_floating_point() else 0)):
            groups.setdefault(int(arg.shape[axis]), []).append((i, axis))
    axes = {name: {} for name in names}
    for size, members in sorted(groups.items()):
        grown = list(args)
        for i, axis in members:
            grown[i] = torch.cat([grown[i], grown[i].narrow(axis, 0, 1)], dim=axis)
        try:
            with torch.no_grad():
                module(*grown)
        except Exception:  # noqa: BLE001 - the module refuses that size: the axes are fixed
            continue
        for i, axis in members:
            axes[names[i]][axis] = f"dim{size}"
    return axes


def export_module(module: Any, f: Any, args: Sequence[Any], *, opset: Optional[int] = None,
                  input_names: Optional[Sequence[str]] = None,
                  output_names: Optional[Sequence[str]] = None,
                  dynamic_axes: Optional[dict[str, Any]] = None) -> onnx.ModelProto:
    torch = _torch()
    if args is None:
        raise TypeError("exporting a torch module needs example inputs: args=(x, ...)")
    args = tuple(args) if isinstance(args, (tuple, list)) else (args,)
    names = list(input_names or [f"input_{k}" if len(args) > 1 else "input"
                                 for k in range(len(args))])
    buffer = io.BytesIO()
    was_training = module.training
    module.eval()
    spliced = [sub for sub in module.modules()
               if isinstance(sub, torch.nn.LSTM) and sub.proj_size]
    for k, sub in enumerate(spliced):
        sub.forward = _placeholder_forward(torch, sub, k)
    try:
        axes = (_dynamic_axes(torch, module, args, names) if dynamic_axes is None
                else dict(dynamic_axes))
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            torch.onnx.export(module, args, buffer, dynamo=False, input_names=names,
                              output_names=list(output_names) if output_names else None,
                              dynamic_axes=axes, opset_version=opset or 17)
    finally:
        module.train(was_training)
        for sub in spliced:
            del sub.forward   # the instance attribute: the class's forward again
    proto = onnx.load_from_string(buffer.getvalue())
    if spliced:
        splice_recurrent(proto, spliced)
    onnx.checker.check_model(proto, full_check=True)
    if f is not None:
        data = proto.SerializeToString()
        if isinstance(f, (str, os.PathLike)):
            with open(f, "wb") as out:
                out.write(data)
        else:
            f.write(data)
    return proto


SPLICE_DOMAIN = "fastrnn.splice"


def _placeholder_forward(torch, lstm, k):
    """A forward for the k-th spliced nn.LSTM: the LSTM's own results, traced by the
    TorchScript exporter as one node SPLICE_DOMAIN::Recurrent (index k; inputs x and
    the given (h0, c0), outputs output, h_n, c_n) that splice_recurrent replaces."""
    cls = type(lstm)

    # The LSTM's parameters are inputs of the traced op too (the tracer must see every
    # tensor the op reads); the placeholder node takes x and the state only.
    params = tuple(lstm.parameters())

    class Placeholder(torch.autograd.Function):
        @staticmethod
        def forward(ctx, n_state, x, *rest):
            state = rest[:n_state]
            out, (h, c) = cls.forward(lstm, x, tuple(state) if state else None)
            return out, h, c

        @staticmethod
        def symbolic(g, n_state, x, *rest):
            state = rest[:n_state]
            outs = g.op(f"{SPLICE_DOMAIN}::Recurrent", x, *state, index_i=k, outputs=3)
            sizes = x.type().varyingSizes()   # None where an axis is dynamic
            if sizes is not None and len(sizes) == 3:
                D, P, H = 2 if lstm.bidirectional else 1, lstm.proj_size, lstm.hidden_size
                N, L = (sizes[0], sizes[1]) if lstm.batch_first else (sizes[1], sizes[0])
                shapes = ([N, L, D * P] if lstm.batch_first else [L, N, D * P],
                          [D * lstm.num_layers, N, P], [D * lstm.num_layers, N, H])
                for out, shape in zip(outs, shapes):
                    out.setType(x.type().with_sizes(shape))
            return outs

    def forward(input, hx=None):
        if not isinstance(input, torch.Tensor) or input.dim() != 3:
            raise UnsupportedModelError(
                f"an nn.LSTM with proj_size inside a module is exported for batched tensor "
                f"input (3-D), got {type(input).__name__}"
                f"{' of ' + str(input.dim()) + ' dimensions' if isinstance(input, torch.Tensor) else ''}")
        state = () if hx is None else tuple(hx)
        out, h, c = Placeholder.apply(len(state), input, *state, *params)
        return out, (h, c)
    return forward


def splice_recurrent(proto: onnx.ModelProto, modules: Sequence[Any]) -> None:
    """Replace each SPLICE_DOMAIN::Recurrent node of `proto` (in place) by the nodes and
    initializers fastrnn.onnx.export writes for modules[index], at the graph's opset: its
    inputs and outputs take the placeholder's names, every other name a prefix."""
    from fastrnn import LSTM
    from fastrnn.onnx._export import export

    graph = proto.graph
    opset = next(o.version for o in proto.opset_import if o.domain in ("", "ai.onnx"))
    nodes = []
    for node in graph.node:
        if node.domain != SPLICE_DOMAIN:
            nodes.append(node)
            continue
        k = next(a.i for a in node.attribute if a.name == "index")
        with_state = len(node.input) > 1
        part = export(LSTM.from_torch(modules[k]), None, opset=opset,
                      initial_state=with_state).graph
        rename = dict(zip([i.name for i in part.input], node.input))
        rename.update(zip([o.name for o in part.output], node.output))
        prefix = f"spliced{k}_"

        def name(value):
            return value if not value else rename.get(value, prefix + value)
        for inner in part.node:
            copy = onnx.NodeProto()
            copy.CopyFrom(inner)
            copy.name = prefix + inner.name
            copy.input[:] = [name(v) for v in inner.input]
            copy.output[:] = [name(v) for v in inner.output]
            nodes.append(copy)
        for tensor in part.initializer:
            copy = onnx.TensorProto()
            copy.CopyFrom(tensor)
            copy.name = prefix + tensor.name
            graph.initializer.append(copy)
    del graph.node[:]
    graph.node.extend(nodes)
    kept = [o for o in proto.opset_import if o.domain != SPLICE_DOMAIN]
    del proto.opset_import[:]
    proto.opset_import.extend(kept)


def _random_inputs(proto, shapes, rng):
    """One array per graph input: its symbolic dimensions take the sizes of `shapes` in
    the order the names first appear (one size per name, across inputs), integer inputs
    in 0..1 (valid token ids)."""
    arrays, sizes = [], {}
    for value in runtime_inputs(proto.graph):
        tensor_type = value.type.tensor_type
        dims = []
        for dim in tensor_type.shape.dim:
            if dim.HasField("dim_value"):
                dims.append(dim.dim_value)
            else:
                if dim.dim_param not in sizes:
                    sizes[dim.dim_param] = shapes[min(len(sizes), len(shapes) - 1)]
                dims.append(sizes[dim.dim_param])
        dtype = onnx.helper.tensor_dtype_to_np_dtype(tensor_type.elem_type)
        if np.dtype(dtype).kind in "iu":
            arrays.append(rng.integers(0, 2, dims).astype(dtype))
        else:
            arrays.append(rng.standard_normal(dims).astype(dtype))
    return arrays


def verify_module(module: Any, f: Any, inputs: Optional[Sequence[Sequence[Any]]] = None, *,
                  tolerance: float) -> float:
    """Run the file in onnxruntime and the module in torch on the same inputs; the largest
    difference scaled by max(1, max|torch|), or VerificationError past `tolerance`."""
    torch = _torch()
    module.eval()

    def run(arrays):
        with torch.no_grad():
            out = module(*(torch.from_numpy(a) for a in arrays))
        return [o.numpy() for o in (out if isinstance(out, (tuple, list)) else (out,))]
    return compare_with_onnxruntime(run, "torch", f, inputs, tolerance)


def compare_with_onnxruntime(run: Any, who: str, f: Any,
                             inputs: Optional[Sequence[Sequence[Any]]], tolerance: float) -> float:
    """The file in onnxruntime against run(arrays) -> outputs (torch's module, or a
    GraphModel) on `inputs` (cases of one array per graph input), or on random inputs at
    batch and length 1 x 1, 1 x 7, 3 x 5 and 4 x 13; the largest difference scaled by
    max(1, max|reference|), or VerificationError past `tolerance`."""
    from fastrnn._optional import require
    from fastrnn.onnx._export import VerificationError

    ort = require("onnxruntime", "fastrnn.onnx.verify")
    proto = read_model(f)
    session = ort.InferenceSession(proto.SerializeToString(),
                                   providers=["CPUExecutionProvider"])
    names = [i.name for i in session.get_inputs()]
    rng = np.random.default_rng(0)
    cases = inputs if inputs is not None else [
        _random_inputs(proto, shape, rng) for shape in ((1, 1), (1, 7), (3, 5), (4, 13))]
    worst = 0.0
    for k, case in enumerate(cases):
        arrays = [np.asarray(a) for a in case]
        want = run(arrays)
        got = session.run(None, dict(zip(names, arrays)))
        for j, (g, w) in enumerate(zip(got, want)):
            if g.shape != w.shape:
                raise VerificationError(f"case {k}, output {j}: onnxruntime gives shape "
                                        f"{list(g.shape)}, {who} {list(w.shape)}")
            scale = max(1.0, float(np.max(np.abs(w), initial=0)))
            diff = float(np.max(np.abs(g - w), initial=0)) / scale
            if not diff <= tolerance:
                raise VerificationError(f"case {k}, output {j}: onnxruntime and {who} differ "
                                        f"by {diff:.3e} (tolerance {tolerance:.0e})")
            worst = max(worst, diff)
    return worst
