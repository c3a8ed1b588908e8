"""Builders for the benchmark circuits, shared by ``qcalo bench simulator`` and the models.

Both workloads are an angle-encoding layer followed by ``n_blocks`` identical blocks:

* encoding: ``R(x_i)`` on qubit ``i`` (RY for the QAG generator, RX for the hybrid layer),
  reading input feature ``i``;
* block ``b``: ``RY(w)`` on every qubit, ``RZ(w)`` on every qubit, then ``CNOT i→i+1`` for
  ``i = 0 … n−2`` and ``CNOT i→i+2`` for ``i = 0 … n−3``.

Weight layout (what :attr:`Circuit.n_params` counts): block ``b`` reads weights
``2·n·b … 2·n·b + n − 1`` for its RY gates (qubit order) and the next ``n`` for its RZ
gates, so a circuit has ``2 · n_qubits · n_blocks`` weights and ``n_qubits`` inputs.

Example:
    >>> qag_workload(4, n_blocks=1).count_ops()
    {'ry': 8, 'rz': 4, 'cnot': 5}
    >>> hybrid_workload(10)
    Circuit(n_qubits=10, ops=84, n_params=40, n_inputs=10)
"""

from __future__ import annotations

from typing import Literal

from qcalo.exceptions import CircuitError
from qcalo.quantum.circuit import Angle, Circuit, Gate
from qcalo.validate import positive_int

__all__ = ["ENCODINGS", "Encoding", "add_entangling_block", "hybrid_workload", "qag_workload"]

Encoding = Literal["ry", "rx"]
ENCODINGS: tuple[str, ...] = ("ry", "rx")
"""Rotations allowed for the input-encoding layer."""


def qag_workload(n_qubits: int = 8, n_blocks: int = 2, encoding: Encoding = "ry") -> Circuit:
    """The QAG generator circuit: angle encoding, then ``n_blocks`` entangling blocks.

    Args:
        n_qubits: number of qubits (and of input features), 1 to 24.
        n_blocks: number of ``[RY, RZ, CNOT chains]`` blocks, ≥ 1.
        encoding: rotation of the encoding layer, ``"ry"`` or ``"rx"``.

    Returns:
        A :class:`Circuit` with ``n_qubits`` inputs and ``2 · n_qubits · n_blocks`` weights
        (layout in the module docstring).

    Raises:
        CircuitError: if ``n_qubits``, ``n_blocks`` or ``encoding`` is invalid.
    """
    if encoding not in ENCODINGS:
        raise CircuitError(f"encoding={encoding!r}; use one of {', '.join(ENCODINGS)}")
    positive_int(n_blocks, "n_blocks", error=CircuitError)
    circuit = Circuit(n_qubits)
    for wire in range(n_qubits):
        circuit.add(Gate(encoding), wire, Angle.input(wire))
    for block in range(n_blocks):
        add_entangling_block(circuit, first_param=2 * n_qubits * block)
    return circuit


def hybrid_workload(n_qubits: int = 10, n_blocks: int = 2) -> Circuit:
    """The hybrid-generator layer: RX angle encoding, then ``n_blocks`` entangling blocks.

    Same blocks and weight layout as :func:`qag_workload` with ``encoding="rx"``.

    Raises:
        CircuitError: if ``n_qubits`` or ``n_blocks`` is invalid.
    """
    return qag_workload(n_qubits, n_blocks, encoding="rx")


def add_entangling_block(circuit: Circuit, first_param: int) -> Circuit:
    """Append one block: RY and RZ on every qubit, then the CNOT i→i+1 and i→i+2 chains.

    Args:
        circuit: the circuit to extend (modified in place).
        first_param: index of the block's first weight; it reads ``2 · n_qubits`` weights.

    Returns:
        ``circuit``, for chaining.
    """
    n = circuit.n_qubits
    for wire in range(n):
        circuit.ry(wire, Angle.param(first_param + wire))
    for wire in range(n):
        circuit.rz(wire, Angle.param(first_param + n + wire))
    for wire in range(n - 1):
        circuit.cnot(wire, wire + 1)
    for wire in range(n - 2):
        circuit.cnot(wire, wire + 2)
    return circuit
