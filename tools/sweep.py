"""fastrnn against onnxruntime over a grid of batch sizes x hidden sizes.

The bench (`fastrnn bench`) times the issue's fixed grid against onnxruntime
and torch; this sweeps batch and hidden size around it, one model class at a
time, to find the shapes where fastrnn is not ahead. Both engines run in
this process on one thread, on the same weights and input, in interleaved
rounds; printed: median ms per forward and onnxruntime / fastrnn (above 1:
fastrnn is faster), rows below 1.1 marked.

    python tools/sweep.py --kind lstm --batch 1 16 64 --hidden 128 512
"""
import argparse
import os
import tempfile
import time

import numpy as np

import fastrnn
import fastrnn.onnx


def median_times(model, session, feed, x, rounds):
    """Median seconds per call of fastrnn and onnxruntime, interleaved."""
    start = time.perf_counter()
    model(x)
    once = time.perf_counter() - start
    calls = max(1, int(0.03 / max(once, 1e-6)))  # ~30 ms per round and engine
    ours, theirs = [], []
    for _ in range(rounds):
        start = time.perf_counter()
        for _ in range(calls):
            model(x)
        ours.append((time.perf_counter() - start) / calls)
        start = time.perf_counter()
        for _ in range(calls):
            session.run(None, feed)
        theirs.append((time.perf_counter() - start) / calls)
    return float(np.median(ours)), float(np.median(theirs))


def main(argv=None):
    import onnxruntime

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--kind", choices=["rnn", "lstm", "gru"], action="append")
    parser.add_argument("--batch", type=int, nargs="+", default=[1, 4, 8, 16, 32, 128, 256])
    parser.add_argument("--hidden", type=int, nargs="+", default=[32, 64, 128, 256, 384, 512])
    parser.add_argument("--length", type=int, default=50)
    parser.add_argument("--features", type=int, default=64)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args(argv)
    fastrnn.set_num_threads(1)
    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads = options.inter_op_num_threads = 1
    rng = np.random.default_rng(0)
    folder = tempfile.mkdtemp()
    for kind in args.kind or ["lstm"]:
        for H in args.hidden:
            for B in args.batch:
                model = getattr(fastrnn, kind.upper())(args.features, H, batch_first=True)
                x = rng.standard_normal((B, args.length, args.features)).astype(np.float32)
                path = os.path.join(folder, f"{kind}.onnx")
                fastrnn.onnx.export(model, path)
                session = onnxruntime.InferenceSession(path, options,
                                                       providers=["CPUExecutionProvider"])
                feed = {session.get_inputs()[0].name: x}
                session.run(None, feed)
                ours, theirs = median_times(model, session, feed, x, args.rounds)
                ratio = theirs / ours
                print(f"{kind:4s} H={H:<5d} B={B:<4d} fastrnn {ours * 1e3:9.3f} ms  "
                      f"onnxruntime {theirs * 1e3:9.3f} ms  onnxruntime / fastrnn {ratio:5.2f}"
                      + ("  <" if ratio < 1.1 else ""), flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
