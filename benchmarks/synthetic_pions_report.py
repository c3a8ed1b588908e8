"""Print the synthetic pion stand-in's physics next to the published DS1 pion facts.

Usage::

    PYTHONPATH=src python benchmarks/synthetic_pions_report.py [--events 2000] [--seed 0]

Per incident energy: E_kin/p, mean E_tot/p and its spread, mean E_tot/E_kin, mean EM fraction,
per-layer energy shares, η-centre spread and median η-widths, mean sparsity. Then pooled
numbers over the old DS1 pion file's energy mix, which is what the published facts were
measured on (notes/ds1-pion-facts.md): ⟨E_tot⟩/⟨p⟩, mean E in layers 0 and 14 and their
shares, and the layer-energy correlations. Generation time of 1000 events is printed too.
Features use the official 1 MeV readout threshold.
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from qcalo.data.calochallenge import DS1_ENERGIES_MEV, kinetic_energy
from qcalo.data.calochallenge_geometry import PION_GEOMETRY, shower_features
from qcalo.data.synthetic_pions import synthetic_ds1_pions, synthetic_pions

OLD_FILE_COUNTS = (10000,) * 11 + (5000, 3000, 2000, 230)
"""Events per energy of the old (v1) pion file the pooled facts come from."""

PUBLISHED = {
    "E_tot/<p> pooled": "0.85 (114709.8 / 134464 MeV)",
    "E(layer 0) pooled": "374.0 MeV = 0.33 % of E_tot",
    "E(layer 14) pooled": "5327.1 MeV = 4.6 % of E_tot",
    "E_kin/p at 256/512/1024/2048 MeV": "0.59 / 0.76 / 0.87 / 0.93 (a cap on E_tot/p)",
    "per-energy E_tot/E_inc plot range": "0.4 - 1.4 (organizers, bulk indicator)",
    "width examples (mm)": "layer 1: 0.7 - 43; layer 12: 50 - 169",
    "EC_phi examples (mm)": "layer 12: -216 / +241; layer 13: -464",
    "E_tot/E_inc tail cap used by models": "3.1",
}
PUBLISHED_CORRELATIONS = {
    (0, 1): 0.78, (1, 2): 0.67, (2, 3): 0.66, (3, 12): 0.54, (12, 13): 0.67, (13, 14): 0.72,
    (0, 12): 0.16, (0, 14): 0.07, (2, 12): 0.41, (2, 14): 0.21,
}


def per_energy_table(events: int, seed: int) -> None:
    layers = PION_GEOMETRY.layers
    header = (
        f"{'p (MeV)':>9} {'Ekin/p':>6} {'Etot/p':>6} {'sd':>5} {'Etot/Ekin':>9} {'f_em':>5} | "
        + " ".join(f"L{layer:<4}" for layer in layers)
        + " | sdECeta L2 L12 | med w_eta L1 L2 L12 L13 | sparsity L2 L12 L13 | Etot/p>1.4"
    )
    print(header)
    for index, energy in enumerate(DS1_ENERGIES_MEV):
        showers, truth = synthetic_pions(np.full(events, energy), seed=seed + index,
                                         return_truth=True)
        f = shower_features(showers)
        ratio = f.e_tot / energy
        e_kin = float(kinetic_energy(energy))
        shares = [100 * f.e_layer[layer].sum() / f.e_tot.sum() for layer in layers]
        print(
            f"{energy:9.0f} {e_kin / energy:6.3f} {ratio.mean():6.3f} {ratio.std():5.3f} "
            f"{(f.e_tot / e_kin).mean():9.3f} {truth['em_fraction'].mean():5.2f} | "
            + " ".join(f"{s:5.1f}" for s in shares)
            + f" | {f.ec_eta[2].std():6.1f} {f.ec_eta[12].std():6.1f}"
            + f" | {np.median(f.width_eta[1]):5.1f} {np.median(f.width_eta[2]):5.1f}"
            f" {np.median(f.width_eta[12]):5.1f} {np.median(f.width_eta[13]):5.1f}"
            + f" | {f.sparsity[2].mean():.2f} {f.sparsity[12].mean():.2f}"
            f" {f.sparsity[13].mean():.2f} | {np.mean(ratio > 1.4):.4f}"
        )


def pooled(scale: int, seed: int) -> None:
    counts = tuple(max(1, c // scale) for c in OLD_FILE_COUNTS)
    data = synthetic_ds1_pions(counts, seed=seed)
    f = shower_features(data.showers)
    total = f.e_tot.sum()
    print(f"\npooled over the old-file mix / {scale} ({len(data)} events); published in brackets")
    print(f"  <E_tot>/<p>        {f.e_tot.mean() / data.incident_energies.mean():.3f}   "
          f"[{PUBLISHED['E_tot/<p> pooled']}]")
    for layer in (0, 14):
        print(f"  E(layer {layer:>2})        {f.e_layer[layer].mean():8.1f} MeV = "
              f"{100 * f.e_layer[layer].sum() / total:.2f} %   "
              f"[{PUBLISHED[f'E(layer {layer}) pooled']}]")
    print(f"  max E_tot/p        {np.max(f.e_tot / data.incident_energies):.2f}   "
          f"[cap used by models {PUBLISHED['E_tot/E_inc tail cap used by models']}]")
    matrix = np.corrcoef(np.stack([f.e_layer[layer] for layer in PION_GEOMETRY.layers]))
    position = {layer: i for i, layer in enumerate(PION_GEOMETRY.layers)}
    print("  layer-energy Pearson correlations (ours [published]):")
    print("   " + "  ".join(
        f"{a}-{b}: {matrix[position[a], position[b]]:.2f} [{value:.2f}]"
        for (a, b), value in PUBLISHED_CORRELATIONS.items()
    ))
    for key in ("E_kin/p at 256/512/1024/2048 MeV", "per-energy E_tot/E_inc plot range",
                "width examples (mm)", "EC_phi examples (mm)"):
        print(f"  published {key}: {PUBLISHED[key]}")
    print(f"  ours: layer-12 EC_phi 1st/99th percentile {np.percentile(f.ec_phi[12], 1):.0f} / "
          f"{np.percentile(f.ec_phi[12], 99):.0f} mm; layer-1 width 5-95 % "
          f"{np.percentile(f.width_eta[1], 5):.1f} - {np.percentile(f.width_eta[1], 95):.1f} mm; "
          f"layer-12 width 5-95 % {np.percentile(f.width_eta[12], 5):.0f} - "
          f"{np.percentile(f.width_eta[12], 95):.0f} mm")


def timing() -> None:
    energies = np.full(1000, 65536.0)
    synthetic_pions(energies[:10], seed=0)  # warm-up (imports, caches)
    best = min(_timed(energies, seed) for seed in range(3))
    mixed = np.repeat(np.asarray(DS1_ENERGIES_MEV), 67)[:1000]
    print(f"\ngeneration: 1000 events at 65536 MeV {best * 1e3:.0f} ms (best of 3); "
          f"1000 events over the 15 energies {_timed(mixed, 9) * 1e3:.0f} ms")


def _timed(energies: np.ndarray, seed: int) -> float:
    start = time.perf_counter()
    synthetic_pions(energies, seed=seed)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=2000, help="events per energy in the table")
    parser.add_argument("--pooled-scale", type=int, default=10,
                        help="divide the old file's counts by this for the pooled numbers")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    per_energy_table(args.events, args.seed)
    pooled(args.pooled_scale, args.seed)
    timing()


if __name__ == "__main__":
    main()
