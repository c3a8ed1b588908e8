"""CaloChallenge 2022 dataset 1 (pions, photons): the file format, the published record, downloads.

A dataset-1 file is HDF5 with two datasets (notes/calochallenge.md §2): ``incident_energies``
``(N, 1)`` and ``showers`` ``(N, n_vox)``, both in MeV, n_vox = 533 (pions) or 368 (photons).
The "incident energy" is the momentum p; FastCaloGAN trains on E_kin = √(p² + m²) − m
(:func:`kinetic_energy`, notes/ds1-pion-facts.md §1).

* :func:`read_ds1` / :func:`write_ds1`: validated reading (one-line :class:`DatasetError`
  naming the file and the fix) and atomic writing (``qcalo.atomic.atomic_path``).
* :func:`download_calochallenge`: the published Zenodo record 10.5281/zenodo.8099322 via
  pooch, checksum-verified where a checksum is known, resumable (see below).
* Subsets (``single``, ``three``) live in :mod:`qcalo.data.calochallenge_subsets`, the geometry
  in :mod:`qcalo.data.calochallenge_geometry`.

Resuming: pooch itself restarts an interrupted download from zero (it streams into a fresh
temporary file that it deletes on failure). :func:`download_calochallenge` therefore gives
pooch a small downloader that keeps the bytes received so far in ``.<name>.part`` beside the
target and asks the server for the rest with an HTTP ``Range`` request next time; pooch still
does the hash check and the final move, so a file with the wrong checksum is never left.
"""

from __future__ import annotations

import logging
import warnings
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from qcalo.atomic import atomic_path
from qcalo.data._messages import one_line
from qcalo.data.calochallenge_geometry import get_geometry
from qcalo.data.download import download_failure
from qcalo.data.paths import resolve_data_dir
from qcalo.exceptions import ConfigError, DatasetError

__all__ = [
    "CALOCHALLENGE_BASE_URL",
    "CALOCHALLENGE_CATALOGUE",
    "CALOCHALLENGE_RECORD",
    "DS1_ENERGIES_MEV",
    "DS1_EVENTS_PER_ENERGY",
    "PARTICLE_MASSES_MEV",
    "Ds1Data",
    "UnverifiedDownloadWarning",
    "download_calochallenge",
    "kinetic_energy",
    "read_ds1",
    "write_ds1",
]

DS1_ENERGIES_MEV = tuple(float(2**n) for n in range(8, 23))
"""The 15 incident energies (momenta) of dataset 1: 2^8 … 2^22 MeV."""

DS1_EVENTS_PER_ENERGY = {
    "pions": (10000,) * 10 + (9800, 5000, 3000, 2000, 1000),
    "photons": (10000,) * 11 + (5000, 3000, 2000, 1000),
}
"""Events per incident energy in each v2 file (notes/calochallenge.md §2): 120 800 / 121 000."""

PARTICLE_MASSES_MEV = {"pions": 139.6, "photons": 0.0}
"""Masses used by the CaloChallenge FastCaloGAN port (notes/fastcalogan.md §4)."""

CALOCHALLENGE_RECORD = "10.5281/zenodo.8099322"
CALOCHALLENGE_BASE_URL = "https://zenodo.org/records/8099322/files/"
"""Folder URL of the v2 record; the default adds Zenodo's ``?download=1`` to each file name."""

CALOCHALLENGE_CATALOGUE: dict[str, dict[str, str | None]] = {
    "ds1-pions": {
        # md5 from a Zenodo link quoted in DalilaSalamani/ATLASDNNCaloSim README.md,
        # not checked against the file (notes/calochallenge.md §2).
        "dataset_1_pions_1.hdf5": "md5:6a5f52722064a1bcd8a0bc002f16515d",
        "dataset_1_pions_2.hdf5": None,  # no published checksum in our notes
    },
    "ds1-photons": {
        "dataset_1_photons_1.hdf5": None,
        "dataset_1_photons_2.hdf5": None,
    },
}
"""Files per data set name: ``{file name: "alg:hex" checksum or None}``. File 1 is for
training, file 2 is the evaluation reference."""

_FIX_READ = "pass a dataset-1 file (`qcalo data download calochallenge-ds1-pions`) or --data DIR"
_FIX_URL = "check the URL, pass --base-url URL, or copy the files there and pass --data DIR"
_CHUNK_BYTES = 1 << 20


class UnverifiedDownloadWarning(UserWarning):
    """A file was downloaded without a known checksum; its sha256 is in the message."""


@dataclass(frozen=True, eq=False)
class Ds1Data:
    """Showers of one dataset-1 file (or part of one).

    Attributes:
        incident_energies: ``[n]`` incident energies (momenta) in MeV, float64.
        showers: ``[n, n_vox]`` voxel energies in MeV.
        particle: ``"pions"`` or ``"photons"``.
    """

    incident_energies: np.ndarray
    showers: np.ndarray
    particle: str = "pions"

    def __len__(self) -> int:
        return int(self.incident_energies.shape[0])


def kinetic_energy(momentum_mev: npt.ArrayLike, particle: str = "pions") -> np.ndarray:
    """E_kin = √(p² + m²) − m (MeV), as FastCaloGAN converts the file's incident energy."""
    mass = PARTICLE_MASSES_MEV[_particle_key(particle)]
    p = np.asarray(momentum_mev, dtype=np.float64)
    return np.sqrt(p**2 + mass**2) - mass


def read_ds1(path: str | Path, particle: str = "pions", *, dtype: Any = np.float64) -> Ds1Data:
    """Read and check a dataset-1 HDF5 file.

    Args:
        path: the ``.hdf5`` file.
        particle: ``"pions"`` (533 voxels) or ``"photons"`` (368).
        dtype: dtype of the returned showers (``np.float32`` halves the memory).

    Returns:
        The energies (flattened to ``[n]``) and showers.

    Raises:
        DatasetError: one line naming the file and the fix, if the file is missing or not
            HDF5, a key is missing, the voxel count is wrong, the lengths differ, or an
            energy is negative or non-finite (incident energies must be > 0).
    """
    import h5py

    path = Path(path).expanduser()
    key = _particle_key(particle)
    if not path.is_file():
        raise DatasetError(f"{path}: no such file; {_FIX_READ}")
    try:
        with h5py.File(path, "r") as handle:
            energies = _read_dataset(handle, path, "incident_energies", np.float64)
            showers = _read_dataset(handle, path, "showers", dtype)
    except OSError as error:
        raise DatasetError(
            f"{path}: not a readable HDF5 file ({one_line(error, limit=160)}); {_FIX_READ}"
        ) from error
    energies = _check_arrays(energies, showers, key, where=str(path))
    return Ds1Data(incident_energies=energies, showers=showers, particle=key)


def write_ds1(
    path: str | Path,
    incident_energies: npt.ArrayLike,
    showers: npt.ArrayLike,
    *,
    particle: str = "pions",
    compression: str | None = "gzip",
    attrs: Mapping[str, Any] | None = None,
) -> Path:
    """Write a dataset-1 file atomically (nothing half-written is left on error).

    Args:
        path: target ``.hdf5`` file; its folder is created.
        incident_energies: ``[n]`` or ``[n, 1]`` energies in MeV (> 0).
        showers: ``[n, n_vox]`` voxel energies in MeV (≥ 0).
        particle: geometry to check the voxel count against.
        compression: h5py compression (the published files use gzip); ``None`` for none.
        attrs: HDF5 attributes of the file (e.g. the provenance of generated showers).

    Returns:
        ``path``.

    Raises:
        DatasetError: on the same problems :func:`read_ds1` refuses, before anything is written.
    """
    import h5py

    key = _particle_key(particle)
    shower_array = np.asarray(showers)
    energies = _check_arrays(np.asarray(incident_energies, dtype=np.float64), shower_array, key,
                             where="data to write")
    path = Path(path).expanduser()
    with atomic_path(path) as tmp, h5py.File(tmp, "w") as handle:
        handle.create_dataset("incident_energies", data=energies.reshape(-1, 1),
                              compression=compression)
        handle.create_dataset("showers", data=shower_array, compression=compression)
        handle.attrs.update(dict(attrs or {}))
    return path


def _particle_key(particle: str) -> str:
    key = particle if particle.endswith("s") else particle + "s"
    if key not in PARTICLE_MASSES_MEV:
        raise ConfigError(f"particle={particle!r}; use 'pions' or 'photons'")
    return key


def _read_dataset(handle: Any, path: Path, key: str, dtype: Any) -> np.ndarray:
    import h5py

    if key not in handle or not isinstance(handle[key], h5py.Dataset):
        raise DatasetError(f"{path}: no dataset {key!r} (keys: {sorted(handle)}); {_FIX_READ}")
    dataset = handle[key]
    if not (np.issubdtype(dataset.dtype, np.floating) or np.issubdtype(dataset.dtype, np.integer)):
        raise DatasetError(f"{path}: {key!r} has dtype {dataset.dtype}, not numbers; {_FIX_READ}")
    return np.asarray(dataset[()], dtype=dtype)


def _check_arrays(energies: np.ndarray, showers: np.ndarray, particle: str, *, where: str) -> np.ndarray:
    """Check shapes and values; return the energies flattened to ``[n]``."""
    n_vox = get_geometry(particle).n_voxels
    if energies.ndim == 2 and energies.shape[1] == 1:
        energies = energies[:, 0]
    if energies.ndim != 1:
        raise DatasetError(
            f"{where}: incident_energies has shape {energies.shape}; expected (N, 1) in MeV"
        )
    if showers.ndim != 2 or showers.shape[1] != n_vox:
        voxels = showers.shape[1] if showers.ndim == 2 else f"shape {showers.shape}"
        other = "photons" if particle == "pions" else "pions"
        raise DatasetError(
            f"{where}: showers have {voxels} voxels per event, the {particle} geometry needs "
            f"{n_vox}; pass a {particle} file or particle='{other}'"
        )
    if showers.shape[0] != energies.shape[0]:
        raise DatasetError(
            f"{where}: {energies.shape[0]} incident energies but {showers.shape[0]} showers; "
            "the file is truncated or mixed up, re-create or re-download it"
        )
    if not np.all(np.isfinite(energies)) or np.any(energies <= 0):
        n_bad = int(np.count_nonzero(~(np.isfinite(energies) & (energies > 0))))
        raise DatasetError(
            f"{where}: {n_bad} incident energies are not finite and > 0 (MeV); fix or drop them"
        )
    finite = np.isfinite(showers)
    if not np.all(finite) or np.any(showers < 0):
        n_bad = int(np.count_nonzero(~finite) + np.count_nonzero(showers[finite] < 0))
        raise DatasetError(
            f"{where}: {n_bad} voxel energies are negative or not finite; "
            "clip them at 0 and drop NaN/inf events (as the published files do)"
        )
    return energies


# ----------------------------------------------------------------------------- download


def download_calochallenge(
    name: str = "ds1-pions",
    dest: str | Path | None = None,
    base_url: str | None = None,
    *,
    progress: bool = True,
    registry: Mapping[str, str | None] | None = None,
) -> Path:
    """Download a CaloChallenge data set, checking each file's checksum where one is known.

    Files already present with the right checksum are not fetched again; an interrupted
    download resumes from ``.<file>.part`` (HTTP Range). A file without a known checksum is
    downloaded and an :class:`UnverifiedDownloadWarning` gives its sha256.

    Args:
        name: ``"ds1-pions"`` or ``"ds1-photons"`` (a ``"calochallenge-"`` prefix is accepted).
        dest: folder for the files; ``None`` means ``resolve_data_dir() / "calochallenge"``.
        base_url: folder URL the file names are appended to; ``None`` = the Zenodo record.
        progress: show a progress bar (tqdm) per file.
        registry: ``{file name: "md5:…"/"sha256:…" or None}`` to use instead of the catalogue.

    Returns:
        The folder holding the files.

    Raises:
        ConfigError: for an unknown ``name``.
        DatasetError: one line, if a download fails or a checksum differs; no file is left
            under the final name then, and a mismatching partial download is removed too.
    """
    import pooch
    from pooch.hashes import hash_matches

    key = name.removeprefix("calochallenge-")
    if key not in CALOCHALLENGE_CATALOGUE and registry is None:
        raise ConfigError(
            f"unknown CaloChallenge data set {name!r}; use one of {sorted(CALOCHALLENGE_CATALOGUE)}"
        )
    files = dict(registry if registry is not None else CALOCHALLENGE_CATALOGUE[key])
    folder = Path(dest).expanduser() if dest is not None else resolve_data_dir() / "calochallenge"
    for fname, known_hash in files.items():
        if base_url is None:
            url = f"{CALOCHALLENGE_BASE_URL}{fname}?download=1"
        else:
            url = (base_url if base_url.endswith("/") else base_url + "/") + fname
        part = folder / f".{fname}.part"
        logger = pooch.get_logger()
        level = logger.level
        logger.setLevel(logging.WARNING)  # the progress bar and our errors say enough
        try:
            pooch.retrieve(url, known_hash=known_hash, fname=fname, path=folder,
                           downloader=_resumable_downloader(part, progress))
        except ValueError as error:  # pooch's checksum mismatch: the .part is bad as well
            part.unlink(missing_ok=True)
            stale = folder / fname  # an old copy pooch tried to replace
            if stale.is_file() and not hash_matches(str(stale), known_hash):
                stale.unlink()
            raise DatasetError(
                f"{folder / fname}: checksum differs from {known_hash} (from {url}); "
                "nothing was kept, re-download or check --base-url"
            ) from error
        except OSError as error:  # requests' errors subclass OSError, as do disk errors
            raise DatasetError(f"cannot download {url} ({download_failure(error)}); {_FIX_URL}") from error
        finally:
            logger.setLevel(level)
        if known_hash is None:
            warnings.warn(
                f"{folder / fname} has no published checksum in qcalo's catalogue; its sha256 "
                f"is {pooch.file_hash(str(folder / fname))} (pass registry= to pin it)",
                UnverifiedDownloadWarning,
                stacklevel=2,
            )
    return folder


def _resumable_downloader(part: Path, progress: bool) -> Callable[[str, str, Any], None]:
    """A pooch downloader that appends to ``part`` and resumes it with an HTTP Range request.

    Hand-written because pooch's ``HTTPDownloader`` always starts from byte 0.
    """

    def download(url: str, output_file: str, _pooch: Any = None) -> None:
        import requests

        part.parent.mkdir(parents=True, exist_ok=True)
        offset = part.stat().st_size if part.is_file() else 0
        headers = {"Range": f"bytes={offset}-"} if offset else {}
        with requests.get(url, headers=headers, stream=True, timeout=60) as response:
            if offset and response.status_code == 416:  # the .part already holds every byte
                part.replace(output_file)
                return
            response.raise_for_status()
            if response.status_code != 206:  # server ignored the Range: start again
                offset = 0
            total = offset + int(response.headers.get("content-length", 0))
            bar = _progress_bar(total, offset, part.name.strip("."), progress)
            with part.open("ab" if offset else "wb") as handle:
                for chunk in response.iter_content(chunk_size=_CHUNK_BYTES):
                    handle.write(chunk)
                    if bar is not None:
                        bar.update(len(chunk))
            if bar is not None:
                bar.close()
        part.replace(output_file)

    return download


def _progress_bar(total: int, done: int, label: str, enabled: bool) -> Any:
    if not enabled:
        return None
    try:
        from tqdm import tqdm
    except ImportError:  # progress is optional
        return None
    return tqdm(total=total or None, initial=done, unit="B", unit_scale=True, desc=label,
                leave=True)
