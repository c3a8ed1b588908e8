"""Image-batch basics: input checks shared by all metrics, the mean-image MSE and the energy sum.

An *image batch* is an array of shape ``[n_events, n_pixels]`` (events × features), given as a
``numpy.ndarray`` or a ``torch.Tensor``. Every metric converts it once, here, to a floating
torch tensor; numpy inputs are computed in float64 and give plain Python floats (or numpy
arrays) back, torch inputs keep their dtype and device and give tensors that carry gradients.
"""

from __future__ import annotations

from typing import TypeAlias

import numpy as np
import torch

from qcalo.exceptions import QcaloError, ShapeError

__all__ = ["ImageBatch", "energy_sum", "mean_squared_error"]

ImageBatch: TypeAlias = np.ndarray | torch.Tensor
"""Events × features array, shape ``[n_events, n_pixels]``, numpy or torch."""


def _as_events_tensor(images: ImageBatch, *, name: str) -> torch.Tensor:
    """Check one image batch and return it as a floating tensor.

    Args:
        images: shape ``[n_events, n_pixels]``; numpy (any real dtype, computed in float64),
            torch (floating dtypes kept, integer ones cast to float64) or a nested list.
        name: what the caller calls this argument, used in error messages.

    Returns:
        Tensor of shape ``[n_events, n_pixels]``; shares memory with a float64 numpy input.

    Raises:
        ShapeError: if the batch is not 2-D or has no events or no pixels.
        QcaloError: if it holds NaN or infinite values.
    """
    if isinstance(images, torch.Tensor):
        tensor = images if images.is_floating_point() else images.to(torch.float64)
    else:
        tensor = torch.from_numpy(np.ascontiguousarray(images, dtype=np.float64))
    if tensor.ndim != 2:
        raise ShapeError(
            f"{name} has shape {tuple(tensor.shape)}; expected [n_events, n_features] "
            "(reshape 1-D data with x[:, None])"
        )
    if tensor.shape[0] == 0 or tensor.shape[1] == 0:
        raise ShapeError(f"{name} has shape {tuple(tensor.shape)}; it needs >= 1 event and feature")
    if not bool(torch.isfinite(tensor).all()):
        n_bad = int((~torch.isfinite(tensor)).sum())
        raise QcaloError(f"{name} holds {n_bad} NaN/inf values; drop or repair those events first")
    return tensor


def _as_events_pair(
    first: ImageBatch, second: ImageBatch, *, names: tuple[str, str]
) -> tuple[torch.Tensor, torch.Tensor, bool]:
    """Check two image batches that are to be compared.

    Args:
        first: shape ``[n, d]``.
        second: shape ``[m, d]``; ``n`` and ``m`` may differ.
        names: the caller's names for the two arguments, used in error messages.

    Returns:
        ``(first, second, any_torch)``: both as tensors of one dtype on one device, and whether
        either input was a torch tensor (then the caller returns tensors, else Python floats).

    Raises:
        ShapeError: if either is not ``[events, features]`` or the feature counts differ.
        QcaloError: on NaN/inf values or tensors on different devices.
    """
    any_torch = isinstance(first, torch.Tensor) or isinstance(second, torch.Tensor)
    first_t = _as_events_tensor(first, name=names[0])
    second_t = _as_events_tensor(second, name=names[1])
    if first_t.shape[1] != second_t.shape[1]:
        raise ShapeError(
            f"{names[1]} has {second_t.shape[1]} features but {names[0]} has "
            f"{first_t.shape[1]}; compare images of the same size"
        )
    if first_t.device != second_t.device:
        raise QcaloError(
            f"{names[0]} is on {first_t.device}, {names[1]} on {second_t.device}; "
            "move both to one device"
        )
    common = torch.promote_types(first_t.dtype, second_t.dtype)
    return first_t.to(common), second_t.to(common), any_torch


def _to_output(value: torch.Tensor, *, as_tensor: bool) -> float | torch.Tensor:
    """Return a 0-dim result as a tensor (torch callers) or a Python float (numpy callers)."""
    return value if as_tensor else float(value.item())


def mean_squared_error(x_gen: ImageBatch, x_real: ImageBatch) -> float | torch.Tensor:
    """Squared difference of the average images, averaged over pixels.

    .. math:: \\mathrm{MSE} = \\frac{1}{d}\\sum_{k=1}^{d}
              \\big(\\bar{x}^{\\,\\mathrm{gen}}_k - \\bar{x}^{\\,\\mathrm{real}}_k\\big)^2

    This is what the QAG paper's "MSE" training monitor means in qcalo: it compares the
    *mean* images, not event pairs (the samples are unpaired), so it is blind to the spread
    and the correlations of the pixels.

    Args:
        x_gen: generated images, shape ``[n, d]``.
        x_real: reference images, shape ``[m, d]``; ``m`` may differ from ``n``.

    Returns:
        Python float for numpy inputs; a 0-dim tensor that carries gradients if either input
        is a tensor. Units: pixel units squared.

    Raises:
        ShapeError: if the inputs are not 2-D or their pixel counts differ.
        QcaloError: if either holds NaN/inf.
    """
    gen, real, as_tensor = _as_events_pair(x_gen, x_real, names=("x_gen", "x_real"))
    value = (gen.mean(dim=0) - real.mean(dim=0)).square().mean()
    return _to_output(value, as_tensor=as_tensor)


def energy_sum(images: ImageBatch) -> np.ndarray | torch.Tensor:
    """Total (summed) pixel energy of every event.

    Args:
        images: shape ``[n, d]``, in pixel energy units (for clic8: GeV/150 per pixel).

    Returns:
        Row sums, shape ``[n]``: a float64 numpy array for numpy input, a tensor (with
        gradients) for torch input.

    Raises:
        ShapeError: if ``images`` is not 2-D.
        QcaloError: if it holds NaN/inf.
    """
    tensor = _as_events_tensor(images, name="images")
    sums = tensor.sum(dim=1)
    return sums if isinstance(images, torch.Tensor) else sums.numpy()
