"""Model files: fastrnn.save and fastrnn.load.

A model file is one .npz archive: the parameters under torch's names, and the
configuration as a JSON string under the key CONFIG_KEY. Nothing in it is
pickled, and it is read with allow_pickle=False, so a file can hold only
arrays and text. fastrnn.load checks the configuration against the arrays and
refuses a file that contradicts itself.
"""
from __future__ import annotations

import json
import os
import zipfile
from typing import Union

import numpy as np

from fastrnn._base import RNNBase, parameter_kinds, parameter_name, parameter_names
from fastrnn._kinds import CLASSES as _KINDS, GATES
from fastrnn.gru import GRU
from fastrnn.lstm import LSTM
from fastrnn.rnn import RNN

__all__ = ["save", "load", "ModelFileError"]

FORMAT = "fastrnn-model"
FORMAT_VERSION = 1
CONFIG_KEY = "__fastrnn_config__"
CLASSES = {cls.__name__: cls for cls in _KINDS.values()}  # by the name the file records

# Configuration entries: name -> (type, required); the class decides the rest.
_FIELDS = {
    "input_size": int, "hidden_size": int, "num_layers": int, "bias": bool,
    "batch_first": bool, "dropout": float, "bidirectional": bool, "proj_size": int,
    "dtype": str,
}


class ModelFileError(ValueError):
    """A file is not a fastrnn model file, or its contents contradict each other."""


def save(model: RNNBase, path: Union[str, "os.PathLike[str]"]) -> str:
    """Write `model` (fastrnn.RNN, LSTM or GRU) to `path` as one .npz file.

    numpy adds ".npz" to a path without it; the name written is returned.
    """
    cls = type(model)
    if cls not in CLASSES.values():
        raise TypeError(f"fastrnn.save expects a fastrnn.RNN, LSTM or GRU, got {cls.__name__}")
    config = dict(format=FORMAT, version=FORMAT_VERSION, kind=cls.__name__,
                  **{name: getattr(model, name) for name in _FIELDS if name != "dtype"},
                  dtype=np.dtype(model.dtype).name)
    if cls is RNN:
        config["nonlinearity"] = model.nonlinearity
    path = os.fspath(path)
    if not path.endswith(".npz"):
        path += ".npz"
    np.savez(path, **{CONFIG_KEY: np.array(json.dumps(config))}, **model.state_dict())
    return path


def _entry(archive, name, path):
    """One array of the archive; anything else in it (an object array, which
    allow_pickle=False refuses, or a member that is not .npy data) is an error."""
    try:
        value = archive[name]
    except ValueError as exc:
        raise ModelFileError(f"{path}: entry {name!r}: {exc}") from None
    if not isinstance(value, np.ndarray):
        raise ModelFileError(f"{path}: entry {name!r} is not a numpy array")
    return value


def _read_config(archive, path):
    if CONFIG_KEY not in archive.files:
        raise ModelFileError(f"{path}: not a fastrnn model file (no {CONFIG_KEY} entry); "
                             "write one with fastrnn.save")
    raw = _entry(archive, CONFIG_KEY, path)
    if raw.dtype.kind != "U" or raw.ndim != 0:
        raise ModelFileError(f"{path}: {CONFIG_KEY} must be a text scalar, got an array of "
                             f"dtype {raw.dtype} and shape {raw.shape}")
    try:
        config = json.loads(str(raw))
    except ValueError as exc:
        raise ModelFileError(f"{path}: {CONFIG_KEY} is not valid JSON: {exc}") from None
    if not isinstance(config, dict) or config.get("format") != FORMAT:
        raise ModelFileError(f"{path}: the configuration does not declare format {FORMAT!r}")
    if config.get("version") != FORMAT_VERSION:
        raise ModelFileError(f"{path}: format version {config.get('version')!r} is not one this "
                             f"fastrnn reads (it reads version {FORMAT_VERSION})")
    kind = config.get("kind")
    if kind not in CLASSES:
        raise ModelFileError(f"{path}: kind must be one of {sorted(CLASSES)}, got {kind!r}")
    for name, typ in _FIELDS.items():
        value = config.get(name)
        ok = (isinstance(value, (int, float)) and not isinstance(value, bool) if typ is float
              else isinstance(value, typ) and (typ is bool or not isinstance(value, bool)))
        if not ok:
            raise ModelFileError(f"{path}: configuration entry {name!r} must be a "
                                 f"{typ.__name__}, got {value!r}")
    if kind == "RNN" and config.get("nonlinearity") not in ("tanh", "relu"):
        raise ModelFileError(f"{path}: an RNN needs nonlinearity 'tanh' or 'relu', "
                             f"got {config.get('nonlinearity')!r}")
    for name in ("input_size", "hidden_size", "num_layers"):
        if config[name] < 1:
            raise ModelFileError(f"{path}: the configuration is not a valid {kind}: {name} "
                                 f"must be at least 1, got {config[name]}")
    limit = config["hidden_size"] - 1 if kind == "LSTM" else 0
    if not 0 <= config["proj_size"] <= limit:
        raise ModelFileError(f"{path}: the configuration is not a valid {kind}: proj_size "
                             f"must be in 0..{limit}, got {config['proj_size']}")
    if config["dtype"] not in ("float32", "float64"):
        raise ModelFileError(f"{path}: dtype must be 'float32' or 'float64', "
                             f"got {config['dtype']!r}")
    return config


def load(path: Union[str, "os.PathLike[str]"]) -> Union[RNN, LSTM, GRU]:
    """Read a model written by fastrnn.save: a fastrnn.RNN, LSTM or GRU.

    Raises FileNotFoundError for a missing file and ModelFileError (a
    ValueError) for a file that is not a fastrnn model file or whose
    configuration and arrays disagree.
    """
    path = os.fspath(path)
    try:
        archive = np.load(path, allow_pickle=False)
    except (ValueError, OSError, EOFError, zipfile.BadZipFile) as exc:
        if isinstance(exc, FileNotFoundError) or isinstance(exc, IsADirectoryError):
            raise
        raise ModelFileError(f"{path}: not a fastrnn model file (.npz): {exc}") from None
    if not isinstance(archive, np.lib.npyio.NpzFile):
        raise ModelFileError(f"{path}: not a fastrnn model file: it holds one array, not a "
                             ".npz archive")
    with archive:
        config = _read_config(archive, path)
        kind = config["kind"]
        present = [name for name in archive.files if name != CONFIG_KEY]
        D = 2 if config["bidirectional"] else 1
        per_direction = len(parameter_kinds(config["bias"], config["proj_size"]))
        count = config["num_layers"] * D * per_direction  # before any list of that size
        if count != len(present):
            raise ModelFileError(
                f"{path}: the configuration ({kind}, num_layers={config['num_layers']}, "
                f"bidirectional={config['bidirectional']}, bias={config['bias']}, "
                f"proj_size={config['proj_size']}) has {count} parameters, the file holds "
                f"{len(present)} arrays")
        names = parameter_names(config["num_layers"], config["bidirectional"], config["bias"],
                                config["proj_size"])
        missing = [name for name in names if name not in present]
        unexpected = [name for name in present if name not in names]
        if missing or unexpected:
            raise ModelFileError(
                f"{path}: the arrays do not match the configuration ({kind}, "
                f"num_layers={config['num_layers']}, bidirectional={config['bidirectional']}, "
                f"bias={config['bias']}, proj_size={config['proj_size']}): "
                f"missing {missing}, unexpected {unexpected}")
        state = {name: _entry(archive, name, path) for name in names}
    # Shapes and dtypes against the configuration before the model is built:
    # the model's buffers are sized by the configuration, the arrays by the file.
    shapes = _expected_shapes(config)
    for name, array in state.items():
        if array.dtype != np.dtype(config["dtype"]):
            raise ModelFileError(f"{path}: {name} has dtype {array.dtype}, the configuration "
                                 f"says {config['dtype']}")
        if array.shape != shapes[name]:
            raise ModelFileError(
                f"{path}: size mismatch for {name}: expected shape {shapes[name]}, got "
                f"{array.shape} (the configuration says input_size={config['input_size']}, "
                f"hidden_size={config['hidden_size']}, {GATES[kind.lower()]} gate(s))")
    kwargs = {name: config[name] for name in _FIELDS}
    if kind == "RNN":
        kwargs["nonlinearity"] = config["nonlinearity"]
    try:
        model = CLASSES[kind](**kwargs)
    except (TypeError, ValueError) as exc:
        raise ModelFileError(f"{path}: the configuration is not a valid {kind}: {exc}") from None
    model.load_state_dict(state)  # shapes and dtypes checked above
    return model


def _expected_shapes(config):
    """{parameter name: shape} that the configuration implies (torch's shapes)."""
    G, H, I = GATES[config["kind"].lower()], config["hidden_size"], config["input_size"]
    P = config["proj_size"] or H
    D = 2 if config["bidirectional"] else 1
    shapes = {}
    for layer in range(config["num_layers"]):
        in_k = I if layer == 0 else D * P
        per_kind = dict(weight_ih=(G * H, in_k), weight_hh=(G * H, P), bias_ih=(G * H,),
                        bias_hh=(G * H,), weight_hr=(P, H))
        for direction in range(D):
            for kind in parameter_kinds(config["bias"], config["proj_size"]):
                shapes[parameter_name(kind, layer, direction)] = per_kind[kind]
    return shapes
