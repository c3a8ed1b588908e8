"""The best line of a *real* backend (``ibm:<name>``): the same search as for fake devices.

:func:`qcalo.quantum.noise.noise_profile` takes a fake device by name; a real backend's
calibration arrives as an object from ``QiskitRuntimeService``. This applies the same steps
(cost per qubit and coupler, exhaustive line search, profile of the line) to any BackendV2
with a target (and ``properties()`` when it has them), using :mod:`qcalo.quantum.noise`'s own
helpers so the two cannot drift apart; a test checks it reproduces ``noise_profile`` on
``fake_fez``. (When noise.py grows a public ``profile_for_backend`` this module can go.)
"""

from __future__ import annotations

from qcalo.exceptions import ConfigError
from qcalo.quantum.noise import (
    _BROKEN_ERROR,
    NoiseProfile,
    ReadoutSource,
    _best_line,
    _error,
    _profile_for_line,
    _readout_errors,
    _two_qubit_gate,
)
from qcalo.validate import int_in_range

__all__ = ["profile_for_backend"]


def profile_for_backend(
    backend: object, n_qubits: int, readout: ReadoutSource = "properties"
) -> NoiseProfile:
    """The calibration of ``backend``'s best line of ``n_qubits`` qubits (as ``noise_profile``).

    Raises:
        ConfigError: bad ``n_qubits`` or ``readout``, or no working line that long.
    """
    n_qubits = int_in_range(n_qubits, "n_qubits", 1, 24, fix="(qubits of the circuit)")
    if readout not in ("properties", "target"):
        raise ConfigError(
            f"readout={readout!r}; use 'properties' (asymmetric, default) or 'target' (as from_backend)"
        )
    target = backend.target
    name = getattr(backend, "name", "the backend")
    if n_qubits > target.num_qubits:
        raise ConfigError(
            f"{name} has {target.num_qubits} qubits, fewer than the circuit's {n_qubits}; "
            "use fewer qubits or a larger device"
        )
    p1_all, p0_all = _readout_errors(backend, readout)
    node_cost = {
        q: _error(target, "sx", (q,)) + (p1_all[q] + p0_all[q]) / 2
        for q in range(target.num_qubits)
    }
    edges: dict[tuple[int, int], float] = {}
    couplers = target[_two_qubit_gate(target, name)].items() if n_qubits > 1 else []
    for qargs, props in couplers:
        a, b = sorted(qargs)
        error = props.error if props is not None and props.error is not None else 0.0
        edges[(a, b)] = max(edges.get((a, b), 0.0), error)  # a broken direction spoils the coupler
    line = _best_line(node_cost, {e: c for e, c in edges.items() if c < _BROKEN_ERROR}, n_qubits)
    if line is None:
        raise ConfigError(
            f"{name} has no connected line of {n_qubits} working qubits; use fewer qubits or another device"
        )
    return _profile_for_line(backend, line, p1_all, p0_all, readout)
