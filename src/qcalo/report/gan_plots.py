"""GAN figures: E_tot per incident energy with its FastCaloGAN χ²/NDF, and χ² against iteration.

The E_tot panels use the χ² binning itself (:func:`qcalo.metrics.etot_chi2.etot_edges`: the
reference's 30 edges in GeV, overflow folded into the edge bins), so what is drawn is exactly
what was scored.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from pathlib import Path

import matplotlib
import numpy as np

from qcalo.report.style import DENSITY_LABEL, STYLE, draw_pair_histograms, new_figure, save_png

__all__ = ["plot_chi2_curves", "plot_etot_by_energy"]


def plot_etot_by_energy(
    reference_energies: np.ndarray,
    reference_etot_mev: np.ndarray,
    generated_energies: np.ndarray,
    generated_etot_mev: np.ndarray,
    out: Path | str,
    *,
    label_real: str = "Geant4",
    label_gen: str = "GAN",
    title: str = "",
) -> Path:
    """One panel per incident energy: unit-area E_tot histograms and χ²/NDF in the legend."""
    from qcalo.metrics.etot_chi2 import etot_chi2, etot_histograms

    energies = sorted(float(e) for e in np.unique(reference_energies))
    columns = min(3, len(energies))
    rows = math.ceil(len(energies) / columns)
    with matplotlib.rc_context(STYLE):
        figure = new_figure((4.6 * columns, 3.8 * rows), layout="constrained")
        axes = np.atleast_1d(figure.subplots(rows, columns)).ravel()
        for axis, energy in zip(axes, energies, strict=False):
            ref = reference_etot_mev[np.isclose(reference_energies, energy)]
            gen = generated_etot_mev[np.isclose(generated_energies, energy)]
            edges, gen_counts, ref_counts = etot_histograms(gen, ref)  # GeV, overflow folded in
            chi2, ndf = etot_chi2(gen, ref)
            handles = draw_pair_histograms(axis, edges, ref_counts, gen_counts, label_real, label_gen)
            axis.legend(handles=handles, title=f"χ²/NDF = {chi2:.0f}/{ndf} = {chi2 / max(ndf, 1):.2f}", loc="upper left")
            axis.set_title(f"E_inc = {energy / 1000:g} GeV  (n = {len(ref)} / {len(gen)})")
            axis.set_xlabel("E_tot [GeV]")
            axis.set_ylabel(DENSITY_LABEL)
            axis.set_ylim(0, axis.get_ylim()[1] * 1.35)
        for axis in axes[len(energies) :]:
            axis.set_visible(False)
        if title:
            figure.suptitle(title)
        return save_png(figure, out)


def plot_chi2_curves(curves: Mapping[str, Mapping[str, np.ndarray]], out: Path | str) -> Path:
    """χ²/NDF (all energies, log scale) of several runs against iteration (left) and wall time (right).

    ``curves[label]`` holds the ``chi2.csv`` columns ``iteration``, ``seconds``, ``chi2_ndf_all``;
    a dot marks each run's best checkpoint. The right panel is the equal-wall-time comparison.
    """
    with matplotlib.rc_context(STYLE):
        figure = new_figure((11.0, 4.4), layout="constrained")
        by_iteration, by_time = figure.subplots(1, 2, sharey=True)
        for label, table in curves.items():
            chi2 = table["chi2_ndf_all"]
            best = int(np.nanargmin(chi2))
            for axis, x in ((by_iteration, table["iteration"]), (by_time, table["seconds"] / 60.0)):
                line = axis.plot(x, chi2, lw=1.2, label=label)[0]
                axis.plot(x[best], chi2[best], "o", color=line.get_color(), ms=5)
        by_iteration.set_yscale("log")
        by_iteration.set_xlabel("generator iteration")
        by_time.set_xlabel("wall time [min]")
        by_iteration.set_ylabel("E_tot χ²/NDF (all energies)")
        by_iteration.legend(title="dot: best checkpoint")
        return save_png(figure, out)
