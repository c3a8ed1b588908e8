"""``QuantumLayer``: a circuit as a ``torch.nn.Module`` with one flat trainable weight vector.

The layer owns the circuit's trainable angles as one ``weight`` Parameter ``[n_params]`` and
maps per-sample inputs ``[B, n_inputs]`` to per-qubit ⟨Z_i⟩ ``[B, n_qubits]``: exact, or
estimated from ``shots`` measured bitstrings (``sampling`` joint or marginal). Shot
estimates carry the exact expectation's gradient straight through, so a model trained by
gradients sees the same shot-noisy values as one trained without.

The engine (:mod:`qcalo.quantum.engine`) is chosen once, at construction, from ``backend``
and re-bound when the module moves: ``.to(dtype)``/``.double()``/``.float()`` recompile at
the matching precision (float32 ↔ complex64, float64 ↔ complex128); a move to CUDA
re-resolves ``"auto"`` to the torch engine, and refuses in one line for ``"native"``. The
forward path is a validation, one engine call and one matmul: it is on every training step
of small hybrid batches (10 qubits, B = 10: ~0.6 ms forward + backward).

Example:
    >>> import torch
    >>> from qcalo.quantum.circuit import Angle, Circuit
    >>> layer = QuantumLayer(Circuit(2).ry(0, Angle.input(0)).ry(1, Angle.param(0)), init_seed=0)
    >>> layer(torch.zeros(3, 1)).shape
    torch.Size([3, 2])
"""

from __future__ import annotations

import numpy as np
import torch
from torch import Tensor

from qcalo.exceptions import CircuitError
from qcalo.quantum.circuit import Circuit
from qcalo.quantum.engine import resolve_backend
from qcalo.quantum.sampling import SamplingMode, check_sampling, check_shots, shot_estimates
from qcalo.quantum.simulator import StatevectorSimulator

__all__ = ["QuantumLayer"]

_COMPLEX_OF = {
    torch.float32: torch.complex64,
    torch.float64: torch.complex128,
    torch.complex64: torch.complex64,
    torch.complex128: torch.complex128,
}
_DEFAULT = object()  # "use the layer's setting" (None means exact, so it cannot mark that)


class QuantumLayer(torch.nn.Module):
    """A circuit with per-sample inputs and one flat trainable ``weight`` ``[n_params]``.

    Args:
        circuit: the circuit (its ``n_params`` weights are this layer's parameter).
        dtype: simulation precision: ``torch.complex64``/``float32`` (fast) or
            ``torch.complex128``/``float64`` (default); the weight is the real counterpart.
        device: where the weight and the simulation live.
        backend: ``"auto"`` (C kernels on the CPU when built, else torch), ``"torch"``
            (any device, higher derivatives) or ``"native"`` (CPU, first derivatives).
        shots: shots per sample for ⟨Z⟩ estimates; ``None`` (default) for exact values.
        sampling: ``"joint"`` (full bitstrings, as hardware) or ``"marginal"`` per qubit.
        init_seed: ``None`` draws the initial weights from torch's global generator (as
            torch layers do); an integer seeds NumPy's ``default_rng`` (reproducible).
        init_spread: standard deviation of the initial weights around 0 (near-identity).

    Raises:
        CircuitError: bad dtype, backend, shots or sampling, or a gate no engine runs.
    """

    def __init__(
        self,
        circuit: Circuit,
        *,
        dtype: torch.dtype = torch.complex128,
        device: torch.device | str = "cpu",
        backend: str = "auto",
        shots: int | None = None,
        sampling: SamplingMode = "joint",
        init_seed: int | None = None,
        init_spread: float = 0.1,
    ) -> None:
        super().__init__()
        if dtype not in _COMPLEX_OF:
            raise CircuitError(f"dtype {dtype} is not supported; use torch.complex64/float32 or complex128/float64")
        self.circuit = circuit
        self.backend = backend
        self.shots = None if shots is None else check_shots(shots)
        self.sampling = check_sampling(sampling)
        self.simulator = StatevectorSimulator(circuit, dtype=_COMPLEX_OF[dtype], device=device, backend=backend)
        if init_seed is None:
            start = torch.randn(circuit.n_params, dtype=torch.float64) * init_spread
        else:
            start = torch.from_numpy(np.random.default_rng(init_seed).normal(0.0, init_spread, circuit.n_params))
        self.weight = torch.nn.Parameter(start.to(self.simulator.real_dtype).to(self.simulator.device))

    # -- facts ------------------------------------------------------------------------
    @property
    def n_qubits(self) -> int:
        return self.circuit.n_qubits

    @property
    def n_params(self) -> int:
        return self.circuit.n_params

    @property
    def n_inputs(self) -> int:
        return self.circuit.n_inputs

    @property
    def real_dtype(self) -> torch.dtype:
        """The weight's (and ⟨Z⟩'s) dtype: float32 for complex64, float64 for complex128."""
        return self.simulator.real_dtype

    @property
    def engine_name(self) -> str:
        """The engine the layer runs now: ``"torch"`` or ``"native"``."""
        return self.simulator.backend

    @property
    def live_weights(self) -> Tensor:
        """``[n_params]`` bool: weights ⟨Z⟩ reads. The others (e.g. RZ right before the
        measurement) provably cannot change any output: their gradients are exact zeros."""
        return self.simulator.plan.live_params.clone()

    def extra_repr(self) -> str:
        return (
            f"n_qubits={self.n_qubits}, n_params={self.n_params}, n_inputs={self.n_inputs}, "
            f"shots={self.shots}, sampling={self.sampling!r}, engine={self.engine_name!r}"
        )

    # -- computation --------------------------------------------------------------------
    def forward(
        self,
        inputs: Tensor | None = None,
        *,
        batch_size: int | None = None,
        generator: torch.Generator | None = None,
        shots: int | None | object = _DEFAULT,
        sampling: SamplingMode | None = None,
    ) -> Tensor:
        """⟨Z_i⟩ ``[B, n_qubits]`` for inputs ``[B, n_inputs]`` (``None`` with ``batch_size``
        when the circuit reads none). ``shots``/``sampling`` override the layer's settings
        (``shots=None``: exact); ``generator`` seeds the shots."""
        return self.evaluate(
            self.weight, inputs, batch_size=batch_size, generator=generator, shots=shots, sampling=sampling
        )

    def evaluate(
        self,
        weights: Tensor,
        inputs: Tensor | None = None,
        *,
        batch_size: int | None = None,
        generator: torch.Generator | None = None,
        shots: int | None | object = _DEFAULT,
        sampling: SamplingMode | None = None,
    ) -> Tensor:
        """:meth:`forward` with explicit ``weights`` ``[n_params]`` instead of the parameter
        (functional form: for optimizers that own the weight vector, e.g. gradient-free ones)."""
        simulator = self.simulator
        weights, inputs, batch = simulator.arguments(weights, inputs, batch_size)
        engine = simulator.engine
        probs = engine.readout_probabilities(weights, inputs, batch)
        shots = self.shots if shots is _DEFAULT else shots
        if shots is None:
            return probs @ engine.readout_signs
        sampling = self.sampling if sampling is None else sampling
        estimates = shot_estimates(probs, engine.readout_signs, shots, generator, sampling)
        if not probs.requires_grad:
            return estimates
        # Straight-through: the shot values (bit-identical: exact − exact is exactly 0) with
        # the exact expectation's gradient.
        exact = probs @ engine.readout_signs
        return estimates + (exact - exact.detach())

    # -- moves --------------------------------------------------------------------------
    def _apply(self, fn, recurse: bool = True):
        """Move/cast the weight, then re-bind the engine to the new device and precision.

        Checked before anything moves, so a refused move leaves the layer as it was.
        """
        probe = fn(torch.empty(0, dtype=self.weight.dtype, device=self.weight.device))
        if isinstance(probe, Tensor) and (probe.dtype, probe.device) != (self.weight.dtype, self.weight.device):
            if probe.dtype not in (torch.float32, torch.float64):
                raise CircuitError(f"a QuantumLayer cannot run in {probe.dtype}; use float32 or float64")
            resolve_backend(self.backend, probe.device)  # native on CUDA: one line, nothing moved
            rebound = StatevectorSimulator(
                self.circuit, dtype=_COMPLEX_OF[probe.dtype], device=probe.device, backend=self.backend
            )
            result = super()._apply(fn, recurse)
            self.simulator = rebound
            return result
        return super()._apply(fn, recurse)
