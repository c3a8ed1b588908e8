"""Tests of qcalo.data.dataset: the Splits interface every consumer takes."""

from __future__ import annotations

import numpy as np
import pytest

from qcalo.data.clic import ClicSplits
from qcalo.data.dataset import Splits, require_variation
from qcalo.exceptions import ConfigError, DatasetError, ShapeError


def events(n: int, width: int = 3, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).uniform(0.0, 0.5, (n, width))


def make(**changes: object) -> Splits:
    fields: dict[str, object] = {
        "train": events(6),
        "val": events(4, seed=1),
        "test": events(5, seed=2),
        "name": "toy",
        "source": "real",
        "location": "/data/toy",
    }
    fields.update(changes)
    return Splits(**fields)  # type: ignore[arg-type]


def test_fields_and_summary() -> None:
    """Arrays come back float64; summary names data set, source, sizes, energies, location."""
    splits = make(train=events(6).astype(np.float32))
    assert splits.train.dtype == np.float64 and splits.n_features == 3
    assert [len(s) for s in splits.splits()] == [6, 4, 5]
    assert splits.energies() is None and not splits.has_energy
    summary = splits.summary()
    assert summary == (
        "toy (real, 3 features, train/val/test=6/4/5, without incident energies, from /data/toy)"
    )
    assert repr(splits) == f"Splits: {summary}"


def test_energies_all_or_none() -> None:
    """Energies are aligned per split; some-but-not-all or a wrong length is refused."""
    energy = {f"{s}_energy": np.full(n, 250.0) for s, n in (("train", 6), ("val", 4), ("test", 5))}
    splits = make(**energy)
    assert splits.has_energy and "with incident energies" in splits.summary()
    assert [len(e) for e in splits.energies()] == [6, 4, 5]  # type: ignore[union-attr]
    with pytest.raises(ConfigError, match=r"energies given for \['train'\] only"):
        make(train_energy=np.full(6, 250.0))
    with pytest.raises(ShapeError, match=r"val_energy has shape \(3,\), expected \(4,\)"):
        make(**{**energy, "val_energy": np.full(3, 250.0)})
    with pytest.raises(DatasetError, match="test_energy holds NaN"):
        make(**{**energy, "test_energy": np.full(5, np.nan)})


@pytest.mark.parametrize(
    ("changes", "error", "expected"),
    [
        ({"val": events(4, width=2)}, ShapeError, "one width"),
        ({"test": np.zeros(5)}, ShapeError, "one width"),
        ({"test": np.zeros((0, 3))}, ShapeError, "test split (/data/toy) holds 0 events"),
        ({"source": "fake"}, ConfigError, "source is 'fake'"),
        ({"name": ""}, ConfigError, "Splits.name"),
        ({"val": np.where(np.eye(4, 3) > 0, np.inf, 0.1)}, DatasetError, "3 event(s) hold NaN"),
        ({"train": np.zeros((6, 3))}, DatasetError, "toy train split (/data/toy): every feature"),
        ({"val": np.tile(events(1), (4, 1))}, DatasetError, "constant over its 4 event(s)"),
        ({"test": events(1)}, DatasetError, "constant over its 1 event(s)"),
    ],
)
def test_bad_splits_are_one_line_errors(changes: dict, error: type, expected: str) -> None:
    """Every malformed split is refused on construction with one line naming it."""
    with pytest.raises(error) as caught:
        make(**changes)
    assert expected in str(caught.value) and "\n" not in str(caught.value)


def test_require_variation_accepts_one_varying_feature() -> None:
    """One varying column is enough: a constant pixel next to varying ones is real data."""
    values = np.zeros((4, 3))
    values[:, 1] = [0.1, 0.2, 0.1, 0.3]
    require_variation(values, "x", "fix")
    with pytest.raises(DatasetError, match="all zero"):
        require_variation(np.zeros((4, 3)), "x", "fix")


def test_clic_splits_is_the_interface() -> None:
    """ClicSplits is a Splits: old positional construction works, name and n_pixels derived."""
    train, val, test = events(6, 8), events(4, 8, 1), events(5, 8, 2)
    splits = ClicSplits(train, val, test, source="synthetic", location="tests")
    assert isinstance(splits, Splits) and splits.name == "clic8"
    assert splits.n_pixels == splits.n_features == 8
    assert splits.train is train  # float64 input is not copied
    assert repr(splits).startswith("ClicSplits: clic8 (synthetic, 8 features")
    with pytest.raises(ShapeError):
        ClicSplits(train, events(4, 6), test, source="real", location="x")
    with pytest.raises(ShapeError):
        ClicSplits(np.zeros(8), val, test, source="real", location="x")
    with pytest.raises(ConfigError):
        ClicSplits(train, val, test, source="fake", location="x")


def test_splits_is_frozen() -> None:
    """Fields cannot be reassigned."""
    splits = make()
    with pytest.raises(AttributeError):
        splits.train = events(2)  # type: ignore[misc]


def test_data_package_has_no_import_cycle() -> None:
    """Every import between qcalo.data modules (lazy ones too) points one way."""
    import ast
    from pathlib import Path

    import qcalo.data

    folder = Path(qcalo.data.__file__).parent
    graph = {
        path.stem: {
            node.module.removeprefix("qcalo.data.")
            for node in ast.walk(ast.parse(path.read_text()))
            if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("qcalo.data.")
        }
        for path in folder.glob("*.py")
        if path.stem != "__init__"
    }
    assert "clic" not in graph["synthetic"] and graph["dataset"] == set()

    def reaches(start: str, target: str, seen: set[str]) -> bool:
        for module in graph.get(start, set()) - seen:
            if module == target or reaches(module, target, seen | {module}):
                return True
        return False

    assert [module for module in graph if reaches(module, module, set())] == []
