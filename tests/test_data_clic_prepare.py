"""Tests of the CLIC pixel recipe (qcalo.data.clic_recipe) and prepare_clic (qcalo.data.clic_prepare)."""

from __future__ import annotations

import os
import stat
from contextlib import AbstractContextManager
from pathlib import Path

import h5py
import numpy as np
import pytest

from qcalo.data import clic_prepare as prepare_module
from qcalo.data.clic import load_clic
from qcalo.data.clic_catalogue import CLIC
from qcalo.data.clic_prepare import prepare_clic
from qcalo.data.clic_recipe import pixel_layout, profile_to_pixels
from qcalo.exceptions import ConfigError, DatasetError, ShapeError

SPLITS = CLIC.splits
# First kept layer and layers per pixel for L = 25 (notes/clic8.md §3 table), written out
# by hand rather than derived, so a slip in the recipe code cannot hide itself.
LAYOUT_BY_N = {8: (1, 3), 6: (1, 4), 10: (3, 2)}


def clic_filename(split: str, n_pixels: int = 8) -> str:
    return CLIC.filename(split, n_pixels)


@pytest.mark.parametrize("n_pixels", sorted(LAYOUT_BY_N))
def test_pixel_layout_matches_table(n_pixels: int) -> None:
    """The layer layout is the table of notes/clic8.md §3."""
    assert pixel_layout(25, n_pixels) == LAYOUT_BY_N[n_pixels]


# ------------------------------------------------------------------ recipe


def hand_pixels(profile: np.ndarray, n_pixels: int) -> np.ndarray:
    """The recipe of notes/clic8.md §3 written out event by event."""
    first, per_pixel = LAYOUT_BY_N[n_pixels]
    return np.array(
        [
            [
                min(np.mean(row[first + k * per_pixel : first + (k + 1) * per_pixel]) / 50, 0.5)
                for k in range(n_pixels)
            ]
            for row in profile
        ]
    )


@pytest.mark.parametrize("n_pixels", sorted(LAYOUT_BY_N))
def test_profile_to_pixels_matches_hand_recipe(n_pixels: int) -> None:
    """Layer dropping, mean over layers, /50 and the clip agree with the written recipe."""
    profile = np.random.default_rng(n_pixels).gamma(2.0, 8.0, size=(50, 25))
    np.testing.assert_allclose(
        profile_to_pixels(profile, n_pixels), hand_pixels(profile, n_pixels), rtol=1e-12
    )


def test_profile_to_pixels_eight_pixels_drop_layer_zero() -> None:
    """For N = 8 only layer 0 is dropped: X_k = (p[3k+1] + p[3k+2] + p[3k+3]) / 150."""
    profile = np.arange(25.0)[None, :]
    expected = np.array([[(3 * k + 2) * 3 / 150 for k in range(8)]])
    np.testing.assert_allclose(profile_to_pixels(profile, 8), np.minimum(expected, 0.5))


def test_profile_to_pixels_too_many_pixels() -> None:
    """More pixels than layers is a ShapeError."""
    with pytest.raises(ShapeError, match="25 layers cannot make 30 pixels"):
        profile_to_pixels(np.ones((1, 25)), 30)


# ------------------------------------------------------------------ prepare_clic

RAW_ENERGIES_EXACT = (225.0, 275.0, 225.0 + 1e-9, 275.0 - 1e-9, 200.0, 300.0)


def make_raw_dir(
    folder: Path, n_files: int = 3, n_events: int = 40, seed: int = 0
) -> dict[float, np.ndarray]:
    """Write tiny raw EleEscan-like files; return {energy: layer profile} for every event.

    Energies are unique, so an output row can be traced back to its raw event; the images
    scale with the energy and rise along the layers so that some pixels clip at 0.5.
    """
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    layer_weight = np.linspace(0.2, 3.0, 25)
    profiles: dict[float, np.ndarray] = {}
    for index in range(n_files):
        energy = rng.uniform(200.0, 300.0, n_events)
        if index == 0:
            energy[: len(RAW_ENERGIES_EXACT)] = RAW_ENERGIES_EXACT
        ecal = (
            rng.gamma(2.0, 0.2 * layer_weight, size=(n_events, 5, 5, 25))
            * (energy / 250.0)[:, None, None, None]
        )
        stored_energy = (
            energy[:, None] if index == 1 else energy
        )  # both layouts occur in the raw data
        with h5py.File(folder / f"EleEscan_{index}.h5", "w") as handle:
            handle.create_dataset("ECAL", data=ecal.astype(np.float32))
            handle.create_dataset("energy", data=stored_energy)
            handle.create_dataset("HCAL", data=np.zeros((n_events, 2, 2, 3)))
        profile = ecal.astype(np.float32).astype(np.float64).sum(axis=(1, 2))
        profiles.update(zip(energy.tolist(), profile, strict=True))
    return profiles


RawDir = tuple[Path, dict[float, np.ndarray]]


@pytest.fixture(scope="module")
def raw_dir(tmp_path_factory: pytest.TempPathFactory) -> RawDir:
    folder = tmp_path_factory.mktemp("raw")
    return folder, make_raw_dir(folder)


def read_prepared(path: Path) -> tuple[np.ndarray, np.ndarray, dict]:
    with h5py.File(path, "r") as handle:
        assert set(handle) == {"x", "energy_gev"}
        return handle["x"][()], handle["energy_gev"][()], dict(handle.attrs)


@pytest.mark.parametrize("n_pixels", sorted(LAYOUT_BY_N))
def test_prepare_clic_recipe_cut_alignment(n_pixels: int, raw_dir: RawDir, tmp_path: Path) -> None:
    """Rows equal the hand recipe applied to the raw event with the same energy; cut is strict."""
    folder, profiles = raw_dir
    out = tmp_path / "out"
    written = prepare_clic(folder, out, n_pixels=n_pixels, seed=5, chunk_size=7, progress=False)
    assert sorted(os.listdir(out)) == sorted(clic_filename(s, n_pixels) for s in SPLITS)
    assert set(written) == set(SPLITS)
    kept = sorted(e for e in profiles if 225.0 < e < 275.0)
    n_kept = len(kept)
    sizes = {"train": int(0.6 * n_kept), "val": int(0.2 * n_kept)}
    sizes["test"] = n_kept - sizes["train"] - sizes["val"]
    seen = []
    for split in SPLITS:
        x, energy, attrs = read_prepared(written[split])
        assert x.shape == (sizes[split], n_pixels) and x.dtype == np.float64
        assert energy.shape == (sizes[split],) and energy.dtype == np.float64
        expected = hand_pixels(np.stack([profiles[e] for e in energy.tolist()]), n_pixels)
        np.testing.assert_allclose(x, expected, rtol=1e-12)
        seen.extend(energy.tolist())
        assert attrs["split"] == split and attrs["seed"] == 5 and attrs["n_pixels"] == n_pixels
        assert list(attrs["source_files"]) == [f"EleEscan_{i}.h5" for i in range(3)]
        assert attrs["qcalo_version"] and attrs["dropped_front"] == LAYOUT_BY_N[n_pixels][0]
    assert sorted(seen) == kept
    assert 225.0 not in seen and 275.0 not in seen and 225.0 + 1e-9 in seen and 275.0 - 1e-9 in seen
    if n_pixels == 8:
        assert (np.concatenate([read_prepared(p)[0] for p in written.values()]) == 0.5).any()
    splits = load_clic(out, n_pixels=n_pixels, allow_synthetic=False)
    assert splits.source == "real" and len(splits.train) == sizes["train"]
    for split in SPLITS:  # the loaded energies are the written ones, row by row
        x, energy, _ = read_prepared(written[split])
        np.testing.assert_array_equal(getattr(splits, split), x)
        np.testing.assert_array_equal(getattr(splits, f"{split}_energy"), energy)


def test_prepare_clic_split_is_seeded(raw_dir: RawDir, tmp_path: Path) -> None:
    """Equal seeds give identical files; another seed reorders; chunking does not matter."""
    folder, _ = raw_dir
    first = prepare_clic(folder, tmp_path / "a", seed=1, progress=False)
    again = prepare_clic(folder, tmp_path / "b", seed=1, chunk_size=3, progress=False)
    other = prepare_clic(folder, tmp_path / "c", seed=2, progress=False)
    for split in SPLITS:
        np.testing.assert_array_equal(
            read_prepared(first[split])[0], read_prepared(again[split])[0]
        )
        np.testing.assert_array_equal(
            read_prepared(first[split])[1], read_prepared(again[split])[1]
        )
    assert not np.array_equal(read_prepared(first["train"])[1], read_prepared(other["train"])[1])


def test_prepare_clic_progress_bar(
    raw_dir: RawDir, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """progress=True draws a bar on stderr and nothing on stdout."""
    folder, _ = raw_dir
    prepare_clic(folder, tmp_path / "out", progress=True)
    captured = capsys.readouterr()
    assert "prepare-clic" in captured.err and captured.out == ""


def write_raw(path: Path, **datasets: np.ndarray) -> Path:
    with h5py.File(path, "w") as handle:
        for key, values in datasets.items():
            handle.create_dataset(key, data=values)
    return path


GOOD_ECAL = np.ones((4, 2, 2, 25))
GOOD_ENERGY = np.full(4, 250.0)
BAD_RAW = {
    "no_ecal": ({"energy": GOOD_ENERGY}, "no dataset(s) ['ECAL']"),
    "no_energy": ({"ECAL": GOOD_ECAL}, "no dataset(s) ['energy']"),
    "few_layers": ({"ECAL": np.ones((4, 2, 2, 6)), "energy": GOOD_ENERGY}, "fewer than 8 layers"),
    "lengths": (
        {"ECAL": GOOD_ECAL, "energy": np.full(3, 250.0)},
        "energy shape (3,) does not match 4",
    ),
    "nan_ecal": (
        {
            "ECAL": np.where(np.arange(4)[:, None, None, None] == 2, np.nan, GOOD_ECAL),
            "energy": GOOD_ENERGY,
        },
        "ECAL of event 2 is NaN",
    ),
    "nan_energy": (
        {"ECAL": GOOD_ECAL, "energy": np.array([250.0, np.nan, 250.0, 250.0])},
        "energy of event 1 is NaN",
    ),
}


@pytest.mark.parametrize("case", BAD_RAW, ids=str)
def test_prepare_clic_bad_raw_leaves_nothing(case: str, raw_dir: RawDir, tmp_path: Path) -> None:
    """A bad raw file among good ones: one-line DatasetError and no output written or changed."""
    good_folder, _ = raw_dir
    folder = tmp_path / "raw"
    folder.mkdir()
    for path in good_folder.glob("*.h5"):
        (folder / path.name).symlink_to(path)
    datasets, expected = BAD_RAW[case]
    write_raw(folder / "EleEscan_9_bad.h5", **datasets)
    out = tmp_path / "out"
    with pytest.raises(DatasetError) as caught:
        prepare_clic(folder, out, progress=False)
    message = str(caught.value)
    assert expected in message and "\n" not in message
    assert "EleEscan_9_bad.h5" in message
    assert not out.exists()


def test_prepare_clic_failure_keeps_old_files(raw_dir: RawDir, tmp_path: Path) -> None:
    """A failed run leaves an earlier run's files byte-identical and no temp files."""
    good_folder, _ = raw_dir
    out = tmp_path / "out"
    prepare_clic(good_folder, out, progress=False)
    before = {p.name: p.read_bytes() for p in out.iterdir()}
    folder = tmp_path / "raw"
    folder.mkdir()
    (folder / "EleEscan_0.h5").symlink_to(good_folder / "EleEscan_0.h5")
    (folder / "EleEscan_1.h5").write_text("truncated download")
    with pytest.raises(DatasetError, match="not a readable HDF5 file"):
        prepare_clic(folder, out, seed=9, progress=False)
    assert {p.name: p.read_bytes() for p in out.iterdir()} == before


def test_prepare_clic_write_error_removes_temps(
    raw_dir: RawDir, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An exception while writing removes every temp file and writes no final file."""
    folder, _ = raw_dir
    real_attrs = prepare_module._recipe_attrs
    monkeypatch.setattr(
        prepare_module, "_recipe_attrs", lambda *a: {**real_attrs(*a), "bad": object()}
    )
    out = tmp_path / "out"
    with pytest.raises(TypeError):
        prepare_clic(folder, out, progress=False)
    assert list(out.iterdir()) == []


def test_prepare_clic_empty_folder(tmp_path: Path) -> None:
    """A folder without .h5 files says where to get them."""
    with pytest.raises(DatasetError, match=r"no \*\.h5 files; unpack Ele_FixedAngle"):
        prepare_clic(tmp_path, tmp_path / "out", progress=False)
    with pytest.raises(DatasetError, match="no such folder"):
        prepare_clic(tmp_path / "missing", tmp_path / "out", progress=False)


def test_prepare_clic_too_few_events(tmp_path: Path) -> None:
    """Too few events in the window to fill every split is an error, not an empty file."""
    write_raw(tmp_path / "a.h5", ECAL=np.ones((2, 1, 1, 25)), energy=np.array([250.0, 100.0]))
    with pytest.raises(DatasetError, match=r"only 1 event\(s\) pass the energy cut"):
        prepare_clic(tmp_path, tmp_path / "out", progress=False)


@pytest.mark.parametrize(
    ("kwargs", "expected"),
    [
        ({"fractions": (0.5, 0.2, 0.2)}, "fractions"),
        ({"energy_window_gev": (275.0, 225.0)}, "low < high"),
        ({"chunk_size": 0}, "chunk_size=0; use an integer ≥ 1"),
        ({"n_pixels": 0}, "n_pixels=0; use an integer ≥ 1"),
        ({"n_pixels": True}, "n_pixels=True"),
        ({"seed": -1}, "seed=-1; use an integer ≥ 0"),
        ({"energy_window_gev": (225.0, float("nan"))}, "use a finite number"),
    ],
)
def test_prepare_clic_bad_arguments(
    kwargs: dict, expected: str, raw_dir: RawDir, tmp_path: Path
) -> None:
    """Bad parameters are ConfigErrors raised before any file is read."""
    with pytest.raises(ConfigError, match=expected):
        prepare_clic(raw_dir[0], tmp_path / "out", progress=False, **kwargs)


@pytest.fixture
def umask_027() -> object:
    previous = os.umask(0o027)
    yield
    os.umask(previous)


@pytest.mark.usefixtures("umask_027")
def test_prepare_clic_files_get_umask_permissions(raw_dir: RawDir, tmp_path: Path) -> None:
    """The files are written via qcalo.atomic: mode 0666 & ~umask (0640 here), not mkstemp's 0600."""
    written = prepare_clic(raw_dir[0], tmp_path / "out", progress=False)
    assert {stat.S_IMODE(path.stat().st_mode) for path in written.values()} == {0o640}
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == sorted(
        clic_filename(s) for s in SPLITS
    )


def test_prepare_clic_third_file_failing_changes_nothing(
    raw_dir: RawDir, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A failure after two files were written leaves all three old files and no temp file."""
    out = tmp_path / "out"
    prepare_clic(raw_dir[0], out, seed=1, progress=False)
    before = {p.name: p.read_bytes() for p in out.iterdir()}
    real_atomic_path, entered = prepare_module.atomic_path, []

    def failing_third(path: Path) -> AbstractContextManager[Path]:
        entered.append(path)
        if len(entered) == 3:
            raise OSError("disk full")
        return real_atomic_path(path)

    monkeypatch.setattr(prepare_module, "atomic_path", failing_third)
    with pytest.raises(OSError, match="disk full"):
        prepare_clic(raw_dir[0], out, seed=2, progress=False)
    assert len(entered) == 3
    assert {p.name: p.read_bytes() for p in out.iterdir()} == before
