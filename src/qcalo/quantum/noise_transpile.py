"""A qcalo :class:`Circuit` transpiled once onto a :class:`NoiseProfile`'s line of qubits.

The logical circuit is exported with symbolic angles (``w[k]`` weights, ``x[j]`` inputs),
transpiled by Qiskit to the device's native gates on the line's ``n`` qubits (routing where a
two-qubit gate joins non-neighbours), and every native angle is read back as an **affine**
expression ``offset + Σ_k a_k·w[k] + Σ_j b_j·x[j]`` (the basis translation produces e.g.
``x[0] + π``; merges of rotations produce sums). A non-affine angle is refused in one line.
The result is cached per (profile, circuit), so training and every noise scale reuse it.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from typing import TYPE_CHECKING

import numpy as np

from qcalo.exceptions import CircuitError
from qcalo.quantum.circuit import Circuit, Op
from qcalo.quantum.noise import NoiseProfile

if TYPE_CHECKING:
    from qiskit import QuantumCircuit
    from qiskit.circuit import ParameterVector

__all__ = ["TRANSPILE_SEED", "NativeCircuit", "NativeOp", "transpile_to_line"]

TRANSPILE_SEED = 0
"""``seed_transpiler``: the routing and layout (hence the noise a circuit sees) are reproducible."""


@dataclass(frozen=True)
class NativeOp:
    """One native gate on line positions ``qargs``; ``angle`` indexes the angle table (rz only)."""

    name: str
    qargs: tuple[int, ...]
    angle: int | None = None


@dataclass(frozen=True)
class NativeCircuit:
    """A transpiled circuit: native ops on line positions plus its affine angle table.

    Attributes:
        ops: native gates in time order (no measurements).
        angle_offset: ``[n_angles]`` constant part of each native angle.
        angle_weights: ``[n_angles, n_params]`` coefficients of the weights.
        angle_inputs: ``[n_angles, n_inputs]`` coefficients of the inputs.
        measured_positions: logical qubit ``i`` is read on line position ``measured_positions[i]``
            (routing may permute qubits).
        isa: the transpiled Qiskit circuit (symbolic; bind ``weights`` and ``inputs``).
    """

    profile: NoiseProfile
    n_qubits: int
    n_params: int
    n_inputs: int
    ops: tuple[NativeOp, ...]
    angle_offset: np.ndarray
    angle_weights: np.ndarray
    angle_inputs: np.ndarray
    measured_positions: tuple[int, ...]
    isa: QuantumCircuit
    weights: ParameterVector
    inputs: ParameterVector

    def count_ops(self) -> dict[str, int]:
        """Native gate name → count."""
        counts: dict[str, int] = {}
        for op in self.ops:
            counts[op.name] = counts.get(op.name, 0) + 1
        return counts

    def measured_isa(self) -> QuantumCircuit:
        """The ISA circuit with logical qubit ``i`` measured into classical bit ``i``."""
        from qiskit import ClassicalRegister

        qc = self.isa.copy()
        qc.add_register(ClassicalRegister(self.n_qubits, "meas"))
        for logical, position in enumerate(self.measured_positions):
            qc.measure(position, logical)
        return qc

    def parameter_binds(self, weights: np.ndarray, inputs: np.ndarray | None, batch: int) -> dict:
        """Aer ``parameter_binds`` entry: one value list per parameter, ``batch`` values each."""
        binds = {}
        used = set(self.isa.parameters)
        weights = np.asarray(weights, dtype=float)
        for k, symbol in enumerate(self.weights):
            if symbol in used:
                binds[symbol] = [float(weights[k])] * batch
        for j, symbol in enumerate(self.inputs):
            if symbol in used:
                binds[symbol] = [float(v) for v in np.asarray(inputs)[:, j]]
        return binds


def transpile_to_line(circuit: Circuit, profile: NoiseProfile) -> NativeCircuit:
    """Transpile ``circuit`` onto ``profile``'s line (cached per profile and circuit).

    Raises:
        CircuitError: the circuit's qubit count differs from the profile's, or a native
            angle is not affine in the weights and inputs.
    """
    if circuit.n_qubits != profile.n_qubits:
        raise CircuitError(
            f"circuit has {circuit.n_qubits} qubits but the noise profile's line has {profile.n_qubits}; "
            "build the profile with n_qubits=circuit.n_qubits"
        )
    return _transpile(profile, circuit.n_qubits, tuple(circuit.ops))


@lru_cache(maxsize=32)
def _transpile(profile: NoiseProfile, n_qubits: int, ops: tuple[Op, ...]) -> NativeCircuit:
    from qiskit import transpile

    circuit = Circuit(n_qubits, list(ops))
    logical, weights, inputs = circuit.to_qiskit()
    isa = transpile(
        logical, target=profile.target(1.0), optimization_level=1, seed_transpiler=TRANSPILE_SEED
    )
    measured = (
        tuple(isa.layout.final_index_layout()) if isa.layout is not None else tuple(range(n_qubits))
    )
    if isa.num_qubits != n_qubits:
        raise CircuitError(
            f"transpiling onto the line gave {isa.num_qubits} qubits, expected {n_qubits}"
        )
    symbols = {symbol: ("w", k) for k, symbol in enumerate(weights)}
    symbols.update({symbol: ("x", j) for j, symbol in enumerate(inputs)})
    native_ops, offsets, weight_rows, input_rows = [], [], [], []
    for instruction in isa.data:
        name = instruction.operation.name
        if name == "barrier":
            continue
        qargs = tuple(isa.find_bit(q).index for q in instruction.qubits)
        params = instruction.operation.params
        if not params:
            native_ops.append(NativeOp(name, qargs))
            continue
        if name != "rz" or len(params) != 1:
            raise CircuitError(
                f"{profile.device}'s native gate {name} takes angles; qcalo's noisy engine needs "
                "devices whose only parametrized gate is rz (e.g. fake_fez, fake_torino)"
            )
        offset, w_row, x_row = _affine(params[0], symbols, circuit.n_params, circuit.n_inputs)
        native_ops.append(NativeOp(name, qargs, len(offsets)))
        offsets.append(offset)
        weight_rows.append(w_row)
        input_rows.append(x_row)
    return NativeCircuit(
        profile=profile,
        n_qubits=n_qubits,
        n_params=circuit.n_params,
        n_inputs=circuit.n_inputs,
        ops=tuple(native_ops),
        angle_offset=np.asarray(offsets, dtype=float),
        angle_weights=np.asarray(weight_rows, dtype=float).reshape(len(offsets), circuit.n_params),
        angle_inputs=np.asarray(input_rows, dtype=float).reshape(len(offsets), circuit.n_inputs),
        measured_positions=measured,
        isa=isa,
        weights=weights,
        inputs=inputs,
    )


def _affine(
    angle: object, symbols: dict, n_params: int, n_inputs: int
) -> tuple[float, np.ndarray, np.ndarray]:
    """``offset, weight_coefficients, input_coefficients`` of an affine angle expression."""
    w_row, x_row = np.zeros(n_params), np.zeros(n_inputs)
    parameters = getattr(angle, "parameters", set())
    if not parameters:
        return float(angle), w_row, x_row
    for symbol in parameters:
        slope = angle.gradient(symbol)
        if getattr(slope, "parameters", None):
            raise CircuitError(
                f"native angle {angle} is not affine in {symbol}; qcalo's noisy engine needs affine angles"
            )
        kind, index = symbols[symbol]
        (w_row if kind == "w" else x_row)[index] += float(np.real(complex(slope)))
    offset = angle.bind({symbol: 0.0 for symbol in parameters})
    return float(np.real(complex(offset))), w_row, x_row
