"""The measurement behind fastrnn._testing.use_packed_step ("auto"'s rule).

    python tools/bench_step.py [--kind rnn|lstm|gru] [--length 200]

Times one float32 layer (default activations, one direction, one thread)
with the recurrent product on OpenBLAS and on fastrnn's packed step kernel,
over batch sizes and hidden sizes (input size 64), and prints OpenBLAS time /
packed time (above 1: packed is faster) and which path "auto" picks. Needs
only fastrnn.
"""
import argparse
import time

import numpy as np

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
              for path in ("blas", "packed", "auto")}
    lstm = kind == "lstm"
    return lambda recurrent: layers[recurrent].run(x, out, None, None, hn, cn if lstm else None,
                                                   None, L, False)


def blas_over_packed(kind, L, N, I, H, reps=5):
    """Best time on OpenBLAS / best time on the packed kernel, runs interleaved
    (the best of a few is what load from other processes disturbs least)."""
    run = layer_call(kind, L, N, I, H)
    times = {"blas": [], "packed": []}
    for path in times:
        run(path)
    for _ in range(reps):
        for path, spent in times.items():
            start = time.perf_counter()
            run(path)
            spent.append(time.perf_counter() - start)
    return min(times["blas"]) / min(times["packed"])


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--kind", choices=sorted(GATES), default="rnn")
    parser.add_argument("--length", type=int, default=200)
    parser.add_argument("--batch", type=int, nargs="*", default=[1, 2, 3, 4, 8, 16, 64])
    parser.add_argument("--hidden", type=int, nargs="*", default=[64, 128, 256, 512, 1024])
    args = parser.parse_args()
    L = args.length

    def rule(L, N, H):
        # the rule looks at the rows alone: L steps of N
        return _testing.use_packed_step(L, N)
    print(f"{args.kind}: OpenBLAS / packed, L={L}; * = auto picks packed")
    for N in args.batch:
        cells = []
        for H in args.hidden:
            ratio = blas_over_packed(args.kind, L, N, 64, H)
            mark = "*" if rule(L, N, H) else " "
            cells.append(f"H={H}:{ratio:5.2f}{mark}")
        print(f"N={N:3d}  " + "  ".join(cells), flush=True)


if __name__ == "__main__":
    main()
