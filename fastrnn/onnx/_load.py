"""ONNX file -> fastrnn.RNN, LSTM or GRU.

load() does not pattern-match one exporter's output. It walks the graph once
in node order and gives every tensor an abstract value saying what it is: a
constant, a runtime shape, a zero state, the graph's input (with its axes
possibly permuted or sliced), a layer's raw output Y, a sequence of
features, or final states (hidden or cell). Axes carry labels (T time, N
batch, D direction, H hidden, F features), so a Transpose or Reshape is
accepted exactly when it turns one layer's output into what the next layer
reads. That covers fastrnn's own files (LSTM projections too: a MatMul of
constants keeps its factors, and a layer's Y must pass through its W_hr^T),
torch.onnx.export(dynamo=False) graphs of nn.RNN, LSTM and GRU (with or
without initial states, dynamic axes, constant folding), and single RNN, GRU
or LSTM nodes; any other op, attribute or wiring is refused with
UnsupportedModelError naming it.
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Any, Union

import numpy as np
from onnx import TensorProto

from fastrnn.onnx import _names
from fastrnn.onnx._proto import (
    InvalidModelError, UnsupportedModelError, declared_dims, model_opset, read_model,
    runtime_inputs, type_name)
from fastrnn.onnx._rnn_attributes import RECURRENT_OPS
from fastrnn._kinds import CLASSES
from fastrnn.onnx._walk import _DESCRIPTIONS, _FLOAT_TYPES, NotAStack, _Seq, _States, _Walk, _Y

if TYPE_CHECKING:
    from fastrnn.onnx._model import GraphModel
    from fastrnn.gru import GRU
    from fastrnn.lstm import LSTM
    from fastrnn.rnn import RNN

__all__ = ["load", "read_model", "UnsupportedModelError", "InvalidModelError"]

_CLASSES = {cls.__name__: cls for cls in CLASSES.values()}  # by op name
_STATE_NAMES = {"h": ("initial_h", "h0"), "c": ("initial_c", "c0")}


def _state_source(layers, kind):
    """The graph input the layers' initial states of `kind` come from (None: zeros), after
    checking that layer k reads rows k*D..(k+1)*D of it, as torch's hx."""
    what, torch_name = _STATE_NAMES[kind]
    sources = [layer["initial"][kind] for layer in layers]
    if all(s is None for s in sources):
        return None
    names = {s[0] for s in sources if s is not None}
    cls = f"fastrnn.{layers[0]['op']}"
    if None in sources or len(names) != 1:
        raise UnsupportedModelError(
            f"{what}: some layers start from the graph input {torch_name} and others from zeros "
            f"or another input; {cls} takes one {torch_name} for all layers")
    name = names.pop()
    D, num_layers = layers[0]["num_directions"], len(layers)
    for k, (_, rows) in enumerate(sources):
        if rows is None:
            ok = num_layers == 1
        else:
            start, stop = rows
            ok = start == k * D and stop in ((k + 1) * D, None if k == num_layers - 1 else -1)
        if not ok:
            raise UnsupportedModelError(
                f"{layers[k]['node']}: {what} is rows {rows} of {name!r}; fastrnn's "
                f"layer {k} starts from rows {k * D}..{(k + 1) * D} of {torch_name}")
    return name


def _build_model(walk):
    graph = walk.graph
    layers = walk.layers
    if not layers:
        ops = sorted({n.op_type for n in graph.node})
        raise UnsupportedModelError(f"the graph has no {', '.join(RECURRENT_OPS[:-1])} or "
                                    f"{RECURRENT_OPS[-1]} node (it has {ops or 'no nodes'})")
    first = layers[0]
    op = first["op"]
    cls = f"fastrnn.{op}"
    num_layers = len(layers)
    D, H = first["num_directions"], first["hidden_size"]
    G = _names.gate_count(op)
    for key in ("op", "hidden_size", "output_size", "num_directions", "nonlinearity"):
        for layer in layers[1:]:
            if layer[key] != first[key]:
                raise UnsupportedModelError(
                    f"{layer['node']}: {key} {layer[key]!r} differs from layer 0's "
                    f"{first[key]!r}; the layers of a fastrnn model share it")
    dtype = first["W"].dtype
    input_size = first["W"].shape[2]
    if input_size == 0 or H == 0:
        raise InvalidModelError(f"{first['node']}: W has shape {list(first['W'].shape)}; "
                                "input_size and hidden_size must be positive")
    for k, layer in enumerate(layers):
        if layer["W"].dtype != dtype:
            raise UnsupportedModelError(
                f"{layer['node']}: dtype {layer['W'].dtype} differs from layer 0's {dtype}")
        features = D * layer["output_size"]  # of the layer below
        if k > 0 and layer["W"].shape[2] != features:
            raise InvalidModelError(
                f"{layer['node']}: W has shape {list(layer['W'].shape)} but the layer reads "
                f"{features} features from the layer below (expected [{D}, {G * H}, "
                f"{features}])")

    # Initial states: none at all, or rows k*D..(k+1)*D of one graph input for every
    # layer (h0; an LSTM's c0 likewise, from another input).
    for kind in first["initial"]:
        _state_source(layers, kind)
    # Sequence lengths: none, or one graph input that every layer reads.
    if len({layer["lengths"] for layer in layers}) > 1:
        raise UnsupportedModelError(
            "sequence_lens: the layers read " + ", ".join(
                f"{layer['node']} {'none' if layer['lengths'] is None else repr(layer['lengths'])}"
                for layer in layers)
            + f"; {cls} applies one set of lengths to every layer")

    # Every graph input must be the sequence or an initial state; check what they declare.
    for value_info in runtime_inputs(graph):
        role = walk.input_uses.get(value_info.name)
        if role is None:
            raise UnsupportedModelError(
                f"graph input {value_info.name!r} is neither the sequence nor the initial state "
                "of the recurrent layers")
        elem = value_info.type.tensor_type.elem_type
        dims = declared_dims(value_info) or []
        if role == "sequence lengths":
            if elem != TensorProto.INT32 or len(dims) > 1:
                raise InvalidModelError(
                    f"graph input {value_info.name!r} is {type_name(elem)} {dims}, read as "
                    "sequence_lens; ONNX's sequence_lens is tensor(int32) [batch]")
            continue
        if elem and _FLOAT_TYPES.get(elem) != dtype.type:
            raise InvalidModelError(
                f"graph input {value_info.name!r} is {type_name(elem)} but the weights are "
                f"{dtype}")
        # None (or 0, which some exporters write) where not fixed
        if role == "sequence" and dims and dims[-1] not in (None, 0, input_size):
            raise InvalidModelError(
                f"graph input {value_info.name!r} declares {dims[-1]} features but W has "
                f"input_size {input_size}")
        if role.startswith("initial") and first["layout"] == 0 and len(dims) in (2, 3):
            size = first["output_size"] if role == "initial hidden state" else H
            if any(d not in (None, 0, e) for d, e in ((dims[0], D * num_layers),
                                                      (dims[-1], size))):
                raise InvalidModelError(
                    f"graph input {value_info.name!r} declares shape {dims}; fastrnn's "
                    f"{role} is [{D * num_layers}, batch, {size}]")

    # Outputs must come from the network: the last layer's output, or final states.
    for value_info in graph.output:
        value = walk.values.get(value_info.name)
        if value is None:
            raise InvalidModelError(f"graph output {value_info.name!r} is not computed by any node")
        if isinstance(value, (_Y, _States)):
            walk.check_projected(f"graph output {value_info.name!r}", value)
        if isinstance(value, (_Y, _Seq)) and value.layer == num_layers - 1:
            continue
        if isinstance(value, _States):
            continue
        what = _DESCRIPTIONS[type(value)]
        if isinstance(value, (_Y, _Seq)):
            what += f" of layer {value.layer}, not the last layer"
        raise UnsupportedModelError(
            f"graph output {value_info.name!r} is {what}; {cls} returns the last layer's "
            "output and the final states")

    bias = any(layer["B"] is not None for layer in layers)
    state = {}
    for k, layer in enumerate(layers):
        B = layer["B"]
        if bias and B is None:  # this layer has no bias in the file: zeros do the same
            B = np.zeros((D, 2 * G * H), dtype)
        state.update(_names.torch_layer_parameters(layer["W"], layer["R"], B, k, op))
        if layer["W_hr"] is not None:
            state.update(_names.torch_projection_parameters(layer["W_hr"], k))
    extra = dict(nonlinearity=first["nonlinearity"]) if op == "RNN" else {}
    if first["W_hr"] is not None:
        extra["proj_size"] = int(first["output_size"])
    model = _CLASSES[op](int(input_size), int(H), num_layers, bias=bias,
                         batch_first=first["batch_first"], bidirectional=D == 2,
                         dtype=dtype.type, **extra)
    model.load_state_dict(state)
    return model


def load(f: Any) -> Union[RNN, LSTM, GRU, GraphModel]:
    """A fastrnn.RNN, LSTM or GRU computing what an ONNX model computes.

    Args:
        f: a path (str or os.PathLike), bytes, a binary file object or an
            onnx.ModelProto.

    Accepted graphs: a straight stack of ONNX RNN, GRU or LSTM nodes, all of
    one op (one node per layer, the first reading the graph input, each next
    one the previous one's output sequence), with Transpose/Reshape/Squeeze
    between them and the shape ops exporters use to build zero initial
    states. That covers files written by fastrnn.onnx.export, by
    torch.onnx.export(..., dynamo=False) for torch.nn.RNN, LSTM and GRU (any
    layers, directions, batch_first, unbatched inputs, with or without
    initial state inputs, constant folding, dynamic axes), and single nodes
    with W, R, B as initializers or Constant nodes. LSTMs with proj_size > 0,
    which torch does not export, load from fastrnn's files: R is
    MatMul(W_hh, W_hr), Y and Y_h go through MatMul by W_hr^T, and a given h0
    comes in as input features (fastrnn.onnx._names, Projections); other
    uses of MatMul are refused.

    Nodes are read exactly as fastrnn.onnx.backend reads them (one parser,
    fastrnn.onnx._rnn_attributes; W, R, B in ONNX's gate order, turned into
    torch's by fastrnn.onnx._names); load then refuses what fastrnn's
    classes cannot hold.

    What is inferred: the class (RNN, LSTM or GRU, from the op), input_size
    from W, proj_size (from W_hr), hidden_size (the attribute, else W's second dimension divided by
    the op's gate count, as the operator allows), num_layers (nodes),
    bidirectional (direction), nonlinearity of an RNN (activations Tanh or
    Relu), bias (any B present; a layer without B gets zero biases), dtype
    (float32 or float64) and batch_first: True when the graph input reaches
    the first node batch-major, through Transpose(1, 0, 2) into layout 0 or
    directly into layout=1.

    The returned model follows torch's conventions for its inputs and
    outputs (hx is [D*num_layers, N, H]; an LSTM's is the pair (h0, c0)),
    whatever arrangement the graph's outputs have. An LSTM graph whose
    initial_c (or initial_h) is zero while the other comes from an input
    loads too: call the model with zeros for that state. For a model
    fastrnn exported, the outputs are identical to the original model's.

    Sequence lengths: a graph input that every layer's node reads as its
    sequence_lens (tensor(int32) [batch]; fastrnn.onnx.export(...,
    lengths=True) writes one) loads as well. The model keeps no lengths:
    pass them as its own argument, model(input, hx, lengths=...), to compute
    what the graph computes with that input (called without lengths, every
    sequence runs to the full length, as the graph does with lengths all
    equal to the sequence length). fastrnn takes lengths 1..L; the graph
    also takes 0. Some layers reading sequence_lens and others not, or
    reading different inputs, is refused.

    Raises:
        InvalidModelError: the bytes are not a readable ONNX model, or the
            model contradicts itself (weight shapes vs hidden_size, attribute
            values or types the operator forbids, tensors whose dims their
            data does not have, negative declared dimensions, text that is
            not UTF-8, undefined or twice-defined names). Nothing is
            allocated for what a file claims: tensors are checked against the
            bytes they hold before numpy reads them, and a projected LSTM's
            R = MatMul(W_hh, W_hr) is read through its factors, never
            computed; what load computes from stored values (a MatMul,
            Gather, Concat or Cast of constants) is summed over the file and
            held to fastrnn.onnx's folded_elements limit (2**27 elements or
            loops by default; fastrnn.onnx.set_limits).
        UnsupportedModelError (InvalidModelError's base, a ValueError): any
            other op, an attribute the op does not have at the model's opset,
            what fastrnn's classes cannot hold (a finite clip, direction
            'reverse', RNN activations other than one Tanh or Relu for all
            directions, LSTM/GRU activations other than torch's (Sigmoid,
            Tanh, Tanh / Sigmoid, Tanh) and so activation parameters, LSTM
            input_forget=1 or non-zero peepholes P, GRU
            linear_before_reset=0), sequence_lens that is not one graph input
            read by every layer, a non-zero stored initial
            state, or layers of different ops. The message names the node,
            op_type, input or attribute. Recurrent nodes wired otherwise than a
            plain stack (what torch's dynamo exporter writes for a bare
            nn.LSTM or nn.GRU: Reshape of Y) load as a GraphModel.
    """
    proto = read_model(f)
    from fastrnn.onnx._model import graph_model, is_whole_model

    if is_whole_model(proto):  # layers around the recurrent ones: the whole graph
        return graph_model(proto)
    walk = _Walk(proto.graph, model_opset(proto))
    try:
        walk.run()
    except NotAStack:
        # recurrent nodes and shape ops wired otherwise than a stack of layers (what
        # torch's dynamo exporter writes for a bare nn.LSTM or nn.GRU): the whole graph
        return graph_model(proto)
    return _build_model(walk)
