"""What the CLIC N-pixel data set *is*: file names, keys, recipe constants, published files.

Every other CLIC module (reading, preparing, downloading, the synthetic stand-in) asks
:data:`CLIC` instead of repeating a name or a number, so the catalogue imports only the interface
(:mod:`qcalo.data.dataset`) and nothing imports it back in a cycle.

The recipe constants are those of the desyqml/clic ``Preprocessor`` (``notes/clic8.md`` §3);
:mod:`qcalo.data.clic_recipe` applies them.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from qcalo.data.dataset import SPLIT_NAMES
from qcalo.exceptions import ConfigError, DatasetError
from qcalo.validate import positive_int

__all__ = ["CLIC", "ClicCatalogue"]

# The desyqml/clic release files sit in that repository's history at commit 4b87850
# (removed later). This URL could not be checked from the offline build machine; override
# it with `base_url=` / `--base-url` if it moves (any folder serving the same bytes works).
_PUBLISHED_BASE_URL = "https://raw.githubusercontent.com/desyqml/clic/4b87850/example/"
_PUBLISHED_SHA256 = {
    8: {
        "clic_8px_train.h5": "8f710983b3d29aa4be526a9dd4b535499400a7f9e9bd5bf3d6fe3700afe5706b",
        "clic_8px_val.h5": "99e14f2da967612168122d97e64a8a1dbb17fd327ab2e893b30f0ef97f22a3a2",
        "clic_8px_test.h5": "bce5e8d9174494bdceb7a10cefd78581ea67b3811eb80641fc62f0217278fb9d",
    }
}


@dataclass(frozen=True, eq=False)
class ClicCatalogue:
    """Names, keys and constants of the CLIC electron showers reduced to N pixels.

    Use the module's :data:`CLIC` instance; tests may build a modified copy with
    :func:`dataclasses.replace` (e.g. another ``published_sha256``).

    Attributes:
        splits: split names, in file order.
        default_pixels: N of the published files (and of ``qcalo`` commands by default).
        pixel_key: dataset holding the pixels ``[n, N]`` in every split file.
        energy_key: dataset holding the row-aligned incident energy ``[n]`` in GeV; written by
            ``qcalo data prepare-clic``, absent from the published files.
        misaligned_key: the published files' ``y``: NOT row-aligned with ``x``, never read.
        max_energy: clip value of the recipe, in scaled units (mean layer GeV / 50).
        energy_scale_gev: divisor that turns a mean layer energy in GeV into a pixel value.
        energy_window_gev: incident-energy cut, strict on both ends (|E - 250| < 25).
        split_fractions: train/val/test shares of ``prepare-clic``.
        published_sizes: split sizes of the published clic8 files (reused by the stand-in).
        raw_image_key: dataset of the raw ``EleEscan_*.h5`` files with the ECAL images.
        raw_energy_key: dataset of the raw files with the incident energy in GeV.
        published_base_url: folder URL of the published files.
        published_sha256: ``{N: {file name: sha256}}`` of the published files.
    """

    splits: tuple[str, str, str] = SPLIT_NAMES
    default_pixels: int = 8
    pixel_key: str = "x"
    energy_key: str = "energy_gev"
    misaligned_key: str = "y"
    max_energy: float = 0.5
    energy_scale_gev: float = 50.0
    energy_window_gev: tuple[float, float] = (225.0, 275.0)
    split_fractions: tuple[float, float, float] = (0.6, 0.2, 0.2)
    published_sizes: tuple[int, int, int] = (47682, 15894, 15895)
    raw_image_key: str = "ECAL"
    raw_energy_key: str = "energy"
    published_base_url: str = _PUBLISHED_BASE_URL
    published_sha256: Mapping[int, Mapping[str, str]] = field(
        default_factory=lambda: _PUBLISHED_SHA256
    )

    def check_pixels(self, n_pixels: object) -> int:
        """``n_pixels`` as an ``int`` >= 1, else a :class:`ConfigError`."""
        return positive_int(n_pixels, "n_pixels", fix="(pixels per event, e.g. 8)")

    def filename(self, split: str, n_pixels: int | None = None) -> str:
        """Name of one split file, e.g. ``CLIC.filename("train") == "clic_8px_train.h5"``.

        Raises:
            ConfigError: if ``split`` is not one of :attr:`splits` or ``n_pixels < 1``.
        """
        if split not in self.splits:
            raise ConfigError(f"unknown split {split!r}; use one of {list(self.splits)}")
        return f"clic_{self._pixels(n_pixels)}px_{split}.h5"

    def filenames(self, n_pixels: int | None = None) -> tuple[str, ...]:
        """The three split file names, in :attr:`splits` order."""
        return tuple(self.filename(split, n_pixels) for split in self.splits)

    def dataset_name(self, n_pixels: int | None = None) -> str:
        """Short name of the N-pixel data set and its sub-folder of the data folder: ``"clic8"``."""
        return f"clic{self._pixels(n_pixels)}"

    def published_registry(self, n_pixels: int | None = None) -> Mapping[str, str]:
        """``{file name: sha256}`` of the published N-pixel files.

        Raises:
            DatasetError: if no N-pixel files were published (prepare them from raw data).
        """
        n = self._pixels(n_pixels)
        if n not in self.published_sha256:
            raise DatasetError(
                f"no published {n}-pixel CLIC files (published: "
                f"{sorted(self.published_sha256)}); {self.how_to_get(n)}"
            )
        return self.published_sha256[n]

    def how_to_get(self, n_pixels: int | None = None, data_dir: Path | None = None) -> str:
        """The fix to print when the N-pixel files are missing (one clause, no full stop)."""
        n = self._pixels(n_pixels)
        if data_dir is None:
            where, out, other = "", "", "pass --data DIR"
        else:
            where, out = f" --data {data_dir}", f" --out {data_dir / self.dataset_name(n)}"
            other = "pass the folder that holds them"
        if n in self.published_sha256:
            return f"run `qcalo data download {self.dataset_name(n)}{where}` or {other}"
        return f"run `qcalo data prepare-clic RAW_DIR --pixels {n}{out}` or {other}"

    def _pixels(self, n_pixels: int | None) -> int:
        return self.default_pixels if n_pixels is None else self.check_pixels(n_pixels)


CLIC = ClicCatalogue()
"""The catalogue every qcalo module uses."""
