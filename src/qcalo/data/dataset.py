"""The dataset interface every consumer takes: three splits of a calorimeter data set.

Training, run directories and evaluation read only what :class:`Splits` holds, so any data
source (the CLIC files, their synthetic stand-in, later CaloChallenge or GAN data) plugs in by
returning one. Construction validates: a ``Splits`` that exists is safe to train on.
"""

from __future__ import annotations

from dataclasses import KW_ONLY, dataclass

import numpy as np

from qcalo.exceptions import ConfigError, DatasetError, ShapeError

__all__ = ["SOURCES", "SPLIT_NAMES", "Splits", "SyntheticDataWarning", "require_variation"]

SOURCES = ("real", "synthetic")
"""Allowed values of :attr:`Splits.source`."""
SPLIT_NAMES = ("train", "val", "test")


class SyntheticDataWarning(UserWarning):
    """Real data was not found, so a synthetic stand-in is used instead."""


def require_variation(array: np.ndarray, where: str, fix: str) -> None:
    """Refuse events that are all alike (e.g. all zero): nothing to learn, and a zero scale.

    Without this check an all-zero file passes every range test and training fails much later
    inside a codec or a metric with ``scale=0.0``.

    Args:
        array: ``[n, n_features]`` values.
        where: what holds them (a file path, or ``"clic8 train split"``), for the message.
        fix: what to do about it, for the message.

    Raises:
        DatasetError: if every column has zero variance (always so for ``n < 2`` events).
    """
    if len(array) < 2 or not np.any(np.ptp(array, axis=0) > 0):
        value = f"{float(array.flat[0]):.4g}" if array.size else "no value"
        raise DatasetError(
            f"{where}: every feature is constant over its {len(array)} event(s) "
            f"(first value {value}; all zero?), so there is no distribution to learn; {fix}"
        )


@dataclass(frozen=True, eq=False)
class Splits:
    """Train, validation and test events of one data set, validated on construction.

    Arrays are converted to float64 (the only copy made). Build one with keywords after the
    three arrays: ``Splits(train, val, test, name="clic8", source="real", location=...)``.

    Attributes:
        train: events ``[n_train, n_features]``, float64, finite.
        val: same width, the validation split.
        test: same width, the test split.
        name: data set name, e.g. ``"clic8"``.
        source: ``"real"`` (files on disk) or ``"synthetic"`` (a stand-in).
        location: the resolved absolute folder the files were read from, or
            ``"synthetic(seed=…)"``.
        train_energy: incident energy in GeV per train event ``[n_train]``, or ``None`` when
            the source has none (the published CLIC files); the three are all set or all None.
        val_energy: same for ``val``.
        test_energy: same for ``test``.

    Raises:
        ShapeError: splits not 2-D, of unequal width, empty, or energies of the wrong length.
        ConfigError: unknown ``source``, empty ``name``, or energies set for only some splits.
        DatasetError: NaN/inf values, or a split whose every feature is constant.
    """

    train: np.ndarray
    val: np.ndarray
    test: np.ndarray
    _: KW_ONLY
    name: str
    source: str
    location: str
    train_energy: np.ndarray | None = None
    val_energy: np.ndarray | None = None
    test_energy: np.ndarray | None = None

    def __post_init__(self) -> None:
        if self.source not in SOURCES:
            raise ConfigError(f"Splits.source is {self.source!r}; use one of {list(SOURCES)}")
        if not isinstance(self.name, str) or not self.name:
            raise ConfigError(f"Splits.name is {self.name!r}; use the data set name, e.g. 'clic8'")
        for split in SPLIT_NAMES:
            # frozen: object.__setattr__ is the documented way to normalise in __post_init__
            object.__setattr__(self, split, np.asarray(getattr(self, split), dtype=np.float64))
        self._check_events()
        self._check_energies()

    def _check_events(self) -> None:
        shapes = {split: getattr(self, split).shape for split in SPLIT_NAMES}
        widths = {shape[1] if len(shape) == 2 else -1 for shape in shapes.values()}
        if len(widths) != 1 or -1 in widths or 0 in widths:
            raise ShapeError(
                f"{self.name} needs three 2-D [n, n_features] arrays of one width, got {shapes}"
            )
        for split, shape in shapes.items():
            where = f"{self.name} {split} split ({self.location})"
            if shape[0] == 0:
                raise ShapeError(f"{where} holds 0 events; give every split at least 2")
            values = getattr(self, split)
            if not np.isfinite(values).all():
                bad = int((~np.isfinite(values)).any(axis=1).sum())
                raise DatasetError(f"{where}: {bad} event(s) hold NaN or inf; repair the source")
            require_variation(values, where, "check the source data")

    def _check_energies(self) -> None:
        energies = {split: getattr(self, f"{split}_energy") for split in SPLIT_NAMES}
        given = [split for split, energy in energies.items() if energy is not None]
        if not given:
            return
        if len(given) != len(SPLIT_NAMES):
            raise ConfigError(
                f"{self.name}: incident energies given for {given} only; give all three or none"
            )
        for split, energy in energies.items():
            energy = np.asarray(energy, dtype=np.float64)
            n_events = len(getattr(self, split))
            if energy.shape != (n_events,):
                raise ShapeError(
                    f"{self.name} {split}_energy has shape {energy.shape}, expected ({n_events},)"
                )
            if not np.isfinite(energy).all():
                raise DatasetError(
                    f"{self.name} {split}_energy holds NaN or inf; repair the source"
                )
            object.__setattr__(self, f"{split}_energy", energy)

    @property
    def n_features(self) -> int:
        """Values per event (pixels, voxels, …)."""
        return int(self.train.shape[1])

    @property
    def has_energy(self) -> bool:
        """Whether the incident energies are known."""
        return self.train_energy is not None

    def splits(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Return ``(train, val, test)``."""
        return self.train, self.val, self.test

    def energies(self) -> tuple[np.ndarray, np.ndarray, np.ndarray] | None:
        """Return ``(train_energy, val_energy, test_energy)``, or ``None`` when unknown."""
        if not self.has_energy:
            return None
        return self.train_energy, self.val_energy, self.test_energy  # type: ignore[return-value]

    def summary(self) -> str:
        """One line: name, source, width, split sizes, energies, location."""
        sizes = "/".join(str(len(split)) for split in self.splits())
        energy = "with" if self.has_energy else "without"
        return (
            f"{self.name} ({self.source}, {self.n_features} features, train/val/test={sizes}, "
            f"{energy} incident energies, from {self.location})"
        )

    def __repr__(self) -> str:
        return f"{type(self).__name__}: {self.summary()}"
