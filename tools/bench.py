"""Side-by-side speed of fastrnn, torch and onnxruntime on the same RNN.

    python tools/bench.py [--threads 1] [--rounds 15] [--markdown]

All three engines run in this process on the same weights and input, with
the same thread count, in interleaved rounds; each round times a batch of
calls. Printed: the median ms per forward of each engine and the ratios
torch/fastrnn and onnxruntime/fastrnn (above 1: fastrnn is faster).
Needs torch and onnxruntime (tools only; fastrnn does not depend on torch).
"""
import argparse
import io
import os
import time

import numpy as np

# (batch, length, input features, hidden, layers, bidirectional)
CONFIGS = [
    (1, 100, 32, 64, 1, False),
    (1, 100, 64, 256, 1, False),
    (1, 1000, 128, 128, 1, False),
    (16, 100, 64, 256, 1, False),
    (64, 50, 256, 512, 1, False),
    (1, 100, 256, 1024, 1, False),
    (8, 100, 64, 128, 2, True),
]


def per_call_seconds(fn, calls):
    start = time.perf_counter()
    for _ in range(calls):
        fn()
    return (time.perf_counter() - start) / calls


def bench_config(cfg, threads, rounds):
    import onnxruntime as ort
    import torch

    import fastrnn
    import fastrnn.onnx

    B, L, F, H, layers, bidir = cfg
    torch.manual_seed(0)
    module = torch.nn.RNN(F, H, layers, bidirectional=bidir).eval()
    model = fastrnn.RNN.from_torch(module)
    x = np.random.default_rng(0).standard_normal((L, B, F), dtype=np.float32)
    tx = torch.from_numpy(x)

    buffer = io.BytesIO()
    fastrnn.onnx.export(model, buffer)
    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    session = ort.InferenceSession(buffer.getvalue(), options, providers=["CPUExecutionProvider"])

    def run_torch():
        with torch.inference_mode():
            return module(tx)

    engines = {
        "fastrnn": lambda: model(x),
        "torch": run_torch,
        "onnxruntime": lambda: session.run(None, {"input": x}),
    }
    # Same answer from all three before timing anything.
    reference = run_torch()[0].numpy()
    for name, fn in engines.items():
        out = fn()[0]
        out = out.numpy() if hasattr(out, "numpy") else out
        err = np.abs(out - reference).max()
        assert err <= 1e-4 * max(1, np.abs(reference).max()), (name, err)

    # Calls per round: about 20 ms of work for the slowest engine.
    calls = max(1, int(0.02 / max(per_call_seconds(fn, 3) for fn in engines.values())))
    times = {name: [] for name in engines}
    for _ in range(rounds):
        for name, fn in engines.items():
            times[name].append(per_call_seconds(fn, calls))
    return {name: float(np.median(t)) * 1e3 for name, t in times.items()}


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--rounds", type=int, default=15)
    parser.add_argument("--markdown", action="store_true", help="print a README table")
    args = parser.parse_args()

    import torch
    torch.set_num_threads(args.threads)
    os.environ.setdefault("OMP_NUM_THREADS", str(args.threads))

    rows = []
    for cfg in CONFIGS:
        ms = bench_config(cfg, args.threads, args.rounds)
        rows.append((cfg, ms))
        B, L, F, H, layers, bidir = cfg
        print(f"B={B:3d} L={L:4d} F={F:3d} H={H:4d} layers={layers} bidir={bidir!s:5}  "
              f"fastrnn {ms['fastrnn']:8.3f}  torch {ms['torch']:8.3f}  "
              f"onnxruntime {ms['onnxruntime']:8.3f} ms   "
              f"torch/fastrnn {ms['torch'] / ms['fastrnn']:5.2f}  "
              f"ort/fastrnn {ms['onnxruntime'] / ms['fastrnn']:5.2f}", flush=True)
    if args.markdown:
        print("\n| B, L, F, H, layers, D | fastrnn ms | torch ms | onnxruntime ms "
              "| torch / fastrnn | onnxruntime / fastrnn |\n|---|---|---|---|---|---|")
        for (B, L, F, H, layers, bidir), ms in rows:
            print(f"| {B}, {L}, {F}, {H}, {layers}, {2 if bidir else 1} | {ms['fastrnn']:.3f} "
                  f"| {ms['torch']:.3f} | {ms['onnxruntime']:.3f} "
                  f"| {ms['torch'] / ms['fastrnn']:.2f} | {ms['onnxruntime'] / ms['fastrnn']:.2f} |")


if __name__ == "__main__":
    main()
