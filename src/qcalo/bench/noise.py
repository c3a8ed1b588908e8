"""qcalo's noisy engine against Qiskit Aer's density matrix, and noisy against noiseless training.

Two measurements (issue 9), each timed in one run (only ratios measured together mean
anything on a shared machine):

* **Noisy QAG batch** — the 8-qubit QAG (``clic8`` ansatz, 3 layers: 84 cz after
  transpilation onto ``fake_fez``'s best line), ``B = 50`` fresh inputs ``x ~ N(0, 0.5)``
  per call, noise scale ``x = 1``, exact measured ⟨Z_i⟩ (readout error included). qcalo:
  :class:`~qcalo.quantum.density_matrix.DensityMatrixSimulator` in float32. Aer:
  ``AerSimulator(method="density_matrix")`` with :func:`~qcalo.quantum.noise.scaled_aer_noise_model`
  on the same transpiled circuit, built once outside the timing and run for the whole batch
  with ``parameter_binds``; its exact pre-measurement probabilities get the model's readout
  matrices (what qcalo returns). Also 2048-shot estimates (joint bitstrings) from both.
  Before timing, qcalo's float64 ⟨Z⟩ must equal Aer's to 1e-6.
* **Noisy training epoch** — one epoch of the default recipe (``qag-clic8-adam``: 256
  images, exact ⟨Z⟩ with 2048-shot estimates passed straight through, MMD loss, backward)
  under noise at ``x = 1`` relative to the same epoch noiseless through the QAG's own
  :class:`~qcalo.quantum.simulator.StatevectorSimulator` (complex64). Under noise the
  recipe draws per-qubit (``marginal``) shots, which need only the Heisenberg ⟨Z⟩
  (``noisy_over_noiseless_epoch``); full bitstrings (``joint``) need the noisy forward pass
  over all 256 images (``noisy_over_noiseless_epoch_joint``); each against the same
  sampling noiseless.
  ``light_cone_speedup``: that marginal epoch with the Heisenberg pass over all ``4^n``
  coefficients per observable, over the same with each observable's light cone.

Key results: ``noisy_qag_speedup_vs_aer`` (target ≥ 20) and ``noisy_over_noiseless_epoch``
(target ≤ 10); speed targets are reported, not asserted.
"""

from __future__ import annotations

import math
import os
import platform
import statistics
import time
from collections.abc import Callable
from typing import Any

import numpy as np
import torch

from qcalo.exceptions import QcaloError
from qcalo.validate import positive_int

__all__ = [
    "EPOCH_IMAGES",
    "NOISE_BATCH",
    "NOISE_QUBITS",
    "SHOTS",
    "format_noise_bench",
    "run_noise_bench",
]

NOISE_QUBITS = 8
NOISE_BATCH = 50
EPOCH_IMAGES = 256
SHOTS = 2048
LAYERS = 3
INPUT_VARIANCE = 0.5
AGREEMENT_TOLERANCE = 1e-6
_SEED = 2025


def _median_ms(call: Callable[[int], object], repeats: int) -> float:
    call(0)  # warm-up: caches, allocator, Aer's first-run setup
    times = []
    for i in range(repeats):
        start = time.perf_counter()
        call(i + 1)
        times.append(time.perf_counter() - start)
    return 1000 * statistics.median(times)


def run_noise_bench(
    *,
    repeats: int = 3,
    threads: int | None = 1,
    device: str = "fake_fez",
    noise_scale: float = 1.0,
    progress: Callable[[str], None] | None = None,
) -> dict[str, Any]:
    """Run both measurements and return the report (times in ms, ratios, checks, environment).

    Args:
        repeats: timed calls per measurement (median reported), after one warm-up call.
        threads: torch threads and Aer's ``max_parallel_threads`` (``None``: each library's
            default). 1 is the training default (``QAGConfig.threads``).
        device, noise_scale: the noise profile and its scale x.

    Raises:
        QcaloError: bad arguments, or qcalo's noisy ⟨Z⟩ disagrees with Aer's (a speed-up
            of different answers would mean nothing).
    """
    from qcalo.models.qag import QAG, build_qag_circuit
    from qcalo.quantum.density_matrix import DensityMatrixSimulator
    from qcalo.quantum.noise import check_scale
    from qcalo.quantum.noise_aer import AerNoisyRunner

    repeats = positive_int(repeats, "repeats")
    if threads is not None:
        threads = positive_int(threads, "threads")
    noise_scale = check_scale(noise_scale)
    report = progress or (lambda _message: None)
    previous_threads = torch.get_num_threads()
    if threads is not None:
        torch.set_num_threads(threads)
    try:
        circuit = build_qag_circuit(NOISE_QUBITS, "clic8", LAYERS)
        start = time.perf_counter()
        exact_sim = DensityMatrixSimulator(circuit, device=device, noise_scale=noise_scale)
        setup_s = time.perf_counter() - start
        fast_sim = DensityMatrixSimulator(
            circuit, device=device, noise_scale=noise_scale, dtype=torch.float32
        )
        aer = AerNoisyRunner(exact_sim.native, noise_scale, threads=threads)
        rng = np.random.default_rng(_SEED)
        weights = rng.normal(0.0, 0.3, circuit.n_params)
        batches = [
            rng.normal(0.0, math.sqrt(INPUT_VARIANCE), (NOISE_BATCH, NOISE_QUBITS))
            for _ in range(repeats + 1)
        ]
        signs = exact_sim.z_signs.numpy()

        report(f"agreement: qcalo vs Aer density matrix, B={NOISE_BATCH}, x={noise_scale}")
        aer_z = aer.probabilities(weights, batches[0]) @ signs
        z64 = exact_sim.expval_z(torch.tensor(weights), torch.tensor(batches[0])).numpy()
        z32 = fast_sim.expval_z(torch.tensor(weights), torch.tensor(batches[0])).double().numpy()
        checks = {
            "max_abs_diff_vs_aer_float64": float(np.abs(z64 - aer_z).max()),
            "max_abs_diff_vs_aer_float32": float(np.abs(z32 - aer_z).max()),
            "mean_abs_noise_shift": None,
        }
        if checks["max_abs_diff_vs_aer_float64"] > AGREEMENT_TOLERANCE:
            raise QcaloError(
                f"qcalo's noisy ⟨Z⟩ differs from Aer's by {checks['max_abs_diff_vs_aer_float64']:.2e} "
                f"(> {AGREEMENT_TOLERANCE}); run tests/test_quantum_density.py"
            )
        w32 = torch.tensor(weights, dtype=torch.float32)
        inputs32 = [torch.tensor(b, dtype=torch.float32) for b in batches]
        generator = torch.Generator().manual_seed(_SEED)

        report(f"timing: noisy batch, qcalo (float32) vs Aer, {repeats} repeats")
        timings = {
            "batch_exact_qcalo": _median_ms(lambda i: fast_sim.expval_z(w32, inputs32[i]), repeats),
            "batch_exact_qcalo_forward": _median_ms(
                lambda i: fast_sim.probabilities(w32, inputs32[i]) @ fast_sim.z_signs, repeats
            ),
            "batch_shots_qcalo": _median_ms(
                lambda i: fast_sim.expval_z(w32, inputs32[i], shots=SHOTS, generator=generator),
                repeats,
            ),
            "batch_exact_aer": _median_ms(
                lambda i: aer.probabilities(weights, batches[i]) @ signs, repeats
            ),
            "batch_shots_aer": _median_ms(
                lambda i: aer.counts(weights, batches[i], shots=SHOTS, seed=i) @ signs / SHOTS,
                repeats,
            ),
        }

        report(
            f"timing: one training epoch ({EPOCH_IMAGES} images, forward + backward), noisy vs noiseless"
        )
        qag = QAG(NOISE_QUBITS, "clic8", n_layers=LAYERS, shots=SHOTS, dtype=torch.complex64)
        reference = torch.tensor(
            rng.uniform(-1, 1, (EPOCH_IMAGES, NOISE_QUBITS)), dtype=torch.float32
        )
        checks["mean_abs_noise_shift"] = float(
            (fast_sim.expval_z(w32, inputs32[0]) - qag.simulator.expval_z(w32, inputs32[0]))
            .abs()
            .mean()
        )
        for sampling in ("joint", "marginal"):
            qag.layer.sampling = sampling
            timings[f"epoch_noisy_{sampling}"] = _median_ms(
                lambda i, s=sampling: _noisy_epoch(qag, fast_sim, w32, reference, i, s), repeats
            )
            timings[f"epoch_noiseless_{sampling}"] = _median_ms(
                lambda i: _noiseless_epoch(qag, w32, reference, i), repeats
            )
        # The same marginal epoch with every observable carried over all 4^n coefficients
        # (the engine before its light-cone pass): the light cone's own speed-up.
        fast_sim.light_cone = False
        try:
            timings["epoch_noisy_marginal_full_pass"] = _median_ms(
                lambda i: _noisy_epoch(qag, fast_sim, w32, reference, i, "marginal"), repeats
            )
        finally:
            fast_sim.light_cone = True
        environment = _environment(threads)
    finally:
        torch.set_num_threads(previous_threads)
    counts = exact_sim.native.count_ops()
    return {
        "noisy_qag_speedup_vs_aer": timings["batch_exact_aer"] / timings["batch_exact_qcalo"],
        "noisy_qag_shots_speedup_vs_aer": timings["batch_shots_aer"] / timings["batch_shots_qcalo"],
        # The recipe under noise samples per qubit (QAGConfig.noise_sampling = "marginal").
        "noisy_over_noiseless_epoch": timings["epoch_noisy_marginal"]
        / timings["epoch_noiseless_marginal"],
        "noisy_over_noiseless_epoch_joint": timings["epoch_noisy_joint"]
        / timings["epoch_noiseless_joint"],
        "light_cone_speedup": timings["epoch_noisy_marginal_full_pass"]
        / timings["epoch_noisy_marginal"],
        "timings_ms": timings,
        "checks": checks,
        "workload": {
            "device": exact_sim.profile.device,
            "physical_qubits": list(exact_sim.profile.physical_qubits),
            "noise_scale": noise_scale,
            "native_gates": counts,
            "fused_blocks": len(exact_sim.plan.blocks),
            "batch": NOISE_BATCH,
            "epoch_images": EPOCH_IMAGES,
            "shots": SHOTS,
            "setup_s": setup_s,
            "repeats": repeats,
        },
        "environment": environment,
    }


def _straight_through(z_exact: torch.Tensor, z_shots: torch.Tensor) -> torch.Tensor:
    return z_exact + (z_shots - z_exact).detach()


def _noisy_epoch(
    qag: object,
    sim: object,
    weights: torch.Tensor,
    reference: torch.Tensor,
    seed: int,
    sampling: str,
) -> None:
    """What ``QAG.sample_z`` + the MMD loss + backward do, with the noisy engine."""
    from qcalo.metrics.mmd import mmd
    from qcalo.quantum.sampling import marginal_shots

    generator = torch.Generator().manual_seed(seed)
    w = weights.clone().requires_grad_()
    angles = qag.random_angles(EPOCH_IMAGES, generator)
    z_exact = sim.expval_z(w, angles)
    if sampling == "marginal":  # as QAG._noisy_z: the one Heisenberg pass serves the shots too
        z_shots = marginal_shots(z_exact.detach(), SHOTS, generator)
    else:
        z_shots = sim.expval_z(
            w.detach(), angles, shots=SHOTS, generator=generator, sampling=sampling
        )
    mmd(_straight_through(z_exact, z_shots), reference, scale=1.0).backward()


def _noiseless_epoch(
    qag: object, weights: torch.Tensor, reference: torch.Tensor, seed: int
) -> None:
    from qcalo.metrics.mmd import mmd

    generator = torch.Generator().manual_seed(seed)
    w = weights.clone().requires_grad_()
    mmd(qag.sample_z(w, EPOCH_IMAGES, generator=generator), reference, scale=1.0).backward()


def _environment(threads: int | None) -> dict[str, Any]:
    import qiskit
    import qiskit_aer

    return {
        "python": platform.python_version(),
        "torch": torch.__version__,
        "qiskit": qiskit.__version__,
        "qiskit_aer": qiskit_aer.__version__,
        "threads": torch.get_num_threads(),
        "aer_max_parallel_threads": threads,  # None: Aer's default (all cores)
        "cpu_count": os.cpu_count(),
        "load_average_1min": os.getloadavg()[0] if hasattr(os, "getloadavg") else None,
    }


def format_noise_bench(result: dict[str, Any]) -> str:
    """A short human-readable summary of :func:`run_noise_bench`'s report."""
    t, w, checks = result["timings_ms"], result["workload"], result["checks"]
    head = f"noisy QAG batch ({w['device']} line {w['physical_qubits']}, x={w['noise_scale']}, B={w['batch']}"
    exact = (
        f"qcalo {t['batch_exact_qcalo']:.1f} ms, Aer density matrix {t['batch_exact_aer']:.1f} ms"
    )
    shots = f"qcalo {t['batch_shots_qcalo']:.1f} ms, Aer {t['batch_shots_aer']:.1f} ms"
    epoch = (
        f"noisy / noiseless {t['epoch_noisy_joint']:.1f} / {t['epoch_noiseless_joint']:.1f} ms "
        f"(joint shots), {t['epoch_noisy_marginal']:.1f} / {t['epoch_noiseless_marginal']:.1f} ms "
        "(marginal shots)"
    )
    ratios = f"{result['noisy_over_noiseless_epoch_joint']:.1f}× / {result['noisy_over_noiseless_epoch']:.1f}×"
    agreement = (
        f"{checks['max_abs_diff_vs_aer_float64']:.1e} (float64), "
        f"{checks['max_abs_diff_vs_aer_float32']:.1e} (float32)"
    )
    lines = [
        f"{head}, {w['native_gates']}, {w['fused_blocks']} fused blocks)",
        f"  exact ⟨Z⟩: {exact} → speed-up {result['noisy_qag_speedup_vs_aer']:.1f}× (target ≥ 20)",
        f"  {w['shots']} shots: {shots} → {result['noisy_qag_shots_speedup_vs_aer']:.1f}×",
        f"training epoch ({w['epoch_images']} images): {epoch} → {ratios} (target ≤ 10 for marginal, the default)",
        f"  light-cone Heisenberg pass: {result['light_cone_speedup']:.2f}× faster than all 4^n coefficients"
        + f" per observable ({t['epoch_noisy_marginal_full_pass']:.1f} ms)",
        f"agreement with Aer: {agreement}",
    ]
    return "\n".join(lines)
