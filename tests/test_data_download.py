"""Tests of qcalo.data.download against a local HTTP server (no internet)."""

from __future__ import annotations

import hashlib
import os
import shutil
import socket
import stat
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from qcalo.data.clic_catalogue import CLIC
from qcalo.data.download import DATASETS, download_clic8, download_file
from qcalo.exceptions import ConfigError, DatasetError

CLIC8_REGISTRY = CLIC.published_registry(8)


def shared_clic8_dir() -> Path:
    """Folder of the real clic8 files: ``shared/`` sits beside the checkout (or above it)."""
    here = Path(__file__).resolve()
    found = [p / "shared" / "data" / "clic8" for p in here.parents if (p / "shared").is_dir()]
    return found[0] if found else here.parents[2] / "shared" / "data" / "clic8"


@dataclass
class FileServer:
    """A folder served on 127.0.0.1, counting the GET requests it answers."""

    root: Path
    url: str
    requests: list[str] = field(default_factory=list)


@pytest.fixture
def server(tmp_path: Path) -> Iterator[FileServer]:
    root = tmp_path / "served"
    root.mkdir()
    requests: list[str] = []

    class CountingHandler(SimpleHTTPRequestHandler):
        def do_GET(self) -> None:
            requests.append(self.path)
            super().do_GET()

        def log_message(self, format: str, *args: object) -> None:  # keep test output clean
            pass

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), partial(CountingHandler, directory=str(root)))
    thread = threading.Thread(
        target=httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
    )
    thread.start()
    try:
        yield FileServer(root, f"http://127.0.0.1:{httpd.server_address[1]}/", requests)
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join(timeout=5)


def serve_fake_files(server: FileServer, count: int = 2) -> dict[str, str]:
    """Put small files on the server; return their registry {name: sha256}."""
    registry = {}
    for index in range(count):
        payload = f"fake shower file {index}\n".encode() * (index + 1)
        (server.root / f"f{index}.h5").write_bytes(payload)
        registry[f"f{index}.h5"] = hashlib.sha256(payload).hexdigest()
    return registry


def closed_port_url() -> str:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    return f"http://127.0.0.1:{port}/"


@pytest.mark.skipif(
    not all((shared_clic8_dir() / name).is_file() for name in CLIC8_REGISTRY),
    reason=f"real clic8 files not found in {shared_clic8_dir()}",
)
def test_download_clic8_real_registry(server: FileServer, tmp_path: Path) -> None:
    """The published files verify against the built-in registry; a re-run fetches nothing."""
    for name in CLIC8_REGISTRY:
        (server.root / name).symlink_to(shared_clic8_dir() / name)
    dest = tmp_path / "data" / "clic8"
    assert download_clic8(dest, base_url=server.url, progress=False) == dest
    for name, sha256 in CLIC8_REGISTRY.items():
        assert hashlib.sha256((dest / name).read_bytes()).hexdigest() == sha256
    assert len(server.requests) == 3
    download_clic8(dest, base_url=server.url.rstrip("/"), progress=False)
    assert len(server.requests) == 3


def test_download_with_injected_registry(server: FileServer, tmp_path: Path) -> None:
    """Files land under their names with their bytes; cached files are not fetched again."""
    registry = serve_fake_files(server)
    dest = tmp_path / "dest"
    download_clic8(dest, base_url=server.url, progress=False, registry=registry)
    assert sorted(p.name for p in dest.iterdir()) == sorted(registry)
    assert (dest / "f1.h5").read_bytes() == (server.root / "f1.h5").read_bytes()
    assert len(server.requests) == 2
    download_clic8(dest, base_url=server.url, progress=True, registry=registry)
    assert len(server.requests) == 2


def test_download_replaces_stale_copy(server: FileServer, tmp_path: Path) -> None:
    """A local file with the wrong hash is downloaded again."""
    registry = serve_fake_files(server, count=1)
    dest = tmp_path / "dest"
    dest.mkdir()
    (dest / "f0.h5").write_bytes(b"stale")
    path = download_file(server.url + "f0.h5", registry["f0.h5"], dest, progress=False)
    assert path == dest / "f0.h5" and path.read_bytes() == (server.root / "f0.h5").read_bytes()


def test_corrupt_download_leaves_no_file(server: FileServer, tmp_path: Path) -> None:
    """A hash mismatch is a one-line DatasetError with both hashes; nothing stays in dest."""
    registry = serve_fake_files(server, count=1)
    (server.root / "f0.h5").write_bytes(b"corrupted in transit")
    got = hashlib.sha256(b"corrupted in transit").hexdigest()
    dest = tmp_path / "dest"
    with pytest.raises(DatasetError) as caught:
        download_clic8(dest, base_url=server.url, progress=False, registry=registry)
    message = str(caught.value)
    assert f"sha256 {got[:12]}… != expected {registry['f0.h5'][:12]}…" in message
    assert "re-download" in message and "\n" not in message
    assert list(dest.iterdir()) == []


def test_corrupt_download_removes_stale_copy(server: FileServer, tmp_path: Path) -> None:
    """If the re-download of a stale copy is corrupt too, the stale copy goes as well."""
    registry = serve_fake_files(server, count=1)
    (server.root / "f0.h5").write_bytes(b"still wrong")
    dest = tmp_path / "dest"
    dest.mkdir()
    (dest / "f0.h5").write_bytes(b"stale")
    with pytest.raises(DatasetError, match="!= expected"):
        download_file(server.url + "f0.h5", registry["f0.h5"], dest, progress=False)
    assert list(dest.iterdir()) == []


def test_unreachable_server(tmp_path: Path) -> None:
    """A closed port gives a DatasetError naming the URL and the way out."""
    url = closed_port_url()
    dest = tmp_path / "dest"
    with pytest.raises(DatasetError) as caught:
        download_clic8(dest, base_url=url, progress=False)
    message = str(caught.value)
    assert f"cannot download {url}clic_8px_" in message and "could not connect" in message
    assert "--base-url" in message and "--data" in message and "\n" not in message
    assert not dest.exists() or list(dest.iterdir()) == []


def test_missing_file_on_server(server: FileServer, tmp_path: Path) -> None:
    """An HTTP 404 is a DatasetError too."""
    with pytest.raises(DatasetError, match="HTTP 404"):
        download_file(server.url + "absent.h5", "0" * 64, tmp_path, progress=False)
    assert list(tmp_path.iterdir()) == [server.root]


def test_download_file_arguments(tmp_path: Path) -> None:
    """A malformed hash or a URL without a file name is a ConfigError."""
    with pytest.raises(ConfigError, match="64 hex digits"):
        download_file("http://127.0.0.1/x.h5", "abc", tmp_path)
    with pytest.raises(ConfigError, match="file name"):
        download_file("http://127.0.0.1/", "0" * 64, tmp_path)


def test_default_destination(
    monkeypatch: pytest.MonkeyPatch, server: FileServer, tmp_path: Path
) -> None:
    """Without dest, files go to resolve_data_dir() / "clic8"."""
    registry = serve_fake_files(server, count=1)
    monkeypatch.setenv("QCALO_DATA", str(tmp_path / "env"))
    folder = download_clic8(base_url=server.url, progress=False, registry=registry)
    assert folder == tmp_path / "env" / "clic8" and (folder / "f0.h5").is_file()
    shutil.rmtree(folder)


@pytest.mark.parametrize("umask", [0o022, 0o007])
def test_downloaded_files_get_umask_permissions(
    umask: int, server: FileServer, tmp_path: Path
) -> None:
    """A downloaded file has the mode of a plain open(): 0666 & ~umask, not a temp file's 0600."""
    registry = serve_fake_files(server, count=1)
    previous = os.umask(umask)
    try:
        path = download_file(server.url + "f0.h5", registry["f0.h5"], tmp_path, progress=False)
    finally:
        os.umask(previous)
    assert stat.S_IMODE(path.stat().st_mode) == 0o666 & ~umask


def test_download_leaves_no_temp_files(server: FileServer, tmp_path: Path) -> None:
    """Only the verified files remain in dest, after a success and after a failure."""
    registry = serve_fake_files(server, count=2)
    dest = tmp_path / "dest"
    download_clic8(dest, base_url=server.url, progress=False, registry=registry)
    with pytest.raises(DatasetError):
        download_file(server.url + "absent.h5", "0" * 64, dest, progress=False)
    assert sorted(p.name for p in dest.iterdir()) == sorted(registry)


def test_catalogue_drives_the_download_names() -> None:
    """The download command's names and default files come from the catalogue."""
    assert DATASETS == ("clic8",)
    assert list(CLIC8_REGISTRY) == list(CLIC.filenames(8))


def test_unsupported_protocol(tmp_path: Path) -> None:
    """A URL pooch cannot fetch is a ConfigError, not a hash mismatch."""
    with pytest.raises(ConfigError, match="cannot download 'gopher://h/x.h5'"):
        download_file("gopher://h/x.h5", "0" * 64, tmp_path, progress=False)
