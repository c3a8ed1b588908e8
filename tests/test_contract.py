"""The contract every quantum model and layer in qcalo meets.

One list, :data:`CASES`: a model joins by adding ONE line (a name, a factory, how to run it
on a batch). Every case is checked for: output shape and finiteness; gradients reaching
every parameter (present, finite, and nonzero at a random point for every weight that can
influence the output); exact ⟨Z⟩ of each :class:`QuantumLayer` inside it equal to Qiskit
Aer's; and a ``state_dict`` save/load round trip giving identical outputs.
"""

from __future__ import annotations

import io
import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pytest
import torch

from qcalo.models.qag import ANSATZE, QAG
from qcalo.quantum import native
from qcalo.quantum.circuit import Angle, Circuit
from qcalo.quantum.layer import QuantumLayer
from qcalo.quantum.workloads import hybrid_workload, qag_workload

pytestmark = pytest.mark.usefixtures("torch_single_thread")

BATCH = 4
C128 = torch.complex128


def with_inputs(model: QuantumLayer, batch: int, generator: torch.Generator) -> torch.Tensor:
    """A layer on fresh N(0, 1) inputs (or on ``batch`` rows when it reads none)."""
    if model.n_inputs == 0:
        return model(batch_size=batch, generator=generator)
    x = torch.randn(batch, model.n_inputs, generator=generator, dtype=model.real_dtype)
    return model(x, generator=generator)


def qag_images(model: QAG, batch: int, generator: torch.Generator) -> torch.Tensor:
    return model(batch, generator=generator)


def mixed_circuit() -> Circuit:
    """Every gate kind and angle source: scaled inputs, constants, fixed gates, CZ/SWAP, trailing RZ."""
    c = Circuit(4).ry(0, Angle.input(0, 0.7)).rx(1, Angle.input(1)).h(2).sx(3).rz(3, 0.4)
    c.ry(2, Angle.param(0)).cnot(0, 1).cz(1, 2).swap(2, 3).rx(1, Angle.param(1, -1.5))
    c.ry(3, Angle.param(2)).rx(0, Angle.input(1, 0.5)).cnot(3, 0).x(1).ry(1, Angle.param(3))
    return c.cz(0, 2).rz(2, Angle.param(4))  # RZ before readout: cannot change ⟨Z⟩


def constant_circuit() -> Circuit:
    """No inputs: the batch comes from ``batch_size``."""
    return Circuit(3).ry(0, 0.9).h(1).ry(1, Angle.param(0, 0.5)).cnot(0, 2).cz(1, 2).rx(2, Angle.param(1))


def gan_showers(model: torch.nn.Module, batch: int, generator: torch.Generator) -> torch.Tensor:
    """A FastCaloGAN generator on N(0.5, 0.5²) latents and random energy labels."""
    dtype = next(model.parameters()).dtype
    z = 0.5 + 0.5 * torch.randn(batch, 10, generator=generator, dtype=dtype)
    return model(z, torch.rand(batch, 1, generator=generator, dtype=dtype))


def gan_scores(model: torch.nn.Module, batch: int, generator: torch.Generator) -> torch.Tensor:
    """A critic on random non-negative showers: ``[B, 1]``."""
    dtype = next(model.parameters()).dtype
    showers = torch.rand(batch, 533, generator=generator, dtype=dtype)
    return model(showers, torch.rand(batch, 1, generator=generator, dtype=dtype))[:, None]


def gan_model(name: str, part: str) -> torch.nn.Module:
    from qcalo.configs.gan import load_gan_config
    from qcalo.models.fastcalogan import build_critic, build_generator

    build = build_generator if part == "generator" else build_critic
    return build(load_gan_config(name), 533, seed=0).double()


@dataclass(frozen=True)
class Case:
    """``build()`` makes the model; ``run(model, batch, generator)`` gives its output ``[B, width]``.

    ``width`` (default: the last quantum layer's qubits, outputs bounded by 1 as ⟨Z⟩ values) is
    set for models whose output is not ⟨Z⟩ (a GAN's showers). ``dense_relu``: the model has
    ReLU-gated dense layers, whose individual weights can be exactly dead at a point; each of
    their tensors must still receive a nonzero gradient somewhere.
    """

    name: str
    build: Callable[[], torch.nn.Module]
    run: Callable[[torch.nn.Module, int, torch.Generator], torch.Tensor]
    width: int | None = None
    dense_relu: bool = False


CASES = [
    *[Case(f"qag-{name}", lambda name=name: QAG(8, name, shots=None, dtype=C128), qag_images) for name in ANSATZE],
    Case("qag-hea-shots-complex64", lambda: QAG(6, "hea", shots=256), qag_images),
    Case("qag-clic8-torch", lambda: QAG(6, "clic8", shots=None, dtype=C128, backend="torch"), qag_images),
    Case("hybrid-native", lambda: QuantumLayer(hybrid_workload(10), dtype=C128, backend="native"), with_inputs),
    Case("hybrid-torch", lambda: QuantumLayer(hybrid_workload(10), dtype=C128, backend="torch"), with_inputs),
    Case("qag-workload-shots", lambda: QuantumLayer(qag_workload(8), shots=512, backend="torch"), with_inputs),
    Case("mixed-native", lambda: QuantumLayer(mixed_circuit(), dtype=C128, backend="native"), with_inputs),
    Case("mixed-torch", lambda: QuantumLayer(mixed_circuit(), dtype=C128, backend="torch"), with_inputs),
    Case("constant-auto", lambda: QuantumLayer(constant_circuit(), dtype=C128), with_inputs),
    Case("gan-2x-generator", lambda: gan_model("gan-2x", "generator"), gan_showers, 533, True),
    Case("gan-2x-three-generator", lambda: gan_model("gan-2x-three", "generator"), gan_showers, 533, True),
    Case("gan-qcritic-2x-critic", lambda: gan_model("gan-qcritic-2x", "critic"), gan_scores, 1, True),
]  # fmt: skip


def quantum_layers(model: torch.nn.Module) -> list[QuantumLayer]:
    return [m for m in model.modules() if isinstance(m, QuantumLayer)]


def randomized(case: Case, seed: int = 0) -> torch.nn.Module:
    """The case's model with every quantum weight at a generic point U(−π, π)."""
    if "native" in case.name and not native.available():
        pytest.skip("C kernels not built")
    model = case.build()
    rng = np.random.default_rng(seed)
    with torch.no_grad():
        for layer in quantum_layers(model):
            layer.weight.copy_(torch.from_numpy(rng.uniform(-math.pi, math.pi, layer.n_params)))
    return model


def seeded(seed: int) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def aer_expval_z(circuit: Circuit, weights: np.ndarray, inputs: np.ndarray | None, batch: int) -> np.ndarray:
    """Qiskit Aer's exact per-qubit ⟨Z⟩ ``[B, n]`` (one run, bound per row)."""
    from qiskit.quantum_info import Pauli
    from qiskit_aer import AerSimulator

    qc, w, x = circuit.to_qiskit()
    n = circuit.n_qubits
    for qubit in range(n):
        qc.save_expectation_value(Pauli("I" * (n - 1 - qubit) + "Z" + "I" * qubit), list(range(n)), label=f"z{qubit}")
    used = set(qc.parameters)
    binds = {w[k]: [float(weights[k])] * batch for k in range(len(w)) if w[k] in used}
    if inputs is not None:
        binds |= {x[j]: inputs[:, j].tolist() for j in range(len(x)) if x[j] in used}
    result = AerSimulator(method="statevector").run(qc, parameter_binds=[binds], shots=1).result()
    rows = [result.data(row) for row in range(batch if binds else 1)]
    z = np.array([[data[f"z{q}"] for q in range(n)] for data in rows])
    return np.broadcast_to(z, (batch, n))


@pytest.fixture(params=CASES, ids=[case.name for case in CASES])
def case(request) -> Case:
    return request.param


def test_output_shape_and_finite(case: Case) -> None:
    model = randomized(case)
    out = case.run(model, BATCH, seeded(1))
    assert out.shape == (BATCH, case.width or quantum_layers(model)[-1].n_qubits)
    assert bool(torch.isfinite(out).all())
    if case.width is None or case.name.endswith("critic"):
        assert out.abs().max() <= 1 + 1e-6  # ⟨Z⟩ values


def test_gradients_reach_every_parameter(case: Case) -> None:
    model = randomized(case, seed=2)
    out = case.run(model, BATCH, seeded(3))
    coefficients = torch.randn(out.shape, generator=seeded(4), dtype=out.dtype)
    (out * coefficients).sum().backward()
    live = {id(layer.weight): layer.live_weights for layer in quantum_layers(model)}
    for name, parameter in model.named_parameters():
        assert parameter.grad is not None, f"{case.name}: no gradient reaches {name}"
        assert bool(torch.isfinite(parameter.grad).all()), f"{case.name}: {name} has a non-finite gradient"
        if case.dense_relu and id(parameter) not in live:
            assert bool((parameter.grad != 0).any()), f"{case.name}: {name} gets no gradient at all"
            continue
        mask = live.get(id(parameter), torch.ones(parameter.shape, dtype=torch.bool))
        dead = torch.nonzero(parameter.grad.abs()[mask] < 1e-9).flatten().tolist()
        assert not dead, f"{case.name}: {name} entries {dead} (of the live ones) have zero gradient"
        assert bool((parameter.grad[~mask] == 0).all()), f"{case.name}: a provably dead weight has a gradient"


def test_exact_expval_matches_aer(case: Case) -> None:
    model = randomized(case, seed=5)
    rng = np.random.default_rng(6)
    for layer in quantum_layers(model):
        inputs = rng.normal(0.0, 1.2, (BATCH, layer.n_inputs)) if layer.n_inputs else None
        x = None if inputs is None else torch.from_numpy(inputs)
        with torch.no_grad():
            ours = layer.evaluate(layer.weight, x, batch_size=None if x is not None else BATCH, shots=None)
        weights = layer.weight.detach().double().numpy()
        expected = aer_expval_z(layer.circuit, weights, inputs, BATCH)
        atol = 1e-9 if layer.real_dtype == torch.float64 else 2e-5
        np.testing.assert_allclose(ours.double().numpy(), expected, rtol=0, atol=atol, err_msg=case.name)


def test_state_dict_round_trip(case: Case) -> None:
    model = randomized(case, seed=7)
    buffer = io.BytesIO()
    torch.save(model.state_dict(), buffer)
    fresh = case.build()
    with torch.no_grad():
        before = case.run(fresh, BATCH, seeded(8))
        fresh.load_state_dict(torch.load(io.BytesIO(buffer.getvalue())))
        expected, got = case.run(model, BATCH, seeded(8)), case.run(fresh, BATCH, seeded(8))
    assert not torch.equal(before, expected), "the round trip would pass without loading anything"
    assert torch.equal(got, expected)
