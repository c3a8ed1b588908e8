"""Data sets for qcalo: the dataset interface, the CLIC N-pixel showers, their synthetic
stand-in, and downloads.

Modules (no import cycle; each imports only those above it):

* :mod:`~qcalo.data.dataset`: :class:`Splits`, the interface every consumer takes;
* :mod:`~qcalo.data.paths`: which data folder (``--data``, ``$QCALO_DATA``, user cache);
* :mod:`~qcalo.data.clic_catalogue`: :data:`CLIC`, names, keys, constants, published hashes;
* :mod:`~qcalo.data.clic_recipe`: layer profile → N pixels;
* :mod:`~qcalo.data.synthetic`: the synthetic stand-in;
* :mod:`~qcalo.data.clic`: reading, validation, :func:`load_clic`;
* :mod:`~qcalo.data.clic_prepare`: raw files → split files;
* :mod:`~qcalo.data.download`: hash-checked downloads.

``load_clic`` reads the folder it is given (or ``$QCALO_DATA``) or fails; only with neither
does it fall back to the synthetic stand-in, with a :class:`SyntheticDataWarning`::

    from qcalo.data import load_clic
    splits = load_clic("~/data")  # looks in ~/data and ~/data/clic8
"""

from __future__ import annotations

from qcalo.data.clic import ClicSplits, find_clic_dir, load_clic, read_clic_file, read_clic_split
from qcalo.data.clic_catalogue import CLIC, ClicCatalogue
from qcalo.data.clic_prepare import prepare_clic
from qcalo.data.clic_recipe import profile_to_pixels
from qcalo.data.dataset import Splits, SyntheticDataWarning
from qcalo.data.download import download_clic8, download_file
from qcalo.data.paths import locate_data_dir, resolve_data_dir
from qcalo.data.synthetic import synthetic_clic, synthetic_clic_splits

__all__ = [
    "CLIC",
    "ClicCatalogue",
    "ClicSplits",
    "Splits",
    "SyntheticDataWarning",
    "download_clic8",
    "download_file",
    "find_clic_dir",
    "load_clic",
    "locate_data_dir",
    "prepare_clic",
    "profile_to_pixels",
    "read_clic_file",
    "read_clic_split",
    "resolve_data_dir",
    "synthetic_clic",
    "synthetic_clic_splits",
]
