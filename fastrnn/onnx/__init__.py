"""ONNX for fastrnn: export verified by onnxruntime, import, and a backend.

    fastrnn.onnx.export(model, f)   write an RNN, LSTM or GRU as ONNX RNN/LSTM/GRU nodes
    fastrnn.onnx.verify(model, f)   run the file in onnxruntime against the model
    fastrnn.onnx.load(f)            a fastrnn.RNN, LSTM or GRU from an ONNX file, or a
                                    GraphModel for a graph with layers around them
    fastrnn.onnx.backend            an onnx.backend.base.Backend on fastrnn's kernels
    fastrnn.onnx.set_limits(...)    what a file may make load, prepare and a run allocate

Needs onnx (and onnxruntime for verify): `pip install "fastrnn[onnx]"`.
"""
from fastrnn._optional import require

require("onnx", "fastrnn.onnx")
from fastrnn.onnx._export import export, verify, VerificationError
from fastrnn.onnx._load import load
from fastrnn.onnx._proto import UnsupportedModelError, InvalidModelError
from fastrnn.onnx._export import TOLERANCE, default_opset
from fastrnn.onnx._limits import LimitError, get_limits, set_limits
from fastrnn.onnx._model import GraphModel
from fastrnn.onnx import backend

__all__ = ["export", "verify", "load", "backend", "default_opset", "TOLERANCE", "VerificationError",
           "UnsupportedModelError", "InvalidModelError", "LimitError", "set_limits", "get_limits", "GraphModel"]
