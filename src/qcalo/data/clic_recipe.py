"""The CLIC pixel recipe: longitudinal layer energies → N pixels (desyqml/clic ``Preprocessor``).

From ``notes/clic8.md`` §3:

1. longitudinal profile ``p[l] = sum_{x,y} ECAL[x, y, l]`` over the L = 25 layers (done by the
   caller: :mod:`qcalo.data.clic_prepare` for raw files, :mod:`qcalo.data.synthetic` for the
   stand-in's model);
2. ``f = L // N`` layers per pixel, ``r = L - N f`` left over: drop ``r // 2 + r % 2`` layers
   at the front and ``r // 2`` at the back;
3. pixel = **mean** of its ``f`` layers, divided by 50 and clipped at ``max_energy = 0.5``.

The energy cut (step 4, 225 < E < 275 GeV) needs the incident energy and lives in
:func:`qcalo.data.clic_prepare.prepare_clic`. Real and synthetic data share this one function.
"""

from __future__ import annotations

import numpy as np

from qcalo.data.clic_catalogue import CLIC
from qcalo.exceptions import ShapeError

__all__ = ["pixel_layout", "profile_to_pixels"]


def pixel_layout(n_layers: int, n_pixels: int) -> tuple[int, int]:
    """Return ``(first kept layer, layers per pixel)`` for L layers and N pixels.

    Raises:
        ShapeError: if there are fewer layers than pixels.

    Example:
        >>> pixel_layout(25, 8)  # 25 = 1 dropped + 8 x 3
        (1, 3)
    """
    per_pixel = n_layers // n_pixels
    if per_pixel == 0:
        raise ShapeError(
            f"{n_layers} layers cannot make {n_pixels} pixels; use n_pixels <= {n_layers}"
        )
    left_over = n_layers - n_pixels * per_pixel
    return left_over // 2 + left_over % 2, per_pixel


def profile_to_pixels(profile_gev: np.ndarray, n_pixels: int) -> np.ndarray:
    """Map longitudinal layer energies to N pixels with the desyqml/clic recipe.

    Args:
        profile_gev: energy per layer in GeV, shape ``[n, L]`` (L = 25 for CLIC).
        n_pixels: N, at most L.

    Returns:
        float64 array ``[n, N]``: pixel k is the mean of its ``f = L // N`` layers,
        divided by ``CLIC.energy_scale_gev`` and clipped at ``CLIC.max_energy``. The
        ``r = L - N f`` left-over layers are dropped, the odd one at the front.

    Raises:
        ConfigError: if ``n_pixels`` is not a positive integer.
        ShapeError: if ``profile_gev`` is not 2-D or has fewer layers than pixels.

    Example:
        >>> profile_to_pixels(np.full((1, 25), 30.0), 8)  # f = 3, layer 0 dropped
        array([[0.5, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5]])
    """
    profile = np.asarray(profile_gev, dtype=np.float64)
    n_pixels = CLIC.check_pixels(n_pixels)
    if profile.ndim != 2:
        raise ShapeError(f"profile_gev must be [n_events, n_layers], got shape {profile.shape}")
    first, per_pixel = pixel_layout(profile.shape[1], n_pixels)
    kept = profile[:, first : first + n_pixels * per_pixel]
    pixels = kept.reshape(len(profile), n_pixels, per_pixel).mean(axis=2) / CLIC.energy_scale_gev
    return np.minimum(pixels, CLIC.max_energy)
