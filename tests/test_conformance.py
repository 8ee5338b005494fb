"""fastrnn.conformance (`fastrnn conformance`): the suites run, count and report failures."""
import io
import subprocess
import sys

import numpy as np
import pytest

import fastrnn
from fastrnn import conformance


def test_grid_covers_every_class_and_option():
    configs = conformance.configurations()
    kinds = {kind for kind, *_ in configs}
    assert kinds == {"RNN", "LSTM", "GRU"}
    assert any(kw.get("proj_size") for _, kw, _, _ in configs)
    for option in ("bidirectional", "batch_first", "bias"):
        assert {kw[option] for _, kw, _, _ in configs if option in kw} == {False, True}
    assert {shape for _, _, shape, _ in configs} == {"batched", "unbatched"}


def _first(suite, n):
    suite.cases = suite.cases[:n]
    return suite


def test_torch_suite_passes_on_a_sample():
    pytest.importorskip("torch")
    suite = conformance.torch_suite()
    assert len(suite.cases) == 2 * len(conformance.configurations())
    step = max(1, len(suite.cases) // 25)
    suite.cases = suite.cases[::step]
    suite.run(show_progress=False)
    assert suite.failures == [] and suite.passed == len(suite.cases)


def test_onnxruntime_suite_passes_on_a_sample():
    suite = conformance.onnxruntime_suite()
    step = max(1, len(suite.cases) // 15)
    suite.cases = suite.cases[::step]
    suite.run(show_progress=False)
    assert suite.failures == [] and suite.passed == len(suite.cases)


def test_a_wrong_fastrnn_is_caught(monkeypatch):
    pytest.importorskip("torch")
    real = fastrnn.GRU.forward

    def off(self, input, hx=None):
        output, h_n = real(self, input, hx)
        return output + np.float32(1e-3), h_n
    monkeypatch.setattr(fastrnn.GRU, "__call__", off)
    suite = conformance.torch_suite()
    suite.cases = [c for c in suite.cases if c[0].startswith("GRU")][:4]
    suite.run(show_progress=False)
    assert suite.passed == 0 and len(suite.failures) == 4
    assert "fastrnn vs torch: output differs by" in suite.failures[0][1]


def test_report_rows_and_skips(monkeypatch):
    monkeypatch.setattr(conformance, "SUITES", {
        "torch": lambda: conformance.Suite("torch", [], skipped="torch is not installed"),
        "onnx": lambda: _first(conformance.onnx_suite(), 3)})
    out = io.StringIO()
    suites = conformance.run(show_progress=False, out=out)
    text = out.getvalue()
    assert "torch       skipped: torch is not installed" in text
    assert "onnx cases     3 passed     0 failed  of 3" in text
    assert [s.name for s in suites] == ["torch", "onnx cases"]


def test_command_runs_the_onnx_project_cases():
    result = subprocess.run([sys.executable, "-m", "fastrnn", "conformance", "--suite", "onnx"],
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "onnx cases    18 passed     0 failed  of 18" in result.stdout
    assert "[18/18]" in result.stderr  # progress, one line per case when not a terminal
