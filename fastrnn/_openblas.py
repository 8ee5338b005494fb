"""Load OpenBLAS from the scipy-openblas32 wheel before the kernels import.

fastrnn._kernels needs libscipy_openblas.so but carries no path to it. Loading
it here by full path makes the dynamic loader reuse this copy when the
extension asks for it by soname: no LD_LIBRARY_PATH, no scipy.

The kernels call it from their own threads, one thread each (_kernels sets
that too), so the library loads with OPENBLAS_NUM_THREADS=1 unless the
environment sets it: a pool started at load would only spin. Importing
scipy_openblas32 loads the library already, so the setting comes first, and
goes again once loaded (numpy's own OpenBLAS reads the same variable).
"""
import ctypes
import os

_given = os.environ.get("OPENBLAS_NUM_THREADS")
if _given is None:
    os.environ["OPENBLAS_NUM_THREADS"] = "1"
try:
    import scipy_openblas32

    def load():
        lib_dir = scipy_openblas32.get_lib_dir()
        path = os.path.join(lib_dir, scipy_openblas32.get_library(fullname=True))
        return ctypes.CDLL(path)

    library = load()
finally:
    if _given is None:
        del os.environ["OPENBLAS_NUM_THREADS"]
