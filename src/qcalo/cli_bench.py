"""``qcalo bench``: benchmarks against library peers, measured in the same run.

The commands only parse options and delegate to :mod:`qcalo.bench`; heavy imports (torch,
qiskit, PennyLane) happen inside the commands so ``qcalo --help`` stays quick.
"""

from __future__ import annotations

import typer

__all__ = ["bench_app"]

bench_app = typer.Typer(
    help="Benchmarks against library peers, measured in the same run.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


@bench_app.callback()
def bench() -> None:
    """Benchmarks against library peers, measured in the same run."""


@bench_app.command("simulator")
def simulator(
    as_json: bool = typer.Option(False, "--json", help="Print one JSON object instead of a table."),
    repeats: int = typer.Option(
        7, "--repeats", min=1, help="Timed calls per measurement (median kept)."
    ),
    threads: int | None = typer.Option(
        None,
        "--threads",
        min=1,
        help="torch threads and Aer max_parallel_threads (default: libraries' own).",
    ),
    quick: bool = typer.Option(
        False, "--quick", help="2 repeats and B=100 instead of 1000: seconds, for tests."
    ),
    backend: str = typer.Option(
        "auto", "--backend", help="qcalo simulator backend: auto, torch or native (C kernels)."
    ),
) -> None:
    """Time qcalo's simulator against Qiskit Aer and PennyLane on the QAG and hybrid circuits.

    Exits with status 1 when qcalo's and Aer's exact ⟨Z⟩ disagree (max |Δ| ≥ 1e-4).
    """
    from qcalo.bench.simulator import main
    from qcalo.exceptions import QcaloError

    try:
        status = main(as_json=as_json, repeats=repeats, threads=threads, quick=quick, backend=backend)
    except QcaloError as error:
        typer.echo(f"error: {error}", err=True)
        raise typer.Exit(2) from None
    raise typer.Exit(status)


@bench_app.command("gan")
def gan(
    as_json: bool = typer.Option(False, "--json", help="Print one JSON object instead of a summary."),
    iterations: int = typer.Option(30, "--iterations", min=1, help="Timed iterations per model (median kept)."),
    threads: int = typer.Option(1, "--threads", min=1, help="torch threads."),
    no_pennylane: bool = typer.Option(False, "--no-pennylane", help="Skip the PennyLane TorchLayer peer."),
) -> None:
    """Seconds per WGAN-GP iteration: quantum 2x generator vs its classical twin vs PennyLane."""
    import json

    from qcalo.bench.gan import run_gan_bench

    result = run_gan_bench(iterations=iterations, threads=threads, pennylane=not no_pennylane)
    if as_json:
        typer.echo(json.dumps(result, indent=2))
        return
    per = result["seconds_per_iteration"]
    shown = ", ".join(f"{name} {1000 * value:.1f} ms" for name, value in per.items() if value is not None)
    typer.echo(f"seconds per iteration (median of {iterations}): {shown}")
    typer.echo(f"quantum / classical: {result['quantum_over_classical_step_ratio']:.2f}")
    if result["pqc_overhead_reduction_vs_pennylane"] is not None:
        typer.echo(f"PQC overhead vs PennyLane reduced {result['pqc_overhead_reduction_vs_pennylane']:.1f}×")


@bench_app.command("noise")
def noise(
    as_json: bool = typer.Option(False, "--json", help="Print one JSON object instead of a summary."),
    repeats: int = typer.Option(3, "--repeats", min=1, help="Timed calls per measurement (median kept)."),
    threads: int = typer.Option(1, "--threads", min=1, help="torch threads and Aer's max_parallel_threads."),
    device: str = typer.Option("fake_fez", "--device", help="Fake backend whose calibration is used."),
    noise_scale: float = typer.Option(1.0, "--noise-scale", help="Noise scale x (0 = noiseless, 1 = as calibrated)."),
) -> None:
    """A noisy 50-image QAG batch vs Aer's density matrix, and a noisy training epoch vs noiseless."""
    import json

    from qcalo.bench.noise import format_noise_bench, run_noise_bench
    from qcalo.exceptions import QcaloError

    try:
        result = run_noise_bench(repeats=repeats, threads=threads, device=device, noise_scale=noise_scale,
                                 progress=None if as_json else lambda text: typer.echo(text, err=True))  # fmt: skip
    except QcaloError as error:
        typer.echo(f"error: {error}", err=True)
        raise typer.Exit(2) from None
    typer.echo(json.dumps(result, indent=2) if as_json else format_noise_bench(result))
