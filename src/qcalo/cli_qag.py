"""``qcalo train qag`` and ``qcalo evaluate``: parse, then delegate to ``qcalo.train``."""

from __future__ import annotations

import json
import warnings
from pathlib import Path
from typing import Optional

import typer

from qcalo.exceptions import QcaloError

__all__ = ["train_app", "evaluate"]

train_app = typer.Typer(no_args_is_help=True, add_completion=False, pretty_exceptions_enable=False)


def _fail(error: Exception) -> typer.Exit:
    typer.echo(f"error: {error}", err=True)
    return typer.Exit(2)


def _config_path(config: Optional[Path]) -> Optional[Path]:
    """A YAML path as given, or a packaged config by name (``qag-clic8-adam``)."""
    from qcalo.configs import default_config_path

    if config is None or config.suffix or config.exists():
        return config
    packaged = default_config_path(str(config))
    return packaged if packaged.is_file() else config


def _load_data(data: Optional[Path], n_pixels: int):  # noqa: ANN202 - lazy import of the type
    from qcalo.data.clic import SyntheticDataWarning, load_clic

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", SyntheticDataWarning)
        splits = load_clic(data, n_pixels=n_pixels)
    for warning in caught:
        typer.echo(f"notice: {warning.message}", err=True)
    return splits


@train_app.callback()
def _train() -> None:
    """Train a model; writes a run directory."""


@train_app.command("qag")
def train_qag_command(
    out: Path = typer.Option(Path("runs/qag"), "--out", "-o", help="Run directory to create (or resume)."),
    config: Optional[Path] = typer.Option(None, "--config", "-c", help="YAML config, or a packaged name: qag-clic8 (seed 000 Table 1, default) or qag-clic8-adam."),
    data: Optional[Path] = typer.Option(None, "--data", help="Folder with clic_8px_{train,val,test}.h5 (else $QCALO_DATA, else the cache dir)."),
    ansatz: Optional[str] = typer.Option(None, help="clic8, mera-up or hea."),
    n_layers: Optional[int] = typer.Option(None, "--layers", help="Ansatz depth."),
    epochs: Optional[int] = typer.Option(None, help="Epochs (objective evaluations / updates)."),
    images: Optional[int] = typer.Option(None, help="k images per epoch."),
    shots: Optional[int] = typer.Option(None, help="Shots per image."),
    sigma2: Optional[float] = typer.Option(None, "--sigma2", help="Variance of the randomizing angles."),
    optimizer: Optional[str] = typer.Option(None, help="cobyla (gradient-free) or adam (exact gradients)."),
    corr_weight: Optional[float] = typer.Option(None, "--corr-weight", help="λ for an added correlation loss."),
    seed: Optional[int] = typer.Option(None, help="Seed of everything random in the run."),
    resume: bool = typer.Option(False, "--resume", help="Continue the run in --out from its checkpoint."),
    overwrite: bool = typer.Option(False, "--overwrite", help="Replace an existing run in --out."),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="No progress bar."),
) -> None:
    """Train a Quantum Angle Generator on CLIC showers by MMD; print the run directory."""
    from qcalo.configs import load_qag_config
    from qcalo.train.qag import train_qag

    try:
        if resume and not (out / "checkpoint.json").is_file():
            raise QcaloError(f"{out} holds no run to resume (no checkpoint.json); train without --resume")
        source = out / "config.yaml" if resume and config is None else _config_path(config)
        settings = load_qag_config(
            source, ansatz=ansatz, n_layers=n_layers, epochs=epochs, images=images, shots=shots,
            sigma2=sigma2, optimizer=optimizer, corr_weight=corr_weight, seed=seed,
        )  # fmt: skip
        splits = _load_data(data, settings.n_pixels)
        with _progress(settings.epochs, quiet) as report:
            result = train_qag(settings, splits, out, resume=resume, overwrite=overwrite, progress=report)
    except QcaloError as error:
        raise _fail(error) from None
    typer.echo(
        f"trained {settings.ansatz} QAG ({result.epochs_done} epochs, {result.train_seconds:.1f} s, "
        f"final loss {result.final_loss:.3g}; {result.stop_reason}) -> {result.run_dir}"
    )


def evaluate(
    run_dir: Path = typer.Argument(..., help="A run directory written by `qcalo train qag`."),
    data: Optional[Path] = typer.Option(None, "--data", help="Data folder (as for training)."),
    n_eval: int = typer.Option(250, "--n-eval", min=10, help="Images per MMD set."),
    n_sets: int = typer.Option(30, "--sets", min=2, help="Independent generated sets."),
    n_large: int = typer.Option(20000, "--n-large", min=100, help="Images for correlation loss, separation power and figures."),
    seed: int = typer.Option(0, help="Seed of generation and subset draws."),
    no_figures: bool = typer.Option(False, "--no-figures", help="Skip the PNG figures."),
    as_json: bool = typer.Option(False, "--json", help="Print summary.json to stdout."),
) -> None:
    """Score a trained run on the test set (MMD vs the real-vs-real floor) and draw its figures."""
    from qcalo.train.evaluate import evaluate_run, format_summary
    from qcalo.train.qag import model_from_run

    try:
        _model, _weights, _codec, config = model_from_run(run_dir)
        splits = _load_data(data, config.n_pixels)
        summary = evaluate_run(run_dir, splits, n_eval=n_eval, n_sets=n_sets, n_large=n_large, seed=seed, figures=not no_figures)
    except QcaloError as error:
        raise _fail(error) from None
    if as_json:
        typer.echo(json.dumps(summary, indent=2))
        return
    typer.echo(format_summary(summary))
    for name in summary.get("figures", []):
        typer.echo(f"figure: {Path(run_dir) / name}")
    typer.echo(f"summary: {Path(run_dir) / 'summary.json'}")


class _progress:
    """A rich progress bar over epochs (silent with ``quiet``)."""

    def __init__(self, total: int, quiet: bool) -> None:
        self.total, self.quiet, self.bar = total, quiet, None

    def __enter__(self):  # noqa: ANN204
        if self.quiet:
            return None
        from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

        self.bar = Progress(
            TextColumn("training"), BarColumn(), TextColumn("{task.completed}/{task.total} epochs"),
            TextColumn("loss {task.fields[loss]}"), TimeElapsedColumn(), TimeRemainingColumn(),
            transient=False,
        )  # fmt: skip
        self.bar.start()
        self.task = self.bar.add_task("train", total=self.total, loss="-")
        return self._update

    def _update(self, epoch: int, loss: float) -> None:
        self.bar.update(self.task, completed=epoch + 1, loss=f"{loss:.3g}")

    def __exit__(self, *exc: object) -> None:
        if self.bar is not None:
            self.bar.stop()
