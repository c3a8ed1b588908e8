"""qcalo's statevector simulator against Qiskit Aer and PennyLane, on identical circuits.

Two workloads from :mod:`qcalo.quantum.workloads`, each timed for every library in the same
run (only ratios measured in one run mean anything on a shared machine):

* **QAG batch** — 8 qubits, ``B = 50`` fresh inputs ``x ~ N(0, 0.5)`` per call, per-qubit
  ⟨Z⟩ exact and from 2048 shots. qcalo: ``complex64``, joint (full-bitstring) sampling.
  Aer: ``AerSimulator(method="statevector")``, one circuit transpiled once (outside the
  timing) and run with ``parameter_binds`` for the whole batch; exact ⟨Z⟩ through
  ``save_expectation_value``, shots through ``measure_all`` with the counts turned into
  ⟨Z⟩. PennyLane: ``default.qubit`` with parameter broadcasting.
* **Hybrid layer** — 10 qubits, ``B = 10`` and ``B = 1000``, forward + backward
  (``outputs.sum().backward()``) with respect to the weights. qcalo's
  :class:`~qcalo.quantum.layer.QuantumLayer` (``complex64``) against a
  PennyLane ``qml.qnn.TorchLayer`` (``default.qubit``, backprop). Aer has no gradients.

Every timed call starts from weights and inputs and ends with ⟨Z⟩ (and gradients) as a
tensor or array, so building Aer's parameter binds and parsing its results are paid for, as
a user pays for them. Before timing, the answers are compared: qcalo against Aer (exact
⟨Z⟩) and against PennyLane (⟨Z⟩ and gradients); a benchmark of different answers would be
meaningless, so :func:`main` fails when qcalo and Aer disagree.
"""

from __future__ import annotations

import json
import math
import os
import platform
import statistics
import time
from collections.abc import Callable
from typing import Any

import numpy as np
import torch

from qcalo.bench.table import AGREEMENT_TOLERANCE, print_simulator_table
from qcalo.quantum.circuit import Circuit
from qcalo.quantum.layer import QuantumLayer
from qcalo.quantum.peers import AerRunner, pennylane_qnode
from qcalo.quantum.simulator import StatevectorSimulator, resolve_backend
from qcalo.quantum.workloads import hybrid_workload, qag_workload
from qcalo.validate import positive_int

__all__ = [
    "AGREEMENT_TOLERANCE",
    "HYBRID_BATCHES",
    "HYBRID_QUBITS",
    "QAG_BATCH",
    "QAG_INPUT_SD",
    "QAG_QUBITS",
    "QUICK_LARGE_BATCH",
    "SHOTS",
    "main",
    "print_simulator_table",
    "run_simulator_bench",
]

QAG_QUBITS = 8
QAG_BATCH = 50
QAG_INPUT_SD = 0.5
"""Standard deviation of the QAG inputs ``x ~ N(0, QAG_INPUT_SD)``."""
SHOTS = 2048
HYBRID_QUBITS = 10
HYBRID_BATCHES = (10, 1000)
QUICK_LARGE_BATCH = 100
"""``--quick`` runs the large hybrid batch with this many samples instead of 1000."""
QUICK_REPEATS = 2
WARMUP_CALLS = 1
_SEED = 2024


# -- timing ------------------------------------------------------------------------------
def _median_ms(call: Callable[[int], object], repeats: int, warmup: int = WARMUP_CALLS) -> float:
    """Median wall time in ms of ``call(i)`` over ``repeats`` calls after ``warmup`` calls.

    ``call`` receives the call number, so each call can use fresh inputs.
    """
    for i in range(warmup):
        call(i)
    times = []
    for i in range(warmup, warmup + repeats):
        start = time.perf_counter()
        call(i)
        times.append(time.perf_counter() - start)
    return 1000.0 * statistics.median(times)


def _ratio(slower_ms: float | None, qcalo_ms: float) -> float | None:
    return None if slower_ms is None else slower_ms / qcalo_ms


# -- PennyLane ---------------------------------------------------------------------------
def _import_pennylane() -> Any | None:
    """The ``pennylane`` module, or ``None`` when it is not installed."""
    try:
        import pennylane
    except ImportError:
        return None
    return pennylane


# -- workloads ---------------------------------------------------------------------------
def _qag_bench(repeats: int, threads: int | None, qml: Any | None, backend: str = "auto") -> tuple[dict, dict]:
    """Timings (ms) and answer checks for the QAG batch."""
    circuit = qag_workload(QAG_QUBITS, n_blocks=2, encoding="ry")
    rng = np.random.default_rng(_SEED)
    weights = rng.uniform(0.0, 2 * math.pi, circuit.n_params)
    batches = [
        rng.normal(0.0, QAG_INPUT_SD, (QAG_BATCH, QAG_QUBITS))
        for _ in range(WARMUP_CALLS + repeats)
    ]
    qcalo = StatevectorSimulator(circuit, dtype=torch.complex64, backend=backend)
    qcalo_weights = torch.from_numpy(weights).float()
    generator = torch.Generator().manual_seed(_SEED)
    aer = AerRunner(circuit, threads)

    def qcalo_exact(i: int) -> torch.Tensor:
        with torch.no_grad():
            return qcalo.expval_z(qcalo_weights, torch.from_numpy(batches[i]))

    def qcalo_shots(i: int, sampling: str = "joint") -> torch.Tensor:
        with torch.no_grad():
            inputs = torch.from_numpy(batches[i])
            return qcalo.expval_z(
                qcalo_weights, inputs, shots=SHOTS, generator=generator, sampling=sampling
            )

    exact = aer.expval_z(weights, batches[0])
    checks = {
        "max_abs_diff_vs_aer": float(np.abs(qcalo_exact(0).numpy() - exact).max()),
        "qcalo_shots_max_abs_err": float(np.abs(qcalo_shots(0).numpy() - exact).max()),
        "aer_shots_max_abs_err": float(
            np.abs(aer.expval_z_shots(weights, batches[0], SHOTS, _SEED) - exact).max()
        ),
        "pennylane_max_abs_diff_vs_aer": None,
    }
    timings = {
        "qag_exact_qcalo": _median_ms(qcalo_exact, repeats),
        "qag_exact_aer": _median_ms(lambda i: aer.expval_z(weights, batches[i]), repeats),
        "qag_exact_pennylane": None,
        "qag_shots_qcalo": _median_ms(qcalo_shots, repeats),
        "qag_shots_qcalo_marginal": _median_ms(lambda i: qcalo_shots(i, "marginal"), repeats),
        "qag_shots_aer": _median_ms(
            lambda i: aer.expval_z_shots(weights, batches[i], SHOTS, _SEED + i), repeats
        ),
    }
    if qml is not None:
        pennylane_ms, pennylane_diff = _qag_pennylane(
            qml, circuit, weights, batches, exact, repeats
        )
        timings["qag_exact_pennylane"] = pennylane_ms
        checks["pennylane_max_abs_diff_vs_aer"] = pennylane_diff
    return timings, checks


def _qag_pennylane(
    qml: Any,
    circuit: Circuit,
    weights: np.ndarray,
    batches: list[np.ndarray],
    exact: np.ndarray,
    repeats: int,
) -> tuple[float, float]:
    """(median ms, max |⟨Z⟩ − exact| on ``batches[0]``) for PennyLane with broadcasting."""
    qnode = pennylane_qnode(qml, circuit)
    pennylane_weights = torch.from_numpy(weights)

    def pennylane_exact(i: int) -> torch.Tensor:
        with torch.no_grad():
            return torch.stack(qnode(torch.from_numpy(batches[i]), pennylane_weights), dim=-1)

    max_abs_diff = float(np.abs(pennylane_exact(0).numpy() - exact).max())
    return _median_ms(pennylane_exact, repeats), max_abs_diff


def _hybrid_bench(
    batch: int, repeats: int, qml: Any | None, backend: str = "auto"
) -> tuple[float, float | None, float | None]:
    """(qcalo ms, PennyLane ms or None, max relative gradient difference or None)."""
    circuit = hybrid_workload(HYBRID_QUBITS, n_blocks=2)
    generator = torch.Generator().manual_seed(_SEED + batch)
    start = torch.rand(circuit.n_params, generator=generator) * 2 * math.pi
    latents = [
        torch.randn(batch, HYBRID_QUBITS, generator=generator)
        for _ in range(WARMUP_CALLS + repeats)
    ]
    qcalo = QuantumLayer(circuit, dtype=torch.complex64, backend=backend)
    with torch.no_grad():
        qcalo.weight.copy_(start)
    qcalo_weights = qcalo.weight

    def qcalo_step(i: int) -> torch.Tensor:
        qcalo_weights.grad = None
        outputs = qcalo(latents[i])
        outputs.sum().backward()
        return outputs

    qcalo_ms = _median_ms(qcalo_step, repeats)
    if qml is None:
        return qcalo_ms, None, None
    layer = qml.qnn.TorchLayer(pennylane_qnode(qml, circuit), {"weights": circuit.n_params})
    with torch.no_grad():
        layer.weights.copy_(start)

    def pennylane_step(i: int) -> torch.Tensor:
        layer.zero_grad()
        outputs = layer(latents[i])
        outputs.sum().backward()
        return outputs

    qcalo_step(0)
    pennylane_step(0)
    reference = layer.weights.grad
    grad_diff = float((qcalo_weights.grad - reference).abs().max() / reference.abs().max())
    return qcalo_ms, _median_ms(pennylane_step, repeats), grad_diff


# -- entry points ------------------------------------------------------------------------
def run_simulator_bench(
    repeats: int = 7,
    threads: int | None = None,
    quick: bool = False,
    progress: Callable[[str], None] | None = None,
    backend: str = "auto",
) -> dict:
    """Time qcalo, Qiskit Aer and PennyLane on the QAG and hybrid workloads.

    Args:
        repeats: timed calls per measurement (after one warm-up call); the median is kept.
        threads: torch threads and Aer's ``max_parallel_threads``; ``None`` leaves both
            libraries at their defaults. torch's setting is restored on return.
        quick: 2 repeats and a large hybrid batch of 100 instead of 1000 (for tests).
        progress: called with a short description before each workload starts.
        backend: qcalo's simulator backend (``auto``, ``torch`` or ``native``); the one
            used is recorded as ``settings["qcalo_backend"]``.

    Returns:
        A JSON-ready dict: speedups (``qag_exact_speedup_vs_aer``,
        ``qag_shots_speedup_vs_aer``, ``qag_exact_speedup_vs_pennylane``,
        ``hybrid_b10_speedup_vs_pennylane``, ``hybrid_b1000_speedup_vs_pennylane``; the
        PennyLane ones are ``None`` when PennyLane is not installed), each being the other
        library's median time over qcalo's; ``max_abs_diff_vs_aer``; ``timings_ms`` (medians);
        ``checks`` (further answer comparisons); ``settings``; ``environment``.

    Raises:
        ConfigError: if ``repeats`` or ``threads`` is not a positive integer.
        CircuitError: if ``backend`` is unknown or unavailable.
    """
    _check_positive_int(repeats, "repeats")
    used_backend = resolve_backend(backend)
    if threads is not None:
        _check_positive_int(threads, "threads")
    repeats = QUICK_REPEATS if quick else repeats
    large_batch = QUICK_LARGE_BATCH if quick else HYBRID_BATCHES[1]
    qml = _import_pennylane()
    previous_threads = torch.get_num_threads()
    if threads is not None:
        torch.set_num_threads(threads)
    report = progress or (lambda _message: None)
    try:
        report(f"QAG workload: {QAG_QUBITS} qubits, B={QAG_BATCH}, exact and {SHOTS} shots")
        timings, checks = _qag_bench(repeats, threads, qml, backend)
        for label, batch in (("b10", HYBRID_BATCHES[0]), ("b1000", large_batch)):
            report(f"hybrid workload: {HYBRID_QUBITS} qubits, B={batch}, forward+backward")
            qcalo_ms, pennylane_ms, grad_diff = _hybrid_bench(batch, repeats, qml, backend)
            timings[f"hybrid_{label}_qcalo"] = qcalo_ms
            timings[f"hybrid_{label}_pennylane"] = pennylane_ms
            checks[f"hybrid_{label}_grad_max_rel_diff_vs_pennylane"] = grad_diff
        environment = _environment(qml, threads)
    finally:
        torch.set_num_threads(previous_threads)
    return {
        "qag_exact_speedup_vs_aer": _ratio(timings["qag_exact_aer"], timings["qag_exact_qcalo"]),
        "qag_shots_speedup_vs_aer": _ratio(timings["qag_shots_aer"], timings["qag_shots_qcalo"]),
        "qag_exact_speedup_vs_pennylane": _ratio(
            timings["qag_exact_pennylane"], timings["qag_exact_qcalo"]
        ),
        "hybrid_b10_speedup_vs_pennylane": _ratio(
            timings["hybrid_b10_pennylane"], timings["hybrid_b10_qcalo"]
        ),
        "hybrid_b1000_speedup_vs_pennylane": _ratio(
            timings["hybrid_b1000_pennylane"], timings["hybrid_b1000_qcalo"]
        ),
        "max_abs_diff_vs_aer": checks.pop("max_abs_diff_vs_aer"),
        "timings_ms": timings,
        "checks": checks,
        "settings": {
            "repeats": repeats,
            "warmup_calls": WARMUP_CALLS,
            "quick": quick,
            "qag_qubits": QAG_QUBITS,
            "qag_batch": QAG_BATCH,
            "shots": SHOTS,
            "hybrid_qubits": HYBRID_QUBITS,
            "hybrid_batches": [HYBRID_BATCHES[0], large_batch],
            "qcalo_dtype": "complex64",
            "qcalo_backend": used_backend,
            "qcalo_sampling": "joint",
        },
        "environment": environment,
    }


def _check_positive_int(value: object, name: str) -> None:
    positive_int(value, name)


def _environment(qml: Any | None, threads: int | None) -> dict:
    import qiskit
    import qiskit_aer

    return {
        "python": platform.python_version(),
        "torch": torch.__version__,
        "qiskit": qiskit.__version__,
        "qiskit_aer": qiskit_aer.__version__,
        "pennylane": None if qml is None else qml.__version__,
        "threads": torch.get_num_threads(),
        "aer_max_parallel_threads": threads,  # None: Aer's default (all cores)
        "cpu_count": os.cpu_count(),
        "platform": platform.platform(),
    }


def main(
    *,
    as_json: bool = False,
    repeats: int = 7,
    threads: int | None = None,
    quick: bool = False,
    backend: str = "auto",
) -> int:
    """Run the benchmark and print JSON or a table.

    Returns:
        The exit status: 0, or 1 when qcalo's and Aer's exact ⟨Z⟩ disagree.
    """
    from rich.console import Console

    status_console = Console(stderr=True)  # stdout stays clean for --json
    with status_console.status("starting") as status:
        result = run_simulator_bench(
            repeats=repeats,
            threads=threads,
            quick=quick,
            progress=lambda message: status.update(f"timing {message}"),
            backend=backend,
        )
    if as_json:
        print(json.dumps(result, indent=2))
    else:
        print_simulator_table(result)
    return 0 if result["max_abs_diff_vs_aer"] < AGREEMENT_TOLERANCE else 1
