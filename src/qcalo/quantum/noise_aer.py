"""Qiskit Aer as the oracle for noisy runs: the same transpiled circuit, Aer's density matrix.

Used by the tests (qcalo's noisy engine must equal these to 1e-6) and by ``qcalo bench
noise`` (the speed reference). One circuit is run with ``parameter_binds`` for the whole
batch (Aer's fastest way to run many parameter sets).
"""

from __future__ import annotations

import numpy as np

from qcalo.quantum.noise_channels import scaled_aer_noise_model
from qcalo.quantum.noise_transpile import NativeCircuit

__all__ = ["AerNoisyRunner", "readout_matrices"]


class AerNoisyRunner:
    """Aer's density matrix for one transpiled circuit at scale ``x``, built once, run per batch.

    Args:
        native: the transpiled circuit (:func:`~qcalo.quantum.noise_transpile.transpile_to_line`).
        x: noise scale; the model is :func:`~qcalo.quantum.noise.scaled_aer_noise_model`.
        threads: Aer's ``max_parallel_threads`` (``None``: Aer's default, all cores).
    """

    def __init__(self, native: NativeCircuit, x: float, *, threads: int | None = None) -> None:
        from qiskit_aer import AerSimulator

        self.native = native
        self.model = scaled_aer_noise_model(native.profile, x)
        options = {} if threads is None else {"max_parallel_threads": threads}
        self.simulator = AerSimulator(method="density_matrix", noise_model=self.model, **options)
        self._probability_circuit = native.isa.copy()
        self._probability_circuit.save_probabilities(qubits=list(native.measured_positions))
        self._readout = readout_matrices(self.model, native.n_qubits)

    def probabilities(
        self,
        weights: np.ndarray,
        inputs: np.ndarray | None,
        *,
        batch: int = 1,
        readout: bool = True,
    ) -> np.ndarray:
        """Exact measured-bitstring probabilities ``[B, 2^n]`` (index Σ bᵢ·2^i, logical qubits).

        Aer's density matrix gives the pre-measurement distribution exactly
        (``save_probabilities``); with ``readout`` the noise model's own readout matrices are
        applied to it (Aer applies them per shot, so exact values need this step).
        """
        native, n = self.native, self.native.n_qubits
        batch = batch if inputs is None else len(inputs)
        binds = native.parameter_binds(weights, inputs, batch)
        result = self.simulator.run(
            self._probability_circuit, parameter_binds=[binds] if binds else None, shots=1
        ).result()
        probs = np.array([result.data(i)["probabilities"] for i in range(len(result.results))])
        probs = np.broadcast_to(probs, (batch, 2**n)).copy() if len(probs) == 1 else probs
        if readout:
            tensor = probs.reshape(batch, *([2] * n))  # axis 1 + j holds logical bit n-1-j
            for logical, position in enumerate(native.measured_positions):
                axis = n - logical
                tensor = np.moveaxis(
                    np.tensordot(tensor, self._readout[position], axes=([axis], [0])), -1, axis
                )
            probs = tensor.reshape(batch, 2**n)
        return probs

    def counts(
        self,
        weights: np.ndarray,
        inputs: np.ndarray | None,
        *,
        shots: int,
        seed: int,
        batch: int = 1,
    ) -> np.ndarray:
        """Shot histograms ``[B, 2^n]`` (Aer applies the readout error to each shot)."""
        native, n = self.native, self.native.n_qubits
        batch = batch if inputs is None else len(inputs)
        binds = native.parameter_binds(weights, inputs, batch)
        qc = native.measured_isa()
        result = self.simulator.run(
            qc, parameter_binds=[binds] if binds else None, shots=shots, seed_simulator=seed
        ).result()
        out = np.zeros((len(result.results), 2**n))
        for i in range(len(result.results)):
            for key, count in result.get_counts(i).items():
                out[i, int(key.replace(" ", ""), 2)] = count
        return out


def readout_matrices(model: object, n_qubits: int) -> list[np.ndarray]:
    """Per line position Aer's readout matrix ``M[prepared, measured]`` (identity if none)."""
    matrices = [np.eye(2) for _ in range(n_qubits)]
    for error in model.to_dict().get("errors", []):
        if error["type"] == "roerror":
            for qubits in error["gate_qubits"]:
                matrices[qubits[0]] = np.asarray(error["probabilities"], dtype=float)
    return matrices
