"""``qcalo data …``: prepare and download data sets. Commands parse and delegate only."""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer

from qcalo.exceptions import QcaloError

__all__ = ["data_app"]

data_app = typer.Typer(
    name="data",
    help="Prepare and download data sets (CLIC N-pixel showers, CaloChallenge dataset 1).",
    no_args_is_help=True,
    add_completion=False,
)


class DatasetName(StrEnum):
    """Data sets ``qcalo data download`` knows (see ``qcalo.data.download.DATASETS``)."""

    clic8 = "clic8"
    calochallenge_ds1_pions = "calochallenge-ds1-pions"
    calochallenge_ds1_photons = "calochallenge-ds1-photons"


def _fail(error: QcaloError) -> typer.Exit:
    """Print the one-line error and return the exit (code 2) to raise."""
    typer.echo(f"error: {error}", err=True)
    return typer.Exit(2)


ProgressOption = Annotated[
    bool, typer.Option("--progress/--no-progress", help="Show a progress bar on stderr.")
]


@data_app.command("prepare-clic")
def prepare_clic_command(
    raw_dir: Annotated[Path, typer.Argument(help="Folder with the raw CLIC EleEscan_*.h5 files.")],
    pixels: Annotated[int, typer.Option("--pixels", min=1, help="Pixels per event.")] = 8,
    out: Annotated[
        Path | None,
        typer.Option(
            "--out",
            help="Output folder (default: DATA/clicN, DATA = $QCALO_DATA or the user cache).",
        ),
    ] = None,
    seed: Annotated[int, typer.Option("--seed", help="Seed of the train/val/test split.")] = 0,
    progress: ProgressOption = True,
) -> None:
    """Reduce raw CLIC showers to N-pixel train/val/test files; print where they went."""
    from qcalo.data.clic_catalogue import CLIC  # lazy: keeps h5py out of `qcalo --help`
    from qcalo.data.clic_prepare import prepare_clic
    from qcalo.data.paths import resolve_data_dir

    try:
        out_dir = out if out is not None else resolve_data_dir() / CLIC.dataset_name(pixels)
        written = prepare_clic(raw_dir, out_dir, n_pixels=pixels, seed=seed, progress=progress)
    except QcaloError as error:
        raise _fail(error) from error
    for path in written.values():
        typer.echo(str(path))


@data_app.command("download")
def download_command(
    name: Annotated[DatasetName, typer.Argument(help="Data set to download.")],
    data: Annotated[
        Path | None,
        typer.Option(
            "--data",
            help="Data folder (default: $QCALO_DATA or the user cache); files go to DATA/NAME.",
        ),
    ] = None,
    base_url: Annotated[
        str | None, typer.Option("--base-url", help="Folder URL to fetch the files from.")
    ] = None,
    progress: ProgressOption = True,
) -> None:
    """Download a published data set, verify its checksum, and print the folder it is in.

    CaloChallenge files resume an interrupted download; a file whose checksum is not
    published is kept with a warning that prints its sha256.
    """
    import warnings

    from qcalo.data.paths import resolve_data_dir

    try:
        if name is DatasetName.clic8:
            from qcalo.data.download import download_clic8

            folder = download_clic8(
                resolve_data_dir(data) / name.value, base_url=base_url, progress=progress
            )
        else:
            from qcalo.data.calochallenge import download_calochallenge

            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always")
                folder = download_calochallenge(
                    name.value, resolve_data_dir(data) / "calochallenge", base_url,
                    progress=progress,
                )  # fmt: skip
            for warning in caught:
                typer.echo(f"warning: {warning.message}", err=True)
    except QcaloError as error:
        raise _fail(error) from error
    typer.echo(str(folder))
