"""Live and frozen fastrnn models beside onnxruntime, on short calls.

    python tools/bench_frozen.py [--kind lstm ...] [--rounds 9] [--threads 1]
    tools/bench_avx2_only.sh python tools/bench_frozen.py   (every engine on its AVX2 code)

For each configuration (kind, batch, steps, input features, hidden size), on
--threads threads (fastrnn.set_num_threads, onnxruntime's intra-op threads): a
live model (its weights packed at each call, so that in-place edits
count), the same model frozen (model.freeze(): packed once) and onnxruntime
running the file fastrnn.onnx.export writes, called in interleaved rounds in
this process. Prints the median us per call and onnxruntime's time over each
fastrnn model's (above 1: fastrnn is faster).
"""
import argparse
import io
import time

import numpy as np

import fastrnn
import fastrnn.onnx
from fastrnn import _kernels
from fastrnn.bench import wait_for_quiet_cores
from fastrnn._kinds import CLASSES

# batch, steps, input features, hidden size
SHAPES = [(1, 1, 64, 256), (2, 1, 64, 256), (4, 1, 64, 512), (8, 1, 64, 256), (8, 1, 64, 512),
          (16, 1, 64, 512), (64, 1, 64, 512), (1, 1, 32, 64), (4, 1, 32, 64), (3, 37, 40, 100),
          (1, 100, 64, 256), (1, 100, 32, 64)]


def per_call(fn, calls):
    start = time.perf_counter()
    for _ in range(calls):
        fn()
    return (time.perf_counter() - start) / calls


def main():
    import onnxruntime

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--kind", choices=sorted(CLASSES), action="append")
    parser.add_argument("--rounds", type=int, default=9)
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    fastrnn.set_num_threads(args.threads)
    for kind in args.kind or ["rnn", "lstm", "gru"]:
        for B, L, F, H in SHAPES:
            live = CLASSES[kind](F, H, seed=0)
            frozen = CLASSES[kind](F, H, seed=0).freeze()
            x = np.random.default_rng(1).standard_normal((L, B, F), dtype=np.float32)
            buffer = io.BytesIO()
            fastrnn.onnx.export(live, buffer)
            options = onnxruntime.SessionOptions()
            options.intra_op_num_threads = args.threads
            options.inter_op_num_threads = 1
            session = onnxruntime.InferenceSession(buffer.getvalue(), options,
                                                   providers=["CPUExecutionProvider"])
            feed = {session.get_inputs()[0].name: x}
            engines = {"live": lambda: live(x), "frozen": lambda: frozen(x),
                       "onnxruntime": lambda: session.run(None, feed)}
            reference = live(x)[0]
            for name, fn in engines.items():
                err = np.abs(np.asarray(fn()[0]) - reference).max()
                if not err <= 1e-4 * max(1.0, np.abs(reference).max()):
                    raise RuntimeError(f"{name} disagrees with the live model by {err:.2e}")
            calls = max(1, int(0.01 / max(per_call(fn, 3) for fn in engines.values())))
            times = {name: [] for name in engines}
            for _ in range(args.rounds):
                for name, fn in engines.items():
                    if args.threads > 1:
                        # each engine starts on quiet cores, as fastrnn.bench does:
                        # onnxruntime's pool spins after its calls
                        wait_for_quiet_cores()
                        _kernels.resume_split()
                    times[name].append(per_call(fn, calls))
            us = {name: float(np.median(t)) * 1e6 for name, t in times.items()}
            print(f"{kind:4} B={B:<3d} L={L:<3d} F={F:<3d} H={H:<4d}  live {us['live']:8.1f} us  "
                  f"frozen {us['frozen']:8.1f} us  onnxruntime {us['onnxruntime']:8.1f} us  "
                  f"onnxruntime/live {us['onnxruntime'] / us['live']:5.2f}  "
                  f"onnxruntime/frozen {us['onnxruntime'] / us['frozen']:5.2f}", flush=True)


if __name__ == "__main__":
    main()
