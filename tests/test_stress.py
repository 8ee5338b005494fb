"""Stress: 8 Python threads x 1000 calls each on shared models of every class.

Mixed shapes (batched, unbatched, batch sizes 1-5, lengths 1-12), initial
states and lengths, float32 and float64 models: every concurrent result must
equal, bitwise, the result of the same call made serially, and the whole run
must keep finishing calls (a deadlock would hang instead: the test fails
when no call finishes for STALL seconds).
"""
import os
import threading
import time

import numpy as np

import fastrnn

THREADS = 8
CALLS = 1000
TIMEOUT = 120  # seconds for all threads together; the run takes about 2 s
STALL = 30     # seconds without a finished call: a deadlock, not a slow machine
if os.environ.get("FASTRNN_ASAN") == "1":  # tools/asan.sh, tools/tsan.sh: 30-100x slower
    TIMEOUT *= 20


def _models():
    return [
        fastrnn.RNN(3, 9, 2, bidirectional=True, seed=1),
        fastrnn.LSTM(3, 8, 2, proj_size=5, batch_first=True, seed=2),
        fastrnn.GRU(3, 7, 1, bidirectional=True, dtype=np.float64, seed=3),
        fastrnn.LSTM(3, 70, 1, seed=4),   # large enough for the packed step kernel at N >= 4
    ]


def _call(model, rng):
    """One random call: (args, kwargs)."""
    L = int(rng.integers(1, 13))
    batched = rng.random() < 0.8
    N = int(rng.integers(1, 6)) if batched else 1
    if batched:
        shape = (N, L, 3) if model.batch_first else (L, N, 3)
    else:
        shape = (L, 3)
    x = rng.standard_normal(shape).astype(np.float32)
    kwargs = {}
    if batched and rng.random() < 0.3:
        kwargs["lengths"] = rng.integers(1, L + 1, N)
    hx = None
    if rng.random() < 0.5:
        rows = model.num_directions * model.num_layers
        size = lambda s: (rows, N, s) if batched else (rows, s)  # noqa: E731
        h0 = rng.standard_normal(size(model.proj_size or model.hidden_size))
        hx = (h0, rng.standard_normal(size(model.hidden_size))) \
            if isinstance(model, fastrnn.LSTM) else h0
    return (x, hx), kwargs


def _flat(result):
    output, state = result
    return [output] + (list(state) if isinstance(state, tuple) else [state])


def test_threads_times_calls_equal_serial_results():
    models = _models()
    rng = np.random.default_rng(0)
    # Each thread's own list of (model index, args, kwargs), mixing every model.
    plans = [[(i % len(models),) + _call(models[i % len(models)], rng)
              for i in rng.permutation(CALLS)] for _ in range(THREADS)]
    expected = [[_flat(models[m](*args, **kwargs)) for m, args, kwargs in plan]
                for plan in plans]
    mismatches, errors = [], []
    done = [0] * THREADS  # calls each thread has finished
    start = threading.Barrier(THREADS)

    def worker(t):
        try:
            start.wait()
            for i, (m, args, kwargs) in enumerate(plans[t]):
                got = _flat(models[m](*args, **kwargs))
                if not all(np.array_equal(g, e) for g, e in zip(got, expected[t][i])):
                    mismatches.append((t, i))
                done[t] += 1
        except Exception as exc:  # reported below; a thread must not die silently
            errors.append((t, repr(exc)))

    threads = [threading.Thread(target=worker, args=(t,), daemon=True) for t in range(THREADS)]
    for thread in threads:
        thread.start()
    began = last_change = time.monotonic()
    last = 0
    while any(thread.is_alive() for thread in threads):
        time.sleep(0.05)
        now = time.monotonic()
        if sum(done) != last:
            last, last_change = sum(done), now
        assert now - last_change < STALL, f"no call finished for {STALL} s (deadlock?): {done}"
        assert now - began < TIMEOUT, f"not done after {TIMEOUT} s: calls finished {done}"
    assert errors == []
    assert mismatches == []
    assert done == [CALLS] * THREADS
