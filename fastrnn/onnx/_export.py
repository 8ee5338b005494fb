"""fastrnn.RNN -> ONNX file, and a check of that file in onnxruntime."""
import functools
import io
import numbers
import os

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

from fastrnn._arrays import real_array
from fastrnn._version import __version__
from fastrnn.onnx import _names
from fastrnn.onnx._proto import (
    UnsupportedModelError, declared_dims, read_model, runtime_inputs)
from fastrnn.rnn import RNN

__all__ = ["export", "verify", "default_opset", "VerificationError", "TOLERANCE"]

# The exported graph uses RNN, Transpose, Reshape, Concat and Slice; Slice
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


class VerificationError(ValueError, AssertionError):
    """onnxruntime's results for an ONNX file differ from the fastrnn model's.

    A ValueError, and an AssertionError so test code that checks numerics
    with assert-style helpers catches it too.
    """


def _as_fastrnn(model, what="model"):
    if isinstance(model, RNN):
        return model
    if type(model).__module__.startswith("torch") and type(model).__name__ == "RNN":
        return RNN.from_torch(model)
    raise TypeError(f"{what} must be a fastrnn.RNN (or a torch.nn.RNN), got {type(model).__name__}")


def _min_ir_version(opset):
    return helper.find_min_ir_version_for([helper.make_opsetid("", opset)])


@functools.lru_cache(maxsize=None)
def default_opset():
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
    except ImportError:  # pragma: no cover - onnxruntime is a dependency
        opset = min(FALLBACK_OPSET, newest)
        return opset, _min_ir_version(opset)
    probe_model = RNN(2, 3, num_layers=2, bidirectional=True, batch_first=True, seed=0)
    options = onnxruntime.SessionOptions()
    options.log_severity_level = 4  # the refusals below are expected, keep them quiet
    for opset in range(newest, MIN_OPSET - 1, -1):
        proto = _build(probe_model, opset, _min_ir_version(opset), initial_state=True)
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


def _build(model, opset, ir_version, initial_state):
    """The ModelProto of `model` (a fastrnn.RNN); see export for its layout."""
    D, H, L = model.num_directions, model.hidden_size, model.num_layers
    dtype = np.dtype(model.dtype)
    elem = _ELEM_TYPES[dtype]
    activation = _names.ACTIVATIONS[model.nonlinearity]
    direction = "bidirectional" if D == 2 else "forward"
    parameters = dict(model.named_parameters())

    if model.batch_first:
        input_shape = [BATCH_AXIS, SEQUENCE_AXIS, model.input_size]
        output_shape = [BATCH_AXIS, SEQUENCE_AXIS, D * H]
    else:
        input_shape = [SEQUENCE_AXIS, BATCH_AXIS, model.input_size]
        output_shape = [SEQUENCE_AXIS, BATCH_AXIS, D * H]
    inputs = [helper.make_tensor_value_info("input", elem, input_shape)]
    if initial_state:
        inputs.append(helper.make_tensor_value_info("h0", elem, [D * L, BATCH_AXIS, H]))
    outputs = [helper.make_tensor_value_info("output", elem, output_shape),
               helper.make_tensor_value_info("h_n", elem, [D * L, BATCH_AXIS, H])]

    # [T, N, D, H] -> [T, N, D*H]: 0 copies a dimension, so T and N stay symbolic.
    # D*H is written out rather than -1: with T or N = 0 the tensor is empty and
    # Reshape cannot infer a -1 from 0 elements.
    initializers = [_int64s("merge_directions_shape", [0, 0, D * H])]
    nodes = []
    if model.batch_first:  # onnxruntime refuses layout=1: make the input time-major
        nodes.append(helper.make_node("Transpose", ["input"], ["input_time_major"],
                                      name="to_time_major", perm=[1, 0, 2]))
        layer_input = "input_time_major"
    else:
        layer_input = "input"
    if initial_state and L > 1:
        initializers.append(_int64s("h0_axes", [0]))

    final_states = []
    for k in range(L):
        W, R, B = _names.onnx_layer_tensors(parameters, k, D, model.bias)
        names = _names.initializer_names(k)
        initializers += [numpy_helper.from_array(np.ascontiguousarray(W, dtype), names["W"]),
                         numpy_helper.from_array(np.ascontiguousarray(R, dtype), names["R"])]
        if B is not None:
            initializers.append(numpy_helper.from_array(np.ascontiguousarray(B, dtype), names["B"]))
        if not initial_state:
            initial_h = ""
        elif L == 1:
            initial_h = "h0"
        else:  # layer k starts from rows k*D .. (k+1)*D of h0, as in torch
            initial_h = f"h0_l{k}"
            initializers += [_int64s(f"h0_l{k}_start", [k * D]),
                             _int64s(f"h0_l{k}_end", [(k + 1) * D])]
            nodes.append(helper.make_node(
                "Slice", ["h0", f"h0_l{k}_start", f"h0_l{k}_end", "h0_axes"], [initial_h],
                name=f"h0_slice_l{k}"))
        y, y_h = f"Y_l{k}", ("h_n" if L == 1 else f"Y_h_l{k}")
        nodes.append(helper.make_node(
            "RNN", [layer_input, names["W"], names["R"], names["B"] if B is not None else "",
                    "", initial_h],
            [y, y_h], name=f"RNN_l{k}", hidden_size=H, direction=direction,
            activations=[activation] * D))
        final_states.append(y_h)
        # Y [T, D, N, H] -> [T, N, D, H] -> [T, N, D*H]: torch's output layout.
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
        nodes.append(helper.make_node("Concat", final_states, ["h_n"], name="stack_states",
                                      axis=0))

    graph = helper.make_graph(nodes, "fastrnn_RNN", inputs, outputs, initializers)
    graph.doc_string = f"fastrnn.{model!r}, {dtype.name}"
    proto = helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)],
                              producer_name="fastrnn", producer_version=__version__)
    proto.ir_version = ir_version
    proto.doc_string = (
        "fastrnn.RNN (torch.nn.RNN semantics). input: "
        + ("[batch, sequence, features]" if model.batch_first else "[sequence, batch, features]")
        + (", h0: [directions*layers, batch, hidden]" if initial_state else "")
        + ". outputs: output, h_n [directions*layers, batch, hidden].")
    return proto


def export(model, f, *, opset=None, initial_state=False):
    """Write `model` as an ONNX file and return its ModelProto.

    Args:
        model: a fastrnn.RNN (a torch.nn.RNN is converted with RNN.from_torch).
        f: a path (str or os.PathLike), a binary file object, or None to only
            build the ModelProto.
        opset: ONNX opset of the default domain, MIN_OPSET (10) up to the
            newest the installed onnx knows. Default: default_opset(), the
            highest the installed onnxruntime loads. The IR version is the
            lowest that opset allows (onnx.helper.make_model would pick the
            newest, which onnxruntime may refuse).
        initial_state: if True the graph takes a second input ``h0``.

    The graph:
        inputs:  ``input`` [sequence, batch, input_size], or
                 [batch, sequence, input_size] for a batch_first model;
                 ``h0`` [D*num_layers, batch, hidden_size] with initial_state
                 (otherwise every layer starts from zeros).
        outputs: ``output`` shaped like the input with D*hidden_size features,
                 ``h_n`` [D*num_layers, batch, hidden_size], as torch returns.
    ``batch`` and ``sequence`` are symbolic axes, so one file serves every
    batch size and sequence length. The graph always takes batched input:
    feed an unbatched (L, input_size) sequence as batch 1. D = 2 if the model
    is bidirectional.

    Each layer is one ONNX RNN node with both directions (direction
    "bidirectional"), activations ["Tanh"] or ["Relu"] per direction, its
    weights as initializers (W, R, and B = [b_ih | b_hh] unless bias=False).
    A batch_first input is transposed to time-major first, because
    onnxruntime refuses RNN nodes with layout=1. Between layers, Y [T, D, N, H]
    goes through Transpose(0, 2, 1, 3) and Reshape [0, 0, D*hidden_size]; h_n is the
    Concat of every layer's Y_h. Layer k reads rows k*D..(k+1)*D of h0.

    A float64 model gives a float64 (tensor(double)) graph. It is valid ONNX
    and passes onnx.checker, but onnxruntime has no double kernel for RNN and
    will not run it; fastrnn.onnx.backend can.

    Every exported model passes onnx.checker.check_model(full_check=True).
    """
    model = _as_fastrnn(model)
    if not isinstance(initial_state, (bool, np.bool_)):
        raise TypeError(f"initial_state must be True or False, got {initial_state!r}")
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
    proto = _build(model, opset, ir_version, bool(initial_state))
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
def _cases(model, inputs, x_dims, h0_dims, rng):
    """(input, h0 or None) pairs, batched, in the model's dtype."""
    D, H = model.num_directions, model.hidden_size
    n_axis, l_axis = (0, 1) if model.batch_first else (1, 0)

    def pick(axis, choices):
        fixed = x_dims[axis] if x_dims is not None and len(x_dims) == 3 else None
        return [fixed] if fixed else choices

    if inputs is None:
        # Two batch sizes and two lengths, unless the file fixes them.
        cases = []
        for n in pick(n_axis, [1, 4]):
            for length in pick(l_axis, [1, 7]):
                shape = [0, 0, model.input_size]
                shape[n_axis], shape[l_axis] = n, length
                x = rng.standard_normal(shape).astype(model.dtype)
                h0 = None
                if h0_dims is not None:
                    h0 = rng.standard_normal((D * model.num_layers, n, H)).astype(model.dtype)
                cases.append((x, h0))
    else:
        given = inputs if isinstance(inputs, list) else [inputs]
        cases = []
        for i, case in enumerate(given):
            if isinstance(case, tuple):
                if len(case) != 2:
                    raise ValueError(
                        f"inputs case {i} must be an array or an (input, h0) pair, got a "
                        f"tuple of {len(case)}")
                x, h0 = case
            else:
                x, h0 = case, None
            # Refused as the model refuses them (strings, objects, complex, bool),
            # before anything runs, and copied: callers' arrays stay as given.
            x = np.array(real_array(x, f"verify input (case {i})"), dtype=model.dtype)
            if h0 is not None:
                h0 = np.array(real_array(h0, f"verify h0 (case {i})"), dtype=model.dtype)
            cases.append((x, h0))
    batched = []
    for x, h0 in cases:
        if x.ndim == 2:  # unbatched: the graph takes batch 1
            x = x[None] if model.batch_first else x[:, None]
            if h0 is not None:
                h0 = h0[:, None]
        if x.ndim != 3:
            raise ValueError(f"verify inputs must be 2-D or 3-D arrays, got shape {x.shape}")
        if h0 is None and h0_dims is not None:  # the graph needs h0: make one up
            h0 = rng.standard_normal((D * model.num_layers, x.shape[n_axis], H)).astype(model.dtype)
        if h0 is not None and h0_dims is None:
            raise ValueError("an h0 was given but the ONNX file takes no initial state")
        batched.append((x, h0))
    return batched


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


def verify(model, f, inputs=None, *, tolerance=TOLERANCE):
    """Run an ONNX file in onnxruntime and `model` in fastrnn; compare.

    Args:
        model: the fastrnn.RNN (or torch.nn.RNN) the file should compute.
        f: the ONNX file: a path, bytes, a binary file object or a ModelProto.
            Its first graph input is the sequence in the model's layout, an
            optional second input the initial state [D*num_layers, N, H]; its
            first two outputs are compared with (output, h_n). That is what
            export writes, and what torch.onnx.export writes for nn.RNN.
        inputs: None, one input array, or a list of cases, each an input
            array or an (input, h0) tuple. Unbatched (L, input_size) inputs run
            as batch 1. When the file takes h0 and a case has none, a random
            h0 is used. None: random standard-normal inputs at batch sizes 1
            and 4 and sequence lengths 1 and 7 (an axis the file fixes keeps
            its size). Random values come from numpy's default_rng(0) (for
            each batch size, for each length: the input, then h0 if the file
            takes one), so a call is reproducible.
            Inputs must hold real numbers; strings, objects, booleans and
            complex numbers raise TypeError, as the model does. An empty list
            raises ValueError: there would be nothing to compare.
        tolerance: the largest accepted difference, a number >= 0 (default 1e-5).

    Returns the largest difference over all cases and both outputs, where the
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
    kernel for the RNN op, so it cannot check one (fastrnn.onnx.backend can run it).
    """
    import onnxruntime  # only here: export works without it

    model = _as_fastrnn(model)
    _check_tolerance(tolerance)
    if isinstance(inputs, list) and not inputs:
        raise ValueError("no inputs to compare: inputs is an empty list (pass None for "
                         "random inputs)")
    proto = read_model(f)
    if np.dtype(model.dtype) == np.float64:
        raise UnsupportedModelError(
            "verify cannot check a float64 model: onnxruntime has no double (float64) kernel "
            "for the RNN op. Export a float32 model to check it with onnxruntime, or run the "
            "float64 graph with fastrnn.onnx.backend.")
    graph_inputs = runtime_inputs(proto.graph)
    if not 1 <= len(graph_inputs) <= 2 or len(proto.graph.output) < 2:
        raise ValueError(
            f"verify expects a graph with inputs (input[, h0]) and outputs (output, h_n), got "
            f"inputs {[i.name for i in graph_inputs]} and outputs "
            f"{[o.name for o in proto.graph.output]}")
    for value in list(graph_inputs) + list(proto.graph.output[:2]):
        elem = value.type.tensor_type.elem_type
        if elem == TensorProto.DOUBLE:
            raise UnsupportedModelError(
                f"verify cannot run this graph: {value.name!r} is tensor(double) and "
                "onnxruntime has no double (float64) kernel for the RNN op")
    x_dims = declared_dims(graph_inputs[0])
    if x_dims is not None and len(x_dims) == 3 and x_dims[2] not in (None, model.input_size):
        raise ValueError(
            f"the ONNX file's input has {x_dims[2]} features but the model's input_size is "
            f"{model.input_size}")
    h0_dims = declared_dims(graph_inputs[1]) if len(graph_inputs) == 2 else None
    if len(graph_inputs) == 2 and h0_dims is None:
        h0_dims = [None, None, None]

    session = onnxruntime.InferenceSession(proto.SerializeToString(),
                                           providers=["CPUExecutionProvider"])
    output_names = [o.name for o in proto.graph.output[:2]]
    rng = np.random.default_rng(0)
    worst = 0.0
    for x, h0 in _cases(model, inputs, x_dims, h0_dims, rng):
        feed = {graph_inputs[0].name: x}
        if h0 is not None:
            feed[graph_inputs[1].name] = h0
        expected = model(x, h0)
        got = session.run(output_names, feed)
        where = f" for input shape {x.shape}{' with h0' if h0 is not None else ''}"
        for name, want, have in zip(("output", "h_n"), expected, got):
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
