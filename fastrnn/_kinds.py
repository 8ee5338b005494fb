"""Every recurrent kind in one table: its name, torch's modes, its ONNX op, its
class and its gate count. The models, the command line, the benchmark, the
conformance suites, model files and the ONNX reader and writer all read these.

    kind    modes (torch's RNNBase.mode)   ONNX op   class          gates
    "rnn"   "RNN_TANH", "RNN_RELU"         RNN       fastrnn.RNN    1
    "lstm"  "LSTM"                         LSTM      fastrnn.LSTM   4
    "gru"   "GRU"                          GRU       fastrnn.GRU    3

Gates: the blocks of rows of weight_ih, weight_hh and each bias per hidden unit.
The kernels number the kinds in their own enum (fastrnn._kernels.KINDS).
"""
from typing import Any

_TABLE = (
    # kind, modes, ONNX op, gates
    ("rnn", ("RNN_TANH", "RNN_RELU"), "RNN", 1),
    ("lstm", ("LSTM",), "LSTM", 4),
    ("gru", ("GRU",), "GRU", 3),
)

KINDS = tuple(kind for kind, _, _, _ in _TABLE)
GATES = {kind: gates for kind, _, _, gates in _TABLE}
MODE_KIND = {mode: kind for kind, modes, _, _ in _TABLE for mode in modes}
MODE_GATES = {mode: GATES[kind] for mode, kind in MODE_KIND.items()}
ONNX_OPS = {kind: op for kind, _, op, _ in _TABLE}
MODE_OPS = {mode: ONNX_OPS[kind] for mode, kind in MODE_KIND.items()}
OP_GATES = {ONNX_OPS[kind]: gates for kind, gates in GATES.items()}

CLASSES: "dict[str, type]"   # kind -> fastrnn.RNN, LSTM or GRU (made on first use)


def __getattr__(name: str) -> Any:
    # CLASSES is made on first use: the classes' own modules read this table.
    if name == "CLASSES":
        from fastrnn.gru import GRU
        from fastrnn.lstm import LSTM
        from fastrnn.rnn import RNN

        classes = {"rnn": RNN, "lstm": LSTM, "gru": GRU}
        globals()["CLASSES"] = classes
        return classes
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
