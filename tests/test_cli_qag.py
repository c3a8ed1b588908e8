"""``qcalo train qag`` and ``qcalo evaluate`` through typer's CliRunner, plus the root app."""

from __future__ import annotations

import csv
import json
import math
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

import qcalo
from qcalo.cli import app
from qcalo.models.qag import ANSATZE

pytestmark = pytest.mark.usefixtures("torch_single_thread")

runner = CliRunner()
SPLIT_FILES = [f"clic_8px_{split}.h5" for split in ("train", "val", "test")]
# ../shared from the main checkout, ../../shared from a worktree under /work/wt.
REAL_DATA = next(
    (
        folder
        for folder in (Path(__file__).resolve().parents[n] / "shared" / "data" / "clic8" for n in (2, 3))
        if all((folder / name).is_file() for name in SPLIT_FILES)
    ),
    Path(__file__).resolve().parents[2] / "shared" / "data" / "clic8",
)
SUMMARY_KEYS = (
    "test_mmd_mean", "test_mmd_std", "real_mmd_floor_mean", "corr_loss",
    "energy_sum_separation", "train_seconds", "n_eval",
)  # fmt: skip
# Adam keeps --epochs exact (COBYLA needs n_params + 2 evaluations); hea × 1 layer is small.
TINY_YAML = {
    "ansatz": "hea",
    "n_layers": 1,
    "optimizer": "adam",
    "monitor_images": 10,
    "checkpoint_every": 2,
}


@pytest.fixture(scope="module")
def real_data() -> Path:
    if any(not (REAL_DATA / name).is_file() for name in SPLIT_FILES):
        pytest.skip(f"real clic8 files not in {REAL_DATA}")
    return REAL_DATA


@pytest.fixture(scope="module")
def tiny_yaml(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("config") / "tiny.yaml"
    path.write_text(yaml.safe_dump(TINY_YAML))
    return path


def train_args(out: Path, data: Path, config: Path, *extra: str) -> list[str]:
    return [
        "train", "qag", "--out", str(out), "--data", str(data), "--config", str(config),
        "--epochs", "5", "--images", "8", "--shots", "64", "--quiet", *extra,
    ]  # fmt: skip


@pytest.fixture(scope="module")
def trained(
    tmp_path_factory: pytest.TempPathFactory, real_data: Path, tiny_yaml: Path
) -> tuple[Path, str]:
    """A run trained through the CLI on the real data: (run dir, stdout)."""
    out = tmp_path_factory.mktemp("cli") / "run"
    result = runner.invoke(app, train_args(out, real_data, tiny_yaml))
    assert result.exit_code == 0, (result.stdout, result.stderr, result.exception)
    return out, result.stdout


def assert_usage_error(result: object, *words: str) -> None:
    """Exit code 2, nothing on stdout, one ``error: …`` line on stderr naming ``words``."""
    assert result.exit_code == 2, (result.stdout, result.stderr, result.exception)
    message = result.stderr.strip()
    assert message.startswith("error: ") and "\n" not in message, message
    assert "Traceback" not in result.stderr
    for word in words:
        assert word in message, f"{word!r} not in {message!r}"


# -- training ----------------------------------------------------------------------------
def test_train_prints_the_run_dir(trained: tuple[Path, str], real_data: Path) -> None:
    """Exit 0, the run folder on stdout, flags and YAML merged into config.yaml, 5 epochs."""
    out, stdout = trained
    assert stdout.strip().endswith(str(out)) and "5 epochs" in stdout
    saved = yaml.safe_load((out / "config.yaml").read_text())
    assert (saved["epochs"], saved["images"], saved["shots"]) == (5, 8, 64)
    assert all(saved[key] == value for key, value in TINY_YAML.items())
    with (out / "metrics.csv").open(newline="") as handle:
        assert [int(row["epoch"]) for row in csv.DictReader(handle)] == list(range(5))
    environment = json.loads((out / "environment.json").read_text())
    assert environment["data_source"] == "real" and Path(environment["data_location"]) == real_data


def test_train_refuses_an_existing_run_then_overwrites(
    trained: tuple[Path, str], real_data: Path, tiny_yaml: Path, tmp_path: Path
) -> None:
    """Without --overwrite an occupied --out is exit 2; with it the run is replaced."""
    out = tmp_path / "run"
    out.mkdir()
    (out / "config.yaml").write_text((trained[0] / "config.yaml").read_text())
    assert_usage_error(runner.invoke(app, train_args(out, real_data, tiny_yaml)), "--overwrite")
    result = runner.invoke(app, train_args(out, real_data, tiny_yaml, "--overwrite", "--seed", "1"))
    assert result.exit_code == 0, result.stderr
    assert yaml.safe_load((out / "config.yaml").read_text())["seed"] == 1


def test_resume_of_a_finished_cobyla_run(real_data: Path, tmp_path: Path) -> None:
    """--resume reads the run's own config.yaml and ends where the run ended."""
    config = tmp_path / "cobyla.yaml"
    config.write_text(
        yaml.safe_dump(
            {
                "ansatz": "mera-up",
                "n_pixels": 8,
                "monitor_images": 10,
                "epochs": 32,
                "images": 8,
                "shots": 64,
            }
        )
    )
    out = tmp_path / "run"
    first = runner.invoke(
        app,
        [
            "train",
            "qag",
            "--out",
            str(out),
            "--data",
            str(real_data),
            "--config",
            str(config),
            "--quiet",
        ],
    )
    assert first.exit_code == 0, first.stderr
    weights = json.loads((out / "model.json").read_text())["weights"]
    again = runner.invoke(
        app, ["train", "qag", "--out", str(out), "--data", str(real_data), "--resume", "--quiet"]
    )
    assert again.exit_code == 0, again.stderr
    assert json.loads((out / "model.json").read_text())["weights"] == weights


@pytest.mark.parametrize("how", ["empty-dir", "no-dir"])
def test_resume_without_a_run_is_a_usage_error(how: str, real_data: Path, tmp_path: Path) -> None:
    """--resume where no run exists: exit 2, one line."""
    out = tmp_path / "run"
    if how == "empty-dir":
        out.mkdir()
    result = runner.invoke(
        app, ["train", "qag", "--out", str(out), "--data", str(real_data), "--resume", "--quiet"]
    )
    assert_usage_error(result, str(out))
    assert not (out / "metrics.csv").exists()


def test_unknown_ansatz_is_a_usage_error(real_data: Path, tmp_path: Path) -> None:
    """--ansatz nope: exit 2 naming every valid choice; nothing trained."""
    out = tmp_path / "run"
    result = runner.invoke(
        app,
        [
            "train",
            "qag",
            "--out",
            str(out),
            "--data",
            str(real_data),
            "--ansatz",
            "nope",
            "--quiet",
        ],
    )
    assert_usage_error(result, "nope", *ANSATZE)
    assert not out.exists()


@pytest.mark.parametrize(
    "flag", [["--shots", "0"], ["--sigma2", "0"], ["--optimizer", "sgd"], ["--layers", "0"]]
)
def test_bad_setting_flags_are_usage_errors(
    flag: list[str], real_data: Path, tmp_path: Path
) -> None:
    """Invalid values of settings flags: exit 2, one line naming the field."""
    out = tmp_path / "run"
    result = runner.invoke(
        app, ["train", "qag", "--out", str(out), "--data", str(real_data), *flag, "--quiet"]
    )
    field = {
        "--shots": "shots",
        "--sigma2": "sigma2",
        "--optimizer": "optimizer",
        "--layers": "n_layers",
    }[flag[0]]
    assert_usage_error(result, field)


def test_bad_config_file_is_a_usage_error(real_data: Path, tmp_path: Path) -> None:
    """A YAML with an unknown key: exit 2, one line naming the key."""
    config = tmp_path / "bad.yaml"
    config.write_text("epochs: 5\nlearning_rte: 0.1\n")
    result = runner.invoke(
        app,
        [
            "train",
            "qag",
            "--out",
            str(tmp_path / "run"),
            "--data",
            str(real_data),
            "--config",
            str(config),
            "--quiet",
        ],
    )
    assert_usage_error(result, "learning_rte")


def test_partial_data_dir_is_a_usage_error(
    real_data: Path, tiny_yaml: Path, tmp_path: Path
) -> None:
    """A data folder with only some split files: exit 2, one line naming the missing ones."""
    partial = tmp_path / "partial"
    partial.mkdir()
    (partial / SPLIT_FILES[0]).symlink_to(real_data / SPLIT_FILES[0])
    result = runner.invoke(app, train_args(tmp_path / "run", partial, tiny_yaml))
    assert_usage_error(result, SPLIT_FILES[1], SPLIT_FILES[2])
    assert not (tmp_path / "run" / "metrics.csv").exists()


def test_empty_data_dir_falls_back_to_the_synthetic_stand_in(
    tiny_yaml: Path, tmp_path: Path
) -> None:
    """No data files: a one-line notice on stderr, then training on the stand-in."""
    empty, out = tmp_path / "empty", tmp_path / "run"
    empty.mkdir()
    result = runner.invoke(app, train_args(out, empty, tiny_yaml, "--epochs", "2"))
    assert result.exit_code == 0, (result.stderr, result.exception)
    notices = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(notices) == 1 and notices[0].startswith("notice: ") and "synthetic" in notices[0]
    assert str(out) in result.stdout
    environment = json.loads((out / "environment.json").read_text())
    assert environment["data_source"] == "synthetic"


# -- evaluation --------------------------------------------------------------------------
def test_evaluate_json(trained: tuple[Path, str], real_data: Path) -> None:
    """--json prints summary.json: finite scores, n_eval as given, the figures drawn."""
    out, _ = trained
    args = ["evaluate", str(out), "--data", str(real_data), "--n-eval", "20", "--sets", "2"]
    result = runner.invoke(app, [*args, "--json"])
    assert result.exit_code == 0, (result.stderr, result.exception)
    summary = json.loads(result.stdout)
    assert summary == json.loads((out / "summary.json").read_text())
    for key in SUMMARY_KEYS:
        assert math.isfinite(summary[key]), key
    assert summary["n_eval"] == 20 and summary["n_sets"] == 2 and summary["data_source"] == "real"
    assert summary["mmd_ratio_to_floor"] == pytest.approx(summary["test_mmd_mean"] / summary["real_mmd_floor_mean"])
    assert 0 < summary["mmd_ratio_to_floor_se"] < summary["mmd_ratio_to_floor"]
    assert len(summary["figures"]) == 4
    assert all((out / name).read_bytes()[:4] == b"\x89PNG" for name in summary["figures"])


def test_evaluate_of_a_folder_without_a_run_is_a_usage_error(
    real_data: Path, tmp_path: Path
) -> None:
    """Not a run directory: exit 2, one line."""
    result = runner.invoke(
        app, ["evaluate", str(tmp_path), "--data", str(real_data), "--n-eval", "20", "--sets", "2"]
    )
    assert_usage_error(result, str(tmp_path))


# -- the root app ------------------------------------------------------------------------
def test_version() -> None:
    result = runner.invoke(app, ["--version"])
    assert result.exit_code == 0 and result.stdout.strip() == f"qcalo {qcalo.__version__}"


def test_help_lists_the_command_groups() -> None:
    result = runner.invoke(app, ["--help"])
    assert result.exit_code == 0
    for command in ("data", "train", "bench", "evaluate"):
        assert f" {command} " in result.stdout, command
    train_help = runner.invoke(app, ["train", "qag", "--help"])
    assert (
        train_help.exit_code == 0
        and "--resume" in train_help.stdout
        and "--overwrite" in train_help.stdout
    )


def test_importing_the_cli_does_not_import_torch() -> None:
    """`qcalo --help` stays quick: torch is imported only inside the commands."""
    heavy = "('torch', 'scipy', 'matplotlib', 'h5py')"
    code = f"import sys, qcalo.cli; print(sorted(m for m in {heavy} if m in sys.modules))"
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True
    )
    assert done.stdout.strip() == "[]", done.stdout
