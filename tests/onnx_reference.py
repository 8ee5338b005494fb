"""The ONNX RNN operator in plain numpy, for checking fastrnn's backend.

Written from the operator's documentation, one time step at a time, with
onnxruntime's reading of sequence_lens: Y is zero at t >= len, the reverse
pass of a sequence starts at t = len-1, and Y_h is a sequence's last output
(zero for a sequence of length 0). It takes every activation parameter
explicitly, per direction: turning a node's activation_alpha/beta lists and
defaults into those numbers is the backend's job and is tested separately.
Nothing here imports fastrnn or onnxruntime.
"""
import numpy as np

ACTIVATIONS = ("Relu", "Tanh", "Sigmoid", "Affine", "LeakyRelu", "ThresholdedRelu",
               "ScaledTanh", "HardSigmoid", "Elu", "Softsign", "Softplus")
TAKES_ALPHA = {"Affine", "LeakyRelu", "ThresholdedRelu", "ScaledTanh", "HardSigmoid", "Elu"}
TAKES_BETA = {"Affine", "ScaledTanh", "HardSigmoid"}


def activation(name, v, alpha=None, beta=None):
    """f(v) for one of the RNN activations, with the formulas of the ONNX docs."""
    if name == "Relu":
        return np.maximum(v, 0)
    if name == "Tanh":
        return np.tanh(v)
    if name == "Sigmoid":
        return 1 / (1 + np.exp(-v))
    if name == "Affine":
        return alpha * v + beta
    if name == "LeakyRelu":
        return np.where(v >= 0, v, alpha * v)
    if name == "ThresholdedRelu":
        return np.where(v > alpha, v, 0)
    if name == "ScaledTanh":
        return alpha * np.tanh(beta * v)
    if name == "HardSigmoid":
        return np.minimum(np.maximum(alpha * v + beta, 0), 1)
    if name == "Elu":
        return np.where(v >= 0, v, alpha * (np.exp(np.minimum(v, 0)) - 1))
    if name == "Softsign":
        return v / (1 + np.abs(v))
    if name == "Softplus":
        return np.logaddexp(0, v)  # log(1 + e^v) without overflow
    raise ValueError(f"unknown activation {name}")


def rnn(X, W, R, B=None, sequence_lens=None, initial_h=None, *, direction="forward",
        activations=None, alphas=None, betas=None, clip=None, layout=0, dtype=np.float64):
    """(Y, Y_h) of an ONNX RNN node, computed in `dtype`.

    activations, alphas, betas: one entry per direction (alpha/beta None where
    the activation takes none). Shapes follow `layout` as in the ONNX docs.
    """
    X = np.asarray(X, dtype)
    if layout == 1:
        X = X.transpose(1, 0, 2)
    T, N, _ = X.shape
    D = 2 if direction == "bidirectional" else 1
    H = W.shape[1]
    W, R = np.asarray(W, dtype), np.asarray(R, dtype)
    B = np.zeros((D, 2 * H), dtype) if B is None else np.asarray(B, dtype)
    if initial_h is None:
        h0 = np.zeros((D, N, H), dtype)
    else:
        h0 = np.asarray(initial_h, dtype)
        if layout == 1:
            h0 = h0.transpose(1, 0, 2)
    lengths = np.full(N, T) if sequence_lens is None else np.asarray(sequence_lens)
    activations = activations or ["Tanh"] * D
    alphas = alphas or [None] * D
    betas = betas or [None] * D

    Y = np.zeros((T, D, N, H), dtype)
    Y_h = np.zeros((D, N, H), dtype)
    for d in range(D):
        backwards = direction == "reverse" or d == 1
        for n in range(N):
            h = h0[d, n]
            # Each sequence covers t < len; the reverse pass starts at its last step.
            steps = range(lengths[n] - 1, -1, -1) if backwards else range(lengths[n])
            for t in steps:
                v = X[t, n] @ W[d].T + h @ R[d].T + B[d, :H] + B[d, H:]
                if clip is not None:
                    v = np.clip(v, -clip, clip)
                h = activation(activations[d], v, alphas[d], betas[d])
                Y[t, d, n] = h
            # Y_h is the sequence's last output; one without steps has none: zero
            # (onnxruntime's reading).
            Y_h[d, n] = h if lengths[n] > 0 else 0
    if layout == 1:
        return Y.transpose(2, 0, 1, 3), Y_h.transpose(1, 0, 2)
    return Y, Y_h


def _common(X, W, R, B, sequence_lens, initial_h, direction, layout, gates, dtype):
    """Inputs shared by the three ops in time-major shapes, with their defaults filled in."""
    X = np.asarray(X, dtype)
    if layout == 1:
        X = X.transpose(1, 0, 2)
    T, N, _ = X.shape
    D = 2 if direction == "bidirectional" else 1
    H = W.shape[1] // gates
    W, R = np.asarray(W, dtype), np.asarray(R, dtype)
    B = np.zeros((D, 2 * gates * H), dtype) if B is None else np.asarray(B, dtype)
    lengths = np.full(N, T) if sequence_lens is None else np.asarray(sequence_lens)
    return X, W, R, B, lengths, _state(initial_h, D, N, H, layout, dtype), T, N, D, H


def _state(s, D, N, H, layout, dtype):
    if s is None:
        return np.zeros((D, N, H), dtype)
    s = np.asarray(s, dtype)
    return s.transpose(1, 0, 2) if layout == 1 else s


def _steps(length, backwards):
    # Each sequence covers t < len; the reverse pass starts at its last step.
    return range(length - 1, -1, -1) if backwards else range(length)


def _per_direction(values, D, default):
    """activations/alphas/betas: one list per direction, `default` when not given."""
    return [list(v) for v in values] if values is not None else [list(default)] * D


def _outputs(Y, states, layout):
    if layout == 1:
        return (Y.transpose(2, 0, 1, 3),) + tuple(s.transpose(1, 0, 2) for s in states)
    return (Y,) + tuple(states)


def lstm(X, W, R, B=None, sequence_lens=None, initial_h=None, initial_c=None, P=None, *,
         direction="forward", activations=None, alphas=None, betas=None, clip=None,
         input_forget=0, layout=0, dtype=np.float64):
    """(Y, Y_h, Y_c) of an ONNX LSTM node, computed in `dtype`.

    ONNX gate order: W, R rows (i, o, f, c); B = [Wb | Rb]; P (D, 3H) rows
    (i, o, f). activations[d] = [f, g, h] names (default Sigmoid, Tanh, Tanh),
    alphas[d]/betas[d] three values (None where unused). As onnxruntime: the
    peephole term is part of the pre-activation that clip bounds, clip does
    not reach h(C_t), and input_forget sets f = 1 - i.
    """
    X, W, R, B, lengths, h0, T, N, D, H = _common(
        X, W, R, B, sequence_lens, initial_h, direction, layout, 4, dtype)
    c0 = _state(initial_c, D, N, H, layout, dtype)
    P = np.zeros((D, 3 * H), dtype) if P is None else np.asarray(P, dtype)
    activations = _per_direction(activations, D, ["Sigmoid", "Tanh", "Tanh"])
    alphas = _per_direction(alphas, D, [None] * 3)
    betas = _per_direction(betas, D, [None] * 3)

    def bound(v):
        return v if clip is None else np.clip(v, -clip, clip)

    Y = np.zeros((T, D, N, H), dtype)
    Y_h = np.zeros((D, N, H), dtype)
    Y_c = np.zeros((D, N, H), dtype)
    for d in range(D):
        (f, g, h_act), al, be = activations[d], alphas[d], betas[d]
        p_i, p_o, p_f = P[d, :H], P[d, H:2 * H], P[d, 2 * H:]
        for n in range(N):
            h, c = h0[d, n], c0[d, n]
            for t in _steps(lengths[n], direction == "reverse" or d == 1):
                a = X[t, n] @ W[d].T + h @ R[d].T + B[d, :4 * H] + B[d, 4 * H:]
                a_i, a_o, a_f, a_c = a[:H], a[H:2 * H], a[2 * H:3 * H], a[3 * H:]
                i = activation(f, bound(a_i + p_i * c), al[0], be[0])
                if input_forget:
                    forget = 1 - i
                else:
                    forget = activation(f, bound(a_f + p_f * c), al[0], be[0])
                c = forget * c + i * activation(g, bound(a_c), al[1], be[1])
                o = activation(f, bound(a_o + p_o * c), al[0], be[0])
                h = o * activation(h_act, c, al[2], be[2])
                Y[t, d, n] = h
            # A sequence without steps has no last output: zero (onnxruntime).
            Y_h[d, n] = h if lengths[n] > 0 else 0
            Y_c[d, n] = c if lengths[n] > 0 else 0
    return _outputs(Y, (Y_h, Y_c), layout)


def gru(X, W, R, B=None, sequence_lens=None, initial_h=None, *, direction="forward",
        activations=None, alphas=None, betas=None, clip=None, linear_before_reset=0,
        layout=0, dtype=np.float64):
    """(Y, Y_h) of an ONNX GRU node, computed in `dtype`.

    ONNX gate order: W, R rows (z, r, h); B = [Wb | Rb]. activations[d] =
    [f, g] names (default Sigmoid, Tanh), alphas[d]/betas[d] two values (None
    where unused). clip bounds the pre-activations of z, r and the candidate.
    """
    X, W, R, B, lengths, h0, T, N, D, H = _common(
        X, W, R, B, sequence_lens, initial_h, direction, layout, 3, dtype)
    activations = _per_direction(activations, D, ["Sigmoid", "Tanh"])
    alphas = _per_direction(alphas, D, [None] * 2)
    betas = _per_direction(betas, D, [None] * 2)

    def bound(v):
        return v if clip is None else np.clip(v, -clip, clip)

    Y = np.zeros((T, D, N, H), dtype)
    Y_h = np.zeros((D, N, H), dtype)
    for d in range(D):
        (f, g), al, be = activations[d], alphas[d], betas[d]
        Wz, Wr, Wh = W[d, :H], W[d, H:2 * H], W[d, 2 * H:]
        Rz, Rr, Rh = R[d, :H], R[d, H:2 * H], R[d, 2 * H:]
        Wbz, Wbr, Wbh, Rbz, Rbr, Rbh = np.split(B[d], 6)
        for n in range(N):
            h = h0[d, n]
            for t in _steps(lengths[n], direction == "reverse" or d == 1):
                x = X[t, n]
                z = activation(f, bound(x @ Wz.T + h @ Rz.T + Wbz + Rbz), al[0], be[0])
                r = activation(f, bound(x @ Wr.T + h @ Rr.T + Wbr + Rbr), al[0], be[0])
                if linear_before_reset:
                    cand = x @ Wh.T + r * (h @ Rh.T + Rbh) + Wbh
                else:
                    cand = x @ Wh.T + (r * h) @ Rh.T + Rbh + Wbh
                h = (1 - z) * activation(g, bound(cand), al[1], be[1]) + z * h
                Y[t, d, n] = h
            Y_h[d, n] = h if lengths[n] > 0 else 0
    return _outputs(Y, (Y_h,), layout)
