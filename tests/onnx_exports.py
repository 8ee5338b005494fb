"""Running and reading exported files for the export tests (tests/test_onnx_export*.py)."""
import onnxruntime


def ort_session(proto):
    """An onnxruntime session of the model on the CPU."""
    return onnxruntime.InferenceSession(proto.SerializeToString(),
                                        providers=["CPUExecutionProvider"])


def value_dims(value_info):
    """A graph input's or output's dimensions: names for symbolic ones, else sizes."""
    return [d.dim_param or d.dim_value for d in value_info.type.tensor_type.shape.dim]
