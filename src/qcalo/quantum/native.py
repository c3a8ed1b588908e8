"""C kernels for the simulator's readout plan, as one ``torch.autograd.Function``.

Why: for small states the torch plan is bound by kernel dispatch, not arithmetic. The
hybrid benchmark layer (10 qubits, B = 10, forward + backward) ran ~100 torch kernels of a
few microseconds each on 10 × 1024 amplitudes; ProdBackward, BmmBackward, MulBackward,
SelectBackward and IndexBackward alone took ~0.8 ms (``torch.profiler``), and building the
gate matrices from the angles another ~0.5 ms. Here the whole plan — gate matrices from
angles (fused per wire), product state, signed permutations, single-qubit layers and
``|ψ|²`` — is one C call per stage, forward and backward (``_statevector.c``): 1.6 → 0.6 ms.

Backward is the adjoint method: a layer's output state is uncomputed with ``U^†`` (the
gates are unitary) while the gradient is pulled back, so only layer outputs are stored; the
gradients of the per-wire matrices are then carried back to their angles, hence to the
weights and the inputs. First derivatives only: a backward with ``create_graph=True`` (a
second derivative, e.g. a gradient penalty through a quantum discriminator) raises and asks
for ``backend="torch"``.

Large batches are split over torch's thread count (POSIX threads, chunks of ≥ 32 768
amplitudes; per-sample results are bit-identical to one thread, batch-summed gradients are
added in chunk order). On this 2-core machine a layer pass at B = 1000 runs 1.9× faster on
two threads in isolation, 1.15× inside a training step (torch's own OpenMP threads compete).

The kernels are CPU-only, complex64/complex128. They take the unfused
stages: per-wire passes are cheaper in C than the dense group blocks the torch plan fuses
(QAG ``clic8`` training at B = 256: 36–42 s → 29 s for 1000 epochs).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor

from qcalo.exceptions import CircuitError

try:  # built by setup.py (optional=True); the torch plan stands in without it
    from qcalo.quantum import _statevector as _kernels
except ImportError:  # pragma: no cover - depends on the install
    _kernels = None

__all__ = ["LayerTables", "NativePlan", "NativeProbabilities", "PermutationStep", "available"]


def available() -> bool:
    """Whether the C kernels were built (a C compiler was present at install)."""
    return _kernels is not None


@dataclass(frozen=True)
class PermutationStep:
    """``new[k] = sign[k] · old[perm[k]]``; ``sign`` is ``None`` when all +1."""

    perm: Tensor  # [2^n] int64, contiguous
    sign: Tensor | None  # [2^n] real of the simulator's precision

    def apply(self, states: Tensor, *, adjoint: bool) -> Tensor:
        """The permuted ``[B, 2^n]`` states (or, ``adjoint``, a gradient pulled back), new tensor."""
        out = torch.empty_like(states)
        _kernels.permute(
            states.dtype == torch.complex128,
            adjoint,
            states.data_ptr(),
            out.data_ptr(),
            self.perm.data_ptr(),
            _ptr(self.sign),
            states.shape[0],
            states.shape[1],
            torch.get_num_threads(),
        )
        return out


@dataclass(frozen=True)
class LayerTables:
    """A layer of single-qubit gates as the C builder reads it (see ``build_layer``).

    Angles come from a row of sources ``[weights | inputs | constants]`` when the layer reads
    inputs (one row per sample), else ``[weights | constants]`` (one shared row).
    """

    index: Tensor  # [R] int64 into the source row
    scale: Tensor  # [R] real
    generators: Tensor  # [R, 2, 2] complex: -i times the rotation's Pauli
    padding: Tensor | None  # [P, 2, 2] complex fixed gates (and identity); slot R + p
    step_index: Tensor  # [depth, n] int64 slot per (step, wire)
    constants: Tensor  # [C] real constant angles
    reads_inputs: bool
    wires: Tensor  # [k] int64: the wires with a gate (others stay untouched)

    @property
    def n_rotations(self) -> int:
        return self.index.numel()


@dataclass(frozen=True)
class NativePlan:
    """Product layer, then permutations and layers; probabilities of the final state."""

    n_qubits: int
    n_params: int
    n_inputs: int
    dtype: torch.dtype  # complex64 or complex128
    first: LayerTables
    steps: tuple  # of PermutationStep | LayerTables

    @property
    def is_double(self) -> bool:
        """complex128 kernels (else complex64)."""
        return self.dtype == torch.complex128


def _ptr(tensor: Tensor | None) -> int:
    return 0 if tensor is None else tensor.data_ptr()


class _BuiltLayer:
    """One layer's sources, rotation matrices and fused per-wire matrices for one call."""

    def __init__(
        self,
        tables: LayerTables,
        plan: NativePlan,
        weights: Tensor,
        inputs: Tensor | None,
        batch: int,
    ):
        self.tables, self.n = tables, plan.n_qubits
        self.is_double = plan.is_double
        if tables.reads_inputs:
            parts = [weights.expand(batch, -1), inputs, tables.constants.expand(batch, -1)]
        else:
            parts = [weights[None], tables.constants[None]]
        self.sources = torch.cat(parts, dim=1).contiguous()
        samples = self.sources.shape[0]
        self.slots = torch.empty(samples, max(tables.n_rotations, 1), 2, 2, dtype=plan.dtype)
        self.mats = torch.empty(samples, self.n, 2, 2, dtype=plan.dtype)
        _kernels.build_layer(*self._table_args(), self.slots.data_ptr(), self.mats.data_ptr())

    @property
    def mat_stride(self) -> int:
        return 8 * self.n if self.mats.shape[0] > 1 else 0

    def _table_args(self) -> tuple:
        t = self.tables
        return (
            self.is_double,
            self.sources.data_ptr(),
            self.sources.shape[1] if self.sources.shape[0] > 1 else 0,
            self.sources.shape[0],
            t.index.data_ptr(),
            t.scale.data_ptr(),
            t.generators.data_ptr(),
            t.n_rotations,
            _ptr(t.padding),
            t.step_index.data_ptr(),
            t.step_index.shape[0],
            self.n,
        )

    def product_state(self, batch: int, threads: int) -> Tensor:
        """``[B, 2^n]``: each wire's matrices applied to |0⟩ (the plan's first layer)."""
        psi = torch.empty(batch, 2**self.n, dtype=self.mats.dtype)
        _kernels.product_state(
            self.is_double,
            self.mats.data_ptr(),
            self.mat_stride,
            batch,
            self.n,
            psi.data_ptr(),
            threads,
        )
        return psi

    def product_state_gradient(self, grad: Tensor, threads: int) -> Tensor:
        """dL/d(mats) of :meth:`product_state` from dL/d(state) ``grad``."""
        grad_mats = torch.zeros_like(self.mats)
        _kernels.product_state_backward(
            self.is_double,
            self.mats.data_ptr(),
            self.mat_stride,
            grad.shape[0],
            self.n,
            grad.data_ptr(),
            grad_mats.data_ptr(),
            threads,
        )
        return grad_mats

    def apply(self, psi: Tensor, threads: int) -> None:
        """In place: the layer's matrices on their wires."""
        _kernels.apply_wires(
            self.is_double,
            psi.data_ptr(),
            psi.shape[0],
            self.n,
            self.mats.data_ptr(),
            self.mat_stride,
            self.tables.wires.data_ptr(),
            self.tables.wires.numel(),
            threads,
        )

    def pull_back(self, state: Tensor, grad: Tensor, threads: int) -> Tensor:
        """Adjoint step, in place: ``state`` (the layer's output) becomes its input and ``grad``
        dL/d(input); returns dL/d(mats)."""
        grad_mats = torch.zeros_like(self.mats)
        _kernels.apply_wires_backward(
            self.is_double,
            state.data_ptr(),
            grad.data_ptr(),
            state.shape[0],
            self.n,
            self.mats.data_ptr(),
            self.mat_stride,
            self.tables.wires.data_ptr(),
            self.tables.wires.numel(),
            grad_mats.data_ptr(),
            threads,
        )
        return grad_mats

    def source_gradient(self, grad_mats: Tensor) -> Tensor:
        """dL/d(sources) from dL/d(mats): ``[samples, width]``."""
        grad_sources = torch.zeros_like(self.sources)
        _kernels.build_layer_backward(
            *self._table_args(),
            self.slots.data_ptr(),
            grad_mats.data_ptr(),
            grad_sources.data_ptr(),
        )
        return grad_sources


class NativeProbabilities(torch.autograd.Function):
    """Basis-state probabilities ``|ψ|²`` of a :class:`NativePlan`, ``[B, 2^n]`` real.

    ``forward(plan, batch, weights, inputs)``: ``weights`` ``[n_params]`` and ``inputs``
    ``[B, n_inputs]`` (or ``None``) real tensors of the plan's precision; gradients flow to both.
    """

    @staticmethod
    def forward(
        ctx, plan: NativePlan, batch: int, weights: Tensor, inputs: Tensor | None
    ) -> Tensor:
        weights = weights.contiguous()
        inputs = None if inputs is None else inputs.contiguous()
        keep_outputs = any(ctx.needs_input_grad)
        threads = torch.get_num_threads()
        first = _BuiltLayer(plan.first, plan, weights, inputs, batch)
        psi = first.product_state(batch, threads)
        layers, outputs = [], []
        for step in plan.steps:
            if isinstance(step, PermutationStep):
                psi = step.apply(psi, adjoint=False)
                continue
            layer = _BuiltLayer(step, plan, weights, inputs, batch)
            if keep_outputs:  # kept for backward, so the next layer must not overwrite it
                psi = psi.clone()
            layer.apply(psi, threads)
            layers.append(layer)
            outputs.append(psi)
        probs = torch.empty(psi.shape, dtype=weights.dtype)
        _kernels.probabilities(plan.is_double, psi.data_ptr(), probs.data_ptr(), probs.numel())
        ctx.plan, ctx.first, ctx.layers, ctx.outputs, ctx.final = plan, first, layers, outputs, psi
        return probs

    @staticmethod
    def backward(ctx, grad_probs: Tensor) -> tuple:
        if torch.is_grad_enabled():  # create_graph=True: a second derivative is coming
            raise CircuitError(
                "the native simulator backend gives first derivatives only; for a second derivative "
                "(e.g. a gradient penalty through a quantum layer) build it with backend='torch'"
            )
        plan: NativePlan = ctx.plan
        threads = torch.get_num_threads()
        grad_probs = grad_probs.contiguous()
        grad = torch.empty(grad_probs.shape, dtype=plan.dtype)
        _kernels.probabilities_backward(
            plan.is_double,
            ctx.final.data_ptr(),
            grad_probs.data_ptr(),
            grad.data_ptr(),
            grad.numel(),
        )
        source_grads: list[tuple[_BuiltLayer, Tensor]] = []
        position = len(ctx.layers)
        for step in reversed(plan.steps):
            if isinstance(step, PermutationStep):
                grad = step.apply(grad, adjoint=True)
                continue
            position -= 1
            layer = ctx.layers[position]
            # Uncomputed in place, so a copy: the saved one must serve a retained graph.
            grad_mats = layer.pull_back(ctx.outputs[position].clone(), grad, threads)
            source_grads.append((layer, layer.source_gradient(grad_mats)))
        first = ctx.first
        source_grads.append(
            (first, first.source_gradient(first.product_state_gradient(grad, threads)))
        )
        grad_weights = grad_inputs = None
        p, m = plan.n_params, plan.n_inputs
        for layer, grad_sources in source_grads:
            part = grad_sources[:, :p].sum(0)
            grad_weights = part if grad_weights is None else grad_weights + part
            if layer.tables.reads_inputs:
                part = grad_sources[:, p : p + m]
                grad_inputs = part if grad_inputs is None else grad_inputs + part
        if grad_inputs is None and ctx.needs_input_grad[3]:
            grad_inputs = torch.zeros(grad_probs.shape[0], m, dtype=grad_probs.dtype)
        return None, None, grad_weights, grad_inputs
