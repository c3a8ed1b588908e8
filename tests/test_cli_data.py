"""Tests of the ``qcalo data`` commands through typer's CliRunner."""

from __future__ import annotations

import dataclasses
import hashlib
import subprocess
import sys
import threading
from collections.abc import Iterator
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import h5py
import numpy as np
import pytest
from typer.testing import CliRunner

from qcalo.cli_data import data_app
from qcalo.data import download as download_module
from qcalo.data.clic import read_clic_file, read_clic_split
from qcalo.data.clic_catalogue import CLIC

runner = CliRunner()


def make_raw_dir(folder: Path, n_events: int = 30) -> Path:
    """Two tiny raw files, every event inside the energy window."""
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(1)
    for index in range(2):
        with h5py.File(folder / f"EleEscan_{index}.h5", "w") as handle:
            handle.create_dataset("ECAL", data=rng.gamma(2.0, 0.5, size=(n_events, 3, 3, 25)))
            handle.create_dataset("energy", data=rng.uniform(230.0, 270.0, n_events))
    return folder


@pytest.fixture
def served(tmp_path: Path) -> Iterator[tuple[str, Path]]:
    """A folder on 127.0.0.1 over HTTP: yields (base URL, folder)."""
    root = tmp_path / "served"
    root.mkdir()

    class QuietHandler(SimpleHTTPRequestHandler):
        def log_message(self, format: str, *args: object) -> None:
            pass

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), partial(QuietHandler, directory=str(root)))
    thread = threading.Thread(
        target=httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
    )
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}/", root
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join(timeout=5)


def test_prepare_clic_command(tmp_path: Path) -> None:
    """prepare-clic writes the three files to --out and prints their paths."""
    out = tmp_path / "out"
    result = runner.invoke(
        data_app,
        [
            "prepare-clic",
            str(make_raw_dir(tmp_path / "raw")),
            "--pixels",
            "8",
            "--out",
            str(out),
            "--seed",
            "3",
            "--no-progress",
        ],
    )
    assert result.exit_code == 0, result.output
    printed = [Path(line) for line in result.stdout.splitlines()]
    assert printed == [out / name for name in CLIC.filenames(8)]
    assert sum(len(read_clic_file(path)) for path in printed) == 60
    assert all(read_clic_split(path)[1] is not None for path in printed)  # energies written


def test_prepare_clic_default_out(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Without --out, files go to $QCALO_DATA/clic{N}."""
    monkeypatch.setenv("QCALO_DATA", str(tmp_path / "data"))
    result = runner.invoke(
        data_app,
        ["prepare-clic", str(make_raw_dir(tmp_path / "raw")), "--pixels", "6", "--no-progress"],
    )
    assert result.exit_code == 0, result.output
    assert (tmp_path / "data" / "clic6" / "clic_6px_val.h5").is_file()


def test_prepare_clic_error_exits_2(tmp_path: Path) -> None:
    """A qcalo error prints one line to stderr and exits with code 2."""
    result = runner.invoke(
        data_app, ["prepare-clic", str(tmp_path), "--out", str(tmp_path / "out")]
    )
    assert result.exit_code == 2
    assert result.stdout == ""
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and "no *.h5 files" in lines[0]


def test_download_command(
    served: tuple[str, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """download clic8 fetches every registry file into DATA/clic8 and prints that folder."""
    url, root = served
    registry = {}
    for name in ("clic_8px_train.h5", "clic_8px_val.h5"):
        (root / name).write_bytes(name.encode())
        registry[name] = hashlib.sha256(name.encode()).hexdigest()
    catalogue = dataclasses.replace(CLIC, published_sha256={8: registry})
    monkeypatch.setattr(download_module, "CLIC", catalogue)
    result = runner.invoke(
        data_app,
        ["download", "clic8", "--data", str(tmp_path / "data"), "--base-url", url, "--no-progress"],
    )
    assert result.exit_code == 0, result.output
    folder = tmp_path / "data" / "clic8"
    assert result.stdout.strip() == str(folder)
    assert sorted(p.name for p in folder.iterdir()) == sorted(registry)


def test_download_unreachable_exits_2(tmp_path: Path) -> None:
    """A failed download exits 2 with the one-line reason."""
    result = runner.invoke(
        data_app,
        [
            "download",
            "clic8",
            "--data",
            str(tmp_path),
            "--base-url",
            "http://127.0.0.1:9/",
            "--no-progress",
        ],
    )
    assert result.exit_code == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(
        "error: cannot download http://127.0.0.1:9/clic_8px_"
    )


def test_download_rejects_unknown_name() -> None:
    """Only known data set names are accepted."""
    result = runner.invoke(data_app, ["download", "calochallenge"])
    assert result.exit_code == 2 and "clic8" in result.output


def test_cli_import_is_light() -> None:
    """Importing the command module pulls in neither h5py nor scipy nor pooch."""
    code = (
        "import sys, qcalo.cli_data; print(sorted({'h5py', 'scipy', 'pooch'} & set(sys.modules)))"
    )
    completed = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert completed.stdout.strip() == "[]"
