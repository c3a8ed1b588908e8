"""``qcalo bench gan``: one WGAN-GP iteration of the quantum generator against its classical twin.

Measured in the same run, same process, same threads (seed 001's pain: "the (simulated) quantum
layer adds considerable overhead on training times"):

* the ``gan-2x`` generator (10 qubits, [RY, RZ, CNOT+1] × 2, head [50, 200]) through qcalo's
  ``QuantumLayer``;
* its classical twin (``gan-classical``: the same head and the same critic, no circuit);
* the same circuit through PennyLane's ``qml.qnn.TorchLayer`` (``default.qubit``, backprop)
  swapped into the same generator, when PennyLane is installed.

An iteration is 5 critic steps (with the gradient penalty's double backward) and one generator
step at batch 10 (FastCaloQ's settings); the quantum and classical iterations are timed in turn. Keys: ``seconds_per_iteration`` per model,
``quantum_over_classical_step_ratio`` = t_qcalo / t_classical (seed-era anchors: TensorFlow
Quantum 1.3–2.0, PennyLane TorchLayer 5.4, PennyLane + Keras 8–9),
``pqc_overhead_reduction_vs_pennylane`` = (t_pennylane − t_classical) / max(t_qcalo − t_classical,
1 ms), and ``seconds_per_1000_showers`` for generation.
"""

from __future__ import annotations

import statistics
import time
from typing import Any

import numpy as np
import torch

__all__ = ["run_gan_bench"]


class _PennyLaneQuantum(torch.nn.Module):
    """The generator's circuit as a PennyLane TorchLayer, with QuantumLayer's call signature."""

    def __init__(self, circuit: Any, qml: Any) -> None:
        super().__init__()
        from qcalo.quantum.peers import pennylane_qnode

        self.layer = qml.qnn.TorchLayer(pennylane_qnode(qml, circuit), {"weights": circuit.n_params})

    def forward(self, inputs: torch.Tensor) -> torch.Tensor:
        return self.layer(inputs.double())


def _time_iterations(trainers: dict[str, Any], iterations: int, warmup: int) -> dict[str, float]:
    """Median seconds per ``step()`` of each trainer, their iterations taken in turn.

    Interleaved rather than one block after the other, so a change of the (shared) machine's
    load during the run falls on both models alike and the ratio stays a same-conditions ratio.
    """
    for _ in range(warmup):
        for trainer in trainers.values():
            trainer.step()
    times: dict[str, list[float]] = {name: [] for name in trainers}
    for _ in range(iterations):
        for name, trainer in trainers.items():
            start = time.perf_counter()
            trainer.step()
            times[name].append(time.perf_counter() - start)
    return {name: statistics.median(values) for name, values in times.items()}


def run_gan_bench(*, iterations: int = 30, warmup: int = 5, threads: int = 1, pennylane: bool = True) -> dict[str, Any]:
    """Seconds per WGAN-GP iteration of the quantum, classical and PennyLane generators (medians)."""
    from qcalo.configs.gan import load_gan_config
    from qcalo.data.synthetic_pions import synthetic_pion_subset
    from qcalo.train.gan import _Trainer, generate_showers

    torch.set_num_threads(threads)
    subset = synthetic_pion_subset("single", counts=200, val_counts=0, test_counts=0, seed=0)
    train = subset.part("train")
    quantum_config = load_gan_config("gan-2x")
    classical_config = load_gan_config("gan-classical")
    quantum = _Trainer(quantum_config, train)
    classical = _Trainer(classical_config, train)
    seconds: dict[str, float | None] = dict(
        _time_iterations({"qcalo_2x": quantum, "classical_twin": classical}, iterations, warmup)
    )
    seconds["pennylane_2x"] = None
    qml = None
    if pennylane:
        try:
            import pennylane as qml
        except ImportError:
            qml = None
    if qml is not None:
        peer = _Trainer(quantum_config, train)
        peer.generator.quantum = _PennyLaneQuantum(peer.generator.quantum.circuit, qml)
        peer.opt_g = torch.optim.Adam(peer.generator.parameters(), lr=1e-4, betas=(0.5, 0.999), eps=1e-7, fused=True)
        seconds["pennylane_2x"] = _time_iterations({"pennylane_2x": peer}, max(5, iterations // 3), 2)["pennylane_2x"]
    energies = np.full(1000, 65536.0)
    start = time.perf_counter()
    generate_showers(quantum.generator, energies, quantum_config, seed=0)
    generation_quantum = time.perf_counter() - start
    start = time.perf_counter()
    generate_showers(classical.generator, energies, classical_config, seed=0)
    generation_classical = time.perf_counter() - start
    t_q, t_c, t_p = seconds["qcalo_2x"], seconds["classical_twin"], seconds["pennylane_2x"]
    return {
        "settings": {"iterations": iterations, "warmup": warmup, "threads": threads, "batch": quantum_config.batch_size,
                     "critic_steps": quantum_config.critic_steps, "qubits": quantum_config.latent_dim},
        "seconds_per_iteration": seconds,
        "seconds_per_1000_showers": {"qcalo_2x": generation_quantum, "classical_twin": generation_classical},
        "quantum_over_classical_step_ratio": t_q / t_c,
        "pennylane_over_classical_step_ratio": None if t_p is None else t_p / t_c,
        "pqc_overhead_reduction_vs_pennylane": None if t_p is None else (t_p - t_c) / max(t_q - t_c, 1e-3),
    }
