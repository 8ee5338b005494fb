"""fastrnn.RNN: a numpy counterpart of torch.nn.RNN for inference.

This module validates, allocates and picks the kernel; fastrnn._kernels does
the arithmetic without the GIL.
"""
import collections
import collections.abc
import numbers
import warnings

import numpy as np

from fastrnn import _kernels
from fastrnn._arrays import (ShapeError, as_real_array, check_layer_sizes, model_dtype,
                             real_array)

__all__ = ["RNN"]

IncompatibleKeys = collections.namedtuple("IncompatibleKeys", ["missing_keys", "unexpected_keys"])


class StateDictKeyError(KeyError, RuntimeError):
    """A state dict's keys do not match the model's (torch raises RuntimeError)."""

    def __str__(self):  # KeyError quotes its message; print it plainly
        return str(self.args[0]) if self.args else ""


# Direction index -> suffix of torch's parameter names (1 runs backwards).
DIRECTION_SUFFIXES = ("", "_reverse")


def parameter_name(kind, layer, direction):
    """torch's name of one parameter: kind is weight_ih, weight_hh, bias_ih or bias_hh."""
    return f"{kind}_l{layer}{DIRECTION_SUFFIXES[direction]}"


def parameter_kinds(bias):
    return ("weight_ih", "weight_hh", "bias_ih", "bias_hh") if bias else ("weight_ih", "weight_hh")


def parameter_names(num_layers, bidirectional, bias):
    """The names of an RNN's parameters, in torch's order.

    One list drives creation, state_dict, load_state_dict and export.
    """
    return [parameter_name(kind, layer, direction)
            for layer in range(num_layers)
            for direction in range(2 if bidirectional else 1)
            for kind in parameter_kinds(bias)]


def _check_size(name, value):
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{name} should be of type int, got: {type(value).__name__}")
    if value <= 0:
        raise ValueError(f"{name} must be greater than zero, got {value}")
    return int(value)


class RNN:
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

    # Fixed when the model is built: assigning to them raises AttributeError.
    _config_names = ("input_size", "hidden_size", "num_layers", "nonlinearity", "bias",
                     "bidirectional", "dtype", "num_directions")

    def __init__(self, input_size, hidden_size, num_layers=1, nonlinearity="tanh", bias=True,
                 batch_first=False, dropout=0.0, bidirectional=False, dtype=np.float32, *,
                 device=None, proj_size=0, seed=None):
        if proj_size:  # accepted only so that torch code passing proj_size=0 runs
            raise ValueError("proj_size argument is only supported for LSTM, not RNN or GRU")
        if device is not None and str(device).split(":")[0] != "cpu":
            raise ValueError(f"fastrnn runs on the CPU: device must be None or 'cpu', got {device!r}")
        input_size = _check_size("input_size", input_size)
        hidden_size = _check_size("hidden_size", hidden_size)
        num_layers = _check_size("num_layers", num_layers)
        if nonlinearity not in ("tanh", "relu"):
            raise ValueError(f"Unknown nonlinearity '{nonlinearity}'. Select from 'tanh' or 'relu'.")
        if (not isinstance(dropout, numbers.Real) or isinstance(dropout, bool)
                or not 0 <= dropout <= 1):
            raise ValueError(
                "dropout should be a number in range [0, 1] representing the probability "
                f"of an element being zeroed, got {dropout!r}")
        if dropout > 0 and num_layers == 1:
            warnings.warn(
                "dropout option adds dropout after all but last recurrent layer, so non-zero "
                f"dropout expects num_layers greater than 1, but got dropout={dropout} and "
                f"num_layers={num_layers}", UserWarning, stacklevel=2)
        dtype = model_dtype(dtype)

        # Plain instance attributes (bypassing __setattr__, which guards
        # them): forward reads them on every call.
        init = object.__setattr__
        D = 2 if bidirectional else 1
        for name, value in dict(
                input_size=input_size, hidden_size=hidden_size, num_layers=num_layers,
                nonlinearity=nonlinearity, bias=bool(bias), bidirectional=bool(bidirectional),
                dtype=dtype, num_directions=D, batch_first=bool(batch_first),
                dropout=float(dropout)).items():
            init(self, name, value)

        # Per layer, all directions in one contiguous block: the shape the
        # kernel reads. The named parameters are views into these blocks, so
        # in-place edits of a parameter are seen by the next forward.
        layers, params = [], {}
        for k in range(num_layers):
            in_k = input_size if k == 0 else D * hidden_size
            block = dict(weight_ih=np.zeros((D, hidden_size, in_k), dtype),
                         weight_hh=np.zeros((D, hidden_size, hidden_size), dtype))
            if bias:
                block.update(bias_ih=np.zeros((D, hidden_size), dtype),
                             bias_hh=np.zeros((D, hidden_size), dtype))
            else:
                block.update(bias_ih=None, bias_hh=None)
            layers.append(block)
            for direction in range(D):
                for kind in parameter_kinds(bias):
                    params[parameter_name(kind, k, direction)] = block[kind][direction]
        init(self, "_layers", layers)
        init(self, "_parameters", params)
        for name, view in params.items():
            init(self, name, view)

        # Per-direction kernel settings, fixed for the model's life. torch's
        # activations take no alpha/beta: one array of zeros serves as both.
        init(self, "_reverse", np.array([0, 1][:D], np.int32))
        init(self, "_act", np.full(D, _kernels.ACTIVATIONS[nonlinearity], np.int32))
        init(self, "_no_act_params", np.zeros(D, np.float64))
        self.reset_parameters(seed)

    # ------------------------------------------------------------ attributes
    def __setattr__(self, name, value):
        if name in self._parameters:
            target = self._parameters[name]
            array = as_real_array(value, target.dtype, name, error=ValueError)
            if array.shape != target.shape:
                raise ShapeError(f"{name} must have shape {target.shape}, got {array.shape}")
            target[...] = array
        elif name in self._config_names:
            raise AttributeError(
                f"{name} is fixed when the model is built; make a new {type(self).__name__}")
        else:
            object.__setattr__(self, name, value)

    def named_parameters(self):
        """(name, array) pairs in torch's order; the arrays are the live parameters."""
        return iter(self._parameters.items())

    def parameters(self):
        return iter(self._parameters.values())

    @property
    def all_weights(self):
        """[[w_ih, w_hh, b_ih, b_hh], ...] per layer and direction, as in torch."""
        names = list(self._parameters)
        per = 4 if self.bias else 2
        return [[self._parameters[n] for n in names[i:i + per]] for i in range(0, len(names), per)]

    def reset_parameters(self, seed=None):
        """Draw every parameter from U(-1/sqrt(H_out), 1/sqrt(H_out))."""
        rng = np.random.default_rng(seed)
        bound = 1.0 / np.sqrt(self.hidden_size)
        for array in self._parameters.values():
            array[...] = rng.uniform(-bound, bound, array.shape)

    def eval(self):
        """No-op kept for torch code: fastrnn is always in inference mode."""
        return self

    def flatten_parameters(self):
        """No-op kept for torch code: each layer's parameters already sit in one block."""

    # ------------------------------------------------------------ state dict
    def state_dict(self):
        """A dict of copies of the parameters, keyed by torch's names."""
        return {name: array.copy() for name, array in self._parameters.items()}

    def load_state_dict(self, state_dict, strict=True):
        """Copy parameters from a mapping of names to arrays (or CPU tensors).

        Every value is checked before any is written. With strict=True missing
        or unexpected keys raise KeyError; a wrong shape or a non-numeric value
        raises ValueError (a wrong shape is also a RuntimeError, as in torch). Returns (missing_keys, unexpected_keys).
        """
        if not isinstance(state_dict, collections.abc.Mapping):
            raise TypeError(
                f"state_dict must be a mapping of names to arrays, got {type(state_dict).__name__}")
        expected = self._parameters
        missing = [k for k in expected if k not in state_dict]
        unexpected = [k for k in state_dict if k not in expected]
        if strict and (missing or unexpected):
            parts = []
            if missing:
                parts.append("missing key(s): " + ", ".join(map(repr, missing)))
            if unexpected:
                parts.append("unexpected key(s): " + ", ".join(map(repr, unexpected)))
            raise StateDictKeyError(
                f"Error(s) in loading state_dict for {type(self).__name__}: " + "; ".join(parts))
        staged = {}
        for name, target in expected.items():
            if name not in state_dict:
                continue
            array = as_real_array(state_dict[name], target.dtype, name, error=ValueError)
            if array.shape != target.shape:
                raise ShapeError(
                    f"size mismatch for {name}: expected shape {target.shape}, got {array.shape}")
            staged[name] = array
        for name, array in staged.items():
            expected[name][...] = array
        return IncompatibleKeys(missing, unexpected)

    @classmethod
    def from_torch(cls, module, dtype=None):
        """Build a fastrnn.RNN with the configuration and weights of a torch.nn.RNN.

        dtype defaults to float64 for a float64 module and float32 otherwise.
        """
        import torch  # only here: torch is never a dependency of fastrnn

        if not isinstance(module, torch.nn.RNN):
            raise TypeError(f"from_torch expects a torch.nn.RNN, got {type(module).__name__}")
        if dtype is None:
            dtype = np.float64 if module.weight_ih_l0.dtype == torch.float64 else np.float32
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # torch already warned about dropout
            model = cls(module.input_size, module.hidden_size, module.num_layers,
                        nonlinearity=module.nonlinearity, bias=module.bias,
                        batch_first=module.batch_first, dropout=module.dropout,
                        bidirectional=module.bidirectional, dtype=dtype)
        model.load_state_dict(module.state_dict())
        return model

    # ------------------------------------------------------------ forward
    def _check_input(self, input, hx):
        # Shapes are checked on the arrays as given, before any cast or copy.
        x = real_array(input, "input")
        if x.ndim not in (2, 3):
            raise ValueError(
                f"{type(self).__name__}: Expected input to be 2D or 3D, got {x.ndim}D tensor "
                f"instead (input shape {x.shape})")
        if x.shape[-1] != self.input_size:
            raise ShapeError(
                f"input.size(-1) must be equal to input_size. Expected {self.input_size}, "
                f"got {x.shape[-1]}")
        batched = x.ndim == 3
        if not batched:
            x = x[:, None, :]
        batch_major = batched and self.batch_first
        L, N = (x.shape[1], x.shape[0]) if batch_major else (x.shape[0], x.shape[1])
        if L == 0:
            raise ShapeError(
                f"Expected sequence length to be larger than 0 in {type(self).__name__}, "
                f"got input of shape {tuple(np.shape(input))}")

        expected = (self.num_directions * self.num_layers, N, self.hidden_size)
        if hx is None:
            h0 = None
        else:
            h0 = real_array(hx, "hx")
            if batched and h0.ndim != 3:
                raise ShapeError(
                    f"For batched 3-D input, hx should also be 3-D but got {h0.ndim}-D tensor")
            if not batched and h0.ndim != 2:
                raise ShapeError(
                    f"For unbatched 2-D input, hx should also be 2-D but got {h0.ndim}-D tensor")
            if not batched:
                h0 = h0[:, None, :]
            if h0.shape != expected:
                shown = expected if batched else (expected[0], expected[2])
                got = h0.shape if batched else (h0.shape[0], h0.shape[2])
                raise ShapeError(f"Expected hidden size {shown}, got {list(got)}")
        check_layer_sizes(L, N, self.input_size, self.num_directions, self.hidden_size, batch_major)
        x = np.asarray(x, self.dtype, order="C")
        if h0 is not None:
            h0 = np.asarray(h0, self.dtype, order="C")
        return x, h0, batched, batch_major, L, N

    def forward(self, input, hx=None):
        """Run the RNN; see the class docstring for shapes. Returns (output, h_n)."""
        x, h0, batched, batch_major, L, N = self._check_input(input, hx)
        D, H = self.num_directions, self.hidden_size
        h_n = np.empty((D * self.num_layers, N, H), self.dtype)
        layer_in = x.reshape(L * N, x.shape[2])
        for k, layer in enumerate(self._layers):
            out = np.empty((L * N, D * H), self.dtype)
            _kernels.rnn_layer(
                layer_in, out, layer["weight_ih"], layer["weight_hh"],
                layer["bias_ih"], layer["bias_hh"],
                None if h0 is None else h0[k * D:(k + 1) * D],
                h_n[k * D:(k + 1) * D], None, L, batch_major,
                self._reverse, self._act, self._no_act_params, self._no_act_params, np.inf)
            layer_in = out
        output = layer_in.reshape(x.shape[:2] + (D * H,))
        if not batched:
            return output[:, 0, :], h_n[:, 0, :]
        return output, h_n

    __call__ = forward

    # ------------------------------------------------------------ pickling
    def __reduce__(self):
        # Rebuild rather than copy __dict__: the named parameters are views
        # into the per-layer blocks and must stay views in the copy.
        args = (self.input_size, self.hidden_size, self.num_layers, self.nonlinearity,
                self.bias, self.batch_first, self.dropout, self.bidirectional, self.dtype)
        return _rebuild, (type(self), args, self.state_dict())

    # ------------------------------------------------------------ repr
    def extra_repr(self):
        s = f"{self.input_size}, {self.hidden_size}"
        if self.num_layers != 1:
            s += f", num_layers={self.num_layers}"
        if self.bias is not True:
            s += f", bias={self.bias}"
        if self.batch_first is not False:
            s += f", batch_first={self.batch_first}"
        if self.dropout != 0:
            s += f", dropout={self.dropout}"
        if self.bidirectional is not False:
            s += f", bidirectional={self.bidirectional}"
        return s

    def __repr__(self):
        return f"{type(self).__name__}({self.extra_repr()})"


def _rebuild(cls, args, state):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the dropout warning was given at creation
        model = cls(*args)
    model.load_state_dict(state)
    return model
