"""Circuit description: derived facts, the Qiskit bridge, workloads, and build-time errors."""

from __future__ import annotations

import doctest
import math

import pytest

import qcalo.quantum.circuit as circuit_module
import qcalo.quantum.workloads as workloads_module
from qcalo.exceptions import CircuitError, QcaloError
from qcalo.quantum.circuit import Angle, AngleSource, Circuit, Gate, Op
from qcalo.quantum.workloads import hybrid_workload, qag_workload


def sample_circuit() -> Circuit:
    """Every gate once; parameter 1 unused, input 2 read twice."""
    return (
        Circuit(3)
        .rx(0, Angle.param(0))
        .ry(1, Angle.input(2, 0.5))
        .rz(2, Angle.param(2, -2.0))
        .rx(1, 0.25)
        .cnot(0, 1)
        .cz(2, 0)
        .sx(1)
        .x(2)
        .h(0)
        .ry(0, Angle.input(2))
    )


def assert_one_line(error: QcaloError, *fragments: str) -> None:
    """The message is one line and names the problem."""
    message = str(error)
    assert "\n" not in message, message
    for fragment in fragments:
        assert fragment in message, f"{fragment!r} not in {message!r}"


# -- 6. circuit facts --------------------------------------------------------------------
def test_counts_and_repr() -> None:
    """n_params / n_inputs are 1 + the largest index used; count_ops and repr say what is there."""
    circuit = sample_circuit()
    assert (circuit.n_qubits, circuit.n_params, circuit.n_inputs) == (3, 3, 3)
    assert circuit.count_ops() == {
        "rx": 2,
        "ry": 2,
        "rz": 1,
        "cnot": 1,
        "cz": 1,
        "sx": 1,
        "x": 1,
        "h": 1,
    }
    assert repr(circuit) == "Circuit(n_qubits=3, ops=10, n_params=3, n_inputs=3)"
    assert repr(Circuit(2)) == "Circuit(n_qubits=2, ops=0, n_params=0, n_inputs=0)"
    assert Circuit(2).count_ops() == {}


def test_builders_chain_and_store_angles() -> None:
    """Builders return the circuit; floats become constant angles; ops keep wires in order."""
    circuit = Circuit(2)
    assert circuit.rx(1, 0.5) is circuit
    assert circuit.cnot(1, 0) is circuit
    assert circuit.ops == [
        Op(Gate.RX, (1,), Angle.const(0.5)),
        Op(Gate.CNOT, (1, 0), None),
    ]
    assert Angle.param(3, 2.0) == Angle(AngleSource.PARAM, index=3, scale=2.0)
    assert Angle.input(1).scale == 1.0 and Angle.const(1).value == 1.0
    assert Circuit(2).add("cz", [0, 1]).ops == [Op(Gate.CZ, (0, 1))]


def test_to_qiskit_parameters_and_gates() -> None:
    """to_qiskit names parameters w[k] / x[j], scales them, and maps cnot to cx."""
    qc, weights, inputs = sample_circuit().to_qiskit()
    assert [p.name for p in weights] == ["w[0]", "w[1]", "w[2]"]
    assert [p.name for p in inputs] == ["x[0]", "x[1]", "x[2]"]
    assert qc.num_qubits == 3 and qc.num_clbits == 0
    assert dict(qc.count_ops()) == {
        "rx": 2,
        "ry": 2,
        "rz": 1,
        "cx": 1,
        "cz": 1,
        "sx": 1,
        "x": 1,
        "h": 1,
    }
    assert {p.name for p in qc.parameters} == {"w[0]", "w[2]", "x[2]"}  # w[1] is never read
    angles = [instruction.operation.params for instruction in qc.data]
    assert angles[0] == [weights[0]]  # unscaled: the bare symbol
    assert float(angles[1][0].bind({inputs[2]: 3.0})) == 1.5  # 0.5 * x[2]
    assert float(angles[2][0].bind({weights[2]: 3.0})) == -6.0  # -2 * w[2]
    assert angles[3] == [0.25]
    assert [tuple(qc.find_bit(q).index for q in instruction.qubits) for instruction in qc.data][
        4:6
    ] == [(0, 1), (2, 0)]


def test_to_qiskit_measure_and_empty() -> None:
    """measure=True appends measure_all; a circuit without parameters gives empty vectors."""
    qc, weights, inputs = Circuit(2).h(0).to_qiskit(measure=True)
    assert qc.count_ops()["measure"] == 2 and qc.num_clbits == 2
    assert len(weights) == 0 and len(inputs) == 0


def test_docstring_examples() -> None:
    """The circuit and workload module doctests run."""
    assert doctest.testmod(circuit_module).failed == 0
    assert doctest.testmod(workloads_module).failed == 0


# -- workloads ---------------------------------------------------------------------------
@pytest.mark.parametrize(("n_qubits", "n_blocks"), [(1, 1), (2, 2), (3, 1), (8, 2), (10, 3)])
def test_qag_workload_structure(n_qubits, n_blocks) -> None:
    """Encoding RY(x_i), then per block RY and RZ on every qubit, CNOT i→i+1, CNOT i→i+2."""
    circuit = qag_workload(n_qubits, n_blocks)
    n = n_qubits
    assert circuit.n_inputs == n and circuit.n_params == 2 * n * n_blocks
    expected = [Op(Gate.RY, (i,), Angle.input(i)) for i in range(n)]
    for block in range(n_blocks):
        first = 2 * n * block
        expected += [Op(Gate.RY, (i,), Angle.param(first + i)) for i in range(n)]
        expected += [Op(Gate.RZ, (i,), Angle.param(first + n + i)) for i in range(n)]
        expected += [Op(Gate.CNOT, (i, i + 1)) for i in range(n - 1)]
        expected += [Op(Gate.CNOT, (i, i + 2)) for i in range(n - 2)]
    assert circuit.ops == expected


def test_default_workloads() -> None:
    """Defaults: QAG is 8 qubits, RY encoding; hybrid is 10 qubits, RX encoding, 2 blocks."""
    qag, hybrid = qag_workload(), hybrid_workload()
    assert qag.count_ops() == {"ry": 8 + 16, "rz": 16, "cnot": 2 * (7 + 6)}
    assert hybrid.count_ops() == {"rx": 10, "ry": 20, "rz": 20, "cnot": 2 * (9 + 8)}
    assert (hybrid.n_params, hybrid.n_inputs) == (40, 10)
    assert qag_workload(4, 1, encoding="rx") == hybrid_workload(4, 1)


@pytest.mark.parametrize(
    ("kwargs", "fragments"),
    [
        ({"encoding": "rz"}, ("encoding='rz'", "ry, rx")),
        ({"n_blocks": 0}, ("n_blocks=0", "≥ 1")),
        ({"n_blocks": 1.0}, ("n_blocks=1.0",)),
        ({"n_qubits": 0}, ("n_qubits=0",)),
    ],
)
def test_workload_bad_arguments(kwargs, fragments) -> None:
    """Bad workload arguments raise CircuitError naming the argument."""
    with pytest.raises(CircuitError) as info:
        qag_workload(**kwargs)
    assert_one_line(info.value, *fragments)


# -- 5. bad input at build time ----------------------------------------------------------
@pytest.mark.parametrize(
    ("build", "fragments"),
    [
        (lambda: Circuit(2).rx(2, 0.1), ("rx on qubit 2", "qubits 0..1")),
        (lambda: Circuit(2).h(-1), ("h on qubit -1",)),
        (lambda: Circuit(3).cnot(0, 3), ("cnot on qubit 3", "qubits 0..2")),
        (lambda: Circuit(2).cnot(1, 1), ("cnot needs two different qubits", "(1, 1)")),
        (lambda: Circuit(2).cz(0, 0), ("cz needs two different qubits",)),
        (lambda: Circuit(2).add("toffoli", 0), ("unknown gate 'toffoli'", "rx, ry, rz, cnot")),
        (lambda: Circuit(2).add("rx", 0), ("rx: rotations need an angle",)),
        (lambda: Circuit(2).add("h", 0, Angle.const(1.0)), ("fixed gates take none",)),
        (lambda: Circuit(2).add("cnot", 0), ("cnot acts on 2 qubit(s)", "(0,)")),
        (lambda: Circuit(2).add("x", (0, 1)), ("x acts on 1 qubit(s)",)),
        (lambda: Circuit(2).rx(0, math.nan), ("not finite",)),
        (lambda: Circuit(2).ry(0, math.inf), ("inf", "not finite")),
        (lambda: Angle.const(-math.inf), ("not finite",)),
        (lambda: Angle.param(0, scale=math.nan), ("nan", "not finite")),
        (lambda: Angle.param(-1), ("parameter index=-1", "≥ 0")),
        (lambda: Angle.input(1.5), ("input index=1.5",)),
        (lambda: Angle.param(True), ("parameter index=True",)),
        (lambda: Circuit(0), ("n_qubits=0", "1 to 24")),
        (lambda: Circuit(25), ("n_qubits=25",)),
        (lambda: Circuit(2.0), ("n_qubits=2.0",)),
        (lambda: Circuit(2, [Op(Gate.CNOT, (0, 0))]), ("two different qubits",)),
        (lambda: Circuit(2, [Op(Gate.RX, (5,), Angle.const(0.1))]), ("qubit 5",)),
    ],
    ids=[
        "qubit-out-of-range", "negative-qubit", "cnot-target-out-of-range", "cnot-same-wire",
        "cz-same-wire", "unknown-gate", "rotation-without-angle", "fixed-gate-with-angle",
        "cnot-one-wire", "x-two-wires", "nan-constant", "inf-constant", "inf-angle-const",
        "nan-scale", "negative-index", "float-index",
        "bool-index", "zero-qubits", "too-many-qubits", "float-qubits", "bad-op-in-constructor",
        "bad-wire-in-constructor",
    ],
)  # fmt: skip
def test_bad_circuits_raise_one_clear_error(build, fragments) -> None:
    """Each mistake raises one CircuitError at build time, naming the problem."""
    with pytest.raises(CircuitError) as info:
        build()
    assert_one_line(info.value, *fragments)
    assert isinstance(info.value, ValueError)


def test_failed_add_leaves_circuit_unchanged() -> None:
    """A rejected gate is not appended."""
    circuit = Circuit(2).h(0)
    with pytest.raises(CircuitError):
        circuit.cnot(0, 2)
    assert len(circuit.ops) == 1


# -- regressions: bugs found in review --------------------------------------------------
def test_add_with_float_angle() -> None:
    """add('rx', 0, 0.5) either means rx(0, 0.5) or is refused with CircuitError."""
    try:
        circuit = Circuit(1).add("rx", 0, 0.5)
    except CircuitError:
        return
    assert circuit.ops[0].angle == Angle.const(0.5)
    assert repr(circuit) == "Circuit(n_qubits=1, ops=1, n_params=0, n_inputs=0)"


def test_scaled_constant_exports_scaled() -> None:
    """A constant angle ``scale * value`` reaches Qiskit as that product, as in the simulator."""
    circuit = Circuit(1).ry(0, Angle(AngleSource.CONST, value=0.5, scale=2.0))
    qc, _, _ = circuit.to_qiskit()
    assert qc.data[0].operation.params[0] == pytest.approx(1.0)


def test_bool_qubit_count_is_refused() -> None:
    """Circuit(True) is refused like Angle.param(True)."""
    with pytest.raises(CircuitError, match="n_qubits=True"):
        Circuit(True)
