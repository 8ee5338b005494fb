"""Side-by-side speed of fastrnn, onnxruntime and torch on the same models.

    fastrnn bench [--quick] [--threads N] [--frozen] [--json FILE] [--plot FILE.png] [--markdown]
    python tools/bench.py ...          (the same)

For each configuration of the grid, all engines run in this process on the
same weights and input with the same number of threads, in interleaved
rounds; each round times a batch of calls. Printed per row: the median ms per
forward of each engine, the speedups (peer time / fastrnn time, above 1:
fastrnn is faster) and fastrnn's GFLOP/s; once per run, the single-thread
sgemm GFLOP/s of the same OpenBLAS, measured in this process, as the
hardware's reference. onnxruntime runs the file fastrnn.onnx.export writes;
torch runs when it is installed (it is never a dependency of fastrnn). With
--frozen, fastrnn's models are frozen (model.freeze(): weights packed once, as
onnxruntime fixes the file's initializers when it loads it).
"""
import argparse
import ctypes
import io
import json
import os
import platform
import sys
import time

import numpy as np

import fastrnn
from fastrnn import _kernels
from fastrnn._kinds import CLASSES, GATES
from fastrnn._progress import progress

# kind, batch, length, input features, hidden, layers, bidirectional, threads
GRID = [
    ("rnn", 1, 100, 32, 64, 1, False, 1),
    ("rnn", 1, 100, 64, 256, 1, False, 1),
    ("rnn", 1, 1000, 128, 128, 1, False, 1),
    ("rnn", 16, 100, 64, 256, 2, True, 1),
    ("rnn", 16, 100, 64, 256, 2, True, 2),
    ("rnn", 64, 50, 256, 512, 1, False, 1),
    ("rnn", 1, 100, 64, 256, 1, False, 2),   # one direction on two threads: hidden units split
    ("rnn", 64, 50, 256, 512, 1, False, 2),
    ("rnn", 1, 100, 256, 1024, 1, False, 1),
    ("rnn", 3, 100, 40, 100, 1, False, 1),
    ("rnn", 3, 37, 40, 100, 2, False, 1),     # sizes that are not powers of two
    ("rnn", 7, 61, 24, 200, 1, True, 1),
    ("rnn", 1, 1, 32, 64, 1, False, 1),   # streaming: one step per call, per-call overhead
    ("rnn", 4, 1, 32, 64, 1, False, 1),   # streaming four sequences side by side
    ("rnn", 16, 1, 64, 256, 1, False, 1),  # streaming sixteen through a wider layer
    ("lstm", 1, 100, 32, 64, 1, False, 1),
    ("lstm", 1, 100, 64, 256, 1, False, 1),
    ("lstm", 1, 1000, 128, 128, 1, False, 1),
    ("lstm", 16, 100, 64, 256, 2, True, 1),
    ("lstm", 16, 100, 64, 256, 2, True, 2),
    ("lstm", 64, 50, 256, 512, 1, False, 1),
    ("lstm", 1, 100, 64, 256, 1, False, 2),   # one direction on two threads: hidden units split
    ("lstm", 64, 50, 256, 512, 1, False, 2),
    ("lstm", 1, 100, 256, 1024, 1, False, 1),
    ("lstm", 3, 100, 40, 100, 1, False, 1),
    ("lstm", 3, 37, 40, 100, 2, False, 1),     # sizes that are not powers of two
    ("lstm", 7, 61, 24, 200, 1, True, 1),
    ("lstm", 1, 1, 32, 64, 1, False, 1),   # streaming: one step per call, per-call overhead
    ("lstm", 4, 1, 32, 64, 1, False, 1),   # streaming four sequences side by side
    ("lstm", 16, 1, 64, 256, 1, False, 1),  # streaming sixteen through a wider layer
    ("gru", 1, 100, 32, 64, 1, False, 1),
    ("gru", 1, 100, 64, 256, 1, False, 1),
    ("gru", 1, 1000, 128, 128, 1, False, 1),
    ("gru", 16, 100, 64, 256, 2, True, 1),
    ("gru", 16, 100, 64, 256, 2, True, 2),
    ("gru", 64, 50, 256, 512, 1, False, 1),
    ("gru", 1, 100, 64, 256, 1, False, 2),   # one direction on two threads: hidden units split
    ("gru", 64, 50, 256, 512, 1, False, 2),
    ("gru", 1, 100, 256, 1024, 1, False, 1),
    ("gru", 3, 100, 40, 100, 1, False, 1),
    ("gru", 3, 37, 40, 100, 2, False, 1),     # sizes that are not powers of two
    ("gru", 7, 61, 24, 200, 1, True, 1),
    ("gru", 1, 1, 32, 64, 1, False, 1),   # streaming: one step per call, per-call overhead
    ("gru", 4, 1, 32, 64, 1, False, 1),   # streaming four sequences side by side
    ("gru", 16, 1, 64, 256, 1, False, 1),  # streaming sixteen through a wider layer
]
FIELDS = ("kind", "batch", "length", "input_size", "hidden_size", "num_layers", "bidirectional",
          "threads")


def forward_flops(kind, B, L, F, H, layers, bidirectional):
    """Multiply-adds x 2 of the matrix products of one forward (activations not counted)."""
    D = 2 if bidirectional else 1
    G = GATES[kind]
    flops = 0
    for k in range(layers):
        in_k = F if k == 0 else D * H
        flops += D * 2 * L * B * G * H * (in_k + H)
    return flops


def sgemm_gflops(n=1024, repeat=5):
    """Single-thread sgemm GFLOP/s of the OpenBLAS fastrnn uses, n x n x n, best of `repeat`."""
    from fastrnn import _openblas

    lib = _openblas.library
    sgemm = lib.scipy_cblas_sgemm
    fp = ctypes.POINTER(ctypes.c_float)
    sgemm.argtypes = [ctypes.c_int] * 6 + [ctypes.c_float, fp, ctypes.c_int, fp, ctypes.c_int,
                                           ctypes.c_float, fp, ctypes.c_int]
    sgemm.restype = None
    rng = np.random.default_rng(0)
    a, b = (rng.standard_normal((n, n), dtype=np.float32) for _ in range(2))
    c = np.zeros((n, n), np.float32)
    ptr = (lambda m: m.ctypes.data_as(fp))
    row_major, no_trans = 101, 111
    best = np.inf
    for _ in range(repeat):
        start = time.perf_counter()
        sgemm(row_major, no_trans, no_trans, n, n, n, 1.0, ptr(a), n, ptr(b), n, 0.0, ptr(c), n)
        best = min(best, time.perf_counter() - start)
    return 2 * n ** 3 / best / 1e9


def _per_call(fn, calls):
    start = time.perf_counter()
    for _ in range(calls):
        fn()
    return (time.perf_counter() - start) / calls


def wait_for_quiet_cores(window=0.01, timeout=1.0):
    """Sleep until this process's threads use no CPU for a window of seconds
    (at most timeout): onnxruntime's pool spins for ~50 ms after a call and
    torch's for ~10 ms (measured with time.process_time on both engines'
    two-thread calls), on cores the next engine's round needs."""
    deadline = time.perf_counter() + timeout
    while True:
        used = time.process_time()
        time.sleep(window)
        if time.process_time() - used < 0.1 * window or time.perf_counter() > deadline:
            return


def _torch_engine(kind, config, model, x, threads):
    try:
        import torch
    except ImportError:
        return None
    torch.set_num_threads(threads)
    module = getattr(torch.nn, kind.upper())(**config).eval()
    module.load_state_dict({k: torch.from_numpy(v) for k, v in model.state_dict().items()})
    tx = torch.from_numpy(x)

    def run():
        with torch.inference_mode():
            return module(tx)[0].numpy()
    return run


def _onnxruntime_engine(model, x, threads):
    """onnxruntime running the file fastrnn.onnx.export writes, or None
    without onnx and onnxruntime (the core install)."""
    try:
        import onnxruntime

        import fastrnn.onnx
    except ImportError:
        return None

    buffer = io.BytesIO()
    fastrnn.onnx.export(model, buffer)
    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    session = onnxruntime.InferenceSession(buffer.getvalue(), options,
                                           providers=["CPUExecutionProvider"])
    feed = {session.get_inputs()[0].name: x}
    return lambda: session.run(None, feed)[0]


def bench_row(row, rounds, seconds_per_round=0.02, frozen=False):
    """Median ms per forward of each engine on one configuration (fastrnn's
    model frozen when `frozen`)."""
    kind, B, L, F, H, layers, bidirectional, threads = row
    config = dict(input_size=F, hidden_size=H, num_layers=layers, bidirectional=bidirectional)
    model = CLASSES[kind](**config, seed=0)
    if frozen:
        model.freeze()
    fastrnn.set_num_threads(threads)  # run() puts the caller's count back
    x = np.random.default_rng(1).standard_normal((L, B, F), dtype=np.float32)
    engines = {"fastrnn": lambda: model(x)[0]}
    for name, run in (("onnxruntime", _onnxruntime_engine(model, x, threads)),
                      ("torch", _torch_engine(kind, config, model, x, threads))):
        if run is not None:
            engines[name] = run
    # The same answer from every engine before timing anything.
    reference = engines["fastrnn"]()
    for name, fn in engines.items():
        err = np.abs(fn() - reference).max() / max(1.0, np.abs(reference).max())
        if not err <= 1e-4:
            raise RuntimeError(f"{name} disagrees with fastrnn by {err:.2e} on {row}")
    calls = max(1, int(seconds_per_round / max(_per_call(fn, 2) for fn in engines.values())))
    times = {name: [] for name in engines}
    for _ in range(rounds):
        for name, fn in engines.items():
            if threads > 1:
                # onnxruntime's and torch's pools keep spinning after a call;
                # a split fastrnn layer starved by them would pause its
                # splitting (see fastrnn/_barrier.h). Each engine starts its
                # round on quiet cores.
                wait_for_quiet_cores()
                _kernels.resume_split()
            times[name].append(_per_call(fn, calls))
    ms = {name: float(np.median(t)) * 1e3 for name, t in times.items()}
    result = dict(zip(FIELDS, row))
    result["ms"] = ms
    result["speedup"] = {name: ms[name] / ms["fastrnn"] for name in ms if name != "fastrnn"}
    result["fastrnn_gflops"] = forward_flops(kind, B, L, F, H, layers, bidirectional) \
        / (ms["fastrnn"] * 1e-3) / 1e9
    return result


def row_label(r):
    return (f"{r['kind']:4} B={r['batch']:<3d} L={r['length']:<4d} F={r['input_size']:<3d} "
            f"H={r['hidden_size']:<4d} layers={r['num_layers']} "
            f"D={2 if r['bidirectional'] else 1} threads={r['threads']}")


def format_row(r):
    ms, sp = r["ms"], r["speedup"]
    peers = "  ".join(f"{name} {ms[name]:8.3f} ms ({sp[name]:5.2f}x)" for name in sp)
    return (f"{row_label(r)}  fastrnn {ms['fastrnn']:8.3f} ms {r['fastrnn_gflops']:6.1f} GFLOP/s  "
            f"{peers}")


def markdown(results, peak):
    lines = [f"sgemm, one thread, same OpenBLAS: {peak:.0f} GFLOP/s", "",
             "| kind | B, L, F, H, layers, D, threads | fastrnn ms | GFLOP/s | onnxruntime ms "
             "| torch ms | onnxruntime / fastrnn | torch / fastrnn |",
             "|---|---|---|---|---|---|---|---|"]
    for r in results:
        ms, sp = r["ms"], r["speedup"]
        D = 2 if r["bidirectional"] else 1
        peer_ms = {name: f"{ms[name]:.3f}" if name in ms else "-" for name in ("onnxruntime", "torch")}
        peer_sp = {name: f"{sp[name]:.2f}" if name in sp else "-" for name in ("onnxruntime", "torch")}
        lines.append(
            f"| {r['kind']} | {r['batch']}, {r['length']}, {r['input_size']}, {r['hidden_size']}, "
            f"{r['num_layers']}, {D}, {r['threads']} | {ms['fastrnn']:.3f} | "
            f"{r['fastrnn_gflops']:.1f} | {peer_ms['onnxruntime']} | {peer_ms['torch']} | "
            f"{peer_sp['onnxruntime']} | {peer_sp['torch']} |")
    return "\n".join(lines)


def plot(results, path):
    """A bar chart of the speedups per configuration (needs matplotlib)."""
    try:
        import matplotlib
    except ImportError:
        print("--plot: matplotlib is not installed; no plot drawn", file=sys.stderr)
        return False
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    labels = [row_label(r).replace("  ", " ") for r in results]
    peers = sorted({name for r in results for name in r["speedup"]})
    fig, ax = plt.subplots(figsize=(10, 0.35 * len(results) + 1.5))
    y = np.arange(len(results))
    height = 0.8 / max(1, len(peers))
    for i, name in enumerate(peers):
        values = [r["speedup"].get(name, np.nan) for r in results]
        ax.barh(y + i * height, values, height, label=f"{name} time / fastrnn time")
    ax.axvline(1.0, color="black", linewidth=0.8)
    ax.set_yticks(y + height * (len(peers) - 1) / 2)
    ax.set_yticklabels(labels, fontsize=7, family="monospace")
    ax.invert_yaxis()
    ax.set_xlabel("speedup of fastrnn (above 1: fastrnn is faster)")
    ax.legend(loc="lower right")
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    return True


def run(quick=False, threads=None, rounds=None, json_path=None, plot_path=None,
        markdown_table=False, kinds=None, out=None, grid=GRID, frozen=False):
    """Run the grid (or part of it) and print the table; returns the results."""
    out = out or sys.stdout
    grid = [row for row in grid if (kinds is None or row[0] in kinds)]
    if threads is not None:
        grid = list(dict.fromkeys(row[:-1] + (threads,) for row in grid))
    rounds = rounds or (5 if quick else 15)
    peak = sgemm_gflops(512 if quick else 1024)
    print(f"sgemm, one thread, same OpenBLAS: {peak:.0f} GFLOP/s "
          f"(fastrnn {fastrnn.__version__}, {platform.machine()}, {os.cpu_count()} cores; "
          f"{rounds} interleaved rounds, medians"
          f"{'; fastrnn frozen: model.freeze()' if frozen else ''})", file=out, flush=True)
    results = []
    caller_threads = fastrnn.get_num_threads()
    try:
        for i, row in enumerate(grid):
            progress(i, len(grid), row_label(dict(zip(FIELDS, row))))
            results.append(bench_row(row, rounds, 0.005 if quick else 0.02, frozen))
            progress(i + 1, len(grid), "")  # clears the bar before the row is printed
            print(format_row(results[-1]), file=out, flush=True)
    finally:
        fastrnn.set_num_threads(caller_threads)
    if markdown_table:
        print("\n" + markdown(results, peak), file=out)
    if json_path:
        with open(json_path, "w") as f:
            json.dump(dict(sgemm_gflops=peak, fastrnn=fastrnn.__version__, rounds=rounds,
                           frozen=frozen, results=results), f, indent=1)
    if plot_path:
        plot(results, plot_path)
    return results


def positive_int(text):
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {value}")
    return value


def add_arguments(parser):
    parser.add_argument("--quick", action="store_true",
                        help="fewer rounds and shorter rounds: a rough table in seconds")
    parser.add_argument("--threads", type=positive_int, metavar="N",
                        help="run every configuration with N threads (default: the grid's own)")
    parser.add_argument("--rounds", type=positive_int, help="interleaved rounds (default 15; 5 with --quick)")
    parser.add_argument("--kind", choices=sorted(CLASSES), action="append",
                        help="only this model class (repeatable)")
    parser.add_argument("--frozen", action="store_true",
                        help="freeze fastrnn's models (model.freeze(): weights packed once)")
    parser.add_argument("--json", metavar="FILE", help="write the results as JSON")
    parser.add_argument("--plot", metavar="FILE.png", help="draw the speedups (needs matplotlib)")
    parser.add_argument("--markdown", action="store_true", help="also print a README table")


def main(argv=None):
    parser = argparse.ArgumentParser(prog="fastrnn bench", description=__doc__.splitlines()[0])
    add_arguments(parser)
    args = parser.parse_args(argv)
    run(args.quick, args.threads, args.rounds, args.json, args.plot, args.markdown, args.kind,
        frozen=args.frozen)
    return 0


if __name__ == "__main__":
    sys.exit(main())
