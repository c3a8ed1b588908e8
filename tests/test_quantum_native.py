"""The C statevector kernels (``backend="native"``) against the torch plan, and their contract.

The Aer oracle, the shift-rule gradients and gradcheck run on both backends in
``test_quantum_simulator.py``; here: agreement of values and gradients on every plan shape
(product-only, trailing permutations, per-sample layers after entanglers, CZ signs, fixed
gates, constants, no inputs), reproducibility, and the limits (first derivatives, CPU,
one-line errors).
"""

from __future__ import annotations

import math
import shutil

import numpy as np
import pytest
import torch

from qcalo.exceptions import CircuitError
from qcalo.quantum import native
from qcalo.quantum.circuit import Angle, Circuit
from qcalo.quantum.simulator import StatevectorSimulator
from qcalo.quantum.workloads import hybrid_workload

pytestmark = [
    pytest.mark.usefixtures("torch_single_thread"),
    pytest.mark.skipif(not native.available(), reason="C kernels not built (no C compiler)"),
]


def test_kernels_are_built_where_a_compiler_exists() -> None:
    """A C compiler at install means the native backend is what ``auto`` picks on the CPU."""
    if not (shutil.which("cc") or shutil.which("gcc")):
        pytest.skip("no C compiler: the torch plan runs")
    assert StatevectorSimulator(hybrid_workload(4)).backend == "native"
    assert StatevectorSimulator(hybrid_workload(4), backend="torch").backend == "torch"


def plan_shapes() -> list[Circuit]:
    """Circuits whose measurement plans cover every step kind and edge."""
    return [
        Circuit(1).rx(0, Angle.input(0)).ry(0, Angle.param(0)),  # product only, one qubit
        Circuit(3).h(0).ry(1, Angle.param(0)).cnot(0, 2).cnot(1, 0),  # trailing permutation only
        Circuit(3)
        .ry(0, Angle.param(0))
        .cz(0, 1)
        .cz(1, 2)
        .rx(1, Angle.param(1))
        .sx(2)
        .cz(2, 0),  # CZ signs
        (
            Circuit(4)
            .ry(0, Angle.input(0))
            .cnot(0, 1)
            .cnot(2, 3)
            .rx(1, Angle.input(1, -0.7))
            .ry(3, Angle.param(0))
            .x(2)  # per-sample layer after entanglers
            .cnot(1, 2)
            .rz(0, Angle.const(0.4))
            .ry(2, Angle.input(0, 2.0))
            .h(3)
            .cnot(3, 0)
            .rz(3, Angle.param(1))  # trailing RZ before a permutation is dropped
        ),
        hybrid_workload(6, n_blocks=3),
    ]


def gradients(sim: StatevectorSimulator, circuit: Circuit, seed: int, dtype=torch.float64):
    generator = torch.Generator().manual_seed(seed)
    weights = (
        torch.rand(circuit.n_params, generator=generator, dtype=dtype) * 6 - 3
    ).requires_grad_(True)
    inputs = None
    if circuit.n_inputs:
        inputs = torch.randn(4, circuit.n_inputs, generator=generator, dtype=dtype).requires_grad_(
            True
        )
    coefficients = torch.randn(circuit.n_qubits, generator=generator, dtype=dtype)
    z = sim.expval_z(weights, inputs, batch_size=None if inputs is not None else 4)
    (z @ coefficients).sum().backward()
    return z.detach(), weights.grad, None if inputs is None else inputs.grad


@pytest.mark.parametrize("circuit", plan_shapes(), ids=repr)
@pytest.mark.parametrize("dtype", [torch.complex128, torch.complex64])
def test_native_matches_torch_values_and_gradients(circuit, dtype) -> None:
    """Same ⟨Z⟩ and gradients as the torch plan: 1e-12 in complex128, 1e-5 in complex64."""
    real = torch.float64 if dtype == torch.complex128 else torch.float32
    tolerance = 1e-12 if dtype == torch.complex128 else 1e-5
    results = [
        gradients(StatevectorSimulator(circuit, dtype=dtype, backend=backend), circuit, 5, real)
        for backend in ("torch", "native")
    ]
    for got, expected in zip(results[1], results[0], strict=True):
        if expected is None:
            assert got is None
            continue
        assert got.dtype == real
        torch.testing.assert_close(got, expected, rtol=0, atol=tolerance)
    assert results[1][1].abs().sum() > 0  # the weights get a gradient at all


def test_probabilities_and_shots_use_the_native_plan() -> None:
    """``probabilities`` (trailing permutation re-applied) and seeded shots equal torch's."""
    circuit = plan_shapes()[3]
    weights = torch.linspace(-1, 1, circuit.n_params, dtype=torch.float64)
    inputs = torch.randn(
        5, circuit.n_inputs, generator=torch.Generator().manual_seed(2), dtype=torch.float64
    )
    sims = [StatevectorSimulator(circuit, backend=b) for b in ("torch", "native")]
    torch.testing.assert_close(
        sims[1].probabilities(weights, inputs),
        sims[0].probabilities(weights, inputs),
        rtol=0,
        atol=1e-13,
    )
    shots = [
        sim.expval_z(weights, inputs, shots=500, generator=torch.Generator().manual_seed(9))
        for sim in sims
    ]
    torch.testing.assert_close(shots[1], shots[0], rtol=0, atol=1e-12)


def test_native_runs_are_bit_identical() -> None:
    """Fresh simulators, same arguments: identical bits (values and gradients)."""
    circuit = hybrid_workload(7)
    runs = [
        gradients(StatevectorSimulator(circuit, dtype=torch.complex64), circuit, 3, torch.float32)
        for _ in range(2)
    ]
    for first, second in zip(*runs, strict=True):
        assert torch.equal(first, second)


def test_retained_graph_backward_twice_gives_the_same_gradient() -> None:
    """The saved states survive a backward pass (the adjoint uncomputes a copy)."""
    circuit = hybrid_workload(5)
    sim = StatevectorSimulator(circuit)
    weights = torch.rand(circuit.n_params, dtype=torch.float64, requires_grad=True)
    loss = sim.expval_z(weights, torch.randn(3, 5, dtype=torch.float64)).sum()
    first = torch.autograd.grad(loss, weights, retain_graph=True)[0]
    second = torch.autograd.grad(loss, weights)[0]
    assert torch.equal(first, second)


def test_second_derivatives_need_the_torch_backend() -> None:
    """Native refuses ``create_graph`` with one line (never a silently partial second
    derivative); torch gives the second derivative."""
    circuit = hybrid_workload(3, n_blocks=1)
    inputs = torch.randn(2, 3, dtype=torch.float64, requires_grad=True)
    weights = torch.rand(circuit.n_params, dtype=torch.float64)
    native_sim = StatevectorSimulator(circuit, backend="native")
    with pytest.raises(CircuitError, match="first derivatives only.*backend='torch'") as error:
        torch.autograd.grad(native_sim.expval_z(weights, inputs).sum(), inputs, create_graph=True)
    assert "\n" not in str(error.value)
    torch_sim = StatevectorSimulator(circuit, backend="torch")
    (grad,) = torch.autograd.grad(
        torch_sim.expval_z(weights, inputs).sum(), inputs, create_graph=True
    )
    second = torch.autograd.grad(grad.square().sum(), inputs)[0]
    assert torch.isfinite(second).all() and second.abs().sum() > 0


def test_hybrid_gradient_matches_finite_differences() -> None:
    """Independent of the torch plan: central differences on the benchmark layer."""
    circuit = hybrid_workload(5)
    sim = StatevectorSimulator(circuit, backend="native")
    rng = np.random.default_rng(4)
    weights = torch.tensor(rng.uniform(-math.pi, math.pi, circuit.n_params), requires_grad=True)
    inputs = torch.tensor(rng.normal(size=(3, 5)))
    sim.expval_z(weights, inputs).sum().backward()
    eps = 1e-6
    for k in (0, 7, 13, 19):
        shift = torch.zeros_like(weights)
        shift[k] = eps
        with torch.no_grad():
            finite = (
                sim.expval_z(weights + shift, inputs).sum()
                - sim.expval_z(weights - shift, inputs).sum()
            ) / (2 * eps)
        assert abs(finite.item() - weights.grad[k].item()) < 1e-7


def test_unknown_backend_and_unavailable_native_raise_one_line(monkeypatch) -> None:
    with pytest.raises(CircuitError, match="backend='fast'; use one of auto, torch, native"):
        StatevectorSimulator(hybrid_workload(3), backend="fast")
    monkeypatch.setattr(native, "_kernels", None)
    with pytest.raises(CircuitError, match="not built") as error:
        StatevectorSimulator(hybrid_workload(3), backend="native")
    assert "\n" not in str(error.value) and "backend='auto' or 'torch'" in str(error.value)
    assert StatevectorSimulator(hybrid_workload(3)).backend == "torch"  # auto falls back quietly


def test_non_finite_angles_still_raise_on_the_native_path() -> None:
    sim = StatevectorSimulator(hybrid_workload(3), backend="native")
    weights = torch.zeros(sim.n_params, dtype=torch.float64)
    with pytest.raises(CircuitError, match="input angle is NaN or infinite"):
        sim.expval_z(weights, torch.tensor([[0.0, float("inf"), 1.0]], dtype=torch.float64))
    weights[3] = float("nan")
    with pytest.raises(CircuitError, match="weight .* NaN or infinite"):
        sim.expval_z(weights, torch.zeros(1, 3, dtype=torch.float64))


@pytest.mark.parametrize("threads", [2, 3])
def test_threaded_batches_match_one_thread(threads) -> None:
    """Large batches split over threads (torch's thread count): the kernels' probabilities are
    bit-identical to one thread, gradients equal to round-off, and reruns identical."""
    circuit = hybrid_workload(10, n_blocks=2)
    sim = StatevectorSimulator(circuit, backend="native")
    generator = torch.Generator().manual_seed(12)
    weights = torch.rand(circuit.n_params, generator=generator, dtype=torch.float64)
    inputs = torch.randn(200, 10, generator=generator, dtype=torch.float64)  # 200 x 1024 amplitudes

    def run() -> tuple[torch.Tensor, ...]:
        w, x = weights.clone().requires_grad_(True), inputs.clone().requires_grad_(True)
        probs = sim.probabilities(w, x)
        (probs @ sim.z_signs * torch.linspace(-1, 1, 10, dtype=torch.float64)).sum().backward()
        return probs.detach(), w.grad, x.grad

    previous = torch.get_num_threads()
    try:
        torch.set_num_threads(1)
        single = run()
        torch.set_num_threads(threads)
        threaded, again = run(), run()
    finally:
        torch.set_num_threads(previous)
    for name, one, many, repeat in zip(("probs", "grad w", "grad x"), single, threaded, again, strict=True):
        assert torch.equal(many, repeat), name
        torch.testing.assert_close(many, one, rtol=0, atol=1e-12)
    assert torch.equal(threaded[0], single[0])
