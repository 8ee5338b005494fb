"""The ONNX project's own RNN conformance cases, run through onnx.backend.test.BackendTest.

BackendTest builds one unittest method per case and device for every node case
onnx ships (about 1900) and marks those outside the include patterns as
skipped. Only the RNN ones concern fastrnn, so this module collects exactly
those: the CPU methods of the cases whose node is an RNN. pytest then runs
six tests, none skipped (test_exactly_the_rnn_cases_run checks that).
"""
import unittest
import warnings

import onnx.backend.test
from onnx.backend.test.loader import load_model_tests

from fastrnn.onnx.backend import FastRNNBackend

# What onnx 1.23 ships: defaults, initial bias, seq length, batchwise
# (layout=1, which onnxruntime's backend fails), reverse and bidirectional.
EXPECTED_CASES = {
    "test_simple_rnn_defaults", "test_simple_rnn_with_initial_bias", "test_rnn_seq_length",
    "test_simple_rnn_batchwise", "test_simple_rnn_reverse", "test_simple_rnn_bidirectional",
}

# The cases are found by their node's op type, not by name patterns or
# collect_testcases(op_type=...) (which ignores its argument after its first
# call in a process).
with warnings.catch_warnings():
    # Building the other ops' cases (Cast, ReduceMax, ...) warns about overflows.
    warnings.simplefilter("ignore", RuntimeWarning)
    RNN_CASES = sorted(case.name for case in load_model_tests(kind="node")
                       if case.model is not None and case.model.graph.node
                       and case.model.graph.node[0].op_type == "RNN")
    _backend_test = onnx.backend.test.BackendTest(FastRNNBackend, __name__)
for _name in RNN_CASES:
    _backend_test.include(f"^{_name}_cpu$")


def _runnable_methods(backend_test):
    """{name: test function} of every method BackendTest did not mark as skipped."""
    methods = {}
    for test_case in backend_test.test_cases.values():
        for name, function in vars(test_case).items():
            if name.startswith("test_") and not getattr(function, "__unittest_skip__", False):
                methods[name] = function
    return methods


_METHODS = _runnable_methods(_backend_test)

# One TestCase class holding only the RNN cases, so pytest neither collects
# nor reports the ~3800 skipped others.
OnnxRNNConformanceTest = type("OnnxRNNConformanceTest", (unittest.TestCase,), dict(_METHODS))
OnnxRNNConformanceTest.__module__ = __name__


def test_exactly_the_rnn_cases_run():
    assert set(RNN_CASES) == EXPECTED_CASES
    # one CPU method per case (so no case twice), none skipped; CUDA methods are
    # skipped by supports_device and were left out above
    assert sorted(_METHODS) == sorted(f"{name}_cpu" for name in RNN_CASES)
    assert "test_simple_rnn_batchwise_cpu" in _METHODS
    assert not FastRNNBackend.supports_device("CUDA")


def test_cases_fail_on_a_wrong_backend():
    """The collected methods really compare outputs: a backend that is off by a little fails."""
    import numpy as np

    from fastrnn.onnx.backend import FastRNNBackendRep

    class OffBy(FastRNNBackendRep):
        def run(self, inputs, **kwargs):
            return [value + np.float32(1e-2) for value in super().run(inputs)]

    class WrongBackend(FastRNNBackend):
        @classmethod
        def prepare(cls, model, device="CPU", **kwargs):
            return OffBy(FastRNNBackend.prepare(model, device)._graph)

    wrong = onnx.backend.test.BackendTest(WrongBackend, __name__)
    wrong.include("^test_simple_rnn_batchwise_cpu$")
    methods = _runnable_methods(wrong)
    assert list(methods) == ["test_simple_rnn_batchwise_cpu"]
    result = unittest.TestResult()
    unittest.FunctionTestCase(lambda: methods["test_simple_rnn_batchwise_cpu"](
        unittest.TestCase())).run(result)
    assert len(result.failures) + len(result.errors) == 1
