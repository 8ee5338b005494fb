"""Shared test setup: report the largest parity errors seen in the session,
and the fixture that proves errors come before any kernel runs."""
import pytest

import reference
from fastrnn import _kernels, _testing


@pytest.fixture
def amx_off():
    """float32 products off AMX (see fastrnn/_amx.h) for the test's duration."""
    previous = _kernels.set_amx(False)
    yield
    _kernels.set_amx(previous)


@pytest.fixture(params=_kernels.isa_paths())
def each_isa(request):
    """Run the test on every kernel path this CPU has (avx512, avx2, sse2 on
    x86-64; neon on ARM64), each forced in turn; the path is put back after."""
    previous = _kernels.set_isa(request.param)
    try:
        yield request.param
    finally:
        _kernels.set_isa(previous)


@pytest.fixture(params=[False, True], ids=["blas-small-kernels", "blas-repacks"])
def each_blas_rule(request):
    """Run the test with "auto" deciding short calls as for an OpenBLAS core
    with small-matrix kernels (SkylakeX's) and as for one that packs at every
    call (Haswell's, Zen's): fastrnn._testing.set_blas_repacks; put back after."""
    previous = _testing.set_blas_repacks(request.param)
    try:
        yield request.param
    finally:
        _testing.set_blas_repacks(previous)


@pytest.fixture
def split_unpaused():
    """Splitting never paused for the test's duration (see _barrier.h: a
    split call that starves on a busy machine pauses it), so that a test
    can check that a split ran."""
    previous = _testing.set_split_pausing(False)
    _kernels.resume_split()
    try:
        yield
    finally:
        _testing.set_split_pausing(previous)


@pytest.fixture
def no_kernel():
    """Fail the test if a kernel runs: errors must come before any kernel runs.

    Yields the layer calls run since the test began (every path's count of
    fastrnn._testing.path_calls, which run_layer counts before any kernel);
    checked again when the test ends.
    """
    before = sum(_testing.path_calls().values())

    def runs():
        return sum(_testing.path_calls().values()) - before

    yield runs
    assert runs() == 0, "a kernel ran although the input is invalid"


def pytest_configure(config):
    # torch says this on every forward of an LSTM with proj_size; it is about
    # torch's own backend choice, not about the results compared here.
    config.addinivalue_line(
        "filterwarnings", "ignore:LSTM with projections is not supported with oneDNN:UserWarning")


def pytest_terminal_summary(terminalreporter):
    errors = reference.OBSERVED_ERRORS
    parts = [f"{name} {errors[name]:.2e} (tolerance {reference.TOLERANCE[name]:.0e})"
             if name in errors else f"{name} not compared in this run"
             for name in ("float32", "float64")]
    terminalreporter.write_line(
        "largest normalized parity error |got-ref|/max(1,max|ref|): " + ", ".join(parts))
    by_kind = reference.OBSERVED_ERRORS_BY_KIND
    for kind in reference.KINDS:
        if any(k == kind for k, _ in by_kind):
            parts = [f"{name} {by_kind[kind, name]:.2e}" if (kind, name) in by_kind
                     else f"{name} not compared"
                     for name in ("float32", "float64")]
            terminalreporter.write_line(f"  {kind}: " + ", ".join(parts))


@pytest.fixture(scope="module")
def torch_one_thread():
    """torch on one thread for a module's tests, when torch is installed.

    On a busy two-core machine torch's threaded LSTM start-up costs 20-40 ms
    per new shape; the grids run hundreds of small shapes. The number of
    threads does not change what the comparisons accept.
    """
    try:
        import torch
    except ImportError:
        yield
        return
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(threads)
