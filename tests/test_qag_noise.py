"""The QAG under device noise: its ⟨Z⟩ against Aer, and the noise flags of train/evaluate/generate."""

from __future__ import annotations

import json
from pathlib import Path

import h5py
import numpy as np
import pytest
import torch
import yaml
from typer.testing import CliRunner

from qcalo.cli import app
from qcalo.models.qag import QAG, NoiseSetting
from tests.conftest import real_clic8_folder

pytestmark = pytest.mark.usefixtures("torch_single_thread")
runner = CliRunner()

REAL_DATA = real_clic8_folder()
TINY = {"ansatz": "hea", "n_layers": 1, "optimizer": "adam", "monitor_images": 10, "checkpoint_every": 2}


# -- the model --------------------------------------------------------------------------
@pytest.mark.parametrize("x", [0.0, 1.0, 2.0])
def test_noisy_qag_expval_equals_aer_density_matrix(x: float) -> None:
    """Exact noisy ⟨Z⟩ of the QAG = Aer's density matrix with the same scaled model (1e-6)."""
    pytest.importorskip("qiskit_aer")
    from qcalo.quantum.noise_aer import AerNoisyRunner

    qag = QAG(4, "clic8", n_layers=1, shots=None, dtype=torch.complex128, noise=NoiseSetting("fake_fez", x))
    weights = torch.as_tensor(qag.init_weights(3, spread=0.5))
    z = qag.sample_z(weights, 5, generator=torch.Generator().manual_seed(1)).numpy()
    angles = qag.random_angles(5, torch.Generator().manual_seed(1)).numpy()
    aer = AerNoisyRunner(qag.noisy.native, x).probabilities(weights.numpy(), angles)
    np.testing.assert_allclose(z, aer @ qag.noisy.z_signs.numpy(), atol=1e-6)
    if x == 0:  # noiseless scale = the statevector QAG
        clean = QAG(4, "clic8", n_layers=1, shots=None, dtype=torch.complex128)
        np.testing.assert_allclose(
            z, clean.sample_z(weights, 5, generator=torch.Generator().manual_seed(1)).numpy(), atol=1e-10
        )


def test_noisy_shots_are_within_three_sigma_and_carry_the_exact_gradient() -> None:
    qag = QAG(4, "hea", n_layers=1, shots=4096, dtype=torch.complex128, noise=NoiseSetting("fake_fez", 2.0))
    exact_qag = QAG(4, "hea", n_layers=1, shots=None, dtype=torch.complex128, noise=NoiseSetting("fake_fez", 2.0))
    weights = torch.tensor(qag.init_weights(0, spread=0.7), requires_grad=True)
    shots = qag.sample_z(weights, 64, generator=torch.Generator().manual_seed(5))
    exact = exact_qag.sample_z(weights, 64, generator=torch.Generator().manual_seed(5))
    sigma = torch.sqrt((1 - exact.detach() ** 2) / 4096)
    assert bool(((shots.detach() - exact.detach()).abs() <= 3 * sigma + 1e-12).float().mean() > 0.97)
    assert not torch.equal(shots.detach(), exact.detach())  # they are estimates
    (grad_shots,) = torch.autograd.grad(shots.sum(), weights)
    (grad_exact,) = torch.autograd.grad(exact.sum(), weights)
    torch.testing.assert_close(grad_shots, grad_exact)
    with torch.no_grad():  # seeded: the same generator gives the same estimates
        again = qag.sample_z(weights, 64, generator=torch.Generator().manual_seed(5))
    torch.testing.assert_close(again, shots.detach(), rtol=0, atol=0)


def test_noise_moves_z_towards_zero_and_more_with_x() -> None:
    weights = torch.as_tensor(QAG(4, "hea", n_layers=1).init_weights(1, spread=0.3))
    shifts = []
    for x in (0.0, 1.0, 3.0):
        qag = QAG(4, "hea", n_layers=1, shots=None, dtype=torch.complex128, noise=NoiseSetting(scale=x))
        shifts.append(qag.sample_z(weights, 50, generator=torch.Generator().manual_seed(2)).abs().mean().item())
    assert shifts[0] > shifts[1] > shifts[2]


# -- the command line ---------------------------------------------------------------------
@pytest.fixture(scope="module")
def tiny_yaml(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("config") / "tiny.yaml"
    path.write_text(yaml.safe_dump(TINY))
    return path


def _train(out: Path, config: Path, *extra: str):
    if REAL_DATA is None:
        pytest.skip("real clic8 files not in ../shared/data/clic8")
    args = ["train", "qag", "--out", str(out), "--data", str(REAL_DATA), "--config", str(config),
            "--epochs", "3", "--images", "8", "--shots", "64", "--quiet", *extra]  # fmt: skip
    return runner.invoke(app, args)


def _one_line(result: object, *words: str) -> None:
    assert result.exit_code == 2, (result.stdout, result.stderr, result.exception)
    message = result.stderr.strip()
    assert message.startswith("error: ") and "\n" not in message, message
    for word in words:
        assert word in message, message


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory, tiny_yaml: Path) -> dict[str, Path]:
    base = tmp_path_factory.mktemp("noisy-runs")
    noisy = _train(base / "noisy", tiny_yaml, "--noise", "fez", "--noise-scale", "0.5")
    assert noisy.exit_code == 0, (noisy.stdout, noisy.stderr, noisy.exception)
    clean = _train(base / "clean", tiny_yaml)
    assert clean.exit_code == 0, (clean.stdout, clean.stderr)
    return {"noisy": base / "noisy", "clean": base / "clean"}


def test_train_records_the_noise_and_evaluation_sets_its_own(runs: dict[str, Path]) -> None:
    saved = yaml.safe_load((runs["noisy"] / "config.yaml").read_text())
    assert (saved["noise"], saved["noise_scale"], saved["noise_sampling"]) == ("fake_fez", 0.5, "marginal")
    assert yaml.safe_load((runs["clean"] / "config.yaml").read_text())["noise"] is None
    small = ["--n-eval", "20", "--sets", "2", "--n-large", "100", "--no-figures", "--json"]
    as_trained = runner.invoke(app, ["evaluate", str(runs["noisy"]), *small])
    assert as_trained.exit_code == 0, as_trained.stderr
    summary = json.loads(as_trained.stdout)
    assert summary["noise"] == summary["train_noise"] == {"device": "fake_fez", "scale": 0.5, "sampling": "marginal"}
    clean_eval = json.loads(runner.invoke(app, ["evaluate", str(runs["noisy"]), *small, "--noise", "none"]).stdout)
    assert clean_eval["noise"] is None and clean_eval["train_noise"]["scale"] == 0.5
    noisy_eval = runner.invoke(app, ["evaluate", str(runs["clean"]), *small, "--noise-scale", "2"])
    summary = json.loads(noisy_eval.stdout)
    assert summary["noise"] == {"device": "fake_fez", "scale": 2.0, "sampling": "marginal"}
    assert summary["train_noise"] is None
    assert summary["test_mmd_mean"] != json.loads(runner.invoke(app, ["evaluate", str(runs["clean"]), *small]).stdout)["test_mmd_mean"]


def test_generate_records_the_noise_it_ran_under(runs: dict[str, Path], tmp_path: Path) -> None:
    out = tmp_path / "g.h5"
    result = runner.invoke(app, ["generate", str(runs["clean"]), "--n", "50", "--out", str(out),
                                 "--noise", "fake_fez", "--noise-scale", "1.5"])  # fmt: skip
    assert result.exit_code == 0, result.stderr
    with h5py.File(out) as handle:
        assert json.loads(handle.attrs["noise"]) == {"device": "fake_fez", "scale": 1.5, "sampling": "marginal"}
        assert json.loads(handle.attrs["train_noise"]) is None
        noisy = handle["x"][()]
    plain = tmp_path / "p.h5"
    assert runner.invoke(app, ["generate", str(runs["clean"]), "--n", "50", "--out", str(plain)]).exit_code == 0
    with h5py.File(plain) as handle:
        assert json.loads(handle.attrs["noise"]) is None
        assert not np.array_equal(handle["x"][()], noisy)


@pytest.mark.parametrize(
    ("flags", "words"),
    [
        (["--noise", "fake_nowhere"], ["unknown fake device", "fake_fez"]),
        (["--noise-scale", "-1"], ["noise scale", "≥ 0"]),
        (["--noise-scale", "nan"], ["noise scale", "finite"]),
        (["--noise", "fake_armonk"], ["fewer than the circuit's 8"]),
    ],
)
def test_bad_noise_is_one_line_and_nothing_written(
    tiny_yaml: Path, tmp_path: Path, runs: dict[str, Path], flags: list[str], words: list[str]
) -> None:
    _one_line(_train(tmp_path / "run", tiny_yaml, *flags), *words)
    assert not (tmp_path / "run").exists()
    before = sorted(p.name for p in runs["clean"].iterdir())
    _one_line(runner.invoke(app, ["evaluate", str(runs["clean"]), "--no-figures", *flags]), *words)
    assert sorted(p.name for p in runs["clean"].iterdir()) == before
    out = tmp_path / "g.h5"
    _one_line(runner.invoke(app, ["generate", str(runs["clean"]), "--n", "5", "--out", str(out), *flags]), *words)
    assert not out.exists()


@pytest.mark.parametrize("sampling", ["marginal", "joint"])
def test_shot_values_are_the_engines_own_with_or_without_gradients(sampling: str) -> None:
    qag = QAG(4, "hea", n_layers=1, shots=512, noise=NoiseSetting(scale=1.0, sampling=sampling))
    weights = torch.as_tensor(qag.init_weights(0, spread=0.5), dtype=qag.real_dtype)
    generator = torch.Generator().manual_seed(3)
    angles = qag.random_angles(20, generator)
    reference = qag.noisy.expval_z(weights, angles, shots=512, generator=generator, sampling=sampling)
    with torch.no_grad():
        plain = qag.sample_z(weights, 20, generator=torch.Generator().manual_seed(3))
    tracked = qag.sample_z(weights.clone().requires_grad_(), 20, generator=torch.Generator().manual_seed(3))
    torch.testing.assert_close(plain, reference, rtol=0, atol=0)
    torch.testing.assert_close(tracked.detach(), reference, rtol=0, atol=0)


def test_noise_scale_alone_implies_fake_fez_and_none_clears_a_config_noise(tiny_yaml: Path, tmp_path: Path) -> None:
    assert _train(tmp_path / "s", tiny_yaml, "--noise-scale", "0.25", "--epochs", "1").exit_code == 0
    saved = yaml.safe_load((tmp_path / "s" / "config.yaml").read_text())
    assert (saved["noise"], saved["noise_scale"]) == ("fake_fez", 0.25)
    noisy_yaml = tmp_path / "noisy.yaml"
    noisy_yaml.write_text(yaml.safe_dump({**TINY, "noise": "fake_torino", "noise_scale": 2}))
    assert _train(tmp_path / "c", noisy_yaml, "--noise", "none", "--epochs", "1").exit_code == 0
    assert yaml.safe_load((tmp_path / "c" / "config.yaml").read_text())["noise"] is None
