"""The types of fastrnn's public API, for annotations (numpy.typing)."""
from __future__ import annotations

import os
from typing import IO, Any, Tuple, Union

import numpy as np
import numpy.typing as npt

#: What a model returns: float32 or float64 arrays, as the model's dtype.
Array = npt.NDArray[np.floating[Any]]
#: What a model accepts: anything numpy turns into real numbers (CPU torch tensors too).
ArrayLike = npt.ArrayLike
#: A dtype a model can have: numpy.float32 / numpy.float64, their names, torch's.
DTypeLike = Any
#: LSTM's state, (h, c), and what it may be given as.
LSTMState = Tuple[Array, Array]
LSTMStateLike = Tuple[ArrayLike, ArrayLike]
#: A path or a binary file object.
PathOrFile = Union[str, "os.PathLike[str]", IO[bytes]]
