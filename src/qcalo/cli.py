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


def run() -> None:
    """The ``qcalo`` console script: ``app``, with a usage error as one line on stderr.

    Typer draws usage errors in a multi-line box; a physicist's terminal or a batch log wants
    the one line that names the problem (click's own message) and where to look for the fix.
    Exceptions are matched by class name: typer ≥ 0.16 raises its vendored copy of click's.
    """
    import sys

    try:
        code = app(standalone_mode=False)
    except Exception as error:
        names = {cls.__name__ for cls in type(error).__mro__}
        if "UsageError" in names:
            context = getattr(error, "ctx", None)
            where = f" (see `{context.command_path} --help`)" if context is not None else ""
            if error.format_message():  # empty: help was shown (no_args_is_help)
                typer.echo(f"error: {error.format_message()}{where}", err=True)
            sys.exit(getattr(error, "exit_code", 2))
        if "Exit" in names:
            sys.exit(getattr(error, "exit_code", 0))
        if "Abort" in names:
            typer.echo("aborted", err=True)
            sys.exit(1)
        raise
    sys.exit(code if isinstance(code, int) else 0)


if __name__ == "__main__":  # pragma: no cover
    run()
