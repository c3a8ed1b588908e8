"""Figures and tables for talks and papers (matplotlib, Agg, PNG at 150 dpi)."""

from __future__ import annotations

from qcalo.report.plots import (
    GEN_COLOR,
    LABEL_GEN,
    LABEL_REAL,
    REAL_COLOR,
    plot_correlation_matrices,
    plot_energy_sum,
    plot_loss_curves,
    plot_pixel_distributions,
    read_metrics_csv,
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
