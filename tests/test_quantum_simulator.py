"""StatevectorSimulator: Aer oracle, shot statistics, gradients, reproducibility, bad input."""

from __future__ import annotations

import contextlib
import doctest
import math
from collections.abc import Iterator

import numpy as np
import pytest
import torch
from scipy import stats

import qcalo.quantum.sampling as sampling_module
import qcalo.quantum.simulator as simulator_module
from qcalo.quantum import fusion
from qcalo.quantum.plan import FusedStage, Permutation
from qcalo.exceptions import CircuitError, QcaloError, ShapeError
from qcalo.quantum.circuit import Angle, AngleSource, Circuit, Op
from qcalo.quantum.simulator import StatevectorSimulator, basis_bits, sample_counts, z_signs
from qcalo.quantum.workloads import hybrid_workload, qag_workload

BATCH = 3
BACKENDS = ("torch", "native")  # both checked against the same oracles
CIRCUITS_PER_WIDTH = 20  # x 11 widths = 220 random circuits in the oracle
WIDTHS = range(1, 12)

pytestmark = pytest.mark.usefixtures("torch_single_thread")

cuda = pytest.param(
    "cuda",
    marks=pytest.mark.skipif(
        not torch.cuda.is_available(), reason="no CUDA device in this torch build"
    ),
)


# -- helpers -----------------------------------------------------------------------------
def aer_reference(
    circuits: list[Circuit],
    weights: list[np.ndarray],
    inputs: list[np.ndarray | None],
    batch: int = BATCH,
) -> list[tuple[np.ndarray, np.ndarray]]:
    """Aer's per-qubit ⟨Z⟩ ``[B, n]`` and statevectors ``[B, 2^n]``: one ``run`` for all."""
    from qiskit.quantum_info import Pauli
    from qiskit_aer import AerSimulator

    programs, binds, rows = [], [], []
    for circuit, w_values, x_values in zip(circuits, weights, inputs, strict=True):
        qc, w, x = circuit.to_qiskit()
        n = circuit.n_qubits
        for qubit in range(n):
            qc.save_expectation_value(
                Pauli("I" * (n - 1 - qubit) + "Z" + "I" * qubit), list(range(n)), label=f"z{qubit}"
            )
        qc.save_statevector(label="psi")
        used = set(qc.parameters)
        bind = {w[k]: [float(w_values[k])] * batch for k in range(len(w)) if w[k] in used}
        bind |= {x[j]: x_values[:, j].tolist() for j in range(len(x)) if x[j] in used}
        programs.append(qc)
        binds.append(bind)
        rows.append(batch if bind else 1)  # Aer runs an unparameterised circuit once
    result = (
        AerSimulator(method="statevector").run(programs, parameter_binds=binds, shots=1).result()
    )
    references, start = [], 0
    for circuit, n_rows in zip(circuits, rows, strict=True):
        data = [result.data(start + row) for row in range(n_rows)]
        z = np.array([[d[f"z{q}"] for q in range(circuit.n_qubits)] for d in data])
        psi = np.stack([np.asarray(d["psi"]) for d in data])
        references.append(
            (np.broadcast_to(z, (batch, z.shape[1])), np.broadcast_to(psi, (batch, psi.shape[1])))
        )
        start += n_rows
    return references


def random_arguments(
    rng: np.random.Generator, circuit: Circuit, batch: int = BATCH
) -> tuple[np.ndarray, np.ndarray | None]:
    """Weights ~ U(−π, π) and inputs ~ N(0, 1.5) (``None`` when the circuit reads no inputs)."""
    weights = rng.uniform(-math.pi, math.pi, circuit.n_params)
    inputs = rng.normal(0.0, 1.5, (batch, circuit.n_inputs)) if circuit.n_inputs else None
    return weights, inputs


def run_qcalo(
    circuit: Circuit,
    weights: np.ndarray,
    inputs: np.ndarray | None,
    dtype: torch.dtype = torch.complex128,
    device: str = "cpu",
    batch: int = BATCH,
    backend: str = "auto",
) -> tuple[np.ndarray, np.ndarray]:
    """qcalo's ⟨Z⟩ ``[B, n]`` and statevectors ``[B, 2^n]`` as numpy arrays."""
    sim = StatevectorSimulator(circuit, dtype=dtype, device=device, backend=backend)
    w = torch.tensor(weights)
    x = None if inputs is None else torch.tensor(inputs)
    size = None if inputs is not None else batch
    z = sim.expval_z(w, x, batch_size=size).cpu().numpy()
    psi = sim.state(w, x, batch_size=size).cpu().numpy()
    return z, psi


def describe(circuit: Circuit) -> str:
    """One line per gate, for failure messages."""
    return (
        repr(circuit)
        + "\n"
        + "\n".join(f"  {op.gate.value} {op.wires} {op.angle}" for op in circuit.ops)
    )


def oracle_circuits(
    rng: np.random.Generator, n_qubits: int, count: int, random_circuit
) -> list[Circuit]:
    """A mix of random gate soups (shared and unique indices) and layered circuits."""
    circuits = []
    for k in range(count):
        if k % 4 == 3:
            circuits.append(
                random_circuit(
                    rng, n_qubits, int(rng.integers(1, 5)), reuse=bool(k % 8 == 3), layered=True
                )
            )
        else:
            n_ops = int(rng.integers(1, 4 * n_qubits + 10))
            circuits.append(random_circuit(rng, n_qubits, n_ops, reuse=bool(k % 2)))
    return circuits


# -- 1. oracle: Qiskit Aer ---------------------------------------------------------------
@pytest.mark.parametrize("n_qubits", WIDTHS)
def test_random_circuits_match_aer(n_qubits, random_circuit) -> None:
    """⟨Z_i⟩ (complex128, both backends) match Aer to 1e-9; amplitudes, phase included, for half."""
    rng = np.random.default_rng(1000 + n_qubits)
    circuits = oracle_circuits(rng, n_qubits, CIRCUITS_PER_WIDTH, random_circuit)
    arguments = [random_arguments(rng, c) for c in circuits]
    references = aer_reference(circuits, *zip(*arguments, strict=True))
    for k, (circuit, (w, x), (z_aer, psi_aer)) in enumerate(
        zip(circuits, arguments, references, strict=True)
    ):
        for backend in BACKENDS:
            z, psi = run_qcalo(circuit, w, x, backend=backend)
            assert z.shape == (BATCH, n_qubits)
            np.testing.assert_allclose(
                z, z_aer, rtol=0, atol=1e-9, err_msg=f"{backend}: {describe(circuit)}"
            )
        if k % 2 == 0:
            np.testing.assert_allclose(psi, psi_aer, rtol=0, atol=1e-9, err_msg=describe(circuit))


@pytest.mark.parametrize("n_qubits", WIDTHS)
def test_complex64_matches_complex128(n_qubits, random_circuit) -> None:
    """complex64 ⟨Z⟩ agree with complex128 to 1e-5 on random circuits."""
    rng = np.random.default_rng(2000 + n_qubits)
    for circuit in oracle_circuits(rng, n_qubits, 8, random_circuit):
        w, x = random_arguments(rng, circuit)
        z128, _ = run_qcalo(circuit, w, x)
        z64, _ = run_qcalo(circuit, w, x, dtype=torch.complex64)
        np.testing.assert_allclose(z64, z128, rtol=0, atol=1e-5, err_msg=describe(circuit))


@pytest.mark.parametrize("encoding", ["ry", "rx"])
def test_workloads_match_aer(encoding) -> None:
    """The benchmark workloads (dense layers, CNOT chains) match Aer: 1..11 qubits, 1..3 blocks."""
    rng = np.random.default_rng(7)
    circuits = [qag_workload(n, n_blocks=1 + n % 3, encoding=encoding) for n in WIDTHS]
    arguments = [random_arguments(rng, c) for c in circuits]
    for circuit, (w, x), (z_aer, psi_aer) in zip(
        circuits, arguments, aer_reference(circuits, *zip(*arguments, strict=True)), strict=True
    ):
        z, psi = run_qcalo(circuit, w, x)
        np.testing.assert_allclose(z, z_aer, rtol=0, atol=1e-9, err_msg=repr(circuit))
        np.testing.assert_allclose(psi, psi_aer, rtol=0, atol=1e-9, err_msg=repr(circuit))


def test_thirteen_qubits_three_wire_groups_match_aer(random_circuit) -> None:
    """From 13 qubits the simulator splits wires into three Kronecker groups: still exact."""
    rng = np.random.default_rng(13)
    circuits = oracle_circuits(rng, 13, 3, random_circuit) + [qag_workload(13, n_blocks=2)]
    arguments = [random_arguments(rng, c) for c in circuits]
    for circuit, (w, x), (z_aer, psi_aer) in zip(
        circuits, arguments, aer_reference(circuits, *zip(*arguments, strict=True)), strict=True
    ):
        z, psi = run_qcalo(circuit, w, x)
        np.testing.assert_allclose(z, z_aer, rtol=0, atol=1e-9, err_msg=describe(circuit))
        np.testing.assert_allclose(psi, psi_aer, rtol=0, atol=1e-9, err_msg=describe(circuit))


def local_brick_circuit(rng: np.random.Generator, n_qubits: int, n_layers: int) -> Circuit:
    """Input layer, then bricks of neighbour CNOT/CZ (random direction) between weight and
    constant single-qubit layers: the shape the simulator fuses into per-group blocks."""
    circuit = Circuit(n_qubits)
    for wire in range(n_qubits):
        circuit.ry(wire, Angle.input(wire, 0.9))
    index = 0
    for layer in range(n_layers):
        for wire in range(n_qubits):
            gate = rng.choice(["rx", "ry", "rz", "h", "sx"])
            if gate in ("h", "sx"):
                getattr(circuit, gate)(wire)
            else:
                getattr(circuit, gate)(wire, Angle.param(index, float(rng.uniform(0.5, 2))))
                index += 1
        for a in range(layer % 2, n_qubits - 1, 2):
            pair = (a, a + 1) if rng.random() < 0.5 else (a + 1, a)
            (circuit.cnot if rng.random() < 0.7 else circuit.cz)(*pair)
            circuit.ry(pair[1], Angle.param(index))
            circuit.cnot(*pair)
            index += 1
    return circuit


def fused_stage_count(circuit: Circuit) -> int:
    sim = StatevectorSimulator(circuit)
    return sum(isinstance(stage, FusedStage) for stage in sim.plan.readout_stages + sim.plan.stages)


def test_fused_stages_match_aer() -> None:
    """Stages fused into per-group dense blocks (local CNOT/CZ bricks, every QAG ansatz) match Aer."""
    from qcalo.models.qag import ANSATZE, build_qag_circuit

    rng = np.random.default_rng(17)
    circuits = [local_brick_circuit(rng, n, 2 + n % 3) for n in range(2, 12)]
    for circuit in circuits:
        assert fused_stage_count(circuit) > 0, describe(circuit)  # the path under test is taken
    # hea's CNOT ladder spans every wire, so it fuses nothing: it checks the mixed plan.
    circuits += [build_qag_circuit(8, name, layers) for name in ANSATZE for layers in (1, 3)]
    arguments = [random_arguments(rng, c) for c in circuits]
    references = aer_reference(circuits, *zip(*arguments, strict=True))
    for circuit, (w, x), (z_aer, psi_aer) in zip(circuits, arguments, references, strict=True):
        for backend in BACKENDS:  # torch reads ⟨Z⟩ through the fused stages, native unfused
            z, psi = run_qcalo(circuit, w, x, backend=backend)
            np.testing.assert_allclose(z, z_aer, rtol=0, atol=1e-9, err_msg=describe(circuit))
        np.testing.assert_allclose(psi, psi_aer, rtol=0, atol=1e-9, err_msg=describe(circuit))


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("n_qubits", [3, 6, 8])
def test_fused_stage_gradients_match_parameter_shift(n_qubits, backend) -> None:
    """Gradients through fused blocks (weights and inputs) equal the shift rule to 1e-6."""
    rng = np.random.default_rng(40 + n_qubits)
    circuit = local_brick_circuit(rng, n_qubits, 3)
    assert fused_stage_count(circuit) > 0
    weights, inputs = (torch.tensor(a) for a in random_arguments(rng, circuit))
    coefficients = torch.tensor(rng.normal(size=n_qubits))
    expected_w, expected_x = parameter_shift_gradients(circuit, weights, inputs, coefficients)
    got_w, got_x = autograd_gradients(circuit, weights, inputs, coefficients, backend=backend)
    torch.testing.assert_close(got_w, expected_w, rtol=0, atol=1e-6)
    torch.testing.assert_close(got_x, expected_x, rtol=0, atol=1e-6)


def test_unfused_runs_keep_their_permutations_whole() -> None:
    """A run split while probing for fusion but then not fused stays one permutation pass.

    (hea's CNOT ladder was once left as 2–3 back-to-back index gathers per layer.)
    """
    from qcalo.models.qag import ANSATZE, build_qag_circuit

    for name in ANSATZE:
        sim = StatevectorSimulator(build_qag_circuit(8, name, 3))
        for plan in (sim.plan.stages, sim.plan.readout_stages):
            kinds = [type(stage) for stage in plan]
            assert all(not (a is b is Permutation) for a, b in zip(kinds, kinds[1:])), name


@pytest.mark.parametrize(
    ("pairs", "expected"),
    [
        (set(), [(0, 4), (4, 4)]),
        ({(0, 1), (2, 3), (4, 5), (6, 7)}, [(0, 4), (4, 4)]),
        ({(3, 4), (5, 1)}, "valid"),
        ({(0, 7)}, None),  # spans 8 wires: more than one group may hold
    ],
)
def test_partition_keeps_pairs_inside_groups(pairs, expected) -> None:
    """Groups tile the wires, hold ≤ MAX_GROUP_WIRES each and never split a pair."""
    partition = fusion.partition(8, pairs)
    if expected != "valid":
        assert partition == expected
    if partition is None:
        return
    assert [w for low, size in partition for w in range(low, low + size)] == list(range(8))
    assert all(size <= fusion.MAX_GROUP_WIRES for _, size in partition)
    for a, b in pairs:
        assert any(low <= min(a, b) and max(a, b) < low + size for low, size in partition)


def test_circuits_without_inputs_broadcast_batch_size() -> None:
    """A circuit with no inputs uses batch_size rows, all equal to Aer's single answer."""
    circuit = Circuit(3).h(0).ry(1, Angle.param(0, 0.5)).cnot(0, 2).cz(1, 2).rx(2, Angle.param(1))
    weights = np.array([0.4, -1.3])
    ((z_aer, psi_aer),) = aer_reference([circuit], [weights], [None], batch=4)
    z, psi = run_qcalo(circuit, weights, None, batch=4)
    assert z.shape == (4, 3)
    np.testing.assert_allclose(z, z_aer, rtol=0, atol=1e-12)
    np.testing.assert_allclose(psi, psi_aer, rtol=0, atol=1e-12)


def test_empty_and_constant_circuits_match_aer() -> None:
    """No gates at all gives |0…0⟩; constant-only circuits need no weights."""
    circuits = [Circuit(3), Circuit(2).sx(1).rz(0, 0.3).x(0).cz(0, 1).h(1)]
    references = aer_reference(circuits, [np.zeros(0)] * 2, [None] * 2, batch=2)
    for circuit, (z_aer, psi_aer) in zip(circuits, references, strict=True):
        z, psi = run_qcalo(circuit, np.zeros(0), None, batch=2)
        np.testing.assert_allclose(psi, psi_aer, rtol=0, atol=1e-12)
        np.testing.assert_allclose(z, z_aer, rtol=0, atol=1e-12)
    assert np.array_equal(run_qcalo(Circuit(3), np.zeros(0), None)[1][0], np.eye(8)[0])


def test_qubit_zero_is_least_significant_bit() -> None:
    """X on qubit 0 of 3 gives basis index 1 (little-endian, as in Qiskit) and ⟨Z_0⟩ = −1."""
    sim = StatevectorSimulator(Circuit(3).x(0))
    assert sim.probabilities(torch.zeros(0)).argmax().item() == 1
    assert sim.expval_z(torch.zeros(0)).tolist() == [[-1.0, 1.0, 1.0]]
    assert basis_bits(3)[6].tolist() == [0, 1, 1]
    assert z_signs(2).tolist() == [[1, 1], [-1, 1], [1, -1], [-1, -1]]


def test_probabilities_are_normalised(random_circuit) -> None:
    """|ψ|² sums to 1 per row and ⟨Z⟩ = probabilities @ z_signs."""
    rng = np.random.default_rng(3)
    circuit = random_circuit(rng, 6, 40)
    w, x = random_arguments(rng, circuit)
    sim = StatevectorSimulator(circuit)
    probs = sim.probabilities(
        torch.tensor(w), None if x is None else torch.tensor(x), batch_size=BATCH
    )
    torch.testing.assert_close(
        probs.sum(-1), torch.ones(BATCH, dtype=torch.float64), rtol=0, atol=1e-12
    )
    torch.testing.assert_close(
        probs @ z_signs(6),
        sim.expval_z(torch.tensor(w), None if x is None else torch.tensor(x), batch_size=BATCH),
    )


def test_docstring_examples() -> None:
    """The module's doctest runs."""
    assert doctest.testmod(simulator_module).failed == 0


# -- 7. the same oracle on CUDA --------------------------------------------------------------
@pytest.mark.parametrize("device", [cuda])
def test_device_matches_cpu_and_aer(device, random_circuit) -> None:
    """On CUDA: ⟨Z⟩ and amplitudes match Aer, complex64 within 1e-5, gradients reach weights."""
    rng = np.random.default_rng(4)
    circuits = oracle_circuits(rng, 7, 12, random_circuit) + [hybrid_workload(10)]
    arguments = [random_arguments(rng, c) for c in circuits]
    for circuit, (w, x), (z_aer, psi_aer) in zip(
        circuits, arguments, aer_reference(circuits, *zip(*arguments, strict=True)), strict=True
    ):
        z, psi = run_qcalo(circuit, w, x, device=device)
        np.testing.assert_allclose(z, z_aer, rtol=0, atol=1e-9, err_msg=describe(circuit))
        np.testing.assert_allclose(psi, psi_aer, rtol=0, atol=1e-9, err_msg=describe(circuit))
        z64, _ = run_qcalo(circuit, w, x, dtype=torch.complex64, device=device)
        np.testing.assert_allclose(z64, z, rtol=0, atol=1e-5, err_msg=describe(circuit))
    circuit = hybrid_workload(10)
    weights = torch.zeros(circuit.n_params, device=device, requires_grad=True)
    sim = StatevectorSimulator(circuit, dtype=torch.complex64, device=device)
    sim.expval_z(weights, torch.randn(5, 10, device=device)).sum().backward()
    assert weights.grad is not None and weights.grad.device.type == "cuda"
    counts = sample_counts(
        sim.probabilities(weights.detach(), torch.zeros(2, 10, device=device)), 100
    )
    assert counts.device.type == "cuda" and counts.sum(-1).tolist() == [100.0, 100.0]


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
    loss = lambda w: (sim.expval_z(w, inputs) @ coefficients).sum()  # noqa: E731
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


# -- 5. bad input ------------------------------------------------------------------------
@pytest.fixture
def small_sim() -> StatevectorSimulator:
    """2 weights, 2 inputs, 2 qubits."""
    return StatevectorSimulator(
        Circuit(2).ry(0, Angle.input(0)).rx(1, Angle.input(1)).cnot(0, 1).rz(1, Angle.param(1))
    )


@contextlib.contextmanager
def raises_one_line(error: type[QcaloError], *fragments: str) -> Iterator[None]:
    """Expect ``error`` with a one-line message containing every fragment."""
    with pytest.raises(error) as info:
        yield
    message = str(info.value)
    assert "\n" not in message, message
    for fragment in fragments:
        assert fragment in message, f"{fragment!r} not in {message!r}"


@pytest.mark.parametrize(
    ("weights", "inputs", "error", "fragments"),
    [
        ([0.1, 0.2], [[0.1, 0.2, 0.3]], ShapeError, ("inputs have shape (1, 3)", "[B, 2]")),
        ([0.1, 0.2], [0.1, 0.2], ShapeError, ("inputs have shape (2,)",)),
        ([0.1, 0.2], np.zeros((0, 2)), ShapeError, ("(0, 2)", "B ≥ 1")),
        ([0.1, 0.2], None, ShapeError, ("reads 2 input feature(s)",)),
        ([0.1], [[0.1, 0.2]], ShapeError, ("weights have shape (1,)", "needs (2,)")),
        ([[0.1, 0.2]], [[0.1, 0.2]], ShapeError, ("weights have shape (1, 2)",)),
        ([0.1, math.nan], [[0.1, 0.2]], CircuitError, ("weight", "NaN")),
        ([0.1, math.inf], [[0.1, 0.2]], CircuitError, ("weight", "infinite")),
        ([0.1, 0.2], [[0.1, math.nan]], CircuitError, ("input", "NaN")),
    ],
    ids=["too-many-features", "1d-inputs", "empty-batch", "missing-inputs", "short-weights",
         "2d-weights", "nan-weight", "inf-weight", "nan-input"],
)  # fmt: skip
def test_bad_arguments_raise_one_clear_error(small_sim, weights, inputs, error, fragments) -> None:
    """Wrong shapes raise ShapeError, non-finite angles CircuitError, naming the problem."""
    inputs = None if inputs is None else torch.tensor(np.asarray(inputs, dtype=np.float64))
    with raises_one_line(error, *fragments):
        small_sim.expval_z(torch.tensor(weights, dtype=torch.float64), inputs)


@pytest.mark.parametrize("shots", [0, -5, 2.5, True, "100"])
def test_bad_shots_raise(small_sim, shots) -> None:
    """shots must be a positive int: 0, negative, non-integer and bool are refused."""
    with raises_one_line(CircuitError, f"shots={shots!r}", "positive integer"):
        small_sim.expval_z(torch.zeros(2), torch.zeros((1, 2)), shots=shots)


def test_bad_sampling_mode_and_batch_size_and_dtype(small_sim) -> None:
    """Unknown sampling mode, batch_size < 1, and a non-complex dtype are refused."""
    with raises_one_line(CircuitError, "sampling='exact'", "'joint' or 'marginal'"):
        small_sim.expval_z(torch.zeros(2), torch.zeros((1, 2)), shots=10, sampling="exact")
    no_inputs = StatevectorSimulator(Circuit(1).rx(0, Angle.param(0)))
    with raises_one_line(ShapeError, "batch_size=0"):
        no_inputs.state(torch.zeros(1), batch_size=0)
    with raises_one_line(CircuitError, "torch.float64", "complex64"):
        StatevectorSimulator(Circuit(1), dtype=torch.float64)


def test_errors_are_value_errors(small_sim) -> None:
    """qcalo errors subclass ValueError, so generic handlers keep working."""
    with pytest.raises(ValueError):
        small_sim.expval_z(torch.zeros(3), torch.zeros((1, 2)))


# -- regressions: bugs found in review --------------------------------------------------
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


def test_inputs_passed_to_a_circuit_without_inputs_are_not_ignored() -> None:
    """A [B, 0] batch sets B; a batch with features the circuit does not read is a ShapeError."""
    sim = StatevectorSimulator(Circuit(2).ry(0, Angle.param(0)).cnot(0, 1))
    assert sim.expval_z(torch.zeros(1), torch.zeros(5, 0)).shape == (5, 2)
    with raises_one_line(ShapeError, "(5, 3)"):
        sim.expval_z(torch.zeros(1), torch.zeros(5, 3))
