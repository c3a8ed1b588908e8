"""Circuit description: an ordered list of gates whose angles come from named sources.

A :class:`Circuit` knows nothing about calorimeters or about how it is simulated. Each
rotation angle is ``scale * source`` where the source is one of

* a trainable **parameter** (``Angle.param(k)``: entry ``k`` of the weight vector),
* a per-sample **input** feature (``Angle.input(j)``: column ``j`` of the input batch),
* a **constant** (``Angle.const(value)``).

Example:
    >>> from qcalo.quantum.circuit import Circuit, Angle
    >>> c = Circuit(2)
    >>> c.ry(0, Angle.input(0)).ry(1, Angle.input(1))
    Circuit(n_qubits=2, ops=2, n_params=0, n_inputs=2)
    >>> c.cnot(0, 1).rz(1, Angle.param(0))
    Circuit(n_qubits=2, ops=4, n_params=1, n_inputs=2)
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from enum import StrEnum
from typing import TYPE_CHECKING

import numpy as np

from qcalo.exceptions import CircuitError
from qcalo.quantum.gates import GATES
from qcalo.validate import int_in_range, nonnegative_int

if TYPE_CHECKING:  # qiskit is imported lazily: it costs ~1 s
    from qiskit import QuantumCircuit
    from qiskit.circuit import ParameterVector

__all__ = ["FIXED_1Q", "ROTATIONS", "TWO_QUBIT", "Angle", "AngleSource", "Circuit", "Gate", "Op"]


Gate = StrEnum("Gate", [(name.upper(), name) for name in GATES])
Gate.__doc__ = "Gate names the simulator and the Qiskit bridge understand (from :data:`~qcalo.quantum.gates.GATES`)."

ROTATIONS = frozenset(Gate(name) for name, spec in GATES.items() if spec.is_rotation)
FIXED_1Q = frozenset(Gate(name) for name, spec in GATES.items() if spec.n_qubits == 1 and not spec.is_rotation)
TWO_QUBIT = frozenset(Gate(name) for name, spec in GATES.items() if spec.n_qubits == 2)


class AngleSource(StrEnum):
    """Where a rotation angle comes from."""

    PARAM = "param"
    INPUT = "input"
    CONST = "const"


@dataclass(frozen=True)
class Angle:
    """A rotation angle ``scale * source``.

    Use the factories :meth:`param`, :meth:`input` and :meth:`const` rather than the
    constructor.
    """

    source: AngleSource
    index: int = -1
    value: float = 0.0
    scale: float = 1.0

    @classmethod
    def param(cls, index: int, scale: float = 1.0) -> Angle:
        """Trainable weight number ``index`` (times ``scale``)."""
        return cls(AngleSource.PARAM, index=_nonneg_index(index, "parameter"), scale=scale)

    @classmethod
    def input(cls, index: int, scale: float = 1.0) -> Angle:
        """Per-sample input feature number ``index`` (times ``scale``)."""
        return cls(AngleSource.INPUT, index=_nonneg_index(index, "input"), scale=scale)

    @classmethod
    def const(cls, value: float) -> Angle:
        """A fixed angle in radians."""
        return cls(AngleSource.CONST, value=float(value))

    def __post_init__(self) -> None:
        if not (math.isfinite(self.value) and math.isfinite(self.scale)):
            raise CircuitError(f"angle {self.value!r}·{self.scale!r} is not finite; use a finite number")


def _nonneg_index(index: int, what: str) -> int:
    return nonnegative_int(index, f"{what} index", error=CircuitError)


@dataclass(frozen=True)
class Op:
    """One gate on ``wires``; ``angle`` is set for rotations only."""

    gate: Gate
    wires: tuple[int, ...]
    angle: Angle | None = None


@dataclass
class Circuit:
    """An ordered list of gates on ``n_qubits`` qubits (qubit 0 is the first wire).

    Builder methods return ``self`` so gates can be chained. ``n_params`` and ``n_inputs``
    are one more than the largest parameter and input index used.
    """

    n_qubits: int
    ops: list[Op] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.n_qubits = int_in_range(self.n_qubits, "n_qubits", 1, 24, error=CircuitError)
        for op in list(self.ops):
            self._check(op)

    # -- builders ---------------------------------------------------------------------
    def add(self, gate: Gate | str, wires: int | tuple[int, ...], angle: Angle | float | None = None) -> Circuit:
        """Append a gate (validated now, so errors point at the line that made them).

        A plain number as ``angle`` is a constant angle in radians.
        """
        try:
            gate = Gate(gate)
        except ValueError:
            valid = ", ".join(g.value for g in Gate)
            raise CircuitError(f"unknown gate {gate!r}; use one of {valid}") from None
        wires = (wires,) if isinstance(wires, (int, np.integer)) else tuple(wires)
        wires = tuple(int(w) if isinstance(w, np.integer) else w for w in wires)
        op = Op(gate, wires, None if angle is None else _as_angle(angle))
        self._check(op)
        self.ops.append(op)
        return self

    def rx(self, wire: int, angle: Angle | float) -> Circuit:
        """RX(θ) = exp(−iθX/2)."""
        return self.add(Gate.RX, wire, _as_angle(angle))

    def ry(self, wire: int, angle: Angle | float) -> Circuit:
        """RY(θ) = exp(−iθY/2)."""
        return self.add(Gate.RY, wire, _as_angle(angle))

    def rz(self, wire: int, angle: Angle | float) -> Circuit:
        """RZ(θ) = exp(−iθZ/2) (Qiskit's convention, global phase included)."""
        return self.add(Gate.RZ, wire, _as_angle(angle))

    def cnot(self, control: int, target: int) -> Circuit:
        """Controlled-X."""
        return self.add(Gate.CNOT, (control, target))

    def cz(self, a: int, b: int) -> Circuit:
        """Controlled-Z (symmetric)."""
        return self.add(Gate.CZ, (a, b))

    def swap(self, a: int, b: int) -> Circuit:
        """Exchange two qubits."""
        return self.add(Gate.SWAP, (a, b))

    def sx(self, wire: int) -> Circuit:
        """√X."""
        return self.add(Gate.SX, wire)

    def x(self, wire: int) -> Circuit:
        """Pauli X."""
        return self.add(Gate.X, wire)

    def h(self, wire: int) -> Circuit:
        """Hadamard."""
        return self.add(Gate.H, wire)

    # -- derived facts ----------------------------------------------------------------
    @property
    def n_params(self) -> int:
        """Length of the weight vector the circuit reads."""
        return 1 + max((op.angle.index for op in self._rotations(AngleSource.PARAM)), default=-1)

    @property
    def n_inputs(self) -> int:
        """Number of per-sample input features the circuit reads."""
        return 1 + max((op.angle.index for op in self._rotations(AngleSource.INPUT)), default=-1)

    def count_ops(self) -> dict[str, int]:
        """Gate name → how many times it occurs."""
        counts: dict[str, int] = {}
        for op in self.ops:
            counts[op.gate.value] = counts.get(op.gate.value, 0) + 1
        return counts

    def __repr__(self) -> str:
        return (
            f"Circuit(n_qubits={self.n_qubits}, ops={len(self.ops)}, "
            f"n_params={self.n_params}, n_inputs={self.n_inputs})"
        )

    def _rotations(self, source: AngleSource) -> list[Op]:
        return [op for op in self.ops if op.angle is not None and op.angle.source is source]

    def _check(self, op: Op) -> None:
        spec = GATES[op.gate]
        n_wires = spec.n_qubits
        if len(op.wires) != n_wires:
            raise CircuitError(f"{op.gate.value} acts on {n_wires} qubit(s), got wires {op.wires}")
        for wire in op.wires:
            if not isinstance(wire, int) or isinstance(wire, bool) or not 0 <= wire < self.n_qubits:
                raise CircuitError(
                    f"{op.gate.value} on qubit {wire!r}, but the circuit has qubits 0..{self.n_qubits - 1}"
                )
        if n_wires == 2 and op.wires[0] == op.wires[1]:
            raise CircuitError(f"{op.gate.value} needs two different qubits, got {op.wires}")
        if spec.is_rotation != (op.angle is not None):
            raise CircuitError(f"{op.gate.value}: rotations need an angle and fixed gates take none")

    # -- Qiskit bridge ----------------------------------------------------------------
    def to_qiskit(self, *, measure: bool = False) -> tuple[QuantumCircuit, ParameterVector, ParameterVector]:
        """Export to a Qiskit ``QuantumCircuit`` with ``Parameter`` objects.

        Qiskit orders qubits little-endian in bitstrings; qcalo's qubit ``i`` is Qiskit's
        qubit ``i``, so per-qubit ⟨Z_i⟩ agree directly.

        Returns:
            ``(circuit, weights, inputs)``: the two ``ParameterVector`` s bind trainable
            parameters (``w[k]``) and per-sample inputs (``x[j]``).
        """
        from qiskit import QuantumCircuit
        from qiskit.circuit import ParameterVector

        weights = ParameterVector("w", self.n_params)
        inputs = ParameterVector("x", self.n_inputs)
        qc = QuantumCircuit(self.n_qubits)
        for op in self.ops:
            add_gate = getattr(qc, GATES[op.gate].qiskit_name)
            if op.angle is not None:
                add_gate(_qiskit_angle(op.angle, weights, inputs), op.wires[0])
            else:
                add_gate(*op.wires)
        if measure:
            qc.measure_all()
        return qc, weights, inputs


def _as_angle(angle: Angle | float) -> Angle:
    if isinstance(angle, Angle):
        return angle
    try:
        value = float(angle)
    except (TypeError, ValueError):
        raise CircuitError(f"angle {angle!r} is neither an Angle nor a number; use Angle.param/input/const") from None
    return Angle.const(value)


def _qiskit_angle(angle: Angle, weights: ParameterVector, inputs: ParameterVector) -> object:
    if angle.source is AngleSource.CONST:
        return angle.value * angle.scale
    symbol = weights[angle.index] if angle.source is AngleSource.PARAM else inputs[angle.index]
    return symbol if angle.scale == 1.0 else angle.scale * symbol
