"""fastrnn.GRU: a numpy counterpart of torch.nn.GRU for inference.

The configuration, parameters and checks live in fastrnn._base; this module
adds the GRU kernel call.
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Any, Optional, Tuple

import numpy as np

from fastrnn import _kernels
from fastrnn._base import RNNBase
from fastrnn._types import Array, ArrayLike, DTypeLike

__all__ = ["GRU"]


class GRU(RNNBase):
    r"""Multi-layer gated recurrent unit (GRU) RNN applied to a numpy sequence.

    For each element of the input sequence, each layer computes

    .. math::
        \begin{array}{ll}
        r_t = \sigma(W_{ir} x_t + b_{ir} + W_{hr} h_{t-1} + b_{hr}) \\
        z_t = \sigma(W_{iz} x_t + b_{iz} + W_{hz} h_{t-1} + b_{hz}) \\
        n_t = \tanh(W_{in} x_t + b_{in} + r_t \odot (W_{hn} h_{t-1} + b_{hn})) \\
        h_t = (1 - z_t) \odot n_t + z_t \odot h_{t-1}
        \end{array}

    where :math:`x_t` is the input at time t (the previous layer's output for
    layers above the first), :math:`h_{t-1}` the hidden state at t-1 (h_0 at
    t=0) and :math:`\sigma` the sigmoid. The reset gate multiplies the
    recurrent product after it is taken (ONNX's linear_before_reset=1). The
    three gates are stacked in the order (r, z, n) in weight_ih_l[k],
    weight_hh_l[k] and the biases, as in torch. A plain loop that computes the
    same for one layer, one direction, batch_first=False::

        h = h0
        for t in range(L):
            xr, xz, xn = np.split(x[t] @ weight_ih_l0.T + bias_ih_l0, 3, axis=-1)
            hr, hz, hn = np.split(h @ weight_hh_l0.T + bias_hh_l0, 3, axis=-1)
            r, z = sigmoid(xr + hr), sigmoid(xz + hz)
            n = np.tanh(xn + r * hn)
            h = (1 - z) * n + z * h
            output[t] = h

    A bidirectional layer also runs the sequence backwards with the
    ``*_reverse`` parameters and concatenates both directions' outputs.

    Args:
        input_size: number of features of the input, H_in.
        hidden_size: number of features of the hidden state, H_out.
        num_layers: number of stacked GRU layers. Default 1.
        bias: whether the layers have b_ih and b_hh. Default True.
        batch_first: input and output are (N, L, feature) instead of
            (L, N, feature). h_0 and h_n are never batch-first. Default False.
        dropout: stored for compatibility; fastrnn is for inference and never
            drops anything. Default 0.
        bidirectional: run each layer in both directions. Default False.
        dtype: numpy.float32 (default) or numpy.float64; torch.float32 and
            torch.float64 are understood too.
        device: None or 'cpu', for torch code that passes it.
        proj_size: must be 0, as for torch.nn.GRU (projections are LSTM-only).
        seed: int, numpy.random.Generator or None: the source of the initial
            parameters, drawn from U(-1/sqrt(H_out), 1/sqrt(H_out)) as torch does.

    Inputs: input, h_0
        input: (L, H_in) unbatched, (L, N, H_in), or (N, L, H_in) with
            batch_first. Any array-like of real numbers (CPU torch tensors
            too); it is cast to the model's dtype and never modified.
        h_0: initial hidden state, (D * num_layers, H_out) unbatched or
            (D * num_layers, N, H_out); zeros when None.

    Outputs: output, h_n
        output: (L, D * H_out) unbatched, (L, N, D * H_out), or
            (N, L, D * H_out) with batch_first: the last layer's h_t for every t.
        h_n: (D * num_layers, [N,] H_out): every layer's final hidden state;
            layer k direction d is row k * D + d.

    where N is the batch size, L the sequence length and D = 2 if
    bidirectional else 1.

    Example::

        >>> import numpy as np, fastrnn
        >>> gru = fastrnn.GRU(10, 20, 2, seed=0)
        >>> x = np.random.default_rng(1).standard_normal((5, 3, 10), dtype=np.float32)
        >>> h0 = np.zeros((2, 3, 20), np.float32)
        >>> output, hn = gru(x, h0)
        >>> output.shape, hn.shape
        ((5, 3, 20), (2, 3, 20))
    """

    _torch_class_name = "GRU"

    if TYPE_CHECKING:
        def forward(self, input: ArrayLike, hx: Optional[ArrayLike] = None,
                    lengths: Optional[ArrayLike] = None) -> Tuple[Array, Array]: ...

        def __call__(self, input: ArrayLike, hx: Optional[ArrayLike] = None,
                     lengths: Optional[ArrayLike] = None) -> Tuple[Array, Array]: ...

    def __init__(self, input_size: int, hidden_size: int, num_layers: int = 1, bias: bool = True,
                 batch_first: bool = False, dropout: float = 0.0, bidirectional: bool = False,
                 dtype: DTypeLike = np.float32, *, device: Any = None, proj_size: int = 0,
                 seed: Any = None) -> None:
        super().__init__("GRU", input_size, hidden_size, num_layers, bias, batch_first,
                         dropout, bidirectional, proj_size, dtype, device, seed)
        # The ONNX op's f (gates) and g (candidate).
        self._build_kernels(("sigmoid", "tanh"))

    def _kernel_layer(self, block):
        # option = linear_before_reset=1: torch applies r after the recurrent product.
        return _kernels.Layer("gru", block["weight_ih"], block["weight_hh"], block["bias_ih"],
                              block["bias_hh"], reverse=self._reverse, act=self._act,
                              alpha=self._no_act_params, beta=self._no_act_params, option=True,
                              frozen=self._frozen)
