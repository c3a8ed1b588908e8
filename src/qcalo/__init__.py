"""qcalo: quantum generative models for calorimeter shower simulation."""

from __future__ import annotations

__all__ = ["__version__"]
__version__ = "0.1.0"
