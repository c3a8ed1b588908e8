"""Run directories: what a run holds, who may write it, and how a failed start is undone.

Layout of a run directory::

    config.yaml        the validated configuration
    environment.json   versions, platform, threads, data source/location/sha256, start, resumes
    metrics.csv        one row per epoch (see ``qcalo.train.qag.METRIC_COLUMNS``)
    checkpoint.json    what ``--resume`` needs
    model.json         the trained model: enough to generate images again
    train_summary.json wall time, epochs done, why training stopped
    summary.json, *.png   ``qcalo evaluate``'s scores and figures
    .qcalo.lock        the lock file (:func:`run_lock`); holds the pid of its last holder

Every file is written through :mod:`qcalo.atomic` (permissions follow the umask). A run
directory is used by one process at a time: training and evaluation hold :func:`run_lock`
for their whole duration, so two trainings cannot interleave ``metrics.csv`` and
``--overwrite`` cannot replace a run under a live training.
"""

from __future__ import annotations

import csv
import fcntl
import hashlib
import json
import os
import platform
import shutil
import sys
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import Any, Protocol

import numpy as np
import yaml

from qcalo import atomic
from qcalo.atomic import remove_stale_temps
from qcalo.exceptions import CheckpointError

__all__ = [
    "EVALUATION_FILES",
    "LOCK_NAME",
    "RUN_FILES",
    "DataSplits",
    "MetricsLog",
    "check_run_dir",
    "clear_evaluation",
    "clear_run",
    "data_fingerprint",
    "data_location",
    "environment_record",
    "open_run",
    "read_json",
    "run_lock",
    "save_config",
    "user_entries",
    "utc_now",
    "write_atomic",
    "write_json",
]

_PACKAGES = ("qcalo", "numpy", "scipy", "torch", "qiskit", "qiskit-aer", "h5py", "pydantic")
LOCK_NAME = ".qcalo.lock"
RUN_FILES = (
    "config.yaml", "environment.json", "metrics.csv", "checkpoint.json", "model.json",
    "train_summary.json",
    "chi2.csv", "latest.pt", "best.pt",  # GAN runs (qcalo.train.gan)
)  # fmt: skip
EVALUATION_FILES = ("summary.json", "loss_curves.png", "energy_sum.png", "correlations.png", "pixels.png", "etot.png")
# Files other qcalo commands may write into a run (images generated from it): cleared by
# --overwrite with the rest, since they belong to the model being replaced.
_GENERATED_GLOBS = ("*.png", "generated*")

write_atomic = atomic.write_text  # the project's one atomic writer, under rundir's old names
write_json = atomic.write_json


class DataSplits(Protocol):
    """What training and evaluation need from a data set (``ClicSplits`` is one)."""

    train: np.ndarray
    val: np.ndarray
    test: np.ndarray
    source: str
    location: str


def read_json(path: Path) -> Any:
    """Read JSON, turning a missing or corrupt file into a one-line :class:`CheckpointError`."""
    if not path.is_file():
        raise CheckpointError(f"{path} not found; is {path.parent} a qcalo run directory?")
    try:
        return json.loads(path.read_text())
    except json.JSONDecodeError as error:
        raise CheckpointError(f"{path} is not valid JSON ({error.msg}); delete the run and train again") from None


def data_fingerprint(data: DataSplits) -> str:
    """sha256 over the train, val and test arrays (shape and float64 values, in that order).

    Two data sets with this fingerprint are the same numbers, wherever they were read from.
    """
    digest = hashlib.sha256()
    for split in (data.train, data.val, data.test):
        array = np.ascontiguousarray(split, dtype=np.float64)
        digest.update(repr(array.shape).encode())
        digest.update(array.tobytes())
    return digest.hexdigest()


def data_location(data: DataSplits) -> str:
    """The data's location, resolved to an absolute folder when it is one."""
    return str(Path(data.location).resolve()) if data.source == "real" else str(data.location)


def utc_now() -> str:
    """The time now, UTC, to the second (ISO 8601)."""
    return datetime.now(UTC).isoformat(timespec="seconds")


def environment_record(**extra: Any) -> dict[str, Any]:
    """Versions and platform facts that make a run reproducible."""
    import torch

    versions = {}
    for name in _PACKAGES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = None
    return {
        "python": sys.version.split()[0],
        "platform": platform.platform(),
        "versions": versions,
        "torch_threads": torch.get_num_threads(),
        "cpu_count": os.cpu_count(),
        "started_utc": utc_now(),
        **extra,
    }


# -- who may use a folder -----------------------------------------------------------------
def user_entries(out: Path) -> list[str]:
    """Entries of ``out`` other than the lock file and stale temp files."""
    return sorted(
        p.name for p in out.iterdir() if p.name != LOCK_NAME and not (p.name.startswith(".") and p.name.endswith(atomic.TEMP_SUFFIX))
    )


def check_run_dir(out: Path, *, resume: bool, overwrite: bool) -> None:
    """Refuse (one line) a folder this run may not use; creates nothing.

    A new run needs a new or empty folder, or ``overwrite`` and an existing qcalo run (a
    folder with ``config.yaml``); a folder of other files is never written into.
    """
    if out.exists() and not out.is_dir():
        raise CheckpointError(f"--out {out} is a file, not a folder; pass a folder path")
    if resume:
        if not (out / "checkpoint.json").is_file():
            raise CheckpointError(f"{out} holds no run to resume (no checkpoint.json); train without --resume")
        return
    if not out.is_dir():
        return
    if (out / "config.yaml").is_file():
        if not overwrite:
            raise CheckpointError(f"{out} already holds a run; pass --resume to continue it or --overwrite to replace it")
        return
    if entries := user_entries(out):
        shown = ", ".join(entries[:3]) + (", …" if len(entries) > 3 else "")
        raise CheckpointError(
            f"{out} is not empty ({shown}) and holds no qcalo run; pass a new or empty --out"
        )


@contextmanager
def run_lock(run_dir: Path | str) -> Iterator[Path]:
    """Hold the run's lock (``fcntl.flock`` on ``.qcalo.lock``) for the ``with`` block.

    Refuses with one line when another process holds it; on acquiring, removes temp files a
    killed process left (no live writer can own them then). ``run_dir`` must exist. The
    lock file stays (removing it would let a third process lock a fresh inode while a
    second still holds the old one).
    """
    run_dir = Path(run_dir)
    path = run_dir / LOCK_NAME
    try:
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o666)
    except OSError as error:
        raise CheckpointError(f"cannot write to {run_dir} ({error.strerror}); pass a writable --out") from None
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            pid = os.pread(fd, 32, 0).decode(errors="replace").strip() or "unknown"
            raise CheckpointError(
                f"{run_dir} is in use by another qcalo process (pid {pid}); wait for it or use another --out"
            ) from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
        remove_stale_temps(run_dir)
        yield path
    finally:
        os.close(fd)  # closing the last descriptor releases the flock


def clear_evaluation(run_dir: Path) -> None:
    """Remove ``qcalo evaluate``'s previous summary and figures (before writing new ones)."""
    names = set(EVALUATION_FILES)
    try:
        names.update(str(n) for n in read_json(run_dir / "summary.json").get("figures", []))
    except (CheckpointError, AttributeError):
        pass
    for name in names:
        if "/" not in name:
            (run_dir / name).unlink(missing_ok=True)


def clear_run(run_dir: Path) -> None:
    """Remove everything qcalo wrote in a run (for ``--overwrite``); the lock file stays."""
    clear_evaluation(run_dir)
    for name in RUN_FILES:
        (run_dir / name).unlink(missing_ok=True)
    for pattern in _GENERATED_GLOBS:
        for path in run_dir.glob(pattern):
            shutil.rmtree(path) if path.is_dir() else path.unlink(missing_ok=True)


@contextmanager
def open_run(out: Path, *, resume: bool, overwrite: bool) -> Iterator[Path]:
    """Create (or reuse) ``out``, lock it, check it again under the lock, clear it for overwrite.

    If the block fails before ``checkpoint.json`` exists, everything this call created is
    removed again (the files, the lock file, the folder), so a failed start leaves no stub
    that would block a rerun or ``--resume``. Once a checkpoint exists the run is kept:
    ``--resume`` continues it.
    """
    check_run_dir(out, resume=resume, overwrite=overwrite)
    created = [parent for parent in (out, *out.parents) if not parent.exists()]
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise CheckpointError(f"cannot create {out} ({error.strerror}); pass a writable --out") from None
    lock_existed = (out / LOCK_NAME).exists()
    try:
        with run_lock(out):
            check_run_dir(out, resume=resume, overwrite=overwrite)  # again: another run may have started
            if overwrite and not resume:
                clear_run(out)
            before = set(os.listdir(out))
            try:
                yield out
            except BaseException:
                if not (out / "checkpoint.json").is_file():
                    for name in set(os.listdir(out)) - before:
                        path = out / name
                        shutil.rmtree(path) if path.is_dir() else path.unlink(missing_ok=True)
                    if not lock_existed:
                        (out / LOCK_NAME).unlink(missing_ok=True)
                raise
    except BaseException:
        for folder in created:  # innermost first; only if this call made them and they are empty
            try:
                folder.rmdir()
            except OSError:
                break
        raise


def save_config(out: Path, config: Any) -> None:
    """``config.yaml`` from a pydantic model."""
    write_atomic(out / "config.yaml", yaml.safe_dump(config.model_dump(), sort_keys=False))


class MetricsLog:
    """Append-only ``metrics.csv``, one flushed row per epoch (so a crash loses nothing).

    On resume, rows at or after the checkpoint's epoch are dropped first: they will be
    written again, identically, by the replayed run.
    """

    def __init__(self, path: Path, columns: Sequence[str], *, keep_epochs_below: int | None = None) -> None:
        self.path = path
        self.columns = list(columns)
        if keep_epochs_below is not None and path.exists():
            with path.open(newline="") as handle:
                rows = [row for row in csv.DictReader(handle) if int(row["epoch"]) < keep_epochs_below]
            self._rewrite(rows)
        elif not path.exists() or keep_epochs_below is None:
            self._rewrite([])

    def _rewrite(self, rows: list[dict[str, str]]) -> None:
        lines = [",".join(self.columns)] + [",".join(row[c] for c in self.columns) for row in rows]
        write_atomic(self.path, "\n".join(lines) + "\n")

    def append(self, row: dict[str, float]) -> None:
        with self.path.open("a") as handle:
            handle.write(",".join(_fmt(row[c]) for c in self.columns) + "\n")
            handle.flush()


def _fmt(value: float) -> str:
    return str(int(value)) if isinstance(value, int) else f"{value:.8g}"
