"""A layer run on the kernels' one entry, fastrnn._kernels.Layer, from argument lists:
one function per kind taking the weights, the settings and the call's buffers. A Layer is
built from the weights (checked once, as a model builds it) and run on the buffers
(checked per call, as every call is); the tests of the kernels' paths and checks call
these."""
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
