"""Tests for qcalo.metrics: closed-form cases, properties, gradients, clic8 reference numbers."""

from __future__ import annotations

import itertools
import math
from pathlib import Path

import numpy as np
import pytest
import torch

from qcalo.exceptions import QcaloError, ShapeError
from qcalo.metrics import (
    MMD_MULTIPLIERS,
    chi2_ww,
    correlation_loss,
    energy_sum,
    energy_sum_chi2,
    energy_sum_separation,
    mean_squared_error,
    median_distance,
    mmd,
    mmd_repeated,
    mmd_unbiased,
    pearson_matrix,
    ratio_with_error,
    reduced_chi2,
    separation_power,
    standard_error,
)

CLIC8_DIR = Path(__file__).resolve().parents[2] / "shared" / "data" / "clic8"
CLIC8_TRAIN = CLIC8_DIR / "clic_8px_train.h5"


def _gaussian(n: int, d: int = 4, *, seed: int = 0, shift: float = 0.0) -> np.ndarray:
    """Correlated Gaussian sample ``[n, d]`` (mixing matrix fixed, rows seeded)."""
    mixing = np.random.default_rng(123).normal(size=(d, d))
    return np.random.default_rng(seed).normal(size=(n, d)) @ mixing + shift


# ---------------------------------------------------------------- MMD


def test_mmd_multipliers_are_the_mua_set():
    """The default bandwidth multipliers are MUA's six."""
    assert MMD_MULTIPLIERS == (0.1, 0.5, 1.0, 2.0, 5.0, 10.0)


@pytest.mark.parametrize("as_torch", [False, True], ids=["numpy", "torch"])
def test_mmd_of_a_sample_with_itself_is_zero(as_torch):
    """mmd(x, x) vanishes to rounding."""
    x = _gaussian(50)
    sample = torch.from_numpy(x) if as_torch else x
    assert abs(float(mmd(sample, sample, scale=1.3))) <= 1e-12


def test_mmd_is_symmetric_and_nonnegative():
    """mmd(x, y) == mmd(y, x) >= 0 for unequal sizes and many draws."""
    for seed in range(20):
        x = _gaussian(30 + seed, seed=seed)
        y = _gaussian(17, seed=100 + seed, shift=0.05 * seed)
        forward, backward = mmd(x, y, scale=2.0), mmd(y, x, scale=2.0)
        assert forward == pytest.approx(backward, rel=1e-12, abs=1e-15)
        assert forward >= -1e-12


def test_mmd_hand_computed_single_kernel():
    """x = {0, 1}, y = {3}, s = 2: the V-statistic written out by hand."""
    x, y = np.array([[0.0], [1.0]]), np.array([[3.0]])
    kernel = lambda sq_dist: math.exp(-sq_dist / (2 * 2.0))
    expected = (
        (2 * kernel(0) + 2 * kernel(1)) / 4 + kernel(0) - 2 * (kernel(9) + kernel(4)) / 2
    )
    assert mmd(x, y, scale=1.0, multipliers=(2.0,)) == pytest.approx(expected, rel=1e-13)
    assert mmd(x, y, scale=4.0, multipliers=(0.5,)) == pytest.approx(expected, rel=1e-13)


def test_mmd_averages_over_kernels():
    """Several multipliers give the mean, not the sum, of the single-kernel values."""
    x, y = _gaussian(20), _gaussian(25, seed=1, shift=0.3)
    singles = [mmd(x, y, scale=0.8, multipliers=(m,)) for m in MMD_MULTIPLIERS]
    assert mmd(x, y, scale=0.8) == pytest.approx(np.mean(singles), rel=1e-12)


def test_mmd_unbiased_hand_computed():
    """x = {0, 1}, y = {3, 5}, s = 1: within-sample means skip the diagonal."""
    x, y = np.array([[0.0], [1.0]]), np.array([[3.0], [5.0]])
    kernel = lambda sq_dist: math.exp(-sq_dist / 2.0)
    expected = kernel(1) + kernel(4) - 2 * (kernel(9) + kernel(25) + kernel(4) + kernel(16)) / 4
    assert mmd_unbiased(x, y, scale=1.0, multipliers=(1.0,)) == pytest.approx(expected, rel=1e-13)


def test_mmd_unbiased_is_centred_and_needs_two_events():
    """Same-distribution U-statistic averages near 0; a 1-event sample is refused."""
    values = [mmd_unbiased(_gaussian(40, seed=s), _gaussian(40, seed=50 + s), scale=5.0)
              for s in range(30)]
    assert abs(np.mean(values)) < 3 * np.std(values) / math.sqrt(len(values))
    with pytest.raises(QcaloError, match=">= 2"):
        mmd_unbiased(_gaussian(1), _gaussian(5), scale=1.0)


def test_mmd_grows_with_a_mean_shift():
    """Shifting y further from x increases the MMD monotonically."""
    x = _gaussian(200)
    values = [mmd(x, _gaussian(200, seed=7, shift=shift), scale=4.0)
              for shift in (0.0, 0.5, 1.0, 2.0, 4.0)]
    assert all(a < b for a, b in itertools.pairwise(values))


def test_mmd_numpy_and_torch_agree_and_return_types():
    """numpy → float; torch (or mixed) → 0-dim tensor of the same value; float32 kept."""
    x, y = _gaussian(40), _gaussian(30, seed=3, shift=0.2)
    from_numpy = mmd(x, y, scale=1.1)
    from_torch = mmd(torch.from_numpy(x), torch.from_numpy(y), scale=1.1)
    mixed = mmd(torch.from_numpy(x), y, scale=1.1)
    assert isinstance(from_numpy, float)
    assert isinstance(from_torch, torch.Tensor) and from_torch.ndim == 0
    assert from_torch.item() == pytest.approx(from_numpy, rel=1e-12)
    assert mixed.item() == pytest.approx(from_numpy, rel=1e-12)
    single = mmd(torch.from_numpy(x).float(), torch.from_numpy(y).float(), scale=1.1)
    assert single.dtype == torch.float32
    assert single.item() == pytest.approx(from_numpy, rel=1e-4)


@pytest.mark.parametrize("estimator", [mmd, mmd_unbiased], ids=["biased", "unbiased"])
def test_mmd_numpy_and_torch_agree_over_many_pair_blocks(estimator):
    """n = 300, m = 260: the numpy path runs in several blocks of pairs, torch in one go."""
    x, y = _gaussian(300, 8), _gaussian(260, 8, seed=9, shift=0.15)
    from_numpy = estimator(x, y, scale=3.0)
    from_torch = estimator(torch.from_numpy(x), torch.from_numpy(y), scale=3.0).item()
    assert from_torch == pytest.approx(from_numpy, rel=1e-10, abs=1e-15)


@pytest.mark.parametrize("estimator", [mmd, mmd_unbiased], ids=["biased", "unbiased"])
def test_mmd_gradients_match_finite_differences(estimator):
    """torch.autograd.gradcheck in float64, gradients w.r.t. both samples."""
    generator = torch.Generator().manual_seed(0)
    x = torch.randn(6, 3, dtype=torch.float64, generator=generator, requires_grad=True)
    y = torch.randn(5, 3, dtype=torch.float64, generator=generator, requires_grad=True)
    assert torch.autograd.gradcheck(lambda a, b: estimator(a, b, scale=0.9), (x, y))


@pytest.mark.parametrize("estimator", [mmd, mmd_unbiased], ids=["biased", "unbiased"])
def test_mmd_one_sided_gradient_equals_two_sided(estimator):
    """Only x needing a gradient (the training case, n = 40) gives the same ∂/∂x as both."""
    generator = torch.Generator().manual_seed(1)
    x = torch.randn(40, 8, dtype=torch.float64, generator=generator)
    y = torch.randn(35, 8, dtype=torch.float64, generator=generator) + 0.2
    one = x.clone().requires_grad_(True)
    estimator(one, y, scale=2.0).backward()
    both_x, both_y = x.clone().requires_grad_(True), y.clone().requires_grad_(True)
    estimator(both_x, both_y, scale=2.0).backward()
    torch.testing.assert_close(one.grad, both_x.grad, rtol=1e-12, atol=1e-15)
    assert both_y.grad.abs().sum() > 0


def test_mmd_gradient_is_finite_for_duplicate_points():
    """Coinciding points (distance 0) give finite gradients (no sqrt at 0)."""
    x = torch.tensor([[0.1, 0.2], [0.1, 0.2], [0.3, 0.0]], dtype=torch.float64, requires_grad=True)
    mmd(x, x.detach().clone(), scale=0.5).backward()
    assert torch.isfinite(x.grad).all()


def test_median_distance_on_a_line():
    """Points 0, 1, 3, 7: distances 1, 3, 7, 2, 6, 4 have median 3.5."""
    points = np.array([[0.0], [1.0], [3.0], [7.0]])
    assert median_distance(points) == pytest.approx(3.5)
    assert median_distance(torch.from_numpy(points)) == pytest.approx(3.5)


def test_median_distance_uses_a_seeded_subset():
    """With more rows than max_samples the subset is seeded: reproducible and as documented."""
    x = _gaussian(300)
    rows = np.random.default_rng(5).choice(300, size=40, replace=False)
    subset = x[rows]
    pair_distances = [np.linalg.norm(subset[i] - subset[j])
                      for i in range(40) for j in range(i + 1, 40)]
    value = median_distance(x, max_samples=40, seed=5)
    assert value == pytest.approx(np.median(pair_distances), rel=1e-12)
    assert value == median_distance(x, max_samples=40, seed=5)
    assert value != median_distance(x, max_samples=40, seed=6)


def test_median_distance_refuses_too_few_rows():
    """One row (or max_samples < 2) has no pair to measure."""
    with pytest.raises(QcaloError, match="at least 2"):
        median_distance(np.zeros((1, 3)))
    with pytest.raises(QcaloError, match="max_samples"):
        median_distance(_gaussian(10), max_samples=1)


def test_mmd_repeated_mean_and_standard_error():
    """mmd_repeated = (mean, ddof=1 std / sqrt(k)) of the pairwise values; one pair → nan."""
    generated = [_gaussian(30, seed=s, shift=0.1) for s in range(4)]
    real = [_gaussian(30, seed=10 + s) for s in range(4)]
    values = [mmd(g, r, scale=1.5) for g, r in zip(generated, real, strict=True)]
    mean, se = mmd_repeated(generated, real, scale=1.5)
    assert mean == pytest.approx(np.mean(values), rel=1e-12)
    assert se == pytest.approx(np.std(values, ddof=1) / 2, rel=1e-12)
    assert math.isnan(mmd_repeated(generated[:1], real[:1], scale=1.5)[1])
    with pytest.raises(QcaloError, match="pair them"):
        mmd_repeated(generated, real[:3], scale=1.5)
    with pytest.raises(QcaloError, match="no sample pairs"):
        mmd_repeated([], [], scale=1.5)


@pytest.mark.parametrize("scale", [0.0, -1.0, math.nan, math.inf])
def test_mmd_refuses_bad_scale(scale):
    """The bandwidth unit must be finite and positive."""
    with pytest.raises(QcaloError, match="scale"):
        mmd(_gaussian(5), _gaussian(5), scale=scale)


def test_mmd_refuses_bad_multipliers():
    """Empty or non-positive multipliers are refused."""
    with pytest.raises(QcaloError, match="multipliers"):
        mmd(_gaussian(5), _gaussian(5), scale=1.0, multipliers=())
    with pytest.raises(QcaloError, match="multipliers"):
        mmd(_gaussian(5), _gaussian(5), scale=1.0, multipliers=(1.0, 0.0))


# ---------------------------------------------------------------- input checks, all metrics

PAIR_METRICS = [
    lambda a, b: mmd(a, b, scale=1.0),
    lambda a, b: mmd_unbiased(a, b, scale=1.0),
    correlation_loss,
    mean_squared_error,
    energy_sum_chi2,
    energy_sum_separation,
]
PAIR_IDS = ["mmd", "mmd_unbiased", "correlation_loss", "mse", "energy_sum_chi2", "separation"]


@pytest.mark.parametrize("metric", PAIR_METRICS, ids=PAIR_IDS)
def test_pair_metrics_refuse_different_feature_counts(metric):
    """[n, 4] vs [m, 3] is a ShapeError naming both counts."""
    with pytest.raises(ShapeError, match="3 features|3 pixels|has 3"):
        metric(_gaussian(20, 4), _gaussian(20, 3))


@pytest.mark.parametrize("metric", PAIR_METRICS, ids=PAIR_IDS)
def test_pair_metrics_refuse_one_dimensional_input(metric):
    """A flat [n] array is a ShapeError that says how to reshape."""
    with pytest.raises(ShapeError, match="n_events, n_features"):
        metric(np.arange(10.0), _gaussian(10, 1))


@pytest.mark.parametrize("metric", PAIR_METRICS, ids=PAIR_IDS)
@pytest.mark.parametrize("bad", [math.nan, math.inf])
def test_pair_metrics_refuse_nan(metric, bad):
    """NaN/inf anywhere is a QcaloError (not a ShapeError)."""
    x = _gaussian(20)
    x[3, 1] = bad
    with pytest.raises(QcaloError, match="NaN/inf") as caught:
        metric(_gaussian(20), x)
    assert not isinstance(caught.value, ShapeError)


def test_single_sample_functions_check_input():
    """pearson_matrix, energy_sum and median_distance check shape and finiteness too."""
    for function in (pearson_matrix, energy_sum, median_distance):
        with pytest.raises(ShapeError):
            function(np.zeros((2, 2, 2)))
        with pytest.raises(QcaloError, match="NaN/inf"):
            function(np.array([[1.0, math.nan], [2.0, 3.0]]))


# ---------------------------------------------------------------- correlation


@pytest.mark.parametrize("as_torch", [False, True], ids=["numpy", "torch"])
def test_pearson_matrix_matches_numpy(as_torch):
    """Same as np.corrcoef(rowvar=False) on correlated data, numpy and torch."""
    x = _gaussian(300, 6)
    matrix = pearson_matrix(torch.from_numpy(x) if as_torch else x)
    assert isinstance(matrix, torch.Tensor if as_torch else np.ndarray)
    np.testing.assert_allclose(np.asarray(matrix), np.corrcoef(x, rowvar=False), atol=1e-13)


def test_pearson_matrix_handles_constant_column():
    """A constant column gets 0 off-diagonal and 1 on the diagonal; the rest is unchanged."""
    x = _gaussian(100, 4)
    x[:, 2] = 0.1  # 0.1 is not exact in binary: a naive mean leaves ~1e-17 residues
    matrix = pearson_matrix(x)
    assert np.all(np.isfinite(matrix))
    np.testing.assert_array_equal(matrix[2], [0.0, 0.0, 1.0, 0.0])
    np.testing.assert_array_equal(matrix[:, 2], [0.0, 0.0, 1.0, 0.0])
    others = [0, 1, 3]
    np.testing.assert_allclose(
        matrix[np.ix_(others, others)], np.corrcoef(x[:, others], rowvar=False), atol=1e-13
    )


def test_correlation_loss_gradient_is_finite_with_constant_column():
    """The safe denominators keep gradients NaN-free for a constant generated pixel."""
    gen = torch.from_numpy(_gaussian(50, 3)).requires_grad_(True)
    with torch.no_grad():
        gen[:, 1] = 0.25
    correlation_loss(gen, _gaussian(60, 3, seed=1)).backward()
    assert torch.isfinite(gen.grad).all()


def test_correlation_loss_known_values():
    """Itself → 0; ρ = 1 vs ρ = −1 → 2; ρ = 1 vs exactly uncorrelated → 0.5 (2×2 entries)."""
    line = np.array([[0.0, 0.0], [1.0, 2.0], [2.0, 4.0], [3.0, 6.0]])
    anti = line * [1.0, -1.0]
    uncorrelated = np.array([[1.0, 1.0], [-1.0, 1.0], [1.0, -1.0], [-1.0, -1.0]])
    assert correlation_loss(line, line) == 0.0
    assert correlation_loss(anti, line) == pytest.approx(2.0, rel=1e-14)
    assert correlation_loss(uncorrelated, line) == pytest.approx(0.5, rel=1e-14)


def test_correlation_loss_gradcheck_and_needs_two_events():
    """gradcheck in float64; a single event has no correlation."""
    generator = torch.Generator().manual_seed(1)
    gen = torch.randn(8, 3, dtype=torch.float64, generator=generator, requires_grad=True)
    real = torch.randn(9, 3, dtype=torch.float64, generator=generator)
    assert torch.autograd.gradcheck(lambda a: correlation_loss(a, real), (gen,))
    with pytest.raises(ShapeError, match="at least 2"):
        correlation_loss(_gaussian(1, 3), _gaussian(5, 3))


# ---------------------------------------------------------------- images


def test_mean_squared_error_compares_mean_images():
    """Means (1, 2) vs (0, 0): ((1)² + (2)²)/2 = 2.5, whatever the spread or n."""
    gen = np.array([[0.0, 1.0], [2.0, 3.0]])
    real = np.array([[-1.0, 5.0], [1.0, -5.0], [0.0, 0.0]])
    assert mean_squared_error(gen, real) == pytest.approx(2.5, rel=1e-14)
    assert mean_squared_error(real, real) == 0.0


def test_mean_squared_error_gradcheck():
    """gradcheck in float64 w.r.t. the generated sample."""
    generator = torch.Generator().manual_seed(2)
    gen = torch.randn(7, 4, dtype=torch.float64, generator=generator, requires_grad=True)
    real = torch.randn(5, 4, dtype=torch.float64, generator=generator)
    assert torch.autograd.gradcheck(lambda a: mean_squared_error(a, real), (gen,))


def test_energy_sum_is_row_sum_of_same_type():
    """numpy in → numpy [n] out; torch in → tensor with gradients."""
    x = _gaussian(6, 3)
    np.testing.assert_allclose(energy_sum(x), x.sum(axis=1), rtol=1e-15)
    tensor = torch.from_numpy(x).requires_grad_(True)
    sums = energy_sum(tensor)
    assert isinstance(sums, torch.Tensor) and sums.shape == (6,) and sums.requires_grad


# ---------------------------------------------------------------- χ² and separation power


def test_chi2_ww_hand_computed():
    """W1 = 60, W2 = 20: bins give 100²/22000 + 100²/26000 + 0, NDF 2."""
    chi2, ndf = chi2_ww([10, 20, 30], [5, 5, 10])
    assert chi2 == pytest.approx(5 / 11 + 5 / 13, rel=1e-14)
    assert ndf == 2


def test_chi2_ww_identical_and_proportional_histograms_give_zero():
    """(a, a) and (a, 2a) have χ² = 0 and NDF = n_bins − 1."""
    counts = np.array([3, 8, 15, 9, 2])
    assert chi2_ww(counts, counts) == (0.0, 4)
    assert chi2_ww(counts, 2 * counts) == (0.0, 4)


def test_chi2_ww_counts_bins_empty_in_both():
    """Bin 0 empty in both is skipped (NDF 4 − 1 − 1); one-sided empties are kept."""
    chi2, ndf = chi2_ww([0, 5, 0, 3], [0, 4, 1, 0])
    assert ndf == 2
    assert chi2 == pytest.approx(49 / 381 + 1 + 3, rel=1e-14)


def test_chi2_ww_refuses_bad_histograms():
    """Empty histogram, length mismatch, negative or 2-D contents."""
    with pytest.raises(QcaloError, match="empty"):
        chi2_ww([0, 0], [1, 2])
    with pytest.raises(ShapeError, match="same bin edges"):
        chi2_ww([1, 2, 3], [1, 2])
    with pytest.raises(QcaloError, match="negative"):
        chi2_ww([1, -2], [1, 2])
    with pytest.raises(ShapeError):
        chi2_ww([[1, 2]], [[1, 2]])


def test_reduced_chi2_clips_outliers_into_outer_bins():
    """−5 lands in bin 0 and 0.5 in bin 1: both samples then fill [1, 1] → χ² = 0."""
    edges = [0.0, 0.5, 1.0]
    assert reduced_chi2(np.array([-5.0, 0.5]), np.array([0.2, 0.7]), edges) == 0.0
    assert reduced_chi2(np.array([0.1, 0.2, 0.3]), np.array([0.2, 0.7, 0.8]), edges) > 0.5


def test_reduced_chi2_is_nan_without_degrees_of_freedom():
    """All entries in one bin → NDF 0 → nan."""
    assert math.isnan(reduced_chi2(np.full(5, 0.25), np.full(3, 0.25), [0.0, 0.5, 1.0]))


def test_reduced_chi2_refuses_bad_edges():
    """Edges must be ≥ 2 and strictly increasing."""
    with pytest.raises(ShapeError, match="bin edges"):
        reduced_chi2(np.ones(3), np.ones(3), [1.0])
    with pytest.raises(QcaloError, match="increasing"):
        reduced_chi2(np.ones(3), np.ones(3), [0.0, 1.0, 1.0])


def test_energy_sum_chi2_uses_real_quantile_range():
    """Equals reduced_chi2 on 30 bins over the real row sums' 0.5–99.5 % quantiles."""
    real, gen = np.abs(_gaussian(2000)), np.abs(_gaussian(1500, seed=4, shift=0.1))
    real_sums = real.sum(axis=1)
    edges = np.linspace(*np.quantile(real_sums, [0.005, 0.995]), 31)
    expected = reduced_chi2(gen.sum(axis=1), real_sums, edges)
    assert energy_sum_chi2(gen, real) == pytest.approx(expected, rel=1e-12)
    assert energy_sum_chi2(real, real) == 0.0
    assert energy_sum_chi2(gen, real) > 1.0


def test_separation_power_closed_forms():
    """Identical → 0, disjoint → 1, p = (½, ½) vs (1, 0) → 1/3."""
    edges = [0.0, 0.5, 1.0]
    sample = np.array([0.1, 0.3, 0.6, 0.9])
    assert separation_power(sample, sample, edges) == 0.0
    assert separation_power([0.1, 0.2], [0.7, 0.8], edges) == pytest.approx(1.0, abs=1e-14)
    assert separation_power([0.25, 0.75], [0.25, 0.25], edges) == pytest.approx(1 / 3, rel=1e-14)


def test_separation_power_drops_out_of_range_values_and_is_size_invariant():
    """Values outside the edges are ignored; duplicating a sample does not change S."""
    edges = np.linspace(0.0, 1.0, 6)
    a, b = np.array([0.1, 0.15, 0.5, 0.7]), np.array([0.3, 0.5, 0.55, 0.9, 0.95])
    reference = separation_power(a, b, edges)
    assert separation_power(np.append(a, [5.0, -3.0]), b, edges) == pytest.approx(reference)
    assert separation_power(np.tile(a, 3), b, edges) == pytest.approx(reference)
    with pytest.raises(QcaloError, match="inside the bin edges"):
        separation_power([2.0, 3.0], b, edges)


def test_energy_sum_separation_uses_union_range():
    """Equals separation_power on 50 bins over min..max of both row-sum samples."""
    real, gen = _gaussian(400), _gaussian(300, seed=2, shift=0.2)
    real_sums, gen_sums = real.sum(axis=1), gen.sum(axis=1)
    both = np.concatenate([real_sums, gen_sums])
    edges = np.linspace(both.min(), both.max(), 51)
    expected = separation_power(gen_sums, real_sums, edges)
    assert energy_sum_separation(gen, real) == pytest.approx(expected, rel=1e-12)
    assert energy_sum_separation(real, real) == 0.0


# ---------------------------------------------------------------- clic8 reference numbers (§6)


@pytest.fixture(scope="module")
def clic8_train() -> np.ndarray:
    """The released clic8 training images ``[47682, 8]`` (skips if the file is absent)."""
    if not CLIC8_TRAIN.is_file():
        pytest.skip(f"{CLIC8_TRAIN} not present")
    h5py = pytest.importorskip("h5py")
    with h5py.File(CLIC8_TRAIN, "r") as handle:
        return handle["x"][:]


def test_clic8_median_distance(clic8_train):
    """Median pairwise distance over 1000 rows ≈ 0.137 (notes §5a/§6)."""
    assert median_distance(clic8_train) == pytest.approx(0.137, abs=0.01)


def test_clic8_real_vs_real_mmd_floor(clic8_train):
    """Biased MMD of disjoint real samples at n = 250, 20 draws: mean in [0.5e-3, 2.5e-3]."""
    scale = median_distance(clic8_train)
    rng = np.random.default_rng(2024)
    values = []
    for _ in range(20):
        rows = rng.choice(len(clic8_train), size=500, replace=False)
        values.append(mmd(clic8_train[rows[:250]], clic8_train[rows[250:]], scale=scale))
    assert 0.5e-3 <= np.mean(values) <= 2.5e-3


def test_clic8_shuffled_columns_baseline(clic8_train):
    """Columns shuffled independently (marginals kept) at n = 1000: MMD ≈ 8.8e-3, L ≈ 0.33."""
    scale = median_distance(clic8_train)
    rng = np.random.default_rng(7)
    rows = rng.choice(len(clic8_train), size=2000, replace=False)
    fake = clic8_train[rows[:1000]].copy()
    for pixel in range(fake.shape[1]):
        fake[:, pixel] = rng.permutation(fake[:, pixel])
    real = clic8_train[rows[1000:]]
    assert 8.8e-3 / 1.5 <= mmd(fake, real, scale=scale) <= 8.8e-3 * 1.5
    assert correlation_loss(fake, real) == pytest.approx(0.33, abs=0.05)


def test_ratio_with_error_matches_a_monte_carlo_spread():
    """The delta-method error of a / b agrees with the spread of simulated ratios (10 %)."""
    rng = np.random.default_rng(3)
    a = rng.normal(2.0, 0.1, 20000)
    b = rng.normal(1.0, 0.04, 20000)
    ratio, se = ratio_with_error((2.0, 0.1), (1.0, 0.04))
    assert ratio == 2.0
    assert se == pytest.approx(np.std(a / b), rel=0.1)
    assert math.isnan(standard_error([1.0]))


def test_ratio_with_error_matches_a_bootstrap_over_sets() -> None:
    """The delta-method error of mean(test)/mean(floor) agrees with resampling the sets (10 %)."""
    rng = np.random.default_rng(0)
    test, floor = rng.gamma(4.0, 5e-4, 30), rng.gamma(3.0, 4e-4, 30)
    boot = [rng.choice(test, 30).mean() / rng.choice(floor, 30).mean() for _ in range(4000)]
    _ratio, se = ratio_with_error((test.mean(), standard_error(test)), (floor.mean(), standard_error(floor)))
    assert se == pytest.approx(np.std(boot), rel=0.1)
