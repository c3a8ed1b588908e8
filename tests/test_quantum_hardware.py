"""The hardware path: backend specs, and qcalo circuits through SamplerV2 on fake:fez.

The statistical checks compare shot estimates from qiskit-ibm-runtime's local testing mode
(FakeFez's own Aer noise model, built from its properties) with qcalo's exact noisy engine
at x = 1. Each comparison also runs a negative control that must be rejected, so a test that
cannot fail would show up.
"""

from __future__ import annotations

import math
import socket

import numpy as np
import pytest
import torch
from scipy import stats

from qcalo.exceptions import ConfigError, ShapeError
from qcalo.models.qag import QAG, PixelCodec, build_qag_circuit
from qcalo.quantum import hardware
from qcalo.quantum.density_matrix import DensityMatrixSimulator
from qcalo.quantum.hardware import (
    BackendSpec,
    parse_backend_spec,
    resolve_backend,
    run_on_backend,
)
from qcalo.quantum.noise import fake_backend, noise_profile, profile_for_backend

FAMILY_ALPHA = 2 * stats.norm.sf(3.0)  # "3σ" for the whole family of estimates


def _sidak_sigmas(n_tests: int) -> float:
    """Per-estimate bound (in σ) whose family-wise error equals one two-sided 3σ test."""
    per_test = 1 - (1 - FAMILY_ALPHA) ** (1 / n_tests)
    return float(stats.norm.isf(per_test / 2))


def _chi2_pvalue(estimate: np.ndarray, exact: np.ndarray, shots: int) -> float:
    """p-value of Σ ((ẑ − z)/σ)² with σ² = (1 − z²)/shots (independent estimates)."""
    var = np.clip(1 - exact**2, 1e-12, None) / shots
    return float(stats.chi2.sf(((estimate - exact) ** 2 / var).sum(), exact.size))


# -- specs ----------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("fake:fez", BackendSpec("fake", "fake_fez")),
        (" FAKE:Fake_Torino ", BackendSpec("fake", "fake_torino")),
        ("ibm:fez", BackendSpec("ibm", "ibm_fez")),
        ("ibm:ibm_torino", BackendSpec("ibm", "ibm_torino")),
    ],
)
def test_spec_parsing(text: str, expected: BackendSpec) -> None:
    assert parse_backend_spec(text) == expected
    assert str(parse_backend_spec(text)) == f"{expected.kind}:{expected.name}"


@pytest.mark.parametrize(
    ("text", "names"),
    [("fez", "fake:<name>"), ("aws:fez", "ibm:<name>"), ("fake:", "fake:fez"), ("ibm: ", "ibm:")],
)
def test_bad_spec_is_one_line(text: str, names: str) -> None:
    with pytest.raises(ConfigError) as info:
        parse_backend_spec(text)
    assert "\n" not in str(info.value) and names in str(info.value)


def test_unknown_fake_device_lists_valid_names() -> None:
    with pytest.raises(ConfigError) as info:
        parse_backend_spec("fake:nosuchdevice")
    message = str(info.value)
    assert "\n" not in message and "nosuchdevice" in message and "fez" in message


@pytest.fixture
def no_ibm_account(tmp_path, monkeypatch):
    """No saved account, no QISKIT_IBM_* variables, and no network (any connect fails)."""
    from qiskit_ibm_runtime.accounts import management

    for var in ("QISKIT_IBM_TOKEN", "QISKIT_IBM_URL", "QISKIT_IBM_INSTANCE", "QISKIT_IBM_CHANNEL"):
        monkeypatch.delenv(var, raising=False)
    empty = tmp_path / "qiskit-ibm.json"
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.setattr(management, "_DEFAULT_ACCOUNT_CONFIG_JSON_FILE", str(empty))

    def refuse(*args, **kwargs):
        raise ConnectionRefusedError("offline test: no network")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket, "getaddrinfo", refuse)
    return empty


def test_ibm_without_account_fails_in_one_line(no_ibm_account) -> None:
    for account_file in (None, str(no_ibm_account)):
        with pytest.raises(ConfigError) as info:
            resolve_backend("ibm:fez", account_file=account_file)
        message = str(info.value)
        assert "\n" not in message and "save_account" in message and "ibm:fez" in message
    circuit = build_qag_circuit(2, "hea", 1)
    with pytest.raises(ConfigError, match="save_account"):
        run_on_backend(circuit, np.zeros(circuit.n_params), np.zeros((1, 2)), "ibm:fez", shots=10)


def test_ibm_with_unusable_saved_account_fails_in_one_line(no_ibm_account) -> None:
    """A saved account the service cannot use (here: no network) → one line, no traceback."""
    from qiskit_ibm_runtime import QiskitRuntimeService

    QiskitRuntimeService.save_account(
        token="not-a-token",
        channel="ibm_quantum_platform",
        instance="crn:v1:bluemix:public:quantum-computing:us-east:a/0:0::",
        filename=str(no_ibm_account),
        set_as_default=True,
    )
    with pytest.raises(ConfigError) as info:
        resolve_backend("ibm:torino", account_file=str(no_ibm_account))
    message = str(info.value)
    assert "\n" not in message and "ibm:torino" in message and "fake:fez" in message


def test_bad_arguments_are_one_line() -> None:
    circuit = build_qag_circuit(2, "hea", 1)
    weights, inputs = np.zeros(circuit.n_params), np.zeros((3, 2))
    with pytest.raises(ConfigError, match="shots"):
        run_on_backend(circuit, weights, inputs, "fake:fez", shots=0)
    with pytest.raises(ShapeError, match="weights"):
        run_on_backend(circuit, weights[:-1], inputs, "fake:fez", shots=10)
    with pytest.raises(ShapeError, match="inputs"):
        run_on_backend(circuit, weights, np.zeros((3, 5)), "fake:fez", shots=10)
    with pytest.raises(ConfigError, match="fake_noise"):
        run_on_backend(circuit, weights, inputs, "fake:fez", shots=10, fake_noise="all")


def test_real_backend_line_search_equals_noise_profile() -> None:
    """ibm: backends get their line from the same search as qcalo's fake-device profiles."""
    backend = fake_backend("fake_fez")
    for n in (4, 8):
        assert profile_for_backend(backend, n) == noise_profile("fake_fez", n)
    assert hardware.line_profile(backend, 4) == noise_profile("fake_fez", 4)
    with pytest.raises(ConfigError, match="fewer") as info:
        profile_for_backend(fake_backend("fake_manila"), 6)  # a 5-qubit device
    assert "\n" not in str(info.value)
    circuit = build_qag_circuit(6, "hea", 1)
    with pytest.raises(ConfigError, match="fewer"):
        run_on_backend(circuit, np.zeros(circuit.n_params), np.zeros((2, 6)), "fake:manila", shots=8)


def test_circuits_without_inputs_take_batch_size() -> None:
    """Nothing per sample to bind: B i.i.d. shot sets (a Bell pair; an RY(π) weight)."""
    from qcalo.quantum.circuit import Angle, Circuit

    bell = Circuit(2).h(0).cnot(0, 1)
    result = run_on_backend(bell, np.zeros(0), None, "fake:fez", shots=400, seed=0, batch_size=3)
    assert result.counts.shape == (3, 4) and (result.counts.sum(axis=1) == 400).all()
    assert (result.counts[:, [0, 3]].sum(axis=1) > 0.9 * 400).all()  # |00⟩ + |11⟩
    flip = Circuit(2).ry(0, Angle.param(0))
    result = run_on_backend(flip, np.array([math.pi]), None, "fake:fez", shots=400, batch_size=2)
    assert result.expval_z.shape == (2, 2)
    assert (result.expval_z[:, 0] < -0.9).all() and (result.expval_z[:, 1] > 0.9).all()
    with pytest.raises(ShapeError, match="no inputs"):
        run_on_backend(flip, np.zeros(1), np.zeros((2, 1)), "fake:fez", shots=10)


# -- SamplerV2 on fake:fez vs qcalo's engine -------------------------------------------------
def test_small_circuit_matches_engine_at_x1_and_properties_readout() -> None:
    """Per-qubit ⟨Z⟩ from FakeFez's SamplerV2 agree with qcalo's exact engine at x = 1 with the
    *properties* (asymmetric) readout, within Šidák-corrected 3σ; the symmetric *target*
    readout and the noiseless circuit are rejected, so the check has power."""
    circuit = build_qag_circuit(4, "clic8", 1)
    rng = np.random.default_rng(3)
    weights = rng.uniform(-math.pi, math.pi, circuit.n_params)
    inputs = rng.normal(0.0, 0.7, (8, 4))
    shots = 40_000
    result = run_on_backend(circuit, weights, inputs, "fake:fez", shots=shots, seed=0)
    assert result.counts.shape == (8, 16) and (result.counts.sum(axis=1) == shots).all()
    assert result.physical_qubits == noise_profile("fake_fez", 4).physical_qubits
    signs = 1 - 2 * ((np.arange(16)[:, None] >> np.arange(4)) & 1)  # counts → ⟨Z_i⟩
    np.testing.assert_allclose(result.counts @ signs / shots, result.expval_z, atol=1e-12)

    def exact(**kw) -> np.ndarray:
        sim = DensityMatrixSimulator(circuit, device="fake_fez", **kw)
        return sim.expval_z(torch.tensor(weights), torch.tensor(inputs)).numpy()

    z = exact(noise_scale=1.0, readout="properties")
    sigma = np.sqrt((1 - z**2) / shots)
    assert np.abs(result.expval_z - z).max() <= _sidak_sigmas(z.size) * sigma.max()
    assert (np.abs(result.expval_z - z) <= _sidak_sigmas(z.size) * sigma).all()
    assert _chi2_pvalue(result.expval_z, z, shots) > FAMILY_ALPHA
    assert _chi2_pvalue(result.expval_z, exact(noise_scale=1.0, readout="target"), shots) < 1e-4
    assert _chi2_pvalue(result.expval_z, exact(noise_scale=0.0), shots) < 1e-4

    again = run_on_backend(circuit, weights, inputs, "fake:fez", shots=shots, seed=0)
    other = run_on_backend(circuit, weights, inputs, "fake:fez", shots=shots, seed=1)
    np.testing.assert_array_equal(again.counts, result.counts)
    assert not np.array_equal(other.counts, result.counts)


def test_ibm_path_end_to_end_on_a_stand_in_backend(monkeypatch) -> None:
    """``ibm:`` with the service's backend replaced by FakeFez under a real device's name: the
    line comes from the backend's own calibration, one sampler call, a job id comes back,
    and the ⟨Z⟩ estimates agree with qcalo's engine at x = 1."""
    line = noise_profile("fake_fez", 3).physical_qubits
    stand_in = hardware._line_backend.__wrapped__("fake_fez", line)  # fresh, not the cached one
    stand_in.name = "ibm_fez"
    asked = []

    def service_backend(name, account_file):
        asked.append((name, account_file))
        return stand_in

    monkeypatch.setattr(hardware, "_ibm_backend", service_backend)
    seeded = hardware._sampler  # hardware takes no seed; the stand-in's simulator does
    monkeypatch.setattr(hardware, "_sampler", lambda backend, seed: seeded(backend, 5))
    circuit = build_qag_circuit(3, "clic8", 1)
    rng = np.random.default_rng(8)
    weights = rng.uniform(-math.pi, math.pi, circuit.n_params)
    inputs = rng.normal(0.0, 0.7, (4, 3))
    result = run_on_backend(circuit, weights, inputs, "ibm:fez", shots=20_000, account_file="a.json")
    assert asked == [("ibm_fez", "a.json")]
    assert result.backend == "ibm:ibm_fez" and isinstance(result.job_id, str)
    assert result.physical_qubits == line
    sim = DensityMatrixSimulator(circuit, device="fake_fez", noise_scale=1.0)
    z = sim.expval_z(torch.tensor(weights), torch.tensor(inputs)).numpy()
    sigma = np.sqrt((1 - z**2) / 20_000)
    assert (np.abs(result.expval_z - z) <= _sidak_sigmas(z.size) * sigma).all()


@pytest.mark.slow
def test_line_noise_model_gives_the_same_shots_as_the_whole_device() -> None:
    """The fast default (FakeFez's own model restricted to the line) changes nothing."""
    circuit = build_qag_circuit(3, "clic8", 1)
    rng = np.random.default_rng(5)
    weights = rng.uniform(-math.pi, math.pi, circuit.n_params)
    inputs = rng.normal(0.0, 0.7, (3, 3))
    line = run_on_backend(circuit, weights, inputs, "fake:fez", shots=500, seed=4)
    whole = run_on_backend(
        circuit, weights, inputs, "fake:fez", shots=500, seed=4, fake_noise="device"
    )
    np.testing.assert_array_equal(line.counts, whole.counts)


def test_qag_pixels_through_fake_fez_match_engine(monkeypatch) -> None:
    """An 8-qubit QAG batch through FakeFez's SamplerV2 (ONE call, one PUB with a [B, P]
    parameter array) decodes to the same pixels as qcalo's engine at x = 1."""
    from qiskit_ibm_runtime import SamplerV2

    qag = QAG(8, "clic8", shots=2048, dtype=torch.complex128)
    weights = np.random.default_rng(11).uniform(-math.pi, math.pi, qag.n_params)
    angles = qag.random_angles(50, torch.Generator().manual_seed(0)).numpy()
    calls = []
    original = SamplerV2.run

    def counting_run(self, pubs, *args, **kwargs):
        calls.append([np.shape(pub[1]) for pub in pubs])
        return original(self, pubs, *args, **kwargs)

    monkeypatch.setattr(SamplerV2, "run", counting_run)
    result = run_on_backend(qag.circuit, weights, angles, "fake:fez", shots=qag.shots, seed=2)
    n_circuit_parameters = qag.n_params + qag.n_pixels
    assert calls == [[(50, n_circuit_parameters)]]

    codec = PixelCodec(tuple(np.linspace(0.02, 0.4, 8)))
    engine = DensityMatrixSimulator(qag.circuit, device="fake_fez", noise_scale=1.0)
    z = engine.expval_z(torch.tensor(weights), torch.tensor(angles)).numpy()
    pixels_fake, pixels_engine = codec.decode(result.expval_z), codec.decode(z)
    # Same angles: each pixel differs by shot noise only, σ_E = scale/2 · σ_z.
    sigma = np.asarray(codec.scale) / 2 * np.sqrt((1 - z**2) / qag.shots)
    assert (np.abs(pixels_fake - pixels_engine) <= _sidak_sigmas(z.size) * sigma).all()
    assert _chi2_pvalue(result.expval_z, z, qag.shots) > FAMILY_ALPHA
    noiseless = DensityMatrixSimulator(qag.circuit, device="fake_fez", noise_scale=0.0)
    z0 = noiseless.expval_z(torch.tensor(weights), torch.tensor(angles)).numpy()
    assert _chi2_pvalue(result.expval_z, z0, qag.shots) < 1e-4  # the check has power

    # Distributions: the engine's own shot-sampled pixels for 1000 fresh images, KS per pixel
    # (per-qubit marginal sampling has the same per-pixel distribution as joint, and is cheap).
    fresh = qag.random_angles(1000, torch.Generator().manual_seed(1))
    z_engine = engine.expval_z(
        torch.tensor(weights), fresh, shots=qag.shots, sampling="marginal",
        generator=torch.Generator().manual_seed(3),
    ).numpy()
    reference = codec.decode(z_engine)
    per_pixel_alpha = 1 - (1 - FAMILY_ALPHA) ** (1 / 8)
    for i in range(8):
        assert stats.ks_2samp(pixels_fake[:, i], reference[:, i]).pvalue > per_pixel_alpha
