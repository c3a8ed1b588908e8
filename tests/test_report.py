"""Tests for qcalo.report: every figure is one complete PNG, written atomically."""

from __future__ import annotations

import csv
import math
from pathlib import Path

import numpy as np
import pytest
import torch

from qcalo.exceptions import QcaloError, ShapeError
from qcalo.report import (
    plot_correlation_matrices,
    plot_energy_sum,
    plot_loss_curves,
    plot_pixel_distributions,
    read_metrics_csv,
)

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
MONITOR_COLUMNS = [
    f"{prefix}_{monitor}"
    for prefix in ("train", "val")
    for monitor in ("mmd", "corr_loss", "mse", "chi2")
]


def _showers(n: int, d: int = 8, *, seed: int = 0) -> np.ndarray:
    """Positive, correlated toy images ``[n, d]`` with a shower-like mean profile."""
    rng = np.random.default_rng(seed)
    profile = np.sin(np.linspace(0.2, 3.0, d)) * 0.3 + 0.05
    shower_start = rng.normal(0.0, 1.0, size=(n, 1))
    return np.abs(profile * (1 + 0.15 * shower_start * np.linspace(1, -1, d))
                  + rng.normal(0, 0.02, size=(n, d)))


def _metrics(n_epochs: int, *, with_loss: bool) -> dict[str, list[float]]:
    """Decaying noisy monitor curves as a metrics dict."""
    rng = np.random.default_rng(1)
    epochs = np.arange(1, n_epochs + 1)
    metrics = {"epoch": epochs.tolist()}
    for offset, column in enumerate(MONITOR_COLUMNS):
        decay = 10.0 ** (-offset % 4) * np.exp(-epochs / 50) * rng.lognormal(0, 0.3, n_epochs)
        metrics[column] = (decay + 1e-3).tolist()
    if with_loss:
        metrics["loss"] = metrics["train_mmd"]
    return metrics


def _assert_single_png(path: Path, folder: Path) -> None:
    """``path`` is a non-empty PNG and the only file in ``folder`` (no temp left behind)."""
    assert path.read_bytes()[:8] == PNG_MAGIC
    assert path.stat().st_size > 10_000
    assert sorted(p.name for p in folder.iterdir()) == [path.name]


@pytest.mark.parametrize("with_loss", [False, True], ids=["monitors", "monitors+loss"])
def test_plot_loss_curves_writes_png(tmp_path, with_loss):
    """Train/val monitor panels (plus a loss panel) → one PNG at the given path."""
    out = tmp_path / "loss.png"
    assert plot_loss_curves(_metrics(120, with_loss=with_loss), out) == out
    _assert_single_png(out, tmp_path)


def test_plot_loss_curves_accepts_partial_columns_and_nan(tmp_path):
    """Only some monitors, a NaN and a zero (off the log axis) still plot."""
    metrics = {"epoch": [0, 1, 2, 3], "val_chi2": [5.0, math.nan, 0.0, 2.0]}
    out = plot_loss_curves(metrics, tmp_path / "partial.png", smooth_window=1, title=None)
    _assert_single_png(out, tmp_path)


def test_plot_loss_curves_refuses_bad_metrics(tmp_path):
    """No epoch column, no monitor column, or a column of the wrong length."""
    with pytest.raises(QcaloError, match="'epoch'"):
        plot_loss_curves({"train_mmd": [1.0]}, tmp_path / "a.png")
    with pytest.raises(QcaloError, match="none of the monitor"):
        plot_loss_curves({"epoch": [1, 2], "lr": [0.1, 0.1]}, tmp_path / "b.png")
    with pytest.raises(QcaloError, match="rows"):
        plot_loss_curves({"epoch": [1, 2, 3], "val_mmd": [0.1, 0.2]}, tmp_path / "c.png")
    assert list(tmp_path.iterdir()) == []


def test_plot_energy_sum_writes_png_and_overwrites(tmp_path):
    """Histogram + ratio panel; an existing file is replaced, torch input is accepted."""
    out = tmp_path / "energy.png"
    out.write_bytes(b"old")
    real, gen = _showers(800), _showers(600, seed=1) * 1.02
    assert plot_energy_sum(real, torch.from_numpy(gen), out, bins=30) == out
    _assert_single_png(out, tmp_path)


def test_plot_correlation_matrices_writes_png(tmp_path):
    """Real | generated | difference panels for d = 8 (annotated)."""
    out = plot_correlation_matrices(_showers(500), _showers(400, seed=2), tmp_path / "c.png",
                                    label_gen="Generated (toy)")
    _assert_single_png(out, tmp_path)


def test_plot_pixel_distributions_writes_png_for_uneven_grid(tmp_path):
    """d = 6 → 2 × 4 grid with two hidden panels, log y."""
    out = plot_pixel_distributions(_showers(500, 6), _showers(400, 6, seed=3),
                                   tmp_path / "sub" / "pixels.png", log_y=True, bins=20)
    assert out.parent.name == "sub"
    _assert_single_png(out, tmp_path / "sub")


def test_plots_refuse_mismatched_images_before_writing(tmp_path):
    """Different pixel counts are a ShapeError and leave no file at all."""
    for plot in (plot_energy_sum, plot_correlation_matrices, plot_pixel_distributions):
        with pytest.raises(ShapeError):
            plot(_showers(50, 8), _showers(50, 6), tmp_path / "x.png")
    assert list(tmp_path.iterdir()) == []


def test_plots_leave_no_pyplot_figures_open(tmp_path):
    """The figures never enter pyplot's registry, so nothing accumulates in long runs."""
    plt = pytest.importorskip("matplotlib.pyplot")
    plot_correlation_matrices(_showers(100, 4), _showers(100, 4, seed=1), tmp_path / "c.png")
    assert plt.get_fignums() == []


def test_read_metrics_csv_round_trip(tmp_path):
    """Columns written with csv come back as floats; empty cells become nan."""
    metrics = _metrics(5, with_loss=True)
    path = tmp_path / "metrics.csv"
    with path.open("w", newline="") as stream:
        writer = csv.writer(stream)
        writer.writerow(metrics)
        writer.writerows(zip(*metrics.values(), strict=True))
    with path.open("a", newline="") as stream:
        csv.writer(stream).writerow([6] + [""] * (len(metrics) - 1))
    columns = read_metrics_csv(path)
    assert list(columns) == list(metrics)
    for name, values in metrics.items():
        assert columns[name][:5] == pytest.approx(values, rel=1e-15)
    assert columns["epoch"][5] == 6.0 and math.isnan(columns["val_chi2"][5])


def test_read_metrics_csv_refuses_bad_files(tmp_path):
    """Missing file, empty file, ragged row, non-numeric cell."""
    with pytest.raises(QcaloError, match="does not exist"):
        read_metrics_csv(tmp_path / "missing.csv")
    cases = {"empty.csv": "", "ragged.csv": "epoch,val_mmd\n1,0.1\n2\n",
             "text.csv": "epoch,val_mmd\n1,abc\n"}
    for name, text in cases.items():
        (tmp_path / name).write_text(text)
        with pytest.raises(QcaloError):
            read_metrics_csv(tmp_path / name)


def test_gan_replicas_average_runs_that_differ_only_in_seed() -> None:
    from qcalo.report.table import gan_replicas

    def run(name: str, seed: int, test: float, *, layers=(50, 200), iterations: int = 1000) -> tuple:
        config = {"seed": seed, "iterations": iterations, "quantum": None, "generator_layers": list(layers)}
        return Path(name), config, {"test_chi2_ndf": test, "best_select_chi2_ndf": test / 2, "test_chi2_ndf_draws_mean": test + 1}

    # one recipe three times (different seeds and iteration caps), another once: only the first is averaged
    text = gan_replicas([run("a", 0, 2.0), run("b", 1, 3.0, iterations=5), run("c", 2, 4.0), run("d", 0, 9.0, layers=(100,))])
    assert "(a, b, c)" in text and "d)" not in text
    row = text.splitlines()[-1]
    # mean 3.0, sd 1.0, se 1/√3; selection mean 1.5 ± 0.29
    assert "3.00 ± 0.58" in row and "1.00" in row and "2.00–4.00" in row and "1.50 ± 0.29" in row and "0,1,2" in row
    assert "4.00 ± 0.58" in row  # the mean over generated test draws, averaged over seeds too
    assert gan_replicas([run("a", 0, 2.0), run("d", 1, 9.0, layers=(100,))]) == ""  # no recipe twice


def test_gan_replicas_count_a_seed_once() -> None:
    """A rerun with the same seed shares the data draw and initial weights: it is named, not averaged."""
    from qcalo.report.table import gan_replicas

    def run(name: str, seed: int, test: float) -> tuple:
        config = {"seed": seed, "iterations": 1000, "quantum": None, "generator_layers": [50, 200]}
        return Path(name), config, {"test_chi2_ndf": test, "best_select_chi2_ndf": test}

    only_reruns = gan_replicas([run("a", 0, 2.0), run("a-again", 0, 2.1)])  # one seed twice: no replicas, said so
    assert only_reruns.startswith("replicas: none") and "a-again (seed 0, as a)" in only_reruns and "\n" not in only_reruns
    text = gan_replicas([run("a", 0, 2.0), run("a-again", 0, 9.0), run("b", 1, 4.0)])
    lines = text.splitlines()
    row = next(line for line in lines if "(a, b)" in line)
    assert "3.00 ± 1.00" in row and "0,1" in row  # 9.0 is not in the mean
    assert "–" in row  # these summaries predate the mean over generated test draws: not averaged from nothing
    assert lines[-1].startswith("left out") and "a-again (seed 0, as a)" in lines[-1]
