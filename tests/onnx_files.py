"""Running and refusing ONNX files for the load tests (tests/test_onnx_load*.py)."""
import io
import warnings

import onnxruntime
import pytest

import fastrnn.onnx
from fastrnn.onnx import UnsupportedModelError


OPSET = 22


def ort_run(proto, feed):
    """The model's outputs in onnxruntime."""
    session = onnxruntime.InferenceSession(proto.SerializeToString(),
                                           providers=["CPUExecutionProvider"])
    return session.run(None, feed)


def torch_export(module, args, **kwargs):
    """The file torch.onnx.export(..., dynamo=False) writes (skips without torch)."""
    torch = pytest.importorskip("torch")
    buffer = io.BytesIO()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the legacy exporter's deprecation and tracer notes
        torch.onnx.export(module, args, buffer, dynamo=False, **kwargs)
    return buffer.getvalue()


def assert_refused(proto_or_bytes, match, error=UnsupportedModelError):
    """load refuses the file with `error` matching `match`; returns the error."""
    with pytest.raises(error, match=match) as info:
        fastrnn.onnx.load(proto_or_bytes)
    return info.value
