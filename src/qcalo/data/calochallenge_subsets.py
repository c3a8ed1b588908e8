"""Seeded dataset-1 subsets with held-out validation and test parts (the seed's data sets).

The Quantum FastCaloGAN study (seed 001) trains on two small pion subsets:

* ``single``: 1000 events at 65 536 MeV;
* ``three``: 500 events each at 4 096, 65 536 and 1 048 576 MeV.

:func:`make_subset` draws any list of energies and counts from a :class:`Ds1Data`. Each
energy also gets a **validation** and a **test** part, by default as large as its training
part (the χ² compares equal-size samples), drawn from disjoint events: for ``single`` that
is 1000 / 1000 / 1000 events, for ``three`` 500 / 500 / 500 per energy (1500 per part). The
draw is a function of ``seed`` only; each part is shuffled.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from qcalo.data.calochallenge import Ds1Data
from qcalo.exceptions import ConfigError, DatasetError
from qcalo.validate import nonnegative_int, positive_int

__all__ = ["SUBSET_PARTS", "SUBSET_PRESETS", "Ds1Subset", "make_subset", "subset_spec"]

SUBSET_PRESETS: dict[str, tuple[tuple[float, ...], tuple[int, ...]]] = {
    "single": ((65536.0,), (1000,)),
    "three": ((4096.0, 65536.0, 1048576.0), (500, 500, 500)),
}
"""``name: (incident energies in MeV, training events per energy)`` from the seed."""

SUBSET_PARTS = ("train", "val", "test")

_ENERGY_RTOL = 1e-9  # energies are exact powers of two; allow float noise only


@dataclass(frozen=True, eq=False)
class Ds1Subset:
    """Train / validation / test parts of a subset; energies ``[n]`` (MeV), showers ``[n, n_vox]``.

    Attributes:
        name: preset name or ``"custom"``.
        energies_mev: the incident energies drawn, in the order given.
        counts: training events per energy; ``val_counts`` / ``test_counts`` likewise.
        seed: the seed of the draw.
    """

    name: str
    energies_mev: tuple[float, ...]
    counts: tuple[int, ...]
    val_counts: tuple[int, ...]
    test_counts: tuple[int, ...]
    seed: int
    particle: str
    train_energies: np.ndarray
    train_showers: np.ndarray
    val_energies: np.ndarray
    val_showers: np.ndarray
    test_energies: np.ndarray
    test_showers: np.ndarray

    def part(self, which: str) -> Ds1Data:
        """One part (``"train"``, ``"val"`` or ``"test"``) as :class:`Ds1Data`."""
        if which not in SUBSET_PARTS:
            raise ConfigError(f"part={which!r}; use one of {list(SUBSET_PARTS)}")
        return Ds1Data(getattr(self, f"{which}_energies"), getattr(self, f"{which}_showers"),
                       self.particle)


def subset_spec(
    name: str | None = None,
    energies: Sequence[float] | None = None,
    counts: Sequence[int] | int | None = None,
) -> tuple[str, tuple[float, ...], tuple[int, ...]]:
    """Resolve a preset name or an explicit (energies, counts) into ``(name, energies, counts)``.

    ``counts`` may be one number for every energy. Energies and counts given together with a
    preset name override the preset.
    """
    if name is not None and name not in SUBSET_PRESETS and energies is None:
        raise ConfigError(
            f"unknown subset {name!r}; use one of {sorted(SUBSET_PRESETS)} or give energies"
        )
    preset = SUBSET_PRESETS.get(name or "", (None, None))
    chosen_energies = tuple(energies) if energies is not None else preset[0]
    if chosen_energies is None:
        raise ConfigError("no subset given; pass a preset name ('single', 'three') or energies")
    if counts is None:
        counts = preset[1] if preset[1] is not None and energies is None else 1000
    if isinstance(counts, int | np.integer):
        counts = (int(counts),) * len(chosen_energies)
    chosen_counts = tuple(positive_int(c, "count") for c in counts)
    if len(chosen_counts) != len(chosen_energies) or not chosen_energies:
        raise ConfigError(
            f"{len(chosen_energies)} energies but {len(chosen_counts)} counts; give one count "
            "per energy (or a single count for all)"
        )
    for energy in chosen_energies:
        if not (isinstance(energy, int | float) and np.isfinite(energy) and energy > 0):
            raise ConfigError(f"energy {energy!r}; use incident energies in MeV > 0")
    if len(set(chosen_energies)) != len(chosen_energies):
        raise ConfigError(f"energies {list(chosen_energies)} repeat one; list each once")
    label = name if name is not None and energies is None else "custom"
    return label, tuple(float(e) for e in chosen_energies), chosen_counts


def make_subset(
    data: Ds1Data,
    name: str | None = "single",
    *,
    energies: Sequence[float] | None = None,
    counts: Sequence[int] | int | None = None,
    val_counts: Sequence[int] | int | None = None,
    test_counts: Sequence[int] | int | None = None,
    seed: int = 0,
    source: str = "the data",
) -> Ds1Subset:
    """Draw a seeded subset with disjoint train / validation / test parts.

    Args:
        data: showers to draw from (e.g. :func:`~qcalo.data.calochallenge.read_ds1`).
        name: ``"single"``, ``"three"``, or ``None`` with ``energies``.
        energies: incident energies in MeV (override the preset).
        counts: training events per energy (one number or one per energy).
        val_counts: validation events per energy; default = ``counts``; 0 allowed.
        test_counts: test events per energy; default = ``counts``; 0 allowed.
        seed: seed of the draw (same seed and data → same subset).
        source: how to name ``data`` in error messages (e.g. its file path).

    Returns:
        The subset; each part is shuffled.

    Raises:
        ConfigError: bad names, counts or energies.
        DatasetError: one line, if an energy is absent from ``data`` or has too few events.
    """
    label, chosen, train_counts = subset_spec(name, energies, counts)
    val = _per_energy(val_counts, train_counts, "val_counts")
    test = _per_energy(test_counts, train_counts, "test_counts")
    seed = nonnegative_int(seed, "seed")
    rng = np.random.default_rng(seed)
    available = np.unique(data.incident_energies)
    parts: dict[str, list[np.ndarray]] = {part: [] for part in SUBSET_PARTS}
    for energy, n_train, n_val, n_test in zip(chosen, train_counts, val, test, strict=True):
        rows = np.flatnonzero(np.isclose(data.incident_energies, energy, rtol=_ENERGY_RTOL, atol=0))
        if rows.size == 0:
            present = ", ".join(f"{e:g}" for e in available[:20])
            raise DatasetError(
                f"{source}: no events at {energy:g} MeV (energies present: {present}); "
                "choose energies from that list"
            )
        need = n_train + n_val + n_test
        if rows.size < need:
            raise DatasetError(
                f"{source}: {rows.size} events at {energy:g} MeV but {n_train}+{n_val}+{n_test} "
                "requested; lower the counts"
            )
        drawn = rng.permutation(rows)[:need]
        parts["train"].append(drawn[:n_train])
        parts["val"].append(drawn[n_train : n_train + n_val])
        parts["test"].append(drawn[n_train + n_val :])
    arrays: dict[str, np.ndarray] = {}
    for part, pieces in parts.items():
        rows = rng.permutation(np.concatenate(pieces))
        arrays[f"{part}_energies"] = data.incident_energies[rows]
        arrays[f"{part}_showers"] = data.showers[rows]
    return Ds1Subset(
        name=label, energies_mev=chosen, counts=train_counts, val_counts=val, test_counts=test,
        seed=seed, particle=data.particle, **arrays,
    )


def _per_energy(
    given: Sequence[int] | int | None, default: tuple[int, ...], name: str
) -> tuple[int, ...]:
    if given is None:
        return default
    values = (given,) * len(default) if isinstance(given, int | np.integer) else tuple(given)
    if len(values) != len(default):
        raise ConfigError(f"{name} has {len(values)} entries for {len(default)} energies")
    return tuple(nonnegative_int(v, name) for v in values)
