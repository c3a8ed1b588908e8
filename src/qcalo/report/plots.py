"""Talk-ready figures: training curves, energy sum, correlation matrices, pixel spectra.

Every ``plot_*`` function builds one :class:`matplotlib.figure.Figure` on an Agg canvas (no
pyplot, so no global figure state, no backend switch and nothing left open), writes one PNG at
150 dpi atomically (temporary file in the target folder, then ``os.replace``) and returns its
path. Colours follow the seed paper: real data in blue, generated in orange.
"""

from __future__ import annotations

import csv
import math
from collections.abc import Mapping, Sequence
from pathlib import Path

import matplotlib
import numpy as np
from matplotlib.artist import Artist
from matplotlib.axes import Axes
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.image import AxesImage

from qcalo.atomic import atomic_path
from qcalo.exceptions import QcaloError
from qcalo.metrics.correlation import correlation_loss, pearson_matrix
from qcalo.metrics.histograms import _union_edges, separation_power
from qcalo.metrics.images import ImageBatch, _as_events_pair

__all__ = [
    "REAL_COLOR",
    "GEN_COLOR",
    "LABEL_REAL",
    "LABEL_GEN",
    "read_metrics_csv",
    "plot_loss_curves",
    "plot_energy_sum",
    "plot_correlation_matrices",
    "plot_pixel_distributions",
]

REAL_COLOR = "#1f77b4"
"""Blue (matplotlib ``tab:blue``) for the reference (Geant4) sample."""
GEN_COLOR = "#ff7f0e"
"""Orange (matplotlib ``tab:orange``) for the generated sample."""
LABEL_REAL = "Real (Geant4)"
LABEL_GEN = "Generated (QAG)"

_DPI = 150
_STYLE = {
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
_DENSITY_LABEL = "density (unit area)"

_MONITORS: tuple[tuple[str, str, str], ...] = (
    ("mmd", "MMD", "#9467bd"),
    ("corr_loss", "Correlation loss", "#2ca02c"),
    ("mse", "MSE (mean image)", "#d62728"),
    ("chi2", "χ²/NDF (energy sum)", "#7f7f7f"),
)
"""(column suffix, legend label, colour) of the four training monitors."""
_MARKER_MAX_POINTS = 30
"""Curves with at most this many epochs also get point markers (a lone point is visible)."""


def read_metrics_csv(path: Path | str) -> dict[str, list[float]]:
    """Read a metrics CSV (header row, then one row per epoch) into columns.

    Args:
        path: CSV file written with a header, e.g. ``epoch,train_mmd,val_mmd,...``.

    Returns:
        Column name → values as floats, in file order; empty cells become ``nan``.

    Raises:
        QcaloError: if the file is missing or empty, a header repeats a name, a row has the
            wrong number of fields, or a cell is not a number.
    """
    source = Path(path)
    if not source.is_file():
        raise QcaloError(f"{source} does not exist; pass the run's metrics.csv")
    with source.open(newline="", encoding="utf-8") as stream:
        reader = csv.reader(stream)
        header = next(reader, None)
        if not header:
            raise QcaloError(f"{source} is empty; expected a header row of column names")
        if len(set(header)) != len(header):
            raise QcaloError(f"{source}: repeated column names in header {header}")
        columns: dict[str, list[float]] = {name: [] for name in header}
        for line_number, row in enumerate(reader, start=2):
            if not row:
                continue
            if len(row) != len(header):
                raise QcaloError(
                    f"{source}:{line_number}: {len(row)} fields but {len(header)} columns"
                )
            for name, cell in zip(header, row, strict=True):
                columns[name].append(_parse_cell(cell, where=f"{source}:{line_number}"))
    return columns


def plot_loss_curves(
    metrics: Mapping[str, Sequence[float]],
    out: Path | str,
    *,
    log_y: bool = True,
    smooth_window: int | None = None,
    title: str | None = "Training monitors",
) -> Path:
    """Training and validation monitors vs epoch, side by side (seed paper, Figure 3).

    Left panel: ``train_*`` columns, right panel: ``val_*`` columns, each showing MMD,
    correlation loss, MSE and χ²/NDF on one (log) y axis shared by both panels. A third panel
    shows ``loss`` when that column exists. Noisy curves are drawn faintly with a running mean
    on top. Non-positive values are left out of log axes.

    Args:
        metrics: column name → per-epoch values (e.g. from :func:`read_metrics_csv`); needs
            ``epoch`` and at least one of ``{train,val}_{mmd,corr_loss,mse,chi2}``.
        out: PNG path to write (parent folders are created).
        log_y: log-scale y axes.
        smooth_window: running-mean width in epochs; ``None`` picks ~1/40 of the epochs,
            1 turns smoothing off.
        title: figure title, or ``None``.

    Returns:
        ``out`` as a :class:`~pathlib.Path`.

    Raises:
        QcaloError: if ``epoch`` or every monitor column is missing, or columns differ in
            length from ``epoch``.
    """
    epochs = _epoch_column(metrics)
    window = smooth_window if smooth_window is not None else max(1, len(epochs) // 40)
    if window < 1:
        raise QcaloError(f"smooth_window={smooth_window}; use >= 1 (1 = no smoothing)")
    panels = [("train", "Training"), ("val", "Validation")]
    has_loss = "loss" in metrics
    with matplotlib.rc_context(_STYLE):
        figure = _new_figure((13.5 if has_loss else 10.0, 4.8), layout="constrained")
        axes = figure.subplots(1, len(panels) + has_loss, squeeze=False)[0]
        axes[1].sharey(axes[0])
        for axis, (prefix, name) in zip(axes, panels, strict=False):
            _draw_monitors(axis, metrics, epochs, prefix=prefix, window=window, log_y=log_y)
            axis.set_title(name)
        if has_loss:
            _draw_curve(axes[2], epochs, metrics["loss"], "loss", "black", window, log_y)
            axes[2].set_title("Training loss")
            axes[2].set_ylabel("loss")
        axes[0].set_ylabel("monitor value")
        for axis in axes:
            axis.set_xlabel("epoch")
            if epochs[-1] > epochs[0]:
                axis.set_xlim(epochs[0], epochs[-1])
        handles, labels = _monitor_legend_entries(axes[:2])
        figure.legend(handles, labels, loc="outside lower center", ncols=len(handles))
        if title:
            # Rows are the monitored epochs (every ``monitor_every``), so say what one point spans.
            step = int(np.median(np.diff(epochs))) if len(epochs) > 1 else 1
            every = "per epoch" if step <= 1 else f"every {step} epochs"
            smoothing = f"   (faint: {every}, bold: running mean over {window * max(step, 1)} epochs)"
            figure.suptitle(title + (smoothing if window > 1 else ""))
        return _save_png(figure, out)


def plot_energy_sum(
    x_real: ImageBatch,
    x_gen: ImageBatch,
    out: Path | str,
    *,
    bins: int = 50,
    unit_label: str = "Σ pixel energy (scaled)",
    label_real: str = LABEL_REAL,
    label_gen: str = LABEL_GEN,
) -> Path:
    """Energy-sum (row-sum) distributions with a generated/real ratio panel.

    Top: normalised histograms, real as a blue step line, generated as a filled orange area,
    on ``bins`` equal-width bins over both samples' range; the separation power of the two
    (as :func:`~qcalo.metrics.energy_sum_separation`) is in the legend. Bottom: the ratio
    generated/real per bin with its statistical (√N) error.

    Args:
        x_real: reference images, shape ``[m, d]``.
        x_gen: generated images, shape ``[n, d]``.
        out: PNG path to write.
        bins: number of bins (≥ 1).
        unit_label: x-axis label, with units.
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
    real, gen = _numpy_pair(x_real, x_gen)
    real_sums, gen_sums = real.sum(axis=1), gen.sum(axis=1)
    edges = _union_edges(real_sums, gen_sums, bins)
    real_counts = np.histogram(real_sums, bins=edges)[0]
    gen_counts = np.histogram(gen_sums, bins=edges)[0]
    separation = separation_power(gen_sums, real_sums, edges)
    with matplotlib.rc_context(_STYLE):
        figure = _new_figure((6.8, 6.2), layout="constrained")
        figure.get_layout_engine().set(hspace=0.0, h_pad=0.02)
        top, bottom = figure.subplots(2, 1, sharex=True, height_ratios=(3, 1))
        handles = _draw_pair_histograms(top, edges, real_counts, gen_counts, label_real, label_gen)
        top.set_ylabel(_DENSITY_LABEL)
        top.legend(
            handles=handles, title=f"separation power S = {separation:.2e}", loc="upper left"
        )
        top.set_title("Energy sum per event")
        top.set_ylim(0, top.get_ylim()[1] * 1.25)
        _draw_ratio(bottom, edges, real_counts, gen_counts)
        bottom.set_xlabel(unit_label)
        return _save_png(figure, out)


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
    real, gen = _numpy_pair(x_real, x_gen)
    matrices = (pearson_matrix(real), pearson_matrix(gen))
    matrices += (matrices[1] - matrices[0],)
    titles = (label_real, label_gen, "Generated − Real")
    loss = float(correlation_loss(gen, real))
    with matplotlib.rc_context(_STYLE | {"axes.grid": False}):
        figure = _new_figure((15.0, 5.0), layout="constrained")
        axes = figure.subplots(1, 3)
        for axis, matrix, panel_title in zip(axes, matrices, titles, strict=True):
            image = _draw_matrix(axis, matrix)
            axis.set_title(panel_title)
        figure.colorbar(image, ax=list(axes), shrink=0.85, label="Pearson ρ")
        figure.suptitle(f"Pixel–pixel correlations   (correlation loss = {loss:.2e})")
        return _save_png(figure, out)


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
    real, gen = _numpy_pair(x_real, x_gen)
    n_pixels = real.shape[1]
    n_cols = min(4, n_pixels)
    n_rows = math.ceil(n_pixels / n_cols)
    with matplotlib.rc_context(_STYLE):
        figure = _new_figure((3.4 * n_cols, 2.7 * n_rows + 0.7), layout="constrained")
        axes = figure.subplots(n_rows, n_cols, squeeze=False).ravel()
        for pixel, axis in enumerate(axes[:n_pixels]):
            handles = _draw_pixel_panel(
                axis, real[:, pixel], gen[:, pixel], bins, log_y, (label_real, label_gen)
            )
            axis.set_title(f"Pixel {pixel}")
            if pixel % n_cols == 0:
                axis.set_ylabel(_DENSITY_LABEL)
            if pixel + n_cols >= n_pixels:
                axis.set_xlabel(unit_label)
        for axis in axes[n_pixels:]:
            axis.set_visible(False)
        figure.legend(handles=handles, loc="outside upper center", ncols=2)
        return _save_png(figure, out)


def _new_figure(size: tuple[float, float], *, layout: str | None = None) -> Figure:
    """A figure of ``size`` inches on its own Agg canvas (not registered with pyplot)."""
    figure = Figure(figsize=size, dpi=_DPI, layout=layout)
    FigureCanvasAgg(figure)
    return figure


def _save_png(figure: Figure, out: Path | str) -> Path:
    """Write ``figure`` as PNG to ``out`` atomically and release its artists."""
    target = Path(out)
    try:
        with atomic_path(target) as temporary:
            figure.savefig(temporary, format="png", dpi=_DPI)
    finally:
        figure.clear()
    return target


def _parse_cell(cell: str, *, where: str) -> float:
    """A CSV cell as float; empty → ``nan``."""
    text = cell.strip()
    if not text:
        return math.nan
    try:
        return float(text)
    except ValueError:
        raise QcaloError(f"{where}: {cell!r} is not a number") from None


def _epoch_column(metrics: Mapping[str, Sequence[float]]) -> np.ndarray:
    """The ``epoch`` column as floats, after checking the monitor columns against it."""
    if "epoch" not in metrics:
        raise QcaloError(f"metrics has no 'epoch' column (columns: {sorted(metrics)})")
    epochs = np.asarray(metrics["epoch"], dtype=np.float64)
    if epochs.size == 0:
        raise QcaloError("metrics has no rows; train for at least one epoch first")
    wanted = [f"{p}_{key}" for p in ("train", "val") for key, _, _ in _MONITORS] + ["loss"]
    present = [name for name in wanted if name in metrics]
    if not any(name != "loss" for name in present):
        raise QcaloError(f"metrics has none of the monitor columns {wanted[:-1]}")
    for name in present:
        if len(metrics[name]) != epochs.size:
            raise QcaloError(f"column {name!r} has {len(metrics[name])} rows, epoch {epochs.size}")
    return epochs


def _draw_monitors(
    axis: Axes,
    metrics: Mapping[str, Sequence[float]],
    epochs: np.ndarray,
    *,
    prefix: str,
    window: int,
    log_y: bool,
) -> None:
    """Draw every ``{prefix}_{monitor}`` column present onto ``axis``, with a legend."""
    for key, label, colour in _MONITORS:
        column = f"{prefix}_{key}"
        if column in metrics:
            _draw_curve(axis, epochs, metrics[column], label, colour, window, log_y)
    if not axis.get_legend_handles_labels()[0]:
        axis.text(0.5, 0.5, f"no {prefix}_* columns", transform=axis.transAxes, ha="center")


def _monitor_legend_entries(axes: Sequence[Axes]) -> tuple[list[Artist], list[str]]:
    """Unique labelled curves of ``axes``, in monitor order, for one shared legend."""
    entries: dict[str, Artist] = {}
    for axis in axes:
        for handle, label in zip(*axis.get_legend_handles_labels(), strict=True):
            entries.setdefault(label, handle)
    order = [label for _, label, _ in _MONITORS if label in entries]
    return [entries[label] for label in order], order


def _draw_curve(
    axis: Axes,
    epochs: np.ndarray,
    values: Sequence[float],
    label: str,
    colour: str,
    window: int,
    log_y: bool,
) -> None:
    """One monitor: faint raw curve plus its running mean (if ``window > 1``)."""
    series = np.asarray(values, dtype=np.float64)
    if log_y:
        series = np.where(series > 0, series, np.nan)
        axis.set_yscale("log")
    if window == 1 or series.size < 2 * window:
        marker = "o" if series.size <= _MARKER_MAX_POINTS else None
        axis.plot(epochs, series, color=colour, lw=1.4, marker=marker, ms=4, label=label)
        return
    axis.plot(epochs, series, color=colour, lw=0.7, alpha=0.3)
    axis.plot(epochs, _running_mean(series, window), color=colour, lw=1.8, label=label)


def _running_mean(series: np.ndarray, window: int) -> np.ndarray:
    """Centred running mean over ``window`` points, ignoring NaN; same length as ``series``."""
    valid = np.isfinite(series)
    kernel = np.ones(window)
    sums = np.convolve(np.where(valid, series, 0.0), kernel, mode="same")
    counts = np.convolve(valid.astype(np.float64), kernel, mode="same")
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(counts > 0, sums / counts, np.nan)


def _numpy_pair(x_real: ImageBatch, x_gen: ImageBatch) -> tuple[np.ndarray, np.ndarray]:
    """Both image batches checked and as detached float64 numpy arrays."""
    real, gen, _ = _as_events_pair(x_real, x_gen, names=("x_real", "x_gen"))
    return real.detach().cpu().double().numpy(), gen.detach().cpu().double().numpy()


def _draw_pair_histograms(
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


def _draw_ratio(
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
    handles = _draw_pair_histograms(axis, edges, real_counts, gen_counts, *labels)
    separation = separation_power(gen, real, edges)
    axis.text(0.97, 0.95, f"S = {separation:.1e}", transform=axis.transAxes, ha="right",
              va="top", fontsize=8.5, bbox={"facecolor": "white", "alpha": 0.8, "lw": 0})
    if log_y:  # headroom above the peak for the S label: ×10 on a log axis
        axis.set_yscale("log")
        axis.set_ylim(top=axis.get_ylim()[1] * 10)
    else:
        axis.set_ylim(0, axis.get_ylim()[1] * 1.18)
    return handles
