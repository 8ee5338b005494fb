"""The `fastrnn` command (fastrnn.cli): every subcommand run as a subprocess, error paths included."""
import json
import pathlib
import subprocess
import sys

import numpy as np
import onnx
import pytest

import fastrnn
import fastrnn.onnx
from fastrnn.cli import main, windows


def test_windows_are_the_seeds_sliding_windows():
    series = [[1, 11], [2, 12], [3, 13], [4, 14], [5, 15]]
    w = windows(__import__("numpy").array(series), 3)
    assert w.shape == (3, 3, 2)
    assert w[1].tolist() == [[2, 12], [3, 13], [4, 14]]


def _run_demo(*args):
    result = subprocess.run(
        [sys.executable, "-m", "fastrnn", "demo", "--steps", "40", "--window", "8",
         "--repeat", "2", *args],
        capture_output=True, text=True, timeout=180)
    assert result.returncode == 0, result.stderr
    return result.stdout


def test_demo_runs_every_class_and_checks_what_it_prints(tmp_path):
    out = _run_demo("--onnx", str(tmp_path))
    assert "input:  (33, 8, 2)" in out
    for name in ("RNN", "LSTM", "GRU"):
        assert f"model:  {name}(2, 64, num_layers=2, batch_first=True)" in out
    assert out.count("output: (33, 8, 64)") == 3
    assert out.count("h_n:    (2, 33, 64)") == 3
    assert "c_n: (2, 33, 64)" in out
    assert out.count("output[:, -1] == h_n[-1]: True") == 3
    assert out.count("same output: True") == 3
    for cls in (fastrnn.RNN, fastrnn.LSTM, fastrnn.GRU):
        path = tmp_path / f"demo_{cls.__name__.lower()}.onnx"
        onnx.checker.check_model(onnx.load(str(path)), full_check=True)
        model = fastrnn.onnx.load(path)
        assert type(model) is cls
        assert (model.num_layers, model.hidden_size, model.batch_first) == (2, 64, True)


def test_demo_runs_one_kind():
    out = _run_demo("--kind", "gru")
    assert "model:  GRU(2, 64, num_layers=2, batch_first=True)" in out
    assert "RNN(" not in out and "LSTM(" not in out


def test_bad_demo_arguments_exit_with_status_2(capsys):
    for argv in (["demo", "--window", "0"], ["demo", "--steps", "-3"], ["demo", "--hidden", "x"],
                 ["demo", "--steps", "10", "--window", "11"], ["demo", "--repeat", "0"],
                 ["demo", "--kind", "transformer"], ["demo", "--onnx", "/nonexistent/dir"]):
        try:
            status = main(argv)
        except SystemExit as exc:  # argparse's own checks
            status = exc.code
        assert status == 2, argv
        err = capsys.readouterr().err
        assert err.count("\n") == 1, err
        assert any(text in err for text in ("positive integer", "must not exceed",
                                            "invalid choice", "existing directory")), (argv, err)


# ============================================================== subprocesses
def fastrnn_cli(*args, timeout=180):
    """Run `python -m fastrnn ARGS` (the `fastrnn` script runs the same main)."""
    return subprocess.run([sys.executable, "-m", "fastrnn", *map(str, args)],
                          capture_output=True, text=True, timeout=timeout)


def assert_one_line_error(result, *fragments):
    assert result.returncode == 2, (result.stdout, result.stderr)
    err = result.stderr.strip()
    assert "\n" not in err and "Traceback" not in err, err
    for fragment in fragments:
        assert fragment in err, (fragment, err)


@pytest.mark.parametrize("command", ["demo", "export", "verify", "bench", "conformance", "info"])
def test_every_subcommand_has_help(command):
    result = fastrnn_cli(command, "--help")
    assert result.returncode == 0 and result.stdout.startswith(f"usage: fastrnn {command}")


def test_console_script_is_declared_for_main():
    text = (pathlib.Path(__file__).parents[1] / "pyproject.toml").read_text()
    assert 'fastrnn = "fastrnn.cli:main"' in text


def test_info_names_version_blas_threads_and_cpu():
    result = fastrnn_cli("info")
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert out.startswith(f"fastrnn {fastrnn.__version__}")
    assert "blas: OpenBLAS" in out
    # a fresh process has the default count: the cores this process may use
    import os
    assert f"threads: fastrnn {len(os.sched_getaffinity(0))} " in out
    assert "OpenBLAS 1 inside" in out
    assert "cpu: " in out and "onnxruntime: " in out
    from fastrnn import _kernels
    assert ("amx: float32 products on AMX tiles" in out) == _kernels.AMX
    # the one-row plan of this path, as measured (tests/test_step_ahead.py)
    rule = {"avx512": "from 32 to 256 input features and 8 steps",
            "avx2": "from 96 to 128 input features and 256 steps"}.get(_kernels.isa())
    assert (f"the input projection inside the steps {rule};" in out) == (rule is not None)
    assert ("the input projection before the steps;" in out) == (rule is None)
    assert ("cells inside the step kernel" in out) == (_kernels.isa() == "avx512")
    assert ("frozen models (model.freeze()): weights packed once" in out) == \
        _kernels.use_packed_step(1, 1, 64, frozen=True)


MODELS = [
    lambda: fastrnn.RNN(3, 5, 2, nonlinearity="relu", batch_first=True, seed=1),
    lambda: fastrnn.LSTM(3, 6, bidirectional=True, seed=2),
    lambda: fastrnn.GRU(4, 5, 2, bias=False, seed=3),
]


@pytest.mark.parametrize("make", MODELS)
def test_export_of_a_fastrnn_file_then_verify(make, tmp_path):
    model = make()
    weights = fastrnn.save(model, tmp_path / "m.npz")
    target = tmp_path / "m.onnx"
    result = fastrnn_cli("export", weights, "-o", target, "--verify")
    assert result.returncode == 0, result.stderr
    assert "verified" in result.stdout and repr(model) in result.stdout
    loaded = fastrnn.onnx.load(target)
    x = np.random.default_rng(0).standard_normal((4, 3, model.input_size)).astype(np.float32)
    np.testing.assert_array_equal(fastrnn.onnx.load(target)(x)[0], model(x)[0])
    assert type(loaded) is type(model)
    result = fastrnn_cli("verify", target)
    assert result.returncode == 0, result.stderr
    assert "largest scaled difference" in result.stdout


@pytest.mark.parametrize("kind", ["rnn", "lstm", "gru"])
def test_export_of_a_torch_state_dict(kind, tmp_path):
    torch = pytest.importorskip("torch")
    module = {"rnn": torch.nn.RNN, "lstm": torch.nn.LSTM, "gru": torch.nn.GRU}[kind](
        3, 6, num_layers=2, bidirectional=True, batch_first=True)
    torch.save(module.state_dict(), tmp_path / "w.pt")
    target = tmp_path / "w.onnx"
    result = fastrnn_cli("export", tmp_path / "w.pt", "-o", target, "--kind", kind,
                         "--batch-first", "--hidden-size", 6, "--verify")
    assert result.returncode == 0, result.stderr
    x = torch.randn(2, 7, 3)
    with torch.no_grad():
        expected = module(x)[0].numpy()
    got = fastrnn.onnx.load(target)(x.numpy())[0]
    np.testing.assert_allclose(got, expected, atol=1e-5)


def test_export_of_a_state_dict_npz_without_torch(tmp_path):
    model = fastrnn.GRU(3, 4, seed=0)
    np.savez(tmp_path / "w.npz", **model.state_dict())
    result = fastrnn_cli("export", tmp_path / "w.npz", "-o", tmp_path / "w.onnx", "--kind", "gru")
    assert result.returncode == 0, result.stderr
    assert repr(fastrnn.onnx.load(tmp_path / "w.onnx")) == repr(model)


def test_export_and_verify_errors_are_one_line_with_status_2(tmp_path):
    good = fastrnn.save(fastrnn.RNN(3, 4, seed=0), tmp_path / "good.npz")
    state = tmp_path / "state.npz"
    np.savez(state, **fastrnn.LSTM(3, 4, seed=0).state_dict())
    text = tmp_path / "text.npz"
    text.write_text("hello")
    other = tmp_path / "weights.bin"
    other.write_bytes(b"\0" * 10)
    single = tmp_path / "single.npz"
    np.save(tmp_path / "single.npy", np.zeros(3))
    (tmp_path / "single.npy").rename(single)
    not_onnx = tmp_path / "bad.onnx"
    not_onnx.write_bytes(b"not a protobuf at all")
    out = tmp_path / "o.onnx"
    cases = [
        (("export", tmp_path / "absent.npz", "-o", out), ["absent.npz", "no such file"]),
        (("export", tmp_path, "-o", out), ["is a directory"]),
        (("export", text, "-o", out), ["not a .npz archive"]),
        (("export", other, "-o", out), ["expected a fastrnn .npz model file"]),
        (("export", state, "-o", out), ["give --kind"]),
        (("export", state, "-o", out, "--kind", "gru"), ["16 rows, not a multiple of GRU's 3"]),
        (("export", state, "-o", out, "--kind", "rnn"), ["do not fit a RNN"]),
        (("export", good, "-o", out, "--kind", "gru"), ["--kind gru contradicts", "holds a RNN"]),
        (("export", good, "-o", out, "--hidden-size", 77), ["--hidden-size 77 contradicts",
                                                            "hidden_size = 4"]),
        (("export", good, "-o", good), ["is the weights file itself"]),
        (("export", single, "-o", out), ["holds one array"]),
        (("verify", tmp_path), ["is a directory"]),
        (("export", state, "-o", out, "--kind", "lstm", "--hidden-size", 5),
         ["--hidden-size 5 contradicts", "hidden_size = 4"]),
        (("export", good, "-o", tmp_path / "nodir" / "x.onnx"), ["does not exist"]),
        (("export", good), ["-o/--output"]),
        (("export", good, "-o", out, "--opset", "zero"), ["positive integer"]),
        (("export", good, "-o", out, "--kind", "transformer"), ["invalid choice"]),
        (("verify", tmp_path / "absent.onnx"), ["no such file"]),
        (("verify", not_onnx), ["bad.onnx"]),
        (("demo", "--window", 0), ["positive integer"]),
        (("demo", "--onnx", tmp_path / "nodir"), ["existing directory"]),
        (("nosuchcommand",), ["invalid choice"]),
    ]
    for args, fragments in cases:
        assert_one_line_error(fastrnn_cli(*args), *fragments)
    assert not out.exists()
    assert fastrnn.load(good).hidden_size == 4  # not overwritten by the refused export


def test_a_float64_file_is_not_reported_as_verified(tmp_path):
    weights = fastrnn.save(fastrnn.GRU(3, 4, dtype=np.float64, seed=0), tmp_path / "g.npz")
    result = fastrnn_cli("export", weights, "-o", tmp_path / "g.onnx", "--verify")
    assert result.returncode == 1 and "not verified" in result.stderr
    assert (tmp_path / "g.onnx").exists()


def test_a_bfloat16_torch_state_dict_exports(tmp_path):
    torch = pytest.importorskip("torch")
    module = torch.nn.LSTM(3, 4).to(torch.bfloat16)
    torch.save(module.state_dict(), tmp_path / "w.pt")
    result = fastrnn_cli("export", tmp_path / "w.pt", "-o", tmp_path / "w.onnx", "--kind", "lstm")
    assert result.returncode == 0, result.stderr


@pytest.mark.skipif(__import__("os").environ.get("FASTRNN_ASAN") == "1",
                    reason="AddressSanitizer prints its own warning line for the failed allocation")
def test_memory_errors_are_one_line(tmp_path):
    result = fastrnn_cli("demo", "--hidden", 10**9, "--steps", 10, "--window", 5, "--kind", "rnn")
    assert_one_line_error(result, "out of memory")


def test_bench_runs_as_a_command_and_writes_json(tmp_path):
    path = tmp_path / "b.json"
    result = fastrnn_cli("bench", "--quick", "--rounds", 1, "--kind", "rnn", "--json", path)
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("sgemm, one thread, same OpenBLAS:")
    rows = json.loads(path.read_text())["results"]
    assert rows and all(r["kind"] == "rnn" and r["ms"]["fastrnn"] > 0 for r in rows)
    assert f"[{len(rows)}/{len(rows)}]" in result.stderr  # progress, a line per row off a terminal


def test_bench_and_conformance_errors_are_one_line(tmp_path):
    assert_one_line_error(fastrnn_cli("bench", "--json", tmp_path / "no" / "b.json"),
                          "its directory does not exist")
    assert_one_line_error(fastrnn_cli("bench", "--rounds", 0), "positive integer")
    assert_one_line_error(fastrnn_cli("bench", "--kind", "transformer"), "invalid choice")
    assert_one_line_error(fastrnn_cli("conformance", "--suite", "nope"), "invalid choice")
