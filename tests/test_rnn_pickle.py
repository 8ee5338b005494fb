"""Copies of a model (pickle, copy, deepcopy) are whole models of their own,
for fastrnn.RNN, LSTM and GRU."""
import copy
import pickle

import numpy as np
import pytest

import fastrnn

CLONES = [lambda m: pickle.loads(pickle.dumps(m)), copy.copy, copy.deepcopy]
CLONE_IDS = ["pickle", "copy", "deepcopy"]

MODELS = {
    "rnn": lambda: fastrnn.RNN(3, 5, num_layers=2, nonlinearity="relu", bidirectional=True,
                               batch_first=True, dropout=0.25, dtype=np.float64, seed=1),
    "lstm": lambda: fastrnn.LSTM(3, 5, num_layers=2, bidirectional=True, batch_first=True,
                                 dropout=0.25, dtype=np.float64, seed=1),
    "lstm_proj": lambda: fastrnn.LSTM(3, 5, num_layers=2, bias=False, bidirectional=True,
                                      proj_size=2, dtype=np.float32, seed=1),
    "gru": lambda: fastrnn.GRU(3, 5, num_layers=3, bidirectional=True, batch_first=True,
                               dropout=0.5, dtype=np.float64, seed=1),
}


def _arrays(result):
    output, final = result
    return [output] + (list(final) if isinstance(final, tuple) else [final])


@pytest.mark.parametrize("clone", CLONES, ids=CLONE_IDS)
@pytest.mark.parametrize("kind", list(MODELS))
def test_copies_compute_the_same_and_stay_independent(kind, clone):
    model = MODELS[kind]()
    twin = clone(model)
    assert type(twin) is type(model)
    assert repr(twin) == repr(model) and twin.dtype is model.dtype
    for name in ("input_size", "hidden_size", "num_layers", "bias", "batch_first", "dropout",
                 "bidirectional", "proj_size", "mode"):
        assert getattr(twin, name) == getattr(model, name), name
    assert list(twin.state_dict()) == list(model.state_dict())
    batch_first = model.batch_first
    x = np.random.default_rng(2).standard_normal((2, 4, 3) if batch_first else (4, 2, 3))
    for a, b in zip(_arrays(model(x)), _arrays(twin(x))):
        assert np.array_equal(a, b)
    # The copy's parameters are still the arrays its forward reads ...
    twin.weight_hh_l1_reverse[...] = 0
    assert not np.array_equal(twin(x)[0], model(x)[0])
    # ... and not the original's.
    assert np.any(model.weight_hh_l1_reverse != 0)
