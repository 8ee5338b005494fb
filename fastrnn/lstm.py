"""fastrnn.LSTM: a numpy counterpart of torch.nn.LSTM for inference.

The configuration, parameters and checks live in fastrnn._base; this module
adds the (h_0, c_0) state checks and the LSTM kernel call.
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Any, Optional, Tuple

import numpy as np

from fastrnn import _kernels
from fastrnn._arrays import ShapeError, real_array
from fastrnn._base import RNNBase
from fastrnn._types import Array, ArrayLike, DTypeLike, LSTMState, LSTMStateLike

__all__ = ["LSTM"]


class LSTM(RNNBase):
    r"""Multi-layer long short-term memory (LSTM) RNN applied to a numpy sequence.

    For each element of the input sequence, each layer computes

    .. math::
        \begin{array}{ll}
        i_t = \sigma(W_{ii} x_t + b_{ii} + W_{hi} h_{t-1} + b_{hi}) \\
        f_t = \sigma(W_{if} x_t + b_{if} + W_{hf} h_{t-1} + b_{hf}) \\
        g_t = \tanh(W_{ig} x_t + b_{ig} + W_{hg} h_{t-1} + b_{hg}) \\
        o_t = \sigma(W_{io} x_t + b_{io} + W_{ho} h_{t-1} + b_{ho}) \\
        c_t = f_t \odot c_{t-1} + i_t \odot g_t \\
        h_t = o_t \odot \tanh(c_t)
        \end{array}

    where :math:`x_t` is the input at time t (the previous layer's output for
    layers above the first), :math:`h_{t-1}` and :math:`c_{t-1}` the hidden
    and cell states at t-1 (h_0 and c_0 at t=0) and :math:`\sigma` the
    sigmoid. The four gates are stacked in the order (i, f, g, o) in
    weight_ih_l[k], weight_hh_l[k] and the biases, as in torch. With
    ``proj_size > 0`` the hidden state is projected,
    :math:`h_t = W_{hr}(o_t \odot \tanh(c_t))`, and has proj_size features.
    A plain loop that computes the same for one layer, one direction,
    batch_first=False, no projection::

        h, c = h0, c0
        for t in range(L):
            a = x[t] @ weight_ih_l0.T + bias_ih_l0 + h @ weight_hh_l0.T + bias_hh_l0
            i, f, g, o = np.split(a, 4, axis=-1)
            c = sigmoid(f) * c + sigmoid(i) * np.tanh(g)
            h = sigmoid(o) * np.tanh(c)
            output[t] = h

    A bidirectional layer also runs the sequence backwards with the
    ``*_reverse`` parameters and concatenates both directions' outputs.

    Args:
        input_size: number of features of the input, H_in.
        hidden_size: number of features of the cell state, H_cell.
        num_layers: number of stacked LSTM layers. Default 1.
        bias: whether the layers have b_ih and b_hh. Default True.
        batch_first: input and output are (N, L, feature) instead of
            (L, N, feature). h_0, c_0, h_n and c_n are never batch-first.
            Default False.
        dropout: stored for compatibility; fastrnn is for inference and never
            drops anything. Default 0.
        bidirectional: run each layer in both directions. Default False.
        proj_size: if > 0, project each h_t to this size with weight_hr_l[k].
            Must be smaller than hidden_size. Default 0.
        dtype: numpy.float32 (default) or numpy.float64; torch.float32 and
            torch.float64 are understood too.
        device: None or 'cpu', for torch code that passes it.
        seed: int, numpy.random.Generator or None: the source of the initial
            parameters, drawn from U(-1/sqrt(H_cell), 1/sqrt(H_cell)) as torch does.

    Inputs: input, (h_0, c_0)
        input: (L, H_in) unbatched, (L, N, H_in), or (N, L, H_in) with
            batch_first. Any array-like of real numbers (CPU torch tensors
            too); it is cast to the model's dtype and never modified.
        h_0: (D * num_layers, H_out) unbatched or (D * num_layers, N, H_out).
        c_0: (D * num_layers, H_cell) unbatched or (D * num_layers, N, H_cell).
            Both zeros when the pair is not given.

    Outputs: output, (h_n, c_n)
        output: (L, D * H_out) unbatched, (L, N, D * H_out), or
            (N, L, D * H_out) with batch_first: the last layer's h_t for every t.
        h_n: (D * num_layers, [N,] H_out): every layer's final hidden state;
            layer k direction d is row k * D + d.
        c_n: (D * num_layers, [N,] H_cell): every layer's final cell state.

    where N is the batch size, L the sequence length, D = 2 if bidirectional
    else 1, H_cell = hidden_size and H_out = proj_size if proj_size > 0 else
    hidden_size.

    Example::

        >>> import numpy as np, fastrnn
        >>> lstm = fastrnn.LSTM(10, 20, 2, seed=0)
        >>> x = np.random.default_rng(1).standard_normal((5, 3, 10), dtype=np.float32)
        >>> h0 = np.zeros((2, 3, 20), np.float32)
        >>> c0 = np.zeros((2, 3, 20), np.float32)
        >>> output, (hn, cn) = lstm(x, (h0, c0))
        >>> output.shape, hn.shape, cn.shape
        ((5, 3, 20), (2, 3, 20), (2, 3, 20))
    """

    _torch_class_name = "LSTM"
    _extra_torch_args = ("proj_size",)

    if TYPE_CHECKING:
        def forward(self, input: ArrayLike, hx: Optional[LSTMStateLike] = None,
                    lengths: Optional[ArrayLike] = None) -> Tuple[Array, LSTMState]: ...

        def __call__(self, input: ArrayLike, hx: Optional[LSTMStateLike] = None,
                     lengths: Optional[ArrayLike] = None) -> Tuple[Array, LSTMState]: ...

    def __init__(self, input_size: int, hidden_size: int, num_layers: int = 1, bias: bool = True,
                 batch_first: bool = False, dropout: float = 0.0, bidirectional: bool = False,
                 proj_size: int = 0, dtype: DTypeLike = np.float32, *, device: Any = None,
                 seed: Any = None) -> None:
        super().__init__("LSTM", input_size, hidden_size, num_layers, bias, batch_first,
                         dropout, bidirectional, proj_size, dtype, device, seed)
        # The ONNX op's f, g, h: sigmoid for the gates, tanh for the cell input and output.
        self._build_kernels(("sigmoid", "tanh", "tanh"))

    def _check_hx(self, hx, batched, N):
        """[h_0, c_0] as arrays of shape (D * num_layers, N, size), not yet cast."""
        if type(hx) is tuple and len(hx) == 2 and batched:
            h0, c0 = hx  # the common case, checked without building messages
            if (type(h0) is np.ndarray and type(c0) is np.ndarray
                    and h0.dtype == self.dtype and c0.dtype == self.dtype
                    and h0.shape == (self._state_rows, N, self.proj_size or self.hidden_size)
                    and c0.shape == (self._state_rows, N, self.hidden_size)):
                return [h0, c0]
        if not isinstance(hx, (tuple, list)) or len(hx) != 2:
            got = f"a {type(hx).__name__} of length {len(hx)}" if isinstance(hx, (tuple, list)) \
                else f"{type(hx).__name__}"
            # A ShapeError (also a RuntimeError): torch raises RuntimeError here.
            raise ShapeError(f"LSTM expects hx as a tuple (h_0, c_0), got {got}")
        h0, c0 = hx
        if type(h0) is not np.ndarray or h0.dtype.kind not in "fiu":
            h0 = real_array(h0, "hx[0]")
        if type(c0) is not np.ndarray or c0.dtype.kind not in "fiu":
            c0 = real_array(c0, "hx[1]")
        want = 3 if batched else 2
        if h0.ndim != want or c0.ndim != want:
            kind = "batched 3-D" if batched else "unbatched 2-D"
            raise ShapeError(f"For {kind} input, hx and cx should also be {want}-D but got "
                             f"({h0.ndim}-D, {c0.ndim}-D) tensors")
        h0 = self._check_state(h0, "hx[0]", self.output_size, batched, N,
                               "Expected hidden[0] size {}, got {}")
        c0 = self._check_state(c0, "hx[1]", self.hidden_size, batched, N,
                               "Expected hidden[1] size {}, got {}")
        return [h0, c0]

    def _kernel_layer(self, block):
        return _kernels.Layer("lstm", block["weight_ih"], block["weight_hh"], block["bias_ih"],
                              block["bias_hh"], block["weight_hr"], reverse=self._reverse,
                              act=self._act, alpha=self._no_act_params, beta=self._no_act_params,
                              frozen=self._frozen)

    def _init_args(self):
        return super()._init_args() | dict(proj_size=self.proj_size)
