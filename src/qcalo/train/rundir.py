"""Run directories: config, environment, metrics log and checkpoints, all written atomically.

Layout of a run directory::

    config.yaml        the validated configuration
    environment.json   versions, platform, threads, data source, start time
    metrics.csv        one row per epoch (see ``qcalo.train.qag.METRIC_COLUMNS``)
    checkpoint.json    what ``--resume`` needs
    model.json         the trained model: enough to generate images again
    train_summary.json wall time, epochs done, why training stopped
"""

from __future__ import annotations

import csv
import json
import os
import platform
import sys
import tempfile
from collections.abc import Sequence
from datetime import datetime, timezone
from importlib import metadata
from pathlib import Path
from typing import Any

import yaml

from qcalo.exceptions import CheckpointError

__all__ = ["write_atomic", "write_json", "read_json", "environment_record", "MetricsLog", "prepare_run_dir"]

_PACKAGES = ("qcalo", "numpy", "scipy", "torch", "qiskit", "qiskit-aer", "h5py", "pydantic")


def write_atomic(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` via a temp file in the same folder and a rename."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w") as handle:
            handle.write(text)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def write_json(path: Path, payload: Any) -> None:
    """Atomic, pretty-printed JSON."""
    write_atomic(path, json.dumps(payload, indent=2, sort_keys=True) + "\n")


def read_json(path: Path) -> Any:
    """Read JSON, turning a missing or corrupt file into a one-line :class:`CheckpointError`."""
    if not path.is_file():
        raise CheckpointError(f"{path} not found; is {path.parent} a qcalo run directory?")
    try:
        return json.loads(path.read_text())
    except json.JSONDecodeError as error:
        raise CheckpointError(f"{path} is not valid JSON ({error.msg}); delete the run and train again") from None


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
        "started_utc": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        **extra,
    }


def prepare_run_dir(out: Path, *, resume: bool, overwrite: bool) -> None:
    """Create ``out`` or check it may be used; refuses to mix two runs in one folder."""
    has_run = (out / "config.yaml").exists()
    if resume:
        if not (out / "checkpoint.json").exists():
            raise CheckpointError(f"{out} has no checkpoint.json to resume from; train without --resume")
        return
    if has_run and not overwrite:
        raise CheckpointError(f"{out} already holds a run; pass --resume to continue it or --overwrite to replace it")
    if has_run:
        for name in ("config.yaml", "environment.json", "metrics.csv", "checkpoint.json", "model.json", "train_summary.json", "summary.json"):
            (out / name).unlink(missing_ok=True)
    out.mkdir(parents=True, exist_ok=True)


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
