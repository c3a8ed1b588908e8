"""Where qcalo looks for data files: ``--data DIR``, then ``$QCALO_DATA``, then the user cache.

The first two are *explicit* (the user named a folder): a loader must read them or fail, never
substitute a stand-in. Only the user-cache default may fall back (see :func:`locate_data_dir`).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

__all__ = ["DATA_ENV_VAR", "DataDir", "locate_data_dir", "resolve_data_dir"]

DATA_ENV_VAR = "QCALO_DATA"
"""Environment variable that names the data folder when no ``--data DIR`` is given."""


@dataclass(frozen=True)
class DataDir:
    """A resolved data folder and where its name came from.

    Attributes:
        path: absolute folder (``~`` expanded); it may not exist.
        origin: ``"--data"``, ``"$QCALO_DATA"`` or ``"user cache"``.
    """

    path: Path
    origin: str

    @property
    def explicit(self) -> bool:
        """True when the user named the folder (``--data`` or ``$QCALO_DATA``)."""
        return self.origin != "user cache"


def locate_data_dir(data: str | Path | None = None) -> DataDir:
    """Resolve the data folder and remember whether the user chose it.

    Nothing is created: callers that write make the folder themselves.

    Args:
        data: folder given explicitly (the CLI's ``--data DIR``); wins when not ``None``.

    Returns:
        ``data`` if given, else ``$QCALO_DATA`` if set and non-empty, else
        ``platformdirs.user_cache_dir("qcalo")``; ``~`` expanded, made absolute.
    """
    if data is not None:
        return DataDir(Path(data).expanduser().absolute(), "--data")
    from_env = os.environ.get(DATA_ENV_VAR, "").strip()
    if from_env:
        return DataDir(Path(from_env).expanduser().absolute(), f"${DATA_ENV_VAR}")
    import platformdirs  # only needed on this branch

    return DataDir(Path(platformdirs.user_cache_dir("qcalo")).absolute(), "user cache")


def resolve_data_dir(data: str | Path | None = None) -> Path:
    """Return the folder that holds (or will hold) qcalo's data sets (see :func:`locate_data_dir`).

    Example:
        >>> resolve_data_dir("/tmp/showers")
        PosixPath('/tmp/showers')
    """
    return locate_data_dir(data).path
