"""The one place that maps torch's parameter names to ONNX recurrent tensors.

An ONNX RNN node holds one layer, all directions, in three tensors:

    W [D, G*H, I]   W[d] = weight_ih_l{k}{suffix}
    R [D, G*H, H]   R[d] = weight_hh_l{k}{suffix}
    B [D, 2*G*H]    B[d] = concat(bias_ih_l{k}{suffix}, bias_hh_l{k}{suffix})

where k is the layer, D the number of directions, G the number of gates
(1 for RNN) and H the hidden size. Direction index 0 is the forward pass and
uses torch's unsuffixed parameters; index 1 runs backwards and uses the
``_reverse`` ones (DIRECTION_SUFFIXES).

Gates: torch and ONNX stack the G gate blocks of W, R and B in different
orders for LSTM and GRU. GATE_ORDER says, for each op, which torch gate block
fills each ONNX gate block. Only RNN (one gate, nothing to reorder) is
implemented. LSTM and GRU would be added here as further entries, e.g. LSTM
torch (i, f, g, o) -> ONNX (i, o, f, c) is (0, 3, 1, 2), after checking them
against torch and onnxruntime.
"""
import numpy as np

# ONNX direction index -> suffix of torch's parameter names.
DIRECTION_SUFFIXES = ("", "_reverse")

# op_type -> for each ONNX gate block, the index of the torch gate block.
GATE_ORDER = {"RNN": (0,)}


def torch_name(kind, layer, direction):
    """torch's name of a parameter: kind is weight_ih, weight_hh, bias_ih or bias_hh."""
    return f"{kind}_l{layer}{DIRECTION_SUFFIXES[direction]}"


def initializer_names(layer):
    """The names fastrnn's exporter gives layer `layer`'s W, R and B initializers."""
    return {"W": f"W_l{layer}", "R": f"R_l{layer}", "B": f"B_l{layer}"}


def _gates(op):
    try:
        return GATE_ORDER[op]
    except KeyError:
        raise ValueError(f"no torch <-> ONNX gate mapping for op {op!r}; known: "
                         f"{', '.join(GATE_ORDER)}") from None


def _reorder(rows, order):
    """Stack the gate blocks of `rows` (first axis G*H) in `order`."""
    blocks = np.split(rows, len(order), axis=0)
    return np.concatenate([blocks[i] for i in order], axis=0)


def onnx_layer_tensors(parameters, layer, num_directions, bias, op="RNN"):
    """W, R, B (B is None without bias) of one layer from torch-named parameters.

    parameters: mapping of torch names to arrays (fastrnn.RNN.named_parameters(),
    a state_dict). The results are new arrays.
    """
    order = _gates(op)
    W, R, B = [], [], []
    for d in range(num_directions):
        W.append(_reorder(np.asarray(parameters[torch_name("weight_ih", layer, d)]), order))
        R.append(_reorder(np.asarray(parameters[torch_name("weight_hh", layer, d)]), order))
        if bias:
            B.append(np.concatenate([
                _reorder(np.asarray(parameters[torch_name("bias_ih", layer, d)]), order),
                _reorder(np.asarray(parameters[torch_name("bias_hh", layer, d)]), order)]))
    return np.stack(W), np.stack(R), (np.stack(B) if bias else None)


def torch_layer_parameters(W, R, B, layer, op="RNN"):
    """The inverse of onnx_layer_tensors: {torch name: array} for one layer.

    B may be None (no bias parameters). Shapes must already be checked:
    W [D, G*H, I], R [D, G*H, H], B [D, 2*G*H].
    """
    inverse = tuple(np.argsort(_gates(op)))
    parameters = {}
    for d in range(W.shape[0]):
        parameters[torch_name("weight_ih", layer, d)] = _reorder(W[d], inverse)
        parameters[torch_name("weight_hh", layer, d)] = _reorder(R[d], inverse)
        if B is not None:
            b_ih, b_hh = np.split(B[d], 2)
            parameters[torch_name("bias_ih", layer, d)] = _reorder(b_ih, inverse)
            parameters[torch_name("bias_hh", layer, d)] = _reorder(b_hh, inverse)
    return parameters
