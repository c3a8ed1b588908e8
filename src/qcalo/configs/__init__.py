"""Run configurations: pydantic schemas and the YAML files that reproduce the sources' tables.

``qag-clic8.yaml`` holds Table 1 of seed 000 (k = 50 images, 600 epochs, 2048 shots,
σ² = 0.5, COBYLA tol 0.004 and rhobeg 5.593): the default.
``qag-clic8-adam.yaml`` is qcalo's recipe: the same model family trained by Adam with exact
gradients through the simulator (k = 256, cosine step size, λ = 0.3 correlation term).
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from qcalo.exceptions import ConfigError

__all__ = ["QAGConfig", "load_qag_config", "default_config_path"]


class QAGConfig(BaseModel):
    """Everything that defines a QAG training run (saved as ``config.yaml`` in the run dir)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    n_pixels: int = Field(8, ge=2, le=16, description="pixels per image = qubits")
    ansatz: str = Field("clic8", description="ansatz name (qcalo.models.qag.ANSATZE)")
    n_layers: int | None = Field(None, ge=1, description="ansatz depth; null = the ansatz's default")
    sigma2: float = Field(0.5, gt=0, description="variance of the randomizing angles")
    shots: int | None = Field(2048, gt=0, description="shots per image; null = exact expectation values")
    sampling: Literal["joint", "marginal"] = "joint"
    images: int = Field(50, ge=2, description="k: generated and real images compared per epoch")
    epochs: int = Field(600, ge=1, description="objective evaluations (COBYLA) or updates (Adam)")
    optimizer: Literal["cobyla", "adam"] = "cobyla"
    tol: float = Field(0.004, gt=0, description="COBYLA final trust-region radius")
    rhobeg: float = Field(5.593, gt=0, description="COBYLA initial trust-region radius")
    learning_rate: float = Field(0.05, gt=0, description="Adam step size (the start of the schedule)")
    lr_schedule: Literal["constant", "cosine"] = Field("constant", description="Adam step-size schedule")
    lr_min: float = Field(0.002, gt=0, description="final step size of the cosine schedule")
    corr_weight: float = Field(0.0, ge=0, description="λ: loss = MMD + λ · correlation loss")
    codec_quantile: float = Field(
        0.999, ge=0.5, le=1.0, description="pixel scale = 1.1 × this quantile of the training pixel (1 = maximum)"
    )
    init_spread: float = Field(0.1, ge=0, description="sd of the initial angles around 0")
    monitor_images: int = Field(250, ge=10, description="images per epoch for the train/val monitors")
    monitor_every: int = Field(1, ge=1)
    checkpoint_every: int = Field(25, ge=1)
    dtype: Literal["complex64", "complex128"] = "complex64"
    threads: int = Field(1, ge=1, description="torch threads; 1 is fastest for these small states")
    seed: int = 0

    @field_validator("ansatz")
    @classmethod
    def _known_ansatz(cls, name: str) -> str:
        from qcalo.models.qag import ANSATZE

        if name not in ANSATZE:
            raise ValueError(f"unknown ansatz {name!r}; choose one of {', '.join(ANSATZE)}")
        return name


def default_config_path(name: str = "qag-clic8") -> Path:
    """A packaged configuration (default: Table 1)."""
    return Path(str(resources.files("qcalo.configs") / f"{name}.yaml"))


def load_qag_config(path: Path | str | None = None, **overrides: Any) -> QAGConfig:
    """Read a YAML config (default: Table 1), apply non-None ``overrides``, validate.

    Raises:
        ConfigError: unreadable file or an invalid value — one line naming the field.
    """
    path = Path(path) if path is not None else default_config_path()
    if not path.is_file():
        raise ConfigError(f"config file {path} not found; pass an existing YAML file")
    try:
        values = yaml.safe_load(path.read_text()) or {}
    except yaml.YAMLError as error:
        raise ConfigError(f"{path}: not valid YAML ({str(error).splitlines()[0]})") from None
    if not isinstance(values, dict):
        raise ConfigError(f"{path}: expected a mapping of settings, got {type(values).__name__}")
    if bad_keys := [k for k in values if not isinstance(k, str)]:
        raise ConfigError(f"{path}: setting names must be words, got {bad_keys!r}")
    given = {k: v for k, v in overrides.items() if v is not None}
    values.update(given)
    try:
        return QAGConfig(**values)
    except ValidationError as error:
        first = error.errors()[0]
        field = ".".join(str(p) for p in first["loc"]) or "config"
        where = "command-line option" if field in given else str(path)
        raise ConfigError(f"{where}: {field}: {first['msg']} (got {first.get('input')!r})") from None
