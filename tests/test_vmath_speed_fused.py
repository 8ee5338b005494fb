"""The fused one-row steps (_step.h fastrnn_lstm_step_row_f32 /
fastrnn_gru_step_row_f32: the recurrent product and the cell in one kernel,
for float32, one batch row, H a multiple of the path's block) against the
OpenBLAS path, whose cell is the separate one, on every kernel path this CPU
runs: same results up to summation order, same NaN/Inf pattern. The fused
kernels are forced (recurrent="fused") and counted (fused_calls): every case
asserts that they ran where they apply and not elsewhere."""
import numpy as np
import pytest

from fastrnn import _kernels, _testing
from kernel_calls import gated_call, run_gated

pytestmark = pytest.mark.usefixtures("each_isa")


def _compare(kind, args):
    H = args["hn"].shape[2]
    D = args["hn"].shape[0]
    before = _testing.fused_calls()
    packed = run_gated(kind, args, "fused")
    block = {"avx512": 32, "avx2": 8, "sse2": 4, "neon": 4}[_kernels.isa()]  # fused_units
    ran = _testing.fused_calls() - before
    assert ran == (D if H % block == 0 else 0), (ran, H, _kernels.isa())
    blas = run_gated(kind, args, "blas")
    for got, ref in zip(packed, blas):
        assert np.array_equal(np.isnan(got), np.isnan(ref))
        assert np.array_equal(np.isinf(got), np.isinf(ref))
        ok = np.isfinite(ref)
        np.testing.assert_allclose(got[ok], ref[ok], rtol=0, atol=1e-5)


@pytest.mark.parametrize("kind", ["lstm", "gru"])
@pytest.mark.parametrize("H", [8, 32, 36, 40, 64, 96, 128])
@pytest.mark.parametrize("D", [1, 2])
@pytest.mark.parametrize("lens", [None, [9], [4], [0]])
def test_fused_row_matches_blas(kind, H, D, lens):
    args = gated_call(kind, np.float32, L=9, N=1, I=7, H=H, D=D, lens=lens, seed=H + D)
    _compare(kind, args)


@pytest.mark.parametrize("kind", ["lstm", "gru"])
@pytest.mark.parametrize("H", [32, 64])
@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_fused_row_nan_inf(kind, H, bad):
    args = gated_call(kind, np.float32, L=6, N=1, I=5, H=H, seed=3)
    args["x"][2, 1] = bad
    _compare(kind, args)
    args = gated_call(kind, np.float32, L=6, N=1, I=5, H=H, seed=4)
    args["h0"][0, 0, 3] = bad
    if kind == "lstm":
        args["c0"][0, 0, 5] = bad
    _compare(kind, args)


@pytest.mark.parametrize("kind", ["lstm", "gru"])
def test_fused_row_saturated_gates(kind):
    # pre-activations far beyond the activations' caps (sigmoid exactly 0 below -88.72)
    args = gated_call(kind, np.float32, L=5, N=1, I=3, H=32, seed=5)
    args["x"] *= 400
    _compare(kind, args)
