"""The engine interface: what runs a compiled plan, and how a backend is chosen.

An :class:`Engine` turns weights and per-sample inputs into a differentiable distribution
over measured bitstrings. Everything above it — exact ⟨Z⟩ (``probs @ readout_signs``), shot
sampling, straight-through gradients, :class:`~qcalo.quantum.layer.QuantumLayer` — uses only
this interface, so a new engine plugs in without touching them.

Engines today: :class:`~qcalo.quantum.torch_engine.TorchEngine` (torch ops, any device,
higher derivatives, also the full statevector) and
:class:`~qcalo.quantum.native_engine.NativeEngine` (C kernels, CPU, first derivatives).
"""

from __future__ import annotations

import math
from typing import Protocol, runtime_checkable

import torch
from torch import Tensor

from qcalo.exceptions import CircuitError, ShapeError
from qcalo.quantum import native

__all__ = ["BACKENDS", "Engine", "all_finite", "check_arguments", "keep_pruned_gradients", "resolve_backend"]

BACKENDS: tuple[str, ...] = ("auto", "torch", "native")


@runtime_checkable
class Engine(Protocol):
    """Runs one compiled circuit: per-sample probabilities of the measured bitstrings.

    ``readout_probabilities(weights, inputs, batch)`` takes validated tensors (see
    :func:`check_arguments`): ``weights [n_params]`` and ``inputs [B, n_inputs]`` (or ``None``)
    in ``real_dtype`` on ``device``, and returns ``probs [B, 2^n]``, real, differentiable with
    respect to both. Entry ``k`` is the probability of *readout label* ``k``: a measured
    bitstring up to the fixed relabelling ``readout_perm`` (``probs.index_select(1,
    readout_perm)`` is in basis order; ``None`` = already in basis order), chosen so engines
    may fold a trailing permutation away. ``readout_signs [2^n, n]`` holds Z_i's eigenvalue
    per label, so ``probs @ readout_signs`` is ⟨Z_i⟩ and shot counts over labels give shot
    estimates the same way.

    A density-matrix engine (noise channels, readout error) implements the same three
    members: it evolves ρ instead of ψ, applies the readout-error confusion matrix to
    ``diag(ρ)`` and returns those measured-bitstring probabilities with
    ``readout_perm = None`` and ``readout_signs = z_signs(n)``; sampling, ⟨Z⟩ and the layer
    work unchanged. ``supports_higher_derivatives`` tells callers whether a backward with
    ``create_graph=True`` is possible.
    """

    name: str
    device: torch.device
    real_dtype: torch.dtype
    readout_perm: Tensor | None
    readout_signs: Tensor
    supports_higher_derivatives: bool

    def readout_probabilities(self, weights: Tensor, inputs: Tensor | None, batch: int) -> Tensor: ...


def resolve_backend(backend: str, device: torch.device | str = "cpu") -> str:
    """The backend a simulator built with ``backend`` on ``device`` runs: ``"torch"`` or ``"native"``.

    Raises:
        CircuitError: for an unknown name, or ``"native"`` where it cannot run.
    """
    if backend not in BACKENDS:
        raise CircuitError(f"backend={backend!r}; use one of {', '.join(BACKENDS)}")
    if backend == "torch":
        return "torch"
    reason = None
    if not native.available():
        reason = "the C extension qcalo.quantum._statevector was not built (no C compiler at install?)"
    elif torch.device(device).type != "cpu":
        reason = f"it runs on the CPU only, not {device}"
    if reason is None:
        return "native"
    if backend == "native":
        raise CircuitError(f"backend='native' is unavailable: {reason}; use backend='auto' or 'torch'")
    return "torch"


def all_finite(values: Tensor) -> bool:
    """No NaN or ±inf in ``values``.

    A finite sum implies finite entries (NaN and inf propagate), and one reduction costs a
    third of ``isfinite().all()`` — it is on every call of small hybrid batches. Only a
    non-finite sum (or an overflow) takes the exact check.
    """
    return math.isfinite(values.sum().item()) or bool(torch.isfinite(values).all())


def check_arguments(
    n_params: int,
    n_inputs: int,
    real_dtype: torch.dtype,
    device: torch.device,
    weights: Tensor,
    inputs: Tensor | None,
    batch_size: int | None,
) -> tuple[Tensor, Tensor | None, int]:
    """Validated ``(weights, inputs, batch)`` in ``real_dtype`` on ``device``.

    Raises:
        ShapeError: wrong shapes, or inputs/batch_size that contradict each other.
        CircuitError: a NaN or infinite angle.
    """
    weights = torch.as_tensor(weights, device=device)
    if weights.shape != (n_params,):
        raise ShapeError(f"weights have shape {tuple(weights.shape)}; the circuit needs ({n_params},)")
    weights = weights.to(real_dtype)
    if not all_finite(weights):
        raise CircuitError("a weight (rotation angle) is NaN or infinite; check the optimizer or initial values")
    if n_inputs == 0:
        if inputs is not None:
            inputs = torch.as_tensor(inputs)
            if inputs.dim() != 2 or inputs.shape[1] != 0:
                raise ShapeError(
                    f"inputs have shape {tuple(inputs.shape)}, but the circuit reads no inputs; "
                    "pass inputs=None and batch_size=B"
                )
            if batch_size is not None and batch_size != inputs.shape[0]:
                raise ShapeError(f"batch_size={batch_size} but inputs have {inputs.shape[0]} rows")
            batch_size = inputs.shape[0]
        batch = 1 if batch_size is None else batch_size
        if not isinstance(batch, int) or batch < 1:
            raise ShapeError(f"batch_size={batch!r}; use an integer ≥ 1")
        return weights, None, batch
    if inputs is None:
        raise ShapeError(f"the circuit reads {n_inputs} input feature(s); pass inputs of shape [B, {n_inputs}]")
    inputs = torch.as_tensor(inputs, device=device)
    if inputs.dim() != 2 or inputs.shape[1] != n_inputs or inputs.shape[0] < 1:
        raise ShapeError(f"inputs have shape {tuple(inputs.shape)}; the circuit needs [B, {n_inputs}] with B ≥ 1")
    if batch_size is not None and batch_size != inputs.shape[0]:
        raise ShapeError(f"batch_size={batch_size} but inputs have {inputs.shape[0]} rows; drop batch_size")
    inputs = inputs.to(real_dtype)
    if not all_finite(inputs):
        raise CircuitError("an input angle is NaN or infinite; check the data fed to the circuit")
    return weights, inputs, inputs.shape[0]


def keep_pruned_gradients(
    probs: Tensor, pruned: frozenset, weights: Tensor, inputs: Tensor | None
) -> Tensor:
    """``probs`` still linked to sources the readout plan dropped, so their gradients are
    exact zeros rather than ``None`` (``pruned`` holds :class:`AngleSource` values)."""
    if "param" in pruned and weights.requires_grad:
        probs = probs + 0 * weights.sum()
    if "input" in pruned and inputs is not None and inputs.requires_grad:
        probs = probs + 0 * inputs.sum()
    return probs
