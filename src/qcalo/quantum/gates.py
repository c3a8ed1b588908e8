"""The gate catalogue: every fact about a gate, stated once.

Each :class:`GateSpec` gives a gate's name, its number of qubits, and how it acts:

* a **rotation** carries its *generator* ``G``: ``R(θ) = cos(θ/2)·I + sin(θ/2)·G`` (so
  ``dR/dθ = ½(−sin(θ/2)·I + cos(θ/2)·G)``); ``G = −i·P`` for the Pauli ``P``;
* a **fixed** gate carries its matrix (2×2 for one qubit, 4×4 for two);
* a two-qubit gate whose matrix has one ±1 per row is a **signed permutation** of the basis
  states; :meth:`GateSpec.basis_map` derives that map from the matrix, so the simulator
  never restates it.

Matrices use Qiskit's little-endian convention: for a gate on wires ``(a, b)`` the local
basis index is ``bit_a + 2·bit_b`` (so CNOT's control is its first wire). The names for
Qiskit (``QuantumCircuit.<qiskit_name>``) and PennyLane (``qml.<pennylane_name>``) are here
too. :mod:`qcalo.quantum.circuit` (gate names, validation, Qiskit export), the compiler, the
engines and the PennyLane bridge of ``qcalo bench`` all read this table: adding a gate means
adding one entry below. The engines run rotations, fixed single-qubit gates and two-qubit
signed permutations; the compiler refuses anything else in one line.

Example:
    >>> GATES["cnot"].basis_map(0, 1)[0].tolist()  # new[k] = old[perm[k]]
    [0, 3, 2, 1]
    >>> GATES["cz"].basis_map(0, 1)[1].tolist()  # and the sign of each
    [1.0, 1.0, 1.0, -1.0]
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

__all__ = ["GATES", "GateSpec"]

Matrix = tuple[tuple[complex, ...], ...]
_R = 1 / math.sqrt(2)


@dataclass(frozen=True)
class GateSpec:
    """One gate: everything the circuit, the compiler, the engines and the bridges need."""

    name: str
    n_qubits: int
    qiskit_name: str
    pennylane_name: str
    generator: Matrix | None = None  # rotations: R(θ) = cos(θ/2)·I + sin(θ/2)·generator
    matrix: Matrix | None = None  # fixed gates

    def __post_init__(self) -> None:
        # Checked once at import: R(θ) = cos·I + sin·G is unitary only when G² = −I, and the
        # adjoint backward of the engines uncomputes with U^†, so every gate must be unitary.
        if (self.generator is None) == (self.matrix is None):
            raise ValueError(f"gate {self.name}: give a generator (rotation) or a matrix (fixed), not both")
        if self.generator is not None:
            g = np.array(self.generator, dtype=complex)
            if self.n_qubits != 1 or not np.allclose(g @ g, -np.eye(2)):
                raise ValueError(f"gate {self.name}: a rotation needs a 2x2 generator with G @ G = -I")
        else:
            m = np.array(self.matrix, dtype=complex)
            if m.shape != (2**self.n_qubits,) * 2 or not np.allclose(m.conj().T @ m, np.eye(len(m))):
                raise ValueError(f"gate {self.name}: the matrix must be unitary, {2**self.n_qubits}x{2**self.n_qubits}")

    @property
    def is_rotation(self) -> bool:
        """Takes an angle (and has a generator)."""
        return self.generator is not None

    @property
    def is_signed_permutation(self) -> bool:
        """A fixed two-qubit gate mapping each basis state to ± one basis state."""
        if self.n_qubits != 2 or self.matrix is None:
            return False
        return all(
            sum(entry != 0 for entry in row) == 1 and all(entry in (0, 1, -1) for entry in row)
            for row in self.matrix
        )

    def basis_map(self, a: int, b: int, n_wires: int = 2) -> tuple[np.ndarray, np.ndarray]:
        """``(source, sign)`` over ``2^n_wires`` basis states for this gate on wires ``(a, b)``.

        ``new[k] = sign[k] · old[source[k]]`` (int64 and float64 arrays; NumPy, so the catalogue does not import torch). Only for signed
        permutations; read from :attr:`matrix`, so the table is the single source.
        """
        if not self.is_signed_permutation:
            raise ValueError(f"{self.name} is not a two-qubit signed permutation")
        column = [next(j for j, entry in enumerate(row) if entry != 0) for row in self.matrix]
        local_source = np.array(column, dtype=np.int64)
        local_sign = np.array([float(np.real(self.matrix[i][j])) for i, j in enumerate(column)])
        index = np.arange(2**n_wires, dtype=np.int64)
        local = ((index >> a) & 1) + 2 * ((index >> b) & 1)
        picked = local_source[local]
        cleared = index & ~((1 << a) | (1 << b))
        source = cleared | ((picked & 1) << a) | (((picked >> 1) & 1) << b)
        return source, local_sign[local]


_CATALOGUE = (
    GateSpec("rx", 1, "rx", "RX", generator=((0, -1j), (-1j, 0))),
    GateSpec("ry", 1, "ry", "RY", generator=((0, -1), (1, 0))),
    GateSpec("rz", 1, "rz", "RZ", generator=((-1j, 0), (0, 1j))),
    GateSpec(
        "cnot", 2, "cx", "CNOT",
        matrix=((1, 0, 0, 0), (0, 0, 0, 1), (0, 0, 1, 0), (0, 1, 0, 0)),
    ),
    GateSpec(
        "cz", 2, "cz", "CZ",
        matrix=((1, 0, 0, 0), (0, 1, 0, 0), (0, 0, 1, 0), (0, 0, 0, -1)),
    ),
    GateSpec(
        "swap", 2, "swap", "SWAP",
        matrix=((1, 0, 0, 0), (0, 0, 1, 0), (0, 1, 0, 0), (0, 0, 0, 1)),
    ),
    GateSpec("sx", 1, "sx", "SX", matrix=((0.5 + 0.5j, 0.5 - 0.5j), (0.5 - 0.5j, 0.5 + 0.5j))),
    GateSpec("x", 1, "x", "PauliX", matrix=((0, 1), (1, 0))),
    GateSpec("h", 1, "h", "Hadamard", matrix=((_R, _R), (_R, -_R))),
)  # fmt: skip

GATES: dict[str, GateSpec] = {spec.name: spec for spec in _CATALOGUE}
"""Gate name → its :class:`GateSpec` (program order of the catalogue above)."""
