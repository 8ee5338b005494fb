"""Fuzz fastrnn.onnx.load, backend.prepare and a run with mutated ONNX files.

    python tools/fuzz_onnx.py [--seconds 60] [--seed 0] [--memory-gb 4] [--case-seconds 10]

A structured mutator (no fuzzing library needed): the seeds are files
fastrnn.onnx.export writes (every class, projections, both directions,
initial states, lengths) and the hostile corpus of tests/hostile_corpus.py;
each case changes one to four things in a seed (an initializer's dims or
values, an integer attribute, a node's op type or inputs, the graph's
declared shapes, the serialized bytes: truncated or flipped) and reads it
with load, prepare and a run on small inputs of the declared shapes.

Every outcome must be a result or a documented refusal (UnsupportedModelError,
InvalidModelError, LimitError, ValueError, TypeError, KeyError for names);
the process runs under an address-space limit (--memory-gb beyond what it
had), and each case under a time limit. A MemoryError, any other exception,
or a case past its time is a finding: printed with the mutation that made it
(replayable from --seed), and the exit status is 1. A crash ends the process
with its signal. Prints "N cases, N findings" at the end.
"""
import argparse
import os
import random
import resource
import signal
import sys
import time

import numpy as np
import onnx
from onnx import numpy_helper

import fastrnn
import fastrnn.onnx
from fastrnn.onnx import backend

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(os.path.dirname(HERE), "tests"))

REFUSALS = (fastrnn.onnx.UnsupportedModelError, fastrnn.onnx.LimitError, ValueError, TypeError,
            KeyError)
INTERESTING = [0, 1, 2, 3, -1, -2, 7, 64, 65, 2**16, 2**27, 2**31 - 1, 2**31, 2**40, -2**31]


class CaseTimeout(Exception):
    pass


def seeds():
    files = {
        "rnn": fastrnn.onnx.export(fastrnn.RNN(3, 4, 2, bidirectional=True, batch_first=True,
                                               seed=0), None, initial_state=True),
        "lstm-proj": fastrnn.onnx.export(fastrnn.LSTM(3, 4, 2, bidirectional=True, proj_size=2,
                                                      seed=0), None, initial_state=True,
                                         lengths=True),
        "gru": fastrnn.onnx.export(fastrnn.GRU(3, 4, seed=0), None, lengths=True),
        "lstm": fastrnn.onnx.export(fastrnn.LSTM(2, 5, seed=0), None),
    }
    try:
        import hostile_corpus
        for name, (_, model, _) in hostile_corpus.corpus().items():
            files["corpus: " + name] = model
    except ImportError:  # run from elsewhere: the exported seeds alone
        pass
    return files


def _int_attributes(model):
    return [a for node in model.graph.node for a in node.attribute if a.type == a.INT]


def mutate(model, rng):
    """One to four changes to a copy of `model`; returns (model or bytes, description)."""
    m = onnx.ModelProto()
    m.CopyFrom(model)
    done = []
    for _ in range(rng.randint(1, 4)):
        kind = rng.choice(["dims", "values", "attribute", "op", "inputs", "shape", "bytes"])
        graph = m.graph
        if kind == "dims" and graph.initializer:
            t = rng.choice(graph.initializer)
            dims = list(t.dims) or [1]
            dims[rng.randrange(len(dims))] = rng.choice(INTERESTING)
            if rng.random() < 0.3:
                dims.insert(rng.randrange(len(dims) + 1), rng.choice([0, 1, 2**20]))
            del t.dims[:]
            t.dims.extend(dims)
            done.append(f"dims of {t.name} -> {dims}")
        elif kind == "values" and graph.initializer:
            t = rng.choice(graph.initializer)
            try:
                array = numpy_helper.to_array(t).copy()
            except Exception:
                continue
            if array.size:
                flat = array.reshape(-1)
                flat[rng.randrange(flat.size)] = rng.choice(INTERESTING) if array.dtype.kind in \
                    "iu" else rng.choice([np.nan, np.inf, -np.inf, 1e30, 0.0])
                t.CopyFrom(numpy_helper.from_array(array, t.name))
                done.append(f"a value of {t.name}")
        elif kind == "attribute" and _int_attributes(m):
            a = rng.choice(_int_attributes(m))
            a.i = rng.choice(INTERESTING)
            done.append(f"attribute {a.name} -> {a.i}")
        elif kind == "op" and graph.node:
            node = rng.choice(graph.node)
            node.op_type = rng.choice(["MatMul", "Gather", "Concat", "Expand", "Reshape",
                                       "ConstantOfShape", "ReverseSequence", "Slice", "Squeeze",
                                       "Unsqueeze", "Transpose", "LSTM", "GRU", "RNN", "Cast",
                                       "Split", "Shape", "Identity", "Add", "Gemm",
                                       "Softmax", "LayerNormalization", "ReduceMean", "Where",
                                       "Range", "Flatten", "Div", "Pow", "Clip", "Gelu"])
            done.append(f"{node.name or 'a node'} -> {node.op_type}")
        elif kind == "inputs" and graph.node:
            node = rng.choice(graph.node)
            names = [i.name for i in graph.initializer] + [i.name for i in graph.input]
            if names and node.input:
                node.input[rng.randrange(len(node.input))] = rng.choice(names)
                if rng.random() < 0.3:
                    node.input.append(rng.choice(names))
                done.append(f"inputs of {node.name or node.op_type}")
        elif kind == "shape" and graph.input:
            dims = graph.input[0].type.tensor_type.shape.dim
            if dims:
                dims[rng.randrange(len(dims))].dim_value = rng.choice([0, 1, 2, 2**20, 2**40])
                done.append("declared input shape")
        elif kind == "bytes":
            data = bytearray(m.SerializeToString())
            if rng.random() < 0.5:
                cut = rng.randrange(len(data))
                done.append(f"truncated at {cut} of {len(data)} bytes")
                return bytes(data[:cut]), "; ".join(done)
            for _ in range(rng.randint(1, 8)):
                data[rng.randrange(len(data))] = rng.randrange(256)
            done.append("bytes flipped")
            return bytes(data), "; ".join(done)
    return m, "; ".join(done) or "unchanged"


def feeds_for(rep):
    """Small inputs of the declared shapes (unknown dimensions 2, at most 4096 elements)."""
    feeds = []
    for spec in rep._graph.inputs:
        shape = [2 if d is None else d for d in (spec.shape or (2, 2, 3))]
        if np.prod([max(d, 1) for d in shape], dtype=np.float64) > 4096:
            return None
        dtype = spec.dtype or np.float32
        feeds.append(np.ones(shape, dtype) if dtype.kind != "i" else np.full(shape, 1, dtype))
    return feeds


def run_case(data):
    try:
        fastrnn.onnx.load(data)
    except REFUSALS:
        pass
    try:
        rep = backend.prepare(data)
    except REFUSALS:
        return
    feeds = feeds_for(rep)
    if feeds is not None:
        try:
            rep.run(feeds)
        except REFUSALS:
            pass


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=60)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--memory-gb", type=float, default=4)
    parser.add_argument("--case-seconds", type=int, default=10)
    args = parser.parse_args(argv)
    rng = random.Random(args.seed)
    files = seeds()
    with open("/proc/self/status") as status:
        vm = next(int(line.split()[1]) * 1024 for line in status if line.startswith("VmSize:"))
    limit = vm + int(args.memory_gb * 2**30)
    resource.setrlimit(resource.RLIMIT_AS, (limit, limit))

    def on_alarm(signum, frame):
        raise CaseTimeout()

    signal.signal(signal.SIGALRM, on_alarm)
    names = sorted(files)
    cases = findings = 0
    end = time.monotonic() + args.seconds
    while time.monotonic() < end:
        seed_name = rng.choice(names)
        data, how = mutate(files[seed_name], rng)
        cases += 1
        signal.alarm(args.case_seconds)
        try:
            run_case(data)
        except CaseTimeout:
            findings += 1
            print(f"case {cases}: past {args.case_seconds} s: {seed_name}: {how}", flush=True)
        except BaseException as exc:  # noqa: B902 - every other outcome is a finding
            findings += 1
            print(f"case {cases}: {type(exc).__name__}: {str(exc)[:300]}: {seed_name}: {how}",
                  flush=True)
        finally:
            signal.alarm(0)
    print(f"{cases} cases, {findings} findings (seed {args.seed}, {args.seconds:.0f} s)")
    return 1 if findings else 0


if __name__ == "__main__":
    sys.exit(main())
