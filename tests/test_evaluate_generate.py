"""Evaluation baselines, `qcalo generate` and `qcalo table` (numbers that can fail, one-line errors)."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import h5py
import numpy as np
import pytest
from typer.testing import CliRunner

from qcalo.cli import app
from qcalo.configs import QAGConfig
from qcalo.data.clic import ClicSplits
from qcalo.data.synthetic import synthetic_clic_splits
from qcalo.train.evaluate import evaluate_run, score_images
from qcalo.train.qag import train_qag

pytestmark = pytest.mark.usefixtures("torch_single_thread")
runner = CliRunner()


def _gaussian_data(rng: np.random.Generator, n: int = 3000) -> SimpleNamespace:
    """Splits drawn from one correlated Gaussian: the Gaussian baseline is then a perfect model."""
    mean = np.array([0.1, 0.2, 0.15, 0.05])
    root = rng.normal(0, 0.02, (4, 4))
    cov = root @ root.T + 1e-4 * np.eye(4)
    draw = lambda size: rng.multivariate_normal(mean, cov, size)
    return SimpleNamespace(train=draw(n), val=draw(n), test=draw(n), source="synthetic", mean=mean, cov=cov, draw=draw)


def test_perfect_generator_scores_at_the_floor_and_a_shift_does_not() -> None:
    rng = np.random.default_rng(0)
    data = _gaussian_data(rng)
    perfect = score_images(data.draw(20 * 250 + 2000), data, n_eval=250, n_sets=20)
    assert abs(perfect["mmd_ratio_to_floor"] - 1) < 3 * perfect["mmd_ratio_to_floor_se"] + 0.05
    assert abs(perfect["gaussian_ratio_to_floor"] - 1) < 3 * perfect["gaussian_ratio_to_floor_se"] + 0.05
    assert abs(perfect["energy_sum_width_ratio"] - 1) < 3 * perfect["energy_sum_width_ratio_se"] + 0.01
    assert not perfect["sets_resampled"]
    shifted = data.draw(20 * 250 + 2000) + 0.02
    scores = score_images(shifted, data, n_eval=250, n_sets=20)
    assert scores["mmd_ratio_to_floor"] > 5
    assert scores["mmd_ratio_to_floor"] - 5 * scores["mmd_ratio_to_floor_se"] > scores["gaussian_ratio_to_floor"]


def test_width_ratio_sees_a_too_narrow_energy_sum_and_sizes_are_all_reported() -> None:
    rng = np.random.default_rng(1)
    data = _gaussian_data(rng)
    sample = data.draw(4000)
    narrow = data.mean + 0.9 * (sample - data.mean)
    scores = score_images(narrow, data, n_eval=(50, 200), n_sets=5)
    assert scores["energy_sum_width_ratio"] == pytest.approx(0.9, abs=4 * scores["energy_sum_width_ratio_se"] + 0.01)
    assert set(scores["by_n"]) == {"50", "200"} and scores["n_eval"] == 50 and scores["n_evals"] == [50, 200]
    assert scores["by_n"]["200"]["real_mmd_floor_mean"] < scores["by_n"]["50"]["real_mmd_floor_mean"]


def test_small_pool_is_resampled_and_oversized_n_is_refused() -> None:
    rng = np.random.default_rng(2)
    data = _gaussian_data(rng, n=400)
    scores = score_images(data.draw(300), data, n_eval=100, n_sets=4)
    assert scores["sets_resampled"] and scores["n_large"] == 300
    with pytest.raises(ValueError, match="exceeds the test"):
        score_images(data.draw(3000), data, n_eval=500, n_sets=2)


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, ClicSplits]:
    train, val, test = synthetic_clic_splits(seed=0, sizes=(300, 150, 150), n_pixels=4)
    data = ClicSplits(train, val, test, source="synthetic", location="tests")
    config = QAGConfig(n_pixels=4, ansatz="mera-up", images=8, monitor_images=10, shots=64, epochs=6,
                       optimizer="adam", seed=3)  # fmt: skip
    run_dir = train_qag(config, data, tmp_path_factory.mktemp("runs") / "run").run_dir
    return run_dir, data


def test_generate_writes_the_dataset_format_seeded_with_provenance(run: tuple[Path, ClicSplits], tmp_path: Path) -> None:
    run_dir, data = run
    out = tmp_path / "gen.h5"
    result = runner.invoke(app, ["generate", str(run_dir), "--n", "700", "--out", str(out), "--seed", "4"])
    assert result.exit_code == 0, result.output
    with h5py.File(out) as handle:
        showers = handle["x"][()]
        assert handle.attrs["seed"] == 4 and handle.attrs["run_dir"] == str(run_dir.resolve())
        assert handle.attrs["qcalo_version"] and "n_pixels: 4" in handle.attrs["config_yaml"]
    assert showers.shape == (700, 4) and (showers >= 0).all()
    again = tmp_path / "again.h5"
    assert runner.invoke(app, ["generate", str(run_dir), "--n", "700", "--out", str(again), "--seed", "4"]).exit_code == 0
    with h5py.File(again) as handle:
        np.testing.assert_array_equal(handle["x"][()], showers)
    # The file scores like the run's own evaluation (same generator, same metrics).
    summary = evaluate_run(run_dir, data, n_eval=50, n_sets=4, n_large=500, figures=False)
    from_file = score_images(showers, data, n_eval=50, n_sets=4)
    assert abs(from_file["mmd_ratio_to_floor"] - summary["mmd_ratio_to_floor"]) < 3 * np.hypot(
        from_file["mmd_ratio_to_floor_se"], summary["mmd_ratio_to_floor_se"]
    )


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--n", "0"], "n=0"),
        (["--n", "-3"], "n=-3"),
    ],
)
def test_generate_bad_n_gives_one_line_and_no_file(run: tuple[Path, ClicSplits], tmp_path: Path, args: list[str], message: str) -> None:
    out = tmp_path / "g.h5"
    result = runner.invoke(app, ["generate", str(run[0]), *args, "--out", str(out)])
    assert result.exit_code == 2 and message in result.stderr and len(result.stderr.strip().splitlines()) == 1
    assert not out.exists() and list(tmp_path.iterdir()) == []


def test_generate_missing_run_folder_out_and_unwritable_path(run: tuple[Path, ClicSplits], tmp_path: Path) -> None:
    missing = runner.invoke(app, ["generate", str(tmp_path / "nope"), "--n", "5", "--out", str(tmp_path / "g.h5")])
    assert missing.exit_code == 2 and "no trained model" in missing.stderr
    folder = runner.invoke(app, ["generate", str(run[0]), "--n", "5", "--out", str(tmp_path)])
    assert folder.exit_code == 2 and "is a folder" in folder.stderr
    blocker = tmp_path / "a-file"
    blocker.write_text("x")
    unwritable = runner.invoke(app, ["generate", str(run[0]), "--n", "5", "--out", str(blocker / "g.h5")])
    assert unwritable.exit_code == 2 and "cannot write" in unwritable.stderr
    assert len(unwritable.stderr.strip().splitlines()) == 1
    exists = tmp_path / "exists.h5"
    exists.write_text("keep me")
    refused = runner.invoke(app, ["generate", str(run[0]), "--n", "5", "--out", str(exists)])
    assert refused.exit_code == 2 and "--overwrite" in refused.stderr and exists.read_text() == "keep me"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a-file", "exists.h5"]


def test_table_prints_every_size_with_errors(run: tuple[Path, ClicSplits], tmp_path: Path) -> None:
    run_dir, data = run
    evaluate_run(run_dir, data, n_eval=(20, 40), n_sets=3, n_large=300, figures=False)
    result = runner.invoke(app, ["table", str(run_dir)])
    assert result.exit_code == 0, result.output
    assert "MMD/floor n=20" in result.stdout and "Gaussian/floor n=40" in result.stdout and " ± " in result.stdout
    missing = runner.invoke(app, ["table", str(tmp_path)])
    assert missing.exit_code == 2 and "no summary.json" in missing.stderr
    absent = runner.invoke(app, ["table", str(tmp_path / "no-such-run")])
    assert absent.exit_code == 2 and "is not a run directory" in absent.stderr and "evaluate" not in absent.stderr


def test_generate_waits_for_no_one_while_a_run_is_in_use(run: tuple[Path, ClicSplits], tmp_path: Path) -> None:
    """A run held by another qcalo process (its lock) is refused in one line, and no file appears."""
    from qcalo.train.rundir import run_lock

    out = tmp_path / "g.h5"
    with run_lock(run[0]):
        result = runner.invoke(app, ["generate", str(run[0]), "--n", "5", "--out", str(out)])
    assert result.exit_code == 2 and "in use by another qcalo process" in result.stderr and not out.exists()


def test_generate_through_a_fake_ibm_backend(run: tuple[Path, ClicSplits], tmp_path: Path) -> None:
    """--backend fake:fez: SamplerV2 in local mode on the device's best line; recorded; bad specs one line."""
    import json

    out = tmp_path / "hw.h5"
    result = runner.invoke(app, ["generate", str(run[0]), "--n", "12", "--out", str(out), "--backend", "fake:fez"])
    assert result.exit_code == 0, (result.output, result.exception)
    with h5py.File(out) as handle:
        showers = handle["x"][()]
        hardware = json.loads(handle.attrs["hardware"])
    assert showers.shape == (12, 4) and (showers >= 0).all() and np.isfinite(showers).all()
    assert hardware["backend"].startswith("fake:") and len(hardware["physical_qubits"]) == 4
    for args, words in ((["--backend", "quantum:fez"], "quantum:fez"), (["--backend", "fake:fez", "--noise-scale", "1"], "--noise")):
        bad = runner.invoke(app, ["generate", str(run[0]), "--n", "5", "--out", str(tmp_path / "b.h5"), *args])
        assert bad.exit_code == 2 and words in bad.stderr and len(bad.stderr.strip().splitlines()) == 1, bad.stderr
    assert not (tmp_path / "b.h5").exists()
