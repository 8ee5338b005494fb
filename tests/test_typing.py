"""The typed public API (py.typed, annotations, fastrnn/_kernels.pyi): mypy
--strict on a short user program finds nothing, and finds the mistakes a
typed API should catch."""
import os
import subprocess
import sys
import textwrap

import pytest

pytest.importorskip("mypy")
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

USER_PROGRAM = """
    import numpy as np
    import numpy.typing as npt

    import fastrnn
    import fastrnn.onnx

    lstm = fastrnn.LSTM(8, 32, num_layers=2, batch_first=True)
    x: npt.NDArray[np.float32] = np.zeros((4, 50, 8), np.float32)
    output, (h_n, c_n) = lstm(x)
    output, (h_n, c_n) = lstm(x, (h_n, c_n))
    output, (h_n, c_n) = lstm(x, lengths=[50, 12, 31, 7])
    gru = fastrnn.GRU(8, 16).double()
    out2, h2 = gru(np.zeros((5, 2, 8)))
    rnn = fastrnn.RNN(8, 16, nonlinearity="relu").to(np.float32)
    state = rnn.state_dict()
    missing: list[str] = rnn.load_state_dict(state, strict=False).missing_keys
    fastrnn.set_num_threads(2)
    threads: int = fastrnn.get_num_threads()
    proto = fastrnn.onnx.export(lstm, "m.onnx")
    loaded = fastrnn.onnx.load("m.onnx")
    worst: float = fastrnn.onnx.verify(lstm, "m.onnx")
    rep = fastrnn.onnx.backend.prepare("m.onnx")
    first = rep.run([x])[0]
    path: str = fastrnn.save(lstm, "m.npz")
    again = fastrnn.load(path)
    print(output.shape, h_n.mean(), c_n.dtype, out2, h2, missing, threads, proto, loaded, worst,
          again, first.shape)
"""

MISTAKES = """
    import numpy as np
    import fastrnn

    n: str = fastrnn.get_num_threads()
    fastrnn.GRU("8", 16)
    output, h_n = fastrnn.RNN(2, 3)(np.zeros((3, 2)))
    h_n.no_such_method()
"""


def _mypy(tmp_path, source):
    program = tmp_path / "user.py"
    program.write_text(textwrap.dedent(source))
    # fastrnn as an installed package would be seen: found on MYPYPATH, its
    # own modules analysed but not reported on (follow-imports=silent)
    return subprocess.run(
        [sys.executable, "-m", "mypy", "--strict", "--follow-imports=silent", "--no-incremental",
         "--cache-dir", str(tmp_path / ".mypy_cache"), str(program)],
        capture_output=True, text=True, cwd=tmp_path, timeout=300,
        env={**os.environ, "MYPYPATH": ROOT})


def test_py_typed_marker_ships():
    assert os.path.exists(os.path.join(ROOT, "fastrnn", "py.typed"))
    assert os.path.exists(os.path.join(ROOT, "fastrnn", "_kernels.pyi"))


def test_mypy_strict_accepts_a_user_program(tmp_path):
    run = _mypy(tmp_path, USER_PROGRAM)
    assert run.returncode == 0, run.stdout + run.stderr
    assert "Success: no issues found" in run.stdout


def test_mypy_strict_finds_the_mistakes(tmp_path):
    run = _mypy(tmp_path, MISTAKES)
    assert run.returncode == 1
    assert 'expression has type "int", variable has type "str"' in run.stdout
    assert 'Argument 1 to "GRU" has incompatible type "str"; expected "int"' in run.stdout
    assert '"no_such_method"' in run.stdout
    assert "Found 3 errors" in run.stdout
