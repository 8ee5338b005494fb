"""The measurement behind fastrnn._kernels.use_packed_step.

    python tools/bench_step.py [--length 200]

Times one float32 layer (tanh, one direction, one thread) with the recurrent
product on OpenBLAS and on fastrnn's packed step kernel, over batch sizes and
hidden sizes, and prints OpenBLAS time / packed time (above 1: packed is
faster) and which path "auto" picks. Needs only fastrnn.
"""
import argparse
import time

import numpy as np

from fastrnn import _kernels


def layer_ms(L, N, I, H, recurrent, reps=3):
    rng = np.random.default_rng(0)
    x = rng.standard_normal((L * N, I)).astype(np.float32)
    w_ih = (rng.standard_normal((1, H, I)) / np.sqrt(I)).astype(np.float32)
    w_hh = (rng.standard_normal((1, H, H)) / np.sqrt(H)).astype(np.float32)
    out, hn, zero = np.empty((L * N, H), np.float32), np.empty((1, N, H), np.float32), np.zeros(1)
    args = (x, out, w_ih, w_hh, None, None, None, hn, None, L, False,
            np.zeros(1, np.int32), np.ones(1, np.int32), zero, zero, np.inf)
    _kernels.rnn_layer(*args, recurrent=recurrent)
    times = []
    for _ in range(reps):
        start = time.perf_counter()
        _kernels.rnn_layer(*args, recurrent=recurrent)
        times.append(time.perf_counter() - start)
    return float(np.median(times)) * 1e3


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--length", type=int, default=200)
    args = parser.parse_args()
    L = args.length
    hidden = (64, 128, 256, 512, 1024)
    print(f"OpenBLAS / packed, L={L}; * = auto picks packed")
    for N in (1, 2, 3, 4, 8, 16, 64):
        cells = []
        for H in hidden:
            ratio = layer_ms(L, N, 64, H, "blas") / layer_ms(L, N, 64, H, "packed")
            mark = "*" if _kernels.use_packed_step(L, N, H) else " "
            cells.append(f"H={H}:{ratio:5.2f}{mark}")
        print(f"N={N:3d}  " + "  ".join(cells), flush=True)


if __name__ == "__main__":
    main()
