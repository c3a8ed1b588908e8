"""The one atomic writer: every file qcalo writes goes through :func:`atomic_path`.

A temp file is created in the target's own folder (so the final rename is atomic on the same
filesystem), written, given the permissions a plain ``open(path, "w")`` would have (``0666``
less the umask; ``mkstemp`` alone makes ``0600``), and renamed over the target. On any error,
Ctrl-C included, the temp file is removed: nothing half-written is ever left behind.

Temp names are ``.<name>.<random>.tmp``; :func:`remove_stale_temps` clears those a killed
process (SIGKILL cannot be caught) left in a folder.
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

__all__ = ["TEMP_SUFFIX", "atomic_path", "remove_stale_temps", "write_json", "write_text"]

TEMP_SUFFIX = ".tmp"


def _umask() -> int:
    # os.umask can only be read by setting it; set it straight back.
    current = os.umask(0o022)
    os.umask(current)
    return current


@contextmanager
def atomic_path(path: Path | str) -> Iterator[Path]:
    """Yield a temp path next to ``path``; on success it replaces ``path``, on error it is removed.

    Example:
        >>> import h5py  # doctest: +SKIP
        >>> with atomic_path(out) as tmp:  # doctest: +SKIP
        ...     with h5py.File(tmp, "w") as handle:
        ...         handle["x"] = data
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=TEMP_SUFFIX)
    os.close(fd)
    tmp = Path(name)
    try:
        yield tmp
        os.chmod(tmp, 0o666 & ~_umask())
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def write_text(path: Path | str, text: str) -> None:
    """Write ``text`` to ``path`` atomically."""
    with atomic_path(path) as tmp:
        tmp.write_text(text)


def write_json(path: Path | str, payload: Any) -> None:
    """Atomic, pretty-printed JSON (sorted keys, trailing newline)."""
    write_text(path, json.dumps(payload, indent=2, sort_keys=True) + "\n")


def remove_stale_temps(folder: Path | str) -> list[Path]:
    """Delete temp files of :func:`atomic_path` left in ``folder`` by a killed process.

    Only call this while holding the folder's lock (no live writer can own them then).
    """
    removed = []
    for tmp in Path(folder).glob(f".*{TEMP_SUFFIX}"):
        tmp.unlink(missing_ok=True)
        removed.append(tmp)
    return removed
