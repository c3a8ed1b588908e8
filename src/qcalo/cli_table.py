"""``qcalo table RUN…``: parse, then delegate to :mod:`qcalo.report.table`."""

from __future__ import annotations

from pathlib import Path

import typer

from qcalo.exceptions import QcaloError

__all__ = ["table"]


def table(
    runs: list[Path] = typer.Argument(..., help="Evaluated run directories (each with summary.json)."),
    figure: Path | None = typer.Option(None, "--figure", help="GAN runs: also draw χ²/NDF against iteration and wall time (PNG)."),
) -> None:
    """Print finished runs side by side (QAG: MMD/floor and the Gaussian baseline at each n; GAN: seed 001's table)."""
    import yaml

    from qcalo.report.table import gan_replicas, gan_table, qag_table
    from qcalo.train.rundir import read_json

    try:
        rows = []
        for run_dir in runs:
            if not run_dir.is_dir():
                raise QcaloError(f"{run_dir} is not a run directory; give the --out of a finished qcalo train run")
            if not (run_dir / "summary.json").is_file():
                raise QcaloError(f"{run_dir} has no summary.json; evaluate it first: qcalo evaluate {run_dir}")
            summary = read_json(run_dir / "summary.json")
            if summary.get("kind") == "gan" and (run_dir / "train_summary.json").is_file():
                summary["train"] = read_json(run_dir / "train_summary.json")
            if summary.get("kind") != "gan" and "by_n" not in summary:
                raise QcaloError(f"{run_dir}/summary.json predates this qcalo; evaluate it again: qcalo evaluate {run_dir}")
            config = yaml.safe_load((run_dir / "config.yaml").read_text()) if (run_dir / "config.yaml").is_file() else {}
            rows.append((run_dir, config or {}, summary))
    except QcaloError as error:
        typer.echo(f"error: {error}", err=True)
        raise typer.Exit(2) from None
    kinds = {summary.get("kind", "qag") for _dir, _config, summary in rows}
    if len(kinds) > 1:
        typer.echo("error: mix of QAG and GAN runs; give runs of one kind", err=True)
        raise typer.Exit(2)
    if kinds == {"gan"}:
        typer.echo(gan_table(rows))
        replicas = gan_replicas(rows)
        if replicas:
            typer.echo("\n" + replicas)
    else:
        typer.echo(qag_table(rows))
    if figure is not None:
        if kinds != {"gan"}:
            typer.echo("error: --figure draws GAN χ² curves; give GAN runs", err=True)
            raise typer.Exit(2)
        from qcalo.report.gan_plots import plot_chi2_curves
        from qcalo.train.gan_run import read_chi2_csv

        typer.echo(f"figure: {plot_chi2_curves({str(d): read_chi2_csv(d) for d, _c, _s in rows}, figure)}")
