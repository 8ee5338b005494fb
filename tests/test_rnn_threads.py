"""Concurrent calls on one fastrnn.RNN, LSTM or GRU give exactly the results of serial calls.

The kernels run without the GIL, so threads really overlap inside them; any
shared scratch buffer or state would show up as results that differ from the
serial ones. Equality is bitwise (np.array_equal): the same arithmetic runs
whichever thread does it.
"""
import re
import threading
import time

import numpy as np
import pytest

import fastrnn

THREADS = 6
ITERATIONS = 25


def _inputs(model, rng, count, batches):
    """`count` (input, hx) pairs with batch sizes cycling through `batches` (None = unbatched).

    hx is None for every third pair, else h_0, or (h_0, c_0) for an LSTM.
    """
    rows = model.num_directions * model.num_layers
    state_sizes = [model.hidden_size]
    if isinstance(model, fastrnn.LSTM):
        state_sizes = [model.proj_size or model.hidden_size, model.hidden_size]
    pairs = []
    for i in range(count):
        N = batches[i % len(batches)]
        L = int(rng.integers(1, 24))
        if N is None:
            shape = (L, model.input_size)
        else:
            shape = (N, L, model.input_size) if model.batch_first else (L, N, model.input_size)
        x = rng.standard_normal(shape).astype(model.dtype)
        states = [(0.5 * rng.standard_normal((rows, size) if N is None else (rows, N, size)))
                  .astype(model.dtype) for size in state_sizes]
        hx = None if i % 3 == 0 else (tuple(states) if len(states) == 2 else states[0])
        pairs.append((x, hx))
    return pairs


def _arrays(result):
    """A model's result, (output, h_n) or (output, (h_n, c_n)), as a flat list of arrays."""
    output, final = result
    return [output] + (list(final) if isinstance(final, tuple) else [final])


def _same(result, expected):
    got, want = _arrays(result), _arrays(expected)
    return len(got) == len(want) and all(np.array_equal(a, b) for a, b in zip(got, want))


def _states(hx):
    """hx as a list of arrays: [], [h_0] or [h_0, c_0]."""
    return [] if hx is None else (list(hx) if isinstance(hx, tuple) else [hx])


def _hx_copy(hx):
    return None if hx is None else (tuple(s.copy() for s in hx) if isinstance(hx, tuple)
                                    else hx.copy())


def _run_concurrently(model, work_per_thread, iterations=ITERATIONS):
    """Each thread calls model on its own inputs `iterations` times; returns every result.

    `model` is one model shared by every thread, or a list of one per thread.
    """
    models = model if isinstance(model, list) else [model] * len(work_per_thread)
    barrier = threading.Barrier(len(work_per_thread))
    results = [[] for _ in work_per_thread]
    errors = []

    def worker(index):
        try:
            barrier.wait()
            for _ in range(iterations):
                for x, hx in work_per_thread[index]:
                    results[index].append(models[index](x, hx))
        except BaseException as exc:  # reported by the main thread
            errors.append(exc)

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(len(work_per_thread))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors, errors
    return results


CONFIGS = [
    dict(num_layers=3, bidirectional=True, dtype=np.float32, batches=[1]),
    dict(num_layers=3, bidirectional=True, dtype=np.float64, batches=[1]),
    dict(num_layers=2, bidirectional=True, dtype=np.float32, batches=[4, 7]),
    dict(num_layers=2, bidirectional=True, dtype=np.float64, batches=[4, 7], batch_first=True),
    dict(num_layers=1, dtype=np.float32, batches=[3], nonlinearity="relu", batch_first=True),
    dict(num_layers=2, dtype=np.float64, batches=[None, 1, 5], nonlinearity="relu"),
]


def _check_concurrent_equals_serial(model, batches, threads, iterations):
    rng = np.random.default_rng(1)
    # Each thread its own inputs: a mix-up between threads would show.
    work = [_inputs(model, rng, 3, batches) for _ in range(threads)]
    copies = [[(x.copy(), _hx_copy(hx)) for x, hx in pairs] for pairs in work]
    serial = [[model(x, hx) for x, hx in pairs] for pairs in work]

    results = _run_concurrently(model, work, iterations)

    for index, pairs in enumerate(work):
        assert len(results[index]) == iterations * len(pairs)
        for k, result in enumerate(results[index]):
            assert _same(result, serial[index][k % len(pairs)]), (index, k)
    # The inputs were not touched by any thread.
    for pairs, pairs_copy in zip(work, copies):
        for (x, hx), (x2, hx2) in zip(pairs, pairs_copy):
            assert np.array_equal(x, x2)
            assert all(np.array_equal(a, b) for a, b in zip(_states(hx), _states(hx2)))


@pytest.mark.parametrize("config", CONFIGS,
                         ids=lambda c: "-".join(f"{k}={getattr(v, '__name__', v)}"
                                                for k, v in c.items()))
def test_concurrent_calls_equal_serial_calls(config):
    config = dict(config)
    batches = config.pop("batches")
    model = fastrnn.RNN(6, 48, seed=0, **config)
    _check_concurrent_equals_serial(model, batches, THREADS, ITERATIONS)


# LSTM and GRU: 8 threads on one model, sizes on both the packed-step path
# (float32, batch 4-16) and BLAS's, with and without projection.
GATED_THREADS = 8
GATED_CONFIGS = [
    dict(cls="LSTM", num_layers=2, bidirectional=True, dtype=np.float32, batches=[4, 8]),
    dict(cls="LSTM", num_layers=2, bidirectional=True, dtype=np.float64, batches=[1, 5],
         proj_size=7, batch_first=True),
    dict(cls="LSTM", num_layers=1, dtype=np.float32, batches=[None, 1, 6], proj_size=20),
    dict(cls="GRU", num_layers=2, bidirectional=True, dtype=np.float32, batches=[4, 8]),
    dict(cls="GRU", num_layers=3, dtype=np.float64, batches=[None, 1, 3], batch_first=True),
]


@pytest.mark.parametrize("config", GATED_CONFIGS,
                         ids=lambda c: "-".join(f"{k}={getattr(v, '__name__', v)}"
                                                for k, v in c.items()))
def test_lstm_gru_concurrent_calls_equal_serial_calls(config):
    config = dict(config)
    batches = config.pop("batches")
    model = getattr(fastrnn, config.pop("cls"))(6, 32, seed=0, **config)
    _check_concurrent_equals_serial(model, batches, GATED_THREADS, iterations=6)


@pytest.mark.parametrize("cls", ["RNN", "LSTM", "GRU"])
def test_threads_share_one_input_array(cls):
    """Many threads reading the same input and hx arrays at once."""
    model = getattr(fastrnn, cls)(5, 16, num_layers=2, bidirectional=True, dtype=np.float64,
                                  seed=3)
    rng = np.random.default_rng(2)
    x = rng.standard_normal((12, 4, 5))
    hx = rng.standard_normal((4, 4, 16))
    if cls == "LSTM":
        hx = (hx, rng.standard_normal((4, 4, 16)))
    x_copy, hx_copy = x.copy(), _hx_copy(hx)
    expected = model(x, hx)
    results = _run_concurrently(model, [[(x, hx)]] * THREADS, iterations=40 if cls == "RNN" else 15)
    for per_thread in results:
        for result in per_thread:
            assert _same(result, expected)
    assert np.array_equal(x, x_copy)
    assert all(np.array_equal(a, b) for a, b in zip(_states(hx), _states(hx_copy)))


def test_threads_on_different_models_of_both_dtypes():
    """Threads on separate models at once (every class, float32 and float64)
    do not disturb each other."""
    classes = [fastrnn.RNN, fastrnn.LSTM, fastrnn.GRU]
    models = [classes[i % 3](4, 12, num_layers=2, bidirectional=i % 2 == 0,
                             dtype=(np.float32, np.float64)[i % 2], seed=i)
              for i in range(GATED_THREADS)]
    rng = np.random.default_rng(5)
    inputs = [rng.standard_normal((9, 1 + i % 3, 4)).astype(m.dtype) for i, m in enumerate(models)]
    expected = [m(x) for m, x in zip(models, inputs)]
    results = _run_concurrently(models, [[(x, None)] for x in inputs])
    for i, per_thread in enumerate(results):
        for result in per_thread:
            assert _same(result, expected[i])


# A call that holds the GIL leaves the other thread 3-7% of its solo speed
# (switch-interval leftovers, measured with the regex control below); one that
# releases it, ~90% on an idle machine. The line sits between, low enough that
# a loaded machine (other processes on the cores) does not cross it.
GIL_RELEASED = 0.12


def _python_progress_during(call):
    """(loop iterations the main thread made while `call` ran in a worker,
    iterations it makes alone in the same time, the call's duration)."""
    done = threading.Event()
    times, errors = {}, []

    def worker():
        start = time.perf_counter()
        try:
            call()
        except BaseException as exc:  # re-raised by the main thread
            errors.append(exc)
        finally:  # a call that raises must not leave the main thread spinning
            times["call"] = time.perf_counter() - start
            done.set()

    thread = threading.Thread(target=worker)
    thread.start()
    during = 0
    while not done.is_set():
        during += 1
    thread.join()
    if errors:
        raise errors[0]
    alone, end = 0, time.perf_counter() + times["call"]
    while time.perf_counter() < end:
        alone += 1
    return during, alone, times["call"]


def test_the_kernel_releases_the_gil():
    """While one thread is inside a long forward, another thread keeps running Python.

    With the GIL held for the whole time loop the main thread would get almost
    no iterations (only during the short Python parts of the call).
    """
    model = fastrnn.RNN(16, 128, seed=0)
    x = np.random.default_rng(0).standard_normal((30000, 1, 16)).astype(np.float32)
    during, alone, seconds = _python_progress_during(lambda: model(x))
    assert seconds > 0.02, "the forward was too short to tell anything"
    assert during > GIL_RELEASED * alone, (during, alone, seconds)


@pytest.mark.parametrize("cls", ["LSTM", "GRU"])
def test_the_lstm_and_gru_kernels_release_the_gil(cls):
    model = getattr(fastrnn, cls)(16, 64, seed=0)
    x = np.random.default_rng(0).standard_normal((40000, 1, 16)).astype(np.float32)
    during, alone, seconds = _python_progress_during(lambda: model(x))
    assert seconds > 0.02, "the forward was too short to tell anything"
    assert during > GIL_RELEASED * alone, (during, alone, seconds)


def test_the_gil_probe_detects_a_call_that_holds_the_gil():
    """The probe above can fail: a C call that keeps the GIL (regex backtracking) is caught."""
    during, alone, seconds = _python_progress_during(lambda: re.match(r"(a+)+b", "a" * 23))
    assert seconds > 0.02
    assert during < GIL_RELEASED * alone, (during, alone, seconds)


class _SharedScratchModel:
    """A deliberately unsafe stand-in: one scratch buffer for every call."""

    def __init__(self):
        self.scratch = np.zeros(64)

    def __call__(self, x, hx):
        self.scratch[: x.size] = x.ravel()
        time.sleep(0.0002)  # let another thread overwrite the scratch
        return self.scratch[: x.size].copy(), None


def test_the_harness_detects_shared_scratch():
    """The comparison above can fail: a model with shared scratch is caught."""
    model = _SharedScratchModel()
    work = [[(np.full(8, float(i)), None)] for i in range(THREADS)]
    results = _run_concurrently(model, work, iterations=20)
    wrong = sum(not np.array_equal(out, np.full(8, float(i)))
                for i, per_thread in enumerate(results) for out, _ in per_thread)
    assert wrong > 0
