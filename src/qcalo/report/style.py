"""Shared look of qcalo's figures: colours, rcParams, the Agg figure factory and the atomic PNG writer.

Every figure is built on its own Agg canvas (no pyplot: no global figure state, no backend switch,
nothing left open) and written as one PNG at 150 dpi through :mod:`qcalo.atomic`. Colours follow
the seed paper: real data in blue, generated in orange.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from matplotlib.artist import Artist
from matplotlib.axes import Axes
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from qcalo.atomic import atomic_path
from qcalo.metrics.images import ImageBatch, _as_events_pair

__all__ = [
    "DENSITY_LABEL",
    "DPI",
    "GEN_COLOR",
    "LABEL_GEN",
    "LABEL_REAL",
    "REAL_COLOR",
    "STYLE",
    "draw_pair_histograms",
    "draw_ratio",
    "new_figure",
    "numpy_pair",
    "save_png",
]

REAL_COLOR = "#1f77b4"
"""Blue (matplotlib ``tab:blue``) for the reference (Geant4) sample."""
GEN_COLOR = "#ff7f0e"
"""Orange (matplotlib ``tab:orange``) for the generated sample."""
LABEL_REAL = "Real (Geant4)"
LABEL_GEN = "Generated (QAG)"

DPI = 150
STYLE = {
    "font.size": 11,
    "axes.titlesize": 12,
    "axes.labelsize": 11,
    "xtick.labelsize": 9.5,
    "ytick.labelsize": 9.5,
    "legend.fontsize": 9.5,
    "figure.titlesize": 13,
    "axes.grid": True,
    "grid.alpha": 0.25,
}
"""rcParams applied while a figure is built and saved."""
DENSITY_LABEL = "density (unit area)"


def new_figure(size: tuple[float, float], *, layout: str | None = None) -> Figure:
    """A figure of ``size`` inches on its own Agg canvas (not registered with pyplot)."""
    figure = Figure(figsize=size, dpi=DPI, layout=layout)
    FigureCanvasAgg(figure)
    return figure


def save_png(figure: Figure, out: Path | str) -> Path:
    """Write ``figure`` as PNG to ``out`` atomically and release its artists."""
    target = Path(out)
    try:
        with atomic_path(target) as temporary:
            figure.savefig(temporary, format="png", dpi=DPI)
    finally:
        figure.clear()
    return target


def numpy_pair(x_real: ImageBatch, x_gen: ImageBatch) -> tuple[np.ndarray, np.ndarray]:
    """Both image batches checked and as detached float64 numpy arrays."""
    real, gen, _ = _as_events_pair(x_real, x_gen, names=("x_real", "x_gen"))
    return real.detach().cpu().double().numpy(), gen.detach().cpu().double().numpy()


def draw_pair_histograms(
    axis: Axes,
    edges: np.ndarray,
    real_counts: np.ndarray,
    gen_counts: np.ndarray,
    label_real: str,
    label_gen: str,
) -> list[Artist]:
    """Unit-area histograms: generated filled orange, real as a blue step line on top.

    Returns:
        The legend handles, real first.
    """
    widths = np.diff(edges)
    gen_density = gen_counts / max(gen_counts.sum(), 1) / widths
    real_density = real_counts / max(real_counts.sum(), 1) / widths
    gen_handle = axis.stairs(gen_density, edges, fill=True, color=GEN_COLOR, alpha=0.45,
                             label=label_gen)
    axis.stairs(gen_density, edges, color=GEN_COLOR, lw=1.0)
    real_handle = axis.stairs(real_density, edges, color=REAL_COLOR, lw=1.8, label=label_real)
    return [real_handle, gen_handle]


def draw_ratio(
    axis: Axes, edges: np.ndarray, real_counts: np.ndarray, gen_counts: np.ndarray
) -> None:
    """Generated/real ratio of unit-area histograms with √N errors of both."""
    centres = 0.5 * (edges[1:] + edges[:-1])
    real_norm = real_counts / max(real_counts.sum(), 1)
    gen_norm = gen_counts / max(gen_counts.sum(), 1)
    shown = (real_counts > 0) & (gen_counts > 0)
    ratio = gen_norm[shown] / real_norm[shown]
    error = ratio * np.sqrt(1.0 / gen_counts[shown] + 1.0 / real_counts[shown])
    axis.axhline(1.0, color=REAL_COLOR, lw=1.2)
    axis.errorbar(centres[shown], ratio, yerr=error, fmt="o", ms=3, color=GEN_COLOR, lw=1)
    low = min(0.5, float(np.min(ratio, initial=1.0)) - 0.1)
    high = max(1.5, float(np.max(ratio, initial=1.0)) + 0.1)
    axis.set_ylim(max(low, 0.0), min(high, 2.5))
    axis.set_ylabel("gen / real")
