"""StatevectorSimulator gradients (autograd vs the parameter-shift rule) and bit-identical reruns."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from qcalo.quantum.circuit import Angle, AngleSource, Circuit, Op
from qcalo.quantum.simulator import StatevectorSimulator
from qcalo.quantum.workloads import hybrid_workload, qag_workload

BATCH = 3
BACKENDS = ("torch", "native")  # both checked against the same oracles

pytestmark = pytest.mark.usefixtures("torch_single_thread")


def describe(circuit: Circuit) -> str:
    """One line per gate, for failure messages."""
    return repr(circuit) + "\n" + "\n".join(f"  {op.gate.value} {op.wires} {op.angle}" for op in circuit.ops)


def random_arguments(
    rng: np.random.Generator, circuit: Circuit, batch: int = BATCH
) -> tuple[np.ndarray, np.ndarray | None]:
    """Weights ~ U(−π, π) and inputs ~ N(0, 1.5) (``None`` when the circuit reads no inputs)."""
    weights = rng.uniform(-math.pi, math.pi, circuit.n_params)
    inputs = rng.normal(0.0, 1.5, (batch, circuit.n_inputs)) if circuit.n_inputs else None
    return weights, inputs


# -- 4. reproducibility ------------------------------------------------------------------
@pytest.mark.parametrize("dtype", [torch.complex128, torch.complex64])
def test_fresh_simulators_are_bit_identical(dtype) -> None:
    """Two fresh simulators of one circuit give identical exact and seeded shot results."""
    circuit = hybrid_workload(10, n_blocks=2)
    weights = torch.rand(circuit.n_params, generator=torch.Generator().manual_seed(0)) * 6
    inputs = torch.randn(64, 10, generator=torch.Generator().manual_seed(1))
    outputs = []
    for _ in range(2):
        sim = StatevectorSimulator(circuit, dtype=dtype)
        outputs.append(
            (
                sim.state(weights, inputs),
                sim.expval_z(weights, inputs),
                sim.expval_z(
                    weights, inputs, shots=2048, generator=torch.Generator().manual_seed(5)
                ),
                sim.expval_z(
                    weights,
                    inputs,
                    shots=2048,
                    generator=torch.Generator().manual_seed(5),
                    sampling="marginal",
                ),
            )
        )
    for first, second in zip(*outputs, strict=True):
        assert torch.equal(first, second)


# -- 3. gradients ------------------------------------------------------------------------
def untied(circuit: Circuit, op_index: int) -> Circuit:
    """``circuit`` with gate ``op_index`` reading a new weight/input of its own (same scale)."""
    op = circuit.ops[op_index]
    if op.angle.source is AngleSource.PARAM:
        angle = Angle.param(circuit.n_params, op.angle.scale)
    else:
        angle = Angle.input(circuit.n_inputs, op.angle.scale)
    ops = list(circuit.ops)
    ops[op_index] = Op(op.gate, op.wires, angle)
    return Circuit(circuit.n_qubits, ops)


def parameter_shift_gradients(
    circuit: Circuit, weights: torch.Tensor, inputs: torch.Tensor, coefficients: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor]:
    """d/dweights of Σ_b Σ_i c_i ⟨Z_i⟩_b and d/dinputs per row, by the shift rule.

    Each gate is shifted on its own (θ_g ± π/2 via an untied copy of its source), so a source
    read by several gates collects Σ_g scale_g · (L(θ_g + π/2) − L(θ_g − π/2)) / 2.
    """
    grad_w, grad_x = torch.zeros_like(weights), torch.zeros_like(inputs)
    for index, op in enumerate(circuit.ops):
        if op.angle is None or op.angle.source is AngleSource.CONST:
            continue
        sim = StatevectorSimulator(untied(circuit, index))
        angle = op.angle
        shift = math.pi / 2 / angle.scale  # moves θ_g = scale · value by π/2
        if angle.source is AngleSource.PARAM:
            losses = [
                (
                    sim.expval_z(
                        torch.cat([weights, weights[angle.index : angle.index + 1] + sign * shift]),
                        inputs,
                    )
                    @ coefficients
                ).sum()
                for sign in (1, -1)
            ]
            grad_w[angle.index] += angle.scale * (losses[0] - losses[1]) / 2
        else:
            shifted = [
                torch.cat([inputs, inputs[:, angle.index : angle.index + 1] + sign * shift], dim=1)
                for sign in (1, -1)
            ]
            losses = [sim.expval_z(weights, x) @ coefficients for x in shifted]
            grad_x[:, angle.index] += angle.scale * (losses[0] - losses[1]) / 2
    return grad_w, grad_x


def autograd_gradients(
    circuit: Circuit,
    weights: torch.Tensor,
    inputs: torch.Tensor,
    coefficients: torch.Tensor,
    dtype: torch.dtype = torch.complex128,
    backend: str = "auto",
) -> tuple[torch.Tensor, torch.Tensor]:
    """The same two gradients as :func:`parameter_shift_gradients`, by backpropagation."""
    weights = weights.clone().requires_grad_(True)
    inputs = inputs.clone().requires_grad_(True)
    loss = (
        StatevectorSimulator(circuit, dtype=dtype, backend=backend).expval_z(weights, inputs)
        @ coefficients.to(weights.dtype)
    ).sum()
    loss.backward()
    return weights.grad, inputs.grad


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("reuse", [False, True], ids=["each-source-once", "shared-sources"])
@pytest.mark.parametrize("seed", range(6))
def test_autograd_matches_parameter_shift(seed, reuse, backend, random_circuit) -> None:
    """Autograd gradients w.r.t. weights and inputs equal the parameter-shift rule to 1e-6."""
    rng = np.random.default_rng(100 + seed)
    n_qubits = 1 + seed
    circuit = random_circuit(rng, n_qubits, 3 * n_qubits + 6, reuse=reuse)
    circuit = with_input(circuit)
    weights, inputs = (torch.tensor(a) for a in random_arguments(rng, circuit))
    coefficients = torch.tensor(rng.normal(size=n_qubits))
    expected_w, expected_x = parameter_shift_gradients(circuit, weights, inputs, coefficients)
    got_w, got_x = autograd_gradients(circuit, weights, inputs, coefficients, backend=backend)
    torch.testing.assert_close(
        got_w, expected_w, rtol=0, atol=1e-6, msg=lambda m: m + "\n" + describe(circuit)
    )
    torch.testing.assert_close(
        got_x, expected_x, rtol=0, atol=1e-6, msg=lambda m: m + "\n" + describe(circuit)
    )
    assert got_w.abs().sum() > 0 or circuit.n_params == 0


def with_input(circuit: Circuit) -> Circuit:
    """The circuit, plus a final RY reading input 0 if it reads no input yet."""
    return circuit if circuit.n_inputs else circuit.ry(0, Angle.input(0, 1.3))


def test_shared_parameter_gradient_sums_over_gates() -> None:
    """A weight read by three gates (scales 1, −2, 0.5) gets the sum of their shift-rule terms."""
    circuit = (
        Circuit(2)
        .ry(0, Angle.input(0))
        .rx(0, Angle.param(0))
        .cnot(0, 1)
        .ry(1, Angle.param(0, -2.0))
        .cz(0, 1)
        .rx(0, Angle.param(0, 0.5))
        .h(1)
        .rz(1, Angle.input(0, 3.0))
        .ry(1, Angle.input(0, -0.7))
    )
    weights, inputs = (
        torch.tensor([0.37], dtype=torch.float64),
        torch.tensor([[0.2], [-1.1]], dtype=torch.float64),
    )
    coefficients = torch.tensor([1.0, -0.5], dtype=torch.float64)
    expected_w, expected_x = parameter_shift_gradients(circuit, weights, inputs, coefficients)
    got_w, got_x = autograd_gradients(circuit, weights, inputs, coefficients)
    torch.testing.assert_close(got_w, expected_w, rtol=0, atol=1e-6)
    torch.testing.assert_close(got_x, expected_x, rtol=0, atol=1e-6)
    # a finite difference on the tied weight agrees too (independent of the shift helper)
    sim, eps = StatevectorSimulator(circuit), 1e-6
    loss = lambda w: (sim.expval_z(w, inputs) @ coefficients).sum()
    finite = (loss(weights + eps) - loss(weights - eps)) / (2 * eps)
    assert abs(finite.item() - got_w.item()) < 1e-6


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("angle", [0.0, math.pi, -math.pi / 2], ids=["zero", "pi", "minus-half-pi"])
def test_gradients_at_special_angles(angle, backend) -> None:
    """Angles giving exact zeros in the gate matrices (0, π, …) still give correct gradients."""
    circuit = qag_workload(4, n_blocks=2).h(3).sx(2).x(1).cz(0, 3)
    weights = torch.full((circuit.n_params,), angle, dtype=torch.float64)
    inputs = torch.full((2, circuit.n_inputs), angle, dtype=torch.float64)
    coefficients = torch.tensor([0.3, -1.0, 0.7, 2.0], dtype=torch.float64)
    expected_w, expected_x = parameter_shift_gradients(circuit, weights, inputs, coefficients)
    got_w, got_x = autograd_gradients(circuit, weights, inputs, coefficients, backend=backend)
    torch.testing.assert_close(got_w, expected_w, rtol=0, atol=1e-6)
    torch.testing.assert_close(got_x, expected_x, rtol=0, atol=1e-6)


def test_complex64_gradients_match_complex128(random_circuit) -> None:
    """Gradients in complex64 agree with complex128 to 1e-4."""
    rng = np.random.default_rng(9)
    circuit = with_input(random_circuit(rng, 7, 40))
    weights, inputs = (torch.tensor(a) for a in random_arguments(rng, circuit))
    coefficients = torch.tensor(rng.normal(size=7))
    grads128 = autograd_gradients(circuit, weights, inputs, coefficients)
    grads64 = autograd_gradients(
        circuit, weights.float(), inputs.float(), coefficients, dtype=torch.complex64
    )
    for g64, g128 in zip(grads64, grads128, strict=True):
        assert g64.dtype == torch.float32
        torch.testing.assert_close(g64.double(), g128, rtol=0, atol=1e-4)


@pytest.mark.parametrize("backend", BACKENDS)
def test_gradcheck_float64(backend) -> None:
    """torch.autograd.gradcheck passes for ⟨Z⟩ and for the complex statevector."""
    circuit = (
        Circuit(3)
        .ry(0, Angle.input(0)).rx(1, Angle.input(1, 0.5)).h(2)
        .cnot(0, 1).ry(1, Angle.param(0)).rz(2, Angle.param(1, -1.5)).cz(1, 2)
        .sx(0).rx(0, Angle.param(0)).ry(2, Angle.input(0)).cnot(2, 0)
    )  # fmt: skip
    sim = StatevectorSimulator(circuit, backend=backend)
    weights = torch.tensor([0.3, -0.8], dtype=torch.float64, requires_grad=True)
    inputs = torch.tensor([[0.1, 1.2], [-0.7, 2.0]], dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(lambda w, x: sim.expval_z(w, x), (weights, inputs))
    assert torch.autograd.gradcheck(lambda w, x: sim.state(w, x), (weights, inputs))
