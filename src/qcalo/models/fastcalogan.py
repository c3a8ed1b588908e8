"""FastCaloGAN generators and critics, classical and hybrid quantum, built from small blocks.

Generator: latent ``z`` (``latent_dim``, drawn N(0.5, 0.5²) as in ATLAS) → optional quantum layer
(:func:`qcalo.models.pqc.fastcaloq_circuit`, ⟨Z⟩ on every qubit) → dense head (``Linear →
[BatchNorm] → ReLU`` per width) → ``Linear(n_voxels) → ReLU``. Without the quantum layer it is the
*classical twin*: the same head and critic, the latent fed straight into the head.

Energy conditioning (``conditioning``): ``"qubit"`` — an extra qubit RX(π·label) (seed 001's
design, placed where it reaches every qubit); ``"head"`` — the label concatenated to the head input
(FastCaloGAN's classical way); ``"qubit+head"`` — both; ``"none"``. The critic always sees the label
next to the showers, as in FastCaloGAN.

Critic: ``[showers, label]`` → dense widths (ReLU) → ``Linear(1)``; or quantum: dense widths →
``Linear(n_qubits)`` (angles) → circuit → one qubit's ⟨Z⟩ (seed 001's "reverse" generator; the
last qubit by default, see :class:`~qcalo.configs.gan.CriticSpec` for why not the first). A WGAN-GP needs
the critic's second derivative, so a quantum critic's layer runs on the ``torch`` engine.

Targets and labels follow FastCaloGAN (``notes/fastcalogan.md`` §2, §4): voxels / E_kin with
E_kin = sqrt(E² + m²) − m, label = log(E_kin/E_kin,min) / log(E_kin,max/E_kin,min) over the
dataset's range 2^8–2^22 MeV. Dense layers: He-uniform weights, zero bias (Keras ``he_uniform``).
BatchNorm, when on, uses Keras' momentum and ε (0.01 in PyTorch's convention, 1e-3).

One deliberate change: the generator's output layer starts at ``output_init_scale`` (0.1) times
He-uniform. With the plain initialisation a fresh generator's showers sum to ~100× E_kin; the
critic drives every output below zero within ~1000 iterations and the final ReLU then passes no
gradient at all (measured on the synthetic stand-in, ``single``, batch 10: after 2500 iterations
E_tot = 2.0 ± 5.1 GeV against 54.5 ± 3.9 GeV, 0.07 % of voxels non-zero, χ²/NDF stuck at 71).
Scaled by 0.1 the same run learns (χ²/NDF 42 at 2500 iterations, E_tot rising to 41.5 GeV).
"""

from __future__ import annotations

import math

import numpy as np
import torch
from torch import Tensor, nn

from qcalo.configs.gan import CircuitSpec, GANConfig
from qcalo.data.calochallenge import kinetic_energy
from qcalo.models.pqc import fastcaloq_circuit

__all__ = [
    "ENERGY_RANGE_MEV",
    "Critic",
    "Generator",
    "build_critic",
    "build_generator",
    "energy_label",
]

ENERGY_RANGE_MEV = (2.0**8, 2.0**22)
"""Incident energies of CaloChallenge dataset 1: the label's 0 and 1."""


def energy_label(incident_mev: np.ndarray, particle: str) -> np.ndarray:
    """FastCaloGAN's conditioning label in [0, 1]: log-kinetic energy across the dataset's range."""
    low, high = (float(kinetic_energy(e, particle)) for e in ENERGY_RANGE_MEV)
    return np.log(kinetic_energy(incident_mev, particle) / low) / math.log(high / low)


def _dense(in_features: int, out_features: int) -> nn.Linear:
    layer = nn.Linear(in_features, out_features)
    nn.init.kaiming_uniform_(layer.weight, nonlinearity="relu")  # = Keras he_uniform
    nn.init.zeros_(layer.bias)
    return layer


def dense_stack(in_features: int, widths: tuple[int, ...], *, batch_norm: bool = False) -> tuple[nn.Sequential, int]:
    """``Linear → [BatchNorm] → ReLU`` per width; returns the stack and its output width."""
    blocks: list[nn.Module] = []
    for width in widths:
        blocks.append(_dense(in_features, width))
        if batch_norm:
            blocks.append(nn.BatchNorm1d(width, momentum=0.01, eps=1e-3))
        blocks.append(nn.ReLU())
        in_features = width
    return nn.Sequential(*blocks), in_features


def _quantum_layer(n_data: int, spec: CircuitSpec, *, conditioning_qubit: bool, backend: str, generator: torch.Generator) -> nn.Module:
    from qcalo.quantum.layer import QuantumLayer

    circuit = fastcaloq_circuit(
        n_data, conditioning_qubit=conditioning_qubit, rz=spec.rz,
        cnot_offsets=spec.cnot_offsets, repetitions=spec.repetitions,
    )  # fmt: skip
    layer = QuantumLayer(circuit, backend=backend, dtype=torch.complex64)
    with torch.no_grad():  # TensorFlow Quantum's initialiser: U(0, 2π)
        layer.weight.copy_(torch.rand(layer.weight.shape, generator=generator) * 2 * math.pi)
    return layer


class Generator(nn.Module):
    """``forward(z [B, latent], label [B, 1]) -> [B, n_voxels]`` voxel energies / E_kin (≥ 0)."""

    def __init__(self, config: GANConfig, n_voxels: int, *, generator: torch.Generator) -> None:
        super().__init__()
        self.conditioning = config.conditioning
        self.quantum = None
        width = config.latent_dim
        if config.quantum is not None:
            on_qubit = config.conditioning in ("qubit", "qubit+head")
            self.quantum = _quantum_layer(
                config.latent_dim, config.quantum, conditioning_qubit=on_qubit,
                backend=config.quantum.backend, generator=generator,
            )  # fmt: skip
            width = config.latent_dim + (1 if on_qubit else 0)
        self.label_to_head = config.conditioning in ("head", "qubit+head")
        self.head, width = dense_stack(width + (1 if self.label_to_head else 0), config.generator_layers, batch_norm=config.batch_norm)
        self.output = _dense(width, n_voxels)
        with torch.no_grad():
            self.output.weight.mul_(config.output_init_scale)

    def forward(self, z: Tensor, label: Tensor) -> Tensor:
        features = z
        if self.quantum is not None:
            inputs = torch.cat([z, label], dim=1) if self.conditioning in ("qubit", "qubit+head") else z
            features = self.quantum(inputs).to(z.dtype)
        if self.label_to_head:
            features = torch.cat([features, label], dim=1)
        return torch.relu(self.output(self.head(features)))


class Critic(nn.Module):
    """``forward(showers [B, n_voxels], label [B, 1]) -> [B]`` Wasserstein critic score."""

    def __init__(self, config: GANConfig, n_voxels: int, *, generator: torch.Generator) -> None:
        super().__init__()
        spec = config.critic
        self.body, width = dense_stack(n_voxels + 1, spec.layers)
        self.quantum = None
        if spec.quantum is None:
            self.output: nn.Module = _dense(width, 1)
        else:
            n_qubits = config.latent_dim
            self.output = _dense(width, n_qubits)  # angles for the circuit's RX encoding
            # torch engine: the gradient penalty differentiates the critic twice.
            self.quantum = _quantum_layer(n_qubits, spec.quantum, conditioning_qubit=False, backend="torch", generator=generator)
            self.readout = 0 if spec.readout == "first" else n_qubits - 1

    def forward(self, showers: Tensor, label: Tensor) -> Tensor:
        score = self.output(self.body(torch.cat([showers, label], dim=1)))
        if self.quantum is not None:
            score = self.quantum(score)[:, self.readout : self.readout + 1].to(showers.dtype)
        return score[:, 0]


def build_generator(config: GANConfig, n_voxels: int, *, seed: int) -> Generator:
    """The generator a config describes; dense and circuit weights drawn from ``seed``."""
    torch.manual_seed(seed)  # dense initialisers draw from the global generator
    return Generator(config, n_voxels, generator=torch.Generator().manual_seed(seed))


def build_critic(config: GANConfig, n_voxels: int, *, seed: int) -> Critic:
    """The critic a config describes; weights drawn from ``seed``."""
    torch.manual_seed(seed)
    return Critic(config, n_voxels, generator=torch.Generator().manual_seed(seed))
