"""fastrnn._kernels.rnn_layer refuses inconsistent calls instead of reading out of bounds."""
import numpy as np
import pytest

from fastrnn import _kernels

F = np.float32


def layer_args(L=3, N=2, I=4, H=5, D=1, **overrides):
    """rnn_layer's arguments in order: a consistent call, with `overrides` replacing some."""
    defaults = dict(
        x=lambda: np.zeros((L * N, I), F), out=lambda: np.zeros((L * N, D * H), F),
        w_ih=lambda: np.zeros((D, H, I), F), w_hh=lambda: np.zeros((D, H, H), F),
        b_ih=lambda: None, b_hh=lambda: None, h0=lambda: None,
        hn=lambda: np.zeros((D, N, H), F), lens=lambda: None, L=lambda: L,
        batch_major=lambda: False, reverse=lambda: np.zeros(D, np.int32),
        act=lambda: np.ones(D, np.int32), alpha=lambda: np.zeros(D), beta=lambda: np.zeros(D),
        clip=lambda: np.inf)
    return [overrides[k] if k in overrides else make() for k, make in defaults.items()]


def test_consistent_call_runs():
    args = layer_args(b_ih=np.ones((1, 5), F), b_hh=np.ones((1, 5), F))
    _kernels.rnn_layer(*args)
    assert np.allclose(args[1], np.tanh(2.0))


@pytest.mark.parametrize("overrides, message", [
    (dict(x=np.zeros((5, 4), F)), "x must have shape"),
    (dict(out=np.zeros((6, 4), F)), "out must have shape"),
    (dict(w_hh=np.zeros((1, 5, 4), F)), "w_hh must have shape"),
    (dict(hn=np.zeros((1, 2, 4), F)), "hn must have shape"),
    (dict(b_ih=np.zeros((1, 5), F)), "both biases or neither"),
    (dict(b_ih=np.zeros((1, 4), F), b_hh=np.zeros((1, 4), F)), "b_ih must have shape"),
    (dict(h0=np.zeros((1, 2, 4), F)), "h0 must have shape"),
    (dict(act=np.array([11], np.int32)), "unknown activation code"),
    (dict(reverse=np.zeros(0, np.int32)), "reverse needs 1 entries"),
    (dict(lens=np.array([1, 4], np.int32)), r"seq_lens\[1\] = 4 is outside 0..3"),
    (dict(lens=np.array([1], np.int32)), "seq_lens must have 2 entries"),
    (dict(L=0, x=np.zeros((0, 4), F), out=np.zeros((0, 5), F)), "sizes must be positive"),
])
def test_inconsistent_calls_raise(overrides, message):
    with pytest.raises(ValueError, match=message):
        _kernels.rnn_layer(*layer_args(**overrides))


@pytest.mark.parametrize("batch_major", [False, True])
def test_sizes_that_would_wrap_around_are_refused(batch_major):
    # L * N = 2**64 wraps to 0 in 64-bit arithmetic: zero-row x and out would
    # have matched, and the time loop would have written past out.
    args = layer_args(L=2**62, x=np.zeros((0, 4), F), out=np.zeros((0, 5), F),
                      hn=np.zeros((1, 4, 5), F), batch_major=batch_major)
    with pytest.raises(ValueError, match="32-bit"):
        _kernels.rnn_layer(*args)


def test_mixed_dtypes_are_refused():
    args = layer_args()
    args[1] = args[1].astype(np.float64)
    with pytest.raises((TypeError, ValueError)):
        _kernels.rnn_layer(*args)
