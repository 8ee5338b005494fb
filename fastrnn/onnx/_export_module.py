"""Export and verification of whole torch modules: the layers around the recurrent ones.

fastrnn.onnx.export(module, f, args=...) of a torch nn.Module (not a bare nn.RNN,
LSTM or GRU, which fastrnn writes itself) runs torch's TorchScript exporter
(torch.onnx.export with dynamo=False): it writes nn.RNN, LSTM and GRU as ONNX RNN,
LSTM and GRU nodes, never unrolled, and the rest of the module as torch exports
it; every batch and sequence axis of the inputs is dynamic, so one file serves
every batch size and length. torch's default (dynamo) exporter unrolls recurrent
modules over the traced length instead. The file passes onnx.checker's full check.
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
    for sub in module.modules():
        if isinstance(sub, torch.nn.LSTM) and sub.proj_size:
            raise UnsupportedModelError(
                f"{type(module).__name__} holds an nn.LSTM with proj_size={sub.proj_size}, "
                "which torch's TorchScript exporter refuses; export that LSTM alone with "
                "fastrnn.onnx.export(fastrnn.LSTM.from_torch(lstm), f)")
    names = list(input_names or [f"input_{k}" if len(args) > 1 else "input"
                                 for k in range(len(args))])
    buffer = io.BytesIO()
    was_training = module.training
    module.eval()
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
    proto = onnx.load_from_string(buffer.getvalue())
    onnx.checker.check_model(proto, full_check=True)
    if f is not None:
        data = proto.SerializeToString()
        if isinstance(f, (str, os.PathLike)):
            with open(f, "wb") as out:
                out.write(data)
        else:
            f.write(data)
    return proto


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
