"""The FastCaloQ circuit template (seed 001; ``notes/fastcalogan.md`` §6), as a qcalo ``Circuit``.

``n_data`` qubits take one input each as ``RX(input)`` (the latent vector, or a critic's
features); an optional extra **conditioning qubit** takes ``RX(π · label)`` with the
incident-energy label in [0, 1] (so |0⟩ at the lowest energy, |1⟩ at the highest; the public code
put the label on qubit 0 next to z₀, on the same qubit, and lost it). The conditioning qubit is
wire 0 and the data qubits wires 1…n: CNOTs only run i → i+d, so the first wire is the only one
whose state reaches every other qubit (as the last wire the label would reach no other qubit). Then ``repetitions`` blocks of RY(θ) on every
qubit, optionally RZ(φ), and CNOT(i → i+d) for i = 0…n−2 and every offset ``d`` in
``cnot_offsets`` (d = 1 is the chain; i + d ≤ n − 1). Readout: ⟨Z⟩ on every qubit.

Closed form (one block, the notes): before the CNOTs the state is a product state and the CNOTs
only permute basis states, so ⟨Z_k⟩ = Π_{j∈S_k} cos(x_j) cos(θ_j) with S_k the initial bits whose
XOR ends on qubit k — a test of any engine, and the reason RZ does nothing in a single block.
"""

from __future__ import annotations

import math

from qcalo.quantum.circuit import Angle, Circuit

__all__ = ["cnot_pairs", "fastcaloq_circuit", "parity_sets"]


def cnot_pairs(n_qubits: int, offsets: tuple[int, ...]) -> list[tuple[int, int]]:
    """CNOT (control, target) pairs of one block, in the template's gate order."""
    pairs = []
    for control in range(n_qubits - 1):
        for offset in sorted(offsets):
            if control + offset <= n_qubits - 1:
                pairs.append((control, control + offset))
    return pairs


def parity_sets(n_qubits: int, offsets: tuple[int, ...]) -> list[set[int]]:
    """S_k of the closed form: initial bits whose XOR ends on qubit k after one block's CNOTs."""
    rows = [{k} for k in range(n_qubits)]  # GF(2) rows as sets
    for control, target in cnot_pairs(n_qubits, offsets):
        rows[target] = rows[target] ^ rows[control]
    return rows


def fastcaloq_circuit(
    n_data: int,
    *,
    conditioning_qubit: bool = False,
    rz: bool = False,
    cnot_offsets: tuple[int, ...] = (1,),
    repetitions: int = 1,
) -> Circuit:
    """The template on ``n_data`` (+1 conditioning) qubits.

    Inputs are ``[features…, label]``: feature ``j`` on wire ``j`` (``j + 1`` with a
    conditioning qubit, which is wire 0 and reads the last input).
    """
    first_data_wire = 1 if conditioning_qubit else 0
    n_qubits = n_data + first_data_wire
    circuit = Circuit(n_qubits)
    if conditioning_qubit:
        circuit.rx(0, Angle.input(n_data, scale=math.pi))
    for feature in range(n_data):
        circuit.rx(first_data_wire + feature, Angle.input(feature))
    weight = 0
    for _ in range(repetitions):
        for wire in range(n_qubits):
            circuit.ry(wire, Angle.param(weight))
            weight += 1
        if rz:
            for wire in range(n_qubits):
                circuit.rz(wire, Angle.param(weight))
                weight += 1
        for control, target in cnot_pairs(n_qubits, cnot_offsets):
            circuit.cnot(control, target)
    return circuit
