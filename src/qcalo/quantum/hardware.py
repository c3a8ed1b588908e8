"""The hardware path: qcalo circuits through qiskit-ibm-runtime's ``SamplerV2``.

A backend is named by a spec string:

* ``fake:<name>`` (``fake:fez``, ``fake:fake_torino``): the fake backend of that name in
  qiskit-ibm-runtime's **local testing mode** (``SamplerV2(mode=FakeFez())``), i.e. Aer with
  the noise model the fake backend builds from its own calibration snapshot. That model reads
  the backend's ``properties()``: per-qubit **asymmetric** readout (``prob_meas1_prep0``,
  ``prob_meas0_prep1``), gate errors and lengths, T1/T2 — the same numbers as qcalo's
  :class:`~qcalo.quantum.noise.NoiseProfile` with ``readout="properties"`` (its default), so
  :func:`run_on_backend` on ``fake:fez`` and :class:`~qcalo.quantum.density_matrix.
  DensityMatrixSimulator` at ``noise_scale=1`` sample the same distribution (tested).
* ``ibm:<name>`` (``ibm:fez`` or ``ibm:ibm_fez``): the real device through
  ``QiskitRuntimeService()`` with the user's saved account; without one, a one-line
  :class:`~qcalo.exceptions.ConfigError` says how to save it.

:func:`run_on_backend` sends the **identical** ISA circuit qcalo's noisy engine simulates:
:func:`~qcalo.quantum.noise_transpile.transpile_to_line` on the device's best line (the same
cached :class:`NoiseProfile`), whose line position ``i`` is placed on physical qubit
``profile.physical_qubits[i]`` of the device; logical qubit ``i`` is measured into classical
bit ``i``. The whole batch is ONE ``SamplerV2.run`` call with ONE PUB whose parameter values
are an array ``[B, n_circuit_parameters]`` (weights repeated per row, inputs per sample), not
one circuit per image.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from functools import lru_cache
from typing import TYPE_CHECKING, Literal

import numpy as np

from qcalo.exceptions import ConfigError, ShapeError
from qcalo.quantum.circuit import Circuit
from qcalo.quantum.noise import (
    NoiseProfile,
    ReadoutSource,
    fake_backend,
    fake_device_names,
    noise_profile,
)
from qcalo.quantum.noise_transpile import NativeCircuit, transpile_to_line
from qcalo.validate import int_in_range, positive_int

if TYPE_CHECKING:
    from qiskit import QuantumCircuit

__all__ = [
    "BackendSpec",
    "FakeNoise",
    "HardwareResult",
    "device_circuit",
    "line_profile",
    "parameter_values",
    "parse_backend_spec",
    "resolve_backend",
    "run_on_backend",
]

FakeNoise = Literal["line", "device"]
_ACCOUNT_FIX = (
    "save one with QiskitRuntimeService.save_account(token=..., "
    "instance=..., set_as_default=True) (or set QISKIT_IBM_TOKEN), or use --backend fake:fez"
)


@dataclass(frozen=True)
class BackendSpec:
    """A parsed ``--backend`` value: ``kind`` ``"fake"`` or ``"ibm"``, and the backend's name."""

    kind: str
    name: str

    def __str__(self) -> str:
        return f"{self.kind}:{self.name}"


def parse_backend_spec(spec: str | BackendSpec) -> BackendSpec:
    """``fake:fez`` → ``BackendSpec("fake", "fake_fez")``; ``ibm:fez`` → ``("ibm", "ibm_fez")``.

    Fake names are checked against qiskit-ibm-runtime's fake provider here; ``ibm`` names only
    when the service is asked for the backend (:func:`resolve_backend`).

    Raises:
        ConfigError: no ``fake:``/``ibm:`` prefix, an empty name, or an unknown fake device.
    """
    if isinstance(spec, BackendSpec):
        return spec
    text = str(spec).strip()
    kind, sep, name = text.partition(":")
    kind, name = kind.strip().lower(), name.strip()
    if not sep or kind not in ("fake", "ibm") or not name:
        raise ConfigError(
            f"backend {spec!r} is not understood; use fake:<name> (e.g. fake:fez, local simulator "
            "with the device's noise) or ibm:<name> (e.g. ibm:fez, real hardware)"
        )
    if kind == "fake":
        key = name.lower()
        key = key if key.startswith("fake_") else "fake_" + key
        if key not in fake_device_names():
            short = ", ".join(n.removeprefix("fake_") for n in fake_device_names())
            raise ConfigError(f"unknown fake device {name!r} in {spec!r}; use fake:<one of {short}>")
        return BackendSpec("fake", key)
    key = name.lower()
    return BackendSpec("ibm", key if key.startswith("ibm_") else "ibm_" + key)


def resolve_backend(spec: str | BackendSpec, *, account_file: str | None = None) -> object:
    """The Qiskit backend object of ``spec`` (fake: loaded once per process).

    Args:
        spec: ``fake:<name>`` or ``ibm:<name>``.
        account_file: for ``ibm:``, the saved-accounts file (``None``: Qiskit's default,
            ``~/.qiskit/qiskit-ibm.json``, or the ``QISKIT_IBM_*`` environment variables).

    Raises:
        ConfigError: bad spec; for ``ibm:`` no saved account, the service unreachable, or no
            such backend on the account (each one line).
    """
    parsed = parse_backend_spec(spec)
    if parsed.kind == "fake":
        return fake_backend(parsed.name)
    return _ibm_backend(parsed.name, account_file)


def _ibm_backend(name: str, account_file: str | None) -> object:
    from qiskit.exceptions import QiskitError
    from qiskit_ibm_runtime import QiskitRuntimeService
    from qiskit_ibm_runtime.accounts import AccountNotFoundError, InvalidAccountError

    # What the service raises: IBM*/RequestsApiError and QiskitBackendNotFoundError are
    # QiskitErrors; requests' network errors are OSErrors; bad saved values ValueErrors.
    service_errors = (QiskitError, OSError, ValueError)

    try:
        service = QiskitRuntimeService(filename=account_file)
    except (AccountNotFoundError, InvalidAccountError) as error:
        where = account_file or "~/.qiskit/qiskit-ibm.json or QISKIT_IBM_*"
        reason = str(error).strip().strip("'\"").splitlines()[0] if str(error).strip() else ""
        raise ConfigError(
            f"ibm:{name.removeprefix('ibm_')} needs a usable IBM Quantum account (from {where}: "
            f"{reason or type(error).__name__}); {_ACCOUNT_FIX}"
        ) from None
    except service_errors as error:  # network, authentication, a malformed saved account
        first = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        raise ConfigError(
            f"could not connect to IBM Quantum for ibm:{name.removeprefix('ibm_')} ({first}); "
            "check the network and the saved token, or use --backend fake:fez"
        ) from None
    try:
        return service.backend(name)
    except service_errors as error:  # no such backend on the account, network
        first = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        raise ConfigError(
            f"IBM Quantum backend {name!r} is not available to this account ({first}); "
            "list yours with QiskitRuntimeService().backends()"
        ) from None


def line_profile(
    backend: object, n_qubits: int, readout: ReadoutSource = "properties"
) -> NoiseProfile:
    """The best line of ``n_qubits`` on ``backend``: the profile qcalo's noisy engine uses.

    For a fake backend this IS :func:`~qcalo.quantum.noise.noise_profile` (same cached
    object, so the same transpiled circuit); for a real backend the same line search runs on
    its current target and properties (:func:`qcalo.quantum.noise.profile_for_backend`).
    """
    from qcalo.quantum.noise import profile_for_backend

    name = str(getattr(backend, "name", ""))
    if name in fake_device_names():
        return noise_profile(name, n_qubits, readout)
    return profile_for_backend(backend, n_qubits, readout)


def device_circuit(native: NativeCircuit, n_device_qubits: int) -> QuantumCircuit:
    """The ISA circuit on the device: line position ``i`` → physical ``physical_qubits[i]``,
    logical qubit ``i`` measured into bit ``i`` of the register ``meas``. Still symbolic."""
    from qiskit import QuantumCircuit, QuantumRegister

    measured = native.measured_isa()
    circuit = QuantumCircuit(QuantumRegister(n_device_qubits, "q"), *measured.cregs)
    circuit.compose(
        measured,
        qubits=list(native.profile.physical_qubits),
        clbits=measured.clbits,
        inplace=True,
    )
    return circuit


def parameter_values(
    circuit: QuantumCircuit, native: NativeCircuit, weights: np.ndarray, inputs: np.ndarray | None,
    batch: int,
) -> np.ndarray:
    """``[B, len(circuit.parameters)]`` values in ``circuit.parameters`` order: one row per
    sample, the weights repeated, the inputs per row (what a PUB's parameter array holds)."""
    column = {symbol: ("w", k) for k, symbol in enumerate(native.weights)}
    column.update({symbol: ("x", j) for j, symbol in enumerate(native.inputs)})
    values = np.empty((batch, len(circuit.parameters)))
    for c, symbol in enumerate(circuit.parameters):
        kind, index = column[symbol]
        values[:, c] = weights[index] if kind == "w" else inputs[:, index]
    return values


@dataclass(frozen=True)
class HardwareResult:
    """Shots of one batch on a backend (logical qubit order, index ``Σ bᵢ·2^i``).

    Attributes:
        counts: ``[B, 2^n]`` shot histograms per sample.
        expval_z: ``[B, n]`` per-qubit ⟨Z_i⟩ estimates ``1 − 2·P(bᵢ = 1)``.
        shots: shots per sample; ``backend``: the spec; ``physical_qubits``: the line used
            (line position → physical qubit); ``job_id``: the runtime job (``None`` locally).
    """

    counts: np.ndarray
    expval_z: np.ndarray
    shots: int
    backend: str
    physical_qubits: tuple[int, ...]
    job_id: str | None


def run_on_backend(
    circuit: Circuit,
    weights: np.ndarray,
    inputs: np.ndarray | None,
    spec: str | BackendSpec,
    *,
    shots: int,
    seed: int | None = None,
    batch_size: int | None = None,
    readout: ReadoutSource = "properties",
    account_file: str | None = None,
    fake_noise: FakeNoise = "line",
) -> HardwareResult:
    """Run ``circuit`` for a batch on ``spec`` through ``SamplerV2``: one call, one PUB.

    Args:
        circuit: the logical qcalo circuit (e.g. ``QAG.circuit``).
        weights: ``[n_params]`` trained angles.
        inputs: ``[B, n_inputs]`` per-sample input angles (``None`` if the circuit reads none;
            then ``batch_size`` rows, default 1).
        spec: ``fake:<name>`` or ``ibm:<name>``.
        shots: shots per sample.
        seed: seeds the local simulator of a fake backend (``simulator.seed_simulator``);
            ignored on real hardware.
        readout: the profile's readout source (chooses the line; ``"properties"`` is what the
            fake backends' own noise model uses).
        account_file: saved-accounts file for ``ibm:`` (see :func:`resolve_backend`).
        fake_noise: ``"line"`` (default): the fake backend's own noise model restricted to
            the line's qubits (see :func:`_line_backend`); ``"device"``: the unmodified
            fake backend (same shots for the same seed, 10–20 s more per call on FakeFez).

    Raises:
        ConfigError: bad spec, backend unreachable, bad ``shots``/``seed``, too many qubits.
        ShapeError: ``weights`` or ``inputs`` of the wrong shape.
    """
    parsed = parse_backend_spec(spec)
    shots = positive_int(shots, "shots", fix="(shots per sample on the backend)")
    if seed is not None:
        seed = int_in_range(seed, "seed", 0, 2**62, fix="(seeds the fake backend's simulator)")
    if fake_noise not in ("line", "device"):
        raise ConfigError(f"fake_noise={fake_noise!r}; use 'line' (fast, default) or 'device'")
    weights, inputs, batch = _check_batch(circuit, weights, inputs, batch_size)
    backend = resolve_backend(parsed, account_file=account_file)
    profile = line_profile(backend, circuit.n_qubits, readout)
    native = transpile_to_line(circuit, profile)
    isa = device_circuit(native, backend.num_qubits)
    values = parameter_values(isa, native, weights, inputs, batch)
    if parsed.kind == "fake" and fake_noise == "line":
        backend = _line_backend(parsed.name, profile.physical_qubits)
    sampler = _sampler(backend, seed if parsed.kind == "fake" else None)
    if len(isa.parameters):
        job = sampler.run([(isa, values)], shots=shots)
    else:  # nothing to bind: the B samples are i.i.d. shots of one circuit, split after
        job = sampler.run([(isa,)], shots=shots * batch)
    bits = _measured_bits(job.result()[0].data.meas, batch, shots, circuit.n_qubits)
    counts, expval = _tally(bits, circuit.n_qubits)
    job_id = job.job_id() if parsed.kind == "ibm" else None
    return HardwareResult(counts, expval, shots, str(parsed), profile.physical_qubits, job_id)


def _check_batch(
    circuit: Circuit, weights: object, inputs: object, batch_size: int | None
) -> tuple[np.ndarray, np.ndarray | None, int]:
    weights = np.asarray(_numpy(weights), dtype=float).reshape(-1)
    if weights.shape != (circuit.n_params,):
        raise ShapeError(
            f"weights have {weights.size} values; the circuit needs ({circuit.n_params},)"
        )
    if not np.isfinite(weights).all():
        raise ConfigError("a weight is NaN or infinite; check the trained model")
    if circuit.n_inputs == 0:
        if inputs is not None:
            raise ShapeError("the circuit reads no inputs; pass inputs=None and batch_size=B")
        batch = 1 if batch_size is None else positive_int(batch_size, "batch_size")
        return weights, None, batch
    if inputs is None:
        raise ShapeError(f"the circuit reads {circuit.n_inputs} inputs; pass [B, {circuit.n_inputs}]")
    inputs = np.asarray(_numpy(inputs), dtype=float)
    if inputs.ndim != 2 or inputs.shape[1] != circuit.n_inputs or len(inputs) < 1:
        raise ShapeError(
            f"inputs have shape {inputs.shape}; the circuit needs [B, {circuit.n_inputs}], B ≥ 1"
        )
    if batch_size is not None and batch_size != len(inputs):
        raise ShapeError(f"batch_size={batch_size} but inputs have {len(inputs)} rows; drop it")
    if not np.isfinite(inputs).all():
        raise ConfigError("an input angle is NaN or infinite; check the data fed to the circuit")
    return weights, inputs, len(inputs)


def _numpy(array: object) -> object:
    """torch tensors (possibly requiring grad) → numpy, without importing torch here."""
    detach = getattr(array, "detach", None)
    return detach().cpu().numpy() if callable(detach) else array


def _sampler(backend: object, seed: int | None) -> object:
    from qiskit_ibm_runtime import SamplerV2

    with warnings.catch_warnings():
        # 0.50 deprecates SamplerV2 in favour of a client-side Sampler; the issue asks for
        # SamplerV2, which local testing mode and the service both still run.
        warnings.simplefilter("ignore", DeprecationWarning)
        sampler = SamplerV2(mode=backend)
    if seed is not None:
        # The local service drops a falsy seed (``if seed := ...``): shift by one so that
        # seed=0 is seeded too, and distinct seeds stay distinct.
        sampler.options.simulator.seed_simulator = seed + 1
    return sampler


@lru_cache(maxsize=8)
def _line_backend(device: str, physical_qubits: tuple[int, ...]) -> object:
    """A fresh instance of the fake backend whose simulator carries the noise model the fake
    backend builds for itself, restricted to the errors on ``physical_qubits``.

    Why: local testing mode deep-copies the backend on every ``SamplerV2.run`` and Aer
    serializes the noise model on every run; FakeFez's model covers 156 qubits (1640 error
    entries, ~10⁵ small circuits): building it takes 10–20 s and every call 10–20 s more.
    Every error in that model is local (gate errors on the gate's qubits, per-qubit readout),
    so a circuit acting only on the line sees exactly the same channels, and the line's
    model is built here by the same public Aer functions with the same arguments as the
    fake backend's ``_get_noise_model_from_backend_v2`` (gate error and thermal relaxation
    at temperature 0 from ``properties()``; readout from ``properties()``, asymmetric where
    given), only from the line's gates. A test checks equal seeded counts against the
    unmodified backend. Left out: its relaxation pass for ``Delay`` instructions, which
    these (unscheduled) circuits do not contain.
    """
    from qiskit_aer import AerSimulator
    from qiskit_aer.noise import NoiseModel
    from qiskit_aer.noise.device import basic_device_gate_errors, basic_device_readout_errors
    from qiskit_ibm_runtime.models import BackendProperties

    shared = fake_backend(device)
    kept = set(physical_qubits)
    spec = shared.properties().to_dict()
    spec["gates"] = [gate for gate in spec["gates"] if set(gate["qubits"]) <= kept]
    properties = BackendProperties.from_dict(spec)
    model = NoiseModel(basis_gates=shared.configuration().basis_gates)
    for qubits, error in basic_device_readout_errors(properties):
        if set(qubits) <= kept:
            model.add_readout_error(error, qubits)
    with warnings.catch_warnings():  # as the fake backend does
        warnings.filterwarnings("ignore", module="qiskit_aer.noise.device.models")
        errors = basic_device_gate_errors(
            properties, gate_error=True, thermal_relaxation=True, temperature=0
        )
    for name, qubits, error in errors:
        model.add_quantum_error(error, name, qubits)
    backend = type(shared)()  # not the shared instance, which stays untouched
    backend.sim = AerSimulator(noise_model=model)  # what its _setup_sim sets, line model
    backend.set_options(noise_model=model)
    return backend


def _measured_bits(bit_array: object, batch: int, shots: int, n_qubits: int) -> np.ndarray:
    """``[B, shots, n]`` booleans, column ``i`` = classical bit ``i`` = logical qubit ``i``."""
    bits = np.asarray(bit_array.to_bool_array(order="little"))
    if bits.ndim == 2:  # a PUB without parameters: one run of B·shots shots
        bits = bits.reshape(batch, -1, bits.shape[-1]) if len(bits) == batch * shots else bits[None]
    if bits.shape != (batch, shots, n_qubits):
        raise ShapeError(
            f"the sampler returned bits of shape {bits.shape}; expected ({batch}, {shots}, {n_qubits})"
        )
    return bits


def _tally(bits: np.ndarray, n_qubits: int) -> tuple[np.ndarray, np.ndarray]:
    index = bits.astype(np.int64) @ (1 << np.arange(n_qubits, dtype=np.int64))
    counts = np.stack([np.bincount(row, minlength=2**n_qubits) for row in index])
    expval = 1.0 - 2.0 * bits.mean(axis=1)
    return counts, expval
