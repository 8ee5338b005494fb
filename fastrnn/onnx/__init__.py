from fastrnn.onnx._export import export, verify, VerificationError
from fastrnn.onnx._load import load, UnsupportedModelError, InvalidModelError
