"""Maximum mean discrepancy in the DESY group's "MUA" convention (clic8 notes §5a).

Kernel and estimator as in ``desyqml/Multi-Universal-Approximator`` (``mua/losses/mmd.py``):

* kernel ``k_s(a, b) = exp(-||a - b||² / (2 s))`` — the bandwidth ``s`` enters **linearly**, so it
  acts as a *variance* (units: feature units squared), not as ``σ²`` of a width ``σ``;
* bandwidths ``s = scale · multiplier`` for ``multiplier`` in :data:`MMD_MULTIPLIERS`, where
  ``scale`` is usually :func:`median_distance` of the target data (an *un-squared* distance,
  fed in as a variance — that mismatch of units is the convention, keep it);
* biased V-statistic (diagonal terms included), **averaged** (not summed) over the kernels.

MUA's 1e-6 offset inside the generated-generated distance is negligible and not reproduced.

Every MMD number is meaningful only together with this convention and the sample size ``n``
(real-vs-real floor ≈ 0.3/n on clic8, notes §6).

References:
    Gretton et al., "A Kernel Two-Sample Test", JMLR 13 (2012) 723.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import torch
from scipy.spatial.distance import cdist, pdist

from qcalo.exceptions import QcaloError
from qcalo.metrics.images import ImageBatch, _as_events_pair, _as_events_tensor

__all__ = [
    "MMD_MULTIPLIERS",
    "median_distance",
    "mmd",
    "mmd_repeated",
    "mmd_unbiased",
    "ratio_with_error",
    "standard_error",
]

MMD_MULTIPLIERS: tuple[float, ...] = (0.1, 0.5, 1.0, 2.0, 5.0, 10.0)
"""Bandwidth multipliers of the MUA convention; bandwidth ``s = scale · multiplier``."""

_CHUNK_PAIRS = 1 << 15
"""Pairs per block in the numpy path: distances, weights and kernel buffer stay in L2 cache."""


def median_distance(x: ImageBatch, *, max_samples: int = 1000, seed: int = 0) -> float:
    """Median pairwise Euclidean distance, the MUA kernel ``scale``.

    Takes a seeded random subset of at most ``max_samples`` rows (all rows if fewer), then the
    median of the *un-squared* distances over all off-diagonal pairs ``i < j``.

    Args:
        x: target images, shape ``[n, d]``; torch tensors are detached.
        max_samples: largest subset used (the distance count grows as its square).
        seed: seed of the ``numpy.random.default_rng`` that picks the subset.

    Returns:
        The median distance, in feature units (about 0.137 on clic8 ``x``).

    Raises:
        ShapeError: if ``x`` is not 2-D.
        QcaloError: if ``x`` holds NaN/inf, has fewer than 2 rows, or ``max_samples < 2``.
    """
    if max_samples < 2:
        raise QcaloError(f"max_samples={max_samples}; a distance needs at least 2 rows")
    events = _as_events_tensor(x, name="x").detach().cpu().numpy().astype(np.float64, copy=False)
    n_events = events.shape[0]
    if n_events < 2:
        raise QcaloError("x has 1 event; the median distance needs at least 2")
    if n_events > max_samples:
        rows = np.random.default_rng(seed).choice(n_events, size=max_samples, replace=False)
        events = events[rows]
    return float(np.median(pdist(events, metric="euclidean")))


def mmd(
    x: ImageBatch,
    y: ImageBatch,
    *,
    scale: float,
    multipliers: Sequence[float] = MMD_MULTIPLIERS,
) -> float | torch.Tensor:
    """Biased (V-statistic) MMD² averaged over Gaussian kernels, MUA convention.

    .. math::
        \\mathrm{MMD} = \\frac{1}{|S|}\\sum_{s\\in S}\\Big[\\overline{k_s(x,x')}
        + \\overline{k_s(y,y')} - 2\\,\\overline{k_s(x,y)}\\Big],\\quad
        k_s(a,b) = e^{-\\lVert a-b\\rVert^2/(2s)},\\quad S = \\{\\text{scale}\\cdot m\\}

    where the bars are means over *all* pairs, diagonals included. The result is ≥ 0 up to
    rounding (≈1e-16) and is not clamped. It is the squared MMD, reported as "MMD" by the group.

    Args:
        x: first sample (e.g. generated), shape ``[n, d]``.
        y: second sample (e.g. real), shape ``[m, d]``; ``m`` may differ from ``n``.
        scale: bandwidth unit, used *linearly as a variance* (usually :func:`median_distance`
            of the real data). Must be > 0.
        multipliers: bandwidths are ``scale * multiplier``.

    Returns:
        Python float for numpy inputs; a 0-dim tensor carrying gradients (w.r.t. both samples)
        if either input is a tensor.

    Raises:
        ShapeError: if the inputs are not 2-D or their feature counts differ.
        QcaloError: on NaN/inf inputs or a non-positive ``scale`` or multiplier.

    Example:
        >>> x = np.array([[0.0], [1.0]])
        >>> round(mmd(x, x, scale=1.0), 12)
        0.0
    """
    return _mmd(x, y, scale=scale, multipliers=multipliers, biased=True)


def mmd_unbiased(
    x: ImageBatch,
    y: ImageBatch,
    *,
    scale: float,
    multipliers: Sequence[float] = MMD_MULTIPLIERS,
) -> float | torch.Tensor:
    """Unbiased (U-statistic) MMD², same kernels as :func:`mmd`, for reference.

    Like :func:`mmd` but the within-sample means skip the diagonal (``i ≠ j``), so its
    expectation is 0 when both samples come from one distribution and single values can be
    negative.

    Args:
        x: shape ``[n, d]`` with ``n >= 2``.
        y: shape ``[m, d]`` with ``m >= 2``.
        scale: bandwidth unit, used linearly as a variance (see :func:`mmd`).
        multipliers: bandwidths are ``scale * multiplier``.

    Returns:
        Python float for numpy inputs, a differentiable 0-dim tensor for torch inputs.

    Raises:
        ShapeError: if the inputs are not 2-D or their feature counts differ.
        QcaloError: on NaN/inf, fewer than 2 events in a sample, or bad bandwidths.
    """
    return _mmd(x, y, scale=scale, multipliers=multipliers, biased=False)


def mmd_repeated(
    generated_sets: Sequence[ImageBatch],
    real_sets: Sequence[ImageBatch],
    *,
    scale: float,
    multipliers: Sequence[float] = MMD_MULTIPLIERS,
) -> tuple[float, float]:
    """Mean of :func:`mmd` over paired draws and its standard error: the one repeated-MMD loop.

    Args:
        generated_sets: ``k`` generated samples, each ``[n_i, d]``.
        real_sets: ``k`` real samples, each ``[m_i, d]``; pair ``i`` is ``(generated_sets[i],
            real_sets[i])``.
        scale: bandwidth unit, see :func:`mmd`.
        multipliers: bandwidths are ``scale * multiplier``.

    Returns:
        ``(mean, standard_error)`` as Python floats; the standard error of the mean is the
        sample standard deviation (``ddof=1``) over ``sqrt(k)``, ``nan`` for a single pair.

    Raises:
        QcaloError: if the lists are empty or of different lengths (plus :func:`mmd`'s errors).
    """
    if len(generated_sets) != len(real_sets):
        raise QcaloError(
            f"{len(generated_sets)} generated sets but {len(real_sets)} real sets; pair them 1:1"
        )
    if not generated_sets:
        raise QcaloError("no sample pairs given; pass at least one (generated, real) pair")
    values = [
        float(mmd(generated, real, scale=scale, multipliers=multipliers))
        for generated, real in zip(generated_sets, real_sets, strict=True)
    ]
    return float(np.mean(values)), standard_error(values)


def standard_error(values: Sequence[float]) -> float:
    """Standard error of the mean of ``values`` (``ddof=1``); ``nan`` for fewer than two."""
    if len(values) < 2:
        return math.nan
    return float(np.std(values, ddof=1) / math.sqrt(len(values)))


def ratio_with_error(numerator: tuple[float, float], denominator: tuple[float, float]) -> tuple[float, float]:
    """``a / b`` and its standard error from ``(mean, se)`` pairs (delta method, independent).

    At n = 250 and 30 sets an MMD ratio to the real-vs-real floor moves by ±0.15–0.2 between
    evaluation seeds for a model near 1.6×: the ratio is a measurement, never quote it bare.
    """
    (a, a_se), (b, b_se) = numerator, denominator
    ratio = a / b
    return float(ratio), float(abs(ratio) * math.hypot(a_se / a, b_se / b))


def _mmd(
    x: ImageBatch,
    y: ImageBatch,
    *,
    scale: float,
    multipliers: Sequence[float],
    biased: bool,
) -> float | torch.Tensor:
    """Shared body of :func:`mmd` and :func:`mmd_unbiased`: checks, then numpy or torch path."""
    bandwidths = _bandwidths(scale, multipliers)
    first, second, as_tensor = _as_events_pair(x, y, names=("x", "y"))
    if not biased and min(first.shape[0], second.shape[0]) < 2:
        raise QcaloError(
            f"samples have {first.shape[0]} and {second.shape[0]} events; "
            "the unbiased MMD needs >= 2 each"
        )
    if as_tensor:
        return _mmd_torch(first, second, bandwidths, biased=biased)
    return _mmd_numpy(first.numpy(), second.numpy(), bandwidths, biased=biased)


def _bandwidths(scale: float, multipliers: Sequence[float]) -> list[float]:
    """Return ``scale * m`` for every multiplier, checking that all are finite and > 0."""
    if not (math.isfinite(scale) and scale > 0):
        raise QcaloError(f"scale={scale}; use a finite positive value, e.g. median_distance(real)")
    if len(multipliers) == 0:
        raise QcaloError("multipliers is empty; pass at least one, e.g. MMD_MULTIPLIERS")
    if not all(math.isfinite(m) and m > 0 for m in multipliers):
        raise QcaloError(f"multipliers={tuple(multipliers)}; all must be finite and > 0")
    return [float(scale) * float(m) for m in multipliers]


def _mmd_numpy(
    first: np.ndarray, second: np.ndarray, bandwidths: list[float], *, biased: bool
) -> float:
    """Kernel-averaged MMD without gradients, in float64.

    Squared distances come straight from scipy (exact, ≥ 0): ``pdist`` for the pairs
    ``i < j`` inside each sample (half the matrix, the diagonal is ``k = 1``) and ``cdist``
    across. Plain ufunc sums, no BLAS call, so no thread pool is woken up.

    Args:
        first: shape ``[n, d]``.
        second: shape ``[m, d]``.
        bandwidths: kernel variances ``s``.
        biased: V-statistic (diagonals in) or U-statistic (diagonals out).
    """
    n_first, n_second = first.shape[0], second.shape[0]
    pair_sum_first = _kernel_sums(pdist(first, metric="sqeuclidean"), bandwidths)
    pair_sum_second = _kernel_sums(pdist(second, metric="sqeuclidean"), bandwidths)
    sum_across = _kernel_sums(cdist(first, second, metric="sqeuclidean").ravel(), bandwidths)
    if biased:
        mean_first = (n_first + 2.0 * pair_sum_first) / n_first**2
        mean_second = (n_second + 2.0 * pair_sum_second) / n_second**2
    else:
        mean_first = 2.0 * pair_sum_first / (n_first * (n_first - 1))
        mean_second = 2.0 * pair_sum_second / (n_second * (n_second - 1))
    per_kernel = mean_first + mean_second - 2.0 * sum_across / (n_first * n_second)
    return float(per_kernel.mean())


def _kernel_sums(sq_dist: np.ndarray, bandwidths: list[float]) -> np.ndarray:
    """``Σ exp(-sq_dist / (2 s))`` for every bandwidth ``s``, shape ``[len(bandwidths)]``.

    Works block by block in one reused buffer so that every pass stays in cache.
    """
    sums = np.zeros(len(bandwidths))
    buffer = np.empty(min(_CHUNK_PAIRS, sq_dist.size))
    for start in range(0, sq_dist.size, _CHUNK_PAIRS):
        block = sq_dist[start : start + _CHUNK_PAIRS]
        kernel = buffer[: block.size]
        for index, bandwidth in enumerate(bandwidths):
            np.multiply(block, -0.5 / bandwidth, out=kernel)
            np.exp(kernel, out=kernel)
            sums[index] += kernel.sum()
    return sums


def _mmd_torch(
    first: torch.Tensor, second: torch.Tensor, bandwidths: list[float], *, biased: bool
) -> torch.Tensor:
    """Differentiable kernel-averaged MMD on the inputs' dtype and device.

    The gradient is computed analytically in the forward pass (:class:`_KernelMMD`): letting
    autograd retrace six kernels over three ``n × m`` blocks made the backward 3–4× the
    forward, the largest cost of a QAG training step after the simulator.
    """
    return _KernelMMD.apply(first, second, tuple(bandwidths), biased)


class _KernelMMD(torch.autograd.Function):
    """MMD with its gradient formed alongside the value.

    With ``K(d²) = Σ_s e^{−d²/(2 s)}`` and ``K' = dK/d(d²)``, the x-x block contributes
    ``(4 / N_xx) Σ_j K'(d²_ij) (x_i − x_j)`` to ``∂/∂x_i`` (each pair appears twice) and the
    cross block ``−(4 / (n m)) Σ_j K'(d²_ij) (x_i − y_j)``; the same for ``y``; all divided by
    the number of kernels. Two matrix products per sample, no per-kernel backward graph.
    """

    @staticmethod
    def forward(ctx, first, second, bandwidths, biased):  # type: ignore[override]
        factors = [-0.5 / bandwidth for bandwidth in bandwidths]
        need_first, need_second = ctx.needs_input_grad[0], ctx.needs_input_grad[1]
        centre = torch.cat([first, second]).mean(dim=0)  # translation-invariant; less cancellation
        first, second = first - centre, second - centre
        n, m = first.shape[0], second.shape[0]
        k_first, dk_first = _kernel_and_slope(_sq_distances(first, first), factors, need_first)
        k_second, dk_second = _kernel_and_slope(_sq_distances(second, second), factors, need_second)
        k_across, dk_across = _kernel_and_slope(_sq_distances(first, second), factors, need_first or need_second)
        pairs_first = n * n if biased else n * (n - 1)
        pairs_second = m * m if biased else m * (m - 1)
        value = (
            _within_mean(k_first, biased=biased)
            + _within_mean(k_second, biased=biased)
            - 2.0 * k_across.mean()
        ) / len(factors)
        grad_first = grad_second = None
        if need_first:
            grad_first = (
                4.0 / pairs_first * (dk_first.sum(1, keepdim=True) * first - dk_first @ first)
                - 4.0 / (n * m) * (dk_across.sum(1, keepdim=True) * first - dk_across @ second)
            ) / len(factors)
        if need_second:
            grad_second = (
                4.0 / pairs_second * (dk_second.sum(1, keepdim=True) * second - dk_second @ second)
                - 4.0 / (n * m) * (dk_across.sum(0)[:, None] * second - dk_across.T @ first)
            ) / len(factors)
        ctx.save_for_backward(grad_first, grad_second)
        return value

    @staticmethod
    @torch.autograd.function.once_differentiable
    def backward(ctx, grad_output):  # type: ignore[override]
        grad_first, grad_second = ctx.saved_tensors
        return (
            None if grad_first is None else grad_output * grad_first,
            None if grad_second is None else grad_output * grad_second,
            None,
            None,
        )


def _kernel_and_slope(
    sq_dist: torch.Tensor, factors: list[float], with_derivative: bool
) -> tuple[torch.Tensor, torch.Tensor | None]:
    """``Σ_s e^{f_s d²}`` and (if asked) its derivative ``Σ_s f_s e^{f_s d²}`` w.r.t. ``d²``."""
    kernel = torch.zeros_like(sq_dist)
    derivative = torch.zeros_like(sq_dist) if with_derivative else None
    for factor in factors:
        term = torch.exp(sq_dist * factor)
        kernel += term
        if derivative is not None:
            derivative += factor * term
    return kernel, derivative


def _sq_distances(first: torch.Tensor, second: torch.Tensor) -> torch.Tensor:
    """Squared distances ``[n, m]`` as ``‖a‖² + ‖b‖² − 2 a·b``, clamped at 0.

    No square root, so coinciding points have finite gradients.
    """
    sq_norm_first = first.square().sum(dim=1)
    sq_norm_second = second.square().sum(dim=1)
    inner = first @ second.T
    return (sq_norm_first[:, None] + sq_norm_second[None, :] - 2.0 * inner).clamp_min(0.0)


def _within_mean(kernel: torch.Tensor, *, biased: bool) -> torch.Tensor:
    """Mean of a within-sample kernel matrix ``[n, n]``, with (V) or without (U) its diagonal."""
    if biased:
        return kernel.mean()
    size = kernel.shape[0]
    return (kernel.sum() - kernel.diagonal().sum()) / (size * (size - 1))
