"""Gate catalogue: every entry agrees with Qiskit's own gate, and the engines refuse what they cannot run."""

from __future__ import annotations

import dataclasses
import doctest
import math

import numpy as np
import pytest

import qcalo.quantum.gates as gates_module
from qcalo.exceptions import CircuitError
from qcalo.quantum.circuit import Circuit, Gate
from qcalo.quantum.compiler import compile_circuit
from qcalo.quantum.gates import GATES, GateSpec


def qiskit_matrix(spec: GateSpec, theta: float | None) -> np.ndarray:
    """Qiskit's matrix of the gate named ``spec.qiskit_name`` (little-endian, like ours)."""
    from qiskit import QuantumCircuit
    from qiskit.quantum_info import Operator

    qc = QuantumCircuit(spec.n_qubits)
    args = ([theta] if theta is not None else []) + list(range(spec.n_qubits))
    getattr(qc, spec.qiskit_name)(*args)
    return Operator(qc).data


@pytest.mark.parametrize("name", list(GATES))
def test_catalogue_matches_qiskit(name: str) -> None:
    """Matrix (or cos(θ/2)·I + sin(θ/2)·G at several θ) equals Qiskit's gate of the stated name."""
    spec = GATES[name]
    if spec.is_rotation:
        for theta in (0.3, -1.7, math.pi):
            ours = math.cos(theta / 2) * np.eye(2) + math.sin(theta / 2) * np.array(spec.generator)
            np.testing.assert_allclose(ours, qiskit_matrix(spec, theta), atol=1e-12, err_msg=name)
    else:
        np.testing.assert_allclose(np.array(spec.matrix), qiskit_matrix(spec, None), atol=1e-12, err_msg=name)


@pytest.mark.parametrize("name", list(GATES))
def test_pennylane_names_exist(name: str) -> None:
    qml = pytest.importorskip("pennylane")
    operation = getattr(qml, GATES[name].pennylane_name)
    assert operation.num_wires == GATES[name].n_qubits


def test_circuit_gate_names_come_from_the_catalogue() -> None:
    assert [gate.value for gate in Gate] == list(GATES)


@pytest.mark.parametrize("name", [n for n, s in GATES.items() if s.n_qubits == 2])
def test_basis_map_is_the_matrix(name: str) -> None:
    """On 3 wires, the signed permutation applied to every basis state equals the dense matrix."""
    spec = GATES[name]
    for a, b in ((0, 2), (2, 1)):
        source, sign = spec.basis_map(a, b, n_wires=3)
        dense = np.zeros((8, 8))
        dense[np.arange(8), source] = sign
        from qiskit import QuantumCircuit
        from qiskit.quantum_info import Operator

        qc = QuantumCircuit(3)
        getattr(qc, spec.qiskit_name)(a, b)
        np.testing.assert_allclose(dense, Operator(qc).data, atol=1e-12, err_msg=f"{name} on {(a, b)}")


def test_a_two_qubit_gate_that_is_no_signed_permutation_is_refused(monkeypatch) -> None:
    """iSWAP-like phases (±i) cannot run on the engines: one line at compile time, not a CZ."""
    iswap = ((1, 0, 0, 0), (0, 0, 1j, 0), (0, 1j, 0, 0), (0, 0, 0, 1))
    monkeypatch.setitem(GATES, "cz", dataclasses.replace(GATES["cz"], matrix=iswap))
    assert not GATES["cz"].is_signed_permutation
    with pytest.raises(CircuitError, match="signed permutations") as info:
        compile_circuit(Circuit(2).h(0).cz(0, 1))
    assert "\n" not in str(info.value)


def test_docstring_examples() -> None:
    assert doctest.testmod(gates_module).failed == 0


@pytest.mark.parametrize(
    ("kwargs", "fragment"),
    [
        ({"n_qubits": 1, "generator": ((0, 1), (1, 0))}, "G @ G = -I"),  # X: not exp(-iθP/2) form
        ({"n_qubits": 2, "matrix": ((1, 0, 0, 0), (0, 1, 0, 0), (0, 0, 1, 0), (0, 0, 0, 2))}, "unitary"),
        ({"n_qubits": 1}, "generator"),
    ],
)
def test_a_malformed_catalogue_entry_is_refused(kwargs: dict, fragment: str) -> None:
    with pytest.raises(ValueError, match=fragment):
        GateSpec("bad", qiskit_name="x", pennylane_name="PauliX", **kwargs)
