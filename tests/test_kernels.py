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


def run_layer(recurrent, L, N, I, H, D, batch_major, bias, h0, lens, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((L * N, I)).astype(F)
    w_ih = (rng.standard_normal((D, H, I)) / np.sqrt(I)).astype(F)
    w_hh = (rng.standard_normal((D, H, H)) / np.sqrt(H)).astype(F)
    b = [rng.standard_normal((D, H)).astype(F) for _ in range(2)] if bias else [None, None]
    h = rng.standard_normal((D, N, H)).astype(F) if h0 else None
    seq = rng.integers(0, L + 1, N).astype(np.int32) if lens else None
    out, hn = np.empty((L * N, D * H), F), np.empty((D, N, H), F)
    _kernels.rnn_layer(x, out, w_ih, w_hh, b[0], b[1], h, hn, seq, L, batch_major,
                       np.array([0, 1][:D], np.int32), np.ones(D, np.int32),
                       np.zeros(D), np.zeros(D), np.inf, recurrent=recurrent)
    return out, hn


# H on both sides of the 16- and 32-wide panel edges, N on both sides of the
# 4-row blocks, both layouts, lengths, h0, two directions.
PATH_CASES = [
    (7, N, 5, H, D, bm, bias, h0, lens)
    for N, H, D, bm, bias, h0, lens in [
        (1, 1, 1, False, True, False, False), (2, 15, 2, True, True, True, False),
        (3, 16, 1, False, False, True, True), (4, 17, 2, False, True, False, True),
        (5, 31, 1, True, True, True, True), (6, 32, 2, False, False, False, False),
        (7, 33, 1, True, True, False, False), (8, 47, 2, True, True, True, True),
        (9, 63, 1, False, True, True, False), (4, 64, 2, True, False, True, True),
        (1, 65, 1, False, True, True, True), (13, 100, 2, False, True, True, False),
    ]
]


@pytest.mark.parametrize("case", PATH_CASES, ids=lambda c: "L{}-N{}-I{}-H{}-D{}-bm{}-b{}-h{}-len{}".format(*c))
def test_packed_step_agrees_with_blas(case):
    out_blas, hn_blas = run_layer("blas", *case)
    out_packed, hn_packed = run_layer("packed", *case)
    scale = max(1.0, np.abs(out_blas).max())
    assert np.abs(out_packed - out_blas).max() <= 1e-5 * scale
    assert np.abs(hn_packed - hn_blas).max() <= 1e-5 * scale
    assert not np.array_equal(out_packed, np.zeros_like(out_packed))


def test_auto_follows_the_measured_rule():
    assert _kernels.use_packed_step(100, 16, 256)      # 4 <= N, N*H <= 8192
    assert not _kernels.use_packed_step(100, 64, 512)  # OpenBLAS catches up
    assert not _kernels.use_packed_step(100, 2, 256)   # OpenBLAS's small-M path
    assert _kernels.use_packed_step(100, 1, 64)        # small H
    assert not _kernels.use_packed_step(3, 4, 64)      # too short to pay for packing
    case = (30, 16, 5, 40, 1, False, True, True, False)  # auto picks packed here
    assert _kernels.use_packed_step(30, 16, 40)
    assert np.array_equal(run_layer("auto", *case)[0], run_layer("packed", *case)[0])


def test_unknown_recurrent_path_is_refused():
    with pytest.raises(ValueError, match="recurrent must be"):
        _kernels.rnn_layer(*layer_args(), recurrent="fast")
