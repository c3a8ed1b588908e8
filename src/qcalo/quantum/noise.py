"""Device noise profiles from Qiskit's fake backends, rescaled by a factor ``x``.

A :class:`NoiseProfile` is the calibration of the best connected **line** of ``n`` physical
qubits of a device (default ``fake_fez``, IBM Heron r2, snapshot in ``qiskit-ibm-runtime``):
per qubit T1, T2 and the readout flip probabilities, per native gate its error and duration.
Line position ``i`` is physical qubit ``profile.physical_qubits[i]``; everything downstream
(transpiled circuits, channels, the Aer oracle) uses line positions ``0 … n-1``.

**The scale x** (seed 000 §2.4 rescales *ibm_fez*'s noise by x). For ``x ≥ 0`` the calibration
numbers are replaced by

* gate error (average gate infidelity) ``e → min(x·e, d/(d+1))`` (``d = 2^k`` for a k-qubit
  gate; ``d/(d+1)`` is the largest physical infidelity, Aer's own cap);
* relaxation rates ``1/T1 → x/T1``, ``1/T2 → x/T2`` (T2 is first truncated to ≤ 2·T1, as Aer
  does; the ratio is scale-free so the truncation commutes with the scaling);
* readout flip probabilities ``P(1|0) → min(x·P(1|0), 0.5)``, ``P(0|1) → min(x·P(0|1), 0.5)``;

gate durations are not scaled. The channels are then derived from the scaled numbers exactly
as Aer's ``NoiseModel.from_backend`` derives them from the device's: after each gate (in this
order) a ``k``-qubit depolarizing channel whose parameter makes the *composition* have the
scaled gate error, then T1/T2 thermal relaxation over the gate's duration on each of its
qubits (zero temperature: relaxation towards |0⟩); virtual ``rz`` (duration 0, error 0) is
noiseless; before each measurement an independent per-qubit readout confusion; no idle noise
(the circuit is not scheduled, as in ``from_backend``). ``x = 0`` is exactly noiseless,
``x = 1`` is the device as calibrated, and for small ``x`` every error probability and
relaxation rate grows linearly in ``x``.

**Readout.** ``from_backend`` on a BackendV2 reads the Target, which carries one symmetric
readout error per qubit. The device's ``properties()`` also give the asymmetric
``prob_meas1_prep0`` / ``prob_meas0_prep1`` (on ibm_fez P(0|1) ≈ 3 × P(1|0)); the profile uses
those by default (``readout="properties"``); ``readout="target"`` reproduces ``from_backend``
exactly (tested).

The channels themselves (as transfer matrices, and as Aer's model for the tests) are in
:mod:`qcalo.quantum.noise_channels`. Hand-written here: the line search (no library picks a
line of qubits by summed error).
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from functools import lru_cache
from typing import TYPE_CHECKING, Literal

from qcalo.exceptions import ConfigError
from qcalo.validate import finite_float, int_in_range

if TYPE_CHECKING:  # qiskit is imported lazily: it costs ~1 s
    from qiskit.transpiler import Target

__all__ = [
    "DEFAULT_DEVICE",
    "NoiseProfile",
    "ReadoutSource",
    "check_scale",
    "fake_backend",
    "fake_device_names",
    "noise_profile",
    "profile_for_backend",
    "scaled_error",
    "scaled_readout",
    "scaled_relaxation",
]

DEFAULT_DEVICE = "fake_fez"
ReadoutSource = Literal["properties", "target"]
_BROKEN_ERROR = 1.0  # a coupler reporting error ≥ 1 is out of service on the device
_CONTROL_FLOW = frozenset({"for_loop", "if_else", "switch_case", "while_loop", "box"})


# -- devices ------------------------------------------------------------------------------
def _snake(class_name: str) -> str:
    """``FakeAlmadenV2`` → ``fake_almaden``: the backend's own ``name`` without loading it."""
    stem = re.sub(r"V2$", "", class_name[len("Fake") :])
    return "fake_" + re.sub(r"(?<!^)(?=[A-Z])", "_", stem).lower()


@lru_cache(maxsize=1)
def _fake_classes() -> dict[str, str]:
    import qiskit_ibm_runtime.fake_provider as provider

    classes = {}
    for attr in dir(provider):
        obj = getattr(provider, attr)
        if attr.startswith("Fake") and isinstance(obj, type) and hasattr(obj, "conf_filename"):
            classes.setdefault(_snake(attr), attr)
    return classes


def fake_device_names() -> list[str]:
    """Names accepted by :func:`fake_backend` (``fake_fez``, ``fake_torino``, …)."""
    return sorted(_fake_classes())


@lru_cache(maxsize=4)
def fake_backend(name: str = DEFAULT_DEVICE) -> object:
    """The fake backend ``name`` (``fake_fez``, ``fez`` or ``FakeFez``), loaded once per process.

    Raises:
        ConfigError: unknown name (the message lists the valid ones).
    """
    key = str(name).strip()
    key = _snake(key) if key.startswith("Fake") else key.lower()
    key = key if key.startswith("fake_") else "fake_" + key
    classes = _fake_classes()
    if key not in classes:
        raise ConfigError(
            f"unknown fake device {name!r}; use one of: {', '.join(fake_device_names())}"
        )
    import qiskit_ibm_runtime.fake_provider as provider

    return getattr(provider, classes[key])()


# -- the profile ----------------------------------------------------------------------------
@dataclass(frozen=True)
class NoiseProfile:
    """Calibration of a line of ``n`` physical qubits, indexed by line position ``0 … n-1``.

    Attributes:
        device: the backend's name.
        physical_qubits: line position → physical qubit on the device.
        t1, t2: per position, seconds (``inf`` when the device gives none).
        readout_p1_given_0, readout_p0_given_1: per position, readout flip probabilities.
        gates: ``(name, qargs)`` → ``(error, duration_s)`` for the native gates on the line
            (two-qubit gates on neighbouring positions, in the directions the device offers).
        dt: the device's sample time (s); ``readout``: where the readout numbers come from.
    """

    device: str
    physical_qubits: tuple[int, ...]
    t1: tuple[float, ...]
    t2: tuple[float, ...]
    readout_p1_given_0: tuple[float, ...]
    readout_p0_given_1: tuple[float, ...]
    gates: tuple[tuple[str, tuple[int, ...], float, float], ...]
    dt: float | None
    readout: ReadoutSource

    @property
    def n_qubits(self) -> int:
        return len(self.physical_qubits)

    def gate_table(self) -> dict[tuple[str, tuple[int, ...]], tuple[float, float]]:
        """``(name, qargs)`` → ``(error, duration_s)``."""
        return {(name, qargs): (error, duration) for name, qargs, error, duration in self.gates}

    def gate_names(self) -> list[str]:
        """Native gate names (one- and two-qubit) in a stable order."""
        return sorted({name for name, *_ in self.gates})

    def target(self, x: float = 1.0) -> Target:
        """A Qiskit ``Target`` of the line with the x-scaled calibration (measure included).

        ``x = 1`` is what the circuits are transpiled against; Aer reads the scaled one.
        """
        from qiskit.circuit import Measure
        from qiskit.circuit.library import get_standard_gate_name_mapping
        from qiskit.transpiler import InstructionProperties, QubitProperties, Target

        x = check_scale(x)
        t1, t2 = scaled_relaxation(self, x)
        qubit_props = [
            QubitProperties(t1=None if math.isinf(a) else a, t2=None if math.isinf(b) else b)
            for a, b in zip(t1, t2, strict=True)
        ]
        target = Target(num_qubits=self.n_qubits, dt=self.dt, qubit_properties=qubit_props)
        gate_objects = get_standard_gate_name_mapping()
        by_name: dict[str, dict] = {}
        for name, qargs, error, duration in self.gates:
            props = InstructionProperties(
                duration=duration, error=scaled_error(error, len(qargs), x)
            )
            by_name.setdefault(name, {})[qargs] = props
        for name in sorted(by_name):
            target.add_instruction(gate_objects[name], by_name[name])
        p1, p0 = _readout_at(self, x)
        target.add_instruction(
            Measure(),
            {(q,): InstructionProperties(error=(p1[q] + p0[q]) / 2) for q in range(self.n_qubits)},
        )
        return target


def check_scale(x: object) -> float:
    """``x`` as a float ≥ 0 (one-line :class:`ConfigError` otherwise)."""
    value = finite_float(
        x, "noise scale x", fix="≥ 0 (0 = noiseless, 1 = the device as calibrated)"
    )
    if value < 0:
        raise ConfigError(
            f"noise scale x={x!r}; use a finite number ≥ 0 (0 = noiseless, 1 = the device as calibrated)"
        )
    return value


@lru_cache(maxsize=16)
def noise_profile(
    device: str = DEFAULT_DEVICE, n_qubits: int = 8, readout: ReadoutSource = "properties"
) -> NoiseProfile:
    """The calibration of ``device``'s best line of ``n_qubits`` qubits (cached per process).

    The line minimises the summed two-qubit gate error of its couplers plus the summed
    ``sx`` and readout errors of its qubits; couplers reporting error ≥ 1 (out of service)
    are never used. Ties go to the lexicographically smallest line.

    Raises:
        ConfigError: unknown device, bad ``n_qubits`` or ``readout``, or no line that long.
    """
    return profile_for_backend(fake_backend(device), n_qubits, readout)


def profile_for_backend(backend: object, n_qubits: int, readout: ReadoutSource = "properties") -> NoiseProfile:
    """The calibration of any BackendV2's best line of ``n_qubits`` qubits (the search of
    :func:`noise_profile`; for a real ``ibm:<name>`` backend's current target and properties).

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
    coupler_props = target[_two_qubit_gate(target, name)].items() if n_qubits > 1 else []
    for qargs, props in coupler_props:
        a, b = sorted(qargs)
        error = props.error if props is not None and props.error is not None else 0.0
        edges[(a, b)] = max(edges.get((a, b), 0.0), error)  # a broken direction spoils the coupler
    line = _best_line(node_cost, {e: c for e, c in edges.items() if c < _BROKEN_ERROR}, n_qubits)
    if line is None:
        raise ConfigError(
            f"{name} has no connected line of {n_qubits} working qubits; use fewer qubits or another device"
        )
    return _profile_for_line(backend, line, p1_all, p0_all, readout)


def _two_qubit_gate(target: Target, device: str) -> str:
    names = [
        n
        for n in target.operation_names
        if n not in _CONTROL_FLOW and target.operation_from_name(n).num_qubits == 2
    ]
    if len(names) != 1:
        raise ConfigError(
            f"{device} has native two-qubit gates {names}; qcalo's noise model needs exactly one "
            "(use e.g. fake_fez, fake_torino or fake_sherbrooke)"
        )
    return names[0]


def _error(target: Target, name: str, qargs: tuple[int, ...]) -> float:
    props = target[name].get(qargs) if name in target.operation_names else None
    return 0.0 if props is None or props.error is None else float(props.error)


def _readout_errors(backend: object, readout: ReadoutSource) -> tuple[list[float], list[float]]:
    target = backend.target
    n = target.num_qubits
    symmetric = [_error(target, "measure", (q,)) for q in range(n)]
    if readout == "target":
        return symmetric, list(symmetric)
    properties = backend.properties() if hasattr(backend, "properties") else None
    if properties is None:
        return symmetric, list(symmetric)
    p1, p0 = [], []
    for q in range(n):
        values = properties.qubit_property(q)
        if "prob_meas1_prep0" in values and "prob_meas0_prep1" in values:
            p1.append(float(values["prob_meas1_prep0"][0]))
            p0.append(float(values["prob_meas0_prep1"][0]))
        else:
            p1.append(symmetric[q])
            p0.append(symmetric[q])
    return p1, p0


def _best_line(
    node_cost: dict[int, float], edges: dict[tuple[int, int], float], n: int
) -> tuple[int, ...] | None:
    """Exhaustive search over simple paths of ``n`` nodes (heavy-hex graphs have few)."""
    neighbours: dict[int, list[int]] = {q: [] for q in node_cost}
    for a, b in edges:
        neighbours[a].append(b)
        neighbours[b].append(a)
    best: tuple[float, tuple[int, ...]] | None = None

    def extend(path: list[int], cost: float) -> None:
        nonlocal best
        if best is not None and cost > best[0] + 1e-15:
            return  # costs only grow: prune
        if len(path) == n:
            line = tuple(path) if path[0] <= path[-1] else tuple(reversed(path))
            if best is None or (cost, line) < best:
                best = (cost, line)
            return
        for nxt in sorted(neighbours[path[-1]]):
            if nxt not in path:
                edge = edges[(min(path[-1], nxt), max(path[-1], nxt))]
                path.append(nxt)
                extend(path, cost + edge + node_cost[nxt])
                path.pop()

    for start in sorted(node_cost):
        extend([start], node_cost[start])
    return None if best is None else best[1]


def _profile_for_line(
    backend: object,
    line: tuple[int, ...],
    p1_all: list[float],
    p0_all: list[float],
    readout: ReadoutSource,
) -> NoiseProfile:
    target = backend.target
    position = {q: i for i, q in enumerate(line)}
    gates = []
    for name in sorted(target.operation_names):
        if name in _CONTROL_FLOW or name in ("measure", "delay", "reset"):
            continue
        for qargs, props in target[name].items():
            if qargs is None or not all(q in position for q in qargs):
                continue
            line_qargs = tuple(position[q] for q in qargs)
            if len(qargs) == 2 and abs(line_qargs[0] - line_qargs[1]) != 1:
                continue  # a chord of the line: not a coupler the line uses
            error = 0.0 if props is None or props.error is None else float(props.error)
            duration = 0.0 if props is None or props.duration is None else float(props.duration)
            gates.append((name, line_qargs, error, duration))
    qubit_props = target.qubit_properties
    t1 = tuple(_or_inf(qubit_props[q].t1 if qubit_props else None) for q in line)
    t2 = tuple(_or_inf(qubit_props[q].t2 if qubit_props else None) for q in line)
    return NoiseProfile(
        device=backend.name,
        physical_qubits=line,
        t1=t1,
        t2=t2,
        readout_p1_given_0=tuple(p1_all[q] for q in line),
        readout_p0_given_1=tuple(p0_all[q] for q in line),
        gates=tuple(sorted(gates)),
        dt=target.dt,
        readout=readout,
    )


def _or_inf(value: float | None) -> float:
    return math.inf if value is None else float(value)


# -- scaling ------------------------------------------------------------------------------
def scaled_error(error: float, n_gate_qubits: int, x: float) -> float:
    """A k-qubit gate error at scale ``x``: ``min(x·e, d/(d+1))``, ``d = 2^k``."""
    dim = 2**n_gate_qubits
    return min(x * error, dim / (dim + 1))


def scaled_relaxation(profile: NoiseProfile, x: float) -> tuple[list[float], list[float]]:
    """Per line position T1/x and min(T2, 2·T1)/x per position (``inf`` at x = 0)."""
    t1 = [math.inf if x == 0 else a / x for a in profile.t1]
    t2 = [
        math.inf if x == 0 else min(b, 2 * a) / x
        for a, b in zip(profile.t1, profile.t2, strict=True)
    ]
    return t1, t2


def _readout_at(profile: NoiseProfile, x: float) -> tuple[list[float], list[float]]:
    return (
        [min(x * p, 0.5) for p in profile.readout_p1_given_0],
        [min(x * p, 0.5) for p in profile.readout_p0_given_1],
    )


def scaled_readout(profile: NoiseProfile, x: float) -> tuple[list[float], list[float]]:
    """Per line position ``(P(1|0), P(0|1))`` at scale ``x``."""
    return _readout_at(profile, check_scale(x))
