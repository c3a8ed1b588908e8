"""The rich table ``qcalo bench simulator`` prints from :func:`~qcalo.bench.simulator.run_simulator_bench` 's result."""

from __future__ import annotations

from typing import Any

__all__ = ["AGREEMENT_TOLERANCE", "print_simulator_table"]

AGREEMENT_TOLERANCE = 1e-4
"""Largest accepted |⟨Z⟩_qcalo − ⟨Z⟩_Aer| (qcalo in ``complex64``)."""


def print_simulator_table(result: dict, console: Any | None = None) -> None:
    """Print :func:`run_simulator_bench` 's result as a rich table (medians and speedups)."""
    from rich.console import Console
    from rich.table import Table

    console = console or Console()
    t, settings = result["timings_ms"], result["settings"]
    large = settings["hybrid_batches"][1]
    table = Table(
        title=f"qcalo simulator ({settings.get('qcalo_backend', 'torch')} backend) vs peers — "
        f"medians of {settings['repeats']} calls, ms"
    )
    for header in ("workload", "qcalo", "Aer", "PennyLane", "× vs Aer", "× vs PennyLane"):
        table.add_column(header, justify="left" if header == "workload" else "right")
    rows = [
        (
            "QAG 8q B=50 exact ⟨Z⟩",
            "qag_exact",
            "qag_exact_speedup_vs_aer",
            "qag_exact_speedup_vs_pennylane",
        ),
        ("QAG 8q B=50 2048 shots (joint)", "qag_shots", "qag_shots_speedup_vs_aer", None),
        ("Hybrid 10q B=10 fwd+bwd", "hybrid_b10", None, "hybrid_b10_speedup_vs_pennylane"),
        (
            f"Hybrid 10q B={large} fwd+bwd",
            "hybrid_b1000",
            None,
            "hybrid_b1000_speedup_vs_pennylane",
        ),
    ]
    for label, key, vs_aer, vs_pennylane in rows:
        table.add_row(
            label,
            _fmt(t.get(f"{key}_qcalo")),
            _fmt(t.get(f"{key}_aer")),
            _fmt(t.get(f"{key}_pennylane")),
            _fmt(result.get(vs_aer) if vs_aer else None, "×"),
            _fmt(result.get(vs_pennylane) if vs_pennylane else None, "×"),
        )
    # Marginal sampling drops cross-qubit correlations: shown for reference, not compared.
    table.add_row(
        "QAG 2048 shots, marginal (qcalo only)",
        _fmt(t["qag_shots_qcalo_marginal"]),
        "–",
        "–",
        "–",
        "–",
    )
    console.print(table)
    diff = result["max_abs_diff_vs_aer"]
    verdict = (
        "[green]agree[/green]" if diff < AGREEMENT_TOLERANCE else "[bold red]DISAGREE[/bold red]"
    )
    console.print(f"exact ⟨Z⟩ qcalo (complex64) vs Aer: max |Δ| = {diff:.2e} → {verdict}")
    env = result["environment"]
    console.print(
        f"torch {env['torch']} ({env['threads']} threads), qiskit {env['qiskit']}, "
        f"qiskit-aer {env['qiskit_aer']}, pennylane {env['pennylane'] or 'not installed'}, "
        f"{env['cpu_count']} CPUs"
    )


def _fmt(value: float | None, suffix: str = "") -> str:
    if value is None:
        return "–"
    return f"{value:.1f}{suffix}" if value >= 10 else f"{value:.2f}{suffix}"
