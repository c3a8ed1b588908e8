"""Build the optional C sampler; everything else is in pyproject.toml.

``optional=True``: without a C compiler the install still succeeds and qcalo falls back to
NumPy's multinomial (same distribution, slower).
"""

from setuptools import Extension, setup

setup(
    ext_modules=[
        Extension(
            "qcalo.quantum._sampling",
            ["src/qcalo/quantum/_sampling.c"],
            extra_compile_args=["-O3"],
            optional=True,
        )
    ]
)
