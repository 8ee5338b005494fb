"""Build of fastrnn's Cython kernels against scipy-openblas32's OpenBLAS.

The extension links to libscipy_openblas.so by its soname only (no rpath into
the build environment, which pip deletes after an isolated build). At run time
`fastrnn._openblas` loads that library from the installed scipy-openblas32
wheel before the extension is imported, and the dynamic loader reuses it.

FASTRNN_DEBUG=1 turns Cython's bounds checks back on and builds with -O0 -g.
"""
import os

import scipy_openblas32
from Cython.Build import cythonize
from setuptools import Extension, setup

DEBUG = os.environ.get("FASTRNN_DEBUG", "") == "1"

directives = {
    "language_level": 3,
    "boundscheck": DEBUG,
    "wraparound": DEBUG,
    "initializedcheck": DEBUG,
    "cdivision": not DEBUG,
    "embedsignature": True,
}

# Portable flags only: no -march=native in what a user installs.
# -Wno-psabi: the kernels' vector types only cross inline functions. The
# machine-specific kernels are built by files of their own under their own
# `#pragma GCC target` (fastrnn/_isa_*.c) and chosen at run time (_isa.h).
compile_args = (["-O0", "-g"] if DEBUG else ["-O3"]) + ["-Wno-psabi", "-pthread"]

extensions = [
    Extension(
        "fastrnn._kernels",
        ["fastrnn/_kernels.pyx", "fastrnn/_isa_select.c", "fastrnn/_isa_avx512.c",
         "fastrnn/_isa_avx2.c", "fastrnn/_isa_generic.c"],
        include_dirs=["fastrnn", scipy_openblas32.get_include_dir()],
        depends=["fastrnn/_isa.h", "fastrnn/_isa_kernels.h", "fastrnn/_simd.h", "fastrnn/_cells.h",
                 "fastrnn/_step.h", "fastrnn/_amx.h", "fastrnn/_barrier.h", "fastrnn/_scratch.h",
                 "fastrnn/_blas.pxd", "fastrnn/_k_decl.pxi", "fastrnn/_k_cells.pxi",
                 "fastrnn/_k_paths.pxi", "fastrnn/_k_run.pxi", "fastrnn/_k_split.pxi",
                 "fastrnn/_k_entry.pxi", "fastrnn/_k_layer.pxi"],
        library_dirs=[scipy_openblas32.get_lib_dir()],
        libraries=[scipy_openblas32.get_library()],
        extra_compile_args=compile_args,
        extra_link_args=["-pthread"],  # the directions of a bidirectional layer in parallel
    )
]

setup(ext_modules=cythonize(extensions, compiler_directives=directives))
