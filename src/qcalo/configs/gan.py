"""The schema of a (quantum) FastCaloGAN run: what ``qcalo train gan --config FILE`` reads.

Defaults are the seed 001 / FastCaloQ settings (``notes/fastcalogan.md`` §6): 10 latent
dimensions = 10 qubits, conditional WGAN-GP with λ = 20, 5 critic steps per generator step,
batch 10, Adam 1e-4 with β1 = 0.5 (ε = 1e-7, Keras' value), critic [800, 400, 200], one
checkpoint every 1000 generator iterations. ``quantum: null`` gives the classical twin (the same
head and critic, the latent fed straight into the head).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from qcalo.exceptions import ConfigError

__all__ = ["CircuitSpec", "CriticSpec", "GANConfig", "load_gan_config"]


MAX_CIRCUIT_QUBITS = 20


class CircuitSpec(BaseModel):
    """The FastCaloQ circuit template: RX encoding, repeated [RY, (RZ), CNOT offsets] blocks, ⟨Z⟩."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    rz: bool = Field(False, description="an RZ after every RY in each block")
    cnot_offsets: tuple[int, ...] = Field((1,), description="CNOT i → i+d for each d (subset of 1..4)")
    repetitions: int = Field(1, ge=1, le=3, description="blocks of [RY, (RZ), CNOTs]")
    backend: Literal["auto", "torch", "native"] = "auto"

    @field_validator("cnot_offsets")
    @classmethod
    def _offsets(cls, offsets: tuple[int, ...]) -> tuple[int, ...]:
        if len(set(offsets)) != len(offsets) or any(d not in (1, 2, 3, 4) for d in offsets):
            raise ValueError(f"cnot_offsets={list(offsets)}; use distinct values from 1, 2, 3, 4")
        return tuple(sorted(offsets))


class CriticSpec(BaseModel):
    """Classical critic (dense ``layers`` → 1) or quantum (dense ``layers`` → circuit → one ⟨Z⟩).

    ``readout``: which qubit's ⟨Z⟩ is the score. Seed 001 read the first; but Z on qubit 0
    commutes with every CNOT(0 → i), and CNOTs only run i → i+d, so the light cone of ⟨Z₀⟩
    through r blocks holds qubits 0 … (r−1)·d only: the 2x critic judges 2 of its 10 features
    (tested). The last qubit is the target of the chain and its light cone holds all of them.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    layers: tuple[int, ...] = (800, 400, 200)
    quantum: CircuitSpec | None = None
    readout: Literal["first", "last"] = "last"


class GANConfig(BaseModel):
    """Everything that defines a GAN training run (saved as ``config.yaml`` in the run directory)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    particle: Literal["pions", "photons"] = "pions"
    subset: str = Field("single", description="'single', 'three', or 'E1:n1,E2:n2,…' (MeV:events)")
    latent_dim: int = Field(
        10, ge=1, le=256, description="latent size = data qubits of a generator or critic circuit (≤ 20 there)"
    )  # fmt: skip
    latent_mean: float = 0.5
    latent_std: float = Field(0.5, gt=0)
    quantum: CircuitSpec | None = Field(default_factory=CircuitSpec, description="null: classical generator")
    conditioning: Literal["none", "qubit", "head", "qubit+head"] = Field(
        "none", description="how the energy label reaches the generator (an extra qubit, the head input, or both)"
    )
    generator_layers: tuple[int, ...] = Field((50, 200), description="dense head widths before the n_vox output")
    batch_norm: bool = Field(False, description="BatchNorm after each head layer (train-mode statistics)")
    output_init_scale: float = Field(
        0.1, gt=0, le=1,
        description="the output layer's He-uniform weights times this (see qcalo.models.fastcalogan)",
    )  # fmt: skip
    critic: CriticSpec = Field(default_factory=CriticSpec)
    gp_lambda: float = Field(20.0, ge=0)
    critic_steps: int = Field(5, ge=1)
    batch_size: int = Field(10, ge=1)
    learning_rate: float = Field(1e-4, gt=0)
    beta1: float = Field(0.5, ge=0, lt=1)
    adam_eps: float = Field(1e-7, gt=0)
    lr_steps: tuple[tuple[int, float], ...] = Field(
        (), description="[[iteration, factor], …]: from that generator iteration on, both learning rates are "
        "learning_rate × factor (empty: constant, as FastCaloGAN)",
    )  # fmt: skip
    iterations: int = Field(100_000, ge=1, description="generator steps")
    checkpoint_every: int = Field(1000, ge=1)
    select_on: Literal["val", "train"] = Field("val", description="sample the best checkpoint is chosen against")
    select_showers_per_event: int = Field(
        1, ge=1, le=100, description="generated samples (one shower per selection event each) whose χ²/NDF is averaged "
        "when a checkpoint is scored (1: the public code); more shrink the draw noise that lets the minimum "
        "over checkpoints pick a lucky draw rather than a good generator",
    )  # fmt: skip
    window: int = Field(30, ge=0, description="⟨χ²⟩ over ±window checkpoints around the best")
    threads: int = Field(1, ge=1)
    seed: int = 0

    @model_validator(mode="after")
    def _qubit_needs_circuit(self) -> GANConfig:
        if self.quantum is None and self.conditioning in ("qubit", "qubit+head"):
            raise ValueError(f"conditioning={self.conditioning!r} needs a quantum generator; use 'head' for a classical one")
        # A circuit has one qubit per latent entry; 2^21 amplitudes per shower is past what a
        # batched statevector should hold. A classical generator may take ATLAS's latent 50.
        if (self.quantum is not None or self.critic.quantum is not None) and self.latent_dim > MAX_CIRCUIT_QUBITS:
            raise ValueError(
                f"latent_dim={self.latent_dim} with a quantum layer needs {self.latent_dim} qubits; "
                f"use latent_dim ≤ {MAX_CIRCUIT_QUBITS} or quantum: null"
            )
        return self

    @field_validator("lr_steps")
    @classmethod
    def _steps(cls, steps: tuple[tuple[int, float], ...]) -> tuple[tuple[int, float], ...]:
        starts = [start for start, _factor in steps]
        if any(start < 1 for start in starts) or starts != sorted(set(starts)) or any(not 0 < f for _s, f in steps):
            raise ValueError(f"lr_steps={[list(s) for s in steps]}; use [[iteration, factor], …] with increasing iterations ≥ 1 and factors > 0")
        return steps

    def learning_rate_at(self, iteration: int) -> float:
        """The learning rate of the generator step that follows ``iteration`` completed ones."""
        factor = 1.0
        for start, step_factor in self.lr_steps:
            if iteration >= start:
                factor = step_factor
        return self.learning_rate * factor

    @field_validator("generator_layers")
    @classmethod
    def _widths(cls, widths: tuple[int, ...]) -> tuple[int, ...]:
        if any(w < 1 for w in widths):
            raise ValueError(f"generator_layers={list(widths)}; widths must be ≥ 1")
        return widths


def load_gan_config(path: Path | str, **overrides: Any) -> GANConfig:
    """Read a GAN YAML config (a path or a packaged name such as ``gan-2x``), apply overrides, validate."""
    path = Path(path)
    if not path.suffix and not path.exists():
        from importlib import resources

        packaged = Path(str(resources.files("qcalo.configs") / f"{path.name}.yaml"))
        path = packaged if packaged.is_file() else path
    if not path.is_file():
        raise ConfigError(f"config file {path} not found; pass a YAML file or a packaged name (see qcalo/configs/gan-*.yaml)")
    from qcalo.configs.loading import validated

    return validated(GANConfig, path, overrides)
