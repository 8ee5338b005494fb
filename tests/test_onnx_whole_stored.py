"""Whole models loaded from stored files (tests/data/whole/, written by
tools/make_whole_model_data.py with torch): fastrnn.onnx.load's GraphModel against the
torch outputs stored beside each file, for the files of fastrnn.onnx.export and of
torch's dynamo exporter (dynamo-*.npz). Runs without torch and onnxscript."""
import pathlib

import numpy as np
import pytest

import fastrnn.onnx
import reference

DATA = sorted((pathlib.Path(__file__).parent / "data" / "whole").glob("*.npz"))


MODELS = {"classifier", "forecaster", "last-states", "residual", "seed", "stateful", "tagger"}


def test_every_whole_model_is_stored():
    assert {p.stem for p in DATA} == MODELS | {f"dynamo-{m}" for m in MODELS - {"forecaster"}}


@pytest.mark.parametrize("path", DATA, ids=lambda p: p.stem)
def test_stored_whole_model_matches_torch(path):
    stored = np.load(path)
    model = fastrnn.onnx.load(stored["onnx"].tobytes())
    assert isinstance(model, fastrnn.onnx.GraphModel)
    cases = 1 if path.stem.startswith("dynamo-") else 2
    for case in range(cases):
        inputs = [stored[k] for k in sorted(stored.files)
                  if k.startswith(f"case{case}_input")]
        wants = [stored[k] for k in sorted(stored.files) if k.startswith(f"case{case}_output")]
        got = model(*inputs)
        got = list(got) if isinstance(got, tuple) else [got]
        assert len(got) == len(wants)
        for g, w in zip(got, wants):
            reference.assert_close(g, w, np.float32, f"{path.stem} case {case} against torch")
