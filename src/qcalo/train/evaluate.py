"""Evaluate generated showers against the held-out test set, with the baselines that give them meaning.

MMD here is computed on **pixel energies** (not the encoded ⟨Z⟩ values the loss uses), MUA
convention, bandwidth scale ``m`` = median pairwise distance of the training images, so the
numbers compare directly with ``notes/clic8.md`` §6 (floor ≈ 1.2e-3 at n = 250).

An MMD is only meaningful with its sample size ``n``, so every figure is reported at each ``n`` in
``n_eval`` (default 250 and 1000: at 250 a model 1.2× the floor can be 2× at 1000, where its
flaws show), each over ``n_sets`` independent sets:

* ``test_mmd`` — generated set vs its own random test subset of ``n`` showers;
* ``floor`` — the same estimator between a validation and a test subset: a perfect generator;
* ``gaussian`` — a **trivial baseline**: a multivariate Gaussian with the training set's mean and
  covariance (unclipped), scored exactly like the model. A model that does not beat it has not
  learnt the shower shapes beyond their first two moments;
* each mean with its standard error, and the ratios to the floor with theirs (delta method).

**Noise.** Generation runs under the noise the run was trained with unless ``noise`` says
otherwise (a :class:`~qcalo.models.qag.NoiseSetting`, or ``None`` for noiseless), so a run
trained clean can be evaluated noisy and vice versa; ``summary.json`` records both
(``noise``: the evaluation's, ``train_noise``: the training's; ``null`` = noiseless).

On the large sample: correlation loss (with the real-vs-real value beside it), the energy-sum
separation power, and the generated/real **width ratio of the energy sum** (± bootstrap error).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch

from qcalo.exceptions import ConfigError
from qcalo.metrics import (
    correlation_loss,
    energy_sum,
    energy_sum_separation,
    median_distance,
    mmd_repeated,
    ratio_with_error,
)
from qcalo.report.plots import (
    plot_correlation_matrices,
    plot_energy_sum,
    plot_loss_curves,
    plot_pixel_distributions,
    read_metrics_csv,
)
from qcalo.train.qag import AS_TRAINED, epoch_generator, model_from_run, train_noise
from qcalo.train.rundir import read_json, write_json

__all__ = [
    "DEFAULT_N_EVAL", "evaluate_run", "format_summary", "generate_images", "resolve_noise", "score_images",
]  # fmt: skip

DEFAULT_N_EVAL: tuple[int, ...] = (250, 1000)
"""Sample sizes every MMD is reported at."""

_BOOTSTRAP_RESAMPLES = 200


def generate_images(
    run_dir: Path | str,
    n_images: int,
    *,
    seed: int = 0,
    chunk: int = 5000,
    progress: Callable[[int], None] | None = None,
    noise: Any = AS_TRAINED,
) -> np.ndarray:
    """``n_images`` pixel-energy images ``[n, n_pixels]`` from a trained run (seeded).

    ``progress(done)`` is called after each chunk with the number of images made so far.
    ``noise``: ``AS_TRAINED`` (default), a :class:`~qcalo.models.qag.NoiseSetting` or ``None``.
    """
    model, weights, codec, config = model_from_run(run_dir, noise)
    torch.set_num_threads(config.threads)
    if model.noise is not None and model.noise.sampling == "joint":
        chunk = min(chunk, 256)  # joint shots need B × 4^n density-matrix coefficients
    generator, _ = epoch_generator(seed, 0, stream=2)  # stream 2: evaluation only
    parts = []
    with torch.no_grad():
        for start in range(0, n_images, chunk):
            z = model.sample_z(weights, min(chunk, n_images - start), generator=generator).double()
            parts.append(codec.decode(z).numpy())
            if progress is not None:
                progress(start + len(parts[-1]))
    return np.concatenate(parts) if parts else np.empty((0, codec.n_pixels))


def resolve_noise(device: str | None, scale: float | None, run_dir: Path | str) -> Any:
    """The evaluation noise of ``--noise DEVICE|none`` / ``--noise-scale X`` for a run.

    Neither given: ``AS_TRAINED``. ``--noise none``: noiseless. Otherwise the given parts,
    the rest from the run's training noise (or ``fake_fez`` at x = 1). Checked here (unknown
    device, x < 0 or non-finite → one-line ``ConfigError``) and the model is built once, so a
    line too short for the circuit fails before anything is written.
    """
    from qcalo.configs import load_qag_config
    from qcalo.models.qag import NoiseSetting

    if device is None and scale is None:
        return AS_TRAINED
    if device is not None and device.strip().lower() == "none":
        return None
    trained = train_noise(load_qag_config(Path(run_dir) / "config.yaml")) or NoiseSetting()
    checked = load_qag_config(
        None, noise=device or trained.device, noise_scale=trained.scale if scale is None else scale
    )
    setting = NoiseSetting(checked.noise, checked.noise_scale, trained.sampling)
    model_from_run(run_dir, setting)
    return setting


def _as_sizes(n_eval: int | Sequence[int]) -> tuple[int, ...]:
    sizes = (n_eval,) if isinstance(n_eval, int) else tuple(n_eval)
    if not sizes or any(isinstance(n, bool) or not isinstance(n, int) or n < 2 for n in sizes):
        raise ConfigError(f"n_eval={n_eval!r}; use integers ≥ 2")
    return sizes


def evaluate_run(
    run_dir: Path | str,
    data: Any,
    *,
    n_eval: int | Sequence[int] = DEFAULT_N_EVAL,
    n_sets: int = 30,
    n_large: int = 20000,
    seed: int = 0,
    figures: bool = True,
    samples: np.ndarray | None = None,
    noise: Any = AS_TRAINED,
) -> dict[str, Any]:
    """Score a finished run, write ``summary.json`` (and PNG figures) into it, return the summary.

    Generates ``n_sets · Σ n_eval`` showers for independent MMD sets plus ``n_large`` for the
    large-sample metrics and figures; or scores the given ``samples`` (e.g. a file written by
    ``qcalo generate``), whose MMD sets are then resampled when they are too few.
    """
    run_dir = Path(run_dir)
    model, _w, _codec, config = model_from_run(run_dir, noise)
    train_summary = read_json(run_dir / "train_summary.json")
    sizes = _as_sizes(n_eval)
    if samples is None:
        generated = generate_images(run_dir, n_sets * sum(sizes) + n_large, seed=seed, noise=model.noise)
    else:
        generated = np.asarray(samples, dtype=np.float64)
        n_large = min(n_large, len(generated))
    summary = {
        **score_images(generated, data, n_eval=sizes, n_sets=n_sets, seed=seed),
        "train_seconds": float(train_summary["train_seconds"]),
        "epochs_done": int(train_summary["epochs_done"]),
        "ansatz": config.ansatz,
        "n_params": int(train_summary["n_params"]),
        "noise": None if samples is not None or model.noise is None else model.noise.record(),
        "train_noise": None if (trained := train_noise(config)) is None else trained.record(),
    }
    if figures:
        summary["figures"] = [p.name for p in _figures(run_dir, data, generated[-n_large:])]
    write_json(run_dir / "summary.json", summary)
    return summary


def score_images(
    generated: np.ndarray,
    data: Any,
    *,
    n_eval: int | Sequence[int] = DEFAULT_N_EVAL,
    n_sets: int = 30,
    seed: int = 0,
) -> dict[str, Any]:
    """The evaluation metrics of generated pixel-energy images, however they were made.

    ``data`` has ``train``, ``val``, ``test`` arrays and ``source``. When ``generated`` holds at
    least ``n_sets · Σ n_eval`` showers plus a large sample, the MMD sets are disjoint slices of
    it (independent); otherwise (a file of a few thousand showers) each set is a random subset
    drawn without replacement within the set, and ``sets_resampled`` says so. The large-sample
    metrics use the last ``max(len − n_sets · Σ n_eval, …)`` showers, or all of them when resampled.

    Top-level MMD keys (``test_mmd_mean`` …, ``mmd_ratio_to_floor(_se)``) are those of the first
    size in ``n_eval``; ``by_n`` holds every size.
    """
    sizes = _as_sizes(n_eval)
    generated = np.asarray(generated, dtype=np.float64)
    for n in sizes:
        if n > min(len(data.test), len(data.val)):
            raise ConfigError(
                f"n_eval={n} exceeds the test ({len(data.test)}) or validation ({len(data.val)}) "
                "split; use a smaller --n-eval"
            )
        if n > len(generated):
            raise ConfigError(f"n_eval={n} exceeds the {len(generated)} generated showers; generate more")
    needed = n_sets * sum(sizes)
    resampled = len(generated) < needed + max(sizes)
    large = generated if resampled else generated[needed:]
    scale = median_distance(data.train, seed=seed)
    rng = np.random.default_rng([seed, 11])
    mean, covariance = data.train.mean(axis=0), np.cov(data.train, rowvar=False)
    by_n, offset = {}, 0
    for n in sizes:
        sets, tests, vals, gaussians = [], [], [], []
        for _ in range(n_sets):
            if resampled:
                sets.append(generated[rng.choice(len(generated), n, replace=False)])
            else:
                sets.append(generated[offset : offset + n])
                offset += n
            tests.append(data.test[rng.choice(len(data.test), n, replace=False)])
            vals.append(data.val[rng.choice(len(data.val), n, replace=False)])
            gaussians.append(rng.multivariate_normal(mean, covariance, n))
        by_n[str(n)] = _mmd_block(sets, tests, vals, gaussians, scale)
    first = by_n[str(sizes[0])]
    gaussian_large = rng.multivariate_normal(mean, covariance, len(large))
    width, width_se = _width_ratio(large, data.test, rng)
    return {
        "test_mmd_mean": first["test_mmd_mean"],
        "test_mmd_std": first["test_mmd_std"],
        "test_mmd_se": first["test_mmd_se"],
        "val_mmd_mean": first["val_mmd_mean"],
        "real_mmd_floor_mean": first["real_mmd_floor_mean"],
        "real_mmd_floor_std": first["real_mmd_floor_std"],
        "mmd_ratio_to_floor": first["mmd_ratio_to_floor"],
        "mmd_ratio_to_floor_se": first["mmd_ratio_to_floor_se"],
        "gaussian_ratio_to_floor": first["gaussian_ratio_to_floor"],
        "gaussian_ratio_to_floor_se": first["gaussian_ratio_to_floor_se"],
        "by_n": by_n,
        "n_eval": sizes[0],
        "n_evals": list(sizes),
        "n_sets": n_sets,
        "n_large": len(large),
        "sets_resampled": resampled,
        "corr_loss": float(correlation_loss(large, data.test)),
        "real_corr_loss_floor": float(correlation_loss(data.val, data.test)),
        "gaussian_corr_loss": float(correlation_loss(gaussian_large, data.test)),
        "energy_sum_separation": float(energy_sum_separation(large, data.test)),
        "gaussian_energy_sum_separation": float(energy_sum_separation(gaussian_large, data.test)),
        "energy_sum_width_ratio": width,
        "energy_sum_width_ratio_se": width_se,
        "energy_sum_mean_ratio": float(energy_sum(large).mean() / energy_sum(data.test).mean()),
        "mmd_scale_m": scale,
        "mmd_convention": "biased V-statistic, mean of 6 Gaussian kernels exp(-d^2/(2 s)), "
        "s = m*{0.1,0.5,1,2,5,10}, pixel energies",
        "data_source": data.source,
    }


def _mmd_block(
    sets: list[np.ndarray], tests: list[np.ndarray], vals: list[np.ndarray], gaussians: list[np.ndarray], scale: float
) -> dict[str, float]:
    """Model, floor and Gaussian baseline at one sample size, each ``(mean, se)``, and the ratios."""
    test = mmd_repeated(sets, tests, scale=scale)
    val = mmd_repeated(sets, vals, scale=scale)
    floor = mmd_repeated(vals, tests, scale=scale)
    gaussian = mmd_repeated(gaussians, tests, scale=scale)
    ratio, ratio_se = ratio_with_error(test, floor)
    gaussian_ratio, gaussian_ratio_se = ratio_with_error(gaussian, floor)
    root_k = np.sqrt(len(sets))
    return {
        "test_mmd_mean": test[0],
        "test_mmd_se": test[1],
        "test_mmd_std": test[1] * root_k,
        "val_mmd_mean": val[0],
        "real_mmd_floor_mean": floor[0],
        "real_mmd_floor_se": floor[1],
        "real_mmd_floor_std": floor[1] * root_k,
        "gaussian_mmd_mean": gaussian[0],
        "gaussian_mmd_se": gaussian[1],
        "mmd_ratio_to_floor": ratio,
        "mmd_ratio_to_floor_se": ratio_se,
        "gaussian_ratio_to_floor": gaussian_ratio,
        "gaussian_ratio_to_floor_se": gaussian_ratio_se,
    }


def _width_ratio(generated: np.ndarray, real: np.ndarray, rng: np.random.Generator) -> tuple[float, float]:
    """std(energy sum, generated) / std(energy sum, real) and its bootstrap standard error."""
    gen_sum, real_sum = energy_sum(generated), energy_sum(real)
    ratio = float(gen_sum.std(ddof=1) / real_sum.std(ddof=1))
    resampled = [
        gen_sum[rng.integers(0, len(gen_sum), len(gen_sum))].std(ddof=1)
        / real_sum[rng.integers(0, len(real_sum), len(real_sum))].std(ddof=1)
        for _ in range(_BOOTSTRAP_RESAMPLES)
    ]
    return ratio, float(np.std(resampled, ddof=1))


def _figures(run_dir: Path, data: Any, generated: np.ndarray) -> list[Path]:
    real_label = "Real (Geant4)" if data.source == "real" else "Real (synthetic stand-in)"
    labels = {"label_real": real_label, "label_gen": "Generated (QAG)"}
    paths = [
        plot_energy_sum(data.test, generated, run_dir / "energy_sum.png", **labels),
        plot_correlation_matrices(data.test, generated, run_dir / "correlations.png", **labels),
        plot_pixel_distributions(data.test, generated, run_dir / "pixels.png", **labels),
    ]
    metrics_csv = run_dir / "metrics.csv"
    if metrics_csv.exists():
        paths.insert(0, plot_loss_curves(read_metrics_csv(metrics_csv), run_dir / "loss_curves.png"))
    return paths


def format_summary(summary: dict[str, Any]) -> str:
    """The lines ``qcalo evaluate`` prints for a ``summary.json``: every figure beside its baselines."""
    lines = [f"MMD on pixel energies, {summary['n_sets']} sets per n (ratio to the real-vs-real floor ± se):"]
    for n, block in summary["by_n"].items():
        lines.append(
            f"  n={n:>5}: model {block['test_mmd_mean']:.3e} = {block['mmd_ratio_to_floor']:.2f} ± "
            f"{block['mmd_ratio_to_floor_se']:.2f} × floor ({block['real_mmd_floor_mean']:.3e});   "
            f"Gaussian baseline {block['gaussian_ratio_to_floor']:.2f} ± {block['gaussian_ratio_to_floor_se']:.2f} × floor"
        )
    resampled = " (MMD sets resampled from the given showers)" if summary.get("sets_resampled") else ""
    lines.append(
        f"correlation loss (n={summary['n_large']}): model {summary['corr_loss']:.4f}, "
        f"real-vs-real {summary['real_corr_loss_floor']:.4f}, Gaussian {summary['gaussian_corr_loss']:.4f}{resampled}"
    )
    lines.append(
        f"energy sum: width gen/real {summary['energy_sum_width_ratio']:.3f} ± {summary['energy_sum_width_ratio_se']:.3f}, "
        f"mean gen/real {summary['energy_sum_mean_ratio']:.3f}, separation power {summary['energy_sum_separation']:.4f} "
        f"(Gaussian {summary['gaussian_energy_sum_separation']:.4f})"
    )
    if "noise" in summary:
        lines.append(f"noise: generated under {_noise_text(summary['noise'])}, trained under {_noise_text(summary['train_noise'])}")
    if "train_seconds" in summary:
        lines.append(f"train time {summary['train_seconds']:.1f} s, {summary['epochs_done']} epochs")
    return "\n".join(lines)


def _noise_text(record: dict[str, Any] | None) -> str:
    return "none (noiseless)" if record is None else f"{record['device']} x={record['scale']:g} ({record['sampling']} shots)"
