"""``qcalo generate``: parse, then delegate to :func:`qcalo.train.generate.write_generated`."""

from __future__ import annotations

from pathlib import Path

import typer

from qcalo.exceptions import QcaloError

__all__ = ["generate"]


def generate(
    run_dir: Path = typer.Argument(..., help="A trained run directory."),
    n: int | None = typer.Option(None, "--n", help="Number of showers to write (GAN: per energy)."),
    out: Path = typer.Option(..., "--out", "-o", help="HDF5 file to write (dataset `x`, the training data's format)."),
    seed: int = typer.Option(0, help="Seed of the generation."),
    overwrite: bool = typer.Option(False, "--overwrite", help="Replace an existing --out file."),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="No progress bar."),
    noise: str | None = typer.Option(None, "--noise", help="Fake device noise ('none': noiseless; default: as trained)."),
    noise_scale: float | None = typer.Option(None, "--noise-scale", help="Noise scale x ≥ 0 (default: as trained, else 1)."),
    energies: str | None = typer.Option(None, "--energies", help="GAN runs: incident energies in MeV, comma-separated (with --n per energy)."),
    energies_from: Path | None = typer.Option(None, "--energies-from", help="GAN runs: one shower per event of this dataset-1 file."),
    backend: str | None = typer.Option(None, "--backend", help="QAG runs: fake:<name> (SamplerV2 local mode) or ibm:<name> (your IBM account)."),
) -> None:
    """Write generated showers of a trained run to an HDF5 file in its data set's format (atomically, seeded).

    QAG runs: N showers (CLIC format, dataset `x`). GAN runs: dataset-1 format, N per energy of
    --energies, or the event mix of --energies-from (e.g. dataset_1_pions_2.hdf5).
    """
    try:
        if (run_dir / "chi2.csv").is_file():  # a GAN run
            path = _generate_gan(run_dir, n, out, seed, overwrite, energies, energies_from)
            typer.echo(f"wrote GAN showers (dataset-1 format) -> {path}")
            return
        if n is None:
            raise QcaloError("--n is required (the number of showers to write)")
        path = _generate_qag(run_dir, n, out, seed, overwrite, quiet, noise, noise_scale, backend)
    except QcaloError as error:
        typer.echo(f"error: {error}", err=True)
        raise typer.Exit(2) from None
    except OSError as error:
        typer.echo(f"error: cannot write {out}: {error.strerror or error}; choose a writable --out", err=True)
        raise typer.Exit(2) from None
    typer.echo(f"wrote {n} showers -> {path}")


def _generate_qag(
    run_dir: Path, n: int, out: Path, seed: int, overwrite: bool, quiet: bool,
    noise: str | None, noise_scale: float | None, backend: str | None,
) -> Path:  # fmt: skip
    from tqdm.auto import tqdm

    from qcalo.train.evaluate import resolve_noise
    from qcalo.train.generate import write_generated

    if backend is not None and (noise is not None or noise_scale is not None):
        raise QcaloError("--backend runs on the device's own noise; drop --noise/--noise-scale")
    used = resolve_noise(noise, noise_scale, run_dir)
    with tqdm(total=n if n > 0 else None, unit="shower", desc="generate", disable=quiet or n < 20000) as bar:
        return write_generated(
            run_dir, n, out, seed=seed, overwrite=overwrite, noise=used, backend=backend,
            progress=lambda done: bar.update(done - bar.n),
        )


def _generate_gan(
    run_dir: Path, n: int | None, out: Path, seed: int, overwrite: bool, energies: str | None, energies_from: Path | None
) -> Path:
    from qcalo.train.gan_run import write_gan_showers

    values = None
    if energies is not None:
        try:
            values = tuple(float(e) for e in energies.split(","))
        except ValueError:
            raise QcaloError(f"--energies {energies!r}; give incident energies in MeV, e.g. 4096,65536") from None
    return write_gan_showers(run_dir, out, energies_mev=values, n_per_energy=n, energies_from=energies_from,
                             seed=seed, overwrite=overwrite)  # fmt: skip
