"""The slim core (fastrnn/_optional.py): without onnx and onnxruntime the
models, save/load and the CLI's demo, bench and info work, and whatever
needs ONNX says which extra to install. Each case runs in a child process
where importing onnx or onnxruntime fails, as in a core-only install."""
import os
import subprocess
import sys
import textwrap

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

WITHOUT_ONNX = """
    import importlib.abc, sys

    class NoOnnx(importlib.abc.MetaPathFinder):
        def find_spec(self, name, path=None, target=None):
            if name.split(".")[0] in ("onnx", "onnxruntime"):
                raise ModuleNotFoundError(f"No module named {name!r}")
            return None

    sys.meta_path.insert(0, NoOnnx())
"""


def _run(code, *args):
    return subprocess.run([sys.executable, "-c", textwrap.dedent(WITHOUT_ONNX) + textwrap.dedent(code),
                           *args], capture_output=True, text=True, timeout=300, cwd=ROOT)


def test_import_fastrnn_imports_nothing_optional():
    run = subprocess.run([sys.executable, "-c", "import sys, fastrnn; print(sorted(m for m in "
                          "('onnx', 'onnxruntime', 'torch', 'threadpoolctl', 'dask') "
                          "if m in sys.modules))"], capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stderr
    assert run.stdout.strip() == "[]"


def test_models_and_files_work_without_onnx(tmp_path):
    run = _run(f"""
        import numpy as np, fastrnn
        m = fastrnn.LSTM(3, 5, num_layers=2, batch_first=True, seed=0)
        y, (h, c) = m(np.ones((2, 4, 3), np.float32))
        path = fastrnn.save(m, {str(tmp_path / 'm.npz')!r})
        same = np.array_equal(fastrnn.load(path)(np.ones((2, 4, 3), np.float32))[0], y)
        print(y.shape, same, 'onnx' in sys.modules)
    """)
    assert run.returncode == 0, run.stderr
    assert run.stdout.strip() == "(2, 4, 5) True False"


def test_fastrnn_onnx_names_the_extra():
    run = _run("""
        try:
            import fastrnn.onnx
        except ImportError as exc:
            print(type(exc).__name__, exc)
    """)
    assert run.returncode == 0, run.stderr
    assert run.stdout.strip() == ('MissingDependency fastrnn.onnx needs onnx, which is not '
                                  'installed: pip install "fastrnn[onnx]"')


def test_cli_without_onnx(tmp_path):
    code = """
        import sys
        from fastrnn.cli import main
        sys.exit(main(sys.argv[1:]))
    """
    npz = str(tmp_path / "m.npz")
    run = _run(f"import fastrnn; fastrnn.save(fastrnn.GRU(2, 3), {npz!r})")
    assert run.returncode == 0, run.stderr
    for command in (["export", npz, "-o", str(tmp_path / "m.onnx")],
                    ["verify", str(tmp_path / "m.onnx")], ["conformance"]):
        run = _run(code, *command)
        assert run.returncode == 2, (command, run.stdout, run.stderr)
        assert run.stderr.count("\n") == 1, run.stderr
        assert 'pip install "fastrnn[onnx]"' in run.stderr
    run = _run(code, "demo", "--kind", "gru", "--repeat", "3")
    assert run.returncode == 0, run.stderr
    assert 'onnx:   skipped, onnx and onnxruntime are not installed (pip install "fastrnn[onnx]")' \
        in run.stdout
    assert "forward: fastrnn" in run.stdout and "output[:, -1] == h_n[-1]: True" in run.stdout
    run = _run(code, "info")
    assert run.returncode == 0 and "path: " in run.stdout, run.stderr
    run = _run(code, "bench", "--quick", "--rounds", "1", "--kind", "rnn", "--markdown")
    assert run.returncode == 0, run.stderr
    rows = [line for line in run.stdout.splitlines() if line.startswith("| rnn |")]
    assert rows and all(line.split("|")[5].strip() == "-" for line in rows)   # no onnxruntime column
