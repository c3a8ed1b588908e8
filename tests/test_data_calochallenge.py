"""CaloChallenge dataset 1: geometry, features, HDF5 read/write, subsets, offline downloads."""

from __future__ import annotations

import hashlib
import socket
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import h5py
import numpy as np
import pytest

from qcalo.data.calochallenge import (
    CALOCHALLENGE_CATALOGUE,
    Ds1Data,
    UnverifiedDownloadWarning,
    download_calochallenge,
    kinetic_energy,
    read_ds1,
    write_ds1,
)
from qcalo.data.calochallenge_geometry import PHOTON_GEOMETRY, PION_GEOMETRY, shower_features
from qcalo.data.calochallenge_subsets import make_subset
from qcalo.exceptions import ConfigError, DatasetError

# ----------------------------------------------------------------------------- geometry


def test_geometry_sizes_and_offsets() -> None:
    assert PION_GEOMETRY.n_voxels == 533 and PHOTON_GEOMETRY.n_voxels == 368
    assert PION_GEOMETRY.offsets.tolist() == [0, 8, 108, 208, 213, 363, 523, 533]
    assert PHOTON_GEOMETRY.offsets.tolist() == [0, 8, 168, 358, 363, 368]
    assert PION_GEOMETRY.alpha_binned_layers == (1, 2, 12, 13)
    assert PION_GEOMETRY.layer_slice(13) == slice(363, 523)


def test_flat_order_alpha_outer_r_inner() -> None:
    """Index 8 + a·10 + r in layer 1 (10 r bins × 10 α bins)."""
    index = 8 + 3 * 10 + 7
    assert PION_GEOMETRY.voxel_layer[index] == 1
    assert PION_GEOMETRY.voxel_r_bin[index] == 7 and PION_GEOMETRY.voxel_alpha_bin[index] == 3
    assert PION_GEOMETRY.r_centre[index] == pytest.approx((50 + 90) / 2)
    alpha = -np.pi + (3 + 0.5) * 2 * np.pi / 10
    assert PION_GEOMETRY.alpha_centre[index] == pytest.approx(alpha)
    assert PION_GEOMETRY.eta[index] == pytest.approx(70 * np.cos(alpha))
    assert PION_GEOMETRY.phi[index] == pytest.approx(70 * np.sin(alpha))
    # Layers with one α bin: α centre 0, so η = r and φ = 0.
    assert PION_GEOMETRY.eta[523:533].tolist() == [25, 75, 125, 175, 225, 275, 350, 500, 800, 1500]
    assert not PION_GEOMETRY.phi[523:533].any()


def test_features_by_hand() -> None:
    """Two voxels in layer 1 at α bins 0 and 5 (opposite), plus one below threshold."""
    shower = np.zeros((1, 533))
    a0, a5 = 8 + 0 * 10 + 4, 8 + 5 * 10 + 4  # r bin 4: centre 12.5 mm
    shower[0, [a0, a5]] = [30.0, 10.0]
    shower[0, 9] = 0.5  # dropped by the 1 MeV readout threshold
    features = shower_features(shower)
    eta = 12.5 * np.cos(np.array([-np.pi + np.pi / 10, np.pi / 10]))
    centre = (30 * eta[0] + 10 * eta[1]) / 40
    assert features.e_tot[0] == 40.0 and features.e_layer[1][0] == 40.0
    assert features.ec_eta[1][0] == pytest.approx(centre)
    width = np.sqrt((30 * eta[0] ** 2 + 10 * eta[1] ** 2) / 40 - centre**2)
    assert features.width_eta[1][0] == pytest.approx(width)
    assert features.ec_r[1][0] == pytest.approx(12.5) and features.width_r[1][0] < 1e-6
    assert features.sparsity[1][0] == pytest.approx(1 - 2 / 100)
    assert features.e_layer[12][0] == 0 and features.ec_eta[12][0] == 0  # empty layer: 0, no NaN
    assert shower_features(shower, threshold=0).e_tot[0] == 40.5
    assert set(features.ec_eta) == {1, 2, 12, 13} and set(features.ec_r) == set(PION_GEOMETRY.layers)


# -------------------------------------------------------------------------- read / write


def fake_ds1(n: int = 30, particle: str = "pions", seed: int = 0) -> Ds1Data:
    rng = np.random.default_rng(seed)
    n_vox = 533 if particle == "pions" else 368
    energies = rng.choice([4096.0, 65536.0, 1048576.0], n)
    return Ds1Data(energies, rng.exponential(1.0, (n, n_vox)), particle)


def test_write_read_roundtrip(tmp_path: Path) -> None:
    data = fake_ds1()
    path = write_ds1(tmp_path / "sub" / "f.hdf5", data.incident_energies, data.showers)
    with h5py.File(path, "r") as handle:
        assert handle["incident_energies"].shape == (30, 1)
        assert handle["showers"].shape == (30, 533)
    back = read_ds1(path)
    np.testing.assert_array_equal(back.incident_energies, data.incident_energies)
    np.testing.assert_array_equal(back.showers, data.showers)
    assert read_ds1(path, dtype=np.float32).showers.dtype == np.float32
    photons = fake_ds1(particle="photons")
    write_ds1(tmp_path / "g.hdf5", photons.incident_energies[:, None], photons.showers,
              particle="photon", compression=None)
    assert read_ds1(tmp_path / "g.hdf5", "photons").showers.shape == (30, 368)
    assert [p.name for p in (tmp_path / "sub").iterdir()] == ["f.hdf5"]  # no temp left


def write_raw(path: Path, **datasets: np.ndarray) -> Path:
    with h5py.File(path, "w") as handle:
        for key, value in datasets.items():
            handle[key] = value
    return path


@pytest.mark.parametrize(
    ("datasets", "message"),
    [
        ({"showers": np.ones((3, 533))}, "no dataset 'incident_energies'"),
        ({"incident_energies": np.ones((3, 1))}, "no dataset 'showers'"),
        ({"incident_energies": np.ones((3, 1)), "showers": np.ones((3, 368))},
         "368 voxels per event, the pions geometry needs 533"),
        ({"incident_energies": np.ones((4, 1)), "showers": np.ones((3, 533))},
         "4 incident energies but 3 showers"),
        ({"incident_energies": -np.ones((3, 1)), "showers": np.ones((3, 533))},
         "3 incident energies are not finite and > 0"),
        ({"incident_energies": np.array([[1.0], [np.nan], [2.0]]), "showers": np.ones((3, 533))},
         "1 incident energies are not finite"),
        ({"incident_energies": np.ones((3, 1)), "showers": np.full((3, 533), -1.0)},
         "1599 voxel energies are negative or not finite"),
        ({"incident_energies": np.ones((3, 1)), "showers": np.full((3, 533), np.inf)},
         "negative or not finite"),
    ],
)
def test_read_rejects_bad_files(tmp_path: Path, datasets: dict, message: str) -> None:
    path = write_raw(tmp_path / "bad.hdf5", **datasets)
    with pytest.raises(DatasetError, match=message) as caught:
        read_ds1(path)
    text = str(caught.value)
    assert str(path) in text and "\n" not in text and ";" in text  # names the file and a fix


def test_read_missing_or_not_hdf5(tmp_path: Path) -> None:
    with pytest.raises(DatasetError, match="no such file.*download calochallenge-ds1-pions"):
        read_ds1(tmp_path / "absent.hdf5")
    (tmp_path / "text.hdf5").write_text("not hdf5")
    with pytest.raises(DatasetError, match="not a readable HDF5 file"):
        read_ds1(tmp_path / "text.hdf5")


def test_write_refuses_bad_data_and_leaves_nothing(tmp_path: Path) -> None:
    with pytest.raises(DatasetError, match="voxel energies are negative"):
        write_ds1(tmp_path / "x.hdf5", [1.0, 2.0], -np.ones((2, 533)))
    with pytest.raises(DatasetError, match="2 incident energies but 3 showers"):
        write_ds1(tmp_path / "x.hdf5", [1.0, 2.0], np.ones((3, 533)))
    assert list(tmp_path.iterdir()) == []


def test_kinetic_energy() -> None:
    np.testing.assert_allclose(kinetic_energy([256.0, 2048.0]), [151.99, 1913.15], atol=0.01)
    assert kinetic_energy([1000.0], "photons")[0] == 1000.0


# ------------------------------------------------------------------------------- subsets


def tagged_data() -> Ds1Data:
    """20 000 events at three energies; voxel 0 holds the row number so rows can be traced."""
    energies = np.repeat([4096.0, 65536.0, 1048576.0, 256.0], [3000, 10000, 3000, 4000])
    showers = np.zeros((energies.size, 533))
    showers[:, 0] = np.arange(energies.size)
    return Ds1Data(energies, showers)


def test_single_and_three_sizes_disjoint_and_seeded() -> None:
    data = tagged_data()
    single = make_subset(data, "single", seed=1)
    assert single.train_showers.shape == (1000, 533)
    assert single.val_showers.shape == single.test_showers.shape == (1000, 533)
    assert set(single.train_energies) == set(single.test_energies) == {65536.0}
    three = make_subset(data, "three", seed=1)
    for part in ("train", "val", "test"):
        energies, _ = three.part(part).incident_energies, None
        values, counts = np.unique(energies, return_counts=True)
        assert values.tolist() == [4096.0, 65536.0, 1048576.0] and counts.tolist() == [500] * 3
    rows = [getattr(three, f"{p}_showers")[:, 0] for p in ("train", "val", "test")]
    assert len(set(np.concatenate(rows))) == 4500  # disjoint
    np.testing.assert_array_equal(data.incident_energies[rows[0].astype(int)], three.train_energies)
    again = make_subset(data, "three", seed=1)
    np.testing.assert_array_equal(again.train_showers, three.train_showers)
    other = make_subset(data, "three", seed=2)
    assert not np.array_equal(other.train_showers[:, 0], three.train_showers[:, 0])


def test_custom_energies_and_counts() -> None:
    subset = make_subset(tagged_data(), None, energies=[256.0, 4096.0], counts=[100, 200],
                         val_counts=0, test_counts=50, seed=0)
    assert subset.name == "custom" and subset.counts == (100, 200)
    assert subset.train_showers.shape[0] == 300 and subset.val_showers.shape[0] == 0
    assert subset.test_showers.shape[0] == 100


def test_subset_errors_one_line() -> None:
    data = tagged_data()
    with pytest.raises(DatasetError, match=r"no events at 12345 MeV \(energies present: 256,") as c:
        make_subset(data, None, energies=[12345.0], counts=10, source="f.hdf5")
    assert str(c.value).startswith("f.hdf5:") and "\n" not in str(c.value)
    with pytest.raises(DatasetError, match="3000 events at 4096 MeV but 2000"):
        make_subset(data, None, energies=[4096.0], counts=2000)
    with pytest.raises(ConfigError, match="unknown subset 'five'"):
        make_subset(data, "five")
    with pytest.raises(ConfigError, match="2 energies but 3 counts"):
        make_subset(data, None, energies=[256.0, 4096.0], counts=[1, 2, 3])
    with pytest.raises(ConfigError, match="part='dev'"):
        make_subset(data, "single").part("dev")


# ------------------------------------------------------------------ downloads (offline)


@dataclass
class RangeServer:
    root: Path
    url: str
    requests: list[tuple[str, str | None]] = field(default_factory=list)


@pytest.fixture
def server(tmp_path: Path) -> Iterator[RangeServer]:
    """A folder on 127.0.0.1 that answers ``Range: bytes=N-`` with 206, logging each GET."""
    root = tmp_path / "served"
    root.mkdir()
    log: list[tuple[str, str | None]] = []

    class Handler(SimpleHTTPRequestHandler):
        def do_GET(self) -> None:
            wanted = self.headers.get("Range")
            log.append((self.path, wanted))
            target = root / self.path.lstrip("/")
            if wanted is None or not target.is_file():
                super().do_GET()
                return
            payload = target.read_bytes()
            start = int(wanted.removeprefix("bytes=").rstrip("-"))
            if start >= len(payload):
                self.send_response(416)
                self.end_headers()
                return
            self.send_response(206)
            self.send_header("Content-Range", f"bytes {start}-{len(payload) - 1}/{len(payload)}")
            self.send_header("Content-Length", str(len(payload) - start))
            self.end_headers()
            self.wfile.write(payload[start:])

        def log_message(self, format: str, *args: object) -> None:
            pass

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), partial(Handler, directory=str(root)))
    thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.05},
                              daemon=True)
    thread.start()
    try:
        yield RangeServer(root, f"http://127.0.0.1:{httpd.server_address[1]}/", log)
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join(timeout=5)


def serve(server: RangeServer, name: str = "dataset_1_pions_1.hdf5") -> bytes:
    payload = bytes(range(256)) * 400  # 100 kB
    (server.root / name).write_bytes(payload)
    return payload


def test_download_verified_and_cached(server: RangeServer, tmp_path: Path) -> None:
    payload = serve(server)
    registry = {"dataset_1_pions_1.hdf5": "sha256:" + hashlib.sha256(payload).hexdigest()}
    dest = tmp_path / "dest"
    folder = download_calochallenge("calochallenge-ds1-pions", dest, server.url,
                                    progress=False, registry=registry)
    assert folder == dest and (dest / "dataset_1_pions_1.hdf5").read_bytes() == payload
    md5 = {"dataset_1_pions_1.hdf5": "md5:" + hashlib.md5(payload).hexdigest()}
    download_calochallenge("ds1-pions", dest, server.url.rstrip("/"), progress=False, registry=md5)
    assert len(server.requests) == 1  # the verified copy is not fetched again
    assert sorted(p.name for p in dest.iterdir()) == ["dataset_1_pions_1.hdf5"]


def test_download_resumes_partial_file(server: RangeServer, tmp_path: Path) -> None:
    payload = serve(server)
    dest = tmp_path / "dest"
    dest.mkdir()
    (dest / ".dataset_1_pions_1.hdf5.part").write_bytes(payload[:40000])  # interrupted earlier
    registry = {"dataset_1_pions_1.hdf5": "sha256:" + hashlib.sha256(payload).hexdigest()}
    download_calochallenge("ds1-pions", dest, server.url, progress=True, registry=registry)
    assert server.requests == [("/dataset_1_pions_1.hdf5", "bytes=40000-")]
    assert (dest / "dataset_1_pions_1.hdf5").read_bytes() == payload
    assert sorted(p.name for p in dest.iterdir()) == ["dataset_1_pions_1.hdf5"]


def test_checksum_mismatch_leaves_no_file(server: RangeServer, tmp_path: Path) -> None:
    serve(server)
    dest = tmp_path / "dest"
    dest.mkdir()
    (dest / "dataset_1_pions_1.hdf5").write_bytes(b"stale copy")
    registry = {"dataset_1_pions_1.hdf5": "md5:" + "0" * 32}
    with pytest.raises(DatasetError, match="checksum differs from md5:0000") as caught:
        download_calochallenge("ds1-pions", dest, server.url, progress=False, registry=registry)
    assert "\n" not in str(caught.value) and "re-download" in str(caught.value)
    assert list(dest.iterdir()) == []


def test_unknown_checksum_warns_with_sha256(server: RangeServer, tmp_path: Path) -> None:
    payload = serve(server, "dataset_1_pions_2.hdf5")
    with pytest.warns(UnverifiedDownloadWarning, match=hashlib.sha256(payload).hexdigest()):
        download_calochallenge("ds1-pions", tmp_path / "d", server.url, progress=False,
                               registry={"dataset_1_pions_2.hdf5": None})


def test_download_errors(server: RangeServer, tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="unknown CaloChallenge data set 'ds9'"):
        download_calochallenge("ds9", tmp_path)
    with pytest.raises(DatasetError, match="HTTP 404"):
        download_calochallenge("ds1-pions", tmp_path / "d", server.url, progress=False,
                               registry={"absent.hdf5": "md5:" + "0" * 32})
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        closed = f"http://127.0.0.1:{probe.getsockname()[1]}/"
    with pytest.raises(DatasetError, match="could not connect.*--base-url"):
        download_calochallenge("ds1-pions", tmp_path / "e", closed, progress=False)
    assert sorted(CALOCHALLENGE_CATALOGUE["ds1-pions"]) == [
        "dataset_1_pions_1.hdf5", "dataset_1_pions_2.hdf5"]


def test_cli_download_calochallenge_checks_the_published_checksum(server: RangeServer, tmp_path: Path) -> None:
    """`qcalo data download calochallenge-ds1-pions`: a file that fails its md5 → one line, nothing kept."""
    from typer.testing import CliRunner

    from qcalo.cli import app

    serve(server)
    serve(server, "dataset_1_pions_2.hdf5")
    data = tmp_path / "data"
    args = ["data", "download", "calochallenge-ds1-pions", "--data", str(data), "--base-url", server.url, "--no-progress"]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 2, result.output
    assert result.stderr.count("\n") == 1 and "dataset_1_pions_1.hdf5" in result.stderr
    folder = data / "calochallenge"
    assert not folder.exists() or sorted(p.name for p in folder.iterdir() if not p.name.startswith(".")) == []
