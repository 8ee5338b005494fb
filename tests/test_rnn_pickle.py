"""Copies of a model (pickle, copy, deepcopy) are whole models of their own."""
import copy
import pickle

import numpy as np
import pytest

import fastrnn


@pytest.mark.parametrize("clone", [
    lambda m: pickle.loads(pickle.dumps(m)), copy.copy, copy.deepcopy])
def test_copies_compute_the_same_and_stay_independent(clone):
    model = fastrnn.RNN(3, 5, num_layers=2, bidirectional=True, batch_first=True,
                        dropout=0.25, dtype=np.float64, seed=1)
    twin = clone(model)
    assert repr(twin) == repr(model) and twin.dtype is np.float64
    x = np.random.default_rng(2).standard_normal((2, 4, 3))
    for a, b in zip(model(x), twin(x)):
        assert np.array_equal(a, b)
    # The copy's parameters are still the arrays its forward reads ...
    twin.weight_hh_l1_reverse[...] = 0
    assert not np.array_equal(twin(x)[0], model(x)[0])
    # ... and not the original's.
    assert np.any(model.weight_hh_l1_reverse != 0)
