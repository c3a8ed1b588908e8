"""Other simulators running qcalo circuits (the peers ``qcalo bench simulator`` times qcalo against).

* :class:`AerRunner` — Qiskit Aer's statevector simulator, one circuit transpiled once and
  run for a whole batch through ``parameter_binds`` (exact ⟨Z⟩ or shots).
* :func:`pennylane_qnode` — the same circuit as a PennyLane QNode; gate names come from the
  gate catalogue (:mod:`qcalo.quantum.gates`), so a new gate needs no change here.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from qcalo.quantum.circuit import AngleSource, Circuit
from qcalo.quantum.gates import GATES
from qcalo.quantum.plan import z_signs

__all__ = ["AerRunner", "pennylane_qnode"]


@dataclass
class AerRunner:
    """One circuit, transpiled once, evaluated for a whole batch through ``parameter_binds``."""

    circuit: Circuit
    threads: int | None

    def __post_init__(self) -> None:
        from qiskit import transpile
        from qiskit.quantum_info import Pauli
        from qiskit_aer import AerSimulator

        options = {} if self.threads is None else {"max_parallel_threads": self.threads}
        self.backend = AerSimulator(method="statevector", **options)
        n = self.circuit.n_qubits
        exact, self._exact_w, self._exact_x = self.circuit.to_qiskit()
        for qubit in range(n):
            z_on_qubit = Pauli("I" * (n - 1 - qubit) + "Z" + "I" * qubit)  # little-endian labels
            exact.save_expectation_value(z_on_qubit, list(range(n)), label=f"z{qubit}")
        self._exact = transpile(exact, self.backend)
        measured, self._shots_w, self._shots_x = self.circuit.to_qiskit(measure=True)
        self._measured = transpile(measured, self.backend)
        self._signs = z_signs(n).numpy()

    def expval_z(self, weights: np.ndarray, inputs: np.ndarray) -> np.ndarray:
        """Exact per-qubit ⟨Z⟩, shape ``[B, n]``."""
        binds = self._binds(self._exact, self._exact_w, self._exact_x, weights, inputs)
        result = self.backend.run(self._exact, parameter_binds=[binds], shots=1).result()
        n = self.circuit.n_qubits
        return np.array(
            [[result.data(row)[f"z{q}"] for q in range(n)] for row in range(len(inputs))]
        )

    def expval_z_shots(
        self, weights: np.ndarray, inputs: np.ndarray, shots: int, seed: int
    ) -> np.ndarray:
        """Per-qubit ⟨Z⟩ estimated from ``shots`` measured bitstrings per row, ``[B, n]``."""
        binds = self._binds(self._measured, self._shots_w, self._shots_x, weights, inputs)
        result = self.backend.run(
            self._measured, parameter_binds=[binds], shots=shots, seed_simulator=seed
        ).result()
        estimates = np.empty((len(inputs), self.circuit.n_qubits))
        for row in range(len(inputs)):
            counts = result.data(row)["counts"]  # hex bitstring -> count; bit i = qubit i
            index = np.fromiter((int(key, 16) for key in counts), dtype=np.int64, count=len(counts))
            hits = np.fromiter(counts.values(), dtype=np.float64, count=len(counts))
            estimates[row] = hits @ self._signs[index] / shots
        return estimates

    @staticmethod
    def _binds(qc: Any, w: Any, x: Any, weights: np.ndarray, inputs: np.ndarray) -> dict:
        batch = len(inputs)
        used = set(qc.parameters)
        binds = {w[k]: [float(weights[k])] * batch for k in range(len(w)) if w[k] in used}
        binds.update({x[j]: inputs[:, j].tolist() for j in range(len(x)) if x[j] in used})
        return binds

def pennylane_qnode(qml: Any, circuit: Circuit) -> Callable[..., Any]:
    """The same circuit as a PennyLane QNode ``f(inputs, weights)`` on ``default.qubit``."""
    gates = {name: getattr(qml, spec.pennylane_name) for name, spec in GATES.items()}
    device = qml.device("default.qubit", wires=circuit.n_qubits)

    @qml.qnode(device, interface="torch", diff_method="backprop")
    def qnode(inputs: torch.Tensor, weights: torch.Tensor) -> list:
        for op in circuit.ops:
            if op.angle is None:
                gates[op.gate](wires=list(op.wires))
                continue
            angle = op.angle
            if angle.source is AngleSource.PARAM:
                theta = weights[angle.index]
            elif angle.source is AngleSource.INPUT:
                theta = inputs[..., angle.index]  # broadcast over the batch
            else:
                theta = angle.value
            gates[op.gate](theta if angle.scale == 1.0 else angle.scale * theta, wires=op.wires[0])
        return [qml.expval(qml.PauliZ(wire)) for wire in range(circuit.n_qubits)]

    return qnode
