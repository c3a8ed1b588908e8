"""``qcalo noise-study``: parse, then delegate to :mod:`qcalo.experiments.noise_study`."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from qcalo.exceptions import QcaloError

__all__ = ["noise_study"]


def _grid(text: str | None) -> list[float] | None:
    if text is None:
        return None
    try:
        return [float(part) for part in text.split(",") if part.strip()]
    except ValueError:
        raise QcaloError(f"--grid {text!r}; give comma-separated noise scales such as 0,0.5,1,2") from None


def noise_study(
    out: Annotated[Path, typer.Option("--out", "-o", help="Study folder (created; a rerun continues it).")],
    config: Annotated[
        str, typer.Option("--config", help="qag-clic8-adam (qcalo's recipe) or qag-clic8 (the seed's Table 1).")
    ] = "qag-clic8-adam",
    grid: Annotated[
        str | None, typer.Option("--grid", help="Noise scales x, comma-separated (default 0,0.25,…,2).")
    ] = None,
    repetitions: Annotated[int | None, typer.Option("--repetitions", help="Seeded repetitions per cell (default 30).")] = None,
    scheduler: Annotated[
        str | None, typer.Option("--scheduler", help="Address of a running Dask scheduler (default: a local cluster).")
    ] = None,
    workers: Annotated[int, typer.Option("--workers", help="Local cluster processes (1 thread each).")] = 2,
    quick: Annotated[
        bool, typer.Option("--quick", help="x ∈ {0, 1, 2}, 4 repetitions, 60-epoch trainings, 4 MMD sets.")
    ] = False,
    data: Annotated[Path | None, typer.Option("--data", help="Data folder (clic_8px_*.h5).")] = None,
    epochs: Annotated[int | None, typer.Option("--epochs", help="Training budget (default: the recipe's).")] = None,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress bar.")] = False,
) -> None:
    """Seed 000's noise study (Figure 6): QAG trained/evaluated under rescaled device noise, on Dask."""
    from qcalo.experiments.noise_study import check_study, make_spec, run_study
    from qcalo.experiments.noise_study_report import format_report

    try:
        settings = {} if epochs is None else {"epochs": epochs}
        spec = make_spec(config=config, grid=_grid(grid), repetitions=repetitions, quick=quick,
                         data=data, **settings)  # fmt: skip
        check_study(out, spec)  # another study's folder: refused before anything runs
        _check_data(spec)
        result = run_study(out, spec, scheduler=scheduler, workers=workers, progress=not quiet)
    except QcaloError as error:
        typer.echo(f"error: {error}", err=True)
        raise typer.Exit(2) from None
    except OSError as error:
        typer.echo(f"error: {error.filename or out}: {error.strerror or error}; check the path", err=True)
        raise typer.Exit(2) from None
    typer.echo(f"{result['done']} cells run, {result['skipped']} already done, {result['seconds']:.0f} s")
    if result["report"] is not None:
        typer.echo(format_report(result["report"]))
    if result["failed"]:
        typer.echo(f"{len(result['failed'])} cells failed (rerun to retry): " + "; ".join(result["failed"]), err=True)
        raise typer.Exit(1)


def _check_data(spec) -> None:
    """Load the data once here, so a bad --data is one line before any cluster starts."""
    import warnings

    from qcalo.data.clic import SyntheticDataWarning, load_clic

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", SyntheticDataWarning)
        load_clic(spec.data, n_pixels=8)
    for warning in caught:
        typer.echo(f"notice: {warning.message}", err=True)
