"""fastrnn.RNN, LSTM and GRU -> ONNX file, and a check of that file in onnxruntime."""
from __future__ import annotations

import functools
import io
import numbers
import os
from typing import Any, Optional, Sequence

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

from fastrnn._arrays import real_array
from fastrnn._version import __version__
from fastrnn.onnx import _names
from fastrnn.onnx._proto import (
    UnsupportedModelError, declared_dims, read_model, runtime_inputs)
from fastrnn._base import RNNBase
from fastrnn._kinds import CLASSES
from fastrnn.rnn import RNN

__all__ = ["export", "verify", "default_opset", "VerificationError", "TOLERANCE"]

# The exported graph uses RNN, GRU or LSTM, Transpose, Reshape, Concat and
# Slice (and for LSTM projections MatMul, Shape and ConstantOfShape); Slice
# takes its bounds as inputs (as written here) since opset 10.
MIN_OPSET = 10
# Used when onnxruntime cannot be imported: the opset onnxruntime 1.17, the
# oldest fastrnn declares, loads.
FALLBACK_OPSET = 20

# verify(): largest accepted scaled difference for float32 (the project's bar).
TOLERANCE = 1e-5

_ELEM_TYPES = {np.dtype(np.float32): TensorProto.FLOAT, np.dtype(np.float64): TensorProto.DOUBLE}

# Symbolic axis names of the exported graph.
BATCH_AXIS = "batch"
SEQUENCE_AXIS = "sequence"
# The graph input of export(..., lengths=True): int32 [batch], every layer's sequence_lens.
LENGTHS_INPUT = "sequence_lens"


class VerificationError(ValueError, AssertionError):
    """onnxruntime's results for an ONNX file differ from the fastrnn model's.

    A ValueError, and an AssertionError so test code that checks numerics
    with assert-style helpers catches it too.
    """


# torch's module class name -> the fastrnn class that holds it.
_CLASSES = {cls.__name__: cls for cls in CLASSES.values()}  # by op name


def _as_fastrnn(model, what="model"):
    if isinstance(model, RNNBase):
        return model
    name = type(model).__name__
    if type(model).__module__.startswith("torch") and name in _CLASSES:
        return _CLASSES[name].from_torch(model)
    raise TypeError(f"{what} must be a fastrnn.RNN, LSTM or GRU (or a torch.nn.RNN, LSTM or "
                    f"GRU), got {name}")


# The names of a model's states in the graph: inputs (initial_state=True) and
# outputs, in the order torch returns them.
def _state_names(op):
    return ("h", "c") if op == "LSTM" else ("h",)


def _min_ir_version(opset):
    return helper.find_min_ir_version_for([helper.make_opsetid("", opset)])


@functools.lru_cache(maxsize=None)
def default_opset() -> tuple[int, int]:
    """(opset, ir_version) that export uses when no opset is given.

    The highest opset, up to the newest the installed onnx knows, at which the
    installed onnxruntime loads a graph of the shape export writes (both
    directions, two layers, h0 input, batch_first), with the lowest IR version
    that opset needs. onnxruntime refuses opsets newer than its release
    supports and IR versions above its maximum, so this is found by asking it
    (a few milliseconds, once per process). Without onnxruntime:
    min(FALLBACK_OPSET, newest onnx opset).
    """
    newest = onnx.defs.onnx_opset_version()
    try:
        import onnxruntime
    except ImportError:  # onnx without onnxruntime
        opset = min(FALLBACK_OPSET, newest)
        return opset, _min_ir_version(opset)
    probe_model = RNN(2, 3, num_layers=2, bidirectional=True, batch_first=True, seed=0)
    options = onnxruntime.SessionOptions()
    options.log_severity_level = 4  # the refusals below are expected, keep them quiet
    for opset in range(newest, MIN_OPSET - 1, -1):
        proto = _build(probe_model, opset, _min_ir_version(opset), initial_state=True,
                       lengths=True)
        try:
            onnxruntime.InferenceSession(proto.SerializeToString(), options,
                                         providers=["CPUExecutionProvider"])
        except Exception:  # onnxruntime raises its own Fail/InvalidGraph types
            continue
        return opset, _min_ir_version(opset)
    opset = min(FALLBACK_OPSET, newest)  # pragma: no cover - no loadable opset at all
    return opset, _min_ir_version(opset)


def _int64s(name, values):
    return numpy_helper.from_array(np.asarray(values, np.int64), name)


def _build(model, opset, ir_version, initial_state, lengths=False):
    """The ModelProto of `model` (a fastrnn.RNN, LSTM or GRU); see export for its layout."""
    op = _names.onnx_op(model.mode)
    D, H, L = model.num_directions, model.hidden_size, model.num_layers
    projected = bool(model.proj_size)
    P = model.proj_size or H  # features of h per direction (the output's, h0's, h_n's)
    dtype = np.dtype(model.dtype)
    elem = _ELEM_TYPES[dtype]
    direction = "bidirectional" if D == 2 else "forward"
    parameters = dict(model.named_parameters())
    states = _state_names(op)
    sizes = {"h": P, "c": H}
    # torch's LSTM and GRU compute the ONNX ops' default activations; GRU needs
    # linear_before_reset=1 (r multiplies R_h h + Rb_h), and RNN names its nonlinearity.
    attributes = dict(hidden_size=H, direction=direction)
    if op == "RNN":
        attributes["activations"] = [_names.ACTIVATIONS[model.nonlinearity]] * D
    elif op == "GRU":
        attributes["linear_before_reset"] = 1

    if model.batch_first:
        input_shape = [BATCH_AXIS, SEQUENCE_AXIS, model.input_size]
        output_shape = [BATCH_AXIS, SEQUENCE_AXIS, D * P]
    else:
        input_shape = [SEQUENCE_AXIS, BATCH_AXIS, model.input_size]
        output_shape = [SEQUENCE_AXIS, BATCH_AXIS, D * P]
    inputs = [helper.make_tensor_value_info("input", elem, input_shape)]
    if initial_state:
        inputs += [helper.make_tensor_value_info(f"{s}0", elem, [D * L, BATCH_AXIS, sizes[s]])
                   for s in states]
    if lengths:
        inputs.append(helper.make_tensor_value_info(LENGTHS_INPUT, TensorProto.INT32,
                                                    [BATCH_AXIS]))
    outputs = [helper.make_tensor_value_info("output", elem, output_shape)]
    outputs += [helper.make_tensor_value_info(f"{s}_n", elem, [D * L, BATCH_AXIS, sizes[s]])
                for s in states]

    # [T, N, D, P] -> [T, N, D*P]: 0 copies a dimension, so T and N stay symbolic.
    # D*P is written out rather than -1: with T or N = 0 the tensor is empty and
    # Reshape cannot infer a -1 from 0 elements.
    initializers = [_int64s("merge_directions_shape", [0, 0, D * P])]
    nodes = []
    if model.batch_first:  # onnxruntime refuses layout=1: make the input time-major
        nodes.append(helper.make_node("Transpose", ["input"], ["input_time_major"],
                                      name="to_time_major", perm=[1, 0, 2]))
        layer_input = "input_time_major"
    else:
        layer_input = "input"
    if initial_state and (L > 1 or (projected and D > 1)):
        initializers.append(_int64s("state_axes", [0]))
    if projected and initial_state:
        # Zeros [T-1, N, P]: the steps after a direction's first get no h0 features
        # (see fastrnn.onnx._names, Projections).
        initializers += [_int64s("time_batch_start", [0]), _int64s("time_batch_end", [2]),
                         _int64s("projection_size", [P]), _int64s("after_first_step", [1]),
                         _int64s("to_the_end", [np.iinfo(np.int64).max])]
        for d in range(D if D > 1 else 0):  # rows of h0 by direction
            initializers += [_int64s(f"direction_{d}_start", [d]),
                             _int64s(f"direction_{d}_end", [d + 1])]
        if lengths and D > 1:  # ReverseSequence takes int64 lengths
            nodes.append(helper.make_node("Cast", [LENGTHS_INPUT], ["sequence_lens_int64"],
                                          name="sequence_lens_int64", to=TensorProto.INT64))
        nodes += [
            helper.make_node("Shape", [layer_input], ["input_shape"], name="input_shape"),
            helper.make_node("Slice", ["input_shape", "time_batch_start", "time_batch_end"],
                             ["time_batch"], name="time_batch"),
            helper.make_node("Concat", ["time_batch", "projection_size"], ["steps_shape"],
                             name="steps_shape", axis=0),
            helper.make_node("ConstantOfShape", ["steps_shape"], ["zero_steps"],
                             name="zero_steps",
                             value=numpy_helper.from_array(np.zeros(1, dtype))),
            helper.make_node("Slice", ["zero_steps", "after_first_step", "to_the_end",
                                       "time_batch_start"], ["zeros_after_first_step"],
                             name="zeros_after_first_step"),
        ]

    final_states = {s: [] for s in states}
    for k in range(L):
        W, R, B = _names.onnx_layer_tensors(parameters, k, D, model.bias, op)
        names = _names.initializer_names(k)
        initial = {s: "" for s in states}
        if initial_state and L == 1:
            initial = {s: f"{s}0" for s in states}
        elif initial_state:  # layer k starts from rows k*D .. (k+1)*D of h0 (and c0), as in torch
            initializers += [_int64s(f"state_l{k}_start", [k * D]),
                             _int64s(f"state_l{k}_end", [(k + 1) * D])]
            for s in states:
                initial[s] = f"{s}0_l{k}"
                nodes.append(helper.make_node(
                    "Slice", [f"{s}0", f"state_l{k}_start", f"state_l{k}_end", "state_axes"],
                    [initial[s]], name=f"{s}0_slice_l{k}"))
        if projected:
            # R = W_hh W_hr, computed in the graph from both (onnxruntime folds it when
            # it loads the file), so that the file keeps torch's parameters
            W_hr = _names.projection_weights(parameters, k, D)
            initializers += [
                numpy_helper.from_array(np.ascontiguousarray(R, dtype), f"W_hh_l{k}"),
                numpy_helper.from_array(np.ascontiguousarray(W_hr, dtype), f"W_hr_l{k}")]
            nodes += [helper.make_node("MatMul", [f"W_hh_l{k}", f"W_hr_l{k}"], [names["R"]],
                                       name=f"fold_projection_l{k}"),
                      helper.make_node("Transpose", [f"W_hr_l{k}"], [f"W_hr_T_l{k}"],
                                       name=f"transpose_projection_l{k}", perm=[0, 2, 1])]
            if initial_state:  # h0 enters through the input; the node starts from zeros
                layer_input = _h0_as_input(nodes, layer_input, initial["h"], k, D, lengths)
                initial["h"] = ""
                W = np.concatenate([W, _names.recurrence_as_input(R)], axis=2)
        else:
            initializers.append(
                numpy_helper.from_array(np.ascontiguousarray(R, dtype), names["R"]))
        initializers.append(numpy_helper.from_array(np.ascontiguousarray(W, dtype), names["W"]))
        if B is not None:
            initializers.append(numpy_helper.from_array(np.ascontiguousarray(B, dtype), names["B"]))

        y = f"Y_l{k}"
        finals = {s: (f"{s}_n" if L == 1 else f"Y_{s}_l{k}") for s in states}
        node_outputs = {"Y": y, **finals}
        if projected:  # the node's Y and Y_h are unprojected (U): MatMul them by W_hr^T
            node_outputs.update(Y=f"U_l{k}", h=f"U_h_l{k}")
        node_inputs = [layer_input, names["W"], names["R"], names["B"] if B is not None else "",
                       LENGTHS_INPUT if lengths else "", initial["h"]]
        if op == "LSTM":
            node_inputs.append(initial["c"])
        while not node_inputs[-1]:
            node_inputs.pop()
        nodes.append(helper.make_node(
            op, node_inputs, [node_outputs["Y"]] + [node_outputs[s] for s in states],
            name=f"{op}_l{k}", **attributes))
        if projected:
            nodes += [helper.make_node("MatMul", [node_outputs[key], f"W_hr_T_l{k}"], [out],
                                       name=f"project_{key}_l{k}")
                      for key, out in (("Y", y), ("h", finals["h"]))]
        for s in states:
            final_states[s].append(finals[s])
        # Y [T, D, N, P] -> [T, N, D, P] -> [T, N, D*P]: torch's output layout.
        last = k == L - 1
        merged = "output" if last and not model.batch_first else f"output_l{k}"
        nodes += [
            helper.make_node("Transpose", [y], [f"Y_l{k}_TNDH"], name=f"directions_last_l{k}",
                             perm=[0, 2, 1, 3]),
            helper.make_node("Reshape", [f"Y_l{k}_TNDH", "merge_directions_shape"], [merged],
                             name=f"merge_directions_l{k}"),
        ]
        layer_input = merged
    if model.batch_first:
        nodes.append(helper.make_node("Transpose", [layer_input], ["output"],
                                      name="to_batch_major", perm=[1, 0, 2]))
    if L > 1:
        for s in states:
            nodes.append(helper.make_node("Concat", final_states[s], [f"{s}_n"],
                                          name=f"stack_{s}_states", axis=0))

    cls = type(model).__name__
    graph = helper.make_graph(nodes, f"fastrnn_{cls}", inputs, outputs, initializers)
    graph.doc_string = f"fastrnn.{model!r}, {dtype.name}"
    proto = helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)],
                              producer_name="fastrnn", producer_version=__version__)
    proto.ir_version = ir_version
    state_list = ", ".join(f"{s}0 [directions*layers, batch, {sizes[s]}]" for s in states)
    out_list = ", ".join(f"{s}_n [directions*layers, batch, {sizes[s]}]" for s in states)
    proto.doc_string = (
        f"fastrnn.{cls} (torch.nn.{cls} semantics). input: "
        + ("[batch, sequence, features]" if model.batch_first else "[sequence, batch, features]")
        + (f", {state_list}" if initial_state else "")
        + (f", {LENGTHS_INPUT} [batch] int32 (1..sequence)" if lengths else "")
        + f". outputs: output, {out_list}.")
    return proto


def _h0_as_input(nodes, layer_input, h0_rows, k, D, lengths):
    """The name of layer k's input with h0's features appended (fastrnn.onnx._names,
    Projections): [T, N, F + D*P], direction d's h0 rows at its first step, zeros elsewhere.

    The backward direction's first step is t = T-1, or with lengths t = len-1 of each
    sequence: its rows are then put at t = 0 and ReverseSequence moves them there."""
    parts = []
    for d in range(D):
        rows = h0_rows
        if D > 1:  # direction d's row [1, N, P]
            rows = f"h0_l{k}_d{d}"
            nodes.append(helper.make_node(
                "Slice", [h0_rows, f"direction_{d}_start", f"direction_{d}_end", "state_axes"],
                [rows], name=f"h0_l{k}_direction_{d}"))
        # forward: h0 at t = 0; backward: at t = T-1 (or at len-1: reversed from t = 0)
        steps = [rows, "zeros_after_first_step"] if d == 0 or lengths else [
            "zeros_after_first_step", rows]
        parts.append(f"h0_steps_l{k}_d{d}")
        at_start = parts[-1] + ("_at_start" if d == 1 and lengths else "")
        nodes.append(helper.make_node("Concat", steps, [at_start], name=at_start, axis=0))
        if at_start != parts[-1]:
            nodes.append(helper.make_node(
                "ReverseSequence", [at_start, "sequence_lens_int64"], [parts[-1]],
                name=parts[-1], time_axis=0, batch_axis=1))
    with_h0 = f"input_with_h0_l{k}"
    nodes.append(helper.make_node("Concat", [layer_input] + parts, [with_h0], name=with_h0,
                                  axis=2))
    return with_h0


def export(model: Any, f: Any, *, opset: Optional[int] = None, initial_state: bool = False,
           lengths: bool = False, args: Optional[Sequence[Any]] = None,
           input_names: Optional[Sequence[str]] = None,
           output_names: Optional[Sequence[str]] = None,
           dynamic_axes: Optional[dict[str, Any]] = None) -> onnx.ModelProto:
    """Write `model` as an ONNX file and return its ModelProto.

    A whole torch module (any nn.Module but a bare nn.RNN, LSTM or GRU) is
    exported with its example inputs `args` by torch's TorchScript exporter:
    its recurrent layers become ONNX RNN, LSTM and GRU nodes (never unrolled),
    the rest is what torch writes for it, and every batch and sequence axis is
    dynamic (`dynamic_axes`, `input_names` and `output_names` as torch.onnx.export
    takes them override that); see fastrnn/onnx/_export_module.py. torch is
    needed for that only. What follows is the export of a recurrent model.

    Args:
        model: a fastrnn.RNN, LSTM or GRU (a torch.nn.RNN, LSTM or GRU is
            converted with from_torch), LSTMs with proj_size > 0 too (which
            torch.onnx.export refuses; see below).
        f: a path (str or os.PathLike), a binary file object, or None to only
            build the ModelProto.
        opset: ONNX opset of the default domain, MIN_OPSET (10) up to the
            newest the installed onnx knows. Default: default_opset(), the
            highest the installed onnxruntime loads. The IR version is the
            lowest that opset allows (onnx.helper.make_model would pick the
            newest, which onnxruntime may refuse).
        initial_state: if True the graph takes the initial states as inputs:
            ``h0`` (RNN, GRU), or ``h0`` and ``c0`` (LSTM). Without them every
            layer starts from zeros.
        lengths: if True the graph takes ``sequence_lens``, int32 [batch],
            as its last input and gives it to every layer's node (the ONNX
            ops' input of that name): onnxruntime then computes what
            ``model(input, hx, lengths=sequence_lens)`` computes, i.e. torch's
            packed sequences: output zero past each length, h_n (c_n) each
            sequence's state at its last valid step, the backward direction
            starting at each sequence's own end. Lengths must be 1..sequence
            (fastrnn refuses 0, which ONNX allows: onnxruntime then gives zero
            outputs and states). Without it every sequence runs to the full
            length.

    The graph:
        inputs:  ``input`` [sequence, batch, input_size], or
                 [batch, sequence, input_size] for a batch_first model;
                 with initial_state ``h0`` (and for an LSTM ``c0``), each
                 [D*num_layers, batch, hidden_size] (otherwise every layer
                 starts from zeros); with lengths ``sequence_lens`` [batch],
                 int32.
        outputs: ``output`` shaped like the input with D*hidden_size features,
                 ``h_n`` (and for an LSTM ``c_n``) [D*num_layers, batch,
                 hidden_size], as torch returns them: output, h_n for RNN and
                 GRU, output, (h_n, c_n) for LSTM. With proj_size > 0, output,
                 h0 and h_n have proj_size features instead of hidden_size.
    ``batch`` and ``sequence`` are symbolic axes, so one file serves every
    batch size and sequence length. The graph always takes batched input:
    feed an unbatched (L, input_size) sequence as batch 1. D = 2 if the model
    is bidirectional.

    Each layer is one ONNX RNN, GRU or LSTM node with both directions
    (direction "bidirectional") and its weights as initializers: W, R, and
    B = [b_ih | b_hh] unless bias=False, the gate blocks reordered from
    torch's (LSTM i, f, g, o; GRU r, z, n) to ONNX's (LSTM i, o, f, c; GRU
    z, r, h); see fastrnn.onnx._names. RNN nodes name their activation
    ("Tanh" or "Relu" per direction); LSTM and GRU nodes keep the operators'
    default activations, which are torch's; GRU nodes have
    linear_before_reset=1, torch's GRU. A batch_first input is transposed to
    time-major first, because onnxruntime refuses nodes with layout=1.
    Between layers, Y [T, D, N, H] goes through Transpose(0, 2, 1, 3) and
    Reshape [0, 0, D*hidden_size]; h_n (c_n) is the Concat of every layer's
    Y_h (Y_c). Layer k reads rows k*D..(k+1)*D of h0 (and c0).

    ONNX's LSTM has no projection; an LSTM with proj_size > 0 is written
    with the same math in standard ops (fastrnn.onnx._names, Projections):
    the node's R is MatMul(weight_hh, weight_hr), its Y and Y_h are
    multiplied by weight_hr^T (MatMul nodes), and a given h0 enters through
    D*proj_size extra input features at each direction's first step (W gains
    weight_hh's columns for them; Shape, Slice, ConstantOfShape and Concat
    nodes build them). The file keeps weight_hh and weight_hr as they are,
    and fastrnn.onnx.load reads it back. With lengths, the backward
    direction's h0 must be at t = len-1 of each sequence: it is written at
    t = 0 and moved there by ReverseSequence (lengths Cast to int64).
    A float64 model gives a float64 (tensor(double)) graph. It is valid ONNX
    and passes onnx.checker, but onnxruntime has no double kernel for RNN,
    GRU or LSTM and will not run it; fastrnn.onnx.backend can.

    Every exported model passes onnx.checker.check_model(full_check=True).
    """
    from fastrnn.onnx._export_module import export_module, is_torch_module

    if is_torch_module(model) and type(model).__name__ not in _CLASSES:
        # a whole torch module: the layers around the recurrent ones too
        if initial_state or lengths:
            raise TypeError("initial_state and lengths are for fastrnn's recurrent models; "
                            "a torch module's inputs are its forward's arguments (args=...)")
        return export_module(model, f, args, opset=opset, input_names=input_names,
                             output_names=output_names, dynamic_axes=dynamic_axes)
    if args is not None or input_names or output_names or dynamic_axes:
        raise TypeError("args, input_names, output_names and dynamic_axes are for torch "
                        "modules; a recurrent model's file takes its own")
    model = _as_fastrnn(model)
    for name, value in (("initial_state", initial_state), ("lengths", lengths)):
        if not isinstance(value, (bool, np.bool_)):
            raise TypeError(f"{name} must be True or False, got {value!r}")
    newest = onnx.defs.onnx_opset_version()
    if opset is None:
        opset, ir_version = default_opset()
    else:
        if isinstance(opset, bool) or not isinstance(opset, numbers.Integral):
            raise TypeError(f"opset must be an int, got {type(opset).__name__}")
        if not MIN_OPSET <= opset <= newest:
            raise ValueError(
                f"opset must be between {MIN_OPSET} and {newest} (the newest the installed "
                f"onnx {onnx.__version__} knows), got {opset}")
        opset = int(opset)
        ir_version = _min_ir_version(opset)
    proto = _build(model, opset, ir_version, bool(initial_state), bool(lengths))
    onnx.checker.check_model(proto, full_check=True)
    if f is not None:
        data = proto.SerializeToString()
        if isinstance(f, (str, bytes, os.PathLike)):
            with open(f, "wb") as file:
                file.write(data)
        elif isinstance(f, io.TextIOBase):
            raise TypeError("f must be opened in binary mode ('wb'), got a text file")
        elif hasattr(f, "write"):
            f.write(data)
        else:
            raise TypeError(
                f"f must be a path, a binary file object or None, got {type(f).__name__}")
    return proto


# ---------------------------------------------------------------- verify
# verify(): the most elements of a random input it makes for a file that fixes the
# input's batch and sequence sizes (bigger: pass inputs).
MAX_RANDOM_ELEMENTS = 2**24


def _case_arguments(case, i, is_lstm):
    """(input, hx, lengths) of one inputs case: an array, a tuple of the model's
    positional arguments (input, hx[, lengths]) or a dict of its keyword arguments."""
    pair = "(h0, c0)" if is_lstm else "h0"
    if isinstance(case, dict):
        unknown = sorted(set(case) - {"input", "hx", "lengths"}, key=str)
        if unknown or "input" not in case:
            raise ValueError(
                f"inputs case {i}: a dict case holds the model's arguments 'input' (required), "
                f"'hx' and 'lengths', got keys {sorted(case, key=str)}")
        return case["input"], case.get("hx"), case.get("lengths")
    if isinstance(case, tuple):
        if len(case) not in (2, 3):
            raise ValueError(
                f"inputs case {i} must be an array, a tuple (input, {pair}[, lengths]) or a "
                f"dict, got a tuple of {len(case)}")
        return case + (None,) * (3 - len(case))
    return case, None, None


def _cases(model, inputs, x_dims, takes_state, takes_lengths, rng):
    """(input, states, lengths) of each case, batched, input and states in the model's
    dtype; states is a list of the initial states (h0, or h0 and c0 for an LSTM) or None,
    lengths an int32 array [N] or None."""
    D, H = model.num_directions, model.hidden_size
    n_axis, l_axis = (0, 1) if model.batch_first else (1, 0)
    is_lstm = model.mode == "LSTM"
    sizes = [model.proj_size or H, H][:2 if is_lstm else 1]  # of h0 (projected), c0

    fixed = x_dims if x_dims is not None and len(x_dims) == 3 else [None] * 3
    if inputs is None and fixed[n_axis] and fixed[l_axis]:
        count = fixed[n_axis] * fixed[l_axis] * model.input_size
        if count > MAX_RANDOM_ELEMENTS:  # a file's claim, not data: do not allocate it
            raise ValueError(
                f"the ONNX file fixes its input's shape to {x_dims}: a random input would "
                f"have {count} elements (verify makes at most {MAX_RANDOM_ELEMENTS}); pass "
                "inputs")

    def pick(axis, choices):
        return [fixed[axis]] if fixed[axis] else choices

    def random_states(n):
        return [rng.standard_normal((D * model.num_layers, n, size)).astype(model.dtype)
                for size in sizes]

    def random_lengths(n, length):
        """n lengths in 1..length; 1 and length both among them when n >= 2."""
        lens = rng.integers(1, length + 1, n) if length >= 1 else np.zeros(n, np.int64)
        if n >= 2 and length >= 1:
            ends = rng.choice(n, 2, replace=False)
            lens[ends] = (1, length)
        return lens.astype(np.int32)

    cases = []
    if inputs is None:
        # Two batch sizes and two lengths, unless the file fixes them.
        for n in pick(n_axis, [1, 4]):
            for length in pick(l_axis, [1, 7]):
                shape = [0, 0, model.input_size]
                shape[n_axis], shape[l_axis] = n, length
                x = rng.standard_normal(shape).astype(model.dtype)
                states = random_states(n) if takes_state else None
                lens = random_lengths(n, length) if takes_lengths else None
                cases.append((x, states, lens))
        return cases

    for i, case in enumerate(inputs if isinstance(inputs, list) else [inputs]):
        x, hx, lengths = _case_arguments(case, i, is_lstm)
        states = None
        if hx is not None:
            if is_lstm and not (isinstance(hx, (tuple, list)) and len(hx) == 2):
                raise ValueError(f"inputs case {i}: an LSTM's initial state is a pair "
                                 f"(h0, c0), got {type(hx).__name__}")
            states = list(hx) if is_lstm else [hx]
        # Refused as the model refuses them (strings, objects, complex, bool),
        # before anything runs, and copied: callers' arrays stay as given.
        x = np.array(real_array(x, f"verify input (case {i})"), dtype=model.dtype)
        if states is not None:
            names = ("h0", "c0")
            states = [np.array(real_array(state, f"verify {names[j]} (case {i})"),
                               dtype=model.dtype) for j, state in enumerate(states)]
        if x.ndim == 2:  # unbatched: the graph takes batch 1
            x = x[None] if model.batch_first else x[:, None]
            if states is not None:
                states = [state[:, None] for state in states]
        if x.ndim != 3:
            raise ValueError(f"verify inputs must be 2-D or 3-D arrays, got shape {x.shape}")
        N, L = x.shape[n_axis], x.shape[l_axis]
        if N == 0 or L == 0:
            # onnxruntime 1.31 terminates the process on an empty batch for GRU and
            # LSTM; an empty case would compare nothing anyway.
            raise ValueError(f"inputs case {i}: input of shape {x.shape} has no "
                             f"{'sequence' if N == 0 else 'time step'}: nothing to compare")
        if states is None and takes_state:  # the graph needs initial states: make them up
            states = random_states(N)
        if states is not None and not takes_state:
            raise ValueError(f"inputs case {i}: an initial state was given, but the ONNX file "
                             "has no initial state input")
        if lengths is not None:
            if not takes_lengths:
                raise ValueError(f"inputs case {i}: lengths were given, but the ONNX file has "
                                 "no sequence_lens input")
            # As the model checks them (N integers in 1..L, ValueError), as int32.
            lengths = model._check_lengths(lengths, N, L)
        elif takes_lengths:  # the graph needs lengths: draw them
            lengths = random_lengths(N, L)
        cases.append((x, states, lengths))
    return cases


def _first_line(exc):
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def _check_tolerance(tolerance):
    if isinstance(tolerance, (bool, np.bool_)) or not isinstance(tolerance, numbers.Real):
        raise TypeError(f"tolerance must be a number, got {type(tolerance).__name__}")
    if not tolerance >= 0:  # also NaN
        raise ValueError(f"tolerance must be a number >= 0, got {tolerance!r}")


def _index_text(flat_index, shape):
    return "[" + ", ".join(str(int(i)) for i in np.unravel_index(flat_index, shape)) + "]"


def _scaled_difference(name, have, want, where):
    """max|have - want| / max(1, max|want|) over the entries finite in both, after
    checking that NaN and infinities sit at the same places with the same signs."""
    have = np.asarray(have, np.float64)
    want = np.asarray(want, np.float64)
    finite = np.isfinite(want)
    # Equal at non-finite entries: the same inf, or NaN in both (NaN != NaN).
    agree = (have == want) | (np.isnan(have) & np.isnan(want))
    mismatch = np.flatnonzero((~finite | ~np.isfinite(have)) & ~agree)
    if mismatch.size:
        first = mismatch[0]
        raise VerificationError(
            f"onnxruntime and fastrnn differ on {name}{where}: at {name}"
            f"{_index_text(first, want.shape)} onnxruntime gives {float(have.flat[first])!r} "
            f"and fastrnn {float(want.flat[first])!r} ({mismatch.size} entries where NaN or "
            "an infinity is in one and not the other)")
    # No mismatch: where fastrnn's entry is finite, onnxruntime's is too.
    scale = max(1.0, float(np.max(np.abs(want[finite]), initial=0.0)))
    return float(np.max(np.abs(have[finite] - want[finite]), initial=0.0)) / scale


def _lengths_input(graph, graph_inputs):
    """The graph input that recurrent nodes read as their sequence_lens, or None."""
    read = {node.input[4] for node in graph.node
            if node.op_type in ("RNN", "GRU", "LSTM") and len(node.input) > 4 and node.input[4]}
    found = [value for value in graph_inputs if value.name in read]
    if len(found) > 1:
        raise ValueError(f"verify expects one sequence_lens input for all layers, the graph "
                         f"has {[value.name for value in found]}")
    return found[0] if found else None


def verify(model: Any, f: Any, inputs: Optional[Sequence[Any]] = None, *,
           tolerance: float = TOLERANCE) -> float:
    """Run an ONNX file in onnxruntime and `model` in fastrnn; compare.

    Args:
        model: the fastrnn.RNN, LSTM or GRU (or torch.nn.RNN, LSTM or GRU) the
            file should compute.
        f: the ONNX file: a path, bytes, a binary file object or a ModelProto.
            Its first graph input is the sequence in the model's layout; the
            inputs after it, if any, the initial states [D*num_layers, N, H]
            (h0; for an LSTM h0 and c0, h0 with proj_size features when the
            LSTM projects), and the input the recurrent nodes read as their
            sequence_lens if there is one (export(..., lengths=True) writes
            it last), int32 [N]. Its first outputs are compared with
            what the model returns: output, h_n (and c_n for an LSTM). That is
            what export writes, and what torch.onnx.export writes for nn.RNN,
            LSTM and GRU.
        inputs: None, one case, or a list of cases. A case holds the
            arguments of one call of the model, as the model takes them:
            an input array; a tuple (input, hx) or (input, hx, lengths); or a
            dict with the keys "input" and optionally "hx" and "lengths".
            hx is h0 for RNN and GRU and (h0, c0) for LSTM (None: none
            given); lengths are N integers in 1..L (None: none given), as
            model(input, hx, lengths=lengths) takes them. Unbatched
            (L, input_size) inputs run as batch 1. When the file takes
            initial states and a case has none, random ones are used; when
            it takes sequence_lens and a case gives no lengths, random ones
            in 1..L are drawn (1 and L both among them when N >= 2). A case
            with initial states or lengths for a file without such an input
            raises ValueError. None: random standard-normal inputs at batch
            sizes 1 and 4 and sequence lengths 1 and 7 (an axis the file
            fixes keeps its size; a fixed shape of more than 2**24 elements
            raises ValueError rather than being allocated: pass inputs).
            Random values come from numpy's default_rng(0) (for each case:
            the input, then h0 (and c0), then the lengths, as the file takes
            them), so a call is reproducible. Inputs must hold real numbers;
            strings, objects, booleans and complex numbers raise TypeError,
            as the model does; bad lengths raise ValueError, as the model
            does. An empty list raises ValueError: there would be nothing to
            compare.
        tolerance: the largest accepted difference, a number >= 0 (default 1e-5).

    Returns the largest difference over all cases and outputs, where the
    difference of one output is max|onnxruntime - fastrnn| / max(1, max|fastrnn|)
    over the entries that are finite in both. NaN and infinities must be at
    the same places in both results (the same infinity): an input holding NaN
    gives NaN in both, which is agreement, not a difference. (Not with
    nonlinearity 'relu': onnxruntime's Relu turns NaN into 0 where fastrnn,
    like torch, keeps it, and verify reports that as a difference.)

    Raises VerificationError (a ValueError and an AssertionError) naming the
    case and output when that difference exceeds `tolerance`, the output
    shapes differ, or a NaN or infinity is in one result and not the other. A float64
    model or graph raises UnsupportedModelError: onnxruntime has no double
    kernel for the RNN, GRU and LSTM ops, so it cannot check one
    (fastrnn.onnx.backend can run it).
    """
    from fastrnn._optional import require

    onnxruntime = require("onnxruntime", "fastrnn.onnx.verify")  # export works without it
    from fastrnn.onnx._export_module import (compare_with_onnxruntime, is_torch_module,
                                             verify_module)
    from fastrnn.onnx._model import GraphModel

    if is_torch_module(model) and type(model).__name__ not in _CLASSES:
        _check_tolerance(tolerance)
        return verify_module(model, f, inputs, tolerance=tolerance)
    if isinstance(model, GraphModel):  # a whole graph as fastrnn.onnx.load gives it
        _check_tolerance(tolerance)

        def run(arrays):
            out = model(*arrays)
            return list(out) if isinstance(out, tuple) else [out]
        return compare_with_onnxruntime(run, "fastrnn", f, inputs, tolerance)
    model = _as_fastrnn(model)
    _check_tolerance(tolerance)
    if isinstance(inputs, list) and not inputs:
        raise ValueError("no inputs to compare: inputs is an empty list (pass None for "
                         "random inputs)")
    proto = read_model(f)
    op = _names.onnx_op(model.mode)
    if np.dtype(model.dtype) == np.float64:
        raise UnsupportedModelError(
            f"verify cannot check a float64 model: onnxruntime has no double (float64) kernel "
            f"for the {op} op. Export a float32 model to check it with onnxruntime, or run the "
            "float64 graph with fastrnn.onnx.backend.")
    states = _state_names(op)
    output_names = ["output"] + [f"{s}_n" for s in states]
    state_inputs = [f"{s}0" for s in states]
    graph_inputs = runtime_inputs(proto.graph)
    lengths_input = _lengths_input(proto.graph, graph_inputs)
    others = [value for value in graph_inputs if value is not lengths_input]
    if len(others) not in (1, 1 + len(states)) or len(proto.graph.output) < len(
            output_names):
        raise ValueError(
            f"verify expects a graph with inputs (input[, {', '.join(state_inputs)}]"
            f"[, {LENGTHS_INPUT}]) and outputs ({', '.join(output_names)}) for a "
            f"fastrnn.{type(model).__name__}, got inputs {[i.name for i in graph_inputs]} and "
            f"outputs {[o.name for o in proto.graph.output]}")
    graph_outputs = list(proto.graph.output[:len(output_names)])
    for value in others + graph_outputs:
        elem = value.type.tensor_type.elem_type
        if elem == TensorProto.DOUBLE:
            raise UnsupportedModelError(
                f"verify cannot run this graph: {value.name!r} is tensor(double) and "
                f"onnxruntime has no double (float64) kernel for the {op} op")
    x_dims = declared_dims(others[0])
    if x_dims is not None and len(x_dims) == 3 and x_dims[2] not in (None, model.input_size):
        raise ValueError(
            f"the ONNX file's input has {x_dims[2]} features but the model's input_size is "
            f"{model.input_size}")
    takes_state = len(others) > 1
    rng = np.random.default_rng(0)
    cases = _cases(model, inputs, x_dims, takes_state, lengths_input is not None, rng)

    try:
        session = onnxruntime.InferenceSession(proto.SerializeToString(),
                                               providers=["CPUExecutionProvider"])
    except Exception as exc:  # onnxruntime's own error classes (Fail, InvalidGraph, ...)
        raise UnsupportedModelError(
            f"onnxruntime {onnxruntime.__version__} cannot load this file (it loads opsets up "
            f"to {default_opset()[0]} and IR versions up to {default_opset()[1]}): "
            f"{_first_line(exc)}") from None
    worst = 0.0
    for x, initial, lengths in cases:
        feed = {others[0].name: x}
        hx = None
        if initial is not None:
            feed.update((value.name, state) for value, state in zip(others[1:], initial))
            hx = tuple(initial) if op == "LSTM" else initial[0]
        if lengths is not None:
            feed[lengths_input.name] = lengths
        # fastrnn first: it checks what the case holds before onnxruntime sees it.
        output, finals = model(x, hx, lengths=lengths)
        expected = [output] + (list(finals) if op == "LSTM" else [finals])
        try:
            got = session.run([o.name for o in graph_outputs], feed)
        except Exception as exc:  # onnxruntime refused the graph at run time
            raise VerificationError(
                f"onnxruntime failed to run the file for input shape {x.shape}: "
                f"{_first_line(exc)}") from None
        where = (f" for input shape {x.shape}"
                 + (f" with {' and '.join(state_inputs)}" if initial is not None else "")
                 + (f" with lengths {lengths.tolist()}" if lengths is not None else ""))
        for name, want, have in zip(output_names, expected, got):
            if have.shape != want.shape:
                raise VerificationError(
                    f"onnxruntime's {name} has shape {have.shape}, fastrnn's {want.shape} "
                    f"(input shape {x.shape})")
            diff = _scaled_difference(name, have, want, where)
            if not diff <= tolerance:
                raise VerificationError(
                    f"onnxruntime and fastrnn differ on {name}{where}: max|difference| / "
                    f"max(1, max|fastrnn|) = {diff:.3g} > tolerance {tolerance:g}")
            worst = max(worst, diff)
    return worst
