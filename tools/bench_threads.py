"""Throughput of several Python threads calling one model, against one thread.

    python tools/bench_threads.py [--threads 2] [--seconds 2] [--rounds 5]

Each model runs with fastrnn.set_num_threads(1) (a call uses one core), so
that T Python threads calling at once can use T cores: the kernels release
the GIL for the whole recurrence. Prints, per model, the calls per second of
one thread and of T threads (medians over interleaved rounds) and their
ratio. FASTRNN_ISA forces a kernel path (see `fastrnn info`).
"""
import argparse
import statistics
import threading
import time

import numpy as np

import fastrnn
from fastrnn import _kernels

# class, batch, length, input features, hidden
MODELS = [
    ("LSTM", 1, 100, 64, 256),
    ("GRU", 1, 100, 64, 256),
    ("LSTM", 64, 50, 256, 512),
]


def calls_per_second(model, x, threads, seconds):
    counts = [0] * threads
    start = threading.Barrier(threads + 1)
    stop = time.perf_counter() + seconds + 0.05

    def work(k):
        start.wait()
        while time.perf_counter() < stop:
            model(x)
            counts[k] += 1

    pool = [threading.Thread(target=work, args=(k,)) for k in range(threads)]
    for t in pool:
        t.start()
    start.wait()
    t0 = time.perf_counter()
    for t in pool:
        t.join()
    return sum(counts) / (time.perf_counter() - t0)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--seconds", type=float, default=1.0)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args(argv)
    fastrnn.set_num_threads(1)
    print(f"path {_kernels.isa()}; {args.threads} Python threads against one, "
          f"{args.rounds} interleaved rounds of {args.seconds} s, medians")
    for name, B, L, F, H in MODELS:
        model = getattr(fastrnn, name)(F, H, batch_first=True)
        x = np.random.default_rng(0).standard_normal((B, L, F)).astype(np.float32)
        model(x)
        one, many = [], []
        for _ in range(args.rounds):
            one.append(calls_per_second(model, x, 1, args.seconds))
            many.append(calls_per_second(model, x, args.threads, args.seconds))
        a, b = statistics.median(one), statistics.median(many)
        print(f"{name} B={B} L={L} F={F} H={H}: one thread {a:9.1f} calls/s, "
              f"{args.threads} threads {b:9.1f} calls/s ({b / a:.2f}x)")


if __name__ == "__main__":
    main()
