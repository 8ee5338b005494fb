"""The optional parts of fastrnn and how to get them.

The core (fastrnn.RNN, LSTM, GRU, save/load, demo, bench, info) needs numpy and
OpenBLAS only; ONNX export, verification, import and the backend need onnx
and onnxruntime, installed by the "onnx" extra.
"""
import importlib

INSTALL_ONNX = 'pip install "fastrnn[onnx]"'


class MissingDependency(ImportError):
    """An optional package fastrnn needs for this is not installed."""


def require(package, what):
    """Import `package` (onnx or onnxruntime) or raise MissingDependency naming the extra."""
    try:
        return importlib.import_module(package)
    except ImportError as exc:
        raise MissingDependency(f"{what} needs {package}, which is not installed: "
                                f"{INSTALL_ONNX}") from exc
