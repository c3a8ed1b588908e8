"""Build the optional C extensions; everything else is in pyproject.toml.

``optional=True``: without a C compiler the install still succeeds and qcalo falls back to
NumPy's multinomial (same distribution, slower) and to the torch statevector kernels.
"""

import sys

from setuptools import Extension, setup

# The state kernels split large batches over POSIX threads (not on Windows).
THREADS = [] if sys.platform == "win32" else ["-pthread"]

setup(
    ext_modules=[
        Extension(
            "qcalo.quantum._sampling",
            ["src/qcalo/quantum/_sampling.c"],
            extra_compile_args=["-O3"],
            optional=True,
        ),
        Extension(
            "qcalo.quantum._statevector",
            ["src/qcalo/quantum/_statevector.c"],
            depends=["src/qcalo/quantum/_statevector_kernels.h"],
            # -fopenmp-simd: only the `omp simd` loop pragmas (vectorised sums), no OpenMP runtime.
            extra_compile_args=["-O3", "-fopenmp-simd", *THREADS],
            extra_link_args=THREADS,
            optional=True,
        ),
    ]
)
