"""Model.to(dtype), .float() and .double(): the parameters converted in
place and the model returned, as torch's Module methods."""
import numpy as np
import pytest

import fastrnn
import reference

CLASSES = [fastrnn.RNN, fastrnn.LSTM, fastrnn.GRU]


@pytest.mark.parametrize("cls", CLASSES)
def test_double_then_float_converts_in_place(cls):
    kwargs = dict(proj_size=3) if cls is fastrnn.LSTM else {}
    model = cls(4, 6, num_layers=2, bidirectional=True, batch_first=True, seed=1, **kwargs)
    x = np.random.default_rng(2).standard_normal((3, 5, 4))
    state32 = model.state_dict()
    out32 = model(x.astype(np.float32))[0]
    assert model.double() is model
    assert model.dtype is np.float64
    assert all(v.dtype == np.float64 for v in model.state_dict().values())
    assert model.weight_hh_l1_reverse.dtype == np.float64
    for name, value in model.state_dict().items():
        np.testing.assert_array_equal(value, state32[name].astype(np.float64))
    out64 = model(x)[0]
    assert out64.dtype == np.float64
    reference.assert_close(out32, out64, np.float32, "float32 against the float64 model")
    assert model.float() is model and model.dtype is np.float32
    np.testing.assert_array_equal(model(x.astype(np.float32))[0], out32)
    assert repr(model).startswith(cls.__name__)


@pytest.mark.parametrize("args, kwargs, dtype", [
    (("float64",), {}, np.float64),
    ((np.float32,), {}, np.float32),
    (("cpu", np.float64), {}, np.float64),
    ((), dict(dtype="float64", device="cpu", non_blocking=False), np.float64),
    (("cpu",), {}, np.float32),
])
def test_to_takes_torchs_forms(args, kwargs, dtype):
    model = fastrnn.GRU(3, 4, seed=0)
    assert model.to(*args, **kwargs) is model
    assert model.dtype is dtype and model.weight_ih_l0.dtype == dtype


def test_to_refuses_other_devices_and_dtypes():
    model = fastrnn.RNN(3, 4)
    with pytest.raises(ValueError, match="device must be None or 'cpu', got 'cuda'"):
        model.to("cuda")
    with pytest.raises(TypeError, match="dtype must be numpy.float32 or numpy.float64, got float16"):
        model.to(np.float16)
    with pytest.raises(TypeError, match="unexpected keyword argument 'memory_format'"):
        model.to(memory_format=None)
    assert model.dtype is np.float32


def test_torch_dtypes_and_devices():
    torch = pytest.importorskip("torch")
    model = fastrnn.LSTM(3, 4, seed=0)
    assert model.to(torch.float64).dtype is np.float64
    assert model.to(torch.device("cpu"), torch.float32).dtype is np.float32
    tm = torch.nn.LSTM(3, 4).double()
    assert fastrnn.LSTM.from_torch(tm).float().dtype is np.float32
