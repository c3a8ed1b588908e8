"""``qcalo generate``: parse, then delegate to :func:`qcalo.train.generate.write_generated`."""

from __future__ import annotations

from pathlib import Path

import typer

from qcalo.exceptions import QcaloError

__all__ = ["generate"]


def generate(
    run_dir: Path = typer.Argument(..., help="A trained run directory."),
    n: int = typer.Option(..., "--n", help="Number of showers to write."),
    out: Path = typer.Option(..., "--out", "-o", help="HDF5 file to write (dataset `x`, the training data's format)."),
    seed: int = typer.Option(0, help="Seed of the generation."),
    overwrite: bool = typer.Option(False, "--overwrite", help="Replace an existing --out file."),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="No progress bar."),
    noise: str | None = typer.Option(None, "--noise", help="Fake device noise ('none': noiseless; default: as trained)."),
    noise_scale: float | None = typer.Option(None, "--noise-scale", help="Noise scale x ≥ 0 (default: as trained, else 1)."),
) -> None:
    """Write N generated showers of a trained run to an HDF5 file (atomically, seeded)."""
    from tqdm.auto import tqdm

    from qcalo.train.evaluate import resolve_noise
    from qcalo.train.generate import write_generated

    try:
        used = resolve_noise(noise, noise_scale, run_dir)
        with tqdm(total=n if n > 0 else None, unit="shower", desc="generate", disable=quiet or n < 20000) as bar:
            path = write_generated(
                run_dir, n, out, seed=seed, overwrite=overwrite, noise=used, progress=lambda done: bar.update(done - bar.n)
            )
    except QcaloError as error:
        typer.echo(f"error: {error}", err=True)
        raise typer.Exit(2) from None
    except OSError as error:
        typer.echo(f"error: cannot write {out}: {error.strerror or error}; choose a writable --out", err=True)
        raise typer.Exit(2) from None
    typer.echo(f"wrote {n} showers -> {path}")
