"""Train a QAG by Maximum Mean Discrepancy: COBYLA (the seed's choice) or Adam (exact gradients).

One **epoch** is one evaluation of the loss: ``k`` fresh images are generated (fresh
randomizing angles, fresh shots) and compared with ``k`` real images drawn at random from
the training set, both *encoded* (``PixelCodec``) into ⟨Z⟩ space. The loss is

    MMD (biased V-statistic, average of six Gaussian kernels exp(−d²/(2 s)),
    s = m · {0.1, 0.5, 1, 2, 5, 10}, m = median pairwise distance of encoded training images)
    + λ · correlation loss                                      (λ = ``corr_weight``, default 0)

following the DESY group's MUA convention (``notes/clic8.md`` §5a). With COBYLA an epoch is
one objective evaluation (``maxiter = epochs``); with Adam it is one update.

Every epoch's randomness derives from ``(seed, epoch)`` alone, and SciPy's COBYLA (PRIMA) is
deterministic, so ``--resume`` *replays* the interrupted run from its recorded losses (no
circuit is simulated for replayed epochs) and continues bit-identically.

**Extending a run**: ``--resume --epochs N`` may raise ``epochs``. COBYLA's evaluations do not
depend on its budget (``maxiter``), and constant-step Adam's updates do not depend on
``epochs``, so the extended run *is* the run trained with ``N`` epochs from the start (tested
bit for bit). A cosine schedule's step size at every epoch depends on ``epochs``, so raising it
would leave a run whose first part followed another schedule: refused, train a new run.
Each resume is recorded in ``environment.json`` (``resumes``: epoch, old and new ``epochs``).

Monitors, logged per epoch to ``metrics.csv`` on a fresh set of ``monitor_images`` generated
images against fixed subsets of the same size of the encoded training and validation sets:

* ``mmd`` — the loss's MMD;
* ``corr_loss`` — mean over the 64 entries of (ρ_gen − ρ_real)², Pearson matrices;
* ``mse`` — mean over pixels of the squared difference of the mean images;
* ``chi2`` — reduced χ² (ROOT "WW") of the energy-sum histograms, 30 bins.
"""

from __future__ import annotations

import hashlib
import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from qcalo.configs import QAGConfig
from qcalo.exceptions import CheckpointError
from qcalo.metrics import (
    correlation_loss,
    energy_sum_chi2,
    mean_squared_error,
    median_distance,
    mmd,
)
from qcalo.models.qag import QAG, NoiseSetting, PixelCodec
from qcalo.train.preflight import check_data_fits, check_resume, check_run_dir
from qcalo.train.rundir import (
    DataSplits,
    MetricsLog,
    data_fingerprint,
    data_location,
    environment_record,
    open_run,
    read_json,
    save_config,
    utc_now,
    write_json,
)

__all__ = [
    "AS_TRAINED", "METRIC_COLUMNS", "DataSplits", "TrainResult", "build_model", "epoch_generator",
    "model_from_run", "train_noise", "train_qag",
]  # fmt: skip
AS_TRAINED = "as-trained"
"""``noise=AS_TRAINED``: evaluate/generate under the noise the run was trained with."""

METRIC_COLUMNS = (
    "epoch", "loss",
    "train_mmd", "val_mmd", "train_corr_loss", "val_corr_loss",
    "train_mse", "val_mse", "train_chi2", "val_chi2", "seconds",
)  # fmt: skip


@dataclass(frozen=True)
class TrainResult:
    """Where the run went and how it ended."""

    run_dir: Path
    epochs_done: int
    final_loss: float
    train_seconds: float
    stop_reason: str


def epoch_generator(seed: int, epoch: int, stream: int = 0) -> tuple[torch.Generator, np.random.Generator]:
    """Independent torch and numpy generators for one epoch (and stream), from the seed alone."""
    words = np.random.SeedSequence([seed, epoch, stream]).generate_state(2, dtype=np.uint64)
    return torch.Generator().manual_seed(int(words[0] >> np.uint64(1))), np.random.default_rng(int(words[1]))


def train_noise(config: QAGConfig) -> NoiseSetting | None:
    """The noise a config trains under (``None``: noiseless)."""
    return None if config.noise is None else NoiseSetting(config.noise, config.noise_scale, config.noise_sampling)


def build_model(config: QAGConfig, noise: NoiseSetting | None | str = AS_TRAINED) -> QAG:
    """The QAG a config describes, under its training noise or ``noise`` (``None``: noiseless)."""
    dtype = torch.complex64 if config.dtype == "complex64" else torch.complex128
    return QAG(
        config.n_pixels,
        config.ansatz,
        n_layers=config.n_layers,
        sigma2=config.sigma2,
        shots=config.shots,
        sampling=config.sampling,
        dtype=dtype,
        noise=train_noise(config) if noise == AS_TRAINED else noise,
    )


class _Monitor:
    """Per-epoch monitors on fixed train/val subsets (encoded space)."""

    def __init__(self, model: QAG, config: QAGConfig, encoded: dict[str, np.ndarray], bandwidth: float) -> None:
        self.model, self.config, self.bandwidth = model, config, bandwidth
        rng = np.random.default_rng([config.seed, 7])
        n = config.monitor_images
        self.reference = {
            split: torch.as_tensor(images[rng.choice(len(images), min(n, len(images)), replace=False)])
            for split, images in encoded.items()
        }

    def __call__(self, weights: np.ndarray, epoch: int) -> dict[str, float]:
        generator, _ = epoch_generator(self.config.seed, epoch, stream=1)
        with torch.no_grad():
            z = self.model.sample_z(weights, self.config.monitor_images, generator=generator).double()
        row: dict[str, float] = {}
        for split, real in self.reference.items():
            row[f"{split}_mmd"] = float(mmd(z, real, scale=self.bandwidth))
            row[f"{split}_corr_loss"] = float(correlation_loss(z, real))
            row[f"{split}_mse"] = float(mean_squared_error(z, real))
            row[f"{split}_chi2"] = float(energy_sum_chi2(z.numpy(), real.numpy()))
        return row


class _Trainer:
    """Holds one run's state; ``loss_at`` is the objective for both optimizers."""

    def __init__(self, config: QAGConfig, data: DataSplits, run_dir: Path, *, progress: Callable[[int, float], None] | None) -> None:
        # Everything that can fail on bad input happens here, before the run folder is touched.
        self.config, self.run_dir, self.progress = config, run_dir, progress
        self.model = build_model(config)
        self.codec = PixelCodec.from_images(data.train, quantile=config.codec_quantile)
        encoded = {"train": self.codec.encode(data.train), "val": self.codec.encode(data.val)}
        self.train_encoded = torch.as_tensor(encoded["train"])
        self.bandwidth = median_distance(encoded["train"], seed=config.seed)
        self.monitor = _Monitor(self.model, config, encoded, self.bandwidth)
        self.losses: list[float] = []
        self.digests: list[str] = []
        self.replay: list[tuple[float, str]] = []
        self.adam_state: dict | None = None
        self.weights = self.model.init_weights(config.seed, spread=config.init_spread)
        self.elapsed_before = 0.0

    def start(self, *, resume: bool) -> None:
        """Load the checkpoint (``resume``) and open ``metrics.csv``: the first writes."""
        if resume:
            self._load_checkpoint()
        self.log = MetricsLog(self.run_dir / "metrics.csv", METRIC_COLUMNS, keep_epochs_below=len(self.replay) if resume else None)
        self.started = time.perf_counter()
        self.last_checkpoint = len(self.replay)

    # -- objective ----------------------------------------------------------------------
    def loss_at(self, weights: np.ndarray | torch.Tensor) -> torch.Tensor:
        """This epoch's loss (differentiable when ``weights`` requires grad)."""
        epoch = len(self.losses)
        generator, rng = epoch_generator(self.config.seed, epoch)
        # In the simulator's precision: float32 halves the kernel work of a complex64 run, and
        # ⟨Z⟩ on the 1/shots grid is exact in it. Monitors and evaluation stay in float64.
        z = self.model.sample_z(weights, self.config.images, generator=generator)
        real = self.train_encoded[rng.choice(len(self.train_encoded), self.config.images, replace=False)].to(z.dtype)
        loss = mmd(z, real, scale=self.bandwidth)
        if self.config.corr_weight:
            loss = loss + self.config.corr_weight * correlation_loss(z, real)
        return loss

    def record(self, weights: np.ndarray, loss: float, *, current: np.ndarray | None = None) -> None:
        """Book-keeping after a live epoch: metrics row, progress, periodic checkpoint.

        ``weights`` were evaluated; ``current`` (default: the same) is where training now stands.
        """
        epoch = len(self.losses)
        self.losses.append(loss)
        self.digests.append(_digest(weights))
        self.weights = np.array(weights if current is None else current, dtype=np.float64)
        if epoch % self.config.monitor_every == 0 or epoch == self.config.epochs - 1:
            row = {"epoch": epoch, "loss": loss, "seconds": self.seconds(), **self.monitor(weights, epoch)}
            self.log.append(row)
        if self.progress is not None:
            self.progress(epoch, loss)
        if epoch + 1 - self.last_checkpoint >= self.config.checkpoint_every:
            self.checkpoint()

    def replayed(self, weights: np.ndarray) -> float | None:
        """The recorded loss if this epoch is being replayed after ``--resume``."""
        epoch = len(self.losses)
        if epoch >= len(self.replay):
            return None
        loss, digest = self.replay[epoch]
        if _digest(weights) != digest:
            raise CheckpointError(
                f"{self.run_dir}: resumed run diverged from the recording at epoch {epoch} "
                "(different qcalo/SciPy version?); train again without --resume"
            )
        self.losses.append(loss)
        self.digests.append(digest)
        self.weights = np.array(weights, dtype=np.float64)
        return loss

    # -- state --------------------------------------------------------------------------
    def seconds(self) -> float:
        return self.elapsed_before + time.perf_counter() - self.started

    def checkpoint(self, extra: dict | None = None) -> None:
        payload = {
            "epoch": len(self.losses),
            "losses": self.losses,
            "digests": self.digests,
            "weights": self.weights.tolist(),
            "elapsed_seconds": self.seconds(),
            "adam_state": self.adam_state,
            **(extra or {}),
        }
        write_json(self.run_dir / "checkpoint.json", payload)
        self.last_checkpoint = len(self.losses)

    def _load_checkpoint(self) -> None:
        state = read_json(self.run_dir / "checkpoint.json")
        try:
            self.replay = list(zip(state["losses"], state["digests"], strict=True))
            self.elapsed_before = float(state["elapsed_seconds"])
            self.adam_state = state.get("adam_state")
            self.resume_weights = np.asarray(state["weights"], dtype=np.float64)
            self.weights = self.resume_weights.copy()
        except (KeyError, TypeError, ValueError) as error:
            raise CheckpointError(f"{self.run_dir}/checkpoint.json is incomplete ({error}); train again without --resume") from None


def _digest(weights: np.ndarray | torch.Tensor) -> str:
    array = np.ascontiguousarray(np.asarray(weights.detach() if isinstance(weights, torch.Tensor) else weights, dtype=np.float64))
    return hashlib.sha1(array.tobytes()).hexdigest()[:16]


def _run_cobyla(trainer: _Trainer) -> tuple[np.ndarray, str]:
    from scipy.optimize import minimize

    config = trainer.config

    def objective(weights: np.ndarray) -> float:
        cached = trainer.replayed(weights)
        if cached is not None:
            return cached
        with torch.no_grad():
            loss = float(trainer.loss_at(weights))
        trainer.record(weights, loss)
        return loss

    result = minimize(
        objective,
        trainer.model.init_weights(config.seed, spread=config.init_spread),
        method="COBYLA",
        options={"maxiter": config.epochs, "rhobeg": config.rhobeg, "tol": config.tol},
    )
    return np.asarray(result.x, dtype=np.float64), str(result.message)


def _run_adam(trainer: _Trainer) -> tuple[np.ndarray, str]:
    config = trainer.config
    start = trainer.resume_weights if trainer.replay else trainer.weights
    weights = torch.nn.Parameter(torch.as_tensor(start, dtype=trainer.model.simulator.real_dtype))
    optimizer = torch.optim.Adam([weights], lr=config.learning_rate)
    if trainer.adam_state:
        optimizer.load_state_dict(_adam_state_from_json(trainer.adam_state))
    trainer.losses = [loss for loss, _ in trainer.replay]
    trainer.digests = [digest for _, digest in trainer.replay]
    for epoch in range(len(trainer.losses), config.epochs):
        for group in optimizer.param_groups:
            group["lr"] = learning_rate(config, epoch)
        optimizer.zero_grad()
        loss = trainer.loss_at(weights)
        loss.backward()
        evaluated = weights.detach().double().numpy().copy()
        optimizer.step()
        trainer.adam_state = _adam_state_to_json(optimizer.state_dict())
        trainer.record(evaluated, float(loss.detach()), current=weights.detach().double().numpy().copy())
    return trainer.weights, f"Adam: {config.epochs} updates done"


def learning_rate(config: QAGConfig, epoch: int) -> float:
    """Adam's step size at ``epoch``: constant, or cosine from ``learning_rate`` to ``lr_min``.

    A function of the epoch alone (no scheduler state), so a resumed run continues exactly.
    """
    if config.lr_schedule == "constant":
        return config.learning_rate
    progress = epoch / max(1, config.epochs - 1)
    return config.lr_min + (config.learning_rate - config.lr_min) * (1 + math.cos(math.pi * progress)) / 2


def _adam_state_to_json(state: dict) -> dict:
    return {
        "state": {str(k): {n: (v.tolist() if isinstance(v, torch.Tensor) else v) for n, v in s.items()} for k, s in state["state"].items()},
        "param_groups": state["param_groups"],
    }


def _adam_state_from_json(state: dict) -> dict:
    return {
        "state": {int(k): {n: torch.tensor(v) for n, v in s.items()} for k, s in state["state"].items()},
        "param_groups": state["param_groups"],
    }


def train_qag(
    config: QAGConfig,
    data: DataSplits,
    run_dir: Path | str,
    *,
    resume: bool = False,
    overwrite: bool = False,
    progress: Callable[[int, float], None] | None = None,
) -> TrainResult:
    """Train a QAG on ``data``; everything lands in ``run_dir``.

    Everything is checked (folder, config, resume settings, data sizes, model) before the
    folder is touched; a failure before the first checkpoint removes what was created. The
    run holds ``run_dir``'s lock throughout (:func:`qcalo.train.rundir.run_lock`).

    Args:
        config: validated settings (``qcalo.configs.load_qag_config``).
        data: train/val/test images (only train and val are used here).
        run_dir: output folder (created).
        resume: continue the run in ``run_dir`` from its last checkpoint (``config.epochs``
            may be raised: see :func:`qcalo.train.preflight.check_resume`).
        overwrite: replace an existing run in ``run_dir``.
        progress: called as ``progress(epoch, loss)`` after each live epoch.
    """
    run_dir = Path(run_dir)
    check_run_dir(run_dir, resume=resume, overwrite=overwrite)
    if resume:
        check_resume(run_dir, config, data)
    torch.set_num_threads(config.threads)
    trainer = _Trainer(config, data, run_dir, progress=progress)
    check_data_fits(config, data, trainer.model.n_params)
    with open_run(run_dir, resume=resume, overwrite=overwrite):
        if resume:
            saved = check_resume(run_dir, config, data)  # again, under the lock
            trainer.start(resume=True)
            environment = read_json(run_dir / "environment.json")
            entry = {"utc": utc_now(), "at_epoch": len(trainer.replay), "epochs": config.epochs}
            if saved.epochs != config.epochs:
                entry["epochs_before"] = saved.epochs
            environment["resumes"] = [*environment.get("resumes", []), entry]
            write_json(run_dir / "environment.json", environment)
        else:
            record = environment_record(data_source=data.source, data_location=data_location(data), data_sha256=data_fingerprint(data))
            write_json(run_dir / "environment.json", record)
            trainer.start(resume=False)
        save_config(run_dir, config)
        try:
            weights, message = (_run_cobyla if config.optimizer == "cobyla" else _run_adam)(trainer)
        except KeyboardInterrupt:
            trainer.checkpoint()
            raise
        return _finish(trainer, weights, message)


def _finish(trainer: _Trainer, weights: np.ndarray, message: str) -> TrainResult:
    run_dir = trainer.run_dir
    trainer.weights = weights
    trainer.checkpoint({"finished": True})
    train_seconds = trainer.seconds()
    write_json(
        run_dir / "model.json",
        {
            "kind": "qag",
            "weights": weights.tolist(),
            "codec_scale": list(trainer.codec.scale),
            "mmd_bandwidth_encoded": trainer.bandwidth,
            "n_params": trainer.model.n_params,
        },
    )
    summary = {
        "epochs_done": len(trainer.losses),
        "final_loss": trainer.losses[-1] if trainer.losses else math.nan,
        "train_seconds": train_seconds,
        "stop_reason": message,
        "n_params": trainer.model.n_params,
    }
    write_json(run_dir / "train_summary.json", summary)
    return TrainResult(run_dir, summary["epochs_done"], summary["final_loss"], train_seconds, message)


def model_from_run(
    run_dir: Path | str, noise: NoiseSetting | None | str = AS_TRAINED
) -> tuple[QAG, np.ndarray, PixelCodec, QAGConfig]:
    """Rebuild the trained model of a finished run: ``(qag, weights, codec, config)``, under the
    noise it was trained with or ``noise`` (a run trained clean can be run noisy and vice versa)."""
    from qcalo.configs import load_qag_config

    run_dir = Path(run_dir)
    config = load_qag_config(run_dir / "config.yaml")
    saved = read_json(run_dir / "model.json")
    model = build_model(config, noise)
    weights = np.asarray(saved["weights"], dtype=np.float64)
    if weights.shape != (model.n_params,):
        raise CheckpointError(f"{run_dir}/model.json has {weights.size} weights, the model needs {model.n_params}")
    return model, weights, PixelCodec(tuple(saved["codec_scale"])), config
