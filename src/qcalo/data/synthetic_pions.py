"""Synthetic charged-pion showers on the exact CaloChallenge dataset-1 geometry (533 voxels).

A fast, seeded, parametric stand-in so that the Quantum FastCaloGAN pipeline runs offline.
It is *not* Geant4: it reproduces the published facts listed below and the qualitative energy
dependence of hadronic showers; everything else is a documented assumption.

Parametrization (per event, vectorized; energies in GeV inside, MeV in and out)
------------------------------------------------------------------------------
1. **Kinematics.** The file's incident energy is the momentum p; the shower has
   E_kin = √(p² + m²) − m, m = 139.6 MeV (facts §1: E_kin/p = 0.59 at 256 MeV).
2. **Depth.** The calorimeter is a list of depth segments in interaction lengths λ
   (:data:`SEGMENTS`: upstream material, presampler 0, EM layers 1–3, cryostat gap, Tile layers
   12–14; an approximation of the ATLAS barrel at |η| ≈ 0.2, *assumed*). The pion travels as
   a MIP (``mip_gev_per_lambda`` deposited per λ) to its first inelastic interaction at
   t₀ ~ Exp(``pion_lambda``), or stops after its range E_kin / dE/dx (low-energy pions range
   out in the EM layers, so layers 12/13 can be exactly empty — facts §2).
3. **EM fraction.** The shower energy E_sh = E_kin − MIP loss splits into an EM part
   f·E_sh and a hadronic part; ⟨f⟩ = 1 − (E_sh/E₀)^(k−1) (Groom's power law, E₀ = 1 GeV,
   k = 0.82, *assumed*), f ~ Beta with that mean and spread ``em_fraction_sd`` (0.12).
4. **Response.** EM energy is seen at scale 1 (EM-scale voxels, facts §6); hadronic energy at
   ``hadron_response`` h/e = 0.62 with an invisible-energy fluctuation of relative spread
   √(``hadron_granularity_gev`` / E_had). Energy in dead segments, behind the last layer and
   beyond the outermost r edge is lost (facts §5). Together this gives an energy-dependent
   response ⟨E_tot⟩/p rising from ≈ 0.5 at 256 MeV to ≈ 0.85 above 0.5 TeV; the pooled
   DS1-mix value is calibrated to the published ⟨E_tot⟩/⟨p⟩ ≈ 0.85 (facts §1).
5. **Longitudinal sharing.** From t₀ the EM part follows a gamma profile in radiation lengths
   (t_max = ln(E/E_c) − 0.5, E_c = 10 MeV, b = 0.5; X₀ = ``x0_lambda`` λ), the hadronic part a
   gamma profile in λ with maximum at 0.2·ln(E/GeV) + 0.7 λ and scale 0.6·E^0.13 λ (standard
   hadronic-shower parametrizations, *assumed*). Segment energies are exact differences of
   the gamma CDFs. Calibrated to the pooled shares of layer 0 (0.33 %) and layer 14
   (4.6 %) of E_tot (facts §2); the shower moves deeper (more layer 13/14) with energy.
6. **Radial core + halo.** In each layer, each component (MIP track, EM, hadronic) spreads with
   a 2-D core + halo profile w·e^{−r/R_c} + (1−w)·e^{−r/R_h} (:data:`LATERAL`), integrated
   exactly over the r bins (CDF 1 − (1 + r/R)e^{−r/R}). EM is narrow, hadronic wide, and the
   hadronic core weight grows by 0.08 per decade of hadronic energy (its π0 sub-showers), so
   the energy-weighted widths shrink with energy; layer-12 widths are of
   the published order 50–170 mm and layer-1 widths a few mm to ~40 mm (facts §4).
7. **α structure.** Each α-binned layer's shower axis is displaced by d ~ Rayleigh(σ_d) at a
   uniform angle; to first order in d/R a displaced exponential profile is the centred one
   times 1 + (d/R)·cos(α − α_d) (capped at 0.8), which moves the η/φ centres while keeping the
   layer energy. σ_d shrinks as 1/√E_layer. In addition, the hadronic energy of layers
   2, 12, 13 puts Poisson(1.5) "clumps" (5–25 % each) at r ~ Exp(``clump_r_mm``), uniform α —
   the far sub-showers that give the published layer-12/13 centres of a few hundred mm.
8. **Sampling and sparsity.** Each voxel's expected energy μ becomes Gamma(n, q) with
   n ~ Poisson(μ/q) quanta (q = 2 MeV in the EM layers, 10 MeV in Tile), so low-energy
   voxels are exactly 0 and the sparsity falls with incident energy; all values ≥ 0.

Speed: 1000 events ≈ 0.1 s on one core (``benchmarks/synthetic_pions_report.py`` prints it).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace

import numpy as np
import numpy.typing as npt
from scipy.special import gammainc

from qcalo.data.calochallenge import DS1_ENERGIES_MEV, Ds1Data, kinetic_energy
from qcalo.data.calochallenge_geometry import PION_GEOMETRY
from qcalo.data.calochallenge_subsets import Ds1Subset, make_subset, subset_spec
from qcalo.exceptions import ConfigError

__all__ = [
    "LATERAL",
    "SEGMENTS",
    "PionShowerModel",
    "synthetic_ds1_pions",
    "synthetic_pion_subset",
    "synthetic_pions",
]

SEGMENTS: tuple[tuple[float, float, int | None], ...] = (
    (0.00, 0.10, None),  # inner detector, solenoid, cryostat wall (lost)
    (0.10, 0.13, 0),  # presampler
    (0.13, 0.30, 1),  # EMB1 (strips)
    (0.30, 0.90, 2),  # EMB2
    (0.90, 1.00, 3),  # EMB3
    (1.00, 1.10, None),  # cryostat + gap between LAr and Tile (lost)
    (1.10, 2.60, 12),  # TileBar0 (A)
    (2.60, 6.30, 13),  # TileBar1 (BC)
    (6.30, 8.30, 14),  # TileBar2 (D); behind it: leakage
)
"""``(start, end, layer id or None for dead material)`` in interaction lengths (assumed)."""

LATERAL: dict[int, dict[str, tuple[float, float, float]]] = {
    # layer: {component: (core weight w, core R_c mm, halo R_h mm)}
    0: {"track": (1.0, 1.0, 1.0), "em": (0.7, 8.0, 40.0), "had": (0.5, 25.0, 90.0)},
    1: {"track": (1.0, 0.5, 0.5), "em": (0.8, 2.0, 12.0), "had": (0.5, 10.0, 50.0)},
    2: {"track": (1.0, 1.0, 1.0), "em": (0.8, 6.0, 25.0), "had": (0.5, 20.0, 80.0)},
    3: {"track": (1.0, 2.0, 2.0), "em": (0.7, 15.0, 50.0), "had": (0.5, 40.0, 120.0)},
    12: {"track": (1.0, 3.0, 3.0), "em": (0.7, 15.0, 50.0), "had": (0.6, 30.0, 90.0)},
    13: {"track": (1.0, 3.0, 3.0), "em": (0.7, 20.0, 60.0), "had": (0.6, 40.0, 110.0)},
    14: {"track": (1.0, 5.0, 5.0), "em": (0.7, 30.0, 80.0), "had": (0.6, 60.0, 150.0)},
}
"""Radial core + halo parameters per layer and component (assumed, tuned to facts §4)."""

_AXIS_SIGMA_MM = {1: 2.0, 2: 4.0, 12: 20.0, 13: 25.0}  # σ_d at 1 GeV in the layer
_CLUMP_LAYERS = (2, 12, 13)
_MAX_CLUMPS = 5


@dataclass(frozen=True)
class PionShowerModel:
    """Scalar parameters of the stand-in (see the module docstring for their roles)."""

    pion_mass_mev: float = 139.6
    pion_lambda: float = 1.2
    mip_gev_per_lambda: float = 0.20
    em_scale_e0_gev: float = 1.0
    em_power_k: float = 0.82
    em_fraction_sd: float = 0.12
    hadron_response: float = 0.72
    hadron_granularity_gev: float = 0.15
    hadron_scale_lambda: float = 0.68
    hadron_tmax_slope: float = 0.3
    albedo_fraction: float = 0.011
    x0_lambda: float = 0.035
    critical_energy_gev: float = 0.010
    clumps_mean: float = 1.5
    clump_r_mm: float = 180.0
    quantum_em_mev: float = 2.0
    quantum_tile_mev: float = 10.0


DEFAULT_MODEL = PionShowerModel()


def synthetic_pions(
    incident_energies: npt.ArrayLike,
    *,
    seed: int | np.random.Generator = 0,
    model: PionShowerModel = DEFAULT_MODEL,
    return_truth: bool = False,
) -> np.ndarray | tuple[np.ndarray, dict[str, np.ndarray]]:
    """Generate one shower per incident energy (momentum, MeV) on the 533-voxel geometry.

    Args:
        incident_energies: ``[n]`` or ``[n, 1]`` momenta in MeV (> 0).
        seed: seed or generator; the same seed and energies give the same showers.
        model: the parameters.
        return_truth: also return the hidden per-event variables: ``em_fraction`` (f),
            ``start_depth`` (t₀ in λ), ``ranged_out`` (the pion stopped without a shower) and
            ``hadronic_gev`` (its hadronic energy before the response).

    Returns:
        ``[n, 533]`` voxel energies in MeV, float64, ≥ 0 (and the truth dict if asked).
    """
    p = np.asarray(incident_energies, dtype=np.float64).reshape(-1)
    if p.size and (not np.all(np.isfinite(p)) or np.any(p <= 0)):
        raise ConfigError("incident energies must be finite and > 0 (MeV)")
    rng = seed if isinstance(seed, np.random.Generator) else np.random.default_rng(seed)
    e_kin = kinetic_energy(p, "pions") / 1000.0
    layer_energy, truth = _longitudinal(e_kin, rng, model)  # {layer: {component: [n] GeV}}
    showers = np.zeros((p.size, PION_GEOMETRY.n_voxels))
    for layer in PION_GEOMETRY.layers:
        cut = PION_GEOMETRY.layer_slice(layer)
        showers[:, cut] = _lateral(layer, layer_energy[layer], truth["hadronic_gev"], rng,
                                   model) * 1000.0
    showers = _sample_quanta(showers, rng, model)
    return (showers, truth) if return_truth else showers


def _longitudinal(
    e_kin: np.ndarray, rng: np.random.Generator, model: PionShowerModel
) -> tuple[dict[int, dict[str, np.ndarray]], dict[str, np.ndarray]]:
    """Energy (GeV) per layer and component: MIP track, EM, visible hadronic."""
    n = e_kin.size
    mip = model.mip_gev_per_lambda
    start = rng.exponential(model.pion_lambda, n)
    track_end = np.minimum(start, e_kin / mip)  # ranges out before interacting?
    showers = start < e_kin / mip
    e_shower = np.where(showers, e_kin - mip * track_end, 0.0)
    mean_f = 1.0 - np.power(np.maximum(e_shower, 1e-9) / model.em_scale_e0_gev,
                            model.em_power_k - 1.0)
    mean_f = np.clip(mean_f, 0.02, 0.95)
    sd_f = model.em_fraction_sd * np.clip(np.maximum(e_shower, 1e-9) / 10.0, 1.0, None) ** -0.1
    concentration = np.maximum(mean_f * (1 - mean_f) / sd_f**2 - 1.0, 1.5)
    f_em = rng.beta(mean_f * concentration, (1 - mean_f) * concentration)
    e_em = f_em * e_shower
    e_had = (1.0 - f_em) * e_shower
    shape = np.maximum(e_had / model.hadron_granularity_gev, 1e-3)
    e_had_visible = e_had * model.hadron_response * rng.gamma(shape, 1.0 / shape)

    # EM profile: gamma in X0 from the interaction point (Longo), converted to λ.
    t_max_em = np.log(np.maximum(e_em / model.critical_energy_gev, 1.0)) - 0.5
    a_em = np.maximum(0.5 * np.maximum(t_max_em, 0.0) + 1.0, 1.0)
    scale_em = model.x0_lambda / 0.5
    # Hadronic profile: maximum at 0.2 ln E + 0.7 λ after the start, scale 0.6 E^0.13 λ.
    e_ref = np.maximum(e_had, 0.1)
    scale_had = model.hadron_scale_lambda * e_ref**0.13
    a_had = 1.0 + np.maximum(model.hadron_tmax_slope * np.log(e_ref) + 0.7, 0.1) / scale_had

    out: dict[int, dict[str, np.ndarray]] = {}
    for low, high, layer in SEGMENTS:
        if layer is None:
            continue
        track = mip * np.clip(np.minimum(track_end, high) - low, 0.0, None)
        em = e_em * _gamma_between(a_em, scale_em, low - start, high - start)
        had = e_had_visible * _gamma_between(a_had, scale_had, low - start, high - start)
        out[layer] = {"track": track, "em": np.where(showers, em, 0.0),
                      "had": np.where(showers, had, 0.0)}
    # Albedo: particles of the shower part in the EM layers splashing back into the
    # presampler (Gamma-distributed share), so layer 0 follows the early shower, not the Tile.
    early = sum(out[layer]["em"] + out[layer]["had"] for layer in (1, 2, 3))
    out[0]["had"] = out[0]["had"] + model.albedo_fraction * rng.gamma(2.0, 0.5, n) * early
    truth = {"em_fraction": np.where(showers, f_em, 0.0), "start_depth": start,
             "ranged_out": ~showers, "hadronic_gev": e_had}
    return out, truth


def _gamma_between(shape: np.ndarray, scale: float | np.ndarray, low: np.ndarray,
                   high: np.ndarray) -> np.ndarray:
    """Mass of Gamma(shape, scale) in [low, high] (depths relative to the start)."""
    upper = gammainc(shape, np.clip(high, 0.0, None) / scale)
    lower = gammainc(shape, np.clip(low, 0.0, None) / scale)
    return np.clip(upper - lower, 0.0, None)  # rounding can make equal CDFs differ by -1e-17


def _radial_fractions(edges: np.ndarray, weight: float, core: float, halo: float) -> np.ndarray:
    """Fraction of a 2-D core + halo exponential profile in each r bin (exact)."""

    def cdf(r: np.ndarray, scale: float) -> np.ndarray:
        x = r / scale
        return 1.0 - (1.0 + x) * np.exp(-x)

    total = weight * cdf(edges, core) + (1.0 - weight) * cdf(edges, halo)
    return np.diff(total)


def _lateral(layer: int, energy: dict[str, np.ndarray], e_had: np.ndarray,
             rng: np.random.Generator, model: PionShowerModel) -> np.ndarray:
    """Expected voxel energies (GeV) of one layer, ``[n, voxels in layer]``."""
    position = PION_GEOMETRY.layer_position(layer)
    edges = np.asarray(PION_GEOMETRY.r_edges[position], dtype=np.float64)
    n_alpha = PION_GEOMETRY.n_alpha[position]
    n = energy["em"].size
    had = energy["had"]
    clump_energy = np.zeros((n, _MAX_CLUMPS))
    if layer in _CLUMP_LAYERS:
        n_clumps = np.minimum(rng.poisson(model.clumps_mean, n), _MAX_CLUMPS)
        shares = rng.uniform(0.05, 0.25, (n, _MAX_CLUMPS))
        shares *= np.arange(_MAX_CLUMPS) < n_clumps[:, None]
        shares /= np.maximum(shares.sum(axis=1, keepdims=True) / 0.8, 1.0)  # core keeps ≥ 20 %
        clump_energy = had[:, None] * shares
        had = had - clump_energy.sum(axis=1)
    radial = np.zeros((n, edges.size - 1))
    for component, values in (("track", energy["track"]), ("em", energy["em"])):
        radial += values[:, None] * _radial_fractions(edges, *LATERAL[layer][component])[None, :]
    # The hadronic core (its π0 sub-showers) gains weight with energy: +0.08 per decade.
    weight, core, halo = LATERAL[layer]["had"]
    weight = np.clip(weight + 0.08 * np.log10(np.maximum(e_had, 1e-3) / 10.0), 0.2, 0.9)
    core_part = _radial_fractions(edges, 1.0, core, core)[None, :]
    halo_part = _radial_fractions(edges, 0.0, halo, halo)[None, :]
    radial += had[:, None] * (weight[:, None] * core_part + (1 - weight[:, None]) * halo_part)
    voxels = np.tile(radial / n_alpha, (1, n_alpha))  # α outer, r inner
    if n_alpha > 1:
        layer_total = energy["track"] + energy["em"] + energy["had"]
        sigma = _AXIS_SIGMA_MM[layer] / np.sqrt(np.maximum(layer_total, 0.05))
        offset = sigma * np.sqrt(-2.0 * np.log(rng.uniform(1e-12, 1.0, n)))  # Rayleigh
        direction = rng.uniform(-np.pi, np.pi, n)
        core = LATERAL[layer]["em"][1] if layer < 12 else LATERAL[layer]["had"][1]
        kappa = np.minimum(offset / core, 0.8)
        alpha = PION_GEOMETRY.alpha_centre[PION_GEOMETRY.layer_slice(layer)]
        voxels *= 1.0 + kappa[:, None] * np.cos(alpha[None, :] - direction[:, None])
    if layer in _CLUMP_LAYERS:
        radius = rng.exponential(model.clump_r_mm, (n, _MAX_CLUMPS))
        r_bin = np.searchsorted(edges, radius, side="right") - 1
        a_bin = rng.integers(0, n_alpha, (n, _MAX_CLUMPS))
        inside = (r_bin < edges.size - 1) & (clump_energy > 0)  # beyond the last edge: lost
        rows = np.broadcast_to(np.arange(n)[:, None], r_bin.shape)
        np.add.at(voxels, (rows[inside], (a_bin * (edges.size - 1) + r_bin)[inside]),
                  clump_energy[inside])
    return voxels


def _sample_quanta(expected_mev: np.ndarray, rng: np.random.Generator,
                   model: PionShowerModel) -> np.ndarray:
    """Voxel energy = Gamma(n, q) with n ~ Poisson(μ/q): exact zeros and sampling noise."""
    quantum = np.where(PION_GEOMETRY.voxel_layer < 12, model.quantum_em_mev,
                       model.quantum_tile_mev)[None, :]
    counts = rng.poisson(expected_mev / quantum)
    return rng.gamma(np.maximum(counts, 0), 1.0) * quantum * (counts > 0)


def synthetic_ds1_pions(
    events_per_energy: int | Sequence[int] | Mapping[float, int] = 1000,
    *,
    energies: Sequence[float] = DS1_ENERGIES_MEV,
    seed: int = 0,
    shuffle: bool = True,
    model: PionShowerModel = DEFAULT_MODEL,
) -> Ds1Data:
    """A dataset-1-like pion sample: ``events_per_energy`` at each of ``energies`` (MeV).

    Pass ``DS1_EVENTS_PER_ENERGY["pions"]`` for the published mix (120 800 events).
    """
    if isinstance(events_per_energy, Mapping):
        energies = tuple(events_per_energy)
        counts = tuple(events_per_energy.values())
    elif isinstance(events_per_energy, int | np.integer):
        counts = (int(events_per_energy),) * len(energies)
    else:
        counts = tuple(events_per_energy)
    if len(counts) != len(energies):
        raise ConfigError(f"{len(counts)} counts for {len(energies)} energies; give one each")
    rng = np.random.default_rng(seed)
    incident = np.repeat(np.asarray(energies, dtype=np.float64), counts)
    if shuffle:
        incident = rng.permutation(incident)
    return Ds1Data(incident, synthetic_pions(incident, seed=rng, model=model), "pions")


def synthetic_pion_subset(
    name: str | None = "single",
    *,
    energies: Sequence[float] | None = None,
    counts: Sequence[int] | int | None = None,
    val_counts: Sequence[int] | int | None = None,
    test_counts: Sequence[int] | int | None = None,
    seed: int = 0,
    model: PionShowerModel = DEFAULT_MODEL,
) -> Ds1Subset:
    """The ``single`` / ``three`` / custom subset drawn from freshly generated stand-in showers.

    Exactly train + val + test events are generated per energy (so any energy > 0 works).
    """
    label, chosen, train = subset_spec(name, energies, counts)
    val = train if val_counts is None else val_counts
    test = train if test_counts is None else test_counts

    def per_energy(value: Sequence[int] | int) -> tuple[int, ...]:
        return (int(value),) * len(chosen) if isinstance(value, int | np.integer) else tuple(value)

    totals = [a + b + c for a, b, c in zip(train, per_energy(val), per_energy(test), strict=True)]
    data = synthetic_ds1_pions(dict(zip(chosen, totals, strict=True)), seed=seed, model=model)
    subset = make_subset(data, None, energies=chosen, counts=train, val_counts=val,
                         test_counts=test, seed=seed, source="the synthetic pions")
    return replace(subset, name=label)
