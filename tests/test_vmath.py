"""The kernels' float32 activations against float64 numpy over the whole float
range, on every kernel path this CPU runs: the exp-based sigmoid and tanh (RNN
cells) and the fractions of the LSTM and GRU cells."""
import numpy as np
import pytest

from fastrnn import _testing

pytestmark = pytest.mark.usefixtures("each_isa")


def kernel_tanh(x):
    x = np.ascontiguousarray(x, np.float32)
    out = np.empty_like(x)
    _testing.activation_f32("tanh", x, out)
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


def kernel_sigmoid(x):
    x = np.ascontiguousarray(x, np.float32)
    out = np.empty_like(x)
    _testing.activation_f32("sigmoid", x, out)
    return out


def exact_sigmoid(x):
    x = np.asarray(x, np.float64)
    with np.errstate(over="ignore"):
        return 1 / (1 + np.exp(-x))


def test_sigmoid_accuracy_over_the_range():
    rng = np.random.default_rng(1)
    x = np.concatenate([
        np.linspace(-100, 100, 400_001),
        np.geomspace(1e-38, 120, 50_000), -np.geomspace(1e-38, 120, 50_000),
        rng.standard_normal(100_000) * 5,
        [0.0, 80.0, -80.0, 87.0, -87.0, 1e30, -1e30, np.finfo(np.float32).max],
    ]).astype(np.float32)
    ref = exact_sigmoid(x)
    got = kernel_sigmoid(x).astype(np.float64)
    err = np.abs(got - ref)
    assert err.max() < 2e-7
    # relative: down to sigmoid(-80) = 1.8e-35; below, the result stays at that
    # value (an absolute error under 2e-35)
    normal = x >= -80
    assert (err[normal] / ref[normal]).max() < 4e-7
    assert got[~normal].max() < 2e-35


def test_sigmoid_special_values():
    got = kernel_sigmoid([np.inf, -np.inf, np.nan, 0.0, -0.0])
    assert got[0] == 1 and got[1] < 2e-35 and np.isnan(got[2])
    assert got[3] == 0.5 and got[4] == 0.5


def test_sigmoid_is_monotone_and_symmetric():
    x = np.linspace(0, 90, 100_001, dtype=np.float32)
    pos, neg = kernel_sigmoid(x).astype(np.float64), kernel_sigmoid(-x).astype(np.float64)
    assert np.all(np.diff(pos) >= 0) and np.all(np.diff(neg) <= 0)
    assert pos.max() <= 1 and neg[x <= 88].min() > 0
    # below -88.72 exp(-x) overflows in float: 1 / (1 + inf) = 0, as torch computes it
    assert not neg[x > 88.73].any()
    assert kernel_sigmoid(np.array([-np.inf, np.inf], np.float32)).tolist() == [0.0, 1.0]
    # sigmoid(x) + sigmoid(-x) = 1 up to float32 rounding
    assert np.abs(pos + neg - 1).max() < 1.2e-7


def kernel_cell(name, x):
    x = np.ascontiguousarray(x, np.float32)
    out = np.empty_like(x)
    _testing.activation_f32(name, x, out)
    return out.astype(np.float64)


@pytest.mark.parametrize("name, exact, bound", [
    ("cell_tanh", np.tanh, 4.5e-7),
    ("cell_sigmoid", exact_sigmoid, 2.5e-7),
])
def test_cell_fraction_accuracy_over_the_range(name, exact, bound):
    rng = np.random.default_rng(2)
    x = np.concatenate([
        np.linspace(-100, 100, 400_001),
        np.geomspace(1e-38, 120, 50_000), -np.geomspace(1e-38, 120, 50_000),
        rng.standard_normal(100_000) * 5,
        [0.0, 7.9, -7.9, 15.8, -15.8, 1e30, -1e30, np.finfo(np.float32).max, np.inf, -np.inf],
    ]).astype(np.float32)
    got = kernel_cell(name, x)
    err = np.abs(got - exact(x.astype(np.float64)))
    assert err.max() < bound
    # bounded, odd (tanh) or symmetric about 1/2 (sigmoid), and monotone up to
    # the bound: near saturation the quotient's rounding steps back by up to
    # 3e-7 here and there (the exp-based activations are strictly monotone)
    pos = kernel_cell(name, np.linspace(0, 120, 100_001, dtype=np.float32))
    neg = kernel_cell(name, -np.linspace(0, 120, 100_001, dtype=np.float32))
    assert np.diff(pos).min() > -bound and np.diff(neg).max() < bound
    assert pos.max() <= 1 and neg.min() >= (-1 if name == "cell_tanh" else 0)
    if name == "cell_tanh":
        assert np.array_equal(pos, -neg) and np.abs(pos).min() == 0
    else:
        assert np.abs(pos + neg - 1).max() < 2.5e-7
        # exactly 0 below -88.72, as torch's float32 sigmoid
        assert kernel_cell(name, [-88.73, -1e30, -np.inf]).tolist() == [0.0, 0.0, 0.0]
        assert kernel_cell(name, [-88.7])[0] > 0


@pytest.mark.parametrize("name", ["cell_tanh", "cell_sigmoid"])
def test_cell_fraction_passes_nan(name):
    got = kernel_cell(name, [np.nan, 1.0, np.nan])
    assert np.isnan(got[0]) and np.isnan(got[2]) and not np.isnan(got[1])


def test_unknown_activation_is_refused():
    x = np.zeros(3, np.float32)
    with pytest.raises(ValueError, match="activation must be one of"):
        _testing.activation_f32("relu6", x, x.copy())
