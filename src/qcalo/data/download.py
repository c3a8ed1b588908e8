"""Opt-in, hash-checked downloads of published data sets (via pooch).

Nothing here runs on import or behind the user's back: :func:`load_clic` never downloads.
Each file lands under its final name only after its sha256 matched (pooch streams into a
temporary file in the same folder and moves it into place).
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import urlsplit

from qcalo.data.clic import _one_line, clic_dirname
from qcalo.data.paths import resolve_data_dir
from qcalo.exceptions import ConfigError, DatasetError

__all__ = [
    "CLIC8_BASE_URL",
    "CLIC8_REGISTRY",
    "DATASETS",
    "download_file",
    "download_clic8",
    "file_sha256",
]

# The desyqml/clic release files sit in that repository's history at commit 4b87850
# (removed later). This URL could not be checked from the offline build machine; override
# it with `base_url=` / `--base-url` if it moves (any folder serving the same bytes works).
CLIC8_BASE_URL = "https://raw.githubusercontent.com/desyqml/clic/4b87850/example/"

CLIC8_REGISTRY: dict[str, str] = {
    "clic_8px_train.h5": "8f710983b3d29aa4be526a9dd4b535499400a7f9e9bd5bf3d6fe3700afe5706b",
    "clic_8px_val.h5": "99e14f2da967612168122d97e64a8a1dbb17fd327ab2e893b30f0ef97f22a3a2",
    "clic_8px_test.h5": "bce5e8d9174494bdceb7a10cefd78581ea67b3811eb80641fc62f0217278fb9d",
}
"""sha256 of the published 8-pixel split files (desyqml/clic v1.0.0)."""

DATASETS = ("clic8",)
"""Names accepted by ``qcalo data download``."""

_SHA256_PATTERN = re.compile(r"^[0-9a-f]{64}$")
_FIX_URL = "check the URL, pass --base-url URL, or copy the files there and pass --data DIR"


def file_sha256(path: Path) -> str:
    """Hex sha256 of the file at ``path``."""
    import pooch

    return pooch.file_hash(str(path), alg="sha256")


def download_file(
    url: str,
    sha256: str,
    dest_dir: Path,
    *,
    fname: str | None = None,
    progress: bool = True,
) -> Path:
    """Download ``url`` into ``dest_dir`` unless a file with the right hash is already there.

    Args:
        url: address of the file (``http(s)://``, ``ftp://`` or ``doi:``).
        sha256: expected hex sha256 of the file.
        dest_dir: folder to store it in; created if needed.
        fname: file name in ``dest_dir``; defaults to the last part of ``url``.
        progress: show a tqdm progress bar on stderr.

    Returns:
        Path of the verified file.

    Raises:
        ConfigError: if ``sha256`` is not 64 hex digits or no file name can be derived.
        DatasetError: if the download fails or its hash differs; no file is left under
            the final name then.
    """
    import pooch

    expected = sha256.strip().lower()
    if not _SHA256_PATTERN.match(expected):
        raise ConfigError(f"sha256 must be 64 hex digits, got {sha256!r}")
    name = fname or Path(urlsplit(url).path).name
    if not name:
        raise ConfigError(f"cannot derive a file name from {url!r}; pass fname=")
    dest_dir = Path(dest_dir)
    target = dest_dir / name
    try:
        with _quiet_pooch_logger():
            fetched = pooch.retrieve(
                url,
                known_hash=f"sha256:{expected}",
                fname=name,
                path=dest_dir,
                progressbar=progress,
            )
    except ValueError as error:  # pooch's hash mismatch
        _remove_unverified(target, expected)
        got = _hash_in_message(str(error), expected)
        raise DatasetError(
            f"{target}: sha256 {got[:12]}… != expected {expected[:12]}… (from {url}); "
            "delete it and re-download, or check --base-url"
        ) from error
    except OSError as error:  # requests' errors subclass OSError, as do disk errors
        _remove_unverified(target, expected)
        raise DatasetError(f"cannot download {url} ({_reason(error)}); {_FIX_URL}") from error
    return Path(fetched)


def download_clic8(
    dest: Path | None = None,
    *,
    base_url: str = CLIC8_BASE_URL,
    progress: bool = True,
    registry: Mapping[str, str] | None = None,
) -> Path:
    """Download the published 8-pixel CLIC split files, checking their sha256.

    Args:
        dest: folder for the files; ``None`` means ``resolve_data_dir() / "clic8"``.
        base_url: folder URL the file names are appended to.
        progress: show a progress bar per file.
        registry: ``{file name: sha256}``; defaults to :data:`CLIC8_REGISTRY`.

    Returns:
        The folder holding the verified files (pass it, or its parent, as ``--data``).

    Raises:
        DatasetError: if a download fails or a hash differs.
    """
    folder = Path(dest) if dest is not None else resolve_data_dir() / clic_dirname(8)
    prefix = base_url if base_url.endswith("/") else base_url + "/"
    for name, sha256 in (registry or CLIC8_REGISTRY).items():
        download_file(prefix + name, sha256, folder, fname=name, progress=progress)
    return folder


@contextmanager
def _quiet_pooch_logger() -> Iterator[None]:
    """Silence pooch's "Downloading data from …" lines: the progress bar and errors say enough."""
    import pooch

    logger = pooch.get_logger()
    level = logger.level
    logger.setLevel(logging.WARNING)
    try:
        yield
    finally:
        logger.setLevel(level)


def _remove_unverified(target: Path, expected: str) -> None:
    """Delete ``target`` if it exists with the wrong hash (a stale copy pooch tried to update)."""
    if target.is_file() and file_sha256(target) != expected:
        target.unlink()


def _reason(error: OSError) -> str:
    """Short cause of a failed download: HTTP status, connection failure, or the message."""
    import requests  # pooch's HTTP client

    response = getattr(error, "response", None)
    if isinstance(error, requests.HTTPError) and response is not None:
        return f"HTTP {response.status_code} {response.reason}"
    if isinstance(error, requests.Timeout):
        return "timed out"
    if isinstance(error, requests.ConnectionError):
        return "could not connect"
    return _one_line(error, limit=160)


def _hash_in_message(message: str, expected: str) -> str:
    # pooch words it "... expected sha256:<want> but got <got>. ..."; fall back gracefully.
    found = [h for h in re.findall(r"[0-9a-fA-F]{64}", message) if h.lower() != expected]
    return found[0].lower() if found else "unknown"
