"""The measurement behind fastrnn._testing.use_packed_step ("auto"'s rule).

    python tools/bench_step.py [--kind rnn|lstm|gru] [--length 200]
    python tools/bench_step.py --kind lstm --paths packed ahead --batch 1 --input 128

Times one float32 layer (default activations, one direction, one thread)
with the recurrent product on OpenBLAS and on fastrnn's packed step kernel,
over batch sizes and hidden sizes (input size 64), and prints OpenBLAS time /
packed time (above 1: packed is faster) and which path "auto" picks. --paths
compares two other kernel paths the same way (the second one's time below),
such as "packed" and "ahead" (the input projection inside the one-row steps).
Needs only fastrnn.
"""
import argparse
import time

import numpy as np

import fastrnn
from fastrnn import _kernels, _testing

GATES = {"rnn": 1, "lstm": 4, "gru": 3}


def layer_call(kind, L, N, I, H):
    """A function running one layer of `kind` on random data with a given path."""
    rng = np.random.default_rng(0)
    G = GATES[kind]
    x = rng.standard_normal((L * N, I)).astype(np.float32)
    w_ih = (rng.standard_normal((1, G * H, I)) / np.sqrt(I)).astype(np.float32)
    w_hh = (rng.standard_normal((1, G * H, H)) / np.sqrt(H)).astype(np.float32)
    out, hn, cn = (np.empty((L * N, H), np.float32), np.empty((1, N, H), np.float32),
                   np.empty((1, N, H), np.float32))
    forward = np.zeros(1, np.int32)
    acts = [_kernels.ACTIVATIONS[a] for a in ("tanh",) if kind == "rnn"] or \
        [_kernels.ACTIVATIONS[a] for a in ("sigmoid", "tanh", "tanh")[:G - 1]]
    act = np.array([acts], np.int32)
    zero = np.zeros(act.shape)
    layers = {path: _kernels.Layer(kind, w_ih, w_hh, reverse=forward, act=act, alpha=zero,
                                   beta=zero, option=kind == "gru", recurrent=path)
              for path in ("blas", "packed", "auto", "fused", "ahead", "dot")}
    lstm = kind == "lstm"
    return lambda recurrent: layers[recurrent].run(x, out, None, None, hn, cn if lstm else None,
                                                   None, L, False)


def time_ratio(kind, L, N, I, H, paths=("blas", "packed"), reps=5):
    """Best time on the first path / best time on the second, runs interleaved
    (the best of a few is what load from other processes disturbs least)."""
    run = layer_call(kind, L, N, I, H)
    times = {path: [] for path in paths}
    for path in times:
        run(path)
    for _ in range(reps):
        for path, spent in times.items():
            run(path)  # (the call after another path's may pay for its scratch)
            start = time.perf_counter()
            run(path)
            spent.append(time.perf_counter() - start)
    return min(times[paths[0]]) / min(times[paths[1]])


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--kind", choices=sorted(GATES), default="rnn")
    parser.add_argument("--length", type=int, default=200)
    parser.add_argument("--batch", type=int, nargs="*", default=[1, 2, 3, 4, 8, 16, 64])
    parser.add_argument("--hidden", type=int, nargs="*", default=[64, 128, 256, 512, 1024])
    parser.add_argument("--input", type=int, default=64)
    parser.add_argument("--paths", nargs=2, default=["blas", "packed"],
                        choices=["blas", "packed", "auto", "fused", "ahead", "dot"])
    args = parser.parse_args()
    L = args.length
    fastrnn.set_num_threads(1)  # one thread, as the docstring says

    def rule(L, N, H):
        # the rule looks at the rows (L steps of N), and at H for short calls
        return _testing.use_packed_step(L, N, H)
    first, second = args.paths
    print(f"{args.kind}: {first} / {second}, L={L}, input {args.input}; "
          "* = auto picks packed")
    for N in args.batch:
        cells = []
        for H in args.hidden:
            ratio = time_ratio(args.kind, L, N, args.input, H, args.paths)
            mark = "*" if rule(L, N, H) else " "
            cells.append(f"H={H}:{ratio:5.2f}{mark}")
        print(f"N={N:3d}  " + "  ".join(cells), flush=True)


if __name__ == "__main__":
    main()
