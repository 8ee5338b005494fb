"""fastrnn.RNN: a numpy counterpart of torch.nn.RNN for inference.

The configuration, parameters and checks live in fastrnn._base; this module
adds the nonlinearity and the Elman kernel layer.
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Any, Optional, Tuple

import numpy as np

from fastrnn import _kernels
from fastrnn._base import RNNBase
from fastrnn._types import Array, ArrayLike, DTypeLike

__all__ = ["RNN"]


class RNN(RNNBase):
    r"""Multi-layer Elman RNN with tanh or ReLU, applied to a numpy sequence.

    For each element of the input sequence, each layer computes

    .. math::
        h_t = \tanh(x_t W_{ih}^T + b_{ih} + h_{t-1} W_{hh}^T + b_{hh})

    where :math:`x_t` is the input at time t (the previous layer's output for
    layers above the first) and :math:`h_{t-1}` the hidden state at t-1 (h0 at
    t=0). ``nonlinearity='relu'`` uses ReLU instead of tanh. A plain loop that
    computes the same for one layer, one direction, batch_first=False::

        h = h0
        for t in range(L):
            h = np.tanh(x[t] @ weight_ih_l0.T + bias_ih_l0 + h @ weight_hh_l0.T + bias_hh_l0)
            output[t] = h

    A bidirectional layer also runs the sequence backwards with the
    ``*_reverse`` parameters and concatenates both directions' outputs.

    Args:
        input_size: number of features of the input, H_in.
        hidden_size: number of features of the hidden state, H_out.
        num_layers: number of stacked recurrent layers. Default 1.
        nonlinearity: 'tanh' or 'relu'. Default 'tanh'.
        bias: whether the layers have b_ih and b_hh. Default True.
        batch_first: input and output are (N, L, feature) instead of
            (L, N, feature). h0 and h_n are never batch-first. Default False.
        dropout: stored for compatibility; fastrnn is for inference and never
            drops anything. Default 0.
        bidirectional: run each layer in both directions. Default False.
        dtype: numpy.float32 (default) or numpy.float64; torch.float32 and
            torch.float64 are understood too.
        device: None or 'cpu', for torch code that passes it.
        proj_size: must be 0, as for torch.nn.RNN (projections are LSTM-only).
        seed: int, numpy.random.Generator or None: the source of the initial
            parameters, drawn from U(-1/sqrt(H_out), 1/sqrt(H_out)) as torch does.

    Inputs: input, hx
        input: (L, H_in) unbatched, (L, N, H_in), or (N, L, H_in) with
            batch_first. Any array-like of real numbers (CPU torch tensors
            too); it is cast to the model's dtype and never modified.
        hx: initial hidden state, (D * num_layers, H_out) unbatched or
            (D * num_layers, N, H_out); zeros when None.

    Outputs: output, h_n
        output: (L, D * H_out) unbatched, (L, N, D * H_out), or
            (N, L, D * H_out) with batch_first: the last layer's h_t for every t.
        h_n: (D * num_layers, H_out) or (D * num_layers, N, H_out): every
            layer's final hidden state; layer k direction d is row k * D + d.

    where N is the batch size, L the sequence length and D = 2 if
    bidirectional else 1.

    Example::

        >>> import numpy as np, fastrnn
        >>> rnn = fastrnn.RNN(10, 20, 2, seed=0)
        >>> x = np.random.default_rng(1).standard_normal((5, 3, 10), dtype=np.float32)
        >>> h0 = np.zeros((2, 3, 20), np.float32)
        >>> output, hn = rnn(x, h0)
        >>> output.shape, hn.shape
        ((5, 3, 20), (2, 3, 20))
    """

    _torch_class_name = "RNN"
    _extra_torch_args = ("nonlinearity",)

    if TYPE_CHECKING:
        def forward(self, input: ArrayLike, hx: Optional[ArrayLike] = None,
                    lengths: Optional[ArrayLike] = None) -> Tuple[Array, Array]: ...

        def __call__(self, input: ArrayLike, hx: Optional[ArrayLike] = None,
                     lengths: Optional[ArrayLike] = None) -> Tuple[Array, Array]: ...

    def __init__(self, input_size: int, hidden_size: int, num_layers: int = 1,
                 nonlinearity: str = "tanh", bias: bool = True, batch_first: bool = False,
                 dropout: float = 0.0, bidirectional: bool = False, dtype: DTypeLike = np.float32,
                 *, device: Any = None, proj_size: int = 0, seed: Any = None) -> None:
        if nonlinearity not in ("tanh", "relu"):
            raise ValueError(f"Unknown nonlinearity '{nonlinearity}'. Select from 'tanh' or 'relu'.")
        mode = "RNN_TANH" if nonlinearity == "tanh" else "RNN_RELU"
        super().__init__(mode, input_size, hidden_size, num_layers, bias, batch_first, dropout,
                         bidirectional, proj_size, dtype, device, seed)
        object.__setattr__(self, "nonlinearity", nonlinearity)
        self._build_kernels((nonlinearity,))

    _config_names = RNNBase._config_names + ("nonlinearity",)

    def _kernel_layer(self, block):
        return _kernels.Layer("rnn", block["weight_ih"], block["weight_hh"], block["bias_ih"],
                              block["bias_hh"], reverse=self._reverse, act=self._act,
                              alpha=self._no_act_params, beta=self._no_act_params,
                              frozen=self._frozen)

    def _init_args(self):
        return super()._init_args() | dict(nonlinearity=self.nonlinearity)
