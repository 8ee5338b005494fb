"""Conformance checks anyone can run on an installed fastrnn: `fastrnn conformance`.

Three suites, one row each in the report:
- torch: fastrnn.RNN/LSTM/GRU built from torch modules (from_torch) against the
  modules themselves, over a grid of configurations, float32 and float64
  (skipped, and said so, when torch is not installed);
- onnxruntime: every float32 configuration exported with fastrnn.onnx.export
  and run by onnxruntime against fastrnn (fastrnn.onnx.verify);
- onnx cases: the ONNX project's RNN, GRU and LSTM node cases, run through
  fastrnn.onnx.backend against their expected outputs.
Tolerances are the project's: 1e-5 (float32) and 1e-10 (float64) relative to
max(1, max|expected|) for torch and onnxruntime; each ONNX case's own rtol/atol.
"""
import itertools
import sys
import traceback
import warnings

import numpy as np

import fastrnn
from fastrnn._kinds import CLASSES as _KINDS
from fastrnn._progress import progress

TOLERANCE = {np.float32: 1e-5, np.float64: 1e-10}
CLASSES = {cls.__name__: cls for cls in _KINDS.values()}  # torch.nn's class names


class Suite:
    """A named list of cases; each case is (label, check), check() raises on failure."""

    def __init__(self, name, cases, skipped=None):
        self.name, self.cases, self.skipped = name, cases, skipped
        self.passed, self.failures = 0, []

    def run(self, show_progress=True):
        for i, (label, check) in enumerate(self.cases):
            if show_progress:
                progress(i, len(self.cases), f"{self.name}: {label}")
            try:
                check()
            except Exception as exc:  # a failing case is reported, the run goes on
                detail = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
                self.failures.append((label, f"{type(exc).__name__}: {detail}"))
            else:
                self.passed += 1
        if show_progress and self.cases:
            progress(len(self.cases), len(self.cases), "")
        return self


def configurations():
    """(class name, constructor kwargs, input shape, with initial state) over a grid."""
    configs = []
    for kind, layers, bidirectional, batch_first, bias, hx, shape in itertools.product(
            CLASSES, (1, 2), (False, True), (False, True), (True, False), (False, True),
            ("batched", "unbatched")):
        if shape == "unbatched" and batch_first:
            continue  # batch_first does not apply to unbatched input
        kwargs = dict(input_size=5, hidden_size=7, num_layers=layers, bias=bias,
                      batch_first=batch_first, bidirectional=bidirectional)
        configs.append((kind, kwargs, shape, hx))
    for layers, bidirectional in ((1, False), (2, True)):  # LSTM projections
        configs.append(("LSTM", dict(input_size=5, hidden_size=7, num_layers=layers,
                                     bidirectional=bidirectional, proj_size=3), "batched", True))
    configs.append(("RNN", dict(input_size=5, hidden_size=7, nonlinearity="relu"), "batched", True))
    return configs


def _label(kind, kwargs, shape, hx, dtype=None):
    parts = [f"{k}={v}" for k, v in kwargs.items() if k not in ("input_size", "hidden_size")]
    extra = [shape] + (["hx"] if hx else []) + ([np.dtype(dtype).name] if dtype else [])
    return f"{kind}({', '.join(parts)}) {' '.join(extra)}"


def _inputs(model, shape, hx, rng, dtype):
    L, N = 6, 3
    D = model.num_directions * model.num_layers
    if shape == "unbatched":
        x = rng.standard_normal((L, model.input_size))
        state_shape = lambda size: (D, size)  # noqa: E731
    else:
        x = rng.standard_normal((N, L, model.input_size) if model.batch_first
                                else (L, N, model.input_size))
        state_shape = lambda size: (D, N, size)  # noqa: E731
    x = x.astype(dtype)
    if not hx:
        return x, None
    h0 = rng.standard_normal(state_shape(model.proj_size or model.hidden_size)).astype(dtype)
    if isinstance(model, fastrnn.LSTM):
        return x, (h0, rng.standard_normal(state_shape(model.hidden_size)).astype(dtype))
    return x, h0


def _flatten(result):
    output, state = result
    return [output] + (list(state) if isinstance(state, tuple) else [state])


def _compare(got, expected, tolerance, what):
    if len(got) != len(expected):
        raise AssertionError(f"{what}: {len(got)} results, expected {len(expected)}")
    for name, g, e in zip(("output", "h_n", "c_n"), got, expected):
        e = np.asarray(e, np.float64)
        if g.shape != e.shape:
            raise AssertionError(f"{what}: {name} shape {g.shape}, expected {e.shape}")
        err = np.abs(g - e).max() / max(1.0, np.abs(e).max())
        if not err <= tolerance:
            raise AssertionError(f"{what}: {name} differs by {err:.2e} > {tolerance:.0e}")


def torch_suite():
    try:
        import torch
    except ImportError:
        return Suite("torch", [], skipped="torch is not installed")

    def case(kind, kwargs, shape, hx, dtype, seed):
        def check():
            torch.manual_seed(seed)
            tdtype = torch.float64 if dtype == np.float64 else torch.float32
            module = getattr(torch.nn, kind)(**kwargs).to(tdtype).eval()
            model = CLASSES[kind].from_torch(module)
            x, state = _inputs(model, shape, hx, np.random.default_rng(seed), dtype)
            with torch.no_grad():
                tstate = None if state is None else (
                    tuple(torch.from_numpy(s) for s in state) if isinstance(state, tuple)
                    else torch.from_numpy(state))
                expected = [t.numpy() for t in _flatten(module(torch.from_numpy(x), tstate))]
            _compare(_flatten(model(x, state)), expected, TOLERANCE[dtype], "fastrnn vs torch")
        return _label(kind, kwargs, shape, hx, dtype), check

    cases = [case(*config, dtype, seed)
             for seed, config in enumerate(configurations())
             for dtype in (np.float32, np.float64)]
    return Suite("torch", cases)


def onnxruntime_suite():
    import io

    import fastrnn.onnx

    def case(kind, kwargs, shape, hx, seed):
        def check():
            model = CLASSES[kind](**kwargs, seed=seed)
            buffer = io.BytesIO()
            fastrnn.onnx.export(model, buffer, initial_state=hx)
            buffer.seek(0)
            x, state = _inputs(model, shape, hx, np.random.default_rng(seed), np.float32)
            inputs = [x] if state is None else [(x, state)]
            fastrnn.onnx.verify(model, buffer.getvalue(), inputs)
        return _label(kind, kwargs, shape, hx), check

    cases = [case(*config, seed) for seed, config in enumerate(configurations())]
    return Suite("onnxruntime", cases)


def onnx_cases():
    """The ONNX project's node cases whose node is an RNN, GRU or LSTM."""
    from onnx.backend.test.loader import load_model_tests

    with warnings.catch_warnings():
        # Building the other ops' cases (Cast, ReduceMax, ...) warns about overflows.
        warnings.simplefilter("ignore", RuntimeWarning)
        return [case for case in load_model_tests(kind="node")
                if case.model is not None and case.model.graph.node
                and case.model.graph.node[0].op_type in ("RNN", "GRU", "LSTM")]


def onnx_suite():
    from fastrnn.onnx.backend import FastRNNBackend

    def case(test):
        def check():
            for inputs, expected in test.data_sets:
                outputs = FastRNNBackend.run_model(test.model, inputs)
                if len(outputs) != len(expected):
                    raise AssertionError(f"{len(outputs)} outputs, expected {len(expected)}")
                for got, want in zip(outputs, expected):
                    np.testing.assert_allclose(got, want, rtol=test.rtol, atol=test.atol)
        return test.name, check

    return Suite("onnx cases", [case(test) for test in onnx_cases()])


SUITES = {"torch": torch_suite, "onnxruntime": onnxruntime_suite, "onnx": onnx_suite}


def run(names=None, show_progress=True, out=None):
    """Run the suites and print one row each; returns the suites."""
    out = out or sys.stdout
    suites = []
    for name in names or SUITES:
        suite = SUITES[name]()
        suites.append(suite.run(show_progress))
    width = max(len(s.name) for s in suites)
    for s in suites:
        if s.skipped:
            print(f"{s.name:{width}}  skipped: {s.skipped} (exit status 1: not checked)",
                  file=out)
            continue
        print(f"{s.name:{width}}  {s.passed:4d} passed  {len(s.failures):4d} failed  "
              f"of {len(s.cases)}", file=out)
        for label, message in s.failures[:10]:
            print(f"    FAILED {label}: {message}", file=out)
        if len(s.failures) > 10:
            print(f"    ... and {len(s.failures) - 10} more", file=out)
    return suites


def exit_status(suites):
    """0 only when every suite ran and every case passed; a skipped suite is not a pass."""
    return 0 if all(not s.failures and not s.skipped for s in suites) else 1


def main(argv=None):
    import argparse

    parser = argparse.ArgumentParser(prog="fastrnn conformance", description=__doc__)
    add_arguments(parser)
    args = parser.parse_args(argv)
    return exit_status(run(args.suite))


def add_arguments(parser):
    parser.add_argument("--suite", choices=list(SUITES), action="append",
                        help="run only this suite (repeatable; default: all)")


if __name__ == "__main__":
    try:
        sys.exit(main())
    except Exception:  # pragma: no cover
        traceback.print_exc()
        sys.exit(2)
