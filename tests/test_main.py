"""`python -m fastrnn demo`, the command README's Quick start runs."""
import subprocess
import sys

import onnx

import fastrnn.onnx
from fastrnn.__main__ import main, windows


def test_windows_are_the_seeds_sliding_windows():
    series = [[1, 11], [2, 12], [3, 13], [4, 14], [5, 15]]
    w = windows(__import__("numpy").array(series), 3)
    assert w.shape == (3, 3, 2)
    assert w[1].tolist() == [[2, 12], [3, 13], [4, 14]]


def test_demo_runs_and_checks_what_it_prints(tmp_path):
    path = tmp_path / "demo.onnx"
    result = subprocess.run(
        [sys.executable, "-m", "fastrnn", "demo", "--steps", "40", "--window", "8",
         "--repeat", "2", "--onnx", str(path)],
        capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert "input:  (33, 8, 2)" in out
    assert "output: (33, 8, 64)" in out
    assert "h_n:    (2, 33, 64)" in out
    assert "output[:, -1] == h_n[-1]: True" in out
    assert "same output: True" in out
    onnx.checker.check_model(onnx.load(str(path)), full_check=True)
    model = fastrnn.onnx.load(path)
    assert (model.num_layers, model.hidden_size, model.batch_first) == (2, 64, True)


def test_unknown_command_is_refused(capsys):
    try:
        main(["train"])
    except SystemExit as exc:
        assert exc.code == 2
    else:
        raise AssertionError("an unknown command was accepted")
    assert "invalid choice" in capsys.readouterr().err


def test_bad_demo_arguments_are_refused_by_argparse(capsys):
    for argv in (["demo", "--window", "0"], ["demo", "--steps", "-3"], ["demo", "--hidden", "x"],
                 ["demo", "--steps", "10", "--window", "11"], ["demo", "--repeat", "0"]):
        try:
            main(argv)
        except SystemExit as exc:
            assert exc.code == 2, argv
        else:
            raise AssertionError(f"{argv} was accepted")
        err = capsys.readouterr().err
        assert "positive integer" in err or "must not exceed" in err, (argv, err)
