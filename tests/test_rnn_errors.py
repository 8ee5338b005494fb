"""Bad input to fastrnn.RNN: a clear exception, raised before any kernel runs.

Messages are checked with `match=` for both what was expected and what came.
Tests named *_torch_* compare exception classes with torch and skip without it.
"""
import numpy as np
import pytest

import fastrnn
from fastrnn._arrays import ShapeError


def _model(**kwargs):
    config = dict(input_size=3, hidden_size=4, num_layers=2, seed=0) | kwargs
    return fastrnn.RNN(**config)


# ============================================================== constructor
@pytest.mark.parametrize("name", ["input_size", "hidden_size", "num_layers"])
@pytest.mark.parametrize("value", [0, -1, -7])
def test_non_positive_sizes(name, value):
    kwargs = dict(input_size=3, hidden_size=4) | {name: value}
    with pytest.raises(ValueError, match=rf"{name} must be greater than zero, got {value}"):
        fastrnn.RNN(**kwargs)


@pytest.mark.parametrize("name", ["input_size", "hidden_size", "num_layers"])
@pytest.mark.parametrize("value, type_name", [
    (2.0, "float"), (2.5, "float"), ("3", "str"), (None, "NoneType"), (True, "bool"),
    (np.float64(2), "float64"), ([3], "list"), (3 + 0j, "complex"), (object(), "object"),
])
def test_non_int_sizes(name, value, type_name):
    kwargs = dict(input_size=3, hidden_size=4) | {name: value}
    with pytest.raises(TypeError, match=rf"{name} should be of type int, got: {type_name}"):
        fastrnn.RNN(**kwargs)


@pytest.mark.parametrize("cls", [fastrnn.RNN, fastrnn.LSTM, fastrnn.GRU])
@pytest.mark.parametrize("name", ["bias", "batch_first"])
@pytest.mark.parametrize("value, type_name", [("yes", "str"), (1, "int"), (None, "NoneType")])
def test_non_bool_flags_are_refused_as_torch_does(cls, name, value, type_name):
    with pytest.raises(TypeError, match=rf"{name} should be of type bool, got: {type_name}"):
        cls(3, 4, **{name: value})


def test_non_bool_flags_like_torch():
    torch = pytest.importorskip("torch")
    for name in ("bias", "batch_first"):
        with pytest.raises(TypeError) as ours:
            fastrnn.GRU(3, 4, **{name: "yes"})
        with pytest.raises(TypeError) as theirs:
            torch.nn.GRU(3, 4, **{name: "yes"})
        assert str(ours.value) == str(theirs.value)


def test_numpy_int_sizes_are_ints():
    model = fastrnn.RNN(np.int64(3), np.int32(4), np.uint8(2))
    assert (model.input_size, model.hidden_size, model.num_layers) == (3, 4, 2)
    assert all(type(v) is int for v in (model.input_size, model.hidden_size, model.num_layers))


@pytest.mark.parametrize("value", ["sigmoid", "TANH", "Relu", "", None, 1])
def test_unknown_nonlinearity(value):
    with pytest.raises(ValueError, match=rf"Unknown nonlinearity '{value}'. Select from 'tanh' or 'relu'"):
        fastrnn.RNN(3, 4, nonlinearity=value)


@pytest.mark.parametrize("value", [-0.1, 1.0001, 2, float("nan"), float("inf"), -float("inf"),
                                   "0.5", None, True, [0.5]])
def test_dropout_outside_unit_interval(value):
    with pytest.raises(ValueError, match=r"dropout should be a number in range \[0, 1\].*got "
                       + _escape(repr(value))):
        fastrnn.RNN(3, 4, num_layers=2, dropout=value)


def test_complex_dropout_is_refused_clearly():
    with pytest.raises((TypeError, ValueError), match=r"dropout.*0\.5j"):
        fastrnn.RNN(3, 4, num_layers=2, dropout=0.5j)


@pytest.mark.parametrize("value", [0, 0.0, 0.5, 1, 1.0, np.float32(0.25)])
def test_dropout_inside_unit_interval(value):
    assert fastrnn.RNN(3, 4, num_layers=2, dropout=value).dropout == value


@pytest.mark.parametrize("dtype", [np.float16, np.int32, np.complex64, "bogus", "float16"])
def test_bad_model_dtype(dtype):
    with pytest.raises(TypeError, match=r"dtype must be numpy.float32 or numpy.float64, got"):
        fastrnn.RNN(3, 4, dtype=dtype)


@pytest.mark.parametrize("dtype, expected", [(np.float32, np.float32), ("float32", np.float32),
                                             (np.dtype("float64"), np.float64), ("f8", np.float64)])
def test_model_dtype_spellings(dtype, expected):
    assert fastrnn.RNN(3, 4, dtype=dtype).dtype == expected


def test_dtype_none_is_not_silently_float64():
    """torch.nn.RNN(dtype=None) means the default dtype, float32; numpy.dtype(None) is float64."""
    try:
        model = fastrnn.RNN(3, 4, dtype=None)
    except TypeError:
        return
    assert model.dtype == np.float32


def _escape(text):
    import re

    return re.escape(text)


@pytest.mark.parametrize("kwargs", [
    dict(input_size=0), dict(hidden_size=0), dict(num_layers=0), dict(hidden_size=-3),
    dict(input_size=2.0), dict(hidden_size="3"), dict(num_layers=1.5),
    dict(nonlinearity="sigmoid"), dict(nonlinearity=None),
    dict(dropout=-0.1), dict(dropout=1.5), dict(dropout=float("nan")), dict(dropout="0.5"),
    dict(dropout=True),
], ids=str)
def test_constructor_error_classes_equal_torch(kwargs):
    torch = pytest.importorskip("torch")
    full = dict(input_size=3, hidden_size=4, num_layers=2) | kwargs
    with pytest.raises(Exception) as torch_error:
        torch.nn.RNN(**full)
    with pytest.raises(type(torch_error.value)):
        fastrnn.RNN(**full)


# ============================================================== forward: shapes
@pytest.mark.parametrize("shape", [(), (3,), (1, 2, 2, 3), (2, 1, 1, 5, 3)])
def test_wrong_rank(shape, no_kernel):
    with pytest.raises(ValueError, match=rf"Expected input to be 2D or 3D, got {len(shape)}D"):
        _model()(np.zeros(shape, np.float32))
    assert no_kernel() == 0


@pytest.mark.parametrize("batch_first", [False, True])
@pytest.mark.parametrize("shape", [(5, 2, 4), (5, 2, 1), (5, 4), (2, 2, 30)])
def test_wrong_feature_size(shape, batch_first, no_kernel):
    with pytest.raises(ShapeError, match=rf"input_size. Expected 3, got {shape[-1]}") as error:
        _model(batch_first=batch_first)(np.zeros(shape, np.float32))
    assert isinstance(error.value, ValueError) and isinstance(error.value, RuntimeError)
    assert no_kernel() == 0


@pytest.mark.parametrize("x_shape, hx_shape, shown_expected", [
    ((5, 2, 3), (4, 3, 4), "(4, 2, 4)"),     # batch size
    ((5, 2, 3), (4, 2, 5), "(4, 2, 4)"),     # hidden size
    ((5, 2, 3), (2, 2, 4), "(4, 2, 4)"),     # layers * directions
    ((5, 2, 3), (8, 2, 4), "(4, 2, 4)"),
    ((5, 3), (4, 5), "(4, 4)"),              # unbatched
    ((5, 3), (3, 4), "(4, 4)"),
    ((1, 1, 3), (4, 1, 1), "(4, 1, 4)"),
    ((1, 0, 3), (4, 1, 4), "(4, 0, 4)"),     # empty batch, hx for one
])
def test_wrong_hx_shape(x_shape, hx_shape, shown_expected, no_kernel):
    model = _model(bidirectional=True)
    got = list(hx_shape)
    with pytest.raises(ShapeError, match=_escape(f"Expected hidden size {shown_expected}, got {got}")) \
            as error:
        model(np.zeros(x_shape, np.float32), np.zeros(hx_shape, np.float32))
    assert isinstance(error.value, ValueError) and isinstance(error.value, RuntimeError)
    assert no_kernel() == 0


def test_wrong_hx_shape_batch_first(no_kernel):
    """hx is never batch-first: (N, layers, H) is refused for a batch_first model."""
    model = _model(batch_first=True)
    with pytest.raises(ShapeError, match=_escape("Expected hidden size (2, 3, 4), got [3, 2, 4]")):
        model(np.zeros((3, 5, 3), np.float32), np.zeros((3, 2, 4), np.float32))
    assert no_kernel() == 0


@pytest.mark.parametrize("x_shape, hx_shape, message", [
    ((5, 2, 3), (2, 4), "For batched 3-D input, hx should also be 3-D but got 2-D"),
    ((5, 2, 3), (2, 2, 1, 4), "For batched 3-D input, hx should also be 3-D but got 4-D"),
    ((5, 2, 3), (4,), "For batched 3-D input, hx should also be 3-D but got 1-D"),
    ((5, 3), (2, 1, 4), "For unbatched 2-D input, hx should also be 2-D but got 3-D"),
    ((5, 3), (4,), "For unbatched 2-D input, hx should also be 2-D but got 1-D"),
    ((5, 3), (), "For unbatched 2-D input, hx should also be 2-D but got 0-D"),
])
def test_hx_rank_mismatch(x_shape, hx_shape, message, no_kernel):
    with pytest.raises(ShapeError, match=message) as error:
        _model()(np.zeros(x_shape, np.float32), np.zeros(hx_shape, np.float32))
    assert isinstance(error.value, ValueError) and isinstance(error.value, RuntimeError)
    assert no_kernel() == 0


@pytest.mark.parametrize("batch_first, shape", [
    (False, (0, 2, 3)), (True, (2, 0, 3)), (False, (0, 3)), (True, (0, 3)), (False, (0, 0, 3)),
])
def test_zero_length_sequence(batch_first, shape, no_kernel):
    with pytest.raises(ShapeError, match=_escape(
            f"Expected sequence length to be larger than 0 in RNN, got input of shape {shape}")) \
            as error:
        _model(batch_first=batch_first)(np.zeros(shape, np.float32))
    assert isinstance(error.value, ValueError) and isinstance(error.value, RuntimeError)
    assert no_kernel() == 0


# ============================================================== forward: types
BAD_VALUES = {
    "string": "abc",
    "strings": [["a", "b", "c"]] * 5,
    "bytes": b"abc",
    "object": object(),
    "none_inside": [[1.0, None, 2.0]] * 5,
    "dict": {"a": 1},
    "object_array": np.array([[1.0, 2.0, 3.0]] * 5, dtype=object),
    "complex": np.zeros((5, 3), np.complex128),
    "complex64": np.zeros((5, 3), np.complex64),
    "python_complex": [[1 + 1j, 2.0, 3.0]] * 5,
    "bool": np.zeros((5, 3), bool),
    "ragged": [[1.0, 2.0, 3.0], [1.0, 2.0]],
    "datetime": np.zeros((5, 3), "datetime64[s]"),
}


@pytest.mark.parametrize("kind", list(BAD_VALUES))
def test_bad_input_types(kind, no_kernel):
    with pytest.raises(TypeError, match=r"input must .*(real numbers|rectangular)") as error:
        _model()(BAD_VALUES[kind])
    if hasattr(BAD_VALUES[kind], "dtype"):
        assert str(BAD_VALUES[kind].dtype) in str(error.value)  # names what came
    assert no_kernel() == 0


@pytest.mark.parametrize("kind", list(BAD_VALUES))
def test_bad_hx_types(kind, no_kernel):
    bad = BAD_VALUES[kind]
    if isinstance(bad, np.ndarray):
        bad = np.zeros((2, 4), bad.dtype)
    with pytest.raises(TypeError, match=r"hx must .*(real numbers|rectangular)"):
        _model()(np.zeros((5, 3), np.float32), bad)
    assert no_kernel() == 0


def test_complex_torch_tensors():
    torch = pytest.importorskip("torch")
    model = _model()
    with pytest.raises(TypeError, match="input must hold real numbers.*complex64"):
        model(torch.zeros(5, 2, 3, dtype=torch.complex64))
    with pytest.raises(TypeError, match="hx must hold real numbers.*complex128"):
        model(torch.zeros(5, 2, 3), torch.zeros(2, 2, 4, dtype=torch.complex128))


BAD_FORWARD = {
    "rank1": ((3,), None),
    "rank4": ((1, 2, 2, 3), None),
    "features": ((5, 2, 4), None),
    "features_unbatched": ((5, 4), None),
    "hx_batch": ((5, 2, 3), (2, 3, 4)),
    "hx_hidden": ((5, 2, 3), (2, 2, 5)),
    "hx_layers": ((5, 2, 3), (1, 2, 4)),
    "hx_rank_batched": ((5, 2, 3), (2, 4)),
    "hx_rank_unbatched": ((5, 3), (2, 1, 4)),
    "hx_unbatched": ((5, 3), (3, 4)),
    "zero_length": ((0, 2, 3), None),
    "zero_length_unbatched": ((0, 3), None),
}


@pytest.mark.parametrize("kind", list(BAD_FORWARD))
def test_forward_error_classes_equal_torch(kind):
    """Code that catches torch's exception keeps catching fastrnn's."""
    torch = pytest.importorskip("torch")
    x_shape, hx_shape = BAD_FORWARD[kind]
    x = np.zeros(x_shape, np.float32)
    hx = None if hx_shape is None else np.zeros(hx_shape, np.float32)
    module = torch.nn.RNN(3, 4, 2)
    with pytest.raises(Exception) as torch_error:
        module(torch.from_numpy(x), None if hx is None else torch.from_numpy(hx))
    with pytest.raises(type(torch_error.value)):
        fastrnn.RNN.from_torch(module)(x, hx)


# ============================================================== state dict
def _state(**kwargs):
    return _model(**kwargs).state_dict()


def _assert_unchanged(model, before):
    after = model.state_dict()
    assert list(after) == list(before)
    for name in before:
        np.testing.assert_array_equal(after[name], before[name], err_msg=name)


@pytest.mark.parametrize("name", ["bias_ih_l0", "bias_hh_l1"])
def test_scalar_is_not_a_one_element_vector(name):
    """A 0-d value for a (1,) parameter is a size mismatch, as in torch."""
    model = fastrnn.RNN(3, 1, num_layers=2, seed=0)
    before = model.state_dict()
    state = fastrnn.RNN(3, 1, num_layers=2, seed=1).state_dict()
    state[name] = np.float32(0.5)
    with pytest.raises(ValueError, match=_escape(
            f"size mismatch for {name}: expected shape (1,), got ()")):
        model.load_state_dict(state)
    _assert_unchanged(model, before)


def test_scalar_is_not_a_one_element_vector_torch():
    torch = pytest.importorskip("torch")
    module = torch.nn.RNN(3, 1)
    state = module.state_dict()
    state["bias_ih_l0"] = torch.tensor(0.5)
    with pytest.raises(RuntimeError, match="size mismatch for bias_ih_l0"):
        module.load_state_dict(state)
    with pytest.raises(ValueError, match="size mismatch for bias_ih_l0"):
        fastrnn.RNN(3, 1).load_state_dict(state)


def test_missing_key():
    model = _model()
    before = model.state_dict()
    state = _state(seed=1)
    del state["bias_hh_l1"]
    with pytest.raises(KeyError, match=r"missing key\(s\): 'bias_hh_l1'") as error:
        model.load_state_dict(state)
    assert isinstance(error.value, RuntimeError)  # torch raises RuntimeError
    _assert_unchanged(model, before)


def test_unexpected_key():
    model = _model()
    before = model.state_dict()
    state = _state(seed=1)
    state["weight_ih_l2"] = np.zeros((4, 4))
    with pytest.raises(KeyError, match=r"unexpected key\(s\): 'weight_ih_l2'"):
        model.load_state_dict(state)
    _assert_unchanged(model, before)


def test_missing_and_unexpected_keys_both_named():
    model = _model(bias=False)
    state = _state(seed=1)  # has biases the bias-free model lacks
    del state["weight_hh_l0"]
    with pytest.raises(KeyError, match=r"missing key\(s\): 'weight_hh_l0'.*"
                                       r"unexpected key\(s\): 'bias_ih_l0', 'bias_hh_l0'"):
        model.load_state_dict(state)


def test_bidirectional_state_into_unidirectional_model():
    model = _model()
    with pytest.raises(KeyError, match="unexpected key.*'weight_ih_l0_reverse'"):
        model.load_state_dict(_state(bidirectional=True))


@pytest.mark.parametrize("name, shape, expected", [
    ("weight_hh_l0", (4, 5), (4, 4)),
    ("weight_ih_l0", (3, 4), (4, 3)),
    ("weight_ih_l1", (4, 3), (4, 4)),
    ("bias_ih_l1", (5,), (4,)),
    ("bias_hh_l0", (1, 4), (4,)),
    ("bias_hh_l0", (), (4,)),
])
def test_wrong_shape(name, shape, expected):
    model = _model()
    before = model.state_dict()
    state = _state(seed=1)
    state[name] = np.ones(shape)
    with pytest.raises(ValueError, match=_escape(
            f"size mismatch for {name}: expected shape {expected}, got {shape}")):
        model.load_state_dict(state)
    _assert_unchanged(model, before)


@pytest.mark.parametrize("value", ["abc", None, object(), [["a"] * 4] * 4, np.zeros((4, 4), complex),
                                   np.zeros((4, 4), bool), [[1.0, 2.0], [3.0]]])
def test_non_numeric_value(value):
    model = _model()
    before = model.state_dict()
    state = _state(seed=1)
    state["weight_hh_l1"] = value  # the last-but-two parameter: earlier ones are valid
    with pytest.raises(ValueError, match="weight_hh_l1 must"):
        model.load_state_dict(state)
    _assert_unchanged(model, before)


def test_non_strict_still_checks_shapes_and_values():
    model = _model()
    before = model.state_dict()
    with pytest.raises(ValueError, match="size mismatch for weight_hh_l0"):
        model.load_state_dict({"weight_ih_l0": np.ones((4, 3)), "weight_hh_l0": np.ones(3)},
                              strict=False)
    _assert_unchanged(model, before)
    with pytest.raises(ValueError, match="bias_ih_l0 must"):
        model.load_state_dict({"bias_ih_l0": "nope"}, strict=False)
    _assert_unchanged(model, before)


@pytest.mark.parametrize("value", [None, [("weight_ih_l0", np.zeros((4, 3)))], "state", 3])
def test_state_dict_not_a_mapping(value):
    model = _model()
    before = model.state_dict()
    with pytest.raises(TypeError, match=f"state_dict must be a mapping.*got {type(value).__name__}"):
        model.load_state_dict(value)
    _assert_unchanged(model, before)


def test_failed_load_keeps_a_working_model():
    model = _model(dtype=np.float64)
    x = np.random.default_rng(0).standard_normal((4, 2, 3))
    expected = model(x)
    state = _state(seed=9)
    state["bias_hh_l1"] = np.ones(7)
    with pytest.raises(ValueError):
        model.load_state_dict(state)
    for a, b in zip(model(x), expected):
        np.testing.assert_array_equal(a, b)


def test_too_large_input_is_refused_before_any_copy():
    """A broadcast view of 2**31 rows: refused by the 32-bit size rule, not by a
    failed 24 GiB allocation while casting it."""
    model = fastrnn.RNN(3, 4)
    huge = np.broadcast_to(np.float64(1), (2**31, 1, 3))  # float64: a cast would copy
    with pytest.raises(ValueError, match="too large for 32-bit BLAS"):
        model(huge)
