"""Histogram comparisons: ROOT "WW" χ² and CaloChallenge separation power (numpy, no gradients).

* χ²: ``TH1::Chi2Test(..., "WW")`` for two histograms of raw counts (fastcalogan notes §5), used
  by the QAG χ² monitor on the energy sum.
* Separation power: triangular discrimination, eq. 15 of arXiv:2009.03796, as in the
  CaloChallenge ``evaluate.py`` (calochallenge notes §4).

Torch inputs are detached and moved to the CPU.
"""

from __future__ import annotations

import math

import numpy as np
import numpy.typing as npt
import torch

from qcalo.exceptions import QcaloError, ShapeError
from qcalo.metrics.images import ImageBatch, _as_events_pair

__all__ = [
    "chi2_ww",
    "energy_sum_chi2",
    "energy_sum_separation",
    "reduced_chi2",
    "separation_power",
]

_SEPARATION_EPSILON = 1e-16
"""Added to each bin's ``p1 + p2`` as in the CaloChallenge code."""


def chi2_ww(counts_a: npt.ArrayLike, counts_b: npt.ArrayLike) -> tuple[float, int]:
    """χ² test of two histograms of raw counts, ROOT option "WW".

    With totals ``W1 = Σ y1``, ``W2 = Σ y2`` and errors ``σ² = count``:

    .. math:: \\chi^2 = \\sum_i \\frac{(W_1 y_{2i} - W_2 y_{1i})^2}{W_1^2 y_{2i} + W_2^2 y_{1i}}

    Bins empty in both histograms are skipped and lower the NDF:
    ``ndf = n_bins - 1 - (bins empty in both)``. Bins empty in only one histogram are kept
    as they are (ROOT treats them specially; expect small differences). Proportional
    histograms (``b = c·a``) give χ² = 0 for any ``c``; otherwise the value depends on the
    absolute counts, since the errors are √count: pass raw counts, not normalised ones.

    Args:
        counts_a: bin contents of the first histogram, shape ``[n_bins]``, ≥ 0.
        counts_b: bin contents of the second histogram, shape ``[n_bins]``, ≥ 0.

    Returns:
        ``(chi2, ndf)``. ``ndf`` may be 0 (a single non-empty bin); the caller decides what
        χ²/NDF means then.

    Raises:
        ShapeError: if the inputs are not 1-D or differ in length.
        QcaloError: on negative or non-finite counts, or an empty (all-zero) histogram.
    """
    first = _counts(counts_a, name="counts_a")
    second = _counts(counts_b, name="counts_b")
    if first.shape != second.shape:
        raise ShapeError(
            f"counts_a has {first.size} bins, counts_b {second.size}; use the same bin edges"
        )
    total_first, total_second = first.sum(), second.sum()
    if total_first == 0 or total_second == 0:
        raise QcaloError("a histogram is empty (all counts 0); χ² needs entries in both")
    filled = (first > 0) | (second > 0)
    numerator = (total_first * second[filled] - total_second * first[filled]) ** 2
    denominator = total_first**2 * second[filled] + total_second**2 * first[filled]
    chi2 = float(np.sum(numerator / denominator))
    ndf = first.size - 1 - int(np.count_nonzero(~filled))
    return chi2, ndf


def reduced_chi2(
    sample_gen: npt.ArrayLike | torch.Tensor,
    sample_real: npt.ArrayLike | torch.Tensor,
    bins: npt.ArrayLike,
) -> float:
    """χ²/NDF of two 1-D samples histogrammed on common edges, via :func:`chi2_ww`.

    Values outside ``[bins[0], bins[-1]]`` are clipped into the outer bins (nothing is lost).

    Args:
        sample_gen: generated values, shape ``[n]``.
        sample_real: reference values, shape ``[m]``.
        bins: bin edges, shape ``[n_bins + 1]``, strictly increasing.

    Returns:
        χ²/NDF; ``nan`` when NDF is 0 (all entries in one bin).

    Raises:
        ShapeError: if a sample is not 1-D or empty, or ``bins`` has < 2 edges.
        QcaloError: on NaN/inf values or edges that do not increase.
    """
    edges = _edges(bins)
    counts = [
        np.histogram(np.clip(_sample(values, name=name), edges[0], edges[-1]), bins=edges)[0]
        for values, name in ((sample_gen, "sample_gen"), (sample_real, "sample_real"))
    ]
    chi2, ndf = chi2_ww(counts[0], counts[1])
    return chi2 / ndf if ndf > 0 else math.nan


def energy_sum_chi2(x_gen: ImageBatch, x_real: ImageBatch, *, bins: int = 30) -> float:
    """The QAG χ² monitor: reduced "WW" χ² of the energy-sum (row-sum) distributions.

    Edges: ``bins`` equal-width bins spanning the real sample's 0.5 % – 99.5 % quantiles;
    values beyond are clipped into the outer bins.

    Args:
        x_gen: generated images, shape ``[n, d]``.
        x_real: reference images, shape ``[m, d]``; defines the range.
        bins: number of bins (≥ 1).

    Returns:
        χ²/NDF of the two energy-sum histograms (``nan`` if NDF is 0).

    Raises:
        ShapeError: if the inputs are not 2-D or their pixel counts differ.
        QcaloError: on NaN/inf, ``bins < 1`` or a real energy sum without spread.
    """
    gen_sums, real_sums = _energy_sums(x_gen, x_real)
    if bins < 1:
        raise QcaloError(f"bins={bins}; use at least 1 bin")
    low, high = np.quantile(real_sums, [0.005, 0.995])
    if not high > low:
        raise QcaloError("the real energy sums have no spread; χ² needs a non-empty range")
    return reduced_chi2(gen_sums, real_sums, np.linspace(low, high, bins + 1))


def separation_power(
    a: npt.ArrayLike | torch.Tensor,
    b: npt.ArrayLike | torch.Tensor,
    bins: npt.ArrayLike,
) -> float:
    """CaloChallenge separation power (triangular discrimination) of two 1-D samples.

    Both samples are histogrammed with ``density=True`` on the common edges and turned into
    bin probabilities ``p = h · Δbin`` (equivalently, counts over in-range entries); then

    .. math:: S = \\tfrac12 \\sum_i \\frac{(p_{1i} - p_{2i})^2}{p_{1i} + p_{2i} + 10^{-16}}

    ``S = 0`` for identical histograms, 1 for disjoint ones. Values outside the edges are
    **dropped** (as ``numpy.histogram`` does), not clipped; choose edges that cover the data.

    Args:
        a: first sample, shape ``[n]``.
        b: second sample, shape ``[m]``.
        bins: bin edges, shape ``[n_bins + 1]``, strictly increasing.

    Returns:
        ``S`` in ``[0, 1]``.

    Raises:
        ShapeError: if a sample is not 1-D or empty, or ``bins`` has < 2 edges.
        QcaloError: on NaN/inf, non-increasing edges, or a sample with no value inside them.
    """
    edges = _edges(bins)
    probabilities = []
    for values, name in ((a, "a"), (b, "b")):
        counts = np.histogram(_sample(values, name=name), bins=edges)[0].astype(np.float64)
        if counts.sum() == 0:
            raise QcaloError(f"no value of {name} lies inside the bin edges; widen the edges")
        probabilities.append(counts / counts.sum())
    first, second = probabilities
    return float(0.5 * np.sum((first - second) ** 2 / (first + second + _SEPARATION_EPSILON)))


def energy_sum_separation(x_gen: ImageBatch, x_real: ImageBatch, *, bins: int = 50) -> float:
    """Separation power of the energy-sum (row-sum) distributions.

    Edges: ``bins`` equal-width bins over ``[min, max]`` of both samples together, so no
    event is dropped (a zero-width range is widened to ±0.5 as numpy does).

    Args:
        x_gen: generated images, shape ``[n, d]``.
        x_real: reference images, shape ``[m, d]``.
        bins: number of bins (≥ 1).

    Returns:
        ``S`` in ``[0, 1]``, see :func:`separation_power`.

    Raises:
        ShapeError: if the inputs are not 2-D or their pixel counts differ.
        QcaloError: on NaN/inf or ``bins < 1``.
    """
    gen_sums, real_sums = _energy_sums(x_gen, x_real)
    if bins < 1:
        raise QcaloError(f"bins={bins}; use at least 1 bin")
    return separation_power(gen_sums, real_sums, _union_edges(gen_sums, real_sums, bins))


def _union_edges(first: np.ndarray, second: np.ndarray, n_bins: int) -> np.ndarray:
    """``n_bins + 1`` equal-width edges over both samples' range (zero width → ±0.5)."""
    low = min(first.min(), second.min())
    high = max(first.max(), second.max())
    if high == low:
        low, high = low - 0.5, high + 0.5
    return np.linspace(low, high, n_bins + 1)


def _energy_sums(x_gen: ImageBatch, x_real: ImageBatch) -> tuple[np.ndarray, np.ndarray]:
    """Row sums of both checked image batches, as detached float64 numpy arrays."""
    gen, real, _ = _as_events_pair(x_gen, x_real, names=("x_gen", "x_real"))
    gen_sums = gen.detach().sum(dim=1).cpu().to(torch.float64).numpy()
    real_sums = real.detach().sum(dim=1).cpu().to(torch.float64).numpy()
    return gen_sums, real_sums


def _sample(values: npt.ArrayLike | torch.Tensor, *, name: str) -> np.ndarray:
    """Check a 1-D sample and return it as float64 numpy."""
    if isinstance(values, torch.Tensor):
        values = values.detach().cpu().to(torch.float64).numpy()
    sample = np.asarray(values, dtype=np.float64)
    if sample.ndim != 1 or sample.size == 0:
        raise ShapeError(f"{name} has shape {sample.shape}; expected a non-empty 1-D sample [n]")
    if not np.all(np.isfinite(sample)):
        n_bad = int(np.count_nonzero(~np.isfinite(sample)))
        raise QcaloError(f"{name} holds {n_bad} NaN/inf values; drop them before histogramming")
    return sample


def _counts(counts: npt.ArrayLike, *, name: str) -> np.ndarray:
    """Check histogram contents (1-D, finite, ≥ 0) and return them as float64 numpy."""
    contents = np.asarray(counts, dtype=np.float64)
    if contents.ndim != 1 or contents.size == 0:
        raise ShapeError(f"{name} has shape {contents.shape}; expected bin contents [n_bins]")
    if not np.all(np.isfinite(contents)) or np.any(contents < 0):
        raise QcaloError(f"{name} has negative or NaN/inf contents; pass raw counts >= 0")
    return contents


def _edges(bins: npt.ArrayLike) -> np.ndarray:
    """Check bin edges (1-D, ≥ 2, finite, strictly increasing) and return them as float64."""
    edges = np.asarray(bins, dtype=np.float64)
    if edges.ndim != 1 or edges.size < 2:
        raise ShapeError(
            f"bins has shape {edges.shape}; pass bin edges [n_bins + 1], e.g. np.linspace(0, 2, 31)"
        )
    if not np.all(np.isfinite(edges)) or np.any(np.diff(edges) <= 0):
        raise QcaloError("bin edges must be finite and strictly increasing")
    return edges
