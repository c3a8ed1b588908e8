"""``qcalo data prepare-clic``: raw CLIC ``EleEscan_*.h5`` files → N-pixel split files.

Applies the recipe of :mod:`qcalo.data.clic_recipe` plus its energy cut
(``CLIC.energy_window_gev``, strict), keeps the incident energy row-aligned (the published
``y`` is not: never read it) and splits with a seeded permutation. The three files are
written through :func:`qcalo.atomic.atomic_path`: all three appear, or none changes.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import ExitStack
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from qcalo.atomic import atomic_path
from qcalo.data._messages import one_line
from qcalo.data.clic_catalogue import CLIC
from qcalo.data.clic_recipe import pixel_layout, profile_to_pixels
from qcalo.exceptions import ConfigError, DatasetError
from qcalo.validate import finite_float, nonnegative_int, positive_int

if TYPE_CHECKING:
    import h5py

__all__ = ["prepare_clic"]


def prepare_clic(
    raw_dir: Path,
    out_dir: Path,
    *,
    n_pixels: int = CLIC.default_pixels,
    seed: int = 0,
    energy_window_gev: tuple[float, float] = CLIC.energy_window_gev,
    fractions: tuple[float, float, float] = CLIC.split_fractions,
    chunk_size: int = 1000,
    progress: bool = True,
) -> dict[str, Path]:
    """Re-create the N-pixel split files from raw CLIC ``EleEscan_*.h5`` files.

    Raw files are streamed ``chunk_size`` events at a time; only the reduced pixels stay in
    memory. Every raw file's keys and shapes are checked before any data is read.

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
    n_pixels = CLIC.check_pixels(n_pixels)
    _check_prepare_args(seed, energy_window_gev, fractions, chunk_size)
    raw_files = _list_raw_files(raw_dir)
    n_layers, n_events = _inspect_raw_files(raw_files, n_pixels)
    pixels, energy = _reduce_raw_files(
        raw_files, n_events, n_pixels, energy_window_gev, chunk_size, progress
    )
    splits = _split_rows(len(pixels), seed, fractions)
    attrs = _recipe_attrs(n_pixels, n_layers, seed, energy_window_gev, fractions, raw_files)
    contents = {
        split: {CLIC.pixel_key: pixels[rows], CLIC.energy_key: energy[rows]}
        for split, rows in splits.items()
    }
    return _write_all_or_none(out_dir, n_pixels, contents, attrs)


def _check_prepare_args(
    seed: int, energy_window_gev: Sequence[float], fractions: Sequence[float], chunk_size: int
) -> None:
    nonnegative_int(seed, "seed")
    positive_int(chunk_size, "chunk_size", fix="(events read per step)")
    if len(energy_window_gev) != 2:
        raise ConfigError(f"energy_window_gev must be (low, high), got {energy_window_gev!r}")
    low, high = (finite_float(v, "energy_window_gev") for v in energy_window_gev)
    if not low < high:
        raise ConfigError(
            f"energy_window_gev must be (low, high) with low < high, got {tuple(energy_window_gev)}"
        )
    if len(fractions) != 3 or min(fractions) < 0 or not np.isclose(sum(fractions), 1.0):
        raise ConfigError(
            f"fractions must be 3 non-negative shares summing to 1, got {tuple(fractions)}"
        )


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
                f"{path}: not a readable HDF5 file ({one_line(error)}); "
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
    lost = [key for key in (CLIC.raw_image_key, CLIC.raw_energy_key) if key not in handle]
    if lost:
        raise DatasetError(
            f"{path}: no dataset(s) {lost} (keys: {sorted(handle)}); pass raw CLIC EleEscan files"
        )
    image_shape = handle[CLIC.raw_image_key].shape
    energy_shape = handle[CLIC.raw_energy_key].shape
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
            images, energies = handle[CLIC.raw_image_key], handle[CLIC.raw_energy_key]
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
    splits = dict(zip(CLIC.splits, np.split(order, [n_train, n_train + n_val]), strict=True))
    if empty := [split for split, rows in splits.items() if len(rows) == 0]:
        raise DatasetError(
            f"only {n_rows} event(s) pass the energy cut, leaving split(s) {empty} empty; "
            "add raw files or widen energy_window_gev"
        )
    return splits


def _recipe_attrs(
    n_pixels: int,
    n_layers: int,
    seed: int,
    energy_window_gev: Sequence[float],
    fractions: Sequence[float],
    raw_files: Sequence[Path],
) -> dict[str, Any]:
    from qcalo import __version__

    first_layer, per_pixel = pixel_layout(n_layers, n_pixels)
    return {
        "recipe": "desyqml/clic Preprocessor (notes/clic8.md §3), "
        "energy cut applied to x and energy_gev alike",
        "n_pixels": n_pixels,
        "n_layers": n_layers,
        "layers_per_pixel": per_pixel,
        "dropped_front": first_layer,
        "dropped_back": n_layers - first_layer - n_pixels * per_pixel,
        "pixel_reduction": "mean",
        "energy_scale_gev": CLIC.energy_scale_gev,
        "max_energy": CLIC.max_energy,
        "energy_window_gev": np.asarray(energy_window_gev, dtype=np.float64),
        "energy_cut": "strict: low < E < high",
        "fractions": np.asarray(fractions, dtype=np.float64),
        "seed": seed,
        "split_method": "numpy.random.default_rng(seed).permutation; int(share * n), test = rest",
        "source_files": [path.name for path in raw_files],
        "qcalo_version": __version__,
    }


def _write_all_or_none(
    out_dir: Path,
    n_pixels: int,
    contents: dict[str, dict[str, np.ndarray]],
    attrs: dict[str, Any],
) -> dict[str, Path]:
    """Write every split to its temp file; only when all three are written are they renamed.

    One :func:`~qcalo.atomic.atomic_path` per file, entered together on an ``ExitStack``: an
    error in any write unwinds all three (temps removed, old files untouched).
    """
    import h5py

    finals = {split: out_dir / CLIC.filename(split, n_pixels) for split in contents}
    with ExitStack() as stack:
        for split, datasets in contents.items():
            tmp = stack.enter_context(atomic_path(finals[split]))
            with h5py.File(tmp, "w") as handle:
                for key, values in datasets.items():
                    handle.create_dataset(key, data=values)
                handle.attrs.update({**attrs, "split": split})
    return finals
