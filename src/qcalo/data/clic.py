"""CLIC electron showers reduced to N longitudinal pixels ("clic8" for N = 8).

The recipe is the desyqml/clic ``Preprocessor`` (see ``notes/clic8.md`` §3):

1. longitudinal profile ``p[l] = sum_{x,y} ECAL[x, y, l]`` over the L = 25 layers;
2. ``f = L // N`` layers per pixel, ``r = L - N f`` left over: drop ``r // 2 + r % 2`` layers
   at the front and ``r // 2`` at the back;
3. pixel = **mean** of its ``f`` layers, divided by 50 and clipped at ``MAX_ENERGY = 0.5``;
4. keep events with 225 < E < 275 GeV (strict).

:func:`prepare_clic` re-creates the files from the raw data with a seeded split and the
incident energy kept row-aligned (the published ``y`` is not: never read it).
:func:`load_clic` returns the three splits, falling back to qcalo's synthetic stand-in
(:mod:`qcalo.data.synthetic`) when the real files are absent.
"""

from __future__ import annotations

import os
import tempfile
import warnings
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from qcalo.data.paths import resolve_data_dir
from qcalo.exceptions import ConfigError, DatasetError, ShapeError

if TYPE_CHECKING:
    import h5py

__all__ = [
    "N_PIXELS_DEFAULT",
    "SPLITS",
    "MAX_ENERGY",
    "ENERGY_SCALE_GEV",
    "ENERGY_WINDOW_GEV",
    "SPLIT_FRACTIONS",
    "SYNTHETIC_SIZES",
    "SyntheticDataWarning",
    "ClicSplits",
    "clic_filename",
    "clic_dirname",
    "find_clic_dir",
    "missing_clic_files",
    "profile_to_pixels",
    "read_clic_file",
    "load_clic",
    "prepare_clic",
]

N_PIXELS_DEFAULT = 8
SPLITS = ("train", "val", "test")
MAX_ENERGY = 0.5
"""Clip value of the recipe, in scaled units (pixel = mean layer energy in GeV / 50)."""
ENERGY_SCALE_GEV = 50.0
"""Divisor that turns a mean layer energy in GeV into a pixel value."""
ENERGY_WINDOW_GEV = (225.0, 275.0)
"""Incident-energy cut of the recipe, strict on both ends (|E - 250| < 25)."""
SPLIT_FRACTIONS = (0.6, 0.2, 0.2)
SYNTHETIC_SIZES = (47682, 15894, 15895)
"""Split sizes of the published clic8 files, reused for the synthetic stand-in."""

_RANGE_TOLERANCE = 1e-9  # float noise allowed above MAX_ENERGY
_RAW_IMAGE_KEY = "ECAL"
_RAW_ENERGY_KEY = "energy"
_FIX_READ = "pass a file made by `qcalo data prepare-clic` or `qcalo data download clic8`"


class SyntheticDataWarning(UserWarning):
    """Real data was not found, so qcalo's synthetic stand-in is used instead."""


@dataclass(frozen=True, eq=False)
class ClicSplits:
    """The three splits of an N-pixel CLIC data set.

    Attributes:
        train: pixel energies, shape ``[n_train, N]``, float64 in ``[0, MAX_ENERGY]``.
        val: same for the validation split.
        test: same for the test split.
        source: ``"real"`` (files on disk) or ``"synthetic"`` (qcalo's stand-in).
        location: folder the files were read from, or ``"synthetic(seed=…)"``.
    """

    train: np.ndarray
    val: np.ndarray
    test: np.ndarray
    source: str
    location: str

    def __post_init__(self) -> None:
        widths = {split.shape[1] if split.ndim == 2 else -1 for split in self.splits()}
        if len(widths) != 1 or -1 in widths:
            shapes = [split.shape for split in self.splits()]
            raise ShapeError(f"ClicSplits needs three 2-D arrays of equal width, got {shapes}")
        if self.source not in ("real", "synthetic"):
            raise ConfigError(f"ClicSplits.source is {self.source!r}; use 'real' or 'synthetic'")

    @property
    def n_pixels(self) -> int:
        """Number of pixels (columns) per event."""
        return int(self.train.shape[1])

    def splits(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Return ``(train, val, test)``."""
        return self.train, self.val, self.test

    def summary(self) -> str:
        """One line: source, location, pixel count and split sizes."""
        sizes = "/".join(str(len(split)) for split in self.splits())
        return (
            f"ClicSplits({self.source}, {self.n_pixels} px, train/val/test={sizes}, "
            f"from {self.location})"
        )

    def __repr__(self) -> str:
        return self.summary()


# ---------------------------------------------------------------------------- file names


def clic_filename(split: str, n_pixels: int = N_PIXELS_DEFAULT) -> str:
    """Name of one split file, e.g. ``clic_filename("train") == "clic_8px_train.h5"``.

    Raises:
        ConfigError: if ``split`` is not one of :data:`SPLITS` or ``n_pixels < 1``.
    """
    if split not in SPLITS:
        raise ConfigError(f"unknown split {split!r}; use one of {list(SPLITS)}")
    _check_n_pixels(n_pixels)
    return f"clic_{n_pixels}px_{split}.h5"


def clic_dirname(n_pixels: int = N_PIXELS_DEFAULT) -> str:
    """Sub-folder of the data folder that holds the N-pixel files, e.g. ``"clic8"``."""
    _check_n_pixels(n_pixels)
    return f"clic{n_pixels}"


def missing_clic_files(folder: Path, n_pixels: int = N_PIXELS_DEFAULT) -> list[str]:
    """Names of the split files that ``folder`` lacks (all three if it does not exist)."""
    names = [clic_filename(split, n_pixels) for split in SPLITS]
    return [name for name in names if not (Path(folder) / name).is_file()]


def find_clic_dir(data_dir: Path, n_pixels: int = N_PIXELS_DEFAULT) -> Path | None:
    """Return the folder holding all three split files, or ``None``.

    Looks in ``data_dir`` itself, then in ``data_dir / "clic{N}"``.
    """
    for folder in _candidate_dirs(Path(data_dir), n_pixels):
        if not missing_clic_files(folder, n_pixels):
            return folder
    return None


def _candidate_dirs(data_dir: Path, n_pixels: int) -> tuple[Path, Path]:
    return data_dir, data_dir / clic_dirname(n_pixels)


def _check_n_pixels(n_pixels: int) -> None:
    if isinstance(n_pixels, bool) or not isinstance(n_pixels, (int, np.integer)) or n_pixels < 1:
        raise ConfigError(f"n_pixels must be a positive integer, got {n_pixels!r}")


# ---------------------------------------------------------------------------- recipe


def profile_to_pixels(profile_gev: np.ndarray, n_pixels: int) -> np.ndarray:
    """Map longitudinal layer energies to N pixels with the desyqml/clic recipe.

    Args:
        profile_gev: energy per layer in GeV, shape ``[n, L]`` (L = 25 for CLIC).
        n_pixels: N, at most L.

    Returns:
        float64 array ``[n, N]``: pixel k is the mean of its ``f = L // N`` layers,
        divided by :data:`ENERGY_SCALE_GEV` and clipped at :data:`MAX_ENERGY`. The
        ``r = L - N f`` left-over layers are dropped, the odd one at the front.

    Raises:
        ShapeError: if ``profile_gev`` is not 2-D or has fewer layers than pixels.

    Example:
        >>> profile_to_pixels(np.full((1, 25), 30.0), 8)  # f = 3, layer 0 dropped
        array([[0.5, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5]])
    """
    profile = np.asarray(profile_gev, dtype=np.float64)
    _check_n_pixels(n_pixels)
    if profile.ndim != 2:
        raise ShapeError(f"profile_gev must be [n_events, n_layers], got shape {profile.shape}")
    first, per_pixel = _pixel_layout(profile.shape[1], n_pixels)
    kept = profile[:, first : first + n_pixels * per_pixel]
    pixels = kept.reshape(len(profile), n_pixels, per_pixel).mean(axis=2) / ENERGY_SCALE_GEV
    return np.minimum(pixels, MAX_ENERGY)


def _pixel_layout(n_layers: int, n_pixels: int) -> tuple[int, int]:
    """Return ``(first kept layer, layers per pixel)`` for L layers and N pixels."""
    per_pixel = n_layers // n_pixels
    if per_pixel == 0:
        raise ShapeError(
            f"{n_layers} layers cannot make {n_pixels} pixels; use n_pixels <= {n_layers}"
        )
    left_over = n_layers - n_pixels * per_pixel
    return left_over // 2 + left_over % 2, per_pixel


# ---------------------------------------------------------------------------- reading


def read_clic_file(path: Path, n_pixels: int = N_PIXELS_DEFAULT, key: str = "x") -> np.ndarray:
    """Read and validate one N-pixel split file.

    Args:
        path: HDF5 file, e.g. ``…/clic8/clic_8px_train.h5``.
        n_pixels: expected number of columns.
        key: dataset to read. Never ``"y"`` of the published files: it is misaligned.

    Returns:
        float64 array ``[n, n_pixels]`` with ``n >= 1`` and every value finite and in
        ``[0, MAX_ENERGY]``.

    Raises:
        DatasetError: if the file is missing or not HDF5, lacks ``key``, or holds an array
            of the wrong shape or with values outside the documented range.
    """
    path = Path(path)
    _check_n_pixels(n_pixels)
    if not path.is_file():
        raise DatasetError(f"{path}: no such file; {_how_to_get(n_pixels)}")
    import h5py

    try:
        with h5py.File(path, "r") as handle:
            array = _read_numeric_dataset(handle, path, key)
    except OSError as error:
        raise DatasetError(
            f"{path}: not a readable HDF5 file ({_one_line(error)}); {_FIX_READ}"
        ) from error
    _validate_pixels(array, path, n_pixels)
    return array


def _read_numeric_dataset(handle: h5py.File, path: Path, key: str) -> np.ndarray:
    import h5py

    if key not in handle or not isinstance(handle[key], h5py.Dataset):
        raise DatasetError(f"{path}: no dataset {key!r} (keys: {sorted(handle)}); {_FIX_READ}")
    dataset = handle[key]
    if not (np.issubdtype(dataset.dtype, np.floating) or np.issubdtype(dataset.dtype, np.integer)):
        raise DatasetError(
            f"{path}: dataset {key!r} has dtype {dataset.dtype}, not numbers; {_FIX_READ}"
        )
    return np.asarray(dataset[()], dtype=np.float64)


def _validate_pixels(array: np.ndarray, path: Path, n_pixels: int) -> None:
    if array.ndim != 2:
        raise DatasetError(
            f"{path}: array has shape {array.shape}, expected [n, {n_pixels}]; {_FIX_READ}"
        )
    if array.shape[1] != n_pixels:
        raise DatasetError(
            f"{path}: {array.shape[1]} pixels per event, expected {n_pixels}; "
            f"pass n_pixels={array.shape[1]} or a {n_pixels}-pixel file"
        )
    if len(array) == 0:
        raise DatasetError(f"{path}: holds 0 events; {_FIX_READ}")
    if not np.isfinite(array).all():
        bad = int((~np.isfinite(array)).any(axis=1).sum())
        raise DatasetError(f"{path}: {bad} event(s) hold NaN or inf; {_FIX_READ}")
    if (low := float(array.min())) < 0.0:
        raise DatasetError(f"{path}: negative pixel energy {low:.4g} (expected >= 0); {_FIX_READ}")
    if (high := float(array.max())) > MAX_ENERGY + _RANGE_TOLERANCE:
        raise DatasetError(
            f"{path}: pixel energy {high:.4g} above the clip value {MAX_ENERGY} "
            f"(unscaled data?); {_FIX_READ}"
        )


def _one_line(error: BaseException, limit: int = 200) -> str:
    """Collapse an exception message to one short line for a wrapping error."""
    text = " ".join(str(error).split()) or type(error).__name__
    return text if len(text) <= limit else text[: limit - 1] + "…"


# ---------------------------------------------------------------------------- loading


def load_clic(
    data: str | Path | None = None,
    *,
    n_pixels: int = N_PIXELS_DEFAULT,
    allow_synthetic: bool = True,
    synthetic_seed: int = 0,
    synthetic_sizes: Sequence[int] = SYNTHETIC_SIZES,
) -> ClicSplits:
    """Load the train/val/test splits of the N-pixel CLIC data set.

    Looks in ``resolve_data_dir(data)`` and its ``clic{N}`` sub-folder. When neither holds
    any split file, returns qcalo's synthetic stand-in and warns once with
    :class:`SyntheticDataWarning` (or raises, if ``allow_synthetic`` is false).

    Args:
        data: data folder (``--data DIR``); ``None`` means ``$QCALO_DATA`` or the user cache.
        n_pixels: pixels per event.
        allow_synthetic: fall back to :func:`qcalo.data.synthetic.synthetic_clic_splits`.
        synthetic_seed: seed of the stand-in.
        synthetic_sizes: ``(n_train, n_val, n_test)`` of the stand-in.

    Returns:
        :class:`ClicSplits` with ``source`` ``"real"`` or ``"synthetic"``.

    Raises:
        DatasetError: if a folder holds some but not all split files, a file is invalid,
            or no data was found and ``allow_synthetic`` is false.
    """
    data_dir = resolve_data_dir(data)
    folder = find_clic_dir(data_dir, n_pixels)
    if folder is not None:
        train, val, test = (
            read_clic_file(folder / clic_filename(s, n_pixels), n_pixels) for s in SPLITS
        )
        return ClicSplits(train, val, test, source="real", location=str(folder))
    _raise_if_partial(data_dir, n_pixels)
    fix = _how_to_get(n_pixels)
    if not allow_synthetic:
        searched = data_dir / clic_dirname(n_pixels)
        raise DatasetError(f"no {n_pixels}-pixel CLIC files in {data_dir} or {searched}; {fix}")
    warnings.warn(
        f"real CLIC {n_pixels}-pixel data not found in {data_dir}; using qcalo's synthetic "
        f"stand-in (seed={synthetic_seed}); for the real data {fix}",
        SyntheticDataWarning,
        stacklevel=2,
    )
    from qcalo.data.synthetic import synthetic_clic_splits

    train, val, test = synthetic_clic_splits(
        seed=synthetic_seed, sizes=tuple(synthetic_sizes), n_pixels=n_pixels
    )
    return ClicSplits(
        train, val, test, source="synthetic", location=f"synthetic(seed={synthetic_seed})"
    )


def _raise_if_partial(data_dir: Path, n_pixels: int) -> None:
    """Refuse a folder with some split files but not all: never mix or silently substitute."""
    for folder in _candidate_dirs(data_dir, n_pixels):
        missing = missing_clic_files(folder, n_pixels)
        if 0 < len(missing) < len(SPLITS):
            raise DatasetError(
                f"{folder}: split file(s) {missing} missing; "
                f"{_how_to_get(n_pixels)}, or remove the partial set"
            )


def _how_to_get(n_pixels: int) -> str:
    if n_pixels == N_PIXELS_DEFAULT:
        return "run `qcalo data download clic8` or pass --data DIR"
    return f"run `qcalo data prepare-clic RAW_DIR --pixels {n_pixels}` or pass --data DIR"


# ---------------------------------------------------------------------------- preparing


def prepare_clic(
    raw_dir: Path,
    out_dir: Path,
    *,
    n_pixels: int = N_PIXELS_DEFAULT,
    seed: int = 0,
    energy_window_gev: tuple[float, float] = ENERGY_WINDOW_GEV,
    fractions: tuple[float, float, float] = SPLIT_FRACTIONS,
    chunk_size: int = 1000,
    progress: bool = True,
) -> dict[str, Path]:
    """Re-create the N-pixel split files from raw CLIC ``EleEscan_*.h5`` files.

    Applies exactly the recipe of the module docstring, but keeps the incident energy
    aligned with each row and splits with a seeded permutation. Raw files are streamed
    ``chunk_size`` events at a time; only the reduced pixels stay in memory.

    Args:
        raw_dir: folder with raw ``*.h5`` files holding ``ECAL`` (n, …, L) (layers on the
            last axis) and ``energy`` (n,) or (n, 1) in GeV.
        out_dir: folder to write ``clic_{N}px_{split}.h5`` to; created if needed.
        n_pixels: N.
        seed: seed of ``np.random.default_rng(seed).permutation``.
        energy_window_gev: keep events with ``low < E < high`` (strict).
        fractions: train/val shares; sizes are ``int(share * n)``, test takes the rest.
        chunk_size: events read per step.
        progress: show a progress bar on stderr.

    Returns:
        ``{"train": path, "val": path, "test": path}``. Each file holds ``x`` (n, N) float64,
        ``energy_gev`` (n,) float64 and the recipe parameters as attributes.

    Raises:
        DatasetError: if the raw input is missing, malformed, or leaves a split empty.
        ConfigError: if a parameter is out of range.
    """
    raw_dir, out_dir = Path(raw_dir), Path(out_dir)
    _check_prepare_args(n_pixels, energy_window_gev, fractions, chunk_size)
    raw_files = _list_raw_files(raw_dir)
    n_layers, n_events = _inspect_raw_files(raw_files, n_pixels)
    pixels, energy = _reduce_raw_files(
        raw_files, n_events, n_pixels, energy_window_gev, chunk_size, progress
    )
    splits = _split_rows(len(pixels), seed, fractions)
    first, per_pixel = _pixel_layout(n_layers, n_pixels)
    attrs = _recipe_attrs(
        n_pixels, n_layers, first, per_pixel, seed, energy_window_gev, fractions, raw_files
    )
    out_dir.mkdir(parents=True, exist_ok=True)
    contents = {
        split: {"x": pixels[rows], "energy_gev": energy[rows]} for split, rows in splits.items()
    }
    names = {split: clic_filename(split, n_pixels) for split in SPLITS}
    return _write_atomically(out_dir, names, contents, attrs)


def _check_prepare_args(
    n_pixels: int,
    energy_window_gev: Sequence[float],
    fractions: Sequence[float],
    chunk_size: int,
) -> None:
    _check_n_pixels(n_pixels)
    low, high = energy_window_gev
    if not low < high:
        raise ConfigError(
            f"energy_window_gev must be (low, high) with low < high, got {tuple(energy_window_gev)}"
        )
    if len(fractions) != 3 or min(fractions) < 0 or not np.isclose(sum(fractions), 1.0):
        raise ConfigError(
            f"fractions must be 3 non-negative shares summing to 1, got {tuple(fractions)}"
        )
    if chunk_size < 1:
        raise ConfigError(f"chunk_size must be >= 1, got {chunk_size}")


def _list_raw_files(raw_dir: Path) -> list[Path]:
    if not raw_dir.is_dir():
        raise DatasetError(
            f"{raw_dir}: no such folder; pass the folder of the unpacked EleEscan_*.h5 files"
        )
    raw_files = sorted(raw_dir.glob("*.h5"))
    if not raw_files:
        raise DatasetError(
            f"{raw_dir}: no *.h5 files; unpack Ele_FixedAngle.tar.gz (Zenodo 3603122) there"
        )
    return raw_files


def _inspect_raw_files(raw_files: Sequence[Path], n_pixels: int) -> tuple[int, int]:
    """Check keys and shapes of every raw file before reading any data.

    Returns:
        ``(number of layers, total number of events)``.
    """
    import h5py

    layer_counts: dict[int, Path] = {}
    n_events = 0
    for path in raw_files:
        try:
            with h5py.File(path, "r") as handle:
                n_layers, n_file = _check_raw_layout(handle, path, n_pixels)
        except OSError as error:
            raise DatasetError(
                f"{path}: not a readable HDF5 file ({_one_line(error)}); "
                "remove it from the raw folder"
            ) from error
        layer_counts.setdefault(n_layers, path)
        n_events += n_file
    if len(layer_counts) > 1:
        found = {str(path.name): n for n, path in layer_counts.items()}
        raise DatasetError(
            f"raw files disagree on the number of layers {found}; use files of one detector"
        )
    return next(iter(layer_counts)), n_events


def _check_raw_layout(handle: h5py.File, path: Path, n_pixels: int) -> tuple[int, int]:
    lost = [key for key in (_RAW_IMAGE_KEY, _RAW_ENERGY_KEY) if key not in handle]
    if lost:
        raise DatasetError(
            f"{path}: no dataset(s) {lost} (keys: {sorted(handle)}); pass raw CLIC EleEscan files"
        )
    image_shape, energy_shape = handle[_RAW_IMAGE_KEY].shape, handle[_RAW_ENERGY_KEY].shape
    if len(image_shape) < 2 or image_shape[-1] < n_pixels:
        raise DatasetError(
            f"{path}: ECAL shape {image_shape} has fewer than {n_pixels} layers on its last axis; "
            f"use n_pixels <= {image_shape[-1] if image_shape else 0} or the raw CLIC files"
        )
    n_file = image_shape[0]
    if energy_shape not in ((n_file,), (n_file, 1)):
        raise DatasetError(
            f"{path}: energy shape {energy_shape} does not match {n_file} ECAL events; "
            "expected (n,) or (n, 1)"
        )
    return image_shape[-1], n_file


def _reduce_raw_files(
    raw_files: Sequence[Path],
    n_events: int,
    n_pixels: int,
    energy_window_gev: tuple[float, float],
    chunk_size: int,
    progress: bool,
) -> tuple[np.ndarray, np.ndarray]:
    """Stream every raw file, returning the pixels and energies of the events that pass the cut."""
    from tqdm.auto import tqdm

    low, high = energy_window_gev
    pixel_parts: list[np.ndarray] = []
    energy_parts: list[np.ndarray] = []
    with tqdm(total=n_events, unit="ev", desc="prepare-clic", disable=not progress) as bar:
        for profile, energy in _iter_profiles(raw_files, chunk_size):
            keep = (energy > low) & (energy < high)
            pixel_parts.append(profile_to_pixels(profile[keep], n_pixels))
            energy_parts.append(energy[keep])
            bar.update(len(energy))
    return np.concatenate(pixel_parts), np.concatenate(energy_parts)


def _iter_profiles(
    raw_files: Sequence[Path], chunk_size: int
) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """Yield ``(layer profile [c, L] in GeV, energy [c] in GeV)`` per chunk of events."""
    import h5py

    for path in raw_files:
        with h5py.File(path, "r") as handle:
            images, energies = handle[_RAW_IMAGE_KEY], handle[_RAW_ENERGY_KEY]
            transverse_axes = tuple(range(1, images.ndim - 1))
            for start in range(0, images.shape[0], chunk_size):
                stop = start + chunk_size
                # Accumulate in float64 without a float64 copy of the (large) image chunk.
                profile = np.asarray(images[start:stop]).sum(axis=transverse_axes, dtype=np.float64)
                energy = np.asarray(energies[start:stop], dtype=np.float64).reshape(-1)
                _check_raw_values(path, start, profile, energy)
                yield profile, energy


def _check_raw_values(path: Path, start: int, profile: np.ndarray, energy: np.ndarray) -> None:
    # A NaN anywhere in an image makes its layer sum NaN, so checking the sums is enough.
    for name, values in (("ECAL", profile), ("energy", energy)):
        bad_rows = np.flatnonzero(~np.isfinite(values.reshape(len(values), -1)).all(axis=1))
        if bad_rows.size:
            raise DatasetError(
                f"{path}: {name} of event {start + int(bad_rows[0])} is NaN or inf; "
                "remove or repair this raw file"
            )


def _split_rows(n_rows: int, seed: int, fractions: Sequence[float]) -> dict[str, np.ndarray]:
    order = np.random.default_rng(seed).permutation(n_rows)
    n_train, n_val = int(fractions[0] * n_rows), int(fractions[1] * n_rows)
    splits = dict(zip(SPLITS, np.split(order, [n_train, n_train + n_val]), strict=True))
    if empty := [split for split, rows in splits.items() if len(rows) == 0]:
        raise DatasetError(
            f"only {n_rows} event(s) pass the energy cut, leaving split(s) {empty} empty; "
            "add raw files or widen energy_window_gev"
        )
    return splits


def _recipe_attrs(
    n_pixels: int,
    n_layers: int,
    first_layer: int,
    per_pixel: int,
    seed: int,
    energy_window_gev: Sequence[float],
    fractions: Sequence[float],
    raw_files: Sequence[Path],
) -> dict[str, Any]:
    from qcalo import __version__

    return {
        "recipe": "desyqml/clic Preprocessor (notes/clic8.md §3), "
        "energy cut applied to x and energy_gev alike",
        "n_pixels": n_pixels,
        "n_layers": n_layers,
        "layers_per_pixel": per_pixel,
        "dropped_front": first_layer,
        "dropped_back": n_layers - first_layer - n_pixels * per_pixel,
        "pixel_reduction": "mean",
        "energy_scale_gev": ENERGY_SCALE_GEV,
        "max_energy": MAX_ENERGY,
        "energy_window_gev": np.asarray(energy_window_gev, dtype=np.float64),
        "energy_cut": "strict: low < E < high",
        "fractions": np.asarray(fractions, dtype=np.float64),
        "seed": seed,
        "split_method": "numpy.random.default_rng(seed).permutation; int(share * n), test = rest",
        "source_files": [path.name for path in raw_files],
        "qcalo_version": __version__,
    }


def _write_atomically(
    out_dir: Path,
    names: dict[str, str],
    contents: dict[str, dict[str, np.ndarray]],
    attrs: dict[str, Any],
) -> dict[str, Path]:
    """Write every file to a temporary name, then rename them all; on failure remove the temps."""
    import h5py

    temps: dict[str, Path] = {}
    try:
        for split, datasets in contents.items():
            handle_fd, temp_name = tempfile.mkstemp(
                dir=out_dir, prefix=f".{names[split]}.", suffix=".tmp"
            )
            os.close(handle_fd)
            temps[split] = Path(temp_name)
            with h5py.File(temps[split], "w") as handle:
                for key, values in datasets.items():
                    handle.create_dataset(key, data=values)
                handle.attrs.update({**attrs, "split": split})
        finals = {split: out_dir / names[split] for split in temps}
        for split, temp in temps.items():
            os.replace(temp, finals[split])
        return finals
    finally:
        for temp in temps.values():
            temp.unlink(missing_ok=True)
