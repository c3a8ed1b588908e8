"""QuantumLayer: exact and shot paths, straight-through gradients, moves, init, bad settings.

(Shape, gradients, Aer agreement and state_dict of every configuration: ``test_contract.py``.)
"""

from __future__ import annotations

import doctest

import pytest
import torch

import qcalo.quantum.layer as layer_module
from qcalo.exceptions import CircuitError
from qcalo.quantum import native
from qcalo.quantum.engine import Engine
from qcalo.quantum.layer import QuantumLayer
from qcalo.quantum.simulator import StatevectorSimulator
from qcalo.quantum.workloads import hybrid_workload, qag_workload

pytestmark = pytest.mark.usefixtures("torch_single_thread")
needs_native = pytest.mark.skipif(not native.available(), reason="C kernels not built")


def seeded(seed: int) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def test_exact_forward_equals_the_simulator() -> None:
    """The layer is the simulator's ⟨Z⟩ with its own weight, on either engine."""
    circuit = hybrid_workload(6)
    x = torch.randn(5, 6, generator=seeded(0), dtype=torch.float64)
    for backend in ("torch", "native") if native.available() else ("torch",):
        layer = QuantumLayer(circuit, backend=backend, init_seed=3, init_spread=1.0)
        expected = StatevectorSimulator(circuit, backend="torch").expval_z(layer.weight.detach(), x)
        torch.testing.assert_close(layer(x), expected, rtol=0, atol=1e-12)
        assert layer.engine_name == backend
        assert isinstance(layer.simulator.engine, Engine)  # both engines meet the interface


@pytest.mark.parametrize("sampling", ["joint", "marginal"])
def test_shots_are_seeded_on_the_grid_and_straight_through(sampling: str) -> None:
    """Shot values: reproducible per generator, multiples of 2/shots; gradient = the exact one."""
    shots = 128
    layer = QuantumLayer(qag_workload(6), shots=shots, sampling=sampling, init_seed=1, init_spread=1.0)
    x = torch.randn(7, 6, generator=seeded(2), dtype=torch.float64)
    z = layer(x, generator=seeded(5))
    assert torch.equal(z.detach(), layer(x, generator=seeded(5)).detach())
    counts = (1 - z.detach()) * shots / 2
    assert torch.allclose(counts, counts.round(), atol=1e-9)
    with torch.no_grad():
        assert torch.equal(layer(x, generator=seeded(5)), z.detach())  # same draws without grad
    coefficients = torch.randn(7, 6, generator=seeded(3), dtype=torch.float64)
    (z * coefficients).sum().backward()
    shot_grad = layer.weight.grad.clone()
    layer.weight.grad = None
    (layer(x, shots=None) * coefficients).sum().backward()
    torch.testing.assert_close(shot_grad, layer.weight.grad, rtol=0, atol=1e-12)


def test_shot_mean_approaches_the_exact_value() -> None:
    layer = QuantumLayer(qag_workload(4, 1), shots=4000, init_seed=0, init_spread=1.0)
    x = torch.full((200, 4), 0.3, dtype=torch.float64)
    with torch.no_grad():
        exact, estimates = layer(x, shots=None), layer(x, generator=seeded(0))
    assert (estimates.mean(0) - exact[0]).abs().max() < 0.01  # SE ≈ 1/sqrt(800 000)


def test_seeded_init_is_reproducible() -> None:
    a, b = (QuantumLayer(qag_workload(4), init_seed=9) for _ in range(2))
    assert torch.equal(a.weight, b.weight)
    assert not torch.equal(a.weight, QuantumLayer(qag_workload(4), init_seed=10).weight)
    torch.manual_seed(0)
    c = QuantumLayer(qag_workload(4))
    torch.manual_seed(0)
    assert torch.equal(c.weight, QuantumLayer(qag_workload(4)).weight)


def test_dtype_moves_rebind_the_engine() -> None:
    """``.float()``/``.double()`` switch the simulation precision with the weight."""
    layer = QuantumLayer(hybrid_workload(4), dtype=torch.complex64, init_seed=0)
    x = torch.randn(3, 4, generator=seeded(1))
    low = layer(x)
    assert low.dtype == torch.float32 and layer.simulator.dtype == torch.complex64
    layer.double()
    assert layer.weight.dtype == torch.float64 and layer.simulator.dtype == torch.complex128
    high = layer(x.double())
    assert high.dtype == torch.float64
    torch.testing.assert_close(low.double(), high, rtol=0, atol=1e-5)
    assert layer.float().simulator.dtype == torch.complex64


def test_unsupported_moves_refuse_in_one_line_and_leave_the_layer() -> None:
    layer = QuantumLayer(hybrid_workload(4), init_seed=0)
    with pytest.raises(CircuitError, match="float32 or float64") as info:
        layer.half()
    assert "\n" not in str(info.value) and layer.weight.dtype == torch.float64


@needs_native
def test_native_refuses_a_non_cpu_move_and_higher_derivatives() -> None:
    layer = QuantumLayer(hybrid_workload(4), backend="native", init_seed=0)
    with pytest.raises(CircuitError, match="CPU only"):
        layer.to("meta")
    assert layer.weight.device.type == "cpu" and layer.engine_name == "native"
    out = layer(torch.randn(2, 4, dtype=torch.float64)).sum()
    with pytest.raises(CircuitError, match="first derivatives"):
        torch.autograd.grad(out, layer.weight, create_graph=True)


def test_torch_engine_gives_second_derivatives() -> None:
    layer = QuantumLayer(hybrid_workload(3), backend="torch", init_seed=0, init_spread=1.0)
    out = layer(torch.randn(2, 3, dtype=torch.float64)).sum()
    (grad,) = torch.autograd.grad(out, layer.weight, create_graph=True)
    (second,) = torch.autograd.grad(grad.sum(), layer.weight)
    assert bool(torch.isfinite(second).all()) and second.abs().sum() > 0


@pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA device in this torch build")
def test_cuda_move_resolves_auto_to_torch() -> None:  # pragma: no cover - needs a GPU
    layer = QuantumLayer(hybrid_workload(4), init_seed=0).to("cuda")
    assert layer.engine_name == "torch"
    assert layer(torch.randn(2, 4, device="cuda", dtype=torch.float64)).device.type == "cuda"


@pytest.mark.parametrize(
    ("kwargs", "fragment"),
    [
        ({"shots": 0}, "shots=0"),
        ({"sampling": "exact"}, "sampling='exact'"),
        ({"backend": "gpu"}, "backend='gpu'"),
        ({"dtype": torch.float16}, "not supported"),
    ],
)
def test_bad_settings_raise_one_line(kwargs: dict, fragment: str) -> None:
    with pytest.raises(CircuitError, match=fragment) as info:
        QuantumLayer(qag_workload(3), **kwargs)
    assert "\n" not in str(info.value)


def test_docstring_examples() -> None:
    assert doctest.testmod(layer_module).failed == 0
