"""A layer run on the kernels' one entry, fastrnn._kernels.Layer, from argument lists:
one function per kind taking the weights, the settings and the call's buffers. A Layer is
built from the weights (checked once, as a model builds it) and run on the buffers
(checked per call, as every call is); the tests of the kernels' paths and checks call
these. gated_call makes the random arguments of one LSTM/GRU call, run_gated runs them
on a given path."""
import numpy as np

import onnx_reference
from fastrnn import _kernels


def rnn_layer(x, out, w_ih, w_hh, b_ih, b_hh, h0, hn, lens, L, batch_major, reverse, act,
              alpha, beta, clip, recurrent="auto"):
    layer = _kernels.Layer("rnn", w_ih, w_hh, b_ih, b_hh, reverse=reverse, act=act,
                           alpha=alpha, beta=beta, clip=clip, recurrent=recurrent)
    layer.run(x, out, h0, None, hn, None, lens, L, batch_major)


def lstm_layer(x, out, w_ih, w_hh, b_ih, b_hh, w_hr, peep, h0, c0, hn, cn, lens, L,
               batch_major, reverse, act, alpha, beta, clip, input_forget, recurrent="auto"):
    layer = _kernels.Layer("lstm", w_ih, w_hh, b_ih, b_hh, w_hr, peep, reverse=reverse,
                           act=act, alpha=alpha, beta=beta, clip=clip, option=input_forget,
                           recurrent=recurrent)
    layer.run(x, out, h0, c0, hn, cn, lens, L, batch_major)


def gru_layer(x, out, w_ih, w_hh, b_ih, b_hh, h0, hn, lens, L, batch_major, reverse, act,
              alpha, beta, clip, linear_before_reset, recurrent="auto"):
    layer = _kernels.Layer("gru", w_ih, w_hh, b_ih, b_hh, reverse=reverse, act=act,
                           alpha=alpha, beta=beta, clip=clip, option=linear_before_reset,
                           recurrent=recurrent)
    layer.run(x, out, h0, None, hn, None, lens, L, batch_major)


# Parameters for the activations that take them (ONNX's meaning of alpha, beta).
ACT_PARAMS = {"Affine": (0.8, 0.1), "LeakyRelu": (0.1, 0.0), "ThresholdedRelu": (0.3, 0.0),
              "ScaledTanh": (1.2, 0.7), "HardSigmoid": (0.25, 0.45), "Elu": (0.9, 0.0)}


def gated_call(kind, dtype, L, N, I, H, D=1, reverse=False, batch_major=False, bias=True,
               h0=True, c0=True, lens=None, clip=np.inf, peep=False, input_forget=False,
               acts=None, lbr=True, proj=0, seed=0):
    """Random arrays for one lstm_layer/gru_layer call, as a dict of its arguments."""
    rng = np.random.default_rng(seed)
    G, K = (4, 3) if kind == "lstm" else (3, 2)
    P = proj or H
    acts = acts or (["Sigmoid", "Tanh", "Tanh"] if kind == "lstm" else ["Sigmoid", "Tanh"])

    def r(*shape, scale=1.0):
        return (rng.standard_normal(shape) * scale).astype(dtype)

    args = dict(
        x=r(L * N, I), out=np.full((L * N, D * P), np.nan, dtype),
        w_ih=r(D, G * H, I, scale=1 / np.sqrt(I)), w_hh=r(D, G * H, P, scale=1 / np.sqrt(P)),
        b_ih=r(D, G * H) if bias else None, b_hh=r(D, G * H) if bias else None)
    if kind == "lstm":
        args.update(w_hr=r(D, P, H, scale=1 / np.sqrt(H)) if proj else None,
                    peep=r(D, 3, H) if peep else None)
    args["h0"] = r(D, N, P) if h0 else None
    if kind == "lstm":
        args["c0"] = r(D, N, H) if c0 else None
    args["hn"] = np.full((D, N, P), np.nan, dtype)
    if kind == "lstm":
        args["cn"] = np.full((D, N, H), np.nan, dtype)
    args.update(
        lens=None if lens is None else np.array(lens, np.int32), L=L, batch_major=batch_major,
        reverse=np.array([1] if reverse else [0, 1][:D], np.int32),
        act=np.array([[onnx_reference.ACTIVATIONS.index(a) for a in acts]] * D, np.int32),
        alpha=np.array([[ACT_PARAMS.get(a, (0, 0))[0] for a in acts]] * D, np.float64),
        beta=np.array([[ACT_PARAMS.get(a, (0, 0))[1] for a in acts]] * D, np.float64),
        clip=clip, option=input_forget if kind == "lstm" else lbr)
    return args


def run_gated(kind, args, recurrent):
    """Run the kernel on copies of the outputs; returns (out, hn[, cn])."""
    args = dict(args)
    outputs = ["out", "hn"] + (["cn"] if kind == "lstm" else [])
    for name in outputs:
        args[name] = args[name].copy()
    layer = lstm_layer if kind == "lstm" else gru_layer
    layer(*args.values(), recurrent=recurrent)
    return tuple(args[name] for name in outputs)
