"""Circuit → :class:`~qcalo.quantum.plan.CompiledPlan`: scheduling, layer tables, readout plan.

The gate DAG is scheduled once (gates on disjoint wires commute) into a short list of
stages: a layer of every ready single-qubit gate, then a run of every ready two-qubit gate
(composed into one signed permutation), and so on. A brick of ``CNOT·RY·CNOT`` couplings
written pair by pair thus costs one layer and two runs, not one of each per pair. Runs of
weight-only stages are then fused (:mod:`qcalo.quantum.fusion`).

For Z-basis readout a second, shorter plan is kept: the trailing permutation moves into the
Z-sign table and trailing RZ gates (diagonal, so without effect on any probability) are
dropped. Every gate's matrix, generator or basis map comes from :mod:`qcalo.quantum.gates`;
a gate the engines cannot run (a two-qubit gate that is not a signed permutation) is refused
here, in one line.
"""

from __future__ import annotations

import math
from collections import deque

import torch
from torch import Tensor

from qcalo.exceptions import CircuitError
from qcalo.quantum.circuit import AngleSource, Circuit, Gate, Op
from qcalo.quantum.fusion import MAX_GROUP_WIRES, fuse
from qcalo.quantum.gates import GATES
from qcalo.quantum.plan import (
    CompiledPlan,
    Permutation,
    SingleQubitLayer,
    Stage,
    WireGroup,
    signed_permutation,
    wire_group,
    z_signs,
)

__all__ = ["check_runnable", "compile_circuit"]

_IDENTITY = ((1, 0), (0, 1))


def compile_circuit(
    circuit: Circuit, dtype: torch.dtype = torch.complex128, device: torch.device | str = "cpu"
) -> CompiledPlan:
    """The circuit's plan at precision ``dtype`` (complex64/complex128) on ``device``.

    Raises:
        CircuitError: for a dtype other than complex64/complex128, or a gate no engine runs.
    """
    if dtype not in (torch.complex64, torch.complex128):
        raise CircuitError(f"dtype {dtype} is not supported; use torch.complex64 or torch.complex128")
    check_runnable(circuit)
    return _Compiler(circuit, dtype, torch.device(device)).plan()


def check_runnable(circuit: Circuit) -> None:
    """Refuse, in one line, a gate the engines cannot run."""
    for op in circuit.ops:
        spec = GATES[op.gate]
        if spec.n_qubits == 1 and (spec.is_rotation or spec.matrix is not None):
            continue
        if spec.is_signed_permutation:
            continue
        raise CircuitError(
            f"gate {spec.name!r} on {op.wires} cannot be simulated: the engines run single-qubit "
            "gates and two-qubit signed permutations only; rewrite it in those (e.g. CNOT and rotations)"
        )


class _Compiler:
    """One compilation: the circuit's facts and the precision and device of the tables."""

    def __init__(self, circuit: Circuit, dtype: torch.dtype, device: torch.device) -> None:
        self.circuit, self.n_qubits = circuit, circuit.n_qubits
        self.n_params, self.n_inputs = circuit.n_params, circuit.n_inputs
        self.dtype, self.device = dtype, device
        self.real_dtype = torch.float64 if dtype == torch.complex128 else torch.float32

    def plan(self) -> CompiledPlan:
        raw = self._schedule(self.circuit.ops)
        stages = self._fuse([self._build(kind, ops) for kind, ops in raw])
        readout_layers, perm, signs = self._readout(raw)
        readout_stages = self._fuse(readout_layers)
        pruned = frozenset(
            source
            for source in (AngleSource.PARAM, AngleSource.INPUT)
            if _reads(stages, source) and not _reads(readout_stages, source)
        )
        live = torch.zeros(self.n_params, dtype=torch.bool)
        for layer in readout_layers:
            if isinstance(layer, SingleQubitLayer):
                index = layer.source_index.cpu()
                live[index[index < self.n_params]] = True
        return CompiledPlan(
            self.n_qubits, self.n_params, self.n_inputs, self.dtype, self.device,
            stages, readout_stages, readout_layers, perm, signs, pruned, live,
        )  # fmt: skip

    def _fuse(self, stages: list[Stage]) -> list[Stage]:
        return fuse(stages, self.n_qubits, self._permutation, self.real_dtype, self.device)

    def _schedule(self, ops: list[Op]) -> list[tuple[str, list]]:
        """Alternating single-qubit layers and two-qubit runs (greedy over the gate DAG)."""
        queues: list[deque[int]] = [deque() for _ in range(self.n_qubits)]
        for index, op in enumerate(ops):
            for wire in op.wires:
                queues[wire].append(index)

        def take(index: int) -> Op:
            for wire in ops[index].wires:
                queues[wire].popleft()
            return ops[index]

        remaining = len(ops)
        plan: list[tuple[str, list]] = []
        while True:
            layer: list[list[Op]] = [[] for _ in range(self.n_qubits)]
            for wire, queue in enumerate(queues):
                while queue and len(ops[queue[0]].wires) == 1:
                    layer[wire].append(take(queue[0]))
            taken = sum(map(len, layer))
            if taken or not plan:  # the first stage is always the product layer
                plan.append(("layer", layer))
            run: list[Op] = []
            progress = True
            while progress:
                progress = False
                for queue in queues:
                    if queue and len(ops[queue[0]].wires) == 2 and all(
                        queues[w][0] == queue[0] for w in ops[queue[0]].wires
                    ):
                        run.append(take(queue[0]))
                        progress = True
            if run:
                plan.append(("run", run))
            remaining -= taken + len(run)
            if remaining == 0:
                return plan
            if not (taken or run):  # a DAG always has a ready gate; this would be a bug
                raise RuntimeError("circuit scheduling made no progress")

    def _build(self, kind: str, ops: list) -> SingleQubitLayer | Permutation:
        return self._single_qubit_layer(ops) if kind == "layer" else self._permutation(ops)

    def _readout(self, raw_plan: list[tuple[str, list]]) -> tuple[list[Stage], Tensor | None, Tensor]:
        """The stages ⟨Z⟩ needs, the folded trailing permutation, and the matching sign table.

        A trailing run of signed permutations only relabels basis states (and flips signs),
        so it moves into the Z-sign table; RZ gates with nothing but such runs after them are
        diagonal, so they cannot change any probability (their gradients are exactly zero)
        and are dropped. ``stages`` keeps everything, for the full state.
        """
        plan = [(kind, [list(w) for w in ops] if kind == "layer" else list(ops)) for kind, ops in raw_plan]
        trailing: list[Op] = []
        while True:
            while plan[-1][0] == "run":
                trailing = plan.pop()[1] + trailing
            layer = plan[-1][1]
            for wire_ops in layer:
                while wire_ops and wire_ops[-1].gate is Gate.RZ:
                    wire_ops.pop()
            if any(layer) or len(plan) == 1:
                break
            plan.pop()
        stages = [self._build(kind, ops) for kind, ops in plan]
        signs = z_signs(self.n_qubits, self.real_dtype, self.device)
        if not trailing:
            return stages, None, signs
        perm = self._permutation(trailing).perm
        inverse = torch.empty_like(perm)
        inverse[perm] = torch.arange(perm.numel(), device=perm.device)
        # probs_final[k] = probs_before[perm[k]], so Σ_k probs_final[k] z[k] = Σ_j probs_before[j] z[inverse[j]].
        return stages, perm, signs[inverse].contiguous()

    def _single_qubit_layer(self, per_wire: list[list[Op]]) -> SingleQubitLayer:
        n = self.n_qubits
        depth = max((len(w) for w in per_wire), default=0)
        by_step = [
            (step, wire, wire_ops[step])
            for step in range(depth)
            for wire, wire_ops in enumerate(per_wire)
            if step < len(wire_ops)
        ]
        rotations = [(s, w, op) for (s, w, op) in by_step if GATES[op.gate].is_rotation]
        fixed = [(s, w, op) for (s, w, op) in by_step if not GATES[op.gate].is_rotation]
        sources = frozenset(op.angle.source for (_s, _w, op) in rotations)
        uses_inputs = AngleSource.INPUT in sources
        constants = [op.angle.value for (_s, _w, op) in rotations if op.angle.source is AngleSource.CONST]
        # Source layout: weights, then inputs (if read), then constants.
        offset = {
            AngleSource.PARAM: 0,
            AngleSource.INPUT: self.n_params,
            AngleSource.CONST: self.n_params + (self.n_inputs if uses_inputs else 0),
        }
        index, scale, n_const = [], [], 0
        for _s, _w, op in rotations:
            if op.angle.source is AngleSource.CONST:
                index.append(offset[AngleSource.CONST] + n_const)
                n_const += 1
            else:
                index.append(offset[op.angle.source] + op.angle.index)
            scale.append(op.angle.scale)
        step_index = torch.full((max(depth, 1), n), len(by_step), dtype=torch.long)
        for slot, (step, wire, _op) in enumerate(rotations + fixed):
            step_index[step, wire] = slot
        padding = [GATES[op.gate].matrix for (_s, _w, op) in fixed]
        if bool((step_index == len(by_step)).any()):
            padding.append(_IDENTITY)
        dense = not padding  # every (step, wire) holds a rotation, in step-major order
        return SingleQubitLayer(
            source_index=torch.tensor(index, dtype=torch.long, device=self.device),
            source_scale=torch.tensor(scale, dtype=self.real_dtype, device=self.device),
            constants=torch.tensor(constants, dtype=self.real_dtype, device=self.device),
            sources=sources,
            generators=self._complex([GATES[op.gate].generator for (_s, _w, op) in rotations]).reshape(-1, 2, 2),
            padding=self._complex(padding).reshape(-1, 2, 2) if padding else None,
            step_index=None if dense else step_index.to(self.device),
            depth=max(depth, 1),
            groups=self._wire_groups(),
            active_wires=frozenset(wire for wire, wire_ops in enumerate(per_wire) if wire_ops),
        )

    def _wire_groups(self) -> list[WireGroup]:
        """Contiguous groups of ≤ ``MAX_GROUP_WIRES`` wires, one Kronecker block each."""
        n = self.n_qubits
        n_groups = math.ceil(n / MAX_GROUP_WIRES) if n > MAX_GROUP_WIRES else (2 if n >= 6 else 1)
        sizes = [n // n_groups + (1 if g < n % n_groups else 0) for g in range(n_groups)]
        groups, low = [], 0
        for size in sizes:
            groups.append(wire_group(low, size, self.device))
            low += size
        return groups

    def _permutation(self, run: list[Op]) -> Permutation:
        perm, sign = signed_permutation(run, self.n_qubits, self.real_dtype)
        return Permutation(perm.to(self.device), None if sign is None else sign.to(self.device), tuple(run))

    def _complex(self, values: list) -> Tensor:
        return torch.tensor(values, dtype=self.dtype, device=self.device)


def _reads(stages: list[Stage], source: AngleSource) -> bool:
    """Whether any single-qubit layer in ``stages`` takes an angle from ``source``."""
    return any(not isinstance(stage, Permutation) and source in stage.sources for stage in stages)
