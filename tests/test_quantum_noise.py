"""Noise profiles: the best line, the scale x, transpilation, and equality with Aer's model."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest

from qcalo.exceptions import CircuitError, ConfigError
from qcalo.models.qag import build_qag_circuit
from qcalo.quantum.noise import check_scale, fake_backend, noise_profile, scaled_readout
from qcalo.quantum.noise_channels import (
    gate_noise_ptm,
    pauli_transfer_matrix,
    scaled_aer_noise_model,
)
from qcalo.quantum.noise_transpile import _affine, transpile_to_line

pytest.importorskip("qiskit_aer")
pytest.importorskip("qiskit_ibm_runtime")


def _swap_pair(ptm: np.ndarray) -> np.ndarray:
    return ptm.reshape(4, 4, 4, 4).transpose(1, 0, 3, 2).reshape(16, 16)


def _aer_error_ptms(
    model: object, qubits: set[int] | None = None
) -> dict[tuple[str, tuple[int, ...]], np.ndarray]:
    """(gate, qubits) → PTM of Aer's error, most significant Pauli on qubits[0] (as qcalo's).

    ``qubits``: only errors on these qubits (converting a 156-qubit model takes a minute).
    """
    from qiskit.quantum_info import Kraus
    from qiskit_aer.noise import QuantumError

    out = {}
    for entry in model.to_dict()["errors"]:
        if entry["type"] != "qerror":
            continue
        wanted = [tuple(q) for q in entry["gate_qubits"] if qubits is None or set(q) <= qubits]
        if not wanted:
            continue
        kraus = np.array(Kraus(QuantumError.from_dict(entry).to_quantumchannel()).data)
        ptm = pauli_transfer_matrix(kraus)  # Qiskit's last qubit is the most significant
        for name in entry["operations"]:
            for gate_qubits in wanted:
                out[(name, gate_qubits)] = ptm if len(gate_qubits) == 1 else _swap_pair(ptm)
    return out


def test_best_fez_line_is_connected_working_and_the_known_one() -> None:
    profile = noise_profile("fake_fez", 8)
    target = fake_backend("fake_fez").target
    line = profile.physical_qubits
    # The line found by summed (cz + sx + readout) error in the project's notes.
    assert set(line) == {141, 142, 143, 136, 123, 124, 125, 126}
    for a, b in itertools.pairwise(line):
        errors = [target["cz"][q].error for q in ((a, b), (b, a)) if q in target["cz"]]
        assert errors and max(errors) < 1.0
    longer = noise_profile("fake_fez", 16)
    for a, b in itertools.pairwise(longer.physical_qubits):
        assert max(target["cz"][q].error for q in ((a, b), (b, a)) if q in target["cz"]) < 1.0
    broken = [q for q, p in target["cz"].items() if p.error >= 1.0]
    assert broken, "FakeFez is known to report broken couplers; the avoidance check needs one"


def test_readout_is_asymmetric_from_properties_and_symmetric_from_target() -> None:
    asym, sym = noise_profile("fake_fez", 4), noise_profile("fake_fez", 4, "target")
    props = fake_backend("fake_fez").properties()
    q = asym.physical_qubits[1]
    assert asym.readout_p1_given_0[1] == props.qubit_property(q)["prob_meas1_prep0"][0]
    assert asym.readout_p0_given_1[1] == props.qubit_property(q)["prob_meas0_prep1"][0]
    assert any(a != b for a, b in zip(asym.readout_p1_given_0, asym.readout_p0_given_1))
    assert sym.readout_p1_given_0 == sym.readout_p0_given_1


def test_x1_target_readout_equals_aer_from_backend_on_the_line() -> None:
    from qiskit_aer.noise import NoiseModel

    from qcalo.quantum.noise_aer import readout_matrices

    profile = noise_profile("fake_fez", 4, "target")
    ours = _aer_error_ptms(scaled_aer_noise_model(profile, 1.0))
    full_model = NoiseModel.from_backend(fake_backend("fake_fez"))
    line = profile.physical_qubits
    device = _aer_error_ptms(full_model, set(line))
    compared = 0
    for name, qargs, *_ in profile.gates:
        physical = tuple(line[q] for q in qargs)
        if (name, physical) in device:
            np.testing.assert_allclose(ours[(name, qargs)], device[(name, physical)], atol=1e-12)
            compared += 1
        else:
            assert (name, qargs) not in ours
    assert compared >= 3 * 4 + 2 * 3  # sx, x, id on every qubit and cz both ways on each coupler
    full_readout = readout_matrices(full_model, 156)
    for q, matrix in enumerate(readout_matrices(scaled_aer_noise_model(profile, 1.0), 4)):
        np.testing.assert_allclose(matrix, full_readout[line[q]], atol=1e-15)


@pytest.mark.parametrize("x", [0.0, 0.5, 1.0, 2.0, 300.0])
def test_qcalo_gate_channels_equal_aers_at_every_scale(x: float) -> None:
    profile = noise_profile("fake_fez", 3)
    aer = _aer_error_ptms(scaled_aer_noise_model(profile, x))
    for name, qargs, *_ in profile.gates:
        ours = gate_noise_ptm(profile, name, qargs, x)
        if ours is None:
            assert (name, qargs) not in aer or np.allclose(
                aer[(name, qargs)], np.eye(4 ** len(qargs))
            )
        else:
            np.testing.assert_allclose(ours, aer[(name, qargs)], atol=1e-12)
    if x == 0:
        assert all(
            gate_noise_ptm(profile, name, qargs, 0.0) is None for name, qargs, *_ in profile.gates
        )


def test_scale_x_definition() -> None:
    profile = noise_profile("fake_fez", 2)
    p1, _ = scaled_readout(profile, 2.0)
    assert p1 == [min(0.5, 2 * p) for p in profile.readout_p1_given_0]
    assert scaled_readout(profile, 1e6) == ([0.5, 0.5], [0.5, 0.5])  # capped
    assert scaled_readout(profile, 0.0) == ([0.0, 0.0], [0.0, 0.0])
    target = profile.target(2.0)
    assert math.isclose(target.qubit_properties[0].t1, profile.t1[0] / 2)
    assert math.isclose(target.qubit_properties[0].t2, min(profile.t2[0], 2 * profile.t1[0]) / 2)
    name, qargs, error, _ = next(g for g in profile.gates if g[0] == "cz")
    assert math.isclose(target[name][qargs].error, 2 * error)
    assert profile.target(1e6)[name][qargs].error == pytest.approx(
        4 / 5
    )  # the physical cap d/(d+1)


@pytest.mark.parametrize("bad", [-0.5, math.nan, math.inf, "1", True])
def test_bad_scale_is_one_line(bad: object) -> None:
    with pytest.raises(ConfigError) as err:
        check_scale(bad)
    assert "\n" not in str(err.value) and "noise scale x" in str(err.value)


def test_bad_device_and_too_many_qubits_are_one_line() -> None:
    with pytest.raises(ConfigError) as err:
        noise_profile("fake_nowhere", 4)
    assert "\n" not in str(err.value) and "fake_fez" in str(err.value)
    with pytest.raises(ConfigError) as err:
        noise_profile("fake_nairobi", 6)  # 7 qubits in an H: its longest line has 5
    assert "\n" not in str(err.value) and "no connected line of 6" in str(err.value)
    with pytest.raises(ConfigError):
        noise_profile("fake_fez", 0)
    with pytest.raises(ConfigError):
        noise_profile("fake_fez", 25)  # more than any qcalo circuit
    with pytest.raises(ConfigError) as err:
        noise_profile("fake_armonk", 2)
    assert "\n" not in str(err.value) and "1 qubits" in str(err.value)
    with pytest.raises(ConfigError):
        noise_profile("fake_fez", 4, "both")


def test_transpile_is_cached_native_and_keeps_angles_affine() -> None:
    profile = noise_profile("fake_fez", 8)
    circuit = build_qag_circuit(8, "clic8", 3)
    native = transpile_to_line(circuit, profile)
    assert transpile_to_line(build_qag_circuit(8, "clic8", 3), profile) is native
    assert set(native.count_ops()) <= {"rz", "sx", "x", "cz"}
    assert native.count_ops()["cz"] == 84  # 3 layers × 7 couplers × 2 directions × 2 CNOTs
    assert sorted(native.measured_positions) == list(range(8))
    assert native.angle_weights.shape == (len(native.angle_offset), circuit.n_params)
    assert np.all(np.abs(native.angle_inputs).sum(axis=0) > 0)  # every input reaches a native angle
    with pytest.raises(CircuitError):
        transpile_to_line(build_qag_circuit(4, "clic8", 1), profile)
    with pytest.raises(CircuitError) as err:  # a u1/u2/u3 device: angles outside rz
        transpile_to_line(build_qag_circuit(2, "clic8", 1), noise_profile("fake_almaden", 2))
    assert "\n" not in str(err.value) and "rz" in str(err.value)


def test_non_affine_angle_is_refused_in_one_line() -> None:
    from qiskit.circuit import ParameterVector

    w = ParameterVector("w", 2)
    symbols = {w[0]: ("w", 0), w[1]: ("w", 1)}
    offset, row, _ = _affine(2 * w[0] - w[1] + 0.5, symbols, 2, 0)
    assert offset == 0.5 and row.tolist() == [2.0, -1.0]
    with pytest.raises(CircuitError) as err:
        _affine(w[0] * w[1], symbols, 2, 0)
    assert "\n" not in str(err.value) and "not affine" in str(err.value)


def test_noise_bench_runs_on_a_small_workload(monkeypatch: pytest.MonkeyPatch) -> None:
    """The benchmark's plumbing on 3 qubits (speed targets live in the benchmark, not here)."""
    import qcalo.bench.noise as bench

    monkeypatch.setattr(bench, "NOISE_QUBITS", 3)
    monkeypatch.setattr(bench, "NOISE_BATCH", 4)
    monkeypatch.setattr(bench, "EPOCH_IMAGES", 8)
    monkeypatch.setattr(bench, "LAYERS", 1)
    result = bench.run_noise_bench(repeats=1)
    assert result["checks"]["max_abs_diff_vs_aer_float64"] < 1e-6
    assert result["checks"]["max_abs_diff_vs_aer_float32"] < 1e-4
    for key in (
        "noisy_qag_speedup_vs_aer",
        "noisy_over_noiseless_epoch",
        "noisy_over_noiseless_epoch_joint",
        "light_cone_speedup",
    ):
        assert math.isfinite(result[key]) and result[key] > 0
    assert result["workload"]["native_gates"]["cz"] == 8  # 1 layer × 2 couplers × 2 directions × 2
    assert "speed-up" in bench.format_noise_bench(result)
    with pytest.raises(ConfigError):
        bench.run_noise_bench(repeats=0)
