"""Run directories: the lock, the folder checks, undoing a failed start, clearing, fingerprints."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from qcalo.configs import QAGConfig
from qcalo.data.clic import ClicSplits
from qcalo.data.synthetic import synthetic_clic_splits
from qcalo.exceptions import CheckpointError, ConfigError
from qcalo.train.qag import train_qag
from qcalo.train.rundir import (
    LOCK_NAME,
    check_run_dir,
    clear_evaluation,
    clear_run,
    data_fingerprint,
    open_run,
    run_lock,
)

pytestmark = pytest.mark.usefixtures("torch_single_thread")
SRC = Path(__file__).resolve().parents[1] / "src"
TINY = {
    "n_pixels": 4, "ansatz": "hea", "n_layers": 1, "optimizer": "adam", "images": 8,
    "monitor_images": 10, "shots": 64, "checkpoint_every": 4, "epochs": 6,
}  # fmt: skip


@pytest.fixture(scope="module")
def data() -> ClicSplits:
    train, val, test = synthetic_clic_splits(seed=0, sizes=(200, 60, 60), n_pixels=4)
    return ClicSplits(train, val, test, source="synthetic", location="tests")


# -- fingerprint -------------------------------------------------------------------------
def test_data_fingerprint_is_over_the_numbers(data: ClicSplits) -> None:
    """Same arrays elsewhere: same sha256; one value, or one row moved between splits: another."""
    same = ClicSplits(data.train.copy(), data.val.copy(), data.test.copy(), source="real", location="/x")
    assert data_fingerprint(same) == data_fingerprint(data)
    assert len(data_fingerprint(data)) == 64
    changed = data.test.copy()
    changed[3, 2] = np.nextafter(changed[3, 2], 1.0)
    assert data_fingerprint(ClicSplits(data.train, data.val, changed, source="synthetic", location="tests")) != data_fingerprint(data)
    moved = ClicSplits(data.train, data.val[:-1], np.vstack([data.val[-1:], data.test]), source="synthetic", location="tests")
    assert data_fingerprint(moved) != data_fingerprint(data)


# -- the lock ----------------------------------------------------------------------------
def test_lock_refuses_a_second_holder_naming_its_pid(tmp_path: Path) -> None:
    """A second holder (another process here) gets one line with the holder's pid."""
    code = (
        "import sys, time; from qcalo.train.rundir import run_lock\n"
        f"with run_lock({str(tmp_path)!r}):\n    print('locked', flush=True); time.sleep(30)\n"
    )
    holder = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True, env={**os.environ, "PYTHONPATH": str(SRC)})
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "locked"
        with pytest.raises(CheckpointError) as caught, run_lock(tmp_path):
            pass
        assert str(caught.value) == (
            f"{tmp_path} is in use by another qcalo process (pid {holder.pid}); wait for it or use another --out"
        )
    finally:
        holder.kill()
        holder.wait()
    with run_lock(tmp_path):  # the kernel released the dead holder's lock
        assert (tmp_path / LOCK_NAME).read_text().strip() == str(os.getpid())


def test_lock_in_the_same_process_is_refused_too(tmp_path: Path) -> None:
    """flock is per open file, so even this process cannot enter a run twice."""
    with run_lock(tmp_path), pytest.raises(CheckpointError, match=f"pid {os.getpid()}"), run_lock(tmp_path):
        pass


def test_lock_removes_stale_temp_files(tmp_path: Path) -> None:
    """A killed writer's 0-byte hidden temp files go when the lock is taken; other files stay."""
    stale = tmp_path / ".summary.json.k3j2.tmp"
    stale.touch()
    keep = tmp_path / "notes.tmp"
    keep.touch()
    with run_lock(tmp_path):
        assert not stale.exists() and keep.exists()


# -- folder checks -----------------------------------------------------------------------
def test_check_run_dir(tmp_path: Path) -> None:
    """A file, a folder of other files (even with --overwrite), a run without --overwrite: refused."""
    afile = tmp_path / "file"
    afile.write_text("x")
    with pytest.raises(CheckpointError, match="is a file"):
        check_run_dir(afile, resume=False, overwrite=False)
    other = tmp_path / "other"
    other.mkdir()
    (other / "thesis.tex").write_text("x")
    for overwrite in (False, True):
        with pytest.raises(CheckpointError, match="thesis.tex.*holds no qcalo run"):
            check_run_dir(other, resume=False, overwrite=overwrite)
    run = tmp_path / "run"
    run.mkdir()
    (run / LOCK_NAME).touch()
    check_run_dir(run, resume=False, overwrite=False)  # a lock file alone is an empty run folder
    (run / "config.yaml").write_text("x")
    with pytest.raises(CheckpointError, match="--overwrite"):
        check_run_dir(run, resume=False, overwrite=False)
    check_run_dir(run, resume=False, overwrite=True)
    with pytest.raises(CheckpointError, match="no checkpoint.json"):
        check_run_dir(run, resume=True, overwrite=False)


@pytest.mark.parametrize("where", ["new/nested", "existing-empty"])
def test_open_run_undoes_a_failed_start(where: str, tmp_path: Path) -> None:
    """A failure before checkpoint.json exists removes what was created, folders included."""
    out = tmp_path / where
    if where == "existing-empty":
        out.mkdir()
    with pytest.raises(RuntimeError), open_run(out, resume=False, overwrite=False):
        (out / "config.yaml").write_text("x")
        (out / "metrics.csv").write_text("epoch\n")
        raise RuntimeError("failed start")
    assert list(tmp_path.iterdir()) == ([out] if where == "existing-empty" else [])
    assert not out.exists() or list(out.iterdir()) == []


def test_open_run_keeps_a_run_once_checkpointed(tmp_path: Path) -> None:
    with pytest.raises(KeyboardInterrupt), open_run(tmp_path / "run", resume=False, overwrite=False):
        (tmp_path / "run" / "checkpoint.json").write_text("{}")
        raise KeyboardInterrupt
    assert (tmp_path / "run" / "checkpoint.json").is_file()


def test_clear_run_and_clear_evaluation(tmp_path: Path) -> None:
    """clear_evaluation: summary and its figures; clear_run: everything qcalo wrote."""
    written = ["config.yaml", "metrics.csv", "checkpoint.json", "model.json", "environment.json",
               "train_summary.json", "summary.json", "pixels.png", "extra_figure.png", "generated.h5"]  # fmt: skip
    for name in written:
        (tmp_path / name).write_text("{}")
    (tmp_path / "summary.json").write_text('{"figures": ["extra_figure.png"]}')
    clear_evaluation(tmp_path)
    assert not any((tmp_path / n).exists() for n in ("summary.json", "pixels.png", "extra_figure.png"))
    assert (tmp_path / "model.json").exists()
    clear_run(tmp_path)
    assert list(tmp_path.iterdir()) == []


# -- through train_qag -------------------------------------------------------------------
def test_failed_start_leaves_nothing_and_the_rerun_works(data: ClicSplits, tmp_path: Path) -> None:
    """A crash before the first checkpoint removes the run; the same command then runs."""
    out = tmp_path / "run"

    def crash(epoch: int, _loss: float) -> None:
        if epoch == 1:
            raise RuntimeError("crash before the first checkpoint")

    with pytest.raises(RuntimeError):
        train_qag(QAGConfig(**TINY), data, out, progress=crash)
    assert not out.exists()
    assert train_qag(QAGConfig(**TINY), data, out).epochs_done == TINY["epochs"]


@pytest.mark.parametrize(
    ("changes", "words"),
    [({"images": 500}, ["images=500", "200 training images"]), ({"n_pixels": 8}, ["[n >= 2, 8]", "--pixels 4"])],
)
def test_data_that_does_not_fit_is_refused_before_anything_is_written(
    changes: dict, words: list[str], data: ClicSplits, tmp_path: Path
) -> None:
    with pytest.raises(ConfigError) as caught:
        train_qag(QAGConfig(**{**TINY, **changes}), data, tmp_path / "run")
    assert "\n" not in str(caught.value) and all(w in str(caught.value) for w in words)
    assert not (tmp_path / "run").exists()


def test_run_files_follow_the_umask(data: ClicSplits, tmp_path: Path) -> None:
    """Every file a run creates is 0666 & ~umask (not mkstemp's 0600), the folder 0777 & ~umask."""
    previous = os.umask(0o027)
    try:
        out = train_qag(QAGConfig(**TINY), data, tmp_path / "run").run_dir
    finally:
        os.umask(previous)
    assert stat.S_IMODE(out.stat().st_mode) == 0o750
    modes = {p.name: stat.S_IMODE(p.stat().st_mode) for p in out.iterdir()}
    assert {"metrics.csv", "checkpoint.json", "model.json", LOCK_NAME} <= set(modes)
    assert modes == dict.fromkeys(modes, 0o640), modes


def test_the_lock_is_held_for_the_whole_training(data: ClicSplits, tmp_path: Path) -> None:
    """During training the run is locked: a second train_qag on it (here: --overwrite) is refused."""
    out = tmp_path / "run"
    refusals: list[str] = []

    def second_process(epoch: int, _loss: float) -> None:
        if epoch == 2:
            with pytest.raises(CheckpointError) as caught:
                train_qag(QAGConfig(**TINY, seed=9), data, out, overwrite=True)
            refusals.append(str(caught.value))

    started = time.perf_counter()
    train_qag(QAGConfig(**TINY), data, out, progress=second_process)
    assert time.perf_counter() - started < 60
    assert len(refusals) == 1 and "in use by another qcalo process" in refusals[0]
    assert "seed: 0" in (out / "config.yaml").read_text()
