"""The `fastrnn` command (also `python -m fastrnn`).

    fastrnn demo                      the main job on built-in data
    fastrnn export WEIGHTS -o F.onnx  a fastrnn .npz or a torch state_dict -> verified ONNX
    fastrnn verify F.onnx             fastrnn vs onnxruntime on one file
    fastrnn bench                     speed beside onnxruntime and torch (fastrnn.bench)
    fastrnn conformance               parity suites: torch, onnxruntime, ONNX's own cases
    fastrnn info                      version, BLAS, threads, CPU features

Errors in what the user gave (a missing file, a file of the wrong kind, a bad
flag) print one line on stderr and exit with status 2; a file that fastrnn
and onnxruntime compute differently exits with status 1.
"""
import argparse
import ctypes
import importlib.metadata
import os
import platform
import sys
import tempfile
import time
import zipfile

import numpy as np

import fastrnn
from fastrnn import _kernels
from fastrnn._arrays import real_array
from fastrnn._files import CONFIG_KEY
from fastrnn._kinds import CLASSES as KINDS, GATES
from fastrnn._optional import INSTALL_ONNX, MissingDependency
from fastrnn.bench import positive_int


class CommandError(Exception):
    """A mistake in the command's input: reported in one line, exit status 2."""


class Parser(argparse.ArgumentParser):
    """argparse, but a usage error is one line on stderr (exit status 2)."""

    def error(self, message):
        self.exit(2, f"{self.prog}: error: {message}\n")




# ---------------------------------------------------------------- demo
def windows(series, length):
    """(len(series) - length + 1, length, features): every window of `length` steps."""
    count = len(series) - length + 1
    return np.stack([series[i:i + length] for i in range(count)])


def demo(args):
    """The main job on a built-in example, as in the tutorials fastrnn grew from.

    A two-feature series (a rising count and a sine wave) is cut into windows
    that form a batch, fed batch_first to a 2-layer RNN, LSTM and GRU in turn;
    each is exported to ONNX, verified in onnxruntime and loaded back.
    """
    if args.window > args.steps:
        raise CommandError(f"--window ({args.window}) must not exceed --steps ({args.steps})")
    if args.onnx and not os.path.isdir(args.onnx):
        raise CommandError(f"--onnx must name an existing directory, got {args.onnx!r}")
    steps = np.arange(1, args.steps + 1, dtype=np.float32)
    series = np.stack([steps / args.steps, np.sin(steps / 5)], axis=1)  # (steps, 2)
    batch = windows(series, args.window)                                # (N, L, 2)
    print(f"input:  {batch.shape}  (N windows, L steps, H_in features)")
    kinds = list(KINDS) if args.kind == "all" else [args.kind]
    ok = True
    for kind in kinds:
        print()
        ok &= demo_model(KINDS[kind](input_size=2, hidden_size=args.hidden, num_layers=2,
                                     batch_first=True, seed=0), batch, args)
    if args.kind in ("all", "rnn"):
        print()
        ok &= demo_seed(batch, args)
    return 0 if ok else 1


def seed_graph(rnn, weight, bias):
    """The tutorials' model as one ONNX graph: fastrnn's export of `rnn` (batch_first),
    then a Linear head (weight, bias) on the last step, output[:, -1] @ weight.T + bias."""
    import onnx
    from onnx import helper, numpy_helper

    proto = fastrnn.onnx.export(rnn, None)
    graph = proto.graph
    graph.initializer.extend([numpy_helper.from_array(np.array([-1], np.int64), "last_step"),
                              numpy_helper.from_array(weight, "head_weight"),
                              numpy_helper.from_array(bias, "head_bias")])
    graph.node.extend([
        helper.make_node("Gather", ["output", "last_step"], ["last"], axis=1, name="last_step"),
        helper.make_node("Squeeze", ["last", "squeeze_axes"], ["last_2d"], name="squeeze"),
        helper.make_node("Gemm", ["last_2d", "head_weight", "head_bias"], ["y"], transB=1,
                         name="head")])
    graph.initializer.append(numpy_helper.from_array(np.array([1], np.int64), "squeeze_axes"))
    del graph.output[:]
    graph.output.append(helper.make_tensor_value_info("y", onnx.TensorProto.FLOAT,
                                                      ["batch", weight.shape[0]]))
    onnx.checker.check_model(proto, full_check=True)
    return proto


def demo_seed(batch, args):
    """The model the tutorials build: an RNN with a Linear head on its last step, as one
    ONNX file, verified in onnxruntime, loaded back whole and timed against onnxruntime."""
    rnn = fastrnn.RNN(input_size=2, hidden_size=args.hidden, num_layers=2, batch_first=True,
                      seed=0)
    rng = np.random.default_rng(0)
    bound = 1 / np.sqrt(args.hidden)
    weight = rng.uniform(-bound, bound, (1, args.hidden)).astype(np.float32)
    bias = rng.uniform(-bound, bound, 1).astype(np.float32)
    want = rnn(batch)[0][:, -1] @ weight.T + bias  # the model, in numpy
    print(f"model:  the tutorials' model: {rnn} + Linear({args.hidden}, 1) on output[:, -1]")
    try:
        import onnxruntime  # noqa: F401

        from fastrnn import onnx as fonnx
    except ImportError:
        print(f"onnx:   skipped, onnx and onnxruntime are not installed ({INSTALL_ONNX})")
        return True
    proto = seed_graph(rnn, weight, bias)
    data = proto.SerializeToString()
    loaded = fonnx.load(data)
    same = bool(np.allclose(loaded(batch), want, rtol=0, atol=1e-5))
    worst = fonnx.verify(loaded, data, [[batch], [batch[:1, :1]], [batch[:3, :7]]])
    print(f"onnx:   one graph of {len(proto.graph.node)} nodes ({', '.join(sorted({n.op_type for n in proto.graph.node}))}), "
          f"passes onnx.checker; loaded back as {type(loaded).__name__}, equal to the model "
          f"within 1e-5: {same}; onnxruntime vs fastrnn {worst:.2e} at batch sizes "
          f"{len(batch)}, 1 and 3")
    session = _session(data, threads=1)
    threads = fastrnn.get_num_threads()
    fastrnn.set_num_threads(1)
    try:
        for rows in (batch, batch[:1]):
            ours, theirs = medians_ms([lambda: loaded(rows),
                                       lambda: session.run(None, {"input": rows})], args.repeat)
            print(f"forward: fastrnn {ours:.3f} ms, onnxruntime {theirs:.3f} ms, one thread "
                  f"(N={rows.shape[0]}, L={rows.shape[1]}): onnxruntime / fastrnn = "
                  f"{theirs / ours:.1f}")
    finally:
        fastrnn.set_num_threads(threads)
    return same


def median_ms(fn, repeat):
    return medians_ms([fn], repeat)[0]


def medians_ms(fns, repeat):
    """Median ms of each function over `repeat` calls, the functions called in
    turn (so that the machine's speed drifting during the run, by up to ~1.4x
    on a shared one, reaches each alike: the ratios are what they compare)."""
    times = [[] for _ in fns]
    for _ in range(repeat):
        for fn, spent in zip(fns, times):
            start = time.perf_counter()
            fn()
            spent.append(time.perf_counter() - start)
    return [float(np.median(spent)) * 1e3 for spent in times]


def demo_model(model, batch, args):
    """Run one model on the batch, check the shapes' promise, go through ONNX, time both."""
    output, state = model(batch)
    is_lstm = isinstance(model, fastrnn.LSTM)
    h_n = state[0] if is_lstm else state
    print(f"model:  {model}")
    print(f"output: {output.shape}  (N, L, D*H_out)")
    print(f"h_n:    {h_n.shape}  (D*num_layers, N, H_out)"
          + (f"; c_n: {state[1].shape}" if is_lstm else ""))
    same = np.array_equal(output[:, -1], h_n[-1])
    print(f"output[:, -1] == h_n[-1]: {same}")

    try:
        import onnxruntime  # noqa: F401

        from fastrnn import onnx as fonnx
    except ImportError:
        # the core install: no ONNX, fastrnn timed alone
        threads = fastrnn.get_num_threads()
        fastrnn.set_num_threads(1)
        try:
            ours = median_ms(lambda: model(batch), args.repeat)
        finally:
            fastrnn.set_num_threads(threads)
        print(f"onnx:   skipped, onnx and onnxruntime are not installed ({INSTALL_ONNX})")
        print(f"forward: fastrnn {ours:.3f} ms, median of {args.repeat}, one thread "
              f"(N={batch.shape[0]}, L={batch.shape[1]}, H={args.hidden}, float32)")
        return same
    name = type(model).__name__.lower()
    with tempfile.TemporaryDirectory() as tmp:
        # --onnx DIR keeps every model's file there, named after its class.
        target = os.path.join(args.onnx or tmp, f"demo_{name}.onnx")
        proto = fonnx.export(model, target)
        shown = target if args.onnx else "a temporary file"
        print(f"onnx:   wrote {shown} ({os.path.getsize(target)} bytes, opset "
              f"{proto.opset_import[0].version}, {len(proto.graph.node)} nodes), passes onnx.checker")
        worst = fonnx.verify(model, target, [batch, batch[:3, :7]])
        print(f"onnx:   onnxruntime vs fastrnn, largest scaled difference {worst:.2e} "
              f"(tolerance {fonnx.TOLERANCE:.0e}) at batch sizes {len(batch)} and 3")
        loaded = fonnx.load(target)
        reloaded = np.array_equal(loaded(batch)[0], output)
        print(f"onnx:   fastrnn.onnx.load gives {loaded}, same output: {reloaded}")
        session = _session(target, threads=1)
        feed = {session.get_inputs()[0].name: batch}
        threads = fastrnn.get_num_threads()
        fastrnn.set_num_threads(1)  # one thread each, as the line below says
        try:
            ours, theirs = medians_ms([lambda: model(batch), lambda: session.run(None, feed)],
                                      args.repeat)
        finally:
            fastrnn.set_num_threads(threads)
    print(f"forward: fastrnn {ours:.3f} ms, onnxruntime {theirs:.3f} ms, median of "
          f"{args.repeat} calls each, in turn, one thread (N={batch.shape[0]}, L={batch.shape[1]}, "
          f"H={args.hidden}, float32): onnxruntime / fastrnn = {theirs / ours:.1f}")
    return same and reloaded


def _session(path, threads):
    import onnxruntime

    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    return onnxruntime.InferenceSession(path, options, providers=["CPUExecutionProvider"])


# ---------------------------------------------------------------- export
def _read_npz(path):
    """The arrays of a .npz archive, read without pickle."""
    try:
        archive = np.load(path, allow_pickle=False)
        if not isinstance(archive, np.lib.npyio.NpzFile):
            raise CommandError(f"{path}: holds one array, not a .npz archive of weights")
        with archive:
            return {name: archive[name] for name in archive.files}
    except PermissionError:
        raise CommandError(f"{path}: cannot be read: permission denied") from None
    except (ValueError, OSError, EOFError, zipfile.BadZipFile) as exc:
        raise CommandError(f"{path}: not a .npz archive of arrays: {exc}") from None


def _read_torch_state_dict(path):
    """The arrays of a torch state_dict file (.pt/.pth), read with weights_only=True."""
    try:
        import torch
    except ImportError:
        raise CommandError(f"{path}: reading a torch state_dict needs torch, which is not "
                           "installed; save the weights with fastrnn.save instead") from None
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except PermissionError:
        raise CommandError(f"{path}: cannot be read: permission denied") from None
    except Exception as exc:  # torch raises many kinds for a bad file
        raise CommandError(f"{path}: not a torch state_dict file: {_first_line(exc)}") from None
    if not isinstance(state, dict) or not all(hasattr(v, "shape") for v in state.values()):
        raise CommandError(f"{path}: expected a state_dict (a dict of tensors), "
                           f"got {type(state).__name__}")
    try:
        # real_array: any dtype torch has (bfloat16 included) or a clear error
        return {name: real_array(value, name) for name, value in state.items()}
    except TypeError as exc:
        raise CommandError(f"{path}: {exc}") from None


def _first_line(exc):
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


# Configuration flags of `export`, checked against what the weights or the file say.
CONFIG_FLAGS = ("input_size", "hidden_size", "num_layers", "proj_size", "bidirectional",
                "batch_first", "nonlinearity", "dtype")


def _check_flags(args, found, path):
    for name, value in found.items():
        given = getattr(args, name, None)
        if given is not None and given != value:
            flag = "--" + name.replace("_", "-")
            raise CommandError(f"{flag} {given} contradicts {path}, which has {name} = {value}")


def _model_from_state_dict(state, args, path):
    """A model of --kind whose sizes come from the weights, checked against the flags."""
    if args.kind is None:
        raise CommandError(f"{path} is a state_dict without configuration: give --kind "
                           "(rnn, lstm or gru), and --batch-first if the model was batch-first")
    cls = KINDS[args.kind]
    if "weight_ih_l0" not in state or "weight_hh_l0" not in state:
        raise CommandError(f"{path}: no weight_ih_l0/weight_hh_l0: not the state_dict of a "
                           f"torch.nn.{cls.__name__}")
    gates = GATES[args.kind]
    rows, cols = (np.shape(state["weight_ih_l0"]) + (0, 0))[:2]
    if rows % gates:
        raise CommandError(f"{path}: weight_ih_l0 has {rows} rows, not a multiple of "
                           f"{cls.__name__}'s {gates} gates: not the state_dict of a "
                           f"torch.nn.{cls.__name__}")
    found = dict(
        input_size=cols,
        hidden_size=rows // gates,
        num_layers=sum(1 for k in state if k.startswith("weight_ih_l") and "_reverse" not in k),
        bidirectional="weight_ih_l0_reverse" in state,
        proj_size=np.shape(state["weight_hr_l0"])[0] if "weight_hr_l0" in state else 0)
    _check_flags(args, found, path)
    kwargs = dict(found, bias="bias_ih_l0" in state, batch_first=bool(args.batch_first),
                  dtype=args.dtype or "float32")
    if cls is fastrnn.RNN:
        kwargs["nonlinearity"] = args.nonlinearity or "tanh"
    elif args.nonlinearity is not None:
        raise CommandError("--nonlinearity applies to --kind rnn only")
    if cls is not fastrnn.LSTM and kwargs.pop("proj_size"):
        raise CommandError(f"{path} has weight_hr_l0 (a projection), which only an LSTM has")
    try:
        model = cls(**kwargs)
        model.load_state_dict(state)
    except (KeyError, ValueError, TypeError) as exc:
        raise CommandError(f"{path}: the weights do not fit a {model_repr(cls, kwargs)}: "
                           f"{exc}") from None
    return model


def model_repr(cls, kwargs):
    return f"{cls.__name__}(" + ", ".join(f"{k}={v}" for k, v in kwargs.items()) + ")"


def load_weights(path, args):
    """A fastrnn model from a fastrnn model file, a torch state_dict or a .npz of arrays."""
    if not os.path.exists(path):
        raise CommandError(f"{path}: no such file")
    if os.path.isdir(path):
        raise CommandError(f"{path}: is a directory, not a weights file")
    if path.endswith(".npz"):
        arrays = _read_npz(path)
        if CONFIG_KEY not in arrays:
            return _model_from_state_dict(arrays, args, path)
        model = fastrnn.load(path)
        # The file carries its configuration; flags given must agree with it.
        found = {name: getattr(model, name) for name in CONFIG_FLAGS if hasattr(model, name)}
        found["dtype"] = np.dtype(model.dtype).name
        if args.kind is not None and KINDS[args.kind] is not type(model):
            raise CommandError(f"--kind {args.kind} contradicts {path}, which holds a "
                               f"{type(model).__name__}")
        _check_flags(args, found, path)
        return model
    if not path.endswith((".pt", ".pth")):
        raise CommandError(f"{path}: expected a fastrnn .npz model file or a torch state_dict "
                           ".pt/.pth file")
    return _model_from_state_dict(_read_torch_state_dict(path), args, path)


def export(args):
    import fastrnn.onnx

    if os.path.exists(args.output) and os.path.exists(args.weights) \
            and os.path.samefile(args.output, args.weights):
        raise CommandError(f"-o {args.output} is the weights file itself; choose another name")
    model = load_weights(args.weights, args)
    out_dir = os.path.dirname(os.path.abspath(args.output))
    if not os.path.isdir(out_dir):
        raise CommandError(f"-o {args.output}: directory {out_dir} does not exist")
    try:
        proto = fastrnn.onnx.export(model, args.output, opset=args.opset,
                                    initial_state=args.initial_state)
    except (ValueError, fastrnn.onnx.UnsupportedModelError) as exc:
        raise CommandError(f"cannot export {model}: {exc}") from None
    print(f"wrote {args.output}: {model}, opset {proto.opset_import[0].version}, "
          f"{len(proto.graph.node)} nodes, passes onnx.checker")
    if args.verify:
        return _verify(model, args.output)
    return 0


def _verify(model, path):
    import fastrnn.onnx

    if getattr(model, "dtype", None) == np.float64:
        print("not verified: onnxruntime has no float64 kernels for recurrent ops "
              "(exit status 1: nothing was compared)", file=sys.stderr)
        return 1
    try:
        worst = fastrnn.onnx.verify(model, path)
    except fastrnn.onnx.VerificationError as exc:
        print(f"fastrnn and onnxruntime disagree: {exc}", file=sys.stderr)
        return 1
    print(f"verified: onnxruntime vs fastrnn on random inputs, largest scaled difference "
          f"{worst:.2e} (tolerance {fastrnn.onnx.TOLERANCE:.0e})")
    return 0


def verify(args):
    import fastrnn.onnx

    if os.path.isdir(args.model):
        raise CommandError(f"{args.model}: is a directory, not an ONNX file")
    if not os.path.isfile(args.model):
        raise CommandError(f"{args.model}: no such file")
    model = fastrnn.onnx.load(args.model)
    print(f"{args.model}: {model}")
    return _verify(model, args.model)


# ---------------------------------------------------------------- bench
def bench(args):
    from fastrnn import bench as bench_module

    for flag, path in (("--json", args.json), ("--plot", args.plot)):
        if path and not os.path.isdir(os.path.dirname(os.path.abspath(path))):
            raise CommandError(f"{flag} {path}: its directory does not exist")
    bench_module.run(args.quick, args.threads, args.rounds, args.json, args.plot,
                     args.markdown, args.kind, frozen=args.frozen)
    return 0


# ---------------------------------------------------------------- conformance
def conformance(args):
    from fastrnn import conformance as conformance_module
    from fastrnn._optional import require

    for name in args.suite or conformance_module.SUITES:
        if name != "torch":  # checked before any suite runs
            require("onnx", f"the {name} suite")
            require("onnxruntime", f"the {name} suite")
    suites = conformance_module.run(args.suite)
    return conformance_module.exit_status(suites)


# ---------------------------------------------------------------- info
def cpu_features():
    """The instruction sets fastrnn's kernels choose between, as this CPU reports them."""
    wanted = ("avx512f", "avx2", "fma", "sse2")
    try:
        with open("/proc/cpuinfo") as f:
            flags = next((line.split(":", 1)[1].split() for line in f if line.startswith("flags")), [])
    except OSError:
        return None
    return [name for name in wanted if name in flags]


def info(args):
    from fastrnn import _openblas

    lib = _openblas.library
    for name in ("scipy_openblas_get_config", "scipy_openblas_get_corename"):
        getattr(lib, name).restype = ctypes.c_char_p
    print(f"fastrnn {fastrnn.__version__} ({os.path.dirname(fastrnn.__file__)})")
    print(f"python {platform.python_version()} on {platform.machine()} {platform.system()}")
    print(f"blas: {lib.scipy_openblas_get_config().decode()} "
          f"(core {lib.scipy_openblas_get_corename().decode()}), from scipy-openblas32 "
          f"{importlib.metadata.version('scipy-openblas32')}")
    print(f"threads: fastrnn {fastrnn.get_num_threads()} (fastrnn.set_num_threads), OpenBLAS "
          f"{lib.scipy_openblas_get_num_threads()} inside fastrnn's kernels; "
          f"{os.cpu_count()} cores")
    features = cpu_features()
    print("cpu: " + ("features unknown (no /proc/cpuinfo)" if features is None
                     else " ".join(features) or "none of avx512f avx2 fma sse2"))
    packed = _kernels.use_packed_step(100, 1, 256)
    if not packed:
        short = ""
    elif _kernels.use_packed_step(1, 2, 256):
        short = (f" (OpenBLAS's core {_kernels.blas_core()} packs at every call: from one "
                 "step of two rows, or two steps of one row up to 64 hidden units)")
    else:
        short = (f" from 8 rows (L*N; OpenBLAS's core {_kernels.blas_core()} multiplies "
                 "fewer without packing)")
    print(f"path: {_kernels.isa()} ({_kernels.isa_reason()}); this CPU runs "
          f"{', '.join(_kernels.isa_paths())} (FASTRNN_ISA=... forces one); recurrent products "
          + ("on fastrnn's packed step kernel" + short if packed else "on OpenBLAS"))
    fused, ahead = _kernels.one_row_rules()
    print("batch 1: "
          + ("the input projection inside the steps from {} to {} input features and {} "
             "steps; ".format(*ahead) if ahead else "the input projection before the steps; ")
          + ("elsewhere LSTM (H <= 64) and GRU (H != 64) cells inside the step kernel"
             if fused else "the cells after the step kernel"))
    one_step = _kernels.one_step_rule()
    if one_step:
        print("one step: LSTM and GRU calls of {} to {} rows, w_hh of at least {} weights and "
              "up to {} multiply-adds per step, on the weights as they are (nothing "
              "packed)".format(*one_step))
    if packed:
        print("frozen models (model.freeze()): weights packed once; every call on fastrnn's "
              "packed step kernel, split calls on it in place where their slices fall on "
              "whole panels")
    rows, input_rows, depth = _kernels._amx_thresholds()
    if _kernels.amx_enabled() and _kernels.isa() != "avx512":
        print(f"amx: not used on the {_kernels.isa()} path (AMX runs with the avx512 path)")
    elif _kernels.amx_enabled():
        print(f"amx: float32 products on AMX tiles (three bfloat16 parts per value): input "
              f"projections from {input_rows} rows, recurrent products from {rows} batch rows, "
              f"both from {depth} input features or hidden units")
    else:
        print("amx: " + ("off (FASTRNN_AMX=0)" if _kernels.AMX
                         else "not used (this CPU or OS does not run AMX bfloat16 tiles)"))
    for package in ("numpy", "onnx", "onnxruntime", "torch"):
        try:
            version = importlib.metadata.version(package)
        except importlib.metadata.PackageNotFoundError:
            version = "not installed"
        print(f"{package}: {version}")
    return 0


# ---------------------------------------------------------------- main
def build_parser():
    parser = Parser(prog="fastrnn", description=fastrnn.__doc__)
    parser.add_argument("--version", action="version", version=fastrnn.__version__)
    commands = parser.add_subparsers(dest="command", required=True, parser_class=Parser)

    p = commands.add_parser(
        "demo", help="run 2-layer RNN, LSTM and GRU models on windows of a built-in series, "
                     "export each to ONNX and verify it in onnxruntime; then the tutorials' "
                     "RNN with a Linear head, as one ONNX graph",
        description="The main job on built-in data, in seconds and without downloads.")
    p.add_argument("--kind", choices=["all", *KINDS], default="all",
                   help="which model class to run (default: all three)")
    p.add_argument("--steps", type=positive_int, default=200, help="length of the series")
    p.add_argument("--window", type=positive_int, default=30, help="steps per window (L)")
    p.add_argument("--hidden", type=positive_int, default=64, help="hidden size (H_out)")
    p.add_argument("--repeat", type=positive_int, default=50, help="timed forward calls")
    p.add_argument("--onnx", metavar="DIR",
                   help="keep the exported ONNX files (demo_rnn.onnx, ...) in this directory")
    p.set_defaults(run=demo)

    p = commands.add_parser(
        "export", help="write a model's weights as a checked ONNX file",
        description="WEIGHTS is a fastrnn model file (.npz from fastrnn.save) or a torch "
                    "state_dict (.pt/.pth, needs torch; or a .npz of its arrays) whose "
                    "configuration is given by --kind and the flags below; sizes the flags "
                    "leave out are read from the weights.")
    p.add_argument("weights", help="fastrnn .npz model file or torch state_dict .pt/.pth")
    p.add_argument("-o", "--output", required=True, help="the ONNX file to write")
    p.add_argument("--verify", action="store_true",
                   help="run the file in onnxruntime and fastrnn and compare")
    p.add_argument("--opset", type=positive_int, help="ONNX opset (default: the newest "
                   "onnxruntime loads)")
    p.add_argument("--initial-state", action="store_true",
                   help="add h0 (and c0) graph inputs")
    g = p.add_argument_group(
        "configuration", "required for a state_dict (--kind, and --batch-first if so); "
        "sizes left out are read from the weights; for a fastrnn file, flags given are "
        "checked against the file")
    g.add_argument("--kind", choices=list(KINDS), help="the torch module: rnn, lstm or gru")
    g.add_argument("--input-size", type=positive_int)
    g.add_argument("--hidden-size", type=positive_int)
    g.add_argument("--num-layers", type=positive_int)
    g.add_argument("--proj-size", type=int, help="LSTM projection size (0: none)")
    g.add_argument("--bidirectional", action="store_true", default=None)
    g.add_argument("--batch-first", action="store_true", default=None,
                   help="the model takes (N, L, features) input")
    g.add_argument("--nonlinearity", choices=["tanh", "relu"], help="RNN only (default tanh)")
    g.add_argument("--dtype", choices=["float32", "float64"], help="default float32")
    p.set_defaults(run=export)

    p = commands.add_parser(
        "verify", help="run an ONNX file in fastrnn and onnxruntime and compare",
        description="Loads the file with fastrnn.onnx.load, runs it in fastrnn and in "
                    "onnxruntime on random inputs at two batch sizes and two lengths, and "
                    "prints the largest difference. Exit status 0 when they agree within "
                    "1e-5 (relative to the output's scale), 1 when they do not.")
    p.add_argument("model", help="an ONNX file fastrnn.onnx.load reads")
    p.set_defaults(run=verify)

    from fastrnn import bench as bench_module

    p = commands.add_parser(
        "bench", help="time fastrnn beside onnxruntime and torch on a grid of models",
        description=bench_module.__doc__.split("\n\n", 2)[2].strip())
    bench_module.add_arguments(p)
    p.set_defaults(run=bench)

    from fastrnn import conformance as conformance_module

    p = commands.add_parser(
        "conformance", help="run the parity suites (torch, onnxruntime, ONNX's own cases)",
        description=conformance_module.__doc__.split("\n\n", 1)[1].strip()
        + " Exit status 0 only when every case passes.")
    conformance_module.add_arguments(p)
    p.set_defaults(run=conformance)

    p = commands.add_parser(
        "info", help="version, BLAS library, threads and CPU features",
        description="What fastrnn runs on here: its version, the OpenBLAS build and core, "
                    "threads, the CPU features its kernels choose between, library versions.")
    p.set_defaults(run=info)
    return parser


def _input_errors():
    """What a command reports in one line: mistakes in its input, and a
    missing optional package (the ONNX errors only once fastrnn.onnx loaded)."""
    errors = (CommandError, MissingDependency, fastrnn.ModelFileError, OSError)
    fonnx = sys.modules.get("fastrnn.onnx")
    return errors + ((fonnx.UnsupportedModelError,) if fonnx is not None else ())


def main(argv: "list[str] | None" = None) -> int:
    """The `fastrnn` command; returns its exit status."""
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return args.run(args)
    except _input_errors() as exc:
        print(f"fastrnn {args.command}: error: {exc}", file=sys.stderr)
        return 2
    except MemoryError:
        print(f"fastrnn {args.command}: error: out of memory (are the sizes what you meant?)",
              file=sys.stderr)
        return 2
