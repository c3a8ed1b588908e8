"""Checks a training run passes before it touches its folder (one line each, nothing written).

Separate from :mod:`qcalo.train.qag` so the training loop stays about training; everything
here reads, nothing writes.
"""

from __future__ import annotations

from pathlib import Path

from qcalo.configs import QAGConfig
from qcalo.exceptions import CheckpointError, ConfigError
from qcalo.train.rundir import DataSplits, check_run_dir, data_fingerprint, data_location, read_json

__all__ = ["check_data_fits", "check_resume", "check_run_dir", "data_mismatch"]


def check_data_fits(config: QAGConfig, data: DataSplits, n_params: int) -> None:
    """Refuse (one line) data or a budget this config cannot train on; writes nothing."""
    for split in ("train", "val"):
        array = getattr(data, split)
        if array.ndim != 2 or array.shape[1] != config.n_pixels or len(array) < 2:
            raise ConfigError(
                f"{split} data from {data.location} has shape {array.shape}, the config needs "
                f"[n >= 2, {config.n_pixels}]; pass --pixels {array.shape[-1]} or other --data"
            )
    if config.images > len(data.train):
        raise ConfigError(
            f"images={config.images} is above the {len(data.train)} training images in {data.location}; "
            f"lower --images to at most {len(data.train)} or use a larger training set"
        )
    minimum = n_params + 2
    if config.optimizer == "cobyla" and config.epochs < minimum:
        raise ConfigError(
            f"epochs={config.epochs} is below COBYLA's minimum of n_params + 2 = {minimum} for this ansatz; "
            "raise --epochs or use --optimizer adam"
        )


def check_resume(run_dir: Path, config: QAGConfig, data: DataSplits) -> QAGConfig:
    """Refuse (one line) resuming ``run_dir`` with another config or other data; return its config.

    Only ``epochs`` may differ, and only upwards: COBYLA's evaluations do not depend on its
    budget (the extended run is the run that would have had the larger budget), nor do
    constant-step Adam's updates. A cosine schedule is a function of ``epochs``, so raising
    it would change the step sizes of epochs already taken: refused (train a new run).
    """
    from qcalo.configs import load_qag_config

    saved = load_qag_config(run_dir / "config.yaml")
    changed = {k: (getattr(saved, k), getattr(config, k)) for k in QAGConfig.model_fields if getattr(saved, k) != getattr(config, k)}
    if others := {k: v for k, v in changed.items() if k != "epochs"}:
        listed = "; ".join(f"{k}: run {a!r}, given {b!r}" for k, (a, b) in others.items())
        raise CheckpointError(f"{run_dir}: settings differ from the run's config.yaml ({listed}); resume without them or train a new --out")
    if "epochs" in changed:
        before, after = changed["epochs"]
        if after < before:
            raise CheckpointError(f"{run_dir}: epochs can only be raised on resume (run {before}, given {after}); drop --epochs")
        if config.optimizer == "adam" and config.lr_schedule == "cosine":
            raise CheckpointError(
                f"{run_dir}: epochs cannot be raised on resume of a cosine-schedule run (run {before}, given {after}): "
                "every step size depends on epochs; train a new --out with --epochs"
            )
    if mismatch := data_mismatch(run_dir, data):
        raise CheckpointError(f"{mismatch}; pass the run's own --data or train a new --out")
    return saved


def data_mismatch(run_dir: Path, data: DataSplits) -> str | None:
    """How ``data`` differs from the data ``run_dir`` was trained on, or ``None`` if it does not.

    Compares the sha256 recorded in ``environment.json``; a run recorded before fingerprints
    existed is compared by source (real / synthetic) alone.
    """
    environment = read_json(run_dir / "environment.json")
    recorded, given = environment.get("data_sha256"), data_fingerprint(data)
    same = recorded == given if recorded is not None else environment.get("data_source") in (None, data.source)
    if same:
        return None
    return (
        f"{run_dir} was trained on {environment.get('data_source')} data from {environment.get('data_location')} "
        f"(sha256 {str(recorded)[:12]}), not on the given {data.source} data from {data_location(data)} "
        f"(sha256 {given[:12]})"
    )
