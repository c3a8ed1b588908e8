"""Each sample's product state after the prefix: the gates before a position's first two-qubit gate.

The noisy engine (:mod:`qcalo.quantum.density_matrix`) runs everything after the prefix once
for the whole batch; the prefix is where the samples differ (qcalo's input layer RY(x) and the
first weight rotations). Its chains are applied to |0⟩ column by column, per-sample matrices
only in the columns that hold an input angle (matrix-vector steps on ``B·n`` vectors, not
chain products of ``B·n·width`` matrices).

**Factored form.** Where every position's chain holds at most one input angle θ (always so
for the QAG), its state is ``L · RZ(θ) · R |0⟩`` with ``RZ(θ) = base + cos θ·C + sin θ·S`` in
Pauli-transfer form, so it lies in the span of three fixed vectors: ``v_b = u₀ + cos θ_b u₁ +
sin θ_b u₂``. :meth:`PrefixStates.factors` returns that basis ``[n, 3, 4]`` and the per-sample
coefficients ``[B, n, 3]``; contracting a pulled-back observable in this basis costs ``3^k``
instead of ``4^k`` per sample (:func:`qcalo.quantum.density_ops.reduce_local_basis`).
"""

from __future__ import annotations

import torch
from torch import Tensor

__all__ = ["PrefixStates"]


class PrefixStates:
    """Index tables of the prefix chains and the two ways to evaluate them.

    Args:
        prefix_index: ``[n, width]`` slots into the gate bank ``[shared | per-sample input RZ]``
            (padding points at slot 0, the identity).
        first_input: the first per-sample slot (``n_shared``); slot ``first_input + i`` is input angle ``i``.
        zero_state: ``[4]`` Pauli coefficients of |0⟩; ``rz``: the RZ PTM's (base, cos, sin) parts.
    """

    def __init__(self, prefix_index: Tensor, first_input: int, zero_state: Tensor, rz: tuple[Tensor, Tensor, Tensor]) -> None:
        self.index, self.zero_state, self.rz = prefix_index, zero_state, rz
        self.n, self.width = prefix_index.shape
        self.is_input = prefix_index >= first_input
        self.input_slot = torch.where(self.is_input, prefix_index - first_input, 0)
        self.shared_slot = torch.where(self.is_input, 0, prefix_index)
        self.column_has_input = self.is_input.any(dim=0).tolist()
        counts = self.is_input.sum(dim=1)
        self.factorable = bool((counts <= 1).all())
        self.has_input = counts > 0
        columns = torch.arange(self.width)
        first = torch.where(self.has_input, self.is_input.int().argmax(dim=1), self.width)  # its input column
        self.before = columns[None, :] < first[:, None]
        self.after = self.has_input[:, None] & (columns[None, :] > first[:, None])
        self.row_input_slot = self.input_slot.gather(1, first.clamp(max=self.width - 1)[:, None])[:, 0]

    def vectors(self, shared: Tensor, rz_b: Tensor, batch: int) -> Tensor:
        """Each sample's product state ``[B, n, 4]``."""
        state = self.zero_state.expand(batch, self.n, 4)
        for column in range(self.width):
            matrix = shared[self.shared_slot[:, column]]
            if self.column_has_input[column]:
                matrix = torch.where(self.is_input[:, column, None, None], rz_b[:, self.input_slot[:, column]], matrix)
            state = (matrix @ state[..., None])[..., 0]
        return state

    def factors(self, shared: Tensor, theta_b: Tensor) -> tuple[Tensor, Tensor]:
        """``(basis [n, 3, 4], coefficients [B, n, 3])`` with state ``Σ_j c_j basis_j`` (needs
        :attr:`factorable`); ``theta_b`` ``[B, n_inputs]`` are the input RZ angles."""
        base, cos, sin = self.rz
        before_input = self.zero_state.expand(self.n, 4)
        basis = before_input.new_zeros(self.n, 3, 4)
        for column in range(self.width):
            matrix = shared[self.shared_slot[:, column]]
            if self.column_has_input[column]:
                split = torch.stack([before_input @ base.T, before_input @ cos.T, before_input @ sin.T], dim=1)
                basis = torch.where(self.is_input[:, column, None, None], split, basis)
            basis = torch.where(self.after[:, column, None, None], basis @ matrix.mT, basis)
            before_input = torch.where(self.before[:, column, None], (matrix @ before_input[..., None])[..., 0], before_input)
        plain = torch.stack([before_input, torch.zeros_like(before_input), torch.zeros_like(before_input)], dim=1)
        basis = torch.where(self.has_input[:, None, None], basis, plain)  # no input: the state itself
        angles = theta_b[:, self.row_input_slot]  # [B, n]
        coefficients = torch.stack([torch.ones_like(angles), torch.cos(angles), torch.sin(angles)], dim=-1)
        constant = coefficients.new_tensor([1.0, 0.0, 0.0])
        return basis, torch.where(self.has_input[None, :, None], coefficients, constant)
