"""Command line: `python -m fastrnn demo`."""
import argparse
import os
import sys
import tempfile
import time

import numpy as np

import fastrnn


def windows(series, length):
    """(len(series) - length + 1, length, features): every window of `length` steps."""
    count = len(series) - length + 1
    return np.stack([series[i:i + length] for i in range(count)])


def demo(args):
    """The main job on a built-in example, as in the tutorials fastrnn grew from.

    A two-feature series (a rising count and a sine wave) is cut into windows
    that form a batch, fed batch_first to a 2-layer RNN.
    """
    steps = np.arange(1, args.steps + 1, dtype=np.float32)
    series = np.stack([steps / args.steps, np.sin(steps / 5)], axis=1)  # (steps, 2)
    batch = windows(series, args.window)                                # (N, L, 2)

    model = fastrnn.RNN(input_size=2, hidden_size=args.hidden, num_layers=2,
                        batch_first=True, seed=0)
    output, h_n = model(batch)
    print(f"model:  {model}")
    print(f"input:  {batch.shape}  (N windows, L steps, H_in features)")
    print(f"output: {output.shape}  (N, L, D*H_out)")
    print(f"h_n:    {h_n.shape}  (D*num_layers, N, H_out)")
    same = np.array_equal(output[:, -1], h_n[-1])
    print(f"output[:, -1] == h_n[-1]: {same}")

    times = []
    for _ in range(args.repeat):
        start = time.perf_counter()
        model(batch)
        times.append(time.perf_counter() - start)
    print(f"forward: {np.median(times) * 1e3:.3f} ms median of {args.repeat} "
          f"(N={batch.shape[0]}, L={batch.shape[1]}, H={args.hidden}, float32)")
    return 0 if same and onnx_demo(model, batch, output, args.onnx) else 1


def onnx_demo(model, batch, output, path):
    """Export to ONNX (checked by onnx.checker), verify in onnxruntime, load back."""
    import fastrnn.onnx

    with tempfile.TemporaryDirectory() as tmp:
        target = path or os.path.join(tmp, "demo_rnn.onnx")
        proto = fastrnn.onnx.export(model, target)
        opset = proto.opset_import[0].version
        print(f"onnx:   wrote {path or 'a temporary file'} ({os.path.getsize(target)} bytes, "
              f"opset {opset}, {len(proto.graph.node)} nodes), passes onnx.checker")
        worst = fastrnn.onnx.verify(model, target, [batch, batch[:3, :7]])
        print(f"onnx:   onnxruntime vs fastrnn, largest scaled difference {worst:.2e} "
              f"(tolerance {fastrnn.onnx.TOLERANCE:.0e}) at batch sizes {len(batch)} and 3")
        loaded = fastrnn.onnx.load(target)
        same = np.array_equal(loaded(batch)[0], output)
        print(f"onnx:   fastrnn.onnx.load gives {loaded}, same output: {same}")
    return same


def positive_int(text):
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {value}")
    return value


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m fastrnn", description=fastrnn.__doc__)
    parser.add_argument("--version", action="version", version=fastrnn.__version__)
    commands = parser.add_subparsers(dest="command", required=True)
    p = commands.add_parser("demo", help="run a small multi-layer RNN on windows of a series")
    p.add_argument("--steps", type=positive_int, default=200, help="length of the series")
    p.add_argument("--window", type=positive_int, default=30, help="steps per window (L)")
    p.add_argument("--hidden", type=positive_int, default=64, help="hidden size (H_out)")
    p.add_argument("--repeat", type=positive_int, default=50, help="timed forward calls")
    p.add_argument("--onnx", metavar="PATH", help="keep the exported ONNX file here")
    p.set_defaults(run=demo)
    args = parser.parse_args(argv)
    if args.command == "demo" and args.window > args.steps:
        parser.error(f"--window ({args.window}) must not exceed --steps ({args.steps})")
    return args.run(args)


if __name__ == "__main__":
    sys.exit(main())
