"""Opt-in, hash-checked downloads of published data sets (pooch's downloaders + qcalo.atomic).

Nothing here runs on import or behind the user's back: :func:`~qcalo.data.clic.load_clic`
never downloads. URLs and hashes come from the catalogue (:data:`qcalo.data.clic_catalogue.CLIC`).

Each file is streamed by pooch's downloader into a temp file of
:func:`qcalo.atomic.atomic_path` and lands under its final name only after its sha256 matched,
with the permissions of a plain ``open()`` (``0666`` less the umask). ``pooch.retrieve`` is not
used because its own temp file leaves the download at ``0600``.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path
from urllib.parse import urlsplit

from qcalo.atomic import atomic_path
from qcalo.data._messages import one_line
from qcalo.data.clic_catalogue import CLIC
from qcalo.data.paths import resolve_data_dir
from qcalo.exceptions import ConfigError, DatasetError

__all__ = ["DATASETS", "download_clic8", "download_failure", "download_file", "file_sha256"]

DATASETS = tuple(CLIC.dataset_name(n) for n in CLIC.published_sha256)
"""Names accepted by ``qcalo data download`` (``("clic8",)``)."""

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
        url: address of the file (``http(s)://``, ``ftp://``, ``sftp://`` or ``doi:``).
        sha256: expected hex sha256 of the file.
        dest_dir: folder to store it in; created if needed.
        fname: file name in ``dest_dir``; defaults to the last part of ``url``.
        progress: show a tqdm progress bar on stderr.

    Returns:
        Path of the verified file.

    Raises:
        ConfigError: if ``sha256`` is not 64 hex digits, no file name can be derived, or the
            URL's protocol is not supported.
        DatasetError: if the download fails or its hash differs; no file is left under
            the final name then (a stale copy with the wrong hash is removed too).
    """
    from pooch.downloaders import choose_downloader  # picks HTTP, FTP, SFTP or DOI by the URL

    expected = sha256.strip().lower()
    if not _SHA256_PATTERN.match(expected):
        raise ConfigError(f"sha256 must be 64 hex digits, got {sha256!r}")
    name = fname or Path(urlsplit(url).path).name
    if not name:
        raise ConfigError(f"cannot derive a file name from {url!r}; pass fname=")
    target = Path(dest_dir) / name
    if target.is_file() and file_sha256(target) == expected:
        return target
    try:
        downloader = choose_downloader(url, progressbar=progress)
    except ValueError as error:  # unknown protocol
        raise ConfigError(
            f"cannot download {url!r} ({one_line(error)}); use an http(s) URL"
        ) from error
    try:
        with atomic_path(target) as tmp:
            downloader(url, str(tmp), None)
            if (got := file_sha256(tmp)) != expected:
                raise DatasetError(
                    f"{target}: sha256 {got[:12]}… != expected {expected[:12]}… (from {url}); "
                    "delete it and re-download, or check --base-url"
                )
    except DatasetError:
        _remove_unverified(target, expected)
        raise
    except OSError as error:  # requests' errors subclass OSError, as do disk errors
        _remove_unverified(target, expected)
        raise DatasetError(f"cannot download {url} ({download_failure(error)}); {_FIX_URL}") from error
    return target


def download_clic8(
    dest: Path | None = None,
    *,
    base_url: str | None = None,
    progress: bool = True,
    registry: Mapping[str, str] | None = None,
) -> Path:
    """Download the published 8-pixel CLIC split files, checking their sha256.

    Args:
        dest: folder for the files; ``None`` means ``resolve_data_dir() / "clic8"``.
        base_url: folder URL the file names are appended to; ``None``: the catalogue's.
        progress: show a progress bar per file.
        registry: ``{file name: sha256}``; ``None``: the catalogue's published registry.

    Returns:
        The folder holding the verified files (pass it, or its parent, as ``--data``).

    Raises:
        DatasetError: if a download fails or a hash differs.
    """
    n_pixels = 8
    folder = Path(dest) if dest is not None else resolve_data_dir() / CLIC.dataset_name(n_pixels)
    base_url = base_url or CLIC.published_base_url
    prefix = base_url if base_url.endswith("/") else base_url + "/"
    for name, sha256 in (registry or CLIC.published_registry(n_pixels)).items():
        download_file(prefix + name, sha256, folder, fname=name, progress=progress)
    return folder


def _remove_unverified(target: Path, expected: str) -> None:
    """Delete ``target`` if it exists with the wrong hash (a stale copy we tried to replace)."""
    if target.is_file() and file_sha256(target) != expected:
        target.unlink()


def download_failure(error: OSError) -> str:
    """Short cause of a failed download: HTTP status, connection failure, or the message."""
    import requests  # pooch's HTTP client

    response = getattr(error, "response", None)
    if isinstance(error, requests.HTTPError) and response is not None:
        return f"HTTP {response.status_code} {response.reason}"
    if isinstance(error, requests.Timeout):
        return "timed out"
    if isinstance(error, requests.ConnectionError):
        return "could not connect"
    return one_line(error, limit=160)
