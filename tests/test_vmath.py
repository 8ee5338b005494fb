"""The kernels' float32 tanh against float64 numpy over the whole float range."""
import numpy as np

from fastrnn import _kernels


def kernel_tanh(x):
    x = np.ascontiguousarray(x, np.float32)
    out = np.empty_like(x)
    _kernels.tanh_f32(x, out)
    return out


def test_tanh_accuracy_over_the_range():
    rng = np.random.default_rng(0)
    x = np.concatenate([
        np.linspace(-12, 12, 400_001),
        np.geomspace(1e-38, 30, 50_000), -np.geomspace(1e-38, 30, 50_000),
        rng.standard_normal(100_000) * 3,
        [0.0, 0.25, -0.25, 9.0, -9.0, 1e30, -1e30, np.finfo(np.float32).max],
    ]).astype(np.float32)
    ref = np.tanh(x.astype(np.float64))
    got = kernel_tanh(x).astype(np.float64)
    err = np.abs(got - ref)
    assert err.max() < 2e-7
    assert (err / np.maximum(np.abs(ref), np.finfo(np.float32).tiny)).max() < 4e-7


def test_tanh_special_values():
    got = kernel_tanh([np.inf, -np.inf, np.nan, 0.0, -0.0])
    assert got[0] == 1 and got[1] == -1 and np.isnan(got[2]) and got[3] == 0
    assert not np.signbit(got[3]) and np.signbit(got[4])  # as torch and numpy


def test_tanh_is_odd_and_bounded():
    x = np.linspace(0, 20, 100_001, dtype=np.float32)
    pos, neg = kernel_tanh(x), kernel_tanh(-x)
    assert np.array_equal(pos, -neg)
    assert pos.max() <= 1 and np.all(np.diff(pos) >= 0)
