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
* :mod:`~qcalo.quantum.peers` — Qiskit Aer and PennyLane running qcalo circuits (benchmarks).
"""
