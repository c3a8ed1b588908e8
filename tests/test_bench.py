"""``qcalo bench simulator``: output contract (keys, types, agreement), not speed."""

from __future__ import annotations

import io
import json
import math

import pytest
import typer
from rich.console import Console
from typer.testing import CliRunner

import qcalo.bench.simulator as bench
from qcalo.cli_bench import bench_app
from qcalo.exceptions import ConfigError

SPEEDUPS = (
    "qag_exact_speedup_vs_aer",
    "qag_shots_speedup_vs_aer",
    "qag_exact_speedup_vs_pennylane",
    "hybrid_b10_speedup_vs_pennylane",
    "hybrid_b1000_speedup_vs_pennylane",
)
TIMINGS = (
    "qag_exact_qcalo", "qag_exact_aer", "qag_exact_pennylane",
    "qag_shots_qcalo", "qag_shots_qcalo_marginal", "qag_shots_aer",
    "hybrid_b10_qcalo", "hybrid_b10_pennylane", "hybrid_b1000_qcalo", "hybrid_b1000_pennylane",
)  # fmt: skip
PENNYLANE_KEYS = {"qag_exact_pennylane", "hybrid_b10_pennylane", "hybrid_b1000_pennylane"}


def positive_finite(value: object) -> bool:
    """A float > 0 that is neither inf nor NaN."""
    return isinstance(value, float) and math.isfinite(value) and value > 0


@pytest.fixture(scope="module")
def cli_result() -> dict:
    """One quick run through the CLI, parsed from its JSON output."""
    result = CliRunner().invoke(bench_app, ["simulator", "--json", "--quick", "--threads", "1"])
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def test_json_has_speedups_timings_and_environment(cli_result) -> None:
    """Every documented key is there; speedups and timings are positive finite numbers."""
    has_pennylane = cli_result["environment"]["pennylane"] is not None
    assert has_pennylane == (bench._import_pennylane() is not None)
    for key in SPEEDUPS:
        if has_pennylane or "pennylane" not in key:
            assert positive_finite(cli_result[key]), (key, cli_result[key])
    assert set(cli_result["timings_ms"]) == set(TIMINGS)
    for key, value in cli_result["timings_ms"].items():
        if has_pennylane or key not in PENNYLANE_KEYS:
            assert positive_finite(value), (key, value)
    environment = cli_result["environment"]
    assert {"torch", "qiskit", "qiskit_aer", "pennylane", "threads", "cpu_count"} <= set(
        environment
    )
    assert environment["threads"] == 1 and environment["aer_max_parallel_threads"] == 1
    assert cli_result["settings"]["quick"] is True and cli_result["settings"]["repeats"] == 2
    assert cli_result["settings"]["hybrid_batches"] == [10, bench.QUICK_LARGE_BATCH]


def test_speedups_are_ratios_of_the_timings(cli_result) -> None:
    """Each speedup is the peer's median over qcalo's, from the same run."""
    t = cli_result["timings_ms"]
    assert cli_result["qag_exact_speedup_vs_aer"] == pytest.approx(
        t["qag_exact_aer"] / t["qag_exact_qcalo"]
    )
    assert cli_result["qag_shots_speedup_vs_aer"] == pytest.approx(
        t["qag_shots_aer"] / t["qag_shots_qcalo"]
    )
    if cli_result["environment"]["pennylane"] is not None:
        expected = t["hybrid_b1000_pennylane"] / t["hybrid_b1000_qcalo"]
        assert cli_result["hybrid_b1000_speedup_vs_pennylane"] == pytest.approx(expected)


def test_benchmark_compares_equal_answers(cli_result) -> None:
    """qcalo (complex64) and Aer agree on exact ⟨Z⟩; shots land near it; PennyLane agrees."""
    assert 0 <= cli_result["max_abs_diff_vs_aer"] < 1e-4
    checks = cli_result["checks"]
    assert checks["qcalo_shots_max_abs_err"] < 0.2 and checks["aer_shots_max_abs_err"] < 0.2
    if cli_result["environment"]["pennylane"] is not None:
        assert checks["pennylane_max_abs_diff_vs_aer"] < 1e-9
        assert checks["hybrid_b10_grad_max_rel_diff_vs_pennylane"] < 1e-4
        assert checks["hybrid_b1000_grad_max_rel_diff_vs_pennylane"] < 1e-4


def test_without_pennylane_its_keys_are_null(monkeypatch) -> None:
    """When PennyLane does not import, its timings and speedups are None, the rest still runs."""
    monkeypatch.setattr(bench, "_import_pennylane", lambda: None)
    result = bench.run_simulator_bench(quick=True, threads=1)
    for key in (
        "qag_exact_speedup_vs_pennylane",
        "hybrid_b10_speedup_vs_pennylane",
        "hybrid_b1000_speedup_vs_pennylane",
    ):
        assert result[key] is None
    assert all(result["timings_ms"][key] is None for key in PENNYLANE_KEYS)
    assert (
        positive_finite(result["qag_exact_speedup_vs_aer"])
        and result["environment"]["pennylane"] is None
    )
    assert result["max_abs_diff_vs_aer"] < 1e-4
    json.dumps(result, allow_nan=False)


def test_table_and_exit_status(monkeypatch, cli_result, capsys) -> None:
    """The table shows every workload and the agreement; disagreeing answers exit with status 1."""
    console = Console(record=True, width=160, file=io.StringIO())
    bench.print_simulator_table(cli_result, console=console)
    text = console.export_text()
    for fragment in (
        "QAG 8q B=50 exact",
        "2048 shots",
        "Hybrid 10q B=10 ",
        f"B={bench.QUICK_LARGE_BATCH} ",
        "agree",
    ):
        assert fragment in text
    monkeypatch.setattr(
        bench, "run_simulator_bench", lambda **_: cli_result | {"max_abs_diff_vs_aer": 0.5}
    )
    assert bench.main(as_json=True) == 1
    assert json.loads(capsys.readouterr().out)["max_abs_diff_vs_aer"] == 0.5


@pytest.mark.parametrize(
    "kwargs", [{"repeats": 0}, {"repeats": 2.5}, {"threads": 0}, {"threads": True}]
)
def test_bad_settings_raise(kwargs) -> None:
    """repeats and threads must be positive integers."""
    with pytest.raises(ConfigError, match=next(iter(kwargs))):
        bench.run_simulator_bench(**kwargs)


def test_mounts_as_a_subcommand() -> None:
    """Mounted like qcalo.cli does it, ``bench simulator --help`` lists the options."""
    root = typer.Typer()
    root.add_typer(bench_app, name="bench")

    @root.command()
    def version() -> None:
        """A second command, so the root is a group as in qcalo.cli."""

    result = CliRunner().invoke(root, ["bench", "simulator", "--help"])
    assert result.exit_code == 0, result.output
    for option in ("--json", "--repeats", "--threads", "--quick", "--backend"):
        assert option in result.output


def test_cli_rejects_bad_repeats() -> None:
    """--repeats 0 is a usage error before anything runs."""
    result = CliRunner().invoke(bench_app, ["simulator", "--repeats", "0"])
    assert result.exit_code == 2
    assert "repeats" in result.output


def test_records_the_backend_and_rejects_an_unknown_one(cli_result) -> None:
    """The JSON says which qcalo backend was timed; ``--backend fast`` is one error line."""
    from qcalo.quantum import native

    assert cli_result["settings"]["qcalo_backend"] == ("native" if native.available() else "torch")
    result = CliRunner().invoke(bench_app, ["simulator", "--backend", "fast", "--quick"])
    assert result.exit_code == 2
    assert result.output.strip().splitlines() == ["error: backend='fast'; use one of auto, torch, native"]


def test_gan_bench_reports_every_key_from_one_interleaved_run() -> None:
    """``qcalo bench gan --json``: the ratios are computed from the seconds it reports."""
    result = CliRunner().invoke(bench_app, ["gan", "--json", "--iterations", "2", "--no-pennylane"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    seconds = report["seconds_per_iteration"]
    assert positive_finite(seconds["qcalo_2x"]) and positive_finite(seconds["classical_twin"])
    assert seconds["pennylane_2x"] is None and report["pqc_overhead_reduction_vs_pennylane"] is None
    assert report["quantum_over_classical_step_ratio"] == pytest.approx(seconds["qcalo_2x"] / seconds["classical_twin"])
    assert all(positive_finite(value) for value in report["seconds_per_1000_showers"].values())
    assert report["settings"]["batch"] == 10 and report["settings"]["critic_steps"] == 5
