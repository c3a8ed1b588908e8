"""Shot sampling: exact multinomial histograms (three samplers), shot estimates, seeding."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from scipy import stats
from test_quantum_simulator import raises_one_line

import qcalo.quantum.sampling as sampling_module
from qcalo.exceptions import CircuitError, ShapeError
from qcalo.quantum.circuit import Angle, Circuit
from qcalo.quantum.simulator import StatevectorSimulator, sample_counts, z_signs
from qcalo.quantum.workloads import qag_workload

BATCH = 3

pytestmark = pytest.mark.usefixtures("torch_single_thread")


def random_arguments(
    rng: np.random.Generator, circuit: Circuit, batch: int = BATCH
) -> tuple[np.ndarray, np.ndarray | None]:
    """Weights ~ U(−π, π) and inputs ~ N(0, 1.5) (``None`` when the circuit reads no inputs)."""
    weights = rng.uniform(-math.pi, math.pi, circuit.n_params)
    inputs = rng.normal(0.0, 1.5, (batch, circuit.n_inputs)) if circuit.n_inputs else None
    return weights, inputs


# -- 2. shots ----------------------------------------------------------------------------
def pooled_chisquare(observed: np.ndarray, probs: np.ndarray) -> float:
    """p-value of a chi-square goodness-of-fit test, bins with expected < 5 pooled."""
    expected = probs / probs.sum() * observed.sum()
    small = expected < 5
    obs, exp = list(observed[~small]), list(expected[~small])
    if small.any():
        obs.append(observed[small].sum())
        exp.append(expected[small].sum())
    order = np.argsort(exp)
    if exp[order[0]] < 5 and len(exp) > 2:  # the pooled bin is still thin: merge it with the next
        first, second = order[0], order[1]
        obs[second] += obs[first]
        exp[second] += exp[first]
        del obs[first], exp[first]
    return float(stats.chisquare(obs, exp).pvalue)


def shot_circuits() -> list[Circuit]:
    """Small circuits with skewed, spread and sparse distributions."""
    return [
        Circuit(1).ry(0, Angle.input(0)),
        Circuit(3).h(0).cnot(0, 1).ry(2, Angle.input(0)).cz(1, 2).rx(1, Angle.input(1)),
        qag_workload(4, n_blocks=1),
        qag_workload(6, n_blocks=2, encoding="rx"),
    ]


SAMPLERS = ["alias", "numpy", "tree"]


def test_native_sampler_is_built() -> None:
    """Where a C compiler exists, the install built the alias sampler (auto uses it on CPU)."""
    import shutil

    if not (shutil.which("cc") or shutil.which("gcc")):
        pytest.skip("no C compiler: qcalo falls back to NumPy's multinomial")
    assert sampling_module._alias_counts is not None, "reinstall qcalo (pip install -e .) to build it"


@pytest.mark.parametrize("method", SAMPLERS)
@pytest.mark.parametrize("circuit", shot_circuits(), ids=repr)
def test_joint_counts_fit_exact_probabilities(circuit, method) -> None:
    """Both samplers' histograms pass a chi-square test per row and summed over repetitions."""
    rng = np.random.default_rng(5)
    w, x = random_arguments(rng, circuit, batch=2)
    sim = StatevectorSimulator(circuit)
    probs = sim.probabilities(torch.tensor(w), torch.tensor(x))
    repetitions = probs.repeat_interleave(50, dim=0)  # [2 * 50, 2^n]
    counts = sample_counts(repetitions, 2000, generator=torch.Generator().manual_seed(11), method=method)
    assert counts.shape == repetitions.shape
    assert torch.equal(counts.sum(-1), torch.full((100,), 2000.0, dtype=torch.float64))
    assert torch.equal(counts, counts.round()) and bool((counts >= 0).all())
    assert not bool(counts[repetitions == 0].any()), "shots landed on an impossible outcome"
    for row in range(2):
        block = counts[50 * row : 50 * (row + 1)].numpy()
        exact = probs[row].numpy()
        assert pooled_chisquare(block[0], exact) > 1e-3
        assert pooled_chisquare(block.sum(0), exact) > 1e-3


@pytest.mark.parametrize("n_qubits", [1, 12])
def test_alias_sampler_fits_wide_and_narrow_distributions(n_qubits) -> None:
    """One qubit (1 index bit) and 12 qubits (index bits overlap the coin: two draws per shot)."""
    generator = torch.Generator().manual_seed(3)
    probs = torch.distributions.Dirichlet(torch.full((2**n_qubits,), 0.5)).sample((2,)).double()
    if n_qubits > 1:
        probs[1, ::3] = 0.0  # impossible outcomes must never be drawn
    counts = sample_counts(probs, 200_000, generator=generator, method="alias")
    assert torch.equal(counts.sum(-1), torch.full((2,), 200_000.0, dtype=torch.float64))
    assert not bool(counts[probs == 0].any())
    for row in range(2):
        assert pooled_chisquare(counts[row].numpy(), probs[row].numpy()) > 1e-3


def test_samplers_refuse_rows_without_probability() -> None:
    for bad in (torch.zeros(1, 4), torch.tensor([[0.5, float("nan"), 0.2, 0.3]])):
        for method in SAMPLERS:
            with pytest.raises(CircuitError, match="probability distribution"):
                sample_counts(bad, 10, method=method)


def test_chisquare_helper_rejects_a_wrong_distribution() -> None:
    """The goodness-of-fit check can fail: counts from a shifted distribution are rejected."""
    probs = torch.tensor([[0.5, 0.3, 0.15, 0.05]], dtype=torch.float64)
    counts = sample_counts(probs, 20000, generator=torch.Generator().manual_seed(0))[0].numpy()
    assert pooled_chisquare(counts, probs[0].numpy()) > 1e-3
    for method in SAMPLERS:
        drawn = sample_counts(probs, 20000, generator=torch.Generator().manual_seed(0), method=method)[0].numpy()
        assert pooled_chisquare(drawn, np.array([0.45, 0.35, 0.15, 0.05])) < 1e-3


@pytest.mark.parametrize("sampling", ["joint", "marginal"])
def test_shot_mean_approaches_exact_expval(sampling) -> None:
    """The mean of many shot estimates of ⟨Z_i⟩ lies within 4 standard errors of the exact value."""
    circuit = qag_workload(5, n_blocks=2)
    shots, reps = 512, 400
    rng = np.random.default_rng(6)
    w, x = random_arguments(rng, circuit, batch=3)
    sim = StatevectorSimulator(circuit)
    exact = sim.expval_z(torch.tensor(w), torch.tensor(x))
    inputs = torch.tensor(x).repeat_interleave(reps, dim=0)
    estimates = sim.expval_z(
        torch.tensor(w),
        inputs,
        shots=shots,
        generator=torch.Generator().manual_seed(8),
        sampling=sampling,
    ).reshape(3, reps, 5)
    assert torch.equal(estimates * shots, (estimates * shots).round()), (
        "estimates are multiples of 1/shots"
    )
    standard_error = ((1 - exact.square()) / shots / reps).sqrt()
    error = (estimates.mean(1) - exact).abs()
    assert bool((error <= 4 * standard_error + 1e-12).all()), (error / standard_error).max()
    spread = estimates.std(1)
    torch.testing.assert_close(spread, ((1 - exact.square()) / shots).sqrt(), rtol=0.2, atol=1e-3)


def test_joint_sampling_keeps_bell_correlations() -> None:
    """Bell state: each shot has Z0 = Z1, so ⟨Z0 Z1⟩ from counts is exactly 1; marginal does not."""
    bell = Circuit(2).h(0).cnot(0, 1)
    sim = StatevectorSimulator(bell)
    probs = sim.probabilities(torch.zeros(0), batch_size=200)
    counts = sample_counts(probs, 1000, generator=torch.Generator().manual_seed(1))
    assert torch.equal(counts.sum(-1), torch.full((200,), 1000.0, dtype=torch.float64))
    signs = z_signs(2)
    zz = counts @ (signs[:, 0] * signs[:, 1]) / 1000
    assert torch.equal(zz, torch.ones(200, dtype=torch.float64))
    assert counts[:, 1:3].sum() == 0
    joint = sim.expval_z(
        torch.zeros(0), batch_size=200, shots=1000, generator=torch.Generator().manual_seed(2)
    )
    assert torch.equal(joint[:, 0], joint[:, 1])
    assert joint.abs().max() > 0, "the estimates should fluctuate around 0"
    marginal = sim.expval_z(
        torch.zeros(0),
        batch_size=200,
        shots=1000,
        generator=torch.Generator().manual_seed(2),
        sampling="marginal",
    )
    assert not torch.equal(marginal[:, 0], marginal[:, 1])
    assert marginal.abs().max() < 0.2


@pytest.mark.parametrize("sampling", ["joint", "marginal"])
def test_shots_are_seeded(sampling) -> None:
    """Same seed → bit-identical estimates; different seeds → different ones; no gradient."""
    circuit = qag_workload(6, n_blocks=1)
    weights = torch.linspace(-1, 1, circuit.n_params, requires_grad=True)
    inputs = torch.randn(20, 6, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    sim = StatevectorSimulator(circuit, dtype=torch.complex64)

    def draw(seed: int) -> torch.Tensor:
        return sim.expval_z(
            weights,
            inputs,
            shots=100,
            generator=torch.Generator().manual_seed(seed),
            sampling=sampling,
        )

    first = draw(42)
    assert torch.equal(first, draw(42))
    assert not torch.equal(first, draw(43))
    assert not first.requires_grad
    probs = sim.probabilities(weights, inputs).detach()
    counts = [
        sample_counts(probs, 100, generator=torch.Generator().manual_seed(s)) for s in (1, 1, 2)
    ]
    assert torch.equal(counts[0], counts[1]) and not torch.equal(counts[0], counts[2])



@pytest.mark.parametrize("shots", [-5, 2.5, 0])
def test_sample_counts_refuses_bad_shots(shots) -> None:
    """sample_counts raises CircuitError for shots that are not a positive integer."""
    probs = torch.full((1, 4), 0.25, dtype=torch.float64)
    with raises_one_line(CircuitError, f"shots={shots!r}"):
        sample_counts(probs, shots)
    with pytest.raises(CircuitError, match="method"):
        sample_counts(torch.full((1, 2), 0.5), 10, method="bogus")


@pytest.mark.parametrize("shape", [(4,), (1, 3)])
def test_sample_counts_refuses_bad_shapes(shape) -> None:
    """probs must be [B, 2^n]: anything else raises ShapeError."""
    with raises_one_line(ShapeError, "probs"):
        sample_counts(torch.full(shape, 0.25, dtype=torch.float64), 10)
