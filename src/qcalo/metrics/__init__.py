"""Sample-level metrics comparing generated and real calorimeter images.

All are pure functions of ``[n_events, n_pixels]`` arrays (numpy or torch). Numpy inputs give
Python floats; torch inputs give 0-dim tensors that carry gradients where marked
differentiable (:func:`mmd`, :func:`mmd_unbiased`, :func:`correlation_loss`,
:func:`mean_squared_error`). Histogram metrics are numpy-only and detach torch inputs.
"""

from __future__ import annotations

from qcalo.metrics.correlation import correlation_loss, pearson_matrix
from qcalo.metrics.histograms import (
    chi2_ww,
    energy_sum_chi2,
    energy_sum_separation,
    reduced_chi2,
    separation_power,
)
from qcalo.metrics.images import ImageBatch, energy_sum, mean_squared_error
from qcalo.metrics.mmd import (
    MMD_MULTIPLIERS,
    median_distance,
    mmd,
    mmd_repeated,
    mmd_unbiased,
    ratio_with_error,
    standard_error,
)

__all__ = [
    "ImageBatch",
    "MMD_MULTIPLIERS",
    "median_distance",
    "mmd",
    "mmd_unbiased",
    "mmd_repeated",
    "standard_error",
    "ratio_with_error",
    "pearson_matrix",
    "correlation_loss",
    "mean_squared_error",
    "energy_sum",
    "chi2_ww",
    "reduced_chi2",
    "energy_sum_chi2",
    "separation_power",
    "energy_sum_separation",
]
