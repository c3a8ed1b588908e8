"""Fit the constants of qcalo's synthetic CLIC shower model to the real clic8 training split.

Usage::

    python benchmarks/calibrate_synthetic.py [--real PATH] [--n-events 40000] [--seed 321]

The fit draws one fixed set of standard random numbers (common random numbers, so the
objective is a smooth deterministic function of the constants), then runs
``scipy.optimize.least_squares`` over the mismatch of the 8 per-pixel means and stds
(relative, in units of the 10 % tolerance) and the 28 off-diagonal Pearson correlations
(absolute, in units of the 0.1 tolerance), starting from the shipped constants. A second
pass minimises the sum of the residuals' 8th powers, a smooth stand-in for the worst
residual, which is what the tolerances bound. It prints the fitted
:class:`~qcalo.data.synthetic.ShowerModel`, to be pasted into ``src/qcalo/data/synthetic.py``,
and the deviations of a fresh sample.
"""

from __future__ import annotations

import argparse
import dataclasses
from pathlib import Path

import h5py
import numpy as np
from scipy.optimize import least_squares

from qcalo.data.clic_recipe import profile_to_pixels
from qcalo.data.synthetic import (
    CLIC_SHOWER_MODEL,
    ShowerModel,
    StandardDraws,
    draw_standard,
    layer_profiles,
    synthetic_clic,
)

__all__ = ["FITTED", "deviations", "fit", "residuals"]

DEFAULT_REAL = (
    Path(__file__).resolve().parents[2] / "shared" / "data" / "clic8" / "clic_8px_train.h5"
)
MEAN_TOL, STD_TOL, CORR_TOL = 0.10, 0.10, 0.10

# Constants that are fitted, with (lower, upper) bounds; the others stay at their defaults.
FITTED: dict[str, tuple[float, float]] = {
    "calibration": (0.5, 2.5),
    "thick_plate_window": (0.2, 1.0),
    "front_x0": (0.0, 5.0),
    "tmax_offset_x0": (-4.0, 5.0),
    "alpha_250": (1.5, 30.0),
    "log_tmax_sd": (0.0, 0.5),
    "log_alpha_sd": (0.0, 0.5),
    "log_corr": (-0.99, 0.99),
    "delayed_exponent": (0.01, 10.0),
    "conversion_x0": (0.05, 6.0),
    "sampling_gev": (0.0, 2.0),
}


def summary(pixels: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per-pixel mean, std and the Pearson matrix of ``pixels`` ``[n, N]``."""
    return pixels.mean(axis=0), pixels.std(axis=0), np.corrcoef(pixels, rowvar=False)


def deviations(fake: np.ndarray, real: np.ndarray) -> dict[str, float]:
    """Worst relative mean and std deviation and worst absolute correlation deviation."""
    (m_f, s_f, c_f), (m_r, s_r, c_r) = summary(fake), summary(real)
    return {
        "mean_rel": float(np.max(np.abs(m_f / m_r - 1))),
        "std_rel": float(np.max(np.abs(s_f / s_r - 1))),
        "corr_abs": float(np.max(np.abs(c_f - c_r))),
        "rowsum_mean_rel": float(abs(fake.sum(1).mean() / real.sum(1).mean() - 1)),
        "rowsum_std_rel": float(abs(fake.sum(1).std() / real.sum(1).std() - 1)),
    }


def model_from(values: np.ndarray) -> ShowerModel:
    """The default model with the constants in :data:`FITTED` replaced by ``values``."""
    return dataclasses.replace(
        CLIC_SHOWER_MODEL, **dict(zip(FITTED, map(float, values), strict=True))
    )


def residuals(values: np.ndarray, draws: StandardDraws, real: np.ndarray) -> np.ndarray:
    """Mismatch vector in units of the tolerances."""
    _, profile = layer_profiles(draws, model_from(values))
    (m_f, s_f, c_f), (m_r, s_r, c_r) = (
        summary(profile_to_pixels(profile, real.shape[1])),
        summary(real),
    )
    upper = np.triu_indices(real.shape[1], k=1)
    return np.concatenate(
        [(m_f / m_r - 1) / MEAN_TOL, (s_f / s_r - 1) / STD_TOL, (c_f - c_r)[upper] / CORR_TOL]
    )


def fit(real: np.ndarray, n_events: int, seed: int, *, stages: int = 2) -> ShowerModel:
    """Least squares on the mismatch, then on its 8th power (a smooth stand-in for the worst)."""
    draws = draw_standard(n_events, seed)
    lower, upper = np.array(list(FITTED.values())).T
    values = np.clip([getattr(CLIC_SHOWER_MODEL, name) for name in FITTED], lower, upper)
    for power in (1, 4)[:stages]:

        def powered(trial: np.ndarray, power: int = power) -> np.ndarray:
            mismatch = residuals(trial, draws, real)
            return np.sign(mismatch) * np.abs(mismatch) ** power

        result = least_squares(powered, values, bounds=(lower, upper), diff_step=1e-3, verbose=1)
        values = result.x
        worst = np.abs(residuals(values, draws, real)).max()
        print(f"stage |r|^{2 * power}: worst residual {worst:.3f} tolerance units")
    return model_from(values)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--real", type=Path, default=DEFAULT_REAL, help="clic_8px_train.h5")
    parser.add_argument("--n-events", type=int, default=40000, help="events per trial sample")
    parser.add_argument("--seed", type=int, default=321, help="seed of the fixed draws")
    parser.add_argument("--stages", type=int, default=2, help="1: least squares only")
    args = parser.parse_args()
    with h5py.File(args.real, "r") as handle:
        real = handle["x"][()]
    model = fit(real, args.n_events, args.seed, stages=args.stages)
    print("CLIC_SHOWER_MODEL = ShowerModel(")
    for field in dataclasses.fields(model):
        print(f"    {field.name}={getattr(model, field.name):.4g},")
    print(")")
    _, profile = layer_profiles(draw_standard(len(real), seed=0), model)
    print("fresh sample vs real:", deviations(profile_to_pixels(profile, 8), real))
    print("shipped model vs real:", deviations(synthetic_clic(len(real), seed=0), real))


if __name__ == "__main__":
    main()
