"""What fastrnn.RNN, fastrnn.LSTM and fastrnn.GRU share: configuration,
parameters, state dicts, input checks and the layer loop of forward.

Each class adds only its gate count, its hidden-state checks and the kernel
kernel layer (`_kernel_layer`). Everything here validates and allocates;
fastrnn._kernels does the arithmetic without the GIL.
"""
from __future__ import annotations

import collections
import collections.abc
import numbers
import warnings
from typing import Any, Iterator, Mapping, NamedTuple, Optional, Tuple, TypeVar

import numpy as np

from fastrnn import _kernels
from fastrnn._kinds import MODE_GATES
from fastrnn._arrays import (INT_MAX, ShapeError, as_real_array, check_layer_sizes, model_dtype,
                             real_array)

from fastrnn._types import Array, ArrayLike, DTypeLike


class IncompatibleKeys(NamedTuple):
    """What load_state_dict returns, as torch's: the keys it missed and those it did not know."""
    missing_keys: list[str]
    unexpected_keys: list[str]


_Model = TypeVar("_Model", bound="RNNBase")

# Rows of weight_ih / weight_hh / the biases per hidden unit, by torch's mode name.
GATES = MODE_GATES


class StateDictKeyError(KeyError, RuntimeError):
    """A state dict's keys do not match the model's (torch raises RuntimeError)."""

    def __str__(self):  # KeyError quotes its message; print it plainly
        return str(self.args[0]) if self.args else ""


# Direction index -> suffix of torch's parameter names (1 runs backwards).
DIRECTION_SUFFIXES = ("", "_reverse")


def parameter_name(kind, layer, direction):
    """torch's name of one parameter: kind is weight_ih, weight_hh, bias_ih, bias_hh or weight_hr."""
    return f"{kind}_l{layer}{DIRECTION_SUFFIXES[direction]}"


def parameter_kinds(bias, proj_size=0):
    """The kinds of one layer-direction's parameters, in torch's order."""
    kinds = ["weight_ih", "weight_hh"]
    if bias:
        kinds += ["bias_ih", "bias_hh"]
    if proj_size:
        kinds.append("weight_hr")
    return tuple(kinds)


def parameter_names(num_layers, bidirectional, bias, proj_size=0):
    """The names of a model's parameters, in torch's order.

    One list drives creation, state_dict, load_state_dict and export.
    """
    return [parameter_name(kind, layer, direction)
            for layer in range(num_layers)
            for direction in range(2 if bidirectional else 1)
            for kind in parameter_kinds(bias, proj_size)]


def check_hx_ndim(hx, batched):
    """torch's dimension check of an RNN/GRU hx: 3-D for batched input, 2-D otherwise."""
    h = hx if type(hx) is np.ndarray and hx.dtype.kind in "fiu" else real_array(hx, "hx")
    if batched and h.ndim != 3:
        raise ShapeError(f"For batched 3-D input, hx should also be 3-D but got {h.ndim}-D tensor")
    if not batched and h.ndim != 2:
        raise ShapeError(f"For unbatched 2-D input, hx should also be 2-D but got {h.ndim}-D tensor")
    return h


def _check_size(name, value):
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{name} should be of type int, got: {type(value).__name__}")
    if value <= 0:
        raise ValueError(f"{name} must be greater than zero, got {value}")
    return int(value)


def _check_proj_size(proj_size, hidden_size):
    if isinstance(proj_size, bool) or not isinstance(proj_size, numbers.Integral):
        raise TypeError(f"proj_size should be of type int, got: {type(proj_size).__name__}")
    if proj_size < 0:
        raise ValueError("proj_size should be a positive integer or zero to disable projections")
    if proj_size >= hidden_size:
        raise ValueError(
            f"proj_size has to be smaller than hidden_size, got proj_size={proj_size} "
            f"and hidden_size={hidden_size}")
    return int(proj_size)


class RNNBase:
    """The part of torch.nn.RNNBase that inference needs, on numpy arrays.

    Subclasses set `mode` handling in __init__ and implement `_kernel_layer`.
    """

    # Fixed when the model is built: assigning to them raises AttributeError.
    _config_names = ("mode", "input_size", "hidden_size", "num_layers", "bias", "bidirectional",
                     "proj_size", "dtype", "num_directions")

    def __init__(self, mode, input_size, hidden_size, num_layers=1, bias=True, batch_first=False,
                 dropout=0.0, bidirectional=False, proj_size=0, dtype=np.float32, device=None,
                 seed=None):
        if device is not None and str(device).split(":")[0] != "cpu":
            raise ValueError(f"fastrnn runs on the CPU: device must be None or 'cpu', got {device!r}")
        for name, value in (("bias", bias), ("batch_first", batch_first)):
            if not isinstance(value, (bool, np.bool_)):
                raise TypeError(f"{name} should be of type bool, got: {type(value).__name__}")
        input_size = _check_size("input_size", input_size)
        hidden_size = _check_size("hidden_size", hidden_size)
        num_layers = _check_size("num_layers", num_layers)
        if mode != "LSTM" and proj_size:  # accepted only so that torch code passing 0 runs
            raise ValueError("proj_size argument is only supported for LSTM, not RNN or GRU")
        proj_size = _check_proj_size(proj_size, hidden_size)
        if (not isinstance(dropout, numbers.Real) or isinstance(dropout, bool)
                or not 0 <= dropout <= 1):
            raise ValueError(
                "dropout should be a number in range [0, 1] representing the probability "
                f"of an element being zeroed, got {dropout!r}")
        if dropout > 0 and num_layers == 1:
            warnings.warn(
                "dropout option adds dropout after all but last recurrent layer, so non-zero "
                f"dropout expects num_layers greater than 1, but got dropout={dropout} and "
                f"num_layers={num_layers}", UserWarning, stacklevel=3)
        dtype = model_dtype(dtype)

        # Plain instance attributes (bypassing __setattr__, which guards
        # them): forward reads them on every call.
        init = object.__setattr__
        D = 2 if bidirectional else 1
        for name, value in dict(
                mode=mode, input_size=input_size, hidden_size=hidden_size,
                num_layers=num_layers, bias=bool(bias), bidirectional=bool(bidirectional),
                proj_size=proj_size, dtype=dtype, num_directions=D,
                batch_first=bool(batch_first), dropout=float(dropout)).items():
            init(self, name, value)

        # Per layer, all directions in one contiguous block per kind: the
        # shape the kernels read, gates stacked in torch's order. The named
        # parameters are views into these blocks, so in-place edits of a
        # parameter are seen by the next forward.
        G, H = GATES[mode], hidden_size
        P = proj_size or hidden_size  # the size of h (the output per direction)
        layers = []
        for k in range(num_layers):
            in_k = input_size if k == 0 else D * P
            block = dict(weight_ih=np.zeros((D, G * H, in_k), dtype),
                         weight_hh=np.zeros((D, G * H, P), dtype),
                         bias_ih=None, bias_hh=None, weight_hr=None)
            if bias:
                block.update(bias_ih=np.zeros((D, G * H), dtype),
                             bias_hh=np.zeros((D, G * H), dtype))
            if proj_size:
                block.update(weight_hr=np.zeros((D, P, H), dtype))
            layers.append(block)
        init(self, "_frozen", False)
        self._set_blocks(layers)
        init(self, "_reverse", np.array([0, 1][:D], np.int32))
        # For forward: D * G * H bounds every row stride a kernel passes BLAS.
        init(self, "_gate_width", D * G * max(H, input_size))
        init(self, "_state_rows", D * num_layers)  # rows of h_0, h_n (and c_0, c_n)
        self.reset_parameters(seed)

    def _set_blocks(self, layers):
        """Take `layers` (per layer, a dict of the blocks) as the parameters; the
        named parameters are views into them."""
        init = object.__setattr__
        params = {}
        for k, block in enumerate(layers):
            for direction in range(self.num_directions):
                for kind in parameter_kinds(self.bias, self.proj_size):
                    params[parameter_name(kind, k, direction)] = block[kind][direction]
        init(self, "_layers", layers)
        init(self, "_parameters", params)
        for name, view in params.items():
            init(self, name, view)

    # ------------------------------------------------------------ frozen weights
    @property
    def frozen(self) -> bool:
        """Whether the weights are frozen (see freeze)."""
        return self._frozen

    def freeze(self: _Model) -> _Model:
        """Fix the weights for inference and return the model, as onnxruntime
        fixes a model's initializers when it loads it.

        The kernels then pack each layer's weights for the CPU's step kernel
        once, here, instead of at every call that runs on that kernel: calls of
        one step or a few (streaming) gain the most. The parameters become
        read-only copies: an in-place edit raises ValueError, and arrays taken
        from the model before no longer share its memory. Assigning a
        parameter, load_state_dict, reset_parameters and to(dtype) still work
        and keep the model frozen (each packs again). unfreeze() undoes it. A
        frozen model pickles frozen; fastrnn.save keeps the weights, not the
        freezing. The packing holds about as much memory as the weights.
        """
        self._refreeze(True)
        return self

    def unfreeze(self: _Model) -> _Model:
        """Make the weights live again (writeable copies, seen by the next call
        when edited in place) and return the model."""
        self._refreeze(False)
        return self

    def _refreeze(self, frozen):
        """Copies of the parameter blocks, read-only when frozen, and the
        kernel layers built on them."""
        object.__setattr__(self, "_frozen", bool(frozen))
        self._copy_blocks()
        self._seal()

    def _copy_blocks(self):
        """Writeable copies of the parameter blocks as the parameters."""
        self._set_blocks([{kind: None if a is None else a.copy() for kind, a in block.items()}
                          for block in self._layers])

    def _seal(self):
        """The blocks read-only when the model is frozen, the named parameters
        views taken after (a view keeps the flag its base had), and the kernel
        layers on them."""
        for block in self._layers:
            for a in block.values():
                if a is not None:
                    a.flags.writeable = not self._frozen
        self._set_blocks(self._layers)
        self._build_stack()

    def _write(self, write):
        """Run write() on writeable parameters: on a frozen model, on writeable
        copies of them, sealed and packed again after."""
        if not self._frozen:
            write()
            return
        self._copy_blocks()
        try:
            write()
        finally:
            self._seal()

    # ------------------------------------------------------------ attributes
    def __setattr__(self, name, value):
        if name in self._parameters:
            target = self._parameters[name]
            array = as_real_array(value, target.dtype, name, error=ValueError)
            if array.shape != target.shape:
                raise ShapeError(f"{name} must have shape {target.shape}, got {array.shape}")

            def write():
                self._parameters[name][...] = array
            self._write(write)
        elif name in self._config_names:
            raise AttributeError(
                f"{name} is fixed when the model is built; make a new {type(self).__name__}")
        else:
            object.__setattr__(self, name, value)

    @property
    def output_size(self) -> int:
        """Features of h per direction: proj_size when projecting, else hidden_size."""
        return self.proj_size or self.hidden_size

    def named_parameters(self) -> Iterator[Tuple[str, Array]]:
        """(name, array) pairs in torch's order; the arrays are the live parameters."""
        return iter(self._parameters.items())

    def parameters(self) -> Iterator[Array]:
        return iter(self._parameters.values())

    @property
    def all_weights(self) -> list[list[Array]]:
        """[[w_ih, w_hh, b_ih, b_hh(, w_hr)], ...] per layer and direction, as in torch."""
        names = list(self._parameters)
        per = len(parameter_kinds(self.bias, self.proj_size))
        return [[self._parameters[n] for n in names[i:i + per]] for i in range(0, len(names), per)]

    def reset_parameters(self, seed: Any = None) -> None:
        """Draw every parameter from U(-1/sqrt(hidden_size), 1/sqrt(hidden_size)), as torch does."""
        rng = np.random.default_rng(seed)
        bound = 1.0 / np.sqrt(self.hidden_size)

        def write():
            for array in self._parameters.values():
                array[...] = rng.uniform(-bound, bound, array.shape)
        self._write(write)

    def eval(self: _Model) -> _Model:
        """No-op kept for torch code: fastrnn is always in inference mode."""
        return self

    # ------------------------------------------------------------ dtype
    def to(self: _Model, *args: Any, **kwargs: Any) -> _Model:
        """Convert the parameters to a dtype in place and return the model, as
        torch's Module.to: to(dtype), to(device), to(device, dtype), to(dtype=...,
        device=...); the device must be the CPU, non_blocking and copy are
        accepted and ignored. Arrays taken from the model before (named
        parameters) keep the old dtype: fetch them again."""
        dtype, device = kwargs.pop("dtype", None), kwargs.pop("device", None)
        kwargs.pop("non_blocking", None)
        kwargs.pop("copy", None)
        if kwargs:
            raise TypeError(f"to() got an unexpected keyword argument {next(iter(kwargs))!r}")
        for arg in args:
            if isinstance(arg, bool):
                continue  # non_blocking given positionally
            text = str(arg)
            if type(arg).__name__ == "device" or text == "cpu" or text.startswith(("cpu:", "cuda", "mps", "meta")):
                device = arg
            else:
                dtype = arg
        if device is not None and str(device).split(":")[0] != "cpu":
            raise ValueError(f"fastrnn runs on the CPU: device must be None or 'cpu', got {device!r}")
        if dtype is not None:
            self._convert(model_dtype(dtype))
        return self

    def float(self: _Model) -> _Model:
        """The parameters as float32, in place (torch's Module.float); returns the model."""
        self._convert(np.float32)
        return self

    def double(self: _Model) -> _Model:
        """The parameters as float64, in place (torch's Module.double); returns the model."""
        self._convert(np.float64)
        return self

    def _convert(self, dtype: DTypeLike) -> None:
        if dtype is self.dtype:
            return
        rebuilt = _rebuild(type(self), self._init_args() | dict(dtype=dtype), self.state_dict(),
                           self._frozen)
        for name, value in vars(rebuilt).items():
            object.__setattr__(self, name, value)

    def flatten_parameters(self) -> None:
        """No-op kept for torch code: each layer's parameters already sit in one block."""

    # ------------------------------------------------------------ state dict
    def state_dict(self) -> dict[str, Array]:
        """A dict of copies of the parameters, keyed by torch's names."""
        return {name: array.copy() for name, array in self._parameters.items()}

    def load_state_dict(self, state_dict: Mapping[str, ArrayLike],
                        strict: bool = True) -> IncompatibleKeys:
        """Copy parameters from a mapping of names to arrays (or CPU tensors).

        Every value is checked before any is written. With strict=True missing
        or unexpected keys raise KeyError (also a RuntimeError, as in torch); a
        wrong shape or a non-numeric value raises ValueError (a wrong shape is
        also a RuntimeError). Returns (missing_keys, unexpected_keys).
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

        def write():
            for name, array in staged.items():
                self._parameters[name][...] = array
        self._write(write)
        return IncompatibleKeys(missing, unexpected)

    # The torch class from_torch accepts, and the constructor arguments read
    # from it beyond the common ones; set by each subclass.
    _torch_class_name = None
    _extra_torch_args = ()

    @classmethod
    def from_torch(cls: type[_Model], module: Any, dtype: DTypeLike = None) -> _Model:
        """Build a model with the configuration and weights of the matching torch module.

        dtype defaults to float64 for a float64 module and float32 otherwise.
        """
        import torch  # only here: torch is never a dependency of fastrnn

        torch_class = getattr(torch.nn, cls._torch_class_name)
        if not isinstance(module, torch_class):
            raise TypeError(f"{cls.__name__}.from_torch expects a torch.nn.{cls._torch_class_name}, "
                            f"got {type(module).__name__}")
        if dtype is None:
            dtype = np.float64 if module.weight_ih_l0.dtype == torch.float64 else np.float32
        extra = {name: getattr(module, name) for name in cls._extra_torch_args}
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # torch already warned about dropout
            model = cls(module.input_size, module.hidden_size, module.num_layers,
                        bias=module.bias, batch_first=module.batch_first,
                        dropout=module.dropout, bidirectional=module.bidirectional,
                        dtype=dtype, **extra)
        model.load_state_dict(module.state_dict())
        return model

    # ------------------------------------------------------------ forward
    def _check_input(self, input):
        """The input as given (not yet cast), with its layout: (x, batched, batch_major, L, N)."""
        x = input
        if type(x) is not np.ndarray or x.dtype.kind not in "fiu":
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
        # Before any copy: the widest rows a kernel writes are the gate rows.
        # (check_layer_sizes raises; the test in front spares its call.)
        if L * max(N, 1) * self._gate_width > INT_MAX:
            check_layer_sizes(L, N, self.input_size, self.num_directions,
                              GATES[self.mode] * self.hidden_size, batch_major)
        return x, batched, batch_major, L, N

    def _check_state(self, state, what, size, batched, N, message):
        """One initial state as a (D * num_layers, N, size) array, not yet cast.

        `what` names it in dimension errors ("hx"), `message` formats the
        shape error from the expected and the received shapes.
        """
        h = state if type(state) is np.ndarray and state.dtype.kind in "fiu" \
            else real_array(state, what)
        expected = (self.num_directions * self.num_layers, N, size)
        if not batched:
            h = h[:, None, :] if h.ndim == 2 else h
        if h.shape != expected:
            shown = expected if batched else (expected[0], expected[2])
            got = h.shape if batched or h.ndim != 3 else (h.shape[0], h.shape[2])
            raise ShapeError(message.format(shown, list(got)))
        return h

    def _check_hx(self, hx, batched, N):
        """[h_0] as a (D * num_layers, N, H_out) array, not yet cast (LSTM: [h_0, c_0])."""
        if (type(hx) is np.ndarray and batched and hx.dtype == self.dtype
                and hx.flags.c_contiguous
                and hx.shape == (self._state_rows, N, self.hidden_size)):
            return [hx]  # the streaming case: checked, nothing to cast
        return [self._check_state(check_hx_ndim(hx, batched), "hx", self.hidden_size, batched, N,
                                  "Expected hidden size {}, got {}")]

    def _check_lengths(self, lengths, N, L):
        """lengths as an int32 array of N values in 1..L, or None."""
        if lengths is None:
            return None
        lens = real_array(lengths, "lengths", error=ValueError)
        if lens.size == 0 and lens.dtype.kind == "f":
            lens = lens.astype(np.int64)  # an empty list reads as float64 in numpy
        if lens.dtype.kind not in "iu":
            raise ValueError(f"lengths must hold integers, got dtype {lens.dtype}")
        if lens.ndim == 0 and N == 1:
            lens = lens.reshape(1)
        if lens.shape != (N,):
            raise ValueError(f"lengths must hold one length per sequence: expected shape ({N},), "
                             f"got {lens.shape}")
        bad = (lens < 1) | (lens > L)
        if bad.any():
            raise ValueError(
                f"lengths must be between 1 and the sequence length {L}, got "
                f"{lens[bad].tolist()[:5]} at positions {np.flatnonzero(bad).tolist()[:5]}")
        return lens.astype(np.int32)

    def _kernel_layer(self, block):
        """The fastrnn._kernels.Layer of one layer's block (set by each subclass)."""
        raise NotImplementedError

    def _build_kernels(self, activations):
        """Fix the per-direction kernel settings and build one kernel Layer per layer.

        activations: the ONNX activation names torch's cell uses (one for RNN;
        f, g for GRU; f, g, h for LSTM). torch's take no alpha/beta, so one
        array of zeros serves as both.
        """
        codes = [_kernels.ACTIVATIONS[name] for name in activations]
        D, init = self.num_directions, object.__setattr__
        act = np.array([codes] * D, np.int32)
        if self.mode.startswith("RNN"):
            act = act[:, 0].copy()  # an RNN layer's settings: one code per direction
        init(self, "_act", act)
        init(self, "_no_act_params", np.zeros(act.shape, np.float64))
        self._build_stack()

    def _build_stack(self):
        """One kernel Layer per layer (frozen with the model), and their Stack."""
        init = object.__setattr__
        init(self, "_kernel_layers", [self._kernel_layer(b) for b in self._layers])
        init(self, "_stack", _kernels.Stack(self._kernel_layers))

    def forward(self, input: Any, hx: Any = None, lengths: Optional[ArrayLike] = None) -> Any:
        """Run the model; see the class docstring for shapes and arguments.

        Returns (output, h_n); for LSTM (output, (h_n, c_n)).

        lengths: None, or N integers with 1 <= length <= L: sequence n is
        input[:lengths[n]] (along the time axis) and the rest is padding.
        The result is torch's pack_padded_sequence(..., enforce_sorted=False)
        -> model -> pad_packed_sequence(total_length=L): output is zero past
        each length, h_n holds each sequence's state at its last valid step,
        and the reverse direction starts at each sequence's own end. A torch
        PackedSequence input (with torch installed) gives a PackedSequence
        output, as in torch; the states are numpy arrays either way.
        """
        # The kernels' Stack runs the call: as it came when it is the common
        # one, else after the checks above (_check_input, _check_hx,
        # _check_lengths), before any cast or kernel; a PackedSequence goes to
        # _forward_packed.
        return _kernels.model_forward(self, input, hx, lengths)

    def _forward_packed(self, packed, hx, lengths):
        """forward of a torch PackedSequence: padded, run, packed again."""
        from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence
        import torch

        if lengths is not None:
            raise ValueError("give lengths or a PackedSequence, not both")

        padded, lengths = pad_packed_sequence(packed, batch_first=self.batch_first)
        output, states = self.forward(padded, hx, lengths.numpy())
        # Packed as the input was: sorted_indices None when it was packed sorted.
        output = pack_padded_sequence(torch.from_numpy(output), lengths,
                                      batch_first=self.batch_first,
                                      enforce_sorted=packed.sorted_indices is None)
        return output, states

    # forward's body, without forward's Python frame: one call less per step
    # when streaming.
    __call__ = _kernels.model_forward

    # ------------------------------------------------------------ pickling
    def _init_args(self):
        """The constructor arguments that rebuild this model (parameters aside)."""
        return dict(input_size=self.input_size, hidden_size=self.hidden_size,
                    num_layers=self.num_layers, bias=self.bias, batch_first=self.batch_first,
                    dropout=self.dropout, bidirectional=self.bidirectional, dtype=self.dtype)

    def __reduce__(self):
        # Rebuild rather than copy __dict__: the named parameters are views
        # into the per-layer blocks and must stay views in the copy.
        return _rebuild, (type(self), self._init_args(), self.state_dict(), self._frozen)

    # ------------------------------------------------------------ repr
    def extra_repr(self) -> str:
        s = f"{self.input_size}, {self.hidden_size}"
        if self.proj_size != 0:
            s += f", proj_size={self.proj_size}"
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

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.extra_repr()})"


def _rebuild(cls, kwargs, state, frozen=False):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the dropout warning was given at creation
        model = cls(**kwargs)
    model.load_state_dict(state)
    if frozen:
        model.freeze()
    return model
