"""Data sets for qcalo: the CLIC N-pixel showers, their synthetic stand-in, and downloads.

``load_clic`` returns the real files when they are found, else the synthetic stand-in and a
:class:`SyntheticDataWarning`::

    from qcalo.data import load_clic
    splits = load_clic("~/data")  # looks in ~/data and ~/data/clic8
"""

from __future__ import annotations

from qcalo.data.clic import (
    MAX_ENERGY,
    N_PIXELS_DEFAULT,
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
from qcalo.data.download import CLIC8_BASE_URL, CLIC8_REGISTRY, download_clic8, download_file
from qcalo.data.paths import resolve_data_dir
from qcalo.data.synthetic import synthetic_clic, synthetic_clic_splits

__all__ = [
    "MAX_ENERGY",
    "N_PIXELS_DEFAULT",
    "SPLITS",
    "ClicSplits",
    "SyntheticDataWarning",
    "clic_filename",
    "find_clic_dir",
    "load_clic",
    "prepare_clic",
    "profile_to_pixels",
    "read_clic_file",
    "CLIC8_BASE_URL",
    "CLIC8_REGISTRY",
    "download_clic8",
    "download_file",
    "resolve_data_dir",
    "synthetic_clic",
    "synthetic_clic_splits",
]
