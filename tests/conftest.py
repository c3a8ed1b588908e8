"""Shared test fixtures (keep this file small: fixtures only)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np
import pytest
import torch

from qcalo.quantum.circuit import Angle, Circuit, Gate

CLIC8_SPLIT_FILES = tuple(f"clic_8px_{split}.h5" for split in ("train", "val", "test"))


def real_clic8_folder() -> Path | None:
    """The real CLIC 8-pixel files in ``shared/data/clic8`` beside the checkout (or a worktree
    one level deeper), or None where they are absent (tests that need them skip)."""
    for depth in (2, 3):
        folder = Path(__file__).resolve().parents[depth] / "shared" / "data" / "clic8"
        if all((folder / name).is_file() for name in CLIC8_SPLIT_FILES):
            return folder
    return None


_ROTATIONS = (Gate.RX, Gate.RY, Gate.RZ)
_FIXED = (Gate.SX, Gate.X, Gate.H)
_TWO_QUBIT = (Gate.CNOT, Gate.CZ)


def make_random_circuit(
    rng: np.random.Generator,
    n_qubits: int,
    n_ops: int,
    *,
    reuse: bool = True,
    layered: bool = False,
) -> Circuit:
    """A random circuit mixing every gate and every angle source, with non-unit scales.

    Args:
        rng: source of randomness (the circuit is a function of its state).
        n_qubits: width; two-qubit gates only appear from 2 qubits on.
        n_ops: number of gates (``layered``: number of layers of one gate per wire + a
            few two-qubit gates).
        reuse: draw parameter/input indices from a small pool, so several gates share one
            weight or feature and some indices stay unused; ``False``: each index used once.
        layered: brick-like layers with a gate on every wire (exercises the dense
            single-qubit path) instead of independent random gates.
    """
    circuit = Circuit(n_qubits)
    fresh = {"param": 0, "input": 0}

    def angle() -> Angle | float:
        kind = rng.choice(["param", "input", "const"])
        if kind == "const":
            return float(rng.uniform(-np.pi, np.pi))
        scale = 1.0 if rng.random() < 0.4 else float(rng.choice([-1, 1]) * rng.uniform(0.5, 2.0))
        if reuse:
            index = int(rng.integers(0, 4))
        else:
            index, fresh[kind] = fresh[kind], fresh[kind] + 1
        return Angle.param(index, scale) if kind == "param" else Angle.input(index, scale)

    def one_qubit_gate(wire: int) -> None:
        gate = rng.choice(_ROTATIONS + _FIXED) if rng.random() < 0.8 else rng.choice(_FIXED)
        gate = Gate(gate)
        circuit.add(gate, wire, _as_angle(angle()) if gate in _ROTATIONS else None)

    def two_qubit_gate() -> None:
        a, b = (int(w) for w in rng.choice(n_qubits, size=2, replace=False))
        circuit.add(Gate(rng.choice(_TWO_QUBIT)), (a, b))

    for _ in range(n_ops):
        if layered:
            rotation = Gate(rng.choice(_ROTATIONS))
            for wire in range(n_qubits):
                circuit.add(rotation, wire, _as_angle(angle()))
            for _ in range(int(rng.integers(0, n_qubits)) if n_qubits > 1 else 0):
                two_qubit_gate()
        elif n_qubits > 1 and rng.random() < 0.35:
            two_qubit_gate()
        else:
            one_qubit_gate(int(rng.integers(0, n_qubits)))
    return circuit


def _as_angle(angle: Angle | float) -> Angle:
    return angle if isinstance(angle, Angle) else Angle.const(angle)


@pytest.fixture
def random_circuit() -> Callable[..., Circuit]:
    """Factory ``random_circuit(rng, n_qubits, n_ops, *, reuse=True, layered=False)``."""
    return make_random_circuit


@pytest.fixture(scope="module")
def torch_single_thread() -> Iterator[None]:
    """One torch thread for a module's tests, restored after.

    The simulator's ops on small states are tiny; on a loaded 2-core machine torch's
    intra-op threads cost far more than they give (measured: 60x slower).
    """
    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(previous)
