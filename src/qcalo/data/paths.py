"""Where qcalo looks for data files: ``--data DIR``, then ``$QCALO_DATA``, then the user cache."""

from __future__ import annotations

import os
from pathlib import Path

__all__ = ["DATA_ENV_VAR", "resolve_data_dir"]

DATA_ENV_VAR = "QCALO_DATA"
"""Environment variable that names the data folder when no ``--data DIR`` is given."""


def resolve_data_dir(data: str | Path | None = None) -> Path:
    """Return the folder that holds (or will hold) qcalo's data sets.

    Nothing is created: callers that write make the folder themselves.

    Args:
        data: folder given explicitly (the CLI's ``--data DIR``); wins when not ``None``.

    Returns:
        ``data`` if given, else ``$QCALO_DATA`` if set and non-empty, else
        ``platformdirs.user_cache_dir("qcalo")``; ``~`` is expanded.

    Example:
        >>> resolve_data_dir("/tmp/showers")
        PosixPath('/tmp/showers')
    """
    if data is not None:
        return Path(data).expanduser()
    from_env = os.environ.get(DATA_ENV_VAR, "").strip()
    if from_env:
        return Path(from_env).expanduser()
    import platformdirs  # only needed on this branch

    return Path(platformdirs.user_cache_dir("qcalo"))
