"""What a GAN's E_tot χ²/NDF must be read against: its standard error and two trivial baselines.

* **Standard error** — bootstrap: both samples resampled with replacement per energy, the
  statistic recomputed (``n_boot`` times, seeded); the spread of the "all energies" value.
  Resampling adds its own fluctuation, so this is a conservative error.
* **Real-vs-real floor** — the same statistic between two disjoint real samples at the same
  energies (the validation and the test part): what a perfect generator scores on average.
* **Gaussian baseline** — per energy, a normal distribution with the training E_tot's mean and
  standard deviation, sampled as often as the reference holds showers: a generator that only
  learned the response and resolution, not the shape of the distribution.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from qcalo.metrics.etot_chi2 import etot_chi2_by_energy

__all__ = ["bootstrap_chi2_se", "gaussian_etot"]


def bootstrap_chi2_se(
    generated_energies: npt.ArrayLike,
    generated_etot: npt.ArrayLike,
    reference_energies: npt.ArrayLike,
    reference_etot: npt.ArrayLike,
    *,
    n_boot: int = 100,
    seed: int = 0,
) -> float:
    """Bootstrap standard error of the "all energies" χ²/NDF of :func:`etot_chi2_by_energy`."""
    rng = np.random.default_rng(seed)
    gen_e, gen_t = np.ravel(generated_energies), np.ravel(generated_etot)
    ref_e, ref_t = np.ravel(reference_energies), np.ravel(reference_etot)
    values = []
    for _ in range(n_boot):
        g = _resample_per_energy(gen_e, rng)
        r = _resample_per_energy(ref_e, rng)
        values.append(etot_chi2_by_energy(gen_e[g], gen_t[g], ref_e[r], ref_t[r]).reduced)
    return float(np.std(values, ddof=1))


def gaussian_etot(
    train_energies: npt.ArrayLike, train_etot: npt.ArrayLike, energies: npt.ArrayLike, *, seed: int = 0
) -> np.ndarray:
    """One E_tot per entry of ``energies``: normal with the training mean and std at that energy."""
    rng = np.random.default_rng(seed)
    train_e, train_t = np.ravel(train_energies), np.ravel(train_etot)
    energies = np.ravel(energies)
    out = np.empty(len(energies))
    for energy in np.unique(energies):
        rows = energies == energy
        sample = train_t[np.isclose(train_e, energy, rtol=1e-9, atol=0)]
        out[rows] = rng.normal(sample.mean(), sample.std(ddof=1), rows.sum())
    return out


def _resample_per_energy(energies: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Row indices drawn with replacement within each energy (so every energy keeps its count)."""
    parts = []
    for energy in np.unique(energies):
        rows = np.flatnonzero(energies == energy)
        parts.append(rng.choice(rows, size=len(rows), replace=True))
    return np.concatenate(parts)
