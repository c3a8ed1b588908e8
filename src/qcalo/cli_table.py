"""``qcalo table RUN…``: parse, then delegate to :mod:`qcalo.report.table`."""

from __future__ import annotations

from pathlib import Path

import typer

from qcalo.exceptions import QcaloError

__all__ = ["table"]


def table(runs: list[Path] = typer.Argument(..., help="Evaluated run directories (each with summary.json).")) -> None:
    """Print finished runs side by side: MMD/floor and the Gaussian baseline at each n, ± se."""
    import yaml

    from qcalo.report.table import qag_table
    from qcalo.train.rundir import read_json

    try:
        rows = []
        for run_dir in runs:
            if not (run_dir / "summary.json").is_file():
                raise QcaloError(f"{run_dir} has no summary.json; evaluate it first: qcalo evaluate {run_dir}")
            summary = read_json(run_dir / "summary.json")
            if "by_n" not in summary:
                raise QcaloError(f"{run_dir}/summary.json predates this qcalo; evaluate it again: qcalo evaluate {run_dir}")
            config = yaml.safe_load((run_dir / "config.yaml").read_text()) if (run_dir / "config.yaml").is_file() else {}
            rows.append((run_dir, config or {}, summary))
    except QcaloError as error:
        typer.echo(f"error: {error}", err=True)
        raise typer.Exit(2) from None
    typer.echo(qag_table(rows))
