"""The synthetic pion stand-in: format, seeding, calibration, and energy trends of real pions.

The trend tests compare incident energies where real pion showers are known to behave
monotonically (notes/ds1-pion-facts.md and standard hadronic-shower physics); each could
fail if the parametrization were changed carelessly.
"""

from __future__ import annotations

import numpy as np
import pytest

from qcalo.data.calochallenge import DS1_ENERGIES_MEV, kinetic_energy
from qcalo.data.calochallenge_geometry import ShowerFeatures, shower_features
from qcalo.data.synthetic_pions import (
    synthetic_ds1_pions,
    synthetic_pion_subset,
    synthetic_pions,
)
from qcalo.exceptions import ConfigError, DatasetError

LOW, MID, HIGH = 4096.0, 65536.0, 1048576.0


@pytest.fixture(scope="module")
def samples() -> dict[float, tuple[ShowerFeatures, dict[str, np.ndarray]]]:
    """2000 showers at four energies, with the generator's hidden truth."""
    out = {}
    for index, energy in enumerate((256.0, LOW, MID, HIGH)):
        showers, truth = synthetic_pions(np.full(2000, energy), seed=10 + index,
                                         return_truth=True)
        out[energy] = (shower_features(showers), truth)
    return out


def test_format_and_seeding() -> None:
    energies = np.array([256.0, 65536.0, 4194304.0] * 20)
    showers = synthetic_pions(energies[:, None], seed=3)
    assert showers.shape == (60, 533) and showers.dtype == np.float64
    assert np.all(np.isfinite(showers)) and showers.min() >= 0
    np.testing.assert_array_equal(showers, synthetic_pions(energies, seed=3))
    assert not np.array_equal(showers, synthetic_pions(energies, seed=4))
    assert np.count_nonzero(showers == 0) > 0.3 * showers.size  # sparse, exact zeros
    with pytest.raises(ConfigError, match="finite and > 0"):
        synthetic_pions([100.0, -1.0])


def test_response_rises_and_resolution_improves(samples: dict) -> None:
    ratio = {e: f.e_tot / e for e, (f, _) in samples.items()}
    means = [ratio[e].mean() for e in (256.0, LOW, MID, HIGH)]
    assert means == sorted(means)  # non-compensation: E_tot/p grows with energy
    assert means[0] < kinetic_energy(256.0) / 256.0  # cannot see more than E_kin on average
    assert 0.8 < means[-1] < 0.95  # EM-scale pions well below photons' 0.97
    spread = {e: ratio[e].std() / ratio[e].mean() for e in ratio}
    assert spread[LOW] > 1.5 * spread[MID]  # stochastic term
    assert spread[HIGH] < 1.15 * spread[MID]  # constant term: no worse at 1 TeV
    em = [samples[e][1]["em_fraction"].mean() for e in (LOW, MID, HIGH)]
    assert em == sorted(em) and em[0] > 0.1 and em[-1] < 0.9


def test_longitudinal_development(samples: dict) -> None:
    def share(energy: float, layers: tuple[int, ...]) -> float:
        features = samples[energy][0]
        return sum(features.e_layer[layer].sum() for layer in layers) / features.e_tot.sum()

    # Low-energy pions range out in the EM layers; at 65 GeV most energy is in the Tile.
    assert share(256.0, (0, 1, 2, 3)) > 0.85 and share(MID, (12, 13, 14)) > 0.6
    assert samples[256.0][1]["ranged_out"].mean() > 0.5 > samples[LOW][1]["ranged_out"].mean()
    # Showers get deeper with energy (maximum ∝ ln E): more in the last layer, less in front.
    assert share(LOW, (14,)) < share(MID, (14,))
    assert share(LOW, (0, 1)) > share(MID, (0, 1)) > share(HIGH, (0, 1))
    for layer in (0, 1, 2, 3, 12, 13, 14):  # every layer's mean energy grows
        energies = [samples[e][0].e_layer[layer].mean() for e in (LOW, MID, HIGH)]
        assert energies == sorted(energies), layer


def test_lateral_centres_widths_sparsity(samples: dict) -> None:
    features = {e: samples[e][0] for e in (LOW, MID, HIGH)}
    # The EM core grows with energy: the energy-weighted hadronic-layer widths shrink.
    for layer in (12, 13):
        widths = [np.median(features[e].width_eta[layer]) for e in (LOW, MID, HIGH)]
        assert widths == sorted(widths, reverse=True), layer
    assert 50 < np.median(features[MID].width_eta[12]) < 170  # published examples 50–169 mm
    # Shower centres scatter less around the axis at higher energy.
    for layer in (2, 12, 13):
        spread = [features[e].ec_eta[layer].std() for e in (LOW, MID, HIGH)]
        assert spread == sorted(spread, reverse=True), layer
    assert abs(features[MID].ec_phi[12].mean()) < 0.2 * features[MID].ec_phi[12].std()
    # More particles reach more voxels: sparsity falls.
    for layer in (2, 12, 13):
        sparsity = [features[e].sparsity[layer].mean() for e in (LOW, MID, HIGH)]
        assert sparsity == sorted(sparsity, reverse=True), layer


def test_pooled_calibration_to_published_numbers() -> None:
    """Pooled over the old DS1 pion file's mix / 20 (facts §1–2): 0.85, 0.33 %, 4.6 %."""
    counts = tuple(max(1, c // 20) for c in (10000,) * 11 + (5000, 3000, 2000, 230))
    data = synthetic_ds1_pions(counts, seed=1)
    assert len(data) == sum(counts) and set(data.incident_energies) == set(DS1_ENERGIES_MEV)
    features = shower_features(data.showers)
    total = features.e_tot.sum()
    assert features.e_tot.mean() / data.incident_energies.mean() == pytest.approx(0.85, abs=0.04)
    assert features.e_layer[0].sum() / total == pytest.approx(0.0033, abs=0.0015)
    assert features.e_layer[14].sum() / total == pytest.approx(0.046, abs=0.015)
    assert np.max(features.e_tot / data.incident_energies) < 3.1  # models' MAXDEP cap


def test_synthetic_subsets() -> None:
    three = synthetic_pion_subset("three", seed=2)
    assert three.name == "three" and three.energies_mev == (4096.0, 65536.0, 1048576.0)
    for part in ("train", "val", "test"):
        values, counts = np.unique(three.part(part).incident_energies, return_counts=True)
        assert values.tolist() == [4096.0, 65536.0, 1048576.0] and counts.tolist() == [500] * 3
    again = synthetic_pion_subset("three", seed=2)
    np.testing.assert_array_equal(again.test_showers, three.test_showers)
    custom = synthetic_pion_subset(None, energies=[1000.0], counts=20, val_counts=5,
                                   test_counts=0, seed=0)
    assert custom.train_showers.shape == (20, 533) and custom.val_showers.shape == (5, 533)
    assert custom.name == "custom"
    with pytest.raises((ConfigError, DatasetError)):
        synthetic_pion_subset(None, energies=[1000.0, 2000.0], counts=[1, 2, 3])
