"""Run configurations: pydantic schemas and the YAML files that reproduce the sources' tables.

``qag-clic8-adam.yaml`` is qcalo's recipe and the default: the seed's model family trained by
Adam with exact gradients through the simulator (k = 256, cosine step size, λ = 0.3
correlation term).
``qag-clic8.yaml`` reproduces Table 1 of seed 000 (k = 50 images, 600 epochs, 2048 shots,
σ² = 0.5, COBYLA tol 0.004 and rhobeg 5.593): pass ``--config qag-clic8``.

Numbers are checked by :mod:`qcalo.validate` (the project's one validator per fact), so a
bad value is one line naming the field, and ``True`` is never taken for a count.
"""

from __future__ import annotations

import math
from importlib import resources
from pathlib import Path
from typing import Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationInfo,
    field_validator,
    model_validator,
)

from qcalo import validate
from qcalo.exceptions import ConfigError

__all__ = ["DEFAULT_CONFIG", "QAGConfig", "default_config_path", "load_qag_config"]

DEFAULT_CONFIG = "qag-clic8-adam"


class QAGConfig(BaseModel):
    """Everything that defines a QAG training run (saved as ``config.yaml`` in the run dir)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    n_pixels: int = Field(8, description="pixels per image = qubits (2 to 16)")
    ansatz: str = Field("clic8", description="ansatz name (qcalo.models.qag.ANSATZE)")
    n_layers: int | None = Field(None, description="ansatz depth; null = the ansatz's default")
    sigma2: float = Field(0.5, description="variance of the randomizing angles (> 0)")
    shots: int | None = Field(2048, description="shots per image; null = exact expectation values")
    sampling: Literal["joint", "marginal"] = "joint"
    images: int = Field(50, description="k: generated and real images compared per epoch (≥ 2)")
    epochs: int = Field(600, description="objective evaluations (COBYLA) or updates (Adam)")
    optimizer: Literal["cobyla", "adam"] = "cobyla"
    tol: float = Field(0.004, description="COBYLA final trust-region radius")
    rhobeg: float = Field(5.593, description="COBYLA initial trust-region radius")
    learning_rate: float = Field(0.05, description="Adam step size (the start of the schedule)")
    lr_schedule: Literal["constant", "cosine"] = Field("constant", description="Adam step-size schedule")
    lr_min: float = Field(0.002, description="final step size of the cosine schedule")
    corr_weight: float = Field(0.0, description="λ ≥ 0: loss = MMD + λ · correlation loss")
    codec_quantile: float = Field(
        0.999, description="pixel scale = 1.1 × this quantile of the training pixel (0.5 to 1; 1 = maximum)"
    )
    init_spread: float = Field(0.1, description="sd (≥ 0) of the initial angles around 0")
    monitor_images: int = Field(250, description="images per epoch for the train/val monitors (≥ 10)")
    monitor_every: int = Field(1, description="epochs between monitor rows")
    checkpoint_every: int = Field(25, description="epochs between checkpoints")
    dtype: Literal["complex64", "complex128"] = "complex64"
    threads: int = Field(1, description="torch threads; 1 is fastest for these small states")
    seed: int = Field(0, description="seed of everything random in the run (≥ 0)")
    noise: str | None = Field(
        None, description="train under this fake device's noise (e.g. fake_fez); null = noiseless"
    )
    noise_scale: float = Field(1.0, description="noise scale x ≥ 0 (0 = noiseless, 1 = as calibrated)")
    noise_sampling: Literal["joint", "marginal"] = Field(
        "marginal", description="shots under noise: per-qubit marginals (~5× cheaper) or bitstrings"
    )

    @field_validator("noise", mode="before")
    @classmethod
    def _noise_device(cls, value: object) -> str | None:
        """A fake device's canonical name (``fez`` → ``fake_fez``); ``none`` → noiseless."""
        if value is None or (isinstance(value, str) and value.strip().lower() in ("", "none")):
            return None
        from qcalo.quantum.noise import fake_backend

        return str(fake_backend(str(value)).name)

    @field_validator("noise_scale", mode="before")
    @classmethod
    def _noise_scale(cls, value: object) -> float:
        from qcalo.quantum.noise import check_scale

        return check_scale(_yaml_number(value))

    @field_validator("ansatz")
    @classmethod
    def _known_ansatz(cls, name: str) -> str:
        from qcalo.models.qag import ANSATZE

        if name not in ANSATZE:
            raise ValueError(f"unknown ansatz {name!r}; choose one of {', '.join(ANSATZE)}")
        return name

    @field_validator("images", "epochs", "monitor_every", "checkpoint_every", "threads", mode="before")
    @classmethod
    def _positive_count(cls, value: object, info: ValidationInfo) -> int:
        low = {"images": 2}.get(info.field_name, 1)
        return validate.int_in_range(value, info.field_name, low)

    @field_validator("n_layers", "shots", mode="before")
    @classmethod
    def _optional_count(cls, value: object, info: ValidationInfo) -> int | None:
        return None if value is None else validate.positive_int(value, info.field_name)

    @field_validator("n_pixels", mode="before")
    @classmethod
    def _pixels(cls, value: object) -> int:
        return validate.int_in_range(value, "n_pixels", 2, 16)

    @field_validator("monitor_images", mode="before")
    @classmethod
    def _monitor_images(cls, value: object) -> int:
        return validate.int_in_range(value, "monitor_images", 10)

    @field_validator("seed", mode="before")
    @classmethod
    def _seed(cls, value: object) -> int:
        return validate.nonnegative_int(value, "seed")

    @field_validator("sigma2", "tol", "rhobeg", "learning_rate", "lr_min", mode="before")
    @classmethod
    def _positive_number(cls, value: object, info: ValidationInfo) -> float:
        return validate.positive_float(_yaml_number(value), info.field_name)

    @field_validator("corr_weight", "init_spread", "codec_quantile", mode="before")
    @classmethod
    def _bounded_number(cls, value: object, info: ValidationInfo) -> float:
        number = validate.finite_float(_yaml_number(value), info.field_name)
        low, high = {"codec_quantile": (0.5, 1.0)}.get(info.field_name, (0.0, math.inf))
        if not low <= number <= high:
            raise ConfigError(f"{info.field_name}={value!r}; use a number from {low} to {high}")
        return number

    @model_validator(mode="after")
    def _cosine_goes_down(self) -> QAGConfig:
        if self.lr_schedule == "cosine" and self.lr_min > self.learning_rate:
            raise ValueError(
                f"lr_min={self.lr_min} is above learning_rate={self.learning_rate}; the cosine schedule "
                "runs from learning_rate down to lr_min"
            )
        return self


def _yaml_number(value: object) -> object:
    """YAML 1.1 reads ``1e-3`` (no dot) as a string; take a string that is a plain number."""
    if isinstance(value, str):
        try:
            return float(value)
        except ValueError:
            return value
    return value


def default_config_path(name: str = DEFAULT_CONFIG) -> Path:
    """A packaged configuration (default: qcalo's Adam recipe; ``"qag-clic8"`` is Table 1)."""
    return Path(str(resources.files("qcalo.configs") / f"{name}.yaml"))


def load_qag_config(path: Path | str | None = None, **overrides: Any) -> QAGConfig:
    """Read a YAML config (default: ``qag-clic8-adam``), apply non-None ``overrides``, validate.

    Raises:
        ConfigError: unreadable file or an invalid value — one line naming the field.
    """
    from qcalo.configs.loading import validated

    return validated(QAGConfig, Path(path) if path is not None else default_config_path(), overrides)
