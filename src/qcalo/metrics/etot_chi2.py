"""FastCaloGAN's checkpoint metric: χ²/NDF of the total-energy (E_tot) distribution.

Exactly as the public CaloChallenge port computes it (``training/evaluate.py`` of
chnzhangrui/funcXtraining, functions ``plot_Etot`` and ``chi2testWW``; notes/fastcalogan.md §5):

1. Work in **GeV** (E_tot / 1000). E_tot is the plain voxel sum: the port applies no readout
   threshold to it (``HighLevelFeatures.CalculateFeatures`` with its default threshold 0).
2. Range from the **reference** sample with med = median,
   ``high = med + min(|max − med|, 2·|q95 − med|, 10·|q84 − med|)`` and
   ``low = med − min(|min − med|, 2·|q05 − med|, 10·|q84 − med|)`` (the low side really uses
   q84 in the public code; kept for fidelity). Quantiles are numpy's default (linear).
3. Edges: with w = (high − low)/30, the **30 values** ``linspace(low + w/2, high − w/2, 30)``
   rounded to 3 decimals (quickstats ``get_bins_given_edges``), so **29 bins** of width w.
4. Both samples are clipped into [first edge, last edge] (overflow folded into the edge bins)
   and histogrammed as raw counts with √count errors.
5. χ² of the two histograms, ROOT ``TH1::Chi2Test`` option "WW" (checked against ROOT's
   ``Chi2TestX``: the weighted–weighted branch is the same sum):
   χ² = Σ_i (W1·y2_i − W2·y1_i)² / (W1²·y2_i + W2²·y1_i), bins empty in both skipped, and
   **NDF = bins − 1 − (bins empty in both)**. This is :func:`qcalo.metrics.histograms.chi2_ww`,
   reused here.
6. Per energy χ²/NDF; **"All" = Σ_E χ²_E / Σ_E NDF_E** (not a mean of ratios).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from qcalo.exceptions import QcaloError, ShapeError
from qcalo.metrics.histograms import chi2_ww

__all__ = [
    "EDGE_DECIMALS",
    "N_EDGES",
    "RANGE_FACTORS",
    "EtotChi2",
    "etot_chi2",
    "etot_chi2_by_energy",
    "etot_edges",
    "etot_histograms",
]

N_EDGES = 30
"""Number of edge values of the public code (30 edges = 29 bins)."""
RANGE_FACTORS = (2.0, 10.0)
"""Multipliers of |q95 − med| (|q05 − med|) and |q84 − med| in the range (``range_factor``)."""
EDGE_DECIMALS = 3
"""Edges are rounded to this many decimals in GeV."""
_MEV_PER_GEV = 1000.0


@dataclass(frozen=True)
class EtotChi2:
    """χ² of E_tot per incident energy and over all of them.

    Attributes:
        per_energy: ``{incident energy (MeV): (χ², NDF)}`` in increasing energy.
        chi2: Σ χ² over energies.
        ndf: Σ NDF over energies.
    """

    per_energy: dict[float, tuple[float, int]]
    chi2: float
    ndf: int

    @property
    def reduced(self) -> float:
        """"All energies" χ²/NDF = Σχ² / ΣNDF (``nan`` when ΣNDF = 0)."""
        return self.chi2 / self.ndf if self.ndf > 0 else math.nan

    @property
    def per_energy_reduced(self) -> dict[float, float]:
        """``{energy: χ²/NDF}`` (``nan`` where NDF = 0)."""
        return {e: (c / n if n > 0 else math.nan) for e, (c, n) in self.per_energy.items()}


def etot_edges(
    reference_etot: npt.ArrayLike,
    *,
    n_edges: int = N_EDGES,
    range_factors: tuple[float, float] = RANGE_FACTORS,
    decimals: int = EDGE_DECIMALS,
) -> np.ndarray:
    """The public code's bin edges (GeV) from the reference E_tot sample (MeV).

    Args:
        reference_etot: ``[n]`` reference total energies in MeV.
        n_edges: number of edge values (30 → 29 bins).
        range_factors: multipliers of the q95/q05 and q84 distances from the median.
        decimals: rounding of the edges in GeV.

    Returns:
        ``[n_edges]`` strictly increasing edges in GeV.

    Raises:
        ShapeError: if the sample is not a non-empty 1-D array.
        QcaloError: on NaN/inf, or a reference without enough spread for distinct edges.
    """
    etot = _sample(reference_etot, "reference_etot") / _MEV_PER_GEV
    median = np.median(etot)
    far, near = range_factors
    high = median + min(
        abs(np.max(etot) - median),
        abs(np.quantile(etot, q=1 - 0.05) - median) * far,
        abs(np.quantile(etot, q=1 - 0.16) - median) * near,
    )
    low = median - min(
        abs(np.min(etot) - median),
        abs(np.quantile(etot, q=0.05) - median) * far,
        abs(np.quantile(etot, q=1 - 0.16) - median) * near,  # q84 on the low side, as published
    )
    width = (high - low) / n_edges
    edges = np.around(np.linspace(low + width / 2, high - width / 2, n_edges), decimals)
    if not np.all(np.diff(edges) > 0):
        raise QcaloError(
            f"the reference E_tot spans {low * 1e3:.4g}–{high * 1e3:.4g} MeV, too narrow for "
            f"{n_edges} distinct edges at {decimals} decimals of GeV; use a reference with spread"
        )
    return edges


def etot_histograms(
    generated_etot: npt.ArrayLike, reference_etot: npt.ArrayLike
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(edges in GeV, generated counts, reference counts)`` with overflow folded in."""
    edges = etot_edges(reference_etot)
    counts = []
    for values, name in ((generated_etot, "generated_etot"), (reference_etot, "reference_etot")):
        gev = _sample(values, name) / _MEV_PER_GEV
        counts.append(np.histogram(np.clip(gev, edges[0], edges[-1]), bins=edges)[0])
    return edges, counts[0], counts[1]


def etot_chi2(generated_etot: npt.ArrayLike, reference_etot: npt.ArrayLike) -> tuple[float, int]:
    """FastCaloGAN χ² and NDF of one energy's E_tot distributions (both in MeV).

    Args:
        generated_etot: ``[n]`` generated total energies (MeV).
        reference_etot: ``[m]`` reference (Geant4) total energies (MeV); defines the range.

    Returns:
        ``(χ², NDF)``; χ²/NDF is the per-energy number of the public code.

    Raises:
        ShapeError: if a sample is not a non-empty 1-D array.
        QcaloError: on NaN/inf or a reference without spread.
    """
    _, generated, reference = etot_histograms(generated_etot, reference_etot)
    return chi2_ww(reference, generated)


def etot_chi2_by_energy(
    generated_energies: npt.ArrayLike,
    generated_etot: npt.ArrayLike,
    reference_energies: npt.ArrayLike,
    reference_etot: npt.ArrayLike,
    *,
    energies: Sequence[float] | None = None,
) -> EtotChi2:
    """Per-energy χ² and the "all energies" Σχ²/ΣNDF of the public code.

    Args:
        generated_energies: ``[n]`` (or ``[n, 1]``) incident energy of each generated shower.
        generated_etot: ``[n]`` its total energy (MeV).
        reference_energies: ``[m]`` incident energy of each reference shower.
        reference_etot: ``[m]`` its total energy (MeV).
        energies: the incident energies to compare; default: every energy in the reference.

    Returns:
        :class:`EtotChi2`.

    Raises:
        ShapeError: if energies and E_tot differ in length.
        QcaloError: if an energy has no generated or no reference showers.
    """
    gen_e, gen_t = _paired(generated_energies, generated_etot, "generated")
    ref_e, ref_t = _paired(reference_energies, reference_etot, "reference")
    chosen = sorted(float(e) for e in (np.unique(ref_e) if energies is None else energies))
    per_energy: dict[float, tuple[float, int]] = {}
    for energy in chosen:
        gen_rows = np.isclose(gen_e, energy, rtol=1e-9, atol=0)
        ref_rows = np.isclose(ref_e, energy, rtol=1e-9, atol=0)
        for rows, name in ((gen_rows, "generated"), (ref_rows, "reference")):
            if not rows.any():
                raise QcaloError(
                    f"no {name} showers at {energy:g} MeV; generate/select every compared energy"
                )
        per_energy[energy] = etot_chi2(gen_t[gen_rows], ref_t[ref_rows])
    return EtotChi2(
        per_energy=per_energy,
        chi2=float(sum(c for c, _ in per_energy.values())),
        ndf=int(sum(n for _, n in per_energy.values())),
    )


def _paired(energies: npt.ArrayLike, etot: npt.ArrayLike, name: str) -> tuple[np.ndarray, np.ndarray]:
    e = np.asarray(energies, dtype=np.float64)
    if e.ndim == 2 and e.shape[1] == 1:
        e = e[:, 0]
    t = _sample(etot, f"{name}_etot")
    if e.shape != t.shape:
        raise ShapeError(
            f"{name}: {e.shape} incident energies for {t.shape} E_tot values; pass one of each "
            "per shower"
        )
    return e, t


def _sample(values: npt.ArrayLike, name: str) -> np.ndarray:
    sample = np.asarray(values, dtype=np.float64)
    if sample.ndim == 2 and sample.shape[1] == 1:
        sample = sample[:, 0]
    if sample.ndim != 1 or sample.size == 0:
        raise ShapeError(f"{name} has shape {sample.shape}; expected a non-empty 1-D sample [n]")
    if not np.all(np.isfinite(sample)):
        raise QcaloError(f"{name} holds NaN/inf values; drop those showers first")
    return sample
