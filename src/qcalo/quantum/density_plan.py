"""Compile a transpiled noisy circuit into fused Pauli-transfer-matrix blocks (NumPy, once).

The plan the engine of :mod:`qcalo.quantum.density_matrix` evaluates in torch:

* a **bank** of constant 4 × 4 PTMs (fixed gates with their error channels, consecutive
  constants pre-multiplied; entry 0 is the identity) — rz rotations are referenced by angle
  number and built per call;
* **chains**: time-ordered lists of bank/angle references, one 4 × 4 product each;
* per line position a **prefix** chain (every gate before that qubit's first two-qubit gate:
  it acts on |0⟩ and gives a per-sample product state);
* **blocks** on neighbouring positions ``(low, low+1)``: a time-ordered list of *segments*
  ``gate16 @ kron(chain_low, chain_high)``. A two-qubit gate joins the latest block when that
  block is on the same pair and no other block touched either qubit since (qcalo's ZY
  couplings give four cz on one pair in a row: one block instead of four). The final
  single-qubit gates and the readout channel of a qubit become a last segment of its last
  block, so the engine's passes over the ``4^n`` coefficients are one per block.

The PTM index of a pair puts ``low`` as the more significant Pauli, as the engine's
coefficient tensor ``[4] * n`` has position 0 first.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from qcalo.exceptions import CircuitError
from qcalo.quantum.noise import scaled_readout
from qcalo.quantum.noise_channels import gate_noise_ptm, pauli_transfer_matrix, readout_ptm
from qcalo.quantum.noise_transpile import NativeCircuit

__all__ = ["Block", "NoisyPlan", "Ref", "Segment", "compile_plan", "measurement_tables"]

Ref = tuple[str, int]
"""``("c", i)``: bank entry ``i``; ``("a", k)``: the rz rotation of native angle ``k``."""


@dataclass
class Segment:
    gate: np.ndarray  # 16 × 16 (noise @ gate), identity for a trailing segment
    chain_low: list[Ref]
    chain_high: list[Ref]


@dataclass
class Block:
    low: int
    segments: list[Segment] = field(default_factory=list)


@dataclass
class NoisyPlan:
    """Everything the engine needs, as NumPy arrays and reference lists."""

    n_qubits: int
    bank: list[np.ndarray]
    prefix: list[list[Ref]]
    blocks: list[Block]
    lone_finals: dict[int, list[Ref]]
    input_angles: np.ndarray  # angle numbers that read an input (per-sample)

    @property
    def body_reads_inputs(self) -> bool:
        """An input angle after a two-qubit gate: the Heisenberg pass cannot share the body."""
        inputs = set(self.input_angles.tolist())
        chains = [
            c for blk in self.blocks for s in blk.segments for c in (s.chain_low, s.chain_high)
        ]
        chains += list(self.lone_finals.values())
        return any(kind == "a" and k in inputs for chain in chains for kind, k in chain)


def _swap_pair(ptm: np.ndarray) -> np.ndarray:
    """Exchange which qubit is the more significant index of a 16 × 16 PTM."""
    return ptm.reshape(4, 4, 4, 4).transpose(1, 0, 3, 2).reshape(16, 16)


class _Bank:
    def __init__(self) -> None:
        self.entries = [np.eye(4)]

    def append(self, chain: list[Ref], matrix: np.ndarray) -> None:
        """Append a constant, multiplying it into a trailing constant (fewer ops per call)."""
        if chain and chain[-1][0] == "c" and chain[-1][1] != 0:
            self.entries[chain[-1][1]] = matrix @ self.entries[chain[-1][1]]
        else:
            self.entries.append(np.array(matrix, dtype=float))
            chain.append(("c", len(self.entries) - 1))


def compile_plan(native: NativeCircuit, x: float, *, readout_error: bool = True) -> NoisyPlan:
    """Fused blocks of ``native`` under its profile's channels at noise scale ``x``."""
    from qiskit.circuit.library import get_standard_gate_name_mapping
    from qiskit.quantum_info import Operator

    profile, n = native.profile, native.n_qubits
    standard = get_standard_gate_name_mapping()
    bank = _Bank()
    prefix: list[list[Ref]] = [[] for _ in range(n)]
    pending: list[list[Ref] | None] = [None] * n  # None: still in the prefix
    blocks: list[Block] = []
    last: list[int | None] = [None] * n  # latest block touching each position
    unitary_ptm: dict[str, np.ndarray] = {}

    def gate_ptm(name: str) -> np.ndarray:
        if name not in unitary_ptm:
            unitary_ptm[name] = pauli_transfer_matrix(Operator(standard[name]).data)
        return unitary_ptm[name]

    for op in native.ops:
        noise = gate_noise_ptm(profile, op.name, op.qargs, x)
        if len(op.qargs) == 1:
            q = op.qargs[0]
            chain = prefix[q] if pending[q] is None else pending[q]
            if op.angle is not None:
                chain.append(("a", op.angle))
            else:
                bank.append(chain, gate_ptm(op.name))
            if noise is not None:
                bank.append(chain, noise)
            continue
        a, b = op.qargs
        low, high = min(a, b), max(a, b)
        if high - low != 1:
            raise CircuitError(f"{op.name} on line positions {op.qargs} is not between neighbours")
        # Qiskit's matrix has qargs[1] as the more significant qubit; the plan has `low`.
        gate = gate_ptm(op.name) if b == low else _swap_pair(gate_ptm(op.name))
        if noise is not None:
            gate = (noise if a == low else _swap_pair(noise)) @ gate
        segment = Segment(gate, pending[low] or [], pending[high] or [])
        if last[low] is not None and last[low] == last[high] and blocks[last[low]].low == low:
            blocks[last[low]].segments.append(segment)
        else:
            blocks.append(Block(low, [segment]))
            last[low] = last[high] = len(blocks) - 1
        pending[low], pending[high] = [], []
    finals = [chain or [] for chain in pending]
    if readout_error:
        p1, p0 = scaled_readout(profile, x)
        for q in range(n):
            bank.append(finals[q], readout_ptm(p1[q], p0[q]))
    lone: dict[int, list[Ref]] = {}
    for q, chain in enumerate(finals):
        if not chain:
            continue
        if last[q] is None:
            lone[q] = chain
            continue
        blk = blocks[last[q]]
        empty: list[Ref] = []
        blk.segments.append(
            Segment(np.eye(16), chain if q == blk.low else empty, chain if q != blk.low else empty)
        )
    input_angles = np.flatnonzero(np.abs(native.angle_inputs).sum(axis=1) > 0)
    return NoisyPlan(n, bank.entries, prefix, blocks, lone, input_angles)


def measurement_tables(
    n: int, positions: tuple[int, ...]
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Read-out tables for coefficients ``[4] * n`` (line position 0 most significant).

    Returns:
        ``diag_index [2^n]``: where the I/Z-only coefficients sit; ``to_probabilities
        [2^n, 2^n]``: those coefficients → probabilities indexed Σ_i bit(logical i)·2^i (per
        qubit ``(v_I ± v_Z)/2``, reordered by the final layout ``positions``);
        ``observables [n, 4^n]``: Z on logical qubit i's final position.
    """
    codes = np.arange(2**n)
    bits = (codes[:, None] >> (n - 1 - np.arange(n))) & 1
    diag_index = (3 * bits * 4 ** (n - 1 - np.arange(n))).sum(axis=1)
    transform = np.ones((1, 1))
    for _ in range(n):
        transform = np.kron(transform, np.array([[0.5, 0.5], [0.5, -0.5]]))  # [bits, I/Z]
    logical_bits = (codes[:, None] >> np.arange(n)) & 1
    perm = (logical_bits << (n - 1 - np.asarray(positions))).sum(axis=1)
    observables = np.zeros((n, 4**n))
    for i, position in enumerate(positions):
        observables[i, 3 * 4 ** (n - 1 - position)] = 1.0
    return diag_index, transform[perm].T.copy(), observables
