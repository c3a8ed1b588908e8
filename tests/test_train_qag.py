"""QAG training, run directories, resume, configs and evaluation, on tiny 4-pixel data."""

from __future__ import annotations

import csv
import json
import math
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
import torch
import yaml

from qcalo.configs import QAGConfig, default_config_path, load_qag_config
from qcalo.data.clic import ClicSplits
from qcalo.data.synthetic import synthetic_clic_splits
from qcalo.exceptions import CheckpointError, ConfigError
from qcalo.models.qag import ANSATZE, QAG, PixelCodec
from qcalo.train.evaluate import evaluate_run, generate_images
from qcalo.train.qag import METRIC_COLUMNS, model_from_run, train_qag

pytestmark = pytest.mark.usefixtures("torch_single_thread")

RUN_FILES = (
    "config.yaml",
    "environment.json",
    "metrics.csv",
    "checkpoint.json",
    "model.json",
    "train_summary.json",
)
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
# mera-up on 4 qubits has 12 weights, so COBYLA's n + 2 = 14 start-up evaluations fit in 16 epochs.
TINY = {
    "n_pixels": 4, "ansatz": "mera-up", "images": 8, "monitor_images": 10,
    "shots": 64, "checkpoint_every": 4, "seed": 3,
}  # fmt: skip
EPOCHS = {"cobyla": 16, "adam": 12}


def tiny_config(optimizer: str, **changes: object) -> QAGConfig:
    return QAGConfig(**{**TINY, "optimizer": optimizer, "epochs": EPOCHS[optimizer], **changes})


@pytest.fixture(scope="module")
def data() -> ClicSplits:
    """A small 4-pixel stand-in (the real files are 8-pixel; shape is all that matters here)."""
    train, val, test = synthetic_clic_splits(seed=0, sizes=(300, 120, 120), n_pixels=4)
    return ClicSplits(train, val, test, source="synthetic", location="tests")


@pytest.fixture(scope="module")
def reference(tmp_path_factory: pytest.TempPathFactory, data: ClicSplits) -> dict[str, Path]:
    """One uninterrupted run per optimizer, shared by the comparisons below."""
    root = tmp_path_factory.mktemp("reference")
    return {opt: train_qag(tiny_config(opt), data, root / opt).run_dir for opt in EPOCHS}


def read_rows(run_dir: Path) -> tuple[list[str], list[dict[str, str]]]:
    with (run_dir / "metrics.csv").open(newline="") as handle:
        reader = csv.DictReader(handle)
        return list(reader.fieldnames or []), list(reader)


def deterministic_rows(run_dir: Path) -> list[dict[str, str]]:
    """metrics.csv without the wall-clock column."""
    return [{k: v for k, v in row.items() if k != "seconds"} for row in read_rows(run_dir)[1]]


def weights(run_dir: Path) -> list[float]:
    return json.loads((run_dir / "model.json").read_text())["weights"]


def stop_at(
    epoch: int, error: type[BaseException] = KeyboardInterrupt
) -> Callable[[int, float], None]:
    """A progress callback that interrupts training once ``epoch`` has been recorded."""

    def progress(done: int, _loss: float) -> None:
        if done == epoch:
            raise error("simulated interruption")

    return progress


# -- a finished run ----------------------------------------------------------------------
@pytest.mark.parametrize("optimizer", list(EPOCHS))
def test_run_directory_contents(
    optimizer: str, reference: dict[str, Path], data: ClicSplits
) -> None:
    """Every documented file, one finite metrics row per epoch, consistent summaries."""
    run_dir, config = reference[optimizer], tiny_config(optimizer)
    for name in RUN_FILES:
        assert (run_dir / name).is_file(), name
    assert load_qag_config(run_dir / "config.yaml") == config

    environment = json.loads((run_dir / "environment.json").read_text())
    for package in ("qcalo", "numpy", "torch", "scipy"):
        assert (
            isinstance(environment["versions"][package], str) and environment["versions"][package]
        )
    assert environment["data_source"] == "synthetic"

    header, rows = read_rows(run_dir)
    assert header == list(METRIC_COLUMNS)
    assert [int(row["epoch"]) for row in rows] == list(range(config.epochs))
    assert all(math.isfinite(float(row[c])) for row in rows for c in METRIC_COLUMNS)
    assert all(float(row["train_mmd"]) >= 0 and float(row["val_mmd"]) >= 0 for row in rows)

    summary = json.loads((run_dir / "train_summary.json").read_text())
    assert summary["epochs_done"] == config.epochs
    assert summary["final_loss"] == pytest.approx(float(rows[-1]["loss"]), rel=1e-7)
    assert summary["train_seconds"] > 0 and summary["stop_reason"]
    checkpoint = json.loads((run_dir / "checkpoint.json").read_text())
    assert checkpoint["finished"] is True and checkpoint["epoch"] == config.epochs

    model = json.loads((run_dir / "model.json").read_text())
    n_params = QAG(4, "mera-up").n_params
    assert len(model["weights"]) == n_params == model["n_params"] == summary["n_params"]
    assert all(math.isfinite(w) for w in model["weights"])
    assert model["codec_scale"] == pytest.approx(PixelCodec.from_images(data.train, quantile=config.codec_quantile).scale)


def test_adam_moves_away_from_the_start(reference: dict[str, Path]) -> None:
    """Adam's saved weights are the trained ones, not the seeded starting point."""
    config = tiny_config("adam")
    start = QAG(4, "mera-up").init_weights(config.seed, spread=config.init_spread)
    assert not np.allclose(weights(reference["adam"]), start, atol=1e-3)


def test_model_from_run_rebuilds_the_model(reference: dict[str, Path], data: ClicSplits) -> None:
    """The rebuilt model matches the run and generates ⟨Z⟩ of the right shape."""
    model, w, codec, config = model_from_run(reference["cobyla"])
    assert config == tiny_config("cobyla")
    assert (model.n_pixels, model.ansatz, model.shots, model.n_params) == (4, "mera-up", 64, w.size)
    assert w.tolist() == weights(reference["cobyla"])
    assert codec.scale == pytest.approx(PixelCodec.from_images(data.train, quantile=config.codec_quantile).scale)
    z = model.sample_z(w, 5, generator=torch.Generator().manual_seed(0))
    assert z.shape == (5, 4) and z.abs().max() <= 1


def test_model_from_run_refuses_wrong_weight_count(
    reference: dict[str, Path], tmp_path: Path
) -> None:
    """A model.json that does not fit the config is a one-line CheckpointError."""
    for name in ("config.yaml", "model.json"):
        (tmp_path / name).write_text((reference["adam"] / name).read_text())
    model = json.loads((tmp_path / "model.json").read_text())
    model["weights"] = model["weights"][:-1]
    (tmp_path / "model.json").write_text(json.dumps(model))
    with pytest.raises(CheckpointError) as caught:
        model_from_run(tmp_path)
    assert "\n" not in str(caught.value)


@pytest.mark.parametrize("optimizer", list(EPOCHS))
def test_seeded_runs_are_reproducible(
    optimizer: str, reference: dict[str, Path], data: ClicSplits, tmp_path: Path
) -> None:
    """Same config, other folder: identical metrics and weights; another seed: different ones."""
    again = train_qag(tiny_config(optimizer), data, tmp_path / "again").run_dir
    assert deterministic_rows(again) == deterministic_rows(reference[optimizer])
    assert weights(again) == weights(reference[optimizer])
    other = train_qag(
        tiny_config(optimizer, seed=4, epochs=EPOCHS[optimizer] - 2), data, tmp_path / "other"
    ).run_dir
    losses = [row["loss"] for row in deterministic_rows(other)]
    assert (
        losses != [row["loss"] for row in deterministic_rows(reference[optimizer])][: len(losses)]
    )
    assert weights(other) != weights(reference[optimizer])


# -- resume ------------------------------------------------------------------------------
@pytest.mark.parametrize("optimizer", list(EPOCHS))
def test_resume_after_interruptions_is_bit_identical(
    optimizer: str, reference: dict[str, Path], data: ClicSplits, tmp_path: Path
) -> None:
    """Ctrl-C, resume, Ctrl-C again, resume: the same run as without interruptions."""
    config = tiny_config(optimizer)
    with pytest.raises(KeyboardInterrupt):
        train_qag(config, data, tmp_path, progress=stop_at(5))
    assert json.loads((tmp_path / "checkpoint.json").read_text())["epoch"] == 6
    assert len(read_rows(tmp_path)[1]) == 6 and not (tmp_path / "model.json").exists()
    with pytest.raises(KeyboardInterrupt):
        train_qag(config, data, tmp_path, resume=True, progress=stop_at(7))
    result = train_qag(config, data, tmp_path, resume=True)
    assert result.epochs_done == config.epochs
    assert deterministic_rows(tmp_path) == deterministic_rows(reference[optimizer])
    assert weights(tmp_path) == weights(reference[optimizer])


@pytest.mark.parametrize("optimizer", list(EPOCHS))
def test_resume_after_crash_between_checkpoints(
    optimizer: str, reference: dict[str, Path], data: ClicSplits, tmp_path: Path
) -> None:
    """A crash leaves rows past the last checkpoint; resume drops and redoes them identically."""
    config = tiny_config(optimizer)
    with pytest.raises(RuntimeError):
        train_qag(config, data, tmp_path, progress=stop_at(9, RuntimeError))
    assert (
        json.loads((tmp_path / "checkpoint.json").read_text())["epoch"] == 8
    )  # checkpoint_every = 4
    assert len(read_rows(tmp_path)[1]) == 10
    train_qag(config, data, tmp_path, resume=True)
    assert deterministic_rows(tmp_path) == deterministic_rows(reference[optimizer])
    assert weights(tmp_path) == weights(reference[optimizer])


def test_adam_resume_with_nothing_left_keeps_trained_weights(
    reference: dict[str, Path], data: ClicSplits, tmp_path: Path
) -> None:
    """Interrupted after the last update: resuming must still save the trained weights."""
    config = tiny_config("adam")
    with pytest.raises(KeyboardInterrupt):
        train_qag(config, data, tmp_path, progress=stop_at(config.epochs - 1))
    train_qag(config, data, tmp_path, resume=True)
    assert weights(tmp_path) == weights(reference["adam"])


def test_resume_of_a_finished_cobyla_run_changes_nothing(
    reference: dict[str, Path], data: ClicSplits, tmp_path: Path
) -> None:
    """Replaying a whole COBYLA run gives the same model again."""
    for name in RUN_FILES:
        (tmp_path / name).write_text((reference["cobyla"] / name).read_text())
    train_qag(tiny_config("cobyla"), data, tmp_path, resume=True)
    assert weights(tmp_path) == weights(reference["cobyla"])
    assert deterministic_rows(tmp_path) == deterministic_rows(reference["cobyla"])


def test_resume_can_raise_cobyla_epochs(
    reference: dict[str, Path], data: ClicSplits, tmp_path: Path
) -> None:
    """COBYLA's evaluations do not depend on maxiter: a finished 16-epoch run resumed with 20
    epochs is the 20-epoch run (metrics and weights)."""
    for name in RUN_FILES:
        (tmp_path / name).write_text((reference["cobyla"] / name).read_text())
    result = train_qag(tiny_config("cobyla", epochs=20), data, tmp_path, resume=True)
    fresh = train_qag(tiny_config("cobyla", epochs=20), data, tmp_path / "fresh").run_dir
    assert result.epochs_done == 20
    assert deterministic_rows(tmp_path) == deterministic_rows(fresh)
    assert weights(tmp_path) == weights(fresh)


def test_resume_and_overwrite_guards(
    reference: dict[str, Path], data: ClicSplits, tmp_path: Path
) -> None:
    """No checkpoint, other config, occupied folder: one-line CheckpointErrors; overwrite works."""
    config = tiny_config("adam")
    with pytest.raises(CheckpointError, match="checkpoint") as caught:
        train_qag(config, data, tmp_path / "empty", resume=True)
    assert "\n" not in str(caught.value)

    run = tmp_path / "run"
    run.mkdir()
    for name in RUN_FILES:
        (run / name).write_text((reference["adam"] / name).read_text())
    saved = {name: (run / name).read_text() for name in RUN_FILES}
    with pytest.raises(CheckpointError, match="config") as caught:
        train_qag(tiny_config("adam", learning_rate=0.1), data, run, resume=True)
    assert "\n" not in str(caught.value)
    with pytest.raises(CheckpointError, match="--overwrite") as caught:
        train_qag(config, data, run)
    assert "\n" not in str(caught.value)
    assert {
        name: (run / name).read_text() for name in RUN_FILES
    } == saved  # refused runs touch nothing

    (run / "summary.json").write_text("{}")  # a stale evaluation must go too
    result = train_qag(tiny_config("adam", epochs=3), data, run, overwrite=True)
    assert result.epochs_done == 3 and len(read_rows(run)[1]) == 3
    assert not (run / "summary.json").exists()
    assert load_qag_config(run / "config.yaml").epochs == 3


def test_cobyla_refuses_a_budget_below_its_start_up_simplex(data: ClicSplits, tmp_path: Path) -> None:
    """COBYLA needs n_params + 2 evaluations to start; a smaller ``epochs`` is refused up front."""
    with pytest.raises(ConfigError) as error:
        train_qag(tiny_config("cobyla", epochs=6), data, tmp_path)
    assert "epochs=6" in str(error.value) and "n_params + 2 = 14" in str(error.value)
    assert list(tmp_path.iterdir()) == []  # refused before anything was written


def test_exact_adam_with_correlation_loss(data: ClicSplits, tmp_path: Path) -> None:
    """shots=None and λ > 0 train too; the loss column then includes λ · correlation loss."""
    config = tiny_config("adam", shots=None, corr_weight=0.5, epochs=3, ansatz="hea", n_layers=1)
    result = train_qag(config, data, tmp_path)
    rows = read_rows(tmp_path)[1]
    assert result.epochs_done == 3 and all(math.isfinite(float(r["loss"])) for r in rows)


# -- configuration files -----------------------------------------------------------------
def test_default_config_is_the_adam_recipe() -> None:
    """No path: qcalo's recipe qag-clic8-adam (Adam, cosine step size, λ = 0.3)."""
    config = load_qag_config()
    assert config == load_qag_config(default_config_path("qag-clic8-adam"))
    assert (config.optimizer, config.lr_schedule, config.corr_weight, config.images) == ("adam", "cosine", 0.3, 256)


def test_packaged_config_is_table_1() -> None:
    """qag-clic8.yaml reproduces seed 000's Table 1; None overrides are ignored."""
    table_1 = default_config_path("qag-clic8")
    config = load_qag_config(table_1, epochs=None, shots=None)
    assert (config.n_pixels, config.shots, config.images, config.epochs) == (8, 2048, 50, 600)
    assert (config.sigma2, config.optimizer, config.tol, config.rhobeg) == (
        0.5,
        "cobyla",
        0.004,
        5.593,
    )
    assert config.ansatz in ANSATZE
    assert load_qag_config(table_1, epochs=7, ansatz="hea").epochs == 7


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"sigma2": 0}, "sigma2"),
        ({"sigma2": -1.0}, "sigma2"),
        ({"shots": 0}, "shots"),
        ({"n_layers": 0}, "n_layers"),
        ({"epochs": 0}, "epochs"),
        ({"optimizer": "sgd"}, "optimizer"),
        ({"ansatz": "nope"}, "ansatz"),
        ({"images": True}, "images=True"),
        ({"images": 1}, "images=1"),
        ({"sigma2": math.inf}, "sigma2=inf"),
        ({"n_pixels": 17}, "n_pixels=17"),
        ({"seed": -1}, "seed=-1"),
        ({"codec_quantile": 0.2}, "codec_quantile=0.2"),
        ({"lr_schedule": "cosine", "lr_min": 0.5}, "lr_min=0.5 is above learning_rate"),
    ],
)
def test_bad_override_is_one_line_naming_the_field(
    overrides: dict[str, object], field: str
) -> None:
    """Overrides go through the same validation as the file (qcalo.validate: no bool as a count)."""
    with pytest.raises(ConfigError) as caught:
        load_qag_config(default_config_path("qag-clic8"), **overrides)
    message = str(caught.value)
    assert "\n" not in message and field in message
    if field == "ansatz":
        assert all(name in message for name in ANSATZE)


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ("shots: 0\n", ["shots"]),
        ("n_layers: 0\n", ["n_layers"]),
        ("sigma2: 0\n", ["sigma2"]),
        ("ansatz: nope\n", ["ansatz", *ANSATZE]),
        ("epochs: 5\nlearning_rte: 0.1\n", ["learning_rte"]),
        ("epochs: [5\n", ["YAML"]),
        ("- epochs\n- 5\n", ["mapping"]),
    ],
    ids=["shots", "n_layers", "sigma2", "ansatz", "unknown-key", "bad-yaml", "not-a-mapping"],
)
def test_bad_config_file_is_one_line(text: str, words: list[str], tmp_path: Path) -> None:
    """Every problem in a YAML file is a one-line ConfigError naming the file and the field."""
    path = tmp_path / "run.yaml"
    path.write_text(text)
    with pytest.raises(ConfigError) as caught:
        load_qag_config(path)
    message = str(caught.value)
    assert "\n" not in message and str(path) in message
    for word in words:
        assert word in message, f"{word!r} not in {message!r}"


def test_yaml_number_written_without_a_dot(tmp_path: Path) -> None:
    """YAML 1.1 reads ``1e-3`` as a string; it is still the number 0.001."""
    path = tmp_path / "run.yaml"
    path.write_text("learning_rate: 1e-3\nlr_min: 1e-4\n")
    config = load_qag_config(path)
    assert (config.learning_rate, config.lr_min) == (0.001, 0.0001)


def test_missing_config_file(tmp_path: Path) -> None:
    """A missing file (or a folder) is a one-line ConfigError naming the path."""
    for path in (tmp_path / "absent.yaml", tmp_path):
        with pytest.raises(ConfigError, match="not found") as caught:
            load_qag_config(path)
        assert "\n" not in str(caught.value) and str(path) in str(caught.value)


def test_non_string_key_in_config_file(tmp_path: Path) -> None:
    """A mapping with a numeric key is a bad config, not a crash."""
    path = tmp_path / "run.yaml"
    path.write_text("1: 2\n")
    with pytest.raises(ConfigError):
        load_qag_config(path)


def test_saved_config_round_trips(reference: dict[str, Path]) -> None:
    """config.yaml is plain YAML that loads back to the same validated config."""
    raw = yaml.safe_load((reference["cobyla"] / "config.yaml").read_text())
    assert QAGConfig(**raw) == tiny_config("cobyla")


# -- evaluation --------------------------------------------------------------------------
def test_evaluate_run_writes_summary_and_figures(
    reference: dict[str, Path], data: ClicSplits
) -> None:
    """summary.json with finite scores and the four PNG figures."""
    run_dir = reference["cobyla"]
    summary = evaluate_run(run_dir, data, n_eval=20, n_sets=2, n_large=200)
    assert json.loads((run_dir / "summary.json").read_text()) == summary
    keys = (
        "test_mmd_mean",
        "test_mmd_std",
        "real_mmd_floor_mean",
        "corr_loss",
        "energy_sum_separation",
        "train_seconds",
    )
    for key in keys:
        assert math.isfinite(summary[key]), key
    assert (
        summary["n_eval"] == 20
        and summary["test_mmd_mean"] >= 0
        and summary["real_mmd_floor_mean"] >= 0
    )
    assert 0 <= summary["energy_sum_separation"] <= 1
    for name in ("loss_curves.png", "energy_sum.png", "correlations.png", "pixels.png"):
        assert (run_dir / name).read_bytes()[:8] == PNG_MAGIC, name


def test_generate_images_is_seeded_and_in_range(reference: dict[str, Path]) -> None:
    """Same seed, same images; energies in [0, codec scale]; another seed differs."""
    run_dir = reference["adam"]
    images = generate_images(run_dir, 30, seed=1)
    scale = np.asarray(json.loads((run_dir / "model.json").read_text())["codec_scale"])
    assert images.shape == (30, 4) and np.isfinite(images).all()
    assert images.min() >= 0 and (images <= scale + 1e-12).all()
    np.testing.assert_array_equal(images, generate_images(run_dir, 30, seed=1))
    assert not np.array_equal(images, generate_images(run_dir, 30, seed=2))
