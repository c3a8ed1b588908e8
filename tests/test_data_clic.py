"""Tests of qcalo.data.clic and qcalo.data.paths: reading, validation, loading, preparing."""

from __future__ import annotations

import os
import warnings
from pathlib import Path

import h5py
import numpy as np
import pytest

from qcalo.data import clic as clic_module
from qcalo.data.clic import (
    MAX_ENERGY,
    SPLITS,
    ClicSplits,
    SyntheticDataWarning,
    clic_filename,
    find_clic_dir,
    load_clic,
    prepare_clic,
    profile_to_pixels,
    read_clic_file,
)
from qcalo.data.paths import resolve_data_dir
from qcalo.exceptions import ConfigError, DatasetError, ShapeError

REAL_SIZES = {"train": 47682, "val": 15894, "test": 15895}
SMALL_SYNTHETIC = (60, 20, 20)
# First kept layer and layers per pixel for L = 25 (notes/clic8.md §3 table), written out
# by hand rather than derived, so a slip in the recipe code cannot hide itself.
LAYOUT_BY_N = {8: (1, 3), 6: (1, 4), 10: (3, 2)}


def shared_clic8_dir() -> Path:
    """Folder of the real clic8 files: ``shared/`` sits beside the checkout."""
    return Path(__file__).resolve().parents[2] / "shared" / "data" / "clic8"


def real_files_present() -> bool:
    return all((shared_clic8_dir() / clic_filename(split)).is_file() for split in SPLITS)


needs_real = pytest.mark.skipif(
    not real_files_present(), reason=f"real clic8 files not found in {shared_clic8_dir()}"
)


def write_x(path: Path, values: object, key: str = "x") -> Path:
    with h5py.File(path, "w") as handle:
        handle.create_dataset(key, data=values)
    return path


def write_split_set(folder: Path, n_pixels: int = 8, splits: tuple[str, ...] = SPLITS) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    for split in splits:
        write_x(folder / clic_filename(split, n_pixels), rng.uniform(0, 0.5, (5, n_pixels)))
    return folder


# ------------------------------------------------------------------ names and paths


def test_clic_filename_and_bad_split() -> None:
    """File names follow the published pattern; unknown splits are refused."""
    assert clic_filename("train") == "clic_8px_train.h5"
    assert clic_filename("test", 6) == "clic_6px_test.h5"
    with pytest.raises(ConfigError, match="unknown split 'dev'"):
        clic_filename("dev")


def test_resolve_data_dir_order(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """--data beats $QCALO_DATA, which beats the platformdirs cache folder."""
    import platformdirs

    monkeypatch.setattr(platformdirs, "user_cache_dir", lambda app: str(tmp_path / "cache" / app))
    monkeypatch.delenv("QCALO_DATA", raising=False)
    assert resolve_data_dir() == tmp_path / "cache" / "qcalo"
    monkeypatch.setenv("QCALO_DATA", "")
    assert resolve_data_dir() == tmp_path / "cache" / "qcalo"
    monkeypatch.setenv("QCALO_DATA", str(tmp_path / "env"))
    assert resolve_data_dir() == tmp_path / "env"
    assert resolve_data_dir(tmp_path / "flag") == tmp_path / "flag"
    assert resolve_data_dir(str(tmp_path / "flag")) == tmp_path / "flag"
    assert not (tmp_path / "cache").exists() and not (tmp_path / "env").exists()


def test_resolve_data_dir_expands_home(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """A leading ~ is expanded."""
    monkeypatch.setenv("HOME", str(tmp_path))
    assert resolve_data_dir("~/d") == tmp_path / "d"


def test_find_clic_dir(tmp_path: Path) -> None:
    """Files are found in the folder itself or in its clic{N} sub-folder."""
    assert find_clic_dir(tmp_path) is None
    write_split_set(tmp_path / "clic8")
    assert find_clic_dir(tmp_path) == tmp_path / "clic8"
    write_split_set(tmp_path)
    assert find_clic_dir(tmp_path) == tmp_path
    assert find_clic_dir(tmp_path, n_pixels=6) is None


# ------------------------------------------------------------------ real files


@needs_real
@pytest.mark.parametrize("split", SPLITS)
def test_real_file_reads_back(split: str) -> None:
    """The published files read back with their documented sizes and ranges."""
    x = read_clic_file(shared_clic8_dir() / clic_filename(split))
    assert x.shape == (REAL_SIZES[split], 8) and x.dtype == np.float64
    assert x.min() > 0 and x.max() <= MAX_ENERGY


@needs_real
def test_load_clic_real_from_parent_folder() -> None:
    """load_clic(DATA) finds DATA/clic8 and reports a real source."""
    splits = load_clic(shared_clic8_dir().parent, allow_synthetic=False)
    assert splits.source == "real" and Path(splits.location) == shared_clic8_dir()
    assert tuple(len(s) for s in splits.splits()) == tuple(REAL_SIZES.values())
    assert "47682/15894/15895" in repr(splits) and "real" in repr(splits)


# ------------------------------------------------------------------ validation


BAD_FILES = {
    "missing": (None, "no such file"),
    "not_hdf5": ("text", "not a readable HDF5 file"),
    "wrong_key": ({"a": np.zeros((2, 8)), "b": np.zeros(2)}, "no dataset 'x' (keys: ['a', 'b'])"),
    "wrong_pixels": (np.full((4, 6), 0.1), "6 pixels per event, expected 8"),
    "one_dim": (np.full(8, 0.1), "shape (8,), expected [n, 8]"),
    "empty": (np.zeros((0, 8)), "holds 0 events"),
    "nan": (np.where(np.eye(3, 8) > 0, np.nan, 0.1), "3 event(s) hold NaN or inf"),
    "negative": (np.full((3, 8), -0.01), "negative pixel energy -0.01"),
    "above_clip": (np.full((3, 8), 0.75), "above the clip value 0.5"),
    "strings": (np.array([[b"a"] * 8]), "not numbers"),
}


@pytest.mark.parametrize("case", BAD_FILES, ids=str)
def test_read_clic_file_rejects_bad_input(case: str, tmp_path: Path) -> None:
    """Every malformed file raises a one-line DatasetError that names the file and the fix."""
    content, expected = BAD_FILES[case]
    path = tmp_path / "clic_8px_train.h5"
    if isinstance(content, str):
        path.write_text("not an HDF5 file")
    elif isinstance(content, dict):
        with h5py.File(path, "w") as handle:
            for key, values in content.items():
                handle.create_dataset(key, data=values)
    elif content is not None:
        write_x(path, content)
    with pytest.raises(DatasetError) as caught:
        read_clic_file(path)
    message = str(caught.value)
    assert expected in message
    assert str(path) in message and "\n" not in message
    assert "qcalo data" in message or "n_pixels=" in message


def test_read_clic_file_accepts_tiny_float_noise_above_clip(tmp_path: Path) -> None:
    """Values within 1e-9 above the clip pass; the array comes back as float64."""
    path = write_x(tmp_path / "f.h5", np.full((2, 8), MAX_ENERGY + 1e-10, dtype=np.float32))
    assert read_clic_file(path).dtype == np.float64


def test_read_clic_file_other_key(tmp_path: Path) -> None:
    """A different dataset name can be read."""
    path = write_x(tmp_path / "f.h5", np.full((2, 8), 0.2), key="pixels")
    assert read_clic_file(path, key="pixels").shape == (2, 8)


# ------------------------------------------------------------------ loading


@pytest.mark.parametrize("where", ["", "clic8"])
def test_load_clic_refuses_partial_folder(where: str, tmp_path: Path) -> None:
    """Some but not all split files: error listing the missing ones, no synthetic fallback."""
    write_split_set(tmp_path / where, splits=("train",))
    with pytest.raises(DatasetError, match=r"\['clic_8px_val.h5', 'clic_8px_test.h5'\] missing"):
        load_clic(tmp_path)


def test_load_clic_reads_prepared_folder(tmp_path: Path) -> None:
    """A complete folder is read as real data."""
    write_split_set(tmp_path / "clic8")
    splits = load_clic(tmp_path)
    assert splits.source == "real" and splits.train.shape == (5, 8)


def test_load_clic_uses_env_var(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """Without --data, $QCALO_DATA is searched."""
    write_split_set(tmp_path / "clic8")
    monkeypatch.setenv("QCALO_DATA", str(tmp_path))
    assert load_clic().location == str(tmp_path / "clic8")


def test_load_clic_falls_back_to_synthetic(tmp_path: Path) -> None:
    """An empty folder gives the synthetic stand-in and one one-line warning."""
    with pytest.warns(SyntheticDataWarning) as record:
        splits = load_clic(tmp_path, synthetic_seed=3, synthetic_sizes=SMALL_SYNTHETIC)
    assert len(record) == 1
    message = str(record[0].message)
    assert "\n" not in message and str(tmp_path) in message
    assert "not found" in message and "qcalo data download clic8" in message and "--data" in message
    assert splits.source == "synthetic" and splits.location == "synthetic(seed=3)"
    assert tuple(len(s) for s in splits.splits()) == SMALL_SYNTHETIC
    assert "synthetic" in repr(splits) and "60/20/20" in repr(splits)


def test_load_clic_synthetic_other_pixel_count(tmp_path: Path) -> None:
    """The stand-in honours n_pixels; the hint points at prepare-clic."""
    with pytest.warns(SyntheticDataWarning, match="prepare-clic RAW_DIR --pixels 6"):
        splits = load_clic(tmp_path, n_pixels=6, synthetic_sizes=SMALL_SYNTHETIC)
    assert splits.n_pixels == 6


def test_load_clic_without_synthetic_raises(tmp_path: Path) -> None:
    """allow_synthetic=False turns the fallback into an error naming the folder and the fix."""
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with pytest.raises(DatasetError) as caught:
            load_clic(tmp_path / "nowhere", allow_synthetic=False)
    message = str(caught.value)
    assert str(tmp_path / "nowhere") in message and "qcalo data download clic8" in message


def test_clic_splits_checks_widths() -> None:
    """ClicSplits refuses arrays of unequal width or an unknown source."""
    good = np.zeros((2, 8))
    with pytest.raises(ShapeError):
        ClicSplits(good, np.zeros((2, 6)), good, source="real", location="x")
    with pytest.raises(ConfigError):
        ClicSplits(good, good, good, source="fake", location="x")


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
    real_attrs = clic_module._recipe_attrs
    monkeypatch.setattr(
        clic_module, "_recipe_attrs", lambda *a: {**real_attrs(*a), "bad": object()}
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
        ({"chunk_size": 0}, "chunk_size"),
        ({"n_pixels": 0}, "n_pixels"),
    ],
)
def test_prepare_clic_bad_arguments(
    kwargs: dict, expected: str, raw_dir: RawDir, tmp_path: Path
) -> None:
    """Bad parameters are ConfigErrors raised before any file is read."""
    with pytest.raises(ConfigError, match=expected):
        prepare_clic(raw_dir[0], tmp_path / "out", progress=False, **kwargs)
