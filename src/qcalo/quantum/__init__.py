"""qcalo.quantum: circuits, their compilation and simulation, and the torch layer built on them.

Module map (each depends only on those above it):

* :mod:`~qcalo.quantum.gates` — the gate catalogue: every fact about a gate, once;
* :mod:`~qcalo.quantum.circuit` — ``Circuit``/``Angle``/``Op``, validation, Qiskit export;
* :mod:`~qcalo.quantum.workloads` — the benchmark/model circuits (QAG, hybrid);
* :mod:`~qcalo.quantum.plan` — the compiled plan's dataclasses and tables;
* :mod:`~qcalo.quantum.fusion` — merging weight-only stages into per-group blocks;
* :mod:`~qcalo.quantum.compiler` — circuit → plan (scheduling, readout folding);
* :mod:`~qcalo.quantum.engine` — the ``Engine`` interface, backend choice, argument checks;
* :mod:`~qcalo.quantum.torch_engine` / :mod:`~qcalo.quantum.native_engine` — the two
  engines (torch ops; C kernels via :mod:`~qcalo.quantum.native`);
* :mod:`~qcalo.quantum.sampling` — shot histograms and ⟨Z⟩ estimates;
* :mod:`~qcalo.quantum.simulator` — ``StatevectorSimulator``, the facade;
* :mod:`~qcalo.quantum.layer` — ``QuantumLayer``, the ``torch.nn.Module``;
* :mod:`~qcalo.quantum.peers` — Qiskit Aer and PennyLane running qcalo circuits (benchmarks);
* :mod:`~qcalo.quantum.noise`, ``noise_channels``, ``noise_transpile``, ``noise_aer`` — a device's
  calibration on its best line, the scale x, Aer-equal channels, the transpiled (ISA) circuit;
* :mod:`~qcalo.quantum.density_plan`, ``density_ops``, :mod:`~qcalo.quantum.density_matrix` — the
  noisy engine (Pauli-transfer density matrix, Heisenberg-picture ⟨Z⟩);
* :mod:`~qcalo.quantum.hardware` — the same ISA circuits through IBM's SamplerV2
  (``fake:<name>`` local testing mode, ``ibm:<name>`` with a saved account).
"""
