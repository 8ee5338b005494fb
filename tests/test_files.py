"""fastrnn.save / fastrnn.load: one .npz per model, read without pickle, checked on load."""
import json
import zipfile

import numpy as np
import pytest

import fastrnn
from fastrnn._files import CONFIG_KEY

MODELS = [
    lambda: fastrnn.RNN(3, 5, 2, nonlinearity="relu", bidirectional=True, seed=1),
    lambda: fastrnn.RNN(3, 5, bias=False, batch_first=True, dtype=np.float64, seed=2),
    lambda: fastrnn.LSTM(3, 6, 2, proj_size=2, bidirectional=True, dropout=0.25, seed=3),
    lambda: fastrnn.LSTM(4, 5, batch_first=True, dtype=np.float64, seed=4),
    lambda: fastrnn.GRU(3, 5, 3, bias=False, seed=5),
    lambda: fastrnn.GRU(2, 7, bidirectional=True, batch_first=True, seed=6),
]


@pytest.mark.parametrize("make", MODELS)
def test_round_trip_keeps_configuration_and_parameters(make, tmp_path):
    model = make()
    written = fastrnn.save(model, tmp_path / "m")
    assert written.endswith("m.npz")
    loaded = fastrnn.load(written)
    assert type(loaded) is type(model)
    assert repr(loaded) == repr(model)
    for name in model._config_names + ("batch_first", "dropout"):
        assert getattr(loaded, name) == getattr(model, name), name
    assert list(loaded.state_dict()) == list(model.state_dict())
    for name, array in model.state_dict().items():
        assert loaded.state_dict()[name].dtype == array.dtype
        np.testing.assert_array_equal(loaded.state_dict()[name], array)


def test_file_holds_no_pickle(tmp_path):
    path = fastrnn.save(fastrnn.LSTM(2, 3, seed=0), tmp_path / "m.npz")
    with np.load(path, allow_pickle=False) as archive:
        config = json.loads(str(archive[CONFIG_KEY]))
        assert all(archive[name].dtype != object for name in archive.files)
    assert config["kind"] == "LSTM" and config["hidden_size"] == 3


def _rewrite(path, out, config=None, drop=(), change=None):
    """Copy a saved model with a changed configuration or arrays."""
    with np.load(path) as archive:
        arrays = {k: archive[k] for k in archive.files if k not in drop}
    if config is not None:
        cfg = json.loads(str(arrays[CONFIG_KEY])) | config
        arrays[CONFIG_KEY] = np.array(json.dumps(cfg))
    arrays.update(change or {})
    np.savez(out, **arrays)
    return out


@pytest.mark.parametrize("config, match", [
    ({"hidden_size": 4}, "size mismatch for weight_ih_l0"),
    ({"num_layers": 2}, "has 8 parameters, the file holds 4 arrays"),
    ({"bidirectional": True}, "has 8 parameters, the file holds 4 arrays"),
    ({"bias": False}, "has 2 parameters, the file holds 4 arrays"),
    ({"num_layers": 10**9}, "has 4000000000 parameters"),
    ({"hidden_size": 10**6, "input_size": 10**6}, "size mismatch for weight_ih_l0"),
    ({"kind": "GRU"}, "size mismatch"),
    ({"kind": "Transformer"}, "kind must be one of"),
    ({"dtype": "float64"}, "has dtype float32, the configuration says float64"),
    ({"dtype": "int8"}, "dtype must be 'float32' or 'float64'"),
    ({"hidden_size": "5"}, "'hidden_size' must be a int"),
    ({"bias": 1}, "'bias' must be a bool"),
    ({"hidden_size": 0}, "not a valid LSTM: hidden_size must be at least 1"),
    ({"proj_size": 9}, r"not a valid LSTM: proj_size must be in 0..4, got 9"),
    ({"proj_size": -1}, r"proj_size must be in 0..4, got -1"),
    ({"nonlinearity": "relu", "kind": "RNN", "hidden_size": 20}, "size mismatch"),
    ({"version": 99}, "format version 99"),
    ({"format": "other"}, "does not declare format"),
])
def test_self_contradicting_files_are_refused(config, match, tmp_path):
    path = fastrnn.save(fastrnn.LSTM(3, 5, seed=0), tmp_path / "m.npz")
    bad = _rewrite(path, tmp_path / "bad.npz", config=config)
    with pytest.raises(fastrnn.ModelFileError, match=match):
        fastrnn.load(bad)


def test_wrong_shape_and_missing_config_are_refused(tmp_path):
    path = fastrnn.save(fastrnn.GRU(3, 5, seed=0), tmp_path / "m.npz")
    bad = _rewrite(path, tmp_path / "shape.npz", change={"weight_hh_l0": np.zeros((15, 4), np.float32)})
    with pytest.raises(fastrnn.ModelFileError, match=r"weight_hh_l0: expected shape \(15, 5\), got \(15, 4\)"):
        fastrnn.load(bad)
    bare = _rewrite(path, tmp_path / "bare.npz", drop=(CONFIG_KEY,))
    with pytest.raises(fastrnn.ModelFileError, match="not a fastrnn model file"):
        fastrnn.load(bare)


def test_object_arrays_are_refused_without_unpickling(tmp_path):
    path = fastrnn.save(fastrnn.RNN(2, 3, seed=0), tmp_path / "m.npz")
    bad = _rewrite(path, tmp_path / "obj.npz", change={"weight_ih_l0": np.array([{}], dtype=object)})
    with pytest.raises(fastrnn.ModelFileError, match="pickle"):
        fastrnn.load(bad)


def test_files_of_other_kinds_are_refused(tmp_path):
    with pytest.raises(FileNotFoundError):
        fastrnn.load(tmp_path / "absent.npz")
    text = tmp_path / "text.npz"
    text.write_text("not an archive")
    with pytest.raises(fastrnn.ModelFileError, match="not a fastrnn model file"):
        fastrnn.load(text)
    single = tmp_path / "one.npy"
    np.save(single, np.zeros(3))
    with pytest.raises(fastrnn.ModelFileError, match="holds one array"):
        fastrnn.load(single)
    broken = tmp_path / "broken.npz"
    with zipfile.ZipFile(broken, "w") as zf:
        zf.writestr(CONFIG_KEY + ".npy", b"garbage")
    with pytest.raises(fastrnn.ModelFileError):
        fastrnn.load(broken)
    with pytest.raises(TypeError, match="expects a fastrnn.RNN, LSTM or GRU"):
        fastrnn.save(object(), tmp_path / "x")


def test_loaded_model_computes_what_the_saved_one_does(tmp_path):
    model = fastrnn.RNN(3, 4, 2, seed=0)
    x = np.random.default_rng(0).standard_normal((5, 2, 3)).astype(np.float32)
    loaded = fastrnn.load(fastrnn.save(model, tmp_path / "m"))
    for a, b in zip(model(x), loaded(x)):
        np.testing.assert_array_equal(a, b)
