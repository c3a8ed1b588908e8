"""Per-pixel figures: pixel-pixel correlation matrices and each pixel's energy spectrum."""

from __future__ import annotations

import math
from pathlib import Path

import matplotlib
import numpy as np
from matplotlib.artist import Artist
from matplotlib.axes import Axes
from matplotlib.image import AxesImage

from qcalo.exceptions import QcaloError
from qcalo.metrics.correlation import correlation_loss, pearson_matrix
from qcalo.metrics.histograms import _union_edges, separation_power
from qcalo.metrics.images import ImageBatch
from qcalo.report.style import (
    DENSITY_LABEL,
    LABEL_GEN,
    LABEL_REAL,
    STYLE,
    draw_pair_histograms,
    new_figure,
    numpy_pair,
    save_png,
)

__all__ = ["plot_correlation_matrices", "plot_pixel_distributions"]


def plot_correlation_matrices(
    x_real: ImageBatch,
    x_gen: ImageBatch,
    out: Path | str,
    *,
    label_real: str = LABEL_REAL,
    label_gen: str = LABEL_GEN,
) -> Path:
    """Pixel-pixel Pearson matrices: real | generated | generated − real.

    One colour scale from −1 to 1 (``RdBu_r``) for all three panels; values are written in
    the cells when there are at most 12 pixels. The title carries the correlation loss.

    Args:
        x_real: reference images, shape ``[m, d]``, ``m >= 2``.
        x_gen: generated images, shape ``[n, d]``, ``n >= 2``.
        out: PNG path to write.
        label_real: title of the reference panel.
        label_gen: title of the generated panel.

    Returns:
        ``out`` as a :class:`~pathlib.Path`.

    Raises:
        ShapeError: if the inputs are not 2-D, have < 2 events or differ in pixel count.
        QcaloError: on NaN/inf.
    """
    real, gen = numpy_pair(x_real, x_gen)
    matrices = (pearson_matrix(real), pearson_matrix(gen))
    matrices += (matrices[1] - matrices[0],)
    titles = (label_real, label_gen, "Generated − Real")
    loss = float(correlation_loss(gen, real))
    with matplotlib.rc_context(STYLE | {"axes.grid": False}):
        figure = new_figure((15.0, 5.0), layout="constrained")
        axes = figure.subplots(1, 3)
        for axis, matrix, panel_title in zip(axes, matrices, titles, strict=True):
            image = _draw_matrix(axis, matrix)
            axis.set_title(panel_title)
        figure.colorbar(image, ax=list(axes), shrink=0.85, label="Pearson ρ")
        figure.suptitle(f"Pixel–pixel correlations   (correlation loss = {loss:.2e})")
        return save_png(figure, out)


def plot_pixel_distributions(
    x_real: ImageBatch,
    x_gen: ImageBatch,
    out: Path | str,
    *,
    bins: int = 40,
    log_y: bool = False,
    unit_label: str = "pixel energy (scaled)",
    label_real: str = LABEL_REAL,
    label_gen: str = LABEL_GEN,
) -> Path:
    """One normalised histogram per pixel, real vs generated, in a grid of up to 4 columns.

    Each panel uses ``bins`` equal-width bins over both samples' range for that pixel and
    shows the separation power of the two histograms.

    Args:
        x_real: reference images, shape ``[m, d]``.
        x_gen: generated images, shape ``[n, d]``.
        out: PNG path to write.
        bins: bins per panel (≥ 1).
        log_y: log-scale y axes (useful for the tails).
        unit_label: x-axis label of the bottom row, with units.
        label_real: legend label of the reference sample.
        label_gen: legend label of the generated sample.

    Returns:
        ``out`` as a :class:`~pathlib.Path`.

    Raises:
        ShapeError: if the inputs are not 2-D or differ in pixel count.
        QcaloError: on NaN/inf or ``bins < 1``.
    """
    if bins < 1:
        raise QcaloError(f"bins={bins}; use at least 1 bin")
    real, gen = numpy_pair(x_real, x_gen)
    n_pixels = real.shape[1]
    n_cols = min(4, n_pixels)
    n_rows = math.ceil(n_pixels / n_cols)
    with matplotlib.rc_context(STYLE):
        figure = new_figure((3.4 * n_cols, 2.7 * n_rows + 0.7), layout="constrained")
        axes = figure.subplots(n_rows, n_cols, squeeze=False).ravel()
        for pixel, axis in enumerate(axes[:n_pixels]):
            handles = _draw_pixel_panel(
                axis, real[:, pixel], gen[:, pixel], bins, log_y, (label_real, label_gen)
            )
            axis.set_title(f"Pixel {pixel}")
            if pixel % n_cols == 0:
                axis.set_ylabel(DENSITY_LABEL)
            if pixel + n_cols >= n_pixels:
                axis.set_xlabel(unit_label)
        for axis in axes[n_pixels:]:
            axis.set_visible(False)
        figure.legend(handles=handles, loc="outside upper center", ncols=2)
        return save_png(figure, out)


def _draw_matrix(axis: Axes, matrix: np.ndarray) -> AxesImage:
    """Colour-coded ``[d, d]`` matrix on −1..1, annotated when ``d <= 12``."""
    size = matrix.shape[0]
    image = axis.imshow(matrix, cmap="RdBu_r", vmin=-1.0, vmax=1.0)
    ticks = np.arange(size) if size <= 16 else np.arange(0, size, max(1, size // 8))
    axis.set_xticks(ticks)
    axis.set_yticks(ticks)
    axis.set_xlabel("pixel")
    axis.set_ylabel("pixel")
    if size <= 12:
        font_size = 9 if size <= 8 else 7
        for (row, col), value in np.ndenumerate(matrix):
            colour = "white" if abs(value) > 0.6 else "black"
            axis.text(col, row, f"{value:.2f}", ha="center", va="center", fontsize=font_size,
                      color=colour)
    return image


def _draw_pixel_panel(
    axis: Axes,
    real: np.ndarray,
    gen: np.ndarray,
    n_bins: int,
    log_y: bool,
    labels: tuple[str, str],
) -> list[Artist]:
    """Histograms of one pixel, real vs generated, with the separation power in a corner.

    Returns:
        The legend handles, real first.
    """
    edges = _union_edges(real, gen, n_bins)
    real_counts = np.histogram(real, bins=edges)[0]
    gen_counts = np.histogram(gen, bins=edges)[0]
    handles = draw_pair_histograms(axis, edges, real_counts, gen_counts, *labels)
    separation = separation_power(gen, real, edges)
    axis.text(0.97, 0.95, f"S = {separation:.1e}", transform=axis.transAxes, ha="right",
              va="top", fontsize=8.5, bbox={"facecolor": "white", "alpha": 0.8, "lw": 0})
    if log_y:  # headroom above the peak for the S label: ×10 on a log axis
        axis.set_yscale("log")
        axis.set_ylim(top=axis.get_ylim()[1] * 10)
    else:
        axis.set_ylim(0, axis.get_ylim()[1] * 1.18)
    return handles
