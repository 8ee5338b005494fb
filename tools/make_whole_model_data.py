"""Store whole torch models as ONNX files, with inputs and torch's outputs, under
tests/data/whole/, so that tests/test_onnx_whole_stored.py checks fastrnn.onnx.load of
whole graphs against torch without torch installed.

Run from the repository root, with torch installed:

    python tools/make_whole_model_data.py

Each model of tests/test_onnx_whole.py is exported by fastrnn.onnx.export (torch's
TorchScript exporter underneath) into one .npz: the file's bytes, and for two input
shapes the inputs and torch's outputs. With onnxscript installed, each model torch's
dynamo exporter writes right (all but the projected forecaster) is stored too, as
dynamo-NAME.npz: its file for B=3, L=5 (every shape fixed), with one input case.
"""
import pathlib
import sys

import numpy as np

TESTS_DIR = pathlib.Path(__file__).resolve().parent.parent / "tests"
sys.path.insert(0, str(TESTS_DIR))

import test_onnx_whole as whole  # noqa: E402  (tests/test_onnx_whole.py: the models)


def main():
    import torch

    out_dir = TESTS_DIR / "data" / "whole"
    out_dir.mkdir(parents=True, exist_ok=True)
    for name in sorted(whole.MODELS):
        module, data = whole._export(name, "fastrnn")
        arrays = {"onnx": np.frombuffer(data, np.uint8)}
        rng = np.random.default_rng(7)
        for case, (B, L) in enumerate([(1, 4), (3, 9)]):
            args = whole._inputs(name, B, L, rng)
            with torch.no_grad():
                want = module(*args)
            want = want if isinstance(want, tuple) else (want,)
            for k, a in enumerate(args):
                arrays[f"case{case}_input{k}"] = a.numpy()
            for k, w in enumerate(want):
                arrays[f"case{case}_output{k}"] = w.numpy()
        np.savez_compressed(out_dir / f"{name}.npz", **arrays)
        print(f"{name}: {len(data)} bytes of ONNX")
        if name != "forecaster":
            args = whole._inputs(name, 3, 5, np.random.default_rng(8))
            data = whole.dynamo_export(module, args)
            with torch.no_grad():
                want = module(*args)
            want = want if isinstance(want, tuple) else (want,)
            arrays = {"onnx": np.frombuffer(data, np.uint8)}
            arrays.update({f"case0_input{k}": a.numpy() for k, a in enumerate(args)})
            arrays.update({f"case0_output{k}": w.numpy() for k, w in enumerate(want)})
            np.savez_compressed(out_dir / f"dynamo-{name}.npz", **arrays)
            print(f"dynamo-{name}: {len(data)} bytes of ONNX")


if __name__ == "__main__":
    main()
