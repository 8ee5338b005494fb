"""fastrnn.bench (`fastrnn bench`, tools/bench.py): the grid, the table, JSON and plot.

Nothing here asserts a speed: the tests check that every engine runs, agrees,
and that the figures are reported where the command says they are.
"""
import io
import json

import numpy as np
import pytest

from fastrnn import bench

TINY = [("rnn", 2, 5, 3, 8, 1, False, 1), ("lstm", 1, 4, 3, 6, 2, True, 1),
        ("gru", 3, 4, 2, 5, 1, False, 2)]


def test_grid_holds_the_issue_configurations_for_every_class():
    required = [(1, 100, 32, 64, 1, False, 1), (1, 100, 64, 256, 1, False, 1),
                (1, 1000, 128, 128, 1, False, 1), (16, 100, 64, 256, 2, True, 1),
                (16, 100, 64, 256, 2, True, 2), (64, 50, 256, 512, 1, False, 1),
                (1, 100, 256, 1024, 1, False, 1), (3, 100, 40, 100, 1, False, 1)]
    for kind in ("rnn", "lstm", "gru"):
        for row in required:
            assert (kind,) + row in bench.GRID, (kind, row)


def test_flops_count_every_gate_product():
    # one layer, one direction: L * B * G*H * (F + H) multiply-adds
    assert bench.forward_flops("rnn", 2, 3, 4, 5, 1, False) == 2 * 3 * 2 * 1 * 5 * (4 + 5)
    assert bench.forward_flops("lstm", 1, 1, 4, 5, 1, False) == 2 * 4 * 5 * (4 + 5)
    # second layer reads both directions of the first
    two = bench.forward_flops("gru", 1, 1, 4, 5, 2, True)
    assert two == 2 * (2 * 3 * 5 * (4 + 5)) + 2 * (2 * 3 * 5 * (10 + 5))


def test_sgemm_reference_is_measured():
    assert bench.sgemm_gflops(64, repeat=2) > 0


def test_run_prints_rows_writes_json_and_markdown(tmp_path):
    out = io.StringIO()
    path = tmp_path / "b.json"
    results = bench.run(quick=True, rounds=2, json_path=str(path), markdown_table=True,
                        out=out, grid=TINY)
    text = out.getvalue()
    assert text.startswith("sgemm, one thread, same OpenBLAS:")
    assert text.count("GFLOP/s") >= len(TINY) + 1
    assert "| kind | B, L, F, H, layers, D, threads |" in text
    data = json.loads(path.read_text())
    assert data["sgemm_gflops"] > 0 and len(data["results"]) == len(TINY)
    for r, row in zip(data["results"], TINY):
        assert (r["kind"], r["batch"], r["threads"]) == (row[0], row[1], row[7])
        assert r["ms"]["fastrnn"] > 0 and r["ms"]["onnxruntime"] > 0
        assert r["speedup"]["onnxruntime"] == pytest.approx(r["ms"]["onnxruntime"] / r["ms"]["fastrnn"])
        assert r["fastrnn_gflops"] > 0
    assert [r["kind"] for r in results] == ["rnn", "lstm", "gru"]


def test_frozen_runs_fastrnn_frozen(tmp_path):
    """--frozen: fastrnn's models run frozen (their calls read the packing
    freeze() made, where the path packs), and the output says so."""
    from fastrnn import _testing

    out = io.StringIO()
    path = tmp_path / "f.json"
    calls = _testing.frozen_calls()
    bench.run(quick=True, rounds=1, out=out, grid=TINY[:1], frozen=True, json_path=str(path))
    assert "fastrnn frozen: model.freeze()" in out.getvalue()
    assert json.loads(path.read_text())["frozen"] is True
    if _testing.use_packed_step(8, 8, 64):
        assert _testing.frozen_calls() > calls


def test_threads_override_and_kind_filter():
    import fastrnn

    before = fastrnn.get_num_threads()
    out = io.StringIO()
    results = bench.run(quick=True, rounds=1, threads=2, kinds=["lstm"], out=out, grid=TINY)
    assert [(r["kind"], r["threads"]) for r in results] == [("lstm", 2)]
    assert fastrnn.get_num_threads() == before  # the caller's setting is put back


def test_plot_is_drawn(tmp_path):
    pytest.importorskip("matplotlib")
    out = io.StringIO()
    path = tmp_path / "b.png"
    bench.run(quick=True, rounds=1, plot_path=str(path), out=out, grid=TINY[:1])
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_a_disagreeing_engine_is_reported(monkeypatch):
    real = bench._onnxruntime_engine

    def wrong(model, x, threads):
        run = real(model, x, threads)
        return lambda: run() + np.float32(1)
    monkeypatch.setattr(bench, "_onnxruntime_engine", wrong)
    with pytest.raises(RuntimeError, match="onnxruntime disagrees with fastrnn"):
        bench.bench_row(TINY[0], rounds=1)


def test_sweep_tool_runs_a_small_grid():
    import subprocess
    import sys
    from pathlib import Path
    tool = Path(__file__).resolve().parent.parent / "tools" / "sweep.py"
    result = subprocess.run([sys.executable, str(tool), "--kind", "gru", "--batch", "2",
                             "--hidden", "8", "--length", "3", "--rounds", "1"],
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    line = result.stdout.strip()
    assert line.startswith("gru  H=8") and "onnxruntime / fastrnn" in line
    assert float(line.split("onnxruntime / fastrnn")[1].split()[0]) > 0


def test_an_engine_waits_for_the_threads_a_peer_left_spinning():
    # a peer's pool that spins for 0.15 s after its call (onnxruntime's spins
    # ~50 ms): the next engine's round starts only once it has stopped
    import threading
    import time

    def spin(seconds):
        end = time.perf_counter() + seconds
        while time.perf_counter() < end:
            pass

    spinner = threading.Thread(target=spin, args=(0.15,))
    start = time.perf_counter()
    spinner.start()
    bench.wait_for_quiet_cores()
    waited = time.perf_counter() - start
    spinner.join()
    assert 0.14 <= waited < 1.0
    # a quiet process waits a window or a few (a peer engine of an earlier
    # test may still be spinning down)
    start = time.perf_counter()
    bench.wait_for_quiet_cores()
    assert time.perf_counter() - start < 0.5
