"""The ``qcalo`` command line: it only parses arguments and delegates to the library.

Heavy modules (torch, qiskit) are imported inside the commands so ``qcalo --help`` is quick.
"""

from __future__ import annotations

import typer

from qcalo import __version__
from qcalo.cli_bench import bench_app
from qcalo.cli_data import data_app
from qcalo.cli_gan import train_gan_command
from qcalo.cli_generate import generate
from qcalo.cli_noise import noise_study
from qcalo.cli_qag import evaluate, train_app
from qcalo.cli_table import table

app = typer.Typer(
    name="qcalo",
    help="Quantum generative models for calorimeter shower simulation.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
app.add_typer(data_app, name="data", help="Get, prepare and check datasets.")
train_app.command("gan")(train_gan_command)
app.add_typer(train_app, name="train", help="Train a model; writes a run directory.")
app.add_typer(bench_app, name="bench", help="Benchmarks against library peers, measured in the same run.")
app.command("evaluate")(evaluate)
app.command("generate")(generate)
app.command("table")(table)
app.command("noise-study")(noise_study)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"qcalo {__version__}")
        raise typer.Exit()


@app.callback()
def main(
    version: bool = typer.Option(False, "--version", callback=_version, is_eager=True, help="Print the version."),
) -> None:
    """Quantum generative models for calorimeter shower simulation."""


if __name__ == "__main__":  # pragma: no cover
    app()
