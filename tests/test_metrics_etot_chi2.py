"""FastCaloGAN E_tot χ²/NDF: binning worked by hand, χ² against scipy and ROOT's formula by hand."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy.stats import chi2_contingency

from qcalo.exceptions import QcaloError, ShapeError
from qcalo.metrics.etot_chi2 import (
    etot_chi2,
    etot_chi2_by_energy,
    etot_edges,
    etot_histograms,
)


def uniform_reference() -> np.ndarray:
    """1 … 1000 GeV in 1 GeV steps (in MeV): every quantile is known by hand."""
    return np.arange(1, 1001, dtype=np.float64) * 1000.0


def pearson_equal_totals(counts_a: np.ndarray, counts_b: np.ndarray) -> tuple[float, int]:
    """With equal totals, ROOT's "WW" χ² equals the 2×k contingency-table χ² (scipy)."""
    filled = (counts_a + counts_b) > 0
    table = np.vstack([counts_a[filled], counts_b[filled]])
    statistic, _, dof, _ = chi2_contingency(table, correction=False)
    return float(statistic), int(dof)


def test_edges_by_hand_uniform() -> None:
    """med 500.5, max−med 499.5 wins on both sides → range [1, 1000] GeV, 30 edges, 29 bins."""
    edges = etot_edges(uniform_reference())
    width = 999.0 / 30
    assert edges.size == 30
    np.testing.assert_allclose(edges[[0, -1]], [1 + width / 2, 1000 - width / 2], atol=5e-4)
    np.testing.assert_allclose(np.diff(edges), width, atol=1e-3)


def test_edges_by_hand_tail_and_outlier() -> None:
    """0 … 98 GeV plus one 10 TeV outlier: the 2·|q95 − med| term caps the high side."""
    reference = np.append(np.arange(99.0), 10000.0) * 1000.0
    # median 49.5; q95 = 94.05 → high = 49.5 + 2·44.55 = 138.6; low = 49.5 − 49.5 = 0.
    edges = etot_edges(reference)
    width = 138.6 / 30
    np.testing.assert_allclose(edges[[0, -1]], [width / 2, 138.6 - width / 2], atol=5e-4)
    _, _, counts = etot_histograms(reference, reference)
    assert counts.sum() == 100 and counts[-1] >= 1  # the outlier is folded into the last bin


def test_edges_low_side_uses_q84_as_published() -> None:
    """The public code's low side takes 10·|q84 − med| (not q16): reproduce that quirk."""
    rng = np.random.default_rng(3)
    reference = np.concatenate([np.zeros(10), rng.uniform(99.0, 101.0, 90)]) * 1000.0
    gev = reference / 1000.0
    median = np.median(gev)
    low_expected = median - 10 * abs(np.quantile(gev, 0.84) - median)
    low_with_q16 = median - 10 * abs(np.quantile(gev, 0.16) - median)
    assert abs(low_expected - low_with_q16) > 0.5  # the quirk matters for this sample
    high_expected = median + min(
        abs(gev.max() - median), 2 * abs(np.quantile(gev, 0.95) - median),
        10 * abs(np.quantile(gev, 0.84) - median),
    )
    width = (high_expected - low_expected) / 30
    assert etot_edges(reference)[0] == pytest.approx(low_expected + width / 2, abs=5e-4)


def test_root_ww_formula_by_hand_unequal_totals() -> None:
    """Counts placed at bin centres; χ² worked by hand from Σ (W1 y2 − W2 y1)² / (W1² y2 + W2² y1)."""
    reference = uniform_reference()
    edges = etot_edges(reference)
    centres = 0.5 * (edges[:-1] + edges[1:]) * 1000.0
    _, _, ref_counts = etot_histograms(reference, reference)
    generated = np.repeat(centres[[0, 1, 2]], [30, 2, 1])
    chi2, ndf = etot_chi2(generated, reference)
    w1, w2 = ref_counts.sum(), 33.0
    gen_counts = np.zeros(29)
    gen_counts[:3] = [30, 2, 1]
    expected = sum(
        (w1 * g - w2 * r) ** 2 / (w1**2 * g + w2**2 * r)
        for r, g in zip(ref_counts, gen_counts, strict=True)
        if r + g > 0
    )
    assert ndf == 28  # the uniform reference fills every bin
    assert chi2 == pytest.approx(expected, rel=1e-12)


def test_equal_totals_match_scipy_contingency() -> None:
    """Independent check: with equal sample sizes the χ² is scipy's contingency χ²."""
    rng = np.random.default_rng(7)
    reference = rng.normal(65000.0, 5000.0, 4000)
    generated = rng.normal(66000.0, 5500.0, 4000)
    _, gen_counts, ref_counts = etot_histograms(generated, reference)
    chi2, ndf = etot_chi2(generated, reference)
    expected_chi2, expected_dof = pearson_equal_totals(ref_counts, gen_counts)
    assert chi2 == pytest.approx(expected_chi2, rel=1e-10)
    assert ndf == expected_dof


def test_identical_zero_same_distribution_about_one_shift_large() -> None:
    rng = np.random.default_rng(11)
    reference = rng.normal(65000.0, 5000.0, 10000)
    assert etot_chi2(reference, reference)[0] == 0.0
    chi2, ndf = etot_chi2(rng.normal(65000.0, 5000.0, 10000), reference)
    assert ndf == 28 and 0.3 < chi2 / ndf < 2.5
    shifted, ndf = etot_chi2(rng.normal(67500.0, 5000.0, 10000), reference)  # +0.5 σ
    assert shifted / ndf > 20


def test_bins_empty_in_both_lower_ndf() -> None:
    """A bimodal reference leaves a gap: NDF = 29 − 1 − (bins empty in both)."""
    rng = np.random.default_rng(2)
    reference = np.concatenate([rng.uniform(10, 20, 3000), rng.uniform(80, 90, 3000)]) * 1000.0
    generated = np.concatenate([rng.uniform(10, 20, 3000), rng.uniform(80, 90, 3000)]) * 1000.0
    _, gen_counts, ref_counts = etot_histograms(generated, reference)
    empty_both = int(np.count_nonzero((gen_counts == 0) & (ref_counts == 0)))
    assert empty_both > 5
    chi2, ndf = etot_chi2(generated, reference)
    assert ndf == 28 - empty_both
    assert (chi2, ndf) == pytest.approx(pearson_equal_totals(ref_counts, gen_counts), rel=1e-10)


def test_all_overflow_folds_into_last_bin() -> None:
    """Everything generated far above the range lands in the last bin (nothing is dropped)."""
    reference = uniform_reference()
    generated = np.full(1000, 5e7)
    _, gen_counts, ref_counts = etot_histograms(generated, reference)
    assert gen_counts[-1] == 1000 and gen_counts[:-1].sum() == 0
    chi2, ndf = etot_chi2(generated, reference)
    assert ndf == 28
    assert chi2 == pytest.approx(pearson_equal_totals(ref_counts, gen_counts)[0], rel=1e-10)
    assert chi2 / ndf > 50


def test_all_energies_is_sum_over_sum() -> None:
    rng = np.random.default_rng(5)
    energies = np.repeat([4096.0, 65536.0], [40, 2000])  # few low-energy events: empty bins
    ref_etot = np.where(energies < 1e4, rng.normal(3000, 400, 2040), rng.normal(55000, 4000, 2040))
    gen_etot = np.where(energies < 1e4, rng.normal(3000, 400, 2040), rng.normal(58000, 4000, 2040))
    result = etot_chi2_by_energy(energies, gen_etot, energies[:, None], ref_etot)
    low = etot_chi2(gen_etot[:40], ref_etot[:40])
    high = etot_chi2(gen_etot[40:], ref_etot[40:])
    assert low[1] < high[1] == 28
    assert result.per_energy == {4096.0: low, 65536.0: high}
    assert result.reduced == pytest.approx((low[0] + high[0]) / (low[1] + high[1]))
    assert result.per_energy_reduced[65536.0] == pytest.approx(high[0] / high[1])
    ratios = [low[0] / low[1], high[0] / high[1]]
    assert not math.isclose(result.reduced, sum(ratios) / 2)  # not a mean of ratios


def test_bad_inputs_one_line() -> None:
    reference = uniform_reference()
    with pytest.raises(QcaloError, match="too narrow") as caught:
        etot_chi2(reference, np.full(100, 5000.0))
    assert "\n" not in str(caught.value)
    with pytest.raises(ShapeError, match="non-empty 1-D"):
        etot_chi2(np.array([]), reference)
    with pytest.raises(QcaloError, match="NaN"):
        etot_chi2(np.array([1.0, np.nan]), reference)
    with pytest.raises(QcaloError, match="no generated showers at 4096"):
        etot_chi2_by_energy([65536.0] * 3, [1.0, 2.0, 3.0], [4096.0] * 3, [1.0, 2.0, 3.0])
    with pytest.raises(ShapeError, match="one of each"):
        etot_chi2_by_energy([65536.0] * 2, [1.0, 2.0, 3.0], [65536.0] * 3, [1.0, 2.0, 3.0])


def test_gaussian_baseline_has_the_training_mean_and_spread_per_energy() -> None:
    from qcalo.metrics.etot_baselines import gaussian_etot

    rng = np.random.default_rng(0)
    train_e = np.repeat([1000.0, 5000.0], 4000)
    train_t = np.where(train_e == 1000.0, rng.gamma(9.0, 100.0, 8000), rng.normal(4000.0, 50.0, 8000))
    energies = np.repeat([5000.0, 1000.0], 20000)
    drawn = gaussian_etot(train_e, train_t, energies, seed=1)
    for energy in (1000.0, 5000.0):
        ref, got = train_t[train_e == energy], drawn[energies == energy]
        assert abs(got.mean() - ref.mean()) < 0.03 * ref.std() and abs(got.std() / ref.std() - 1) < 0.03
    np.testing.assert_array_equal(drawn, gaussian_etot(train_e, train_t, energies, seed=1))  # seeded
    # A skewed (gamma) E_tot: the Gaussian is visibly worse than a second real sample.
    gen_e = np.repeat([1000.0], 4000)
    real = rng.gamma(9.0, 100.0, 4000)
    gaussian = gaussian_etot(train_e, train_t, gen_e, seed=2)
    assert etot_chi2_by_energy(gen_e, gaussian, gen_e, real).reduced > 2 * etot_chi2_by_energy(gen_e, train_t[:4000], gen_e, real).reduced


def test_bootstrap_se_is_seeded_and_of_the_size_of_the_statistic_s_spread() -> None:
    from qcalo.metrics.etot_baselines import bootstrap_chi2_se

    rng = np.random.default_rng(3)
    energies = np.repeat([1000.0, 4000.0], 1000)
    a, b = rng.normal(10_000.0, 1000.0, 2000), rng.normal(10_000.0, 1000.0, 2000)  # MeV
    se = bootstrap_chi2_se(energies, a, energies, b, n_boot=60, seed=4)
    assert se == bootstrap_chi2_se(energies, a, energies, b, n_boot=60, seed=4)
    # The χ²/NDF of two samples of one distribution spreads by ~sqrt(2/NDF) ≈ 0.19 here (56 NDF);
    # resampling both adds about as much again.
    spread = np.std([
        etot_chi2_by_energy(energies, rng.normal(1e4, 1e3, 2000), energies, rng.normal(1e4, 1e3, 2000)).reduced
        for _ in range(60)
    ])  # fmt: skip
    assert 0.7 * spread < se < 3 * spread
