"""The one place that maps torch's names to ONNX's: parameters to recurrent
tensors, gate orders, and nonlinearities to activation functions.

An ONNX RNN, GRU or LSTM node holds one layer, all directions, in three tensors:

    W [D, G*H, I]   W[d] = weight_ih_l{k}{suffix}, gate blocks reordered
    R [D, G*H, H]   R[d] = weight_hh_l{k}{suffix}, gate blocks reordered
    B [D, 2*G*H]    B[d] = concat(bias_ih_l{k}{suffix}, bias_hh_l{k}{suffix}), each reordered

where k is the layer, D the number of directions, G the number of gates
(RNN 1, GRU 3, LSTM 4) and H the hidden size. Direction index 0 is the
forward pass and uses torch's unsuffixed parameters; index 1 runs backwards
and uses the ``_reverse`` ones (fastrnn._base.parameter_name spells them).
An LSTM node may also hold peephole weights P [D, 3*H], which torch has not.

Gates: torch and ONNX stack the gate blocks of W, R and B in different
orders. fastrnn (its parameters and its kernels) uses torch's order:

    op     torch (and fastrnn's kernels)    ONNX
    LSTM   i, f, g, o                        i, o, f, c   (c is torch's g)
    GRU    r, z, n                           z, r, h      (h is torch's n)

GATE_ORDER says, for each op, which torch gate block fills each ONNX gate
block. PEEPHOLE_ORDER does the same for LSTM's P: ONNX stacks (i, o, f), the
kernel reads (i, f, o).

Projections: torch's LSTM with proj_size = P > 0 projects the hidden state,
h_t = W_hr (o_t * tanh(c_t)) with W_hr = weight_hr_l{k}{suffix} [P, H], and
feeds the projected h_{t-1} to W_hh [4H, P]. ONNX's LSTM has no projection,
but its hidden state can be the unprojected u_t = o_t * tanh(c_t): then
h_{t-1} W_hh^T = u_{t-1} (W_hh W_hr)^T, so the node's R is W_hh W_hr [4H, H]
(a MatMul of the two), and the outputs are Y W_hr^T and Y_h W_hr^T (MatMul
nodes). A given h_0 is projected and has no unprojected preimage in
general; it enters instead through the input: X gets D*P extra features that
hold h_0 of direction d at that direction's first step (t = 0 forward,
t = T-1 backward) and zeros elsewhere, and W gets W_hh of direction d as the
weights of direction d's features (recurrence_as_input), while initial_h is
zero. Each step then computes the same sums as torch's, grouped differently.

Activations: ONNX's recurrent ops name their functions "Tanh", "Relu",
"LeakyRelu", ...; torch.nn.RNN's nonlinearity is "tanh" or "relu", and the
kernels (fastrnn._kernels.ACTIVATIONS) key their codes by the lower-case
ONNX name, which for tanh and relu is also torch's. ACTIVATIONS holds both
spellings; ONNX files may write a name in any case, so onnx_activation reads one.
torch's LSTM and GRU use ONNX's default activations (TORCH_ACTIVATIONS).
"""
import numpy as np


from fastrnn._base import parameter_name
from fastrnn._kinds import MODE_OPS, OP_GATES

# op_type -> for each ONNX gate block, the index of the torch gate block.
GATE_ORDER = {
    "RNN": (0,),
    "LSTM": (0, 3, 1, 2),  # ONNX (i, o, f, c) <- torch (i, f, g, o)
    "GRU": (1, 0, 2),  # ONNX (z, r, h) <- torch (r, z, n)
}

# LSTM peepholes: for each kernel block (i, f, o), the index of the ONNX block of P (i, o, f).
PEEPHOLE_ORDER = (0, 2, 1)

# torch's mode (fastrnn's model.mode) -> the ONNX op of one of its layers.
OPS = MODE_OPS

# Lower-case name (a key of fastrnn._kernels.ACTIVATIONS) -> ONNX's spelling,
# in the order the ONNX operator documents them.
ACTIVATIONS = {name.lower(): name for name in (
    "Relu", "Tanh", "Sigmoid", "Affine", "LeakyRelu", "ThresholdedRelu", "ScaledTanh",
    "HardSigmoid", "Elu", "Softsign", "Softplus")}

# torch.nn.RNN's nonlinearities: the lower-case names of the activations it has.
TORCH_NONLINEARITIES = ("tanh", "relu")

# The activations of one direction of torch's LSTM (f, g, h) and GRU (f, g): the
# ONNX operators' defaults, which torch's layers compute.
TORCH_ACTIVATIONS = {"LSTM": ("Sigmoid", "Tanh", "Tanh"), "GRU": ("Sigmoid", "Tanh")}


def onnx_activation(name):
    """ONNX's spelling of an activation named in any case ("TANH" -> "Tanh"), or None."""
    return ACTIVATIONS.get(name.lower())


def torch_nonlinearity(activation):
    """torch's nonlinearity for an ONNX activation in any case ("Relu" -> "relu"), or None
    when torch.nn.RNN has no such nonlinearity."""
    name = activation.lower()
    return name if name in TORCH_NONLINEARITIES else None


def onnx_op(mode):
    """The ONNX op of a layer of a model with torch's `mode` ("LSTM", "RNN_TANH", ...)."""
    try:
        return OPS[mode]
    except KeyError:
        raise ValueError(f"no ONNX op for mode {mode!r}; known: {', '.join(OPS)}") from None


def gate_count(op):
    """G, the number of gate blocks of an op's W, R and half of B."""
    _gates(op)  # (the op's name checked)
    return OP_GATES[op]


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
    if len(order) == 1:
        return rows.copy()
    blocks = np.split(rows, len(order), axis=0)
    return np.concatenate([blocks[i] for i in order], axis=0)


def _reorder_all(array, order):
    """_reorder along axis 1 of a stack of directions ([D, G*H, ...] or [D, G*H])."""
    if len(order) == 1:
        return array
    blocks = np.split(array, len(order), axis=1)
    return np.concatenate([blocks[i] for i in order], axis=1)


def onnx_layer_tensors(parameters, layer, num_directions, bias, op="RNN"):
    """W, R, B (B is None without bias) of one layer from torch-named parameters.

    parameters: mapping of torch names to arrays (fastrnn.RNN.named_parameters(),
    a state_dict). The results are new arrays, gate blocks in ONNX's order.
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


def kernel_gates(array, op):
    """An ONNX W or R [D, G*H, ...] (gate blocks in ONNX's order) as the kernels read it:
    gate blocks in torch's order, C-contiguous. Shapes must already be checked."""
    inverse = tuple(np.argsort(_gates(op)))
    return np.ascontiguousarray(_reorder_all(array, inverse))


def kernel_biases(B, op):
    """An ONNX B [D, 2*G*H] = [Wb | Rb] as the kernels' (b_ih, b_hh), each [D, G*H] in
    torch's gate order, C-contiguous."""
    return tuple(kernel_gates(half, op) for half in np.split(B, 2, axis=1))


def kernel_peepholes(P):
    """ONNX's P [D, 3*H] (blocks i, o, f) as the kernel's peep [D, 3, H] (i, f, o)."""
    D = P.shape[0]
    blocks = P.reshape(D, 3, -1)
    return np.ascontiguousarray(blocks[:, list(PEEPHOLE_ORDER)])


def projection_weights(parameters, layer, num_directions):
    """W_hr [D, P, H] of one layer of an LSTM with projections (see Projections above)."""
    return np.stack([np.asarray(parameters[parameter_name("weight_hr", layer, d)])
                     for d in range(num_directions)])


def torch_projection_parameters(W_hr, layer):
    """The inverse of projection_weights: {weight_hr_l{layer}{suffix}: W_hr[d]}."""
    return {parameter_name("weight_hr", layer, d): W_hr[d].copy() for d in range(W_hr.shape[0])}


def recurrence_as_input(R):
    """[D, 4H, D*P]: R [D, 4H, P] of direction d as the weights of features d*P..(d+1)*P,
    zero for the other direction's: the columns appended to W when h_0 enters through
    the input (see Projections above)."""
    D, rows, P = R.shape
    blocks = np.zeros((D, rows, D * P), R.dtype)
    for d in range(D):
        blocks[d, :, d * P:(d + 1) * P] = R[d]
    return blocks
