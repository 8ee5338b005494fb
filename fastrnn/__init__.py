"""fastrnn: fast CPU inference of recurrent networks trained in PyTorch.

fastrnn.RNN mirrors torch.nn.RNN on numpy arrays and runs on Cython kernels
that call OpenBLAS (from scipy-openblas32) without the GIL.
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

__all__ = ["RNN", "__version__"]
