"""The one place that maps torch's names to ONNX's: parameters to recurrent
tensors, and nonlinearities to activation functions.

An ONNX RNN node holds one layer, all directions, in three tensors:

    W [D, G*H, I]   W[d] = weight_ih_l{k}{suffix}
    R [D, G*H, H]   R[d] = weight_hh_l{k}{suffix}
    B [D, 2*G*H]    B[d] = concat(bias_ih_l{k}{suffix}, bias_hh_l{k}{suffix})

where k is the layer, D the number of directions, G the number of gates
(1 for RNN) and H the hidden size. Direction index 0 is the forward pass and
uses torch's unsuffixed parameters; index 1 runs backwards and uses the
``_reverse`` ones (fastrnn.rnn.parameter_name spells them).

Gates: torch and ONNX stack the G gate blocks of W, R and B in different
orders for LSTM and GRU. GATE_ORDER says, for each op, which torch gate block
fills each ONNX gate block. Only RNN (one gate, nothing to reorder) is
implemented. LSTM and GRU would be added here as further entries, e.g. LSTM
torch (i, f, g, o) -> ONNX (i, o, f, c) is (0, 3, 1, 2), after checking them
against torch and onnxruntime.

Activations: ONNX's recurrent ops name their functions "Tanh", "Relu",
"LeakyRelu", ...; torch.nn.RNN's nonlinearity is "tanh" or "relu", and the
kernels (fastrnn._kernels.ACTIVATIONS) key their codes by the lower-case
ONNX name, which for tanh and relu is also torch's. ACTIVATIONS holds both
spellings; ONNX files may write a name in any case, so onnx_activation reads one.
"""
import numpy as np

from fastrnn.rnn import parameter_name

# op_type -> for each ONNX gate block, the index of the torch gate block.
GATE_ORDER = {"RNN": (0,)}

# Lower-case name (a key of fastrnn._kernels.ACTIVATIONS) -> ONNX's spelling,
# in the order the ONNX operator documents them.
ACTIVATIONS = {name.lower(): name for name in (
    "Relu", "Tanh", "Sigmoid", "Affine", "LeakyRelu", "ThresholdedRelu", "ScaledTanh",
    "HardSigmoid", "Elu", "Softsign", "Softplus")}

# torch.nn.RNN's nonlinearities: the lower-case names of the activations it has.
TORCH_NONLINEARITIES = ("tanh", "relu")


def onnx_activation(name):
    """ONNX's spelling of an activation named in any case ("TANH" -> "Tanh"), or None."""
    return ACTIVATIONS.get(name.lower())


def torch_nonlinearity(activation):
    """torch's nonlinearity for an ONNX activation in any case ("Relu" -> "relu"), or None
    when torch.nn.RNN has no such nonlinearity."""
    name = activation.lower()
    return name if name in TORCH_NONLINEARITIES else None


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
        def torch_block(kind):
            return _reorder(np.asarray(parameters[parameter_name(kind, layer, d)]), order)
        W.append(torch_block("weight_ih"))
        R.append(torch_block("weight_hh"))
        if bias:
            B.append(np.concatenate([torch_block("bias_ih"), torch_block("bias_hh")]))
    return np.stack(W), np.stack(R), (np.stack(B) if bias else None)


def torch_layer_parameters(W, R, B, layer, op="RNN"):
    """The inverse of onnx_layer_tensors: {torch name: array} for one layer.

    B may be None (no bias parameters). Shapes must already be checked:
    W [D, G*H, I], R [D, G*H, H], B [D, 2*G*H].
    """
    inverse = tuple(np.argsort(_gates(op)))
    parameters = {}
    for d in range(W.shape[0]):
        parameters[parameter_name("weight_ih", layer, d)] = _reorder(W[d], inverse)
        parameters[parameter_name("weight_hh", layer, d)] = _reorder(R[d], inverse)
        if B is not None:
            b_ih, b_hh = np.split(B[d], 2)
            parameters[parameter_name("bias_ih", layer, d)] = _reorder(b_ih, inverse)
            parameters[parameter_name("bias_hh", layer, d)] = _reorder(b_hh, inverse)
    return parameters
