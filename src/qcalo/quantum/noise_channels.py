"""The error channels of a :class:`~qcalo.quantum.noise.NoiseProfile` at noise scale ``x``.

Two forms of the same model (the scale ``x`` is defined in :mod:`qcalo.quantum.noise`):

* real **Pauli transfer matrices** (PTMs) per native gate and for readout, for qcalo's
  engine (:mod:`qcalo.quantum.density_matrix`);
* Aer's ``NoiseModel`` (:func:`scaled_aer_noise_model`), built by Aer's own device functions
  from the scaled calibration: the oracle the tests compare the PTMs and the engine with.

Hand-written because Aer builds ``QuantumError`` objects, not the real 4 × 4 / 16 × 16 arrays
a batched torch engine multiplies; the formulas follow Aer's ``from_backend`` (depolarizing
parameter solved so that depolarizing-then-relaxation has the gate's error) and the tests
check them against Aer's errors at x = 0, 0.5, 1, 2 and 300.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import numpy as np

from qcalo.exceptions import ConfigError
from qcalo.quantum.noise import (
    NoiseProfile,
    check_scale,
    scaled_error,
    scaled_readout,
    scaled_relaxation,
)

if TYPE_CHECKING:
    from qiskit_aer.noise import NoiseModel

__all__ = ["gate_noise_ptm", "pauli_transfer_matrix", "readout_ptm", "scaled_aer_noise_model"]

# Pauli matrices I, X, Y, Z: the basis of the transfer matrices.
_PAULIS = np.array(
    [[[1, 0], [0, 1]], [[0, 1], [1, 0]], [[0, -1j], [1j, 0]], [[1, 0], [0, -1]]], dtype=complex
)


def pauli_transfer_matrix(kraus_or_unitary: np.ndarray) -> np.ndarray:
    """Real PTM ``R[i, j] = Tr(P_i E(P_j)) / d`` of a unitary (one matrix) or Kraus list [K, d, d].

    Pauli strings are ordered with the first Kronecker factor most significant, i.e. the
    matrix's most significant bit is the first qubit of the string.
    """
    ops = np.asarray(kraus_or_unitary, dtype=complex)
    ops = ops[None] if ops.ndim == 2 else ops
    dim = ops.shape[-1]
    n = round(math.log2(dim))
    basis = _PAULIS
    for _ in range(n - 1):
        basis = np.einsum("aij,bkl->abikjl", basis, _PAULIS).reshape(
            -1, 2 * basis.shape[1], 2 * basis.shape[1]
        )
    out = np.einsum("kab,jbc,kdc->jad", ops, basis, ops.conj())  # E(P_j)
    return np.einsum("iba,jab->ij", basis, out).real / dim


def _relaxation_ptm(t1: float, t2: float, duration: float) -> np.ndarray:
    """T1/T2 relaxation towards |0⟩ over ``duration``: x, y decay as e^(−t/T2), z → 1 as e^(−t/T1)."""
    decay1 = 0.0 if math.isinf(t1) else duration / t1
    decay2 = 0.0 if math.isinf(t2) else duration / t2
    keep1, keep2 = math.exp(-decay1), math.exp(-decay2)
    ptm = np.diag([1.0, keep2, keep2, keep1])
    ptm[3, 0] = 1.0 - keep1
    return ptm


def gate_noise_ptm(
    profile: NoiseProfile, name: str, qargs: tuple[int, ...], x: float
) -> np.ndarray | None:
    """The error channel after gate ``name`` on line positions ``qargs`` at scale ``x``, as a PTM.

    ``None`` when the channel is the identity. For two qubits the PTM's most significant
    Pauli index is ``qargs[0]``. Depolarizing first, then relaxation, as Aer composes them.
    """
    table = profile.gate_table()
    if (name, qargs) not in table:
        raise ConfigError(
            f"gate {name} on line qubits {qargs} is not native to {profile.device}; transpile first"
        )
    error, duration = table[(name, qargs)]
    t1, t2 = scaled_relaxation(profile, x)
    relax = None
    if duration and any(not math.isinf(t1[q]) for q in qargs):
        relax = _relaxation_ptm(t1[qargs[0]], t2[qargs[0]], duration)
        for q in qargs[1:]:
            relax = np.kron(relax, _relaxation_ptm(t1[q], t2[q], duration))
    dim = 2 ** len(qargs)
    relax_fid = 1.0 if relax is None else _average_gate_fidelity(relax)
    scaled = scaled_error(error, len(qargs), x)
    depol = None
    if scaled > 1 - relax_fid:
        param = dim * (scaled - (1 - relax_fid)) / (dim * relax_fid - 1)
        param = min(param, 4 ** len(qargs) / (4 ** len(qargs) - 1))
        depol = np.diag([1.0] + [1.0 - param] * (dim * dim - 1))
    if relax is None:
        return depol
    return relax if depol is None else relax @ depol


def _average_gate_fidelity(ptm: np.ndarray) -> float:
    dim = round(math.sqrt(ptm.shape[0]))
    process_fidelity = np.trace(ptm) / dim**2
    return float((dim * process_fidelity + 1) / (dim + 1))


def readout_ptm(p1_given_0: float, p0_given_1: float) -> np.ndarray:
    """Readout confusion as a measure-and-prepare channel before an ideal Z measurement.

    ``⟨Z⟩ → (1 − p10 − p01)·⟨Z⟩ + (p01 − p10)`` with p10 = P(1|0), p01 = P(0|1); X, Y are
    discarded (they do not reach a Z measurement anyway).
    """
    ptm = np.zeros((4, 4))
    ptm[0, 0] = 1.0
    ptm[3, 0] = p0_given_1 - p1_given_0
    ptm[3, 3] = 1.0 - p1_given_0 - p0_given_1
    return ptm


def scaled_aer_noise_model(profile: NoiseProfile, x: float) -> NoiseModel:
    """Aer's noise model of the line at scale ``x``, built by Aer's own device functions.

    Gate errors come from ``qiskit_aer.noise.device.basic_device_gate_errors`` on
    :meth:`NoiseProfile.target` ``(x)`` (what ``from_backend`` calls on the device's Target);
    readout errors are ``ReadoutError`` s of the scaled flip probabilities. At ``x = 1`` with
    ``readout="target"`` this equals ``NoiseModel.from_backend(device)`` on the line's qubits.
    Circuits must be on the line's ``n`` qubits (see :mod:`qcalo.quantum.noise_transpile`).
    """
    import warnings

    from qiskit_aer.noise import NoiseModel, ReadoutError
    from qiskit_aer.noise.device import basic_device_gate_errors

    x = check_scale(x)
    target = profile.target(x)
    model = NoiseModel(basis_gates=profile.gate_names())
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        errors = basic_device_gate_errors(target=target)
    for name, qargs, error in errors:
        model.add_quantum_error(error, name, list(qargs))
    p1, p0 = scaled_readout(profile, x)
    for q in range(profile.n_qubits):
        if p1[q] or p0[q]:
            model.add_readout_error(ReadoutError([[1 - p1[q], p1[q]], [p0[q], 1 - p0[q]]]), [q])
    return model
