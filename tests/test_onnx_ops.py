"""The ops around recurrent nodes (fastrnn/onnx/_ops.py and the shape ops of
_graph.py) against the ONNX project's own node cases: every case whose nodes are all
ops the backend runs. Each case either gives the case's outputs, or is refused
cleanly for what fastrnn does not take (bfloat16, float8, 4- and 2-bit types,
strings, sequences and optionals, Dropout in training mode); none computes a wrong
result."""
import warnings

import numpy as np
import pytest
from onnx.backend.test.loader import load_model_tests

import fastrnn.onnx
from fastrnn.onnx import backend
from fastrnn.onnx._graph import SHAPE_OPS
from fastrnn.onnx._ops import MATH_OPS

OPS = set(MATH_OPS) | set(SHAPE_OPS)
with warnings.catch_warnings():
    warnings.simplefilter("ignore", RuntimeWarning)
    CASES = [case for case in load_model_tests(kind="node")
             if case.model is not None and case.model.graph.node
             and all(node.op_type in OPS for node in case.model.graph.node)]
REFUSED_TYPES = ("bfloat16", "float8", "int4", "uint4", "int2", "uint2", "float4", "string",
                 "is a sequence", "is a optional")


def _run(case):
    ins, outs = case.data_sets[0]
    ins = [np.asarray(v) for v in ins]
    try:
        got = backend.prepare(case.model).run(ins)
    except (fastrnn.onnx.UnsupportedModelError, TypeError, ValueError) as exc:
        return "refused", str(exc)
    for g, want in zip(got, outs):
        want = np.asarray(want)
        if g.shape != want.shape or g.dtype != want.dtype:
            return "wrong", f"{g.shape} {g.dtype}, expected {want.shape} {want.dtype}"
        same = (np.allclose(g, want, rtol=1e-4, atol=1e-6, equal_nan=True)
                if want.dtype.kind == "f" else np.array_equal(g, want))
        if not same:
            return "wrong", f"max difference {np.max(np.abs(g.astype(float) - want))}"
    return "passed", ""


def test_the_cases_run_or_are_refused_for_their_types():
    outcomes = {case.name: _run(case) for case in CASES}
    wrong = {n: m for n, (o, m) in outcomes.items() if o == "wrong"}
    assert not wrong, wrong
    for name, (outcome, message) in outcomes.items():
        if outcome == "refused":
            assert (any(t in message for t in REFUSED_TYPES) or "training_mode" in message
                    or "got object" in message), (name, message)
    passed = sum(o == "passed" for o, _ in outcomes.values())
    assert len(CASES) >= 580 and passed >= 457, (len(CASES), passed)


@pytest.mark.parametrize("name", ["test_gemm_default_single_elem_vector_bias",
                                  "test_softmax_axis_1", "test_logsoftmax_default_axis",
                                  "test_layer_normalization_3d_axis1_epsilon",
                                  "test_reduce_mean_default_axes_keepdims_example",
                                  "test_gelu_default_1", "test_where_example", "test_range_float_type_positive_delta"])
def test_named_cases_pass(name):
    case = next(c for c in CASES if c.name == name)
    assert _run(case) == ("passed", "")


def test_layer_normalization_in_float64_against_numpy():
    from onnx import helper
    node = helper.make_node("LayerNormalization", ["x", "s", "b"], ["y"], axis=-1, epsilon=1e-5)
    rng = np.random.default_rng(0)
    x, s, b = rng.standard_normal((2, 3, 4)), rng.standard_normal(4), rng.standard_normal(4)
    (y,) = backend.run_node(node, [x, s, b], opset_version=17)
    eps = float(np.float32(1e-5))  # ONNX attributes are float32
    want = (x - x.mean(-1, keepdims=True)) / np.sqrt(x.var(-1, keepdims=True) + eps) * s + b
    assert y.dtype == np.float64
    np.testing.assert_allclose(y, want, rtol=0, atol=1e-12)
