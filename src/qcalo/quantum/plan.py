"""The compiled plan of a circuit: plain data the engines execute, and the tables it is made of.

No execution code: :func:`basis_bits`, :func:`z_signs`, :func:`signed_permutation` and
:func:`wire_group` only build the plan's index and sign tables.

A plan is a list of *stages* (see :mod:`qcalo.quantum.compiler` for how they are made):

* :class:`SingleQubitLayer` — single-qubit gates as index tables for one vectorised build;
  the first stage of every plan is one, acting on |0…0⟩ (the *product* stage);
* :class:`Permutation` — a run of two-qubit signed permutations (CNOT, CZ, SWAP) composed
  into one ``new[k] = sign[k] · old[perm[k]]``;
* :class:`FusedStage` — consecutive weight-only stages merged into one dense block per
  group of ≤ 6 wires (:mod:`qcalo.quantum.fusion`).

Qubit ``i`` is bit ``i`` of the basis-state index (little-endian, as in Qiskit).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor

from qcalo.quantum.circuit import AngleSource, Op
from qcalo.quantum.gates import GATES

__all__ = [
    "CompiledPlan",
    "FusedGroup",
    "FusedStage",
    "Permutation",
    "SingleQubitLayer",
    "Stage",
    "WireGroup",
    "basis_bits",
    "signed_permutation",
    "wire_group",
    "z_signs",
]


def basis_bits(n_qubits: int, device: torch.device | str = "cpu") -> Tensor:
    """``bits[k, i]`` = bit ``i`` of basis index ``k``, shape ``[2^n, n]`` (int64)."""
    index = torch.arange(2**n_qubits, device=device)
    return (index[:, None] >> torch.arange(n_qubits, device=device)) & 1


def z_signs(
    n_qubits: int, dtype: torch.dtype = torch.float64, device: torch.device | str = "cpu"
) -> Tensor:
    """``signs[k, i]`` = eigenvalue of Z_i on basis state ``k`` (±1), shape ``[2^n, n]``."""
    return (1 - 2 * basis_bits(n_qubits, device)).to(dtype)


@dataclass(frozen=True)
class WireGroup:
    """Contiguous wires ``low … low+size-1`` expanded together into one Kronecker block."""

    low: int
    size: int
    block_index: Tensor  # [size, 4^size] into the layer's flattened per-wire 2x2 matrices
    amplitude_bits: Tensor  # [size, 2^size]: bit b of each basis index of the group


@dataclass
class SingleQubitLayer:
    """Single-qubit gates of one stage, as index tables for one vectorised build.

    Rotation angles are gathered from ``sources = [weights | inputs | constants]`` (inputs
    only when the layer reads them) in step-major order, so when every wire has a rotation
    at every step the per-step matrices are a plain reshape, not a gather.
    """

    source_index: Tensor  # [R] into the source vector
    source_scale: Tensor  # [R]
    constants: Tensor  # [C] constant angles
    sources: frozenset[AngleSource]  # where the layer's angles come from
    generators: Tensor  # [R, 2, 2] complex, step-major
    padding: Tensor | None  # [F (+1), 2, 2] fixed gates, then identity if a wire idles
    step_index: Tensor | None  # [depth, n] into cat(rotations, padding); None = plain reshape
    depth: int
    groups: list[WireGroup]
    active_wires: frozenset[int] = frozenset()  # wires with at least one gate

    @property
    def uses_inputs(self) -> bool:
        return AngleSource.INPUT in self.sources


@dataclass
class Permutation:
    """``new[k] = sign[k] · old[perm[k]]`` for a run of two-qubit signed permutations."""

    perm: Tensor  # [2^n] int64
    sign: Tensor | None  # [2^n] real, None when all +1
    ops: tuple[Op, ...] = ()  # the gates, kept for fusion

    @property
    def pairs(self) -> tuple[tuple[int, int], ...]:
        return tuple(tuple(op.wires) for op in self.ops)


@dataclass(frozen=True)
class FusedGroup:
    """One group's share of a fused stage: its dense block is the product of ``steps``.

    A step is ``("layer", position)`` — that layer's Kronecker block on these wires — or
    ``("perm", perm, sign)``: the run's gates restricted to these wires, as a signed
    permutation of the group's ``2^size`` basis states.
    """

    group: WireGroup
    steps: tuple[tuple, ...]


@dataclass
class FusedStage:
    """Consecutive weight-only stages whose two-qubit gates all stay inside wire groups.

    Per group, their product is one dense ``2^g × 2^g`` block, built from small matrices
    each call; the state then takes one pass per group instead of one per original stage.
    """

    layers: list[SingleQubitLayer]
    groups: list[FusedGroup]
    sources: frozenset[AngleSource]


Stage = SingleQubitLayer | Permutation | FusedStage


@dataclass
class CompiledPlan:
    """Everything an engine needs to run one circuit at one precision on one device.

    ``stages`` give the full final state; ``readout_stages`` only what Z-basis probabilities
    need: their probabilities ``p`` are over *readout labels*, the basis states before the
    folded trailing permutation, so ``p @ readout_signs`` is ⟨Z⟩ and
    ``p.index_select(1, readout_perm)`` the probabilities in basis order (``readout_perm``
    is ``None`` when nothing was folded). ``readout_layers`` is the unfused readout plan
    (the C kernels' input); ``pruned_sources`` are angle sources the full plan reads but
    the readout plan does not (their gradients are exact zeros, still to be returned).
    """

    n_qubits: int
    n_params: int
    n_inputs: int
    dtype: torch.dtype  # complex64 or complex128
    device: torch.device
    stages: list[Stage]
    readout_stages: list[Stage]
    readout_layers: list[Stage]
    readout_perm: Tensor | None
    readout_signs: Tensor  # [2^n, n]
    pruned_sources: frozenset[AngleSource]
    live_params: Tensor  # [n_params] bool: weights the readout reads

    @property
    def real_dtype(self) -> torch.dtype:
        return torch.float64 if self.dtype == torch.complex128 else torch.float32


def signed_permutation(run: list[Op], n_wires: int, real_dtype: torch.dtype) -> tuple[Tensor, Tensor | None]:
    """``(perm, sign)`` with ``new[k] = sign[k] · old[perm[k]]`` for a run of gates on ``n_wires``.

    Composes each gate's basis map from the catalogue; ``sign`` is ``None`` when every entry
    is +1.
    """
    perm = torch.arange(2**n_wires)
    sign = torch.ones(2**n_wires, dtype=real_dtype)
    for op in run:
        source, gate_sign = GATES[op.gate].basis_map(*op.wires, n_wires=n_wires)
        source = torch.from_numpy(source)
        # new[k] = s(k)·mid[m(k)] with mid[j] = sign[j]·old[perm[j]].
        perm, sign = perm[source], sign[source] * torch.from_numpy(gate_sign).to(real_dtype)
    return perm, (sign if bool((sign < 0).any()) else None)


def wire_group(low: int, size: int, device: torch.device | str = "cpu") -> WireGroup:
    """A group of wires and the gather index building its Kronecker block.

    ``block[i, j] = Π_b U_{low+b}[i_b, j_b]``: entry ``(b, i·2^g + j)`` of the index points
    at element ``2·i_b + j_b`` of wire ``low+b`` 's flattened 2×2 matrix.
    """
    rows = basis_bits(size)  # [2^g, g]
    i_bits = rows[:, None, :].expand(2**size, 2**size, size)
    j_bits = rows[None, :, :].expand(2**size, 2**size, size)
    flat = (2 * i_bits + j_bits).reshape(4**size, size).T  # [g, 4^g]
    wire_offset = 4 * torch.arange(low, low + size)[:, None]
    bits = rows.T.contiguous().to(device)
    return WireGroup(low, size, (flat + wire_offset).to(device), bits)
