"""StatevectorSimulator: Aer oracle, fusion, devices, bad input.

(Shots: ``test_quantum_sampling.py``; gradients and reruns: ``test_quantum_gradients.py``.)
"""

from __future__ import annotations

import contextlib
import doctest
import itertools
import math
from collections.abc import Iterator

import numpy as np
import pytest
import torch
from test_quantum_gradients import autograd_gradients, parameter_shift_gradients

import qcalo.quantum.simulator as simulator_module
from qcalo.exceptions import CircuitError, QcaloError, ShapeError
from qcalo.quantum import fusion
from qcalo.quantum.circuit import Angle, Circuit
from qcalo.quantum.plan import FusedStage, Permutation
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
            assert all(not (a is b is Permutation) for a, b in itertools.pairwise(kinds)), name


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
def test_inputs_passed_to_a_circuit_without_inputs_are_not_ignored() -> None:
    """A [B, 0] batch sets B; a batch with features the circuit does not read is a ShapeError."""
    sim = StatevectorSimulator(Circuit(2).ry(0, Angle.param(0)).cnot(0, 1))
    assert sim.expval_z(torch.zeros(1), torch.zeros(5, 0)).shape == (5, 2)
    with raises_one_line(ShapeError, "(5, 3)"):
        sim.expval_z(torch.zeros(1), torch.zeros(5, 3))
