"""Turning what callers pass into arrays the kernels can read, or a clear error."""
import numpy as np

INT_MAX = 2**31 - 1


class ShapeError(ValueError, RuntimeError):
    """An input's shape does not fit the model.

    A ValueError, and also a RuntimeError because torch raises RuntimeError
    for the same mistakes: code written for torch keeps catching it.
    """


def model_dtype(dtype):
    """numpy.float32 or numpy.float64 from anything numpy.dtype understands.

    None means float32, torch's default (numpy would read it as float64).
    """
    if dtype is None:
        return np.float32
    if type(dtype).__module__ == "torch":  # torch.float32 / torch.float64, without importing torch
        dtype = str(dtype).replace("torch.", "")
    try:
        dt = np.dtype(dtype)
    except TypeError as exc:
        raise TypeError(f"dtype must be numpy.float32 or numpy.float64, got {dtype!r}") from exc
    if dt not in (np.float32, np.float64):
        raise TypeError(f"dtype must be numpy.float32 or numpy.float64, got {dt}")
    return dt.type


def _from_torch_tensor(obj):
    """A numpy array for a torch tensor, without importing torch."""
    tensor = obj.detach().cpu()
    if not tensor.is_complex() and tensor.is_floating_point() and tensor.element_size() == 2:
        tensor = tensor.float()  # bfloat16 has no numpy dtype
    return tensor.numpy()


def real_array(obj, what, error=TypeError):
    """`obj` as a numpy array of real numbers, not yet cast or copied.

    `obj` may be any array-like of real numbers (ints and floats of any width,
    CPU torch tensors). Strings, objects, booleans and complex numbers raise
    `error` (TypeError for inputs; load_state_dict asks for ValueError).
    Callers check the shape on this array before as_real_array copies it.
    """
    if type(obj).__module__.startswith("torch") and hasattr(obj, "detach"):
        obj = _from_torch_tensor(obj)
    try:
        array = np.asarray(obj)
    except (ValueError, TypeError) as exc:
        raise error(f"{what} must be a rectangular array of real numbers: {exc}") from exc
    if array.dtype.kind not in "iuf":
        raise error(f"{what} must hold real numbers (float or int), got dtype {array.dtype}")
    return array


def as_real_array(obj, dtype, what, error=TypeError):
    """A C-contiguous array of `dtype` holding the values of `obj` (see real_array).

    It is a copy when the dtype or layout differs; `obj` is never written to.
    """
    # asarray, not ascontiguousarray, which turns a 0-d array into shape (1,)
    return np.asarray(real_array(obj, what, error), dtype=dtype, order="C")


def check_layer_sizes(L, N, I, D, H, batch_major):
    """Refuse a layer whose sizes overflow the 32-bit ints OpenBLAS takes here.

    The kernel passes BLAS L*N rows, leading dimensions I and D*H, and, in
    batch-major layout, a row stride of L*D*H between a step's batch items.
    fastrnn._kernels.Layer.run applies the same rule.
    """
    stride = (L if batch_major else 1) * D * H
    if L * N > INT_MAX or stride > INT_MAX or I > INT_MAX:
        raise ValueError(
            f"input too large for 32-bit BLAS: L*N = {L * N} rows, input size {I}, "
            f"row stride {stride}; each must be at most {INT_MAX}")

