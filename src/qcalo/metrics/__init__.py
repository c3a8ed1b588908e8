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
    "MMD_MULTIPLIERS",
    "ImageBatch",
    "chi2_ww",
    "correlation_loss",
    "energy_sum",
    "energy_sum_chi2",
    "energy_sum_separation",
    "mean_squared_error",
    "median_distance",
    "mmd",
    "mmd_repeated",
    "mmd_unbiased",
    "pearson_matrix",
    "ratio_with_error",
    "reduced_chi2",
    "separation_power",
    "standard_error",
]
