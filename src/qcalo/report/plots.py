"""Talk-ready figures of a run: training curves and the energy sum (style in :mod:`qcalo.report.style`).

Every ``plot_*`` function builds one figure, writes one PNG atomically and returns its path.
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

from qcalo.exceptions import QcaloError
from qcalo.metrics.histograms import _union_edges, separation_power
from qcalo.metrics.images import ImageBatch
from qcalo.report.pixel_plots import plot_correlation_matrices, plot_pixel_distributions
from qcalo.report.style import (
    DENSITY_LABEL,
    GEN_COLOR,
    LABEL_GEN,
    LABEL_REAL,
    REAL_COLOR,
    STYLE,
    draw_pair_histograms,
    draw_ratio,
    new_figure,
    numpy_pair,
    save_png,
)

__all__ = [
    "GEN_COLOR",
    "LABEL_GEN",
    "LABEL_REAL",
    "REAL_COLOR",
    "plot_correlation_matrices",
    "plot_energy_sum",
    "plot_loss_curves",
    "plot_pixel_distributions",
    "read_metrics_csv",
]

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
    with matplotlib.rc_context(STYLE):
        figure = new_figure((13.5 if has_loss else 10.0, 4.8), layout="constrained")
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
        return save_png(figure, out)


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
    real, gen = numpy_pair(x_real, x_gen)
    real_sums, gen_sums = real.sum(axis=1), gen.sum(axis=1)
    edges = _union_edges(real_sums, gen_sums, bins)
    real_counts = np.histogram(real_sums, bins=edges)[0]
    gen_counts = np.histogram(gen_sums, bins=edges)[0]
    separation = separation_power(gen_sums, real_sums, edges)
    with matplotlib.rc_context(STYLE):
        figure = new_figure((6.8, 6.2), layout="constrained")
        figure.get_layout_engine().set(hspace=0.0, h_pad=0.02)
        top, bottom = figure.subplots(2, 1, sharex=True, height_ratios=(3, 1))
        handles = draw_pair_histograms(top, edges, real_counts, gen_counts, label_real, label_gen)
        top.set_ylabel(DENSITY_LABEL)
        top.legend(
            handles=handles, title=f"separation power S = {separation:.2e}", loc="upper left"
        )
        top.set_title("Energy sum per event")
        top.set_ylim(0, top.get_ylim()[1] * 1.25)
        draw_ratio(bottom, edges, real_counts, gen_counts)
        bottom.set_xlabel(unit_label)
        return save_png(figure, out)


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

