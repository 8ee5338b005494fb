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
