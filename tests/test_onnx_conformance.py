"""The ONNX project's own RNN, GRU and LSTM conformance cases, run through
onnx.backend.test.BackendTest.

BackendTest builds one unittest method per case and device for every node case
onnx ships (about 1900) and marks those outside the include patterns as
skipped. Only the recurrent ones concern fastrnn, so this module collects
exactly those: the CPU methods of the cases whose node is an RNN, GRU or
LSTM. pytest then runs eighteen tests, none skipped
(test_exactly_the_recurrent_cases_run checks that).
"""
import unittest
import warnings

import onnx.backend.test
from onnx.backend.test.loader import load_model_tests

from fastrnn.onnx.backend import FastRNNBackend

# What onnx 1.23 ships for each op: defaults, initial bias, seq length (LSTM:
# peepholes instead), batchwise (layout=1, which onnxruntime's backend fails),
# reverse and bidirectional. The GRU cases use linear_before_reset=0, the
# LSTM peephole case sequence_lens, initial_h, initial_c and P.
EXPECTED_CASES = {
    "test_simple_rnn_defaults", "test_simple_rnn_with_initial_bias", "test_rnn_seq_length",
    "test_simple_rnn_batchwise", "test_simple_rnn_reverse", "test_simple_rnn_bidirectional",
    "test_gru_defaults", "test_gru_with_initial_bias", "test_gru_seq_length",
    "test_gru_batchwise", "test_gru_reverse", "test_gru_bidirectional",
    "test_lstm_defaults", "test_lstm_with_initial_bias", "test_lstm_with_peepholes",
    "test_lstm_batchwise", "test_lstm_reverse", "test_lstm_bidirectional",
}
RECURRENT_OPS = ("RNN", "GRU", "LSTM")

# The cases are found by their node's op type, not by name patterns or
# collect_testcases(op_type=...) (which ignores its argument after its first
# call in a process).
with warnings.catch_warnings():
    # Building the other ops' cases (Cast, ReduceMax, ...) warns about overflows.
    warnings.simplefilter("ignore", RuntimeWarning)
    RECURRENT_CASES = sorted(case.name for case in load_model_tests(kind="node")
                             if case.model is not None and case.model.graph.node
                             and case.model.graph.node[0].op_type in RECURRENT_OPS)
    _backend_test = onnx.backend.test.BackendTest(FastRNNBackend, __name__)
for _name in RECURRENT_CASES:
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

# One TestCase class holding only the recurrent cases, so pytest neither
# collects nor reports the ~3800 skipped others.
OnnxRecurrentConformanceTest = type("OnnxRecurrentConformanceTest", (unittest.TestCase,),
                                    dict(_METHODS))
OnnxRecurrentConformanceTest.__module__ = __name__


def test_exactly_the_recurrent_cases_run():
    assert set(RECURRENT_CASES) == EXPECTED_CASES
    # one CPU method per case (so no case twice), none skipped; CUDA methods are
    # skipped by supports_device and were left out above
    assert sorted(_METHODS) == sorted(f"{name}_cpu" for name in RECURRENT_CASES)
    assert len(_METHODS) == 18 and "test_lstm_with_peepholes_cpu" in _METHODS
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

    for name in ("test_simple_rnn_batchwise_cpu", "test_gru_seq_length_cpu",
                 "test_lstm_with_peepholes_cpu"):
        wrong = onnx.backend.test.BackendTest(WrongBackend, __name__)
        wrong.include(f"^{name}$")
        methods = _runnable_methods(wrong)
        assert list(methods) == [name]
        result = unittest.TestResult()
        unittest.FunctionTestCase(lambda: methods[name](unittest.TestCase())).run(result)
        assert len(result.failures) + len(result.errors) == 1, name
