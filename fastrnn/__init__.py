"""fastrnn: fast CPU inference of recurrent networks trained in PyTorch.

fastrnn.RNN, fastrnn.LSTM and fastrnn.GRU mirror torch.nn.RNN, LSTM and GRU on
numpy arrays (same constructor arguments, parameter names, state_dict, shapes
and errors) and run on Cython kernels that call OpenBLAS (from
scipy-openblas32) without the GIL. fastrnn.onnx exports them to ONNX, verifies
the file in onnxruntime, loads ONNX files back and runs ONNX RNN/LSTM/GRU
nodes as an onnx.backend.
"""
from fastrnn._version import __version__
from fastrnn import _openblas  # noqa: F401  (loads OpenBLAS before the kernels)

try:
    from fastrnn import _kernels  # noqa: F401
except ImportError as exc:  # pragma: no cover - depends on the install
    raise ImportError(
        "fastrnn's compiled kernels could not be imported. Install fastrnn with "
        "`pip install .` or `pip install -e .` from its source tree (running from "
        f"an unbuilt checkout does not work): {exc}") from exc

from fastrnn.rnn import RNN
from fastrnn.lstm import LSTM
from fastrnn.gru import GRU
from fastrnn._files import ModelFileError, load, save
from fastrnn._kernels import get_num_threads, set_num_threads
from fastrnn import _threadpool

_threadpool.install()  # threadpoolctl's limits reach fastrnn (when it is imported)

__all__ = ["RNN", "LSTM", "GRU", "save", "load", "ModelFileError", "set_num_threads",
           "get_num_threads", "__version__"]
