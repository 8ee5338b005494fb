"""The model classes by kind name, and each kind's gate count.

The one table that the command line, the benchmark, the conformance suites
and model files share.
"""
from fastrnn._base import GATES as _MODE_GATES
from fastrnn.gru import GRU
from fastrnn.lstm import LSTM
from fastrnn.rnn import RNN

CLASSES = {"rnn": RNN, "lstm": LSTM, "gru": GRU}

# Rows of weight_ih per hidden unit: 1 (RNN), 4 (LSTM), 3 (GRU).
GATES = {"rnn": _MODE_GATES["RNN_TANH"], "lstm": _MODE_GATES["LSTM"], "gru": _MODE_GATES["GRU"]}
