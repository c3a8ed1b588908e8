"""The native engine: a compiled plan's readout run by the C kernels of :mod:`qcalo.quantum.native`.

CPU only, complex64/complex128, first derivatives (adjoint backward). It takes the
*unfused* readout stages: in C a per-wire layer pass costs less than the dense group blocks
the torch engine fuses. The kernels receive every gate as data — rotation generators, fixed
gate matrices (padding) and permutation tables, all from the gate catalogue through the
compiler — so a new gate needs no kernel change.
"""

from __future__ import annotations

import torch
from torch import Tensor

from qcalo.exceptions import CircuitError
from qcalo.quantum import native
from qcalo.quantum.engine import keep_pruned_gradients
from qcalo.quantum.plan import CompiledPlan, Permutation, SingleQubitLayer

__all__ = ["NativeEngine"]


class NativeEngine:
    """:class:`~qcalo.quantum.engine.Engine` on the C kernels (CPU, first derivatives only).

    A backward with ``create_graph=True`` raises one line asking for the torch engine.
    """

    name = "native"
    supports_higher_derivatives = False

    def __init__(self, plan: CompiledPlan) -> None:
        if not native.available() or plan.device.type != "cpu":
            raise CircuitError(
                f"the native engine needs the built C extension and the CPU (plan is on {plan.device}); "
                "use backend='torch'"
            )
        self.plan = plan
        self.device, self.real_dtype = plan.device, plan.real_dtype
        self.readout_perm, self.readout_signs = plan.readout_perm, plan.readout_signs
        first, *rest = plan.readout_layers
        steps = tuple(
            native.PermutationStep(stage.perm.contiguous(), stage.sign)
            if isinstance(stage, Permutation)
            else self._tables(stage)
            for stage in rest
        )
        self._native = native.NativePlan(
            plan.n_qubits, plan.n_params, plan.n_inputs, plan.dtype, self._tables(first), steps
        )

    def readout_probabilities(self, weights: Tensor, inputs: Tensor | None, batch: int) -> Tensor:
        probs = native.NativeProbabilities.apply(self._native, batch, weights, inputs)
        return keep_pruned_gradients(probs, self.plan.pruned_sources, weights, inputs)

    def _tables(self, layer: SingleQubitLayer) -> native.LayerTables:
        step_index = layer.step_index
        if step_index is None:  # dense: rotation slots in step-major order
            n = self.plan.n_qubits
            step_index = torch.arange(layer.depth * n).reshape(layer.depth, n)
        return native.LayerTables(
            index=layer.source_index.contiguous(),
            scale=layer.source_scale.contiguous(),
            generators=layer.generators.contiguous(),
            padding=None if layer.padding is None else layer.padding.contiguous(),
            step_index=step_index.contiguous(),
            constants=layer.constants.contiguous(),
            reads_inputs=layer.uses_inputs,
            wires=torch.tensor(sorted(layer.active_wires), dtype=torch.long),
        )
