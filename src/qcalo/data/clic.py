"""Reading the CLIC N-pixel split files ("clic8" for N = 8) into a :class:`ClicSplits`.

Names, keys and constants come from :data:`qcalo.data.clic_catalogue.CLIC`; the files are
made by ``qcalo data prepare-clic`` (:mod:`qcalo.data.clic_prepare`) or fetched by
``qcalo data download clic8`` (:mod:`qcalo.data.download`).

Where :func:`load_clic` looks, and when it may fall back to the synthetic stand-in:

* ``data=DIR`` or ``$QCALO_DATA`` set: the user named the folder, so it is read or the call
  fails with a :class:`~qcalo.exceptions.DatasetError` naming the folder and the fix. It is
  never replaced by a stand-in.
* neither given: the user cache folder is read if it holds the files; otherwise qcalo's
  synthetic stand-in (:mod:`qcalo.data.synthetic`) is returned and a
  :class:`SyntheticDataWarning` says so (or a ``DatasetError`` if ``allow_synthetic=False``).
"""

from __future__ import annotations

import re
import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from qcalo.data._messages import one_line
from qcalo.data.clic_catalogue import CLIC
from qcalo.data.dataset import Splits, SyntheticDataWarning, require_variation
from qcalo.data.paths import DATA_ENV_VAR, DataDir, locate_data_dir
from qcalo.exceptions import DatasetError

if TYPE_CHECKING:
    import h5py

__all__ = [
    "ClicSplits",
    "SyntheticDataWarning",
    "find_clic_dir",
    "load_clic",
    "load_clic_stand_in",
    "missing_clic_files",
    "read_clic_file",
    "read_clic_split",
]

_TRAIN_FILE = re.compile(r"clic_(\d+)px_train\.h5")  # to name the pixel counts a folder has
_RANGE_TOLERANCE = 1e-9  # float noise allowed above CLIC.max_energy
_FIX_READ = "pass a file made by `qcalo data prepare-clic` or `qcalo data download clic8`"


@dataclass(frozen=True, eq=False, repr=False)
class ClicSplits(Splits):
    """:class:`~qcalo.data.dataset.Splits` of the CLIC N-pixel data; ``name`` defaults to ``clicN``.

    ``ClicSplits(train, val, test, source=..., location=...)`` keeps working; :attr:`n_pixels`
    is :attr:`n_features` under the name the CLIC code uses.
    """

    name: str = field(default="", kw_only=True)

    def __post_init__(self) -> None:
        if not self.name:  # a malformed train array is reported by Splits' shape check
            width = np.shape(self.train)[1] if np.ndim(self.train) == 2 else 0
            object.__setattr__(self, "name", f"clic{width}" if width else "clic")
        super().__post_init__()

    @property
    def n_pixels(self) -> int:
        """Number of pixels (columns) per event."""
        return self.n_features


# ---------------------------------------------------------------------------- finding


def missing_clic_files(folder: Path, n_pixels: int = CLIC.default_pixels) -> list[str]:
    """Names of the split files that ``folder`` lacks (all three if it does not exist)."""
    return [name for name in CLIC.filenames(n_pixels) if not (Path(folder) / name).is_file()]


def find_clic_dir(data_dir: Path, n_pixels: int = CLIC.default_pixels) -> Path | None:
    """Return the folder holding all three split files, or ``None``.

    Looks in ``data_dir`` itself, then in ``data_dir / "clic{N}"``.
    """
    for folder in _candidate_dirs(Path(data_dir), n_pixels):
        if not missing_clic_files(folder, n_pixels):
            return folder
    return None


def _candidate_dirs(data_dir: Path, n_pixels: int) -> tuple[Path, Path]:
    return data_dir, data_dir / CLIC.dataset_name(n_pixels)


# ---------------------------------------------------------------------------- reading


def read_clic_file(
    path: Path, n_pixels: int = CLIC.default_pixels, key: str = CLIC.pixel_key
) -> np.ndarray:
    """Read and validate the pixels of one N-pixel split file.

    Args:
        path: HDF5 file, e.g. ``…/clic8/clic_8px_train.h5``.
        n_pixels: expected number of columns.
        key: dataset to read. Never ``"y"`` of the published files: it is misaligned.

    Returns:
        float64 array ``[n, n_pixels]`` with ``n >= 2``, every value finite and in
        ``[0, CLIC.max_energy]``, and not every pixel constant.

    Raises:
        DatasetError: if the file is missing or not HDF5, lacks ``key``, or holds an array
            of the wrong shape, with values outside the documented range, or all alike.
    """
    return _read(path, n_pixels, key, with_energy=False)[0]


def read_clic_split(
    path: Path, n_pixels: int = CLIC.default_pixels
) -> tuple[np.ndarray, np.ndarray | None]:
    """Read one split file: pixels as :func:`read_clic_file`, and the incident energies.

    Returns:
        ``(pixels [n, N], energy_gev [n] or None)``: ``None`` when the file has no
        ``CLIC.energy_key`` dataset (the published files). The published ``y`` is never read.

    Raises:
        DatasetError: as :func:`read_clic_file`, or energies of the wrong length, not finite
            or not positive.
    """
    return _read(path, n_pixels, CLIC.pixel_key, with_energy=True)


def _read(
    path: Path, n_pixels: int, key: str, *, with_energy: bool
) -> tuple[np.ndarray, np.ndarray | None]:
    path = Path(path)
    n_pixels = CLIC.check_pixels(n_pixels)
    if key == CLIC.misaligned_key:
        raise DatasetError(f"{path}: {key!r} is not row-aligned with the pixels; never read it")
    if not path.is_file():
        raise DatasetError(f"{path}: no such file; {CLIC.how_to_get(n_pixels)}")
    import h5py

    try:
        with h5py.File(path, "r") as handle:
            pixels = _read_numeric_dataset(handle, path, key)
            _validate_pixels(pixels, path, n_pixels)
            energy = None
            if with_energy and CLIC.energy_key in handle:
                energy = _read_numeric_dataset(handle, path, CLIC.energy_key)
                _validate_energy(energy, path, len(pixels))
    except OSError as error:
        raise DatasetError(
            f"{path}: not a readable HDF5 file ({one_line(error)}); {_FIX_READ}"
        ) from error
    return pixels, None if energy is None else energy.reshape(-1)


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
    if (high := float(array.max())) > CLIC.max_energy + _RANGE_TOLERANCE:
        raise DatasetError(
            f"{path}: pixel energy {high:.4g} above the clip value {CLIC.max_energy} "
            f"(unscaled data?); {_FIX_READ}"
        )
    require_variation(array, str(path), _FIX_READ)


def _validate_energy(energy: np.ndarray, path: Path, n_events: int) -> None:
    key = CLIC.energy_key
    if energy.shape not in ((n_events,), (n_events, 1)):
        raise DatasetError(
            f"{path}: {key!r} has shape {energy.shape}, expected ({n_events},) like the pixels; "
            "re-run `qcalo data prepare-clic`"
        )
    if not (np.isfinite(energy).all() and (energy > 0).all()):
        raise DatasetError(
            f"{path}: {key!r} holds NaN, inf or values <= 0 GeV; re-run `qcalo data prepare-clic`"
        )


# ---------------------------------------------------------------------------- loading


def load_clic(
    data: str | Path | None = None,
    *,
    n_pixels: int = CLIC.default_pixels,
    allow_synthetic: bool = True,
    synthetic_seed: int = 0,
    synthetic_sizes: Sequence[int] = CLIC.published_sizes,
) -> ClicSplits:
    """Load the train/val/test splits of the N-pixel CLIC data set.

    Looks for ``clic_{N}px_{train,val,test}.h5`` in the data folder and its ``clic{N}``
    sub-folder. The data folder is ``data``, else ``$QCALO_DATA``, else the user cache.

    An explicit folder (``data`` or ``$QCALO_DATA``) is never replaced by a fallback: if it
    does not exist or holds no N-pixel files, a one-line :class:`DatasetError` names it and
    the fix (``qcalo data download clic8`` / ``qcalo data prepare-clic RAW_DIR --pixels N``).
    Only when neither is given and the user cache has no files does this return qcalo's
    synthetic stand-in, announced by one :class:`SyntheticDataWarning`.

    Incident energies are loaded when the files hold ``energy_gev`` (``prepare-clic`` writes
    it; the published files do not, and their misaligned ``y`` is never read); the synthetic
    stand-in carries its own.

    Args:
        data: data folder (``--data DIR``); ``None`` means ``$QCALO_DATA`` or the user cache.
        n_pixels: pixels per event (a positive integer).
        allow_synthetic: allow the fallback to the stand-in when no folder was named.
        synthetic_seed: seed of the stand-in.
        synthetic_sizes: ``(n_train, n_val, n_test)`` of the stand-in.

    Returns:
        :class:`ClicSplits` with ``source`` ``"real"`` (``location`` = the resolved folder)
        or ``"synthetic"`` (``location`` = ``"synthetic(seed=…)"``).

    Raises:
        ConfigError: if ``n_pixels`` is not a positive integer.
        DatasetError: if an explicit folder is missing or has no N-pixel files, a folder holds
            some but not all split files, a file is invalid, or no data was found and
            ``allow_synthetic`` is false.
    """
    n_pixels = CLIC.check_pixels(n_pixels)
    where = locate_data_dir(data)
    folder = find_clic_dir(where.path, n_pixels)
    if folder is not None:
        return _read_folder(folder.resolve(), n_pixels)
    _raise_if_partial(where.path, n_pixels)
    if where.explicit or not allow_synthetic:
        raise DatasetError(_not_found_message(where, n_pixels))
    warnings.warn(
        f"real CLIC {n_pixels}-pixel data not found in {where.path} (no --data or "
        f"${DATA_ENV_VAR} given); using qcalo's synthetic stand-in (seed={synthetic_seed}); "
        f"for the real data {CLIC.how_to_get(n_pixels)}",
        SyntheticDataWarning,
        stacklevel=2,
    )
    return _synthetic(n_pixels, synthetic_seed, synthetic_sizes)


def _read_folder(folder: Path, n_pixels: int) -> ClicSplits:
    read = {
        split: read_clic_split(folder / CLIC.filename(split, n_pixels), n_pixels)
        for split in CLIC.splits
    }
    with_energy = [split for split, (_, energy) in read.items() if energy is not None]
    if 0 < len(with_energy) < len(read):
        raise DatasetError(
            f"{folder}: only the {with_energy} file(s) hold {CLIC.energy_key!r}; "
            f"re-run `qcalo data prepare-clic RAW_DIR --pixels {n_pixels} --out {folder}`"
        )
    energy = {f"{split}_energy": values for split, (_, values) in read.items()}
    pixels = {split: values for split, (values, _) in read.items()}
    return ClicSplits(**pixels, **energy, source="real", location=str(folder))


def load_clic_stand_in(n_pixels: int = 8, seed: int = 0, sizes: Sequence[int] = CLIC.published_sizes) -> ClicSplits:
    """qcalo's synthetic CLIC stand-in as splits, exactly as :func:`load_clic` falls back to it.

    For a run that was trained on the stand-in and must keep using it (``--resume``, evaluate).
    """
    return _synthetic(n_pixels, seed, sizes)


def _synthetic(n_pixels: int, seed: int, sizes: Sequence[int]) -> ClicSplits:
    from qcalo.data.synthetic import synthetic_clic_split_events

    (train, train_e), (val, val_e), (test, test_e) = synthetic_clic_split_events(
        seed=seed, sizes=sizes, n_pixels=n_pixels
    )
    return ClicSplits(
        train,
        val,
        test,
        train_energy=train_e,
        val_energy=val_e,
        test_energy=test_e,
        source="synthetic",
        location=f"synthetic(seed={seed})",
    )


def _not_found_message(where: DataDir, n_pixels: int) -> str:
    fix = CLIC.how_to_get(n_pixels, where.path)
    if not where.path.exists():
        return f"{where.path} (from {where.origin}): no such folder; {fix}"
    if not where.path.is_dir():
        return f"{where.path} (from {where.origin}): a file, not a folder; pass its folder"
    names = [path.name for path in (*where.path.glob("*.h5"), *where.path.glob("*/*.h5"))]
    other = sorted({int(m[1]) for name in names if (m := _TRAIN_FILE.fullmatch(name))})
    found = f" (it has files for {other} pixels)" if other else ""
    return (
        f"{where.path} (from {where.origin}): no {n_pixels}-pixel CLIC files there or in "
        f"{CLIC.dataset_name(n_pixels)}/{found}; {fix}"
    )


def _raise_if_partial(data_dir: Path, n_pixels: int) -> None:
    """Refuse a folder with some split files but not all: never mix or silently substitute."""
    for folder in _candidate_dirs(data_dir, n_pixels):
        missing = missing_clic_files(folder, n_pixels)
        if 0 < len(missing) < len(CLIC.splits):
            raise DatasetError(
                f"{folder}: split file(s) {missing} missing; "
                f"{CLIC.how_to_get(n_pixels)}, or remove the partial set"
            )
