"""The noisy engine against Qiskit Aer's density matrix with the same scaled noise model."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from qcalo.exceptions import CircuitError, ConfigError, ShapeError
from qcalo.models.qag import build_qag_circuit
from qcalo.quantum.circuit import Angle, Circuit
from qcalo.quantum.density_matrix import DensityMatrixSimulator
from qcalo.quantum.simulator import StatevectorSimulator
from tests.conftest import make_random_circuit

pytest.importorskip("qiskit_aer")
from qcalo.quantum.noise_aer import AerNoisyRunner

TOL = 1e-6
SCALES = (0.0, 0.5, 1.0, 2.0)


def _weights_inputs(circuit: Circuit, batch: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    return rng.normal(0, 1.0, circuit.n_params), rng.normal(
        0, math.sqrt(0.5), (batch, circuit.n_inputs)
    )


def _qcalo_and_aer(circuit: Circuit, x: float, batch: int, seed: int, **options: object) -> tuple:
    sim = DensityMatrixSimulator(circuit, noise_scale=x, **options)
    weights, inputs = _weights_inputs(circuit, batch, seed)
    aer = AerNoisyRunner(sim.native, x).probabilities(weights, inputs, readout=sim.readout_error)
    return sim, torch.tensor(weights), torch.tensor(inputs), aer


@pytest.mark.parametrize("x", SCALES)
@pytest.mark.parametrize(
    ("n_qubits", "ansatz", "layers"), [(3, "clic8", 1), (4, "hea", 2), (4, "mera-up", 1)]
)
def test_small_qag_circuits_equal_aer(x: float, n_qubits: int, ansatz: str, layers: int) -> None:
    circuit = build_qag_circuit(n_qubits, ansatz, layers)
    sim, weights, inputs, aer = _qcalo_and_aer(circuit, x, batch=6, seed=n_qubits + int(10 * x))
    assert sim.heisenberg
    probs = sim.probabilities(weights, inputs).numpy()
    np.testing.assert_allclose(probs, aer, atol=TOL)
    aer_z = aer @ sim.z_signs.numpy()
    np.testing.assert_allclose(sim.expval_z(weights, inputs).numpy(), aer_z, atol=TOL)  # Heisenberg
    np.testing.assert_allclose(
        sim.expval_z(weights, inputs[:2]).numpy(), aer_z[:2], atol=TOL
    )  # forward


@pytest.mark.parametrize("x", SCALES)
def test_eight_qubit_qag_equals_aer(x: float) -> None:
    circuit = build_qag_circuit(8, "clic8", 2)
    sim, weights, inputs, aer = _qcalo_and_aer(circuit, x, batch=8, seed=8)
    np.testing.assert_allclose(
        sim.expval_z(weights, inputs).numpy(), aer @ sim.z_signs.numpy(), atol=TOL
    )
    if x == 1.0:
        np.testing.assert_allclose(sim.probabilities(weights, inputs).numpy(), aer, atol=TOL)


def test_random_circuit_with_routing_and_late_inputs_equals_aer() -> None:
    circuit = make_random_circuit(np.random.default_rng(5), 4, 30)
    sim, weights, inputs, aer = _qcalo_and_aer(circuit, 1.5, batch=5, seed=1, readout="target")
    assert circuit.n_inputs > 0
    np.testing.assert_allclose(sim.probabilities(weights, inputs).numpy(), aer, atol=TOL)
    np.testing.assert_allclose(
        sim.expval_z(weights, inputs).numpy(), aer @ sim.z_signs.numpy(), atol=TOL
    )


def test_input_after_entangler_falls_back_to_forward_and_still_equals_aer() -> None:
    circuit = (
        Circuit(3)
        .ry(0, Angle.input(0))
        .cnot(0, 1)
        .rx(1, Angle.input(1))
        .cnot(1, 2)
        .ry(2, Angle.param(0))
    )
    sim, weights, inputs, aer = _qcalo_and_aer(circuit, 2.0, batch=5, seed=2, readout_error=False)
    assert not sim.heisenberg
    np.testing.assert_allclose(
        sim.expval_z(weights, inputs).numpy(), aer @ sim.z_signs.numpy(), atol=TOL
    )


def test_single_qubit_circuit_equals_aer() -> None:
    circuit = Circuit(1).ry(0, Angle.input(0)).rx(0, Angle.param(0)).h(0).rz(0, Angle.param(1))
    sim, weights, inputs, aer = _qcalo_and_aer(circuit, 2.0, batch=3, seed=6)
    assert not sim.plan.blocks and sim.plan.lone_finals
    np.testing.assert_allclose(sim.probabilities(weights, inputs).numpy(), aer, atol=TOL)
    np.testing.assert_allclose(
        sim.expval_z(weights, inputs).numpy(), aer @ sim.z_signs.numpy(), atol=TOL
    )


def test_noiseless_scale_equals_the_statevector_simulator() -> None:
    circuit = build_qag_circuit(5, "clic8", 2)
    weights, inputs = (torch.tensor(a) for a in _weights_inputs(circuit, 7, 3))
    ideal = StatevectorSimulator(circuit, backend="torch")
    noisy = DensityMatrixSimulator(circuit, noise_scale=0.0)
    np.testing.assert_allclose(
        noisy.expval_z(weights, inputs), ideal.expval_z(weights, inputs), atol=1e-12
    )
    np.testing.assert_allclose(
        noisy.probabilities(weights, inputs), ideal.probabilities(weights, inputs), atol=1e-12
    )
    # and noise is not a no-op: x = 1 moves ⟨Z⟩ by about the notes' 0.026 on average
    shift = (
        DensityMatrixSimulator(circuit, noise_scale=1.0).expval_z(weights, inputs)
        - ideal.expval_z(weights, inputs)
    ).abs()
    assert 1e-3 < float(shift.mean()) < 0.2


def _three_sigma_family(m: int) -> float:
    """Bound on the largest of ``m`` standardized deviations at the 3σ level for the family
    (Šidák: each at ``1 − (1 − 0.0027)^(1/m)`` two-sided), so a test of many estimates keeps
    the 0.27 % false-alarm rate of one 3σ check."""
    from scipy.stats import norm

    return float(norm.isf((1 - (1 - 0.0027) ** (1 / m)) / 2))


def test_shots_agree_with_aer_counts_within_three_sigma() -> None:
    """Aer applies the readout error to each shot itself: an independent check of readout."""
    circuit = build_qag_circuit(4, "clic8", 1)
    x, shots = 2.0, 40_000
    sim = DensityMatrixSimulator(circuit, noise_scale=x)
    weights, inputs = _weights_inputs(circuit, 4, seed=11)
    counts = AerNoisyRunner(sim.native, x).counts(weights, inputs, shots=shots, seed=7)
    aer_z = counts @ sim.z_signs.numpy() / shots
    exact = sim.expval_z(torch.tensor(weights), torch.tensor(inputs)).numpy()
    bound = _three_sigma_family(exact.size) * np.sqrt((1 - exact**2) / shots)
    assert np.all(np.abs(aer_z - exact) < bound)
    # the check has power: ignoring the readout error is rejected
    ideal_readout = DensityMatrixSimulator(circuit, noise_scale=x, readout_error=False)
    no_readout = ideal_readout.expval_z(torch.tensor(weights), torch.tensor(inputs)).numpy()
    assert np.any(np.abs(aer_z - no_readout) > bound)
    for sampling in ("joint", "marginal"):
        generator = torch.Generator().manual_seed(3)
        z = sim.expval_z(
            torch.tensor(weights),
            torch.tensor(inputs),
            shots=shots,
            generator=generator,
            sampling=sampling,
        )
        assert np.all(np.abs(z.numpy() - exact) < bound)
        again = sim.expval_z(
            torch.tensor(weights),
            torch.tensor(inputs),
            shots=shots,
            generator=torch.Generator().manual_seed(3),
            sampling=sampling,
        )
        assert torch.equal(z, again)
        probs = sim.probabilities(torch.tensor(weights), torch.tensor(inputs))
        from_probs = sim.expval_from_probabilities(
            probs, shots=shots, generator=torch.Generator().manual_seed(3), sampling=sampling
        )
        assert np.all(np.abs(from_probs.numpy() - exact) < bound)


@pytest.mark.parametrize("batch", [2, 6])  # 2 < n: forward pass; 6 ≥ n: Heisenberg pass
def test_gradients_match_finite_differences(batch: int) -> None:
    circuit = build_qag_circuit(3, "clic8", 1)
    sim = DensityMatrixSimulator(circuit, noise_scale=1.0)
    w0, x0 = (torch.tensor(a) for a in _weights_inputs(circuit, batch, 4))
    probe = torch.linspace(-1, 1, batch * 3, dtype=torch.float64).reshape(batch, 3)

    def loss(w: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        return (sim.expval_z(w, x) * probe).sum() + sim.probabilities(w, x)[:, 1].sum()

    w, x = w0.clone().requires_grad_(), x0.clone().requires_grad_()
    loss(w, x).backward()
    eps = 1e-6
    for grad, base, other, first in ((w.grad, w0, x0, True), (x.grad, x0, w0, False)):
        flat = base.reshape(-1)
        for k in range(flat.numel()):
            step = torch.zeros_like(flat)
            step[k] = eps
            plus, minus = (flat + step).reshape(base.shape), (flat - step).reshape(base.shape)
            args = ((plus, other), (minus, other)) if first else ((other, plus), (other, minus))
            numeric = (loss(*args[0]) - loss(*args[1])) / (2 * eps)
            assert abs(float(grad.reshape(-1)[k]) - float(numeric)) < 1e-6


def test_float32_is_close_to_float64() -> None:
    circuit = build_qag_circuit(4, "clic8", 1)
    weights, inputs = (torch.tensor(a) for a in _weights_inputs(circuit, 6, 5))
    exact = DensityMatrixSimulator(circuit, noise_scale=1.0).expval_z(weights, inputs)
    fast = DensityMatrixSimulator(circuit, noise_scale=1.0, dtype=torch.complex64)
    assert fast.real_dtype == torch.float32
    np.testing.assert_allclose(fast.expval_z(weights, inputs).double(), exact, atol=1e-5)


def test_bad_inputs_are_one_line() -> None:
    circuit = build_qag_circuit(2, "hea", 1)
    sim = DensityMatrixSimulator(circuit, noise_scale=0.5)
    weights, inputs = torch.zeros(circuit.n_params), torch.zeros(3, 2)
    cases = [
        (ShapeError, lambda: sim.expval_z(torch.zeros(1), inputs)),
        (ShapeError, lambda: sim.expval_z(weights, torch.zeros(3, 5))),
        (ShapeError, lambda: sim.probabilities(weights, None)),
        (CircuitError, lambda: sim.expval_z(torch.full((circuit.n_params,), math.nan), inputs)),
        (CircuitError, lambda: sim.expval_z(weights, inputs.fill_(math.inf))),
        (CircuitError, lambda: sim.expval_z(weights, torch.zeros(3, 2), shots=0)),
        (CircuitError, lambda: sim.expval_z(weights, torch.zeros(3, 2), sampling="both")),
        (CircuitError, lambda: DensityMatrixSimulator(circuit, dtype=torch.int32)),
        (ConfigError, lambda: DensityMatrixSimulator(circuit, noise_scale=-1.0)),
        (ConfigError, lambda: DensityMatrixSimulator(circuit, noise_scale=math.nan)),
        (ConfigError, lambda: DensityMatrixSimulator(circuit, device="fake_nowhere")),
        (
            ConfigError,
            lambda: DensityMatrixSimulator(
                build_qag_circuit(6, "hea", 1), device="fake_manila"
            ),  # 5 qubits
        ),
    ]
    for error, call in cases:
        with pytest.raises(error) as err:
            call()
        assert "\n" not in str(err.value)


def _inputs_first_circuit(n: int, n_ops: int, rng: np.random.Generator) -> Circuit:
    """Inputs on every wire first (a Heisenberg-pass circuit), then random entanglers between
    any two wires (routed on the line) and weight rotations, and a qubit left alone at the end."""
    circuit = Circuit(n)
    for wire in range(n):
        circuit.ry(wire, Angle.input(wire))
    k = 0
    for _ in range(n_ops):
        a, b = (int(v) for v in rng.choice(n - 1, 2, replace=False))  # wire n-1 stays untouched
        getattr(circuit, str(rng.choice(["cnot", "cz", "swap"])))(a, b)
        getattr(circuit, str(rng.choice(["rx", "ry", "rz"])))(
            int(rng.integers(n)), Angle.param(k, 1.3)
        )
        k += 1
    return circuit.rz(n - 1, Angle.param(k)).h(0)


@pytest.mark.parametrize("seed", range(4))
def test_light_cone_pass_equals_the_full_heisenberg_pass(seed: int) -> None:
    """Values and weight gradients of the light-cone pass equal those of carrying all 4^n
    coefficients (random entanglers anywhere, routing, lone final single-qubit gates)."""
    circuit = _inputs_first_circuit(5, 6 + 2 * seed, np.random.default_rng(100 + seed))
    sim = DensityMatrixSimulator(circuit, noise_scale=1.0)
    assert sim.heisenberg and sim.plan.lone_finals
    weights, inputs = _weights_inputs(circuit, 7, seed)
    results = []
    for light_cone in (True, False):
        sim.light_cone = light_cone
        w = torch.tensor(weights, requires_grad=True)
        z = sim.expval_z(w, torch.tensor(inputs))
        (z * torch.linspace(-1, 1, z.numel()).reshape(z.shape)).sum().backward()
        results.append((z.detach().numpy(), w.grad.numpy()))
    np.testing.assert_allclose(results[0][0], results[1][0], atol=1e-12)
    np.testing.assert_allclose(results[0][1], results[1][1], atol=1e-12)


@pytest.mark.parametrize("two_inputs_on_one_wire", [False, True])
def test_factored_prefix_and_its_fallback_equal_aer(two_inputs_on_one_wire: bool) -> None:
    """A wire without input and (or not) a wire with two input angles: the factored prefix
    (≤ 1 input per wire) and the plain per-sample vectors (otherwise) both equal Aer."""
    circuit = Circuit(3).ry(0, Angle.input(0)).rx(1, Angle.param(0))
    if two_inputs_on_one_wire:
        circuit.rz(0, Angle.input(1))
    circuit.cnot(0, 1).cz(1, 2).ry(2, Angle.param(1)).cnot(2, 0).rx(0, Angle.param(2))
    sim, weights, inputs, aer = _qcalo_and_aer(circuit, 1.0, batch=6, seed=3)
    assert sim.heisenberg and sim._prefix.factorable is not two_inputs_on_one_wire
    np.testing.assert_allclose(sim.expval_z(weights, inputs).numpy(), aer @ sim.z_signs.numpy(), atol=TOL)
