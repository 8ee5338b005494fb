"""Load OpenBLAS from the scipy-openblas32 wheel before the kernels import.

fastrnn._kernels needs libscipy_openblas.so but carries no path to it. Loading
it here by full path makes the dynamic loader reuse this copy when the
extension asks for it by soname: no LD_LIBRARY_PATH, no scipy.
"""
import ctypes
import os

import scipy_openblas32


def load():
    lib_dir = scipy_openblas32.get_lib_dir()
    path = os.path.join(lib_dir, scipy_openblas32.get_library(fullname=True))
    return ctypes.CDLL(path)


library = load()
