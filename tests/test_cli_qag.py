"""``qcalo train qag`` and ``qcalo evaluate`` through typer's CliRunner, plus the root app."""

from __future__ import annotations

import csv
import json
import math
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

import qcalo
from qcalo.cli import app
from qcalo.models.qag import ANSATZE
from tests.conftest import CLIC8_SPLIT_FILES, real_clic8_folder

pytestmark = pytest.mark.usefixtures("torch_single_thread")

runner = CliRunner()
SPLIT_FILES = CLIC8_SPLIT_FILES
# ../shared from the main checkout, ../../shared from a worktree under /work/wt.
REAL_DATA = real_clic8_folder() or Path(__file__).resolve().parents[2] / "shared" / "data" / "clic8"
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


def stand_in_args(out: Path, config: Path, *extra: str) -> list[str]:
    """``train_args`` without --data: only then may qcalo fall back to the stand-in."""
    args = train_args(out, Path("unused"), config, *extra)
    at = args.index("--data")
    return args[:at] + args[at + 2 :]


@pytest.fixture
def no_data_anywhere(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """No $QCALO_DATA and an empty user cache: the default data folder holds nothing."""
    import platformdirs

    monkeypatch.setattr(platformdirs, "user_cache_dir", lambda app: str(tmp_path / "cache"))
    monkeypatch.delenv("QCALO_DATA", raising=False)


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


def test_empty_data_dir_is_a_usage_error(tiny_yaml: Path, tmp_path: Path) -> None:
    """--data naming a folder without the files: exit 2, one line with the folder and the fix."""
    empty = tmp_path / "empty"
    empty.mkdir()
    result = runner.invoke(app, train_args(tmp_path / "run", empty, tiny_yaml, "--epochs", "2"))
    assert_usage_error(result, str(empty), "qcalo data download clic8")
    assert not (tmp_path / "run").exists()


def test_no_data_anywhere_falls_back_to_the_synthetic_stand_in(
    tiny_yaml: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """No --data, no $QCALO_DATA, empty cache: a one-line notice, then the stand-in."""
    import platformdirs

    monkeypatch.setattr(platformdirs, "user_cache_dir", lambda app: str(tmp_path / "cache"))
    monkeypatch.delenv("QCALO_DATA", raising=False)
    out = tmp_path / "run"
    args = ["train", "qag", "--out", str(out), "--config", str(tiny_yaml), "--epochs", "2",
            "--images", "8", "--shots", "64", "--quiet"]  # fmt: skip
    result = runner.invoke(app, args)
    assert result.exit_code == 0, (result.stderr, result.exception)
    notices = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(notices) == 1 and notices[0].startswith("notice: ") and "synthetic" in notices[0]
    assert str(out) in result.stdout
    environment = json.loads((out / "environment.json").read_text())
    assert environment["data_source"] == "synthetic"


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


# -- bad inputs: one line, exit 2, nothing left behind ------------------------------------
def write_clic(folder: Path, sizes: tuple[int, int, int] = (60, 30, 30), *, seed: int = 1, n_pixels: int = 8) -> Path:
    """Tiny split files in the published format (key ``x``) from the synthetic generator."""
    import h5py

    from qcalo.data.synthetic import synthetic_clic_splits

    folder.mkdir(parents=True, exist_ok=True)
    arrays = synthetic_clic_splits(seed=seed, sizes=sizes, n_pixels=n_pixels)
    for split, array in zip(("train", "val", "test"), arrays, strict=True):
        with h5py.File(folder / f"clic_{n_pixels}px_{split}.h5", "w") as handle:
            handle["x"] = array
    return folder


@pytest.fixture(scope="module")
def tiny_data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_clic(tmp_path_factory.mktemp("tiny") / "clic8")


def assert_nothing_left(out: Path) -> None:
    assert not out.exists() or list(out.iterdir()) == [], sorted(out.iterdir())


def test_train_file_with_fewer_rows_than_images(tiny_yaml: Path, tmp_path: Path) -> None:
    short = write_clic(tmp_path / "short", (5, 30, 30))
    out = tmp_path / "run"
    assert_usage_error(runner.invoke(app, train_args(out, short, tiny_yaml)), "images=8", "5 training images")
    assert_nothing_left(out)


def test_images_above_the_stand_in_size(tiny_yaml: Path, tmp_path: Path, no_data_anywhere: None) -> None:
    """--images above the data set (here the synthetic stand-in's 47682 training images)."""
    out = tmp_path / "run"
    result = runner.invoke(app, stand_in_args(out, tiny_yaml, "--images", "50000"))
    assert result.exit_code == 2 and "Traceback" not in result.stderr
    error = result.stderr.strip().splitlines()[-1]  # after the stand-in's notice
    assert error.startswith("error: ") and "images=50000" in error and "47682" in error
    assert_nothing_left(out)


def test_out_is_a_file(tiny_data: Path, tiny_yaml: Path, tmp_path: Path) -> None:
    out = tmp_path / "run"
    out.write_text("mine")
    assert_usage_error(runner.invoke(app, train_args(out, tiny_data, tiny_yaml)), str(out), "is a file")
    assert out.read_text() == "mine"


@pytest.mark.parametrize("how", ["chmod-read-only", "sysfs"])
def test_out_that_cannot_be_written(how: str, tiny_data: Path, tiny_yaml: Path, tmp_path: Path) -> None:
    """A folder without write permission (skipped as root: root ignores permission bits), and
    a place even root cannot write (sysfs), which exercises the same path when run as root."""
    if how == "chmod-read-only":
        if os.geteuid() == 0:
            pytest.skip("running as root, which ignores permission bits; the sysfs case covers this")
        parent = tmp_path / "read-only"
        parent.mkdir()
        parent.chmod(0o555)
        out = parent / "run"
    else:
        out = Path("/sys/qcalo-test-run")
        if not Path("/sys").is_dir() or os.access("/sys", os.W_OK) and os.geteuid() != 0:
            pytest.skip("no read-only sysfs here")
    try:
        assert_usage_error(runner.invoke(app, train_args(out, tiny_data, tiny_yaml)), str(out), "writable --out")
        assert not out.exists()
    finally:
        if how == "chmod-read-only":
            out.parent.chmod(0o755)


def test_evaluate_n_eval_above_the_test_size(tiny_run: Path, tiny_data: Path) -> None:
    result = runner.invoke(app, ["evaluate", str(tiny_run), "--data", str(tiny_data), "--n-eval", "31", "--sets", "2"])
    assert_usage_error(result, "--n-eval 31", "30 test", "--n-eval 30")


def test_failed_start_leaves_no_stub(tiny_data: Path, tiny_yaml: Path, tmp_path: Path) -> None:
    """A start refused late (COBYLA's budget needs the built model) writes nothing, so the
    corrected command runs and a --resume says there is no run (not a half-made one)."""
    out = tmp_path / "run"
    assert_usage_error(runner.invoke(app, train_args(out, tiny_data, tiny_yaml, "--optimizer", "cobyla")), "COBYLA")
    assert_nothing_left(out)
    assert_usage_error(runner.invoke(app, ["train", "qag", "--out", str(out), "--resume", "-q"]), "no run to resume")
    assert runner.invoke(app, train_args(out, tiny_data, tiny_yaml)).exit_code == 0


@pytest.mark.parametrize("overwrite", [[], ["--overwrite"]])
def test_foreign_folder_is_not_written_into(overwrite: list[str], tiny_data: Path, tiny_yaml: Path, tmp_path: Path) -> None:
    out = tmp_path / "thesis"
    out.mkdir()
    (out / "chapter1.tex").write_text("mine")
    result = runner.invoke(app, train_args(out, tiny_data, tiny_yaml, *overwrite))
    assert_usage_error(result, "chapter1.tex", "holds no qcalo run")
    assert [p.name for p in out.iterdir()] == ["chapter1.tex"] and (out / "chapter1.tex").read_text() == "mine"


@pytest.fixture
def tiny_run(tiny_data: Path, tiny_yaml: Path, tmp_path: Path) -> Path:
    out = tmp_path / "run"
    result = runner.invoke(app, train_args(out, tiny_data, tiny_yaml))
    assert result.exit_code == 0, result.stderr
    return out


def evaluate_args(run: Path, data: Path, *extra: str) -> list[str]:
    return ["evaluate", str(run), "--data", str(data), "--n-eval", "10", "--sets", "2", "--n-large", "100", *extra]


def test_overwrite_clears_the_previous_evaluation(tiny_run: Path, tiny_data: Path, tiny_yaml: Path) -> None:
    assert runner.invoke(app, evaluate_args(tiny_run, tiny_data)).exit_code == 0
    assert len(list(tiny_run.glob("*.png"))) == 4 and (tiny_run / "summary.json").is_file()
    (tiny_run / "generated.npy").write_bytes(b"old images")
    result = runner.invoke(app, train_args(tiny_run, tiny_data, tiny_yaml, "--overwrite", "--seed", "1"))
    assert result.exit_code == 0, result.stderr
    assert not list(tiny_run.glob("*.png")) and not (tiny_run / "summary.json").exists()
    assert not (tiny_run / "generated.npy").exists()


def test_evaluate_no_figures_removes_the_old_figures(tiny_run: Path, tiny_data: Path) -> None:
    assert runner.invoke(app, evaluate_args(tiny_run, tiny_data)).exit_code == 0
    result = runner.invoke(app, evaluate_args(tiny_run, tiny_data, "--no-figures", "--json"))
    assert result.exit_code == 0, result.stderr
    assert "figures" not in json.loads(result.stdout) and not list(tiny_run.glob("*.png"))


def test_ctrl_c_says_how_to_continue(tiny_data: Path, tiny_yaml: Path, tmp_path: Path) -> None:
    """SIGINT to a real training: exit 130, one line naming the epoch and the --resume command."""
    out = tmp_path / "run"
    process = start_training(out, tiny_data, tiny_yaml)
    try:
        wait_for(out / "checkpoint.json", process)
        process.send_signal(signal.SIGINT)
        process.wait(timeout=60)  # not communicate(): a helper process may hold a pipe open
    finally:
        process.kill()
    stderr = process.stderr_path.read_text()
    assert process.returncode == 130, stderr
    epoch = json.loads((out / "checkpoint.json").read_text())["epoch"]
    assert stderr.strip().splitlines()[-1] == (
        f"interrupted at epoch {epoch} (checkpoint saved); continue with: qcalo train qag --out {out} --resume"
    )


def start_training(out: Path, data: Path, config: Path) -> subprocess.Popen:
    """``qcalo train qag`` in a child process, long enough to be interrupted.

    Its output goes to files beside ``out`` (``process.stderr_path``), not pipes: reading a pipe
    waits for every process holding it, and a grandchild may outlive the training. SIGINT is reset
    to its default first: a test run started in the background by a non-interactive shell inherits
    it ignored, and Python then keeps ignoring it (no KeyboardInterrupt to test).
    """
    src = str(Path(__file__).resolve().parents[1] / "src")
    # As `python -m qcalo.cli …`, but with Python's own SIGINT handler installed in any case.
    main = "import signal; signal.signal(signal.SIGINT, signal.default_int_handler); from qcalo.cli import app; app()"
    args = [sys.executable, "-c", main, *train_args(out, data, config, "--epochs", "100000")]
    stderr_path = out.parent / f"{out.name}.stderr"
    with (out.parent / f"{out.name}.stdout").open("w") as stdout, stderr_path.open("w") as stderr:
        process = subprocess.Popen(args, stdout=stdout, stderr=stderr, text=True, env={**os.environ, "PYTHONPATH": src})
    process.stderr_path = stderr_path
    return process


def wait_for(path: Path, process: subprocess.Popen, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while not path.is_file():
        assert process.poll() is None, process.stderr_path.read_text()
        assert time.monotonic() < deadline, f"{path} did not appear"
        time.sleep(0.05)


# -- resume: extending, and other settings -----------------------------------------------
def test_resume_raises_epochs_of_a_constant_step_run(tiny_run: Path, tiny_data: Path, tiny_yaml: Path, tmp_path: Path) -> None:
    """--resume --epochs 7 extends a finished 5-epoch run to the 7-epoch run, bit for bit."""
    result = runner.invoke(app, ["train", "qag", "--out", str(tiny_run), "--resume", "--epochs", "7", "-q"])
    assert result.exit_code == 0, result.stderr
    fresh = tmp_path / "fresh"
    assert runner.invoke(app, train_args(fresh, tiny_data, tiny_yaml, "--epochs", "7")).exit_code == 0
    assert json.loads((tiny_run / "model.json").read_text())["weights"] == json.loads((fresh / "model.json").read_text())["weights"]
    resumes = json.loads((tiny_run / "environment.json").read_text())["resumes"]
    assert [(r["at_epoch"], r["epochs_before"], r["epochs"]) for r in resumes] == [(5, 5, 7)]


@pytest.mark.parametrize(
    ("flags", "words"),
    [
        (["--epochs", "3"], ["epochs can only be raised", "run 5, given 3"]),
        (["--images", "9"], ["images: run 8, given 9"]),
        (["--images", "9", "--seed", "4"], ["images: run 8, given 9", "seed: run 0, given 4"]),
    ],
)
def test_resume_with_other_settings_names_them(flags: list[str], words: list[str], tiny_run: Path) -> None:
    saved = (tiny_run / "model.json").read_text()
    result = runner.invoke(app, ["train", "qag", "--out", str(tiny_run), "--resume", *flags, "-q"])
    assert_usage_error(result, *words)
    assert (tiny_run / "model.json").read_text() == saved


def test_resume_refuses_to_extend_a_cosine_run(tiny_data: Path, tiny_yaml: Path, tmp_path: Path) -> None:
    config = tmp_path / "cosine.yaml"
    config.write_text(yaml.safe_dump({**TINY_YAML, "lr_schedule": "cosine"}))
    out = tmp_path / "run"
    assert runner.invoke(app, train_args(out, tiny_data, config)).exit_code == 0
    result = runner.invoke(app, ["train", "qag", "--out", str(out), "--resume", "--epochs", "8", "-q"])
    assert_usage_error(result, "cosine", "run 5, given 8", "new --out")


# -- options and output streams ----------------------------------------------------------
def test_progress_goes_to_stderr(tiny_data: Path, tiny_yaml: Path, tmp_path: Path) -> None:
    """Without --quiet the progress bar is on stderr; stdout holds the result line only."""
    out = tmp_path / "run"
    args = [a for a in train_args(out, tiny_data, tiny_yaml) if a != "--quiet"]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.stderr
    assert result.stdout.strip().splitlines() == [result.stdout.strip()] and result.stdout.strip().endswith(str(out))
    assert "training" in result.stderr and "epochs" in result.stderr


def test_pixels_option(tiny_yaml: Path, tmp_path: Path) -> None:
    """--pixels 4 trains a 4-qubit model on clic_4px_* files."""
    data = write_clic(tmp_path / "clic4", n_pixels=4)
    out = tmp_path / "run"
    result = runner.invoke(app, train_args(out, data, tiny_yaml, "--pixels", "4"))
    assert result.exit_code == 0, result.stderr
    assert yaml.safe_load((out / "config.yaml").read_text())["n_pixels"] == 4
    assert_usage_error(runner.invoke(app, train_args(tmp_path / "bad", data, tiny_yaml, "--pixels", "1")), "n_pixels")


def test_default_config_is_the_adam_recipe(tiny_data: Path, tmp_path: Path) -> None:
    """No --config: qag-clic8-adam; the help says qag-clic8 is Table 1."""
    out = tmp_path / "run"
    args = ["train", "qag", "--out", str(out), "--data", str(tiny_data), "--epochs", "2", "--images", "8",
            "--shots", "64", "--layers", "1", "-q"]  # fmt: skip
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.stderr
    saved = yaml.safe_load((out / "config.yaml").read_text())
    assert (saved["optimizer"], saved["lr_schedule"], saved["corr_weight"]) == ("adam", "cosine", 0.3)
    help_text = " ".join(runner.invoke(app, ["train", "qag", "--help"]).stdout.split())
    assert "qag-clic8-adam" in help_text and "Table 1" in help_text and "--pixels" in help_text


# -- the data a run was trained on -------------------------------------------------------
@pytest.fixture(scope="module")
def other_data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Same shape as tiny_data, other numbers."""
    return write_clic(tmp_path_factory.mktemp("other") / "clic8", seed=2)


def test_environment_records_the_resolved_data_and_its_hash(
    tiny_data: Path, tiny_yaml: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A relative --data is recorded resolved; resume from elsewhere without --data reuses it,
    even when the default data folder ($QCALO_DATA) would be other data."""
    from qcalo.data.clic import load_clic
    from qcalo.train.rundir import data_fingerprint

    monkeypatch.chdir(tiny_data.parent)
    out = tmp_path / "run"
    assert runner.invoke(app, train_args(out, Path(tiny_data.name), tiny_yaml)).exit_code == 0
    environment = json.loads((out / "environment.json").read_text())
    assert environment["data_location"] == str(tiny_data.resolve())
    assert environment["data_sha256"] == data_fingerprint(load_clic(tiny_data))
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("QCALO_DATA", str(tmp_path / "nothing-here"))
    result = runner.invoke(app, ["train", "qag", "--out", str(out), "--resume", "--epochs", "6", "-q"])
    assert result.exit_code == 0 and result.stderr == "", result.stderr  # no stand-in notice
    assert json.loads((out / "environment.json").read_text())["data_sha256"] == environment["data_sha256"]


def test_resume_of_a_stand_in_run_stays_on_the_stand_in(
    tiny_data: Path, tiny_yaml: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, no_data_anywhere: None
) -> None:
    out = tmp_path / "run"
    assert runner.invoke(app, stand_in_args(out, tiny_yaml, "--epochs", "2")).exit_code == 0
    monkeypatch.setenv("QCALO_DATA", str(tiny_data))  # the default would now be real files
    result = runner.invoke(app, ["train", "qag", "--out", str(out), "--resume", "--epochs", "3", "-q"])
    assert result.exit_code == 0, result.stderr
    assert json.loads((out / "environment.json").read_text())["data_source"] == "synthetic"
    # evaluating the stand-in-trained run against real files is refused too
    result = runner.invoke(app, evaluate_args(out, tiny_data, "--no-figures"))
    assert_usage_error(result, "trained on synthetic data", "--allow-other-data")


def test_resume_when_the_recorded_data_folder_is_gone(tiny_yaml: Path, tmp_path: Path) -> None:
    """No --data and the recorded folder moved: one line naming it (never a silent stand-in)."""
    data = write_clic(tmp_path / "data")
    out = tmp_path / "run"
    assert runner.invoke(app, train_args(out, data, tiny_yaml)).exit_code == 0
    data.rename(tmp_path / "moved")
    result = runner.invoke(app, ["train", "qag", "--out", str(out), "--resume", "--epochs", "6", "-q"])
    assert_usage_error(result, str(data.resolve()))


def test_resume_with_other_data_is_refused(tiny_run: Path, tiny_data: Path, other_data: Path) -> None:
    saved = (tiny_run / "model.json").read_text()
    result = runner.invoke(app, ["train", "qag", "--out", str(tiny_run), "--data", str(other_data), "--resume", "-q"])
    assert_usage_error(result, str(tiny_data.resolve()), str(other_data.resolve()), "sha256")
    assert (tiny_run / "model.json").read_text() == saved


def test_sigkilled_training_resumed_on_other_data_is_refused(
    tiny_data: Path, other_data: Path, tiny_yaml: Path, tmp_path: Path
) -> None:
    """SIGKILL (no handler runs) mid-training; the kernel frees the lock, the data check holds."""
    out = tmp_path / "run"
    process = start_training(out, tiny_data, tiny_yaml)
    try:
        wait_for(out / "checkpoint.json", process)
        process.kill()
        process.wait(timeout=60)
    finally:
        process.kill()
    assert process.returncode == -signal.SIGKILL
    before = (out / "checkpoint.json").read_text()
    result = runner.invoke(app, ["train", "qag", "--out", str(out), "--data", str(other_data), "--resume", "-q"])
    assert_usage_error(result, "was trained on real data from", str(other_data.resolve()))
    assert (out / "checkpoint.json").read_text() == before


def test_evaluate_on_other_data_needs_allow_other_data(tiny_run: Path, other_data: Path, tmp_path: Path) -> None:
    """Other data (here the stand-in): refused; --allow-other-data evaluates and says so."""
    (tmp_path / "empty").mkdir()
    result = runner.invoke(app, evaluate_args(tiny_run, other_data, "--no-figures"))
    assert result.exit_code == 2 and "--allow-other-data" in result.stderr.strip().splitlines()[-1]
    assert not (tiny_run / "summary.json").exists()
    result = runner.invoke(app, evaluate_args(tiny_run, tmp_path / "empty", "--no-figures"))
    assert_usage_error(result, str(tmp_path / "empty"), "no 8-pixel CLIC files")
    assert not (tiny_run / "summary.json").exists()
    result = runner.invoke(app, evaluate_args(tiny_run, other_data, "--no-figures", "--json", "--allow-other-data"))
    assert result.exit_code == 0, result.stderr
    summary = json.loads(result.stdout)
    assert summary["same_data_as_training"] is False and "--allow-other-data" in summary["other_data"]
    assert "notice:" in result.stderr


def test_evaluate_without_data_uses_the_training_data(tiny_run: Path) -> None:
    result = runner.invoke(app, ["evaluate", str(tiny_run), "--n-eval", "10", "--sets", "2", "--n-large", "100", "--no-figures", "--json"])
    assert result.exit_code == 0, result.stderr
    assert json.loads(result.stdout)["same_data_as_training"] is True


# -- the lock ----------------------------------------------------------------------------
@pytest.mark.parametrize("command", ["resume", "overwrite", "evaluate"])
def test_a_locked_run_is_refused(command: str, tiny_run: Path, tiny_data: Path, tiny_yaml: Path) -> None:
    """While another process holds the run (simulated by holding its lock here): one line."""
    from qcalo.train.rundir import run_lock

    args = {
        "resume": ["train", "qag", "--out", str(tiny_run), "--resume", "-q"],
        "overwrite": train_args(tiny_run, tiny_data, tiny_yaml, "--overwrite"),
        "evaluate": evaluate_args(tiny_run, tiny_data),
    }[command]
    saved = {p.name: p.read_bytes() for p in tiny_run.iterdir()}
    with run_lock(tiny_run):
        result = runner.invoke(app, args)
    assert_usage_error(result, f"{tiny_run} is in use by another qcalo process (pid {os.getpid()}); wait for it or use another --out")
    assert {p.name: p.read_bytes() for p in tiny_run.iterdir()} == saved


def test_evaluate_files_follow_the_umask(tiny_run: Path, tiny_data: Path) -> None:
    """summary.json and the figures are 0666 & ~umask too (training's files: test_rundir)."""
    previous = os.umask(0o027)
    try:
        result = runner.invoke(app, evaluate_args(tiny_run, tiny_data))
    finally:
        os.umask(previous)
    assert result.exit_code == 0, result.stderr
    written = [tiny_run / "summary.json", *tiny_run.glob("*.png")]
    assert len(written) == 5 and {oct(p.stat().st_mode & 0o777) for p in written} == {oct(0o640)}


def test_console_script_prints_a_usage_error_as_one_line(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    """`qcalo train gan --iterations abc`: one line naming the option and where help is, exit 2."""
    from qcalo.cli import run

    for argv, expected in (
        (["qcalo", "train", "gan", "--iterations", "abc"], "'--iterations'"),
        (["qcalo", "train", "gan", "--nope"], "--nope"),
        (["qcalo", "frob"], "frob"),
    ):
        monkeypatch.setattr("sys.argv", argv)
        with pytest.raises(SystemExit) as stop:
            run()
        assert stop.value.code == 2
        lines = capsys.readouterr().err.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("error: ") and expected in lines[0] and "--help" in lines[0]
    monkeypatch.setattr("sys.argv", ["qcalo", "--version"])
    with pytest.raises(SystemExit) as stop:
        run()
    assert stop.value.code == 0 and "qcalo" in capsys.readouterr().out
