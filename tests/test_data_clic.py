"""Tests of the CLIC catalogue, qcalo.data.paths and qcalo.data.clic: reading, validation, loading."""

from __future__ import annotations

import warnings
from pathlib import Path

import h5py
import numpy as np
import pytest

from qcalo.data.clic import (
    ClicSplits,
    SyntheticDataWarning,
    find_clic_dir,
    load_clic,
    read_clic_file,
    read_clic_split,
)
from qcalo.data.clic_catalogue import CLIC
from qcalo.data.paths import locate_data_dir, resolve_data_dir
from qcalo.exceptions import ConfigError, DatasetError

REAL_SIZES = {"train": 47682, "val": 15894, "test": 15895}
SMALL_SYNTHETIC = (60, 20, 20)


def shared_clic8_dir() -> Path:
    """Folder of the real clic8 files: ``shared/`` sits beside the checkout (or above it)."""
    here = Path(__file__).resolve()
    found = [p / "shared" / "data" / "clic8" for p in here.parents if (p / "shared").is_dir()]
    return found[0] if found else here.parents[2] / "shared" / "data" / "clic8"


needs_real = pytest.mark.skipif(
    not all((shared_clic8_dir() / name).is_file() for name in CLIC.filenames()),
    reason=f"real clic8 files not found in {shared_clic8_dir()}",
)


def write_h5(path: Path, **datasets: object) -> Path:
    with h5py.File(path, "w") as handle:
        for key, values in datasets.items():
            handle.create_dataset(key, data=values)
    return path


def write_split_set(
    folder: Path,
    n_pixels: int = 8,
    splits: tuple[str, ...] = CLIC.splits,
    energy: bool = False,
) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    for index, split in enumerate(splits):
        n = 5 + index
        extra = {"energy_gev": rng.uniform(226, 274, n)} if energy else {}
        path = folder / CLIC.filename(split, n_pixels)
        write_h5(path, x=rng.uniform(0, 0.5, (n, n_pixels)), **extra)
    return folder


@pytest.fixture
def no_data_dir(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """No --data, no $QCALO_DATA, and an empty user cache at ``tmp_path / "cache"``."""
    import platformdirs

    monkeypatch.setattr(platformdirs, "user_cache_dir", lambda app: str(tmp_path / "cache" / app))
    monkeypatch.delenv("QCALO_DATA", raising=False)
    return tmp_path / "cache" / "qcalo"


# ------------------------------------------------------------------ catalogue and paths


def test_catalogue_names_and_bad_split() -> None:
    """File names follow the published pattern; unknown splits are refused."""
    assert CLIC.filename("train") == "clic_8px_train.h5"
    assert CLIC.filename("test", 6) == "clic_6px_test.h5"
    assert CLIC.filenames() == ("clic_8px_train.h5", "clic_8px_val.h5", "clic_8px_test.h5")
    assert CLIC.dataset_name() == "clic8" and CLIC.dataset_name(6) == "clic6"
    with pytest.raises(ConfigError, match="unknown split 'dev'"):
        CLIC.filename("dev")


@pytest.mark.parametrize("bad", [0, -1, True, 2.0, "8"])
def test_catalogue_refuses_bad_pixel_counts(bad: object) -> None:
    """n_pixels goes through qcalo.validate.positive_int: one line naming value and fix."""
    with pytest.raises(ConfigError, match=r"n_pixels=.*; use an integer ≥ 1"):
        CLIC.dataset_name(bad)  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match="n_pixels="):
        load_clic(n_pixels=bad)  # type: ignore[arg-type]


def test_catalogue_published_registry() -> None:
    """Only 8 pixels were published; other counts point at prepare-clic."""
    assert set(CLIC.published_registry(8)) == set(CLIC.filenames(8))
    assert all(len(h) == 64 for h in CLIC.published_registry().values())
    with pytest.raises(DatasetError, match="prepare-clic RAW_DIR --pixels 6"):
        CLIC.published_registry(6)


def test_resolve_data_dir_order(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """--data beats $QCALO_DATA, which beats the platformdirs cache folder; only that is implicit."""
    import platformdirs

    monkeypatch.setattr(platformdirs, "user_cache_dir", lambda app: str(tmp_path / "cache" / app))
    monkeypatch.delenv("QCALO_DATA", raising=False)
    assert resolve_data_dir() == tmp_path / "cache" / "qcalo"
    assert not locate_data_dir().explicit and locate_data_dir().origin == "user cache"
    monkeypatch.setenv("QCALO_DATA", "")
    assert resolve_data_dir() == tmp_path / "cache" / "qcalo"
    monkeypatch.setenv("QCALO_DATA", str(tmp_path / "env"))
    assert resolve_data_dir() == tmp_path / "env"
    assert locate_data_dir().explicit and locate_data_dir().origin == "$QCALO_DATA"
    assert resolve_data_dir(tmp_path / "flag") == tmp_path / "flag"
    assert resolve_data_dir(str(tmp_path / "flag")) == tmp_path / "flag"
    assert locate_data_dir(tmp_path).origin == "--data"
    assert not (tmp_path / "cache").exists() and not (tmp_path / "env").exists()


def test_resolve_data_dir_expands_home_and_is_absolute(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """A leading ~ is expanded and a relative folder made absolute."""
    monkeypatch.setenv("HOME", str(tmp_path))
    assert resolve_data_dir("~/d") == tmp_path / "d"
    monkeypatch.chdir(tmp_path)
    assert resolve_data_dir("rel") == tmp_path / "rel"


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
@pytest.mark.parametrize("split", CLIC.splits)
def test_real_file_reads_back(split: str) -> None:
    """The published files read back with their documented sizes and ranges, without energies."""
    x, energy = read_clic_split(shared_clic8_dir() / CLIC.filename(split))
    assert x.shape == (REAL_SIZES[split], 8) and x.dtype == np.float64
    assert x.min() > 0 and x.max() <= CLIC.max_energy
    assert energy is None  # they hold a misaligned `y`, which is never read


@needs_real
def test_load_clic_real_from_parent_folder() -> None:
    """load_clic(DATA) finds DATA/clic8 and reports a real source at the resolved folder."""
    splits = load_clic(shared_clic8_dir().parent, allow_synthetic=False)
    assert splits.source == "real" and Path(splits.location) == shared_clic8_dir()
    assert splits.name == "clic8" and splits.n_pixels == 8 and not splits.has_energy
    assert tuple(len(s) for s in splits.splits()) == tuple(REAL_SIZES.values())
    assert "47682/15894/15895" in repr(splits) and "real" in repr(splits)


# ------------------------------------------------------------------ validation


def constant(value: float) -> np.ndarray:
    return np.full((4, 8), value)


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
    "all_zero": (constant(0.0), "every feature is constant over its 4 event(s) (first value 0;"),
    "all_alike": (constant(0.2), "every feature is constant over its 4 event(s)"),
    "one_event": (np.linspace(0, 0.4, 8)[None, :], "constant over its 1 event(s)"),
}


@pytest.mark.parametrize("case", BAD_FILES, ids=str)
def test_read_clic_file_rejects_bad_input(case: str, tmp_path: Path) -> None:
    """Every malformed file raises a one-line DatasetError that names the file and the fix."""
    content, expected = BAD_FILES[case]
    path = tmp_path / "clic_8px_train.h5"
    if isinstance(content, str):
        path.write_text("not an HDF5 file")
    elif isinstance(content, dict):
        write_h5(path, **content)
    elif content is not None:
        write_h5(path, x=content)
    with pytest.raises(DatasetError) as caught:
        read_clic_file(path)
    message = str(caught.value)
    assert expected in message
    assert str(path) in message and "\n" not in message
    assert "qcalo data" in message or "n_pixels=" in message


def test_read_clic_file_accepts_tiny_float_noise_above_clip(tmp_path: Path) -> None:
    """Values within 1e-9 above the clip pass; the array comes back as float64."""
    values = np.full((2, 8), CLIC.max_energy + 1e-10, dtype=np.float32)
    values[0, 0] = 0.1
    assert read_clic_file(write_h5(tmp_path / "f.h5", x=values)).dtype == np.float64


def test_read_clic_file_other_key_but_never_y(tmp_path: Path) -> None:
    """A different dataset name can be read; the published, misaligned ``y`` cannot."""
    values = np.random.default_rng(0).uniform(0, 0.5, (3, 8))
    path = write_h5(tmp_path / "f.h5", pixels=values, y=values)
    assert read_clic_file(path, key="pixels").shape == (3, 8)
    with pytest.raises(DatasetError, match="'y' is not row-aligned"):
        read_clic_file(path, key="y")


def test_read_clic_split_energy(tmp_path: Path) -> None:
    """energy_gev is read row-aligned, (n,) or (n, 1); absent gives None; ``y`` is ignored."""
    x = np.random.default_rng(0).uniform(0, 0.5, (3, 8))
    energy = np.array([230.0, 250.0, 270.0])
    got_x, got_e = read_clic_split(write_h5(tmp_path / "a.h5", x=x, energy_gev=energy))
    np.testing.assert_array_equal(got_x, x)
    np.testing.assert_array_equal(got_e, energy)
    _, column = read_clic_split(write_h5(tmp_path / "b.h5", x=x, energy_gev=energy[:, None]))
    np.testing.assert_array_equal(column, energy)
    assert read_clic_split(write_h5(tmp_path / "c.h5", x=x, y=energy))[1] is None


@pytest.mark.parametrize(
    ("energy", "expected"),
    [
        (np.full(2, 250.0), "'energy_gev' has shape (2,), expected (3,)"),
        (np.array([250.0, np.nan, 250.0]), "holds NaN, inf or values <= 0 GeV"),
        (np.array([250.0, -1.0, 250.0]), "holds NaN, inf or values <= 0 GeV"),
        (np.array([b"a", b"b", b"c"]), "not numbers"),
    ],
)
def test_read_clic_split_rejects_bad_energy(
    energy: np.ndarray, expected: str, tmp_path: Path
) -> None:
    """A malformed energy_gev is one line naming the file."""
    x = np.random.default_rng(0).uniform(0, 0.5, (3, 8))
    path = write_h5(tmp_path / "f.h5", x=x, energy_gev=energy)
    with pytest.raises(DatasetError) as caught:
        read_clic_split(path)
    assert expected in str(caught.value) and str(path) in str(caught.value)
    assert "\n" not in str(caught.value)


# ------------------------------------------------------------------ loading: real folders


@pytest.mark.parametrize("where", ["", "clic8"])
def test_load_clic_refuses_partial_folder(where: str, tmp_path: Path) -> None:
    """Some but not all split files: error listing the missing ones, no synthetic fallback."""
    write_split_set(tmp_path / where, splits=("train",))
    with pytest.raises(DatasetError, match=r"\['clic_8px_val.h5', 'clic_8px_test.h5'\] missing"):
        load_clic(tmp_path)


def test_load_clic_refuses_partial_cache_folder(no_data_dir: Path) -> None:
    """A partial set in the user cache is refused too, not replaced by the stand-in."""
    write_split_set(no_data_dir / "clic8", splits=("train", "test"))
    with pytest.raises(DatasetError, match=r"\['clic_8px_val.h5'\] missing"):
        load_clic()


def test_load_clic_reads_prepared_folder(tmp_path: Path) -> None:
    """A complete folder is read as real data, at its resolved absolute path."""
    write_split_set(tmp_path / "clic8")
    (tmp_path / "link").symlink_to(tmp_path / "clic8")
    splits = load_clic(tmp_path / "link")
    assert isinstance(splits, ClicSplits) and splits.source == "real"
    assert splits.train.shape == (5, 8) and splits.location == str((tmp_path / "clic8").resolve())
    assert splits.energies() is None


def test_load_clic_carries_incident_energies(tmp_path: Path) -> None:
    """Files with energy_gev (as prepare-clic writes them) give row-aligned energies."""
    write_split_set(tmp_path, energy=True)
    splits = load_clic(tmp_path)
    assert splits.has_energy and "with incident energies" in splits.summary()
    for split in CLIC.splits:
        with h5py.File(tmp_path / CLIC.filename(split), "r") as handle:
            np.testing.assert_array_equal(getattr(splits, f"{split}_energy"), handle["energy_gev"])


def test_load_clic_refuses_energies_in_some_files(tmp_path: Path) -> None:
    """energy_gev in some split files only is a mixed set: refused with the fix."""
    write_split_set(tmp_path, energy=True)
    write_h5(tmp_path / CLIC.filename("val"), x=np.random.default_rng(1).uniform(0, 0.5, (4, 8)))
    with pytest.raises(DatasetError, match=r"only the \['train', 'test'\] file\(s\) hold"):
        load_clic(tmp_path)


def test_load_clic_uses_env_var(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """Without --data, $QCALO_DATA is searched."""
    write_split_set(tmp_path / "clic8")
    monkeypatch.setenv("QCALO_DATA", str(tmp_path))
    assert load_clic().location == str((tmp_path / "clic8").resolve())


# ------------------------------------------------------------------ loading: explicit folders fail


def assert_one_line(error: pytest.ExceptionInfo[DatasetError], *parts: str) -> None:
    message = str(error.value)
    assert "\n" not in message
    for part in parts:
        assert part in message, (part, message)


@pytest.mark.parametrize("allow_synthetic", [True, False])
def test_explicit_missing_folder_is_an_error(allow_synthetic: bool, tmp_path: Path) -> None:
    """--data DIR that does not exist: never the stand-in, one line with the path and the fix."""
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no SyntheticDataWarning either
        with pytest.raises(DatasetError) as caught:
            load_clic(tmp_path / "nowhere", allow_synthetic=allow_synthetic)
    assert_one_line(
        caught,
        f"{tmp_path / 'nowhere'} (from --data): no such folder",
        f"qcalo data download clic8 --data {tmp_path / 'nowhere'}",
    )


def test_explicit_empty_folder_is_an_error(tmp_path: Path) -> None:
    """--data DIR without the files (this used to fall back to the stand-in): error."""
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with pytest.raises(DatasetError) as caught:
            load_clic(tmp_path)
    assert_one_line(
        caught,
        f"{tmp_path} (from --data): no 8-pixel CLIC files there or in clic8/",
        "qcalo data download clic8",
    )


def test_explicit_file_instead_of_folder(tmp_path: Path) -> None:
    """--data naming one of the files: error saying to pass its folder."""
    write_split_set(tmp_path)
    with pytest.raises(DatasetError) as caught:
        load_clic(tmp_path / CLIC.filename("train"))
    assert_one_line(caught, "clic_8px_train.h5 (from --data): a file, not a folder")


def test_explicit_folder_without_that_pixel_count(tmp_path: Path) -> None:
    """8-pixel files but n_pixels=6: error pointing at prepare-clic and naming what is there."""
    write_split_set(tmp_path / "clic8")
    with pytest.raises(DatasetError) as caught:
        load_clic(tmp_path, n_pixels=6)
    assert_one_line(
        caught,
        "no 6-pixel CLIC files",
        "(it has files for [8] pixels)",
        f"qcalo data prepare-clic RAW_DIR --pixels 6 --out {tmp_path / 'clic6'}",
    )


def test_env_var_folder_is_explicit_too(no_data_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """$QCALO_DATA naming an empty folder is an error, not the stand-in."""
    env_dir = no_data_dir.parent / "env"
    env_dir.mkdir(parents=True)
    monkeypatch.setenv("QCALO_DATA", str(env_dir))
    with pytest.raises(DatasetError) as caught:
        load_clic()
    assert_one_line(caught, f"{env_dir} (from $QCALO_DATA): no 8-pixel CLIC files")


# ------------------------------------------------------------------ loading: implicit fallback


def test_load_clic_falls_back_to_synthetic(no_data_dir: Path) -> None:
    """No --data, no $QCALO_DATA, empty cache: the stand-in and one one-line warning."""
    with pytest.warns(SyntheticDataWarning) as record:
        splits = load_clic(synthetic_seed=3, synthetic_sizes=SMALL_SYNTHETIC)
    assert len(record) == 1
    message = str(record[0].message)
    assert "\n" not in message and str(no_data_dir) in message
    assert "not found" in message and "qcalo data download clic8" in message and "--data" in message
    assert splits.source == "synthetic" and splits.location == "synthetic(seed=3)"
    assert isinstance(splits, ClicSplits) and splits.name == "clic8"
    assert tuple(len(s) for s in splits.splits()) == SMALL_SYNTHETIC
    assert splits.has_energy and all(
        ((e > 225) & (e < 275)).all()
        for e in splits.energies()  # type: ignore[union-attr]
    )
    assert "synthetic" in repr(splits) and "60/20/20" in repr(splits)


def test_load_clic_synthetic_other_pixel_count(no_data_dir: Path) -> None:
    """The stand-in honours n_pixels; the hint points at prepare-clic."""
    with pytest.warns(SyntheticDataWarning, match="prepare-clic RAW_DIR --pixels 6"):
        splits = load_clic(n_pixels=6, synthetic_sizes=SMALL_SYNTHETIC)
    assert splits.n_pixels == 6 and splits.name == "clic6"


def test_load_clic_reads_the_cache_when_it_has_files(no_data_dir: Path) -> None:
    """The implicit folder is used when it holds the files: no warning, real data."""
    write_split_set(no_data_dir / "clic8")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert load_clic().source == "real"


def test_load_clic_without_synthetic_raises(no_data_dir: Path) -> None:
    """allow_synthetic=False turns the fallback into an error naming the folder and the fix."""
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with pytest.raises(DatasetError) as caught:
            load_clic(allow_synthetic=False)
    assert_one_line(caught, f"{no_data_dir} (from user cache)", "qcalo data download clic8")
