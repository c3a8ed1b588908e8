"""A GAN run from start to summary: data, run directory, training, checkpoint selection, test score.

``run_gan`` is what ``qcalo train gan`` calls. Data: a dataset-1 file given with ``data`` (the
``single``/``three``/custom subset is drawn from it, seeded), else qcalo's synthetic pion
stand-in (announced). The run directory follows :mod:`qcalo.train.rundir` (locked while written;
a failed start leaves nothing; ``--resume`` checks the config and the data fingerprint).

Selection (``evaluate_gan``): the best checkpoint is the argmin of the "all energies" χ²/NDF in
``chi2.csv`` (scored on the validation part by default, on the training sample with
``select_on: train`` as the public code); ⟨χ²⟩ is the mean over the ±``window`` checkpoints
around it; with a reference run, the same window's mean of the reference (the seed's ⟨χ²⟩_c).
The best generator is then scored on the **held-out test part**, per energy and overall: once
with one generated shower per test event (the public code's figure, ``test_chi2_ndf``, with its
bootstrap se and baselines), and as the mean over ``TEST_DRAWS`` such generated samples
(``test_chi2_ndf_draws_mean`` ± se over the draws). One draw's χ²/NDF carries its generated
sample's noise (sd 0.3–0.5 for one best checkpoint at 1000 events, measured), as large as the
differences between models; the mean says what the checkpoint scores on this test part in
expectation. Draw i uses seed ``seed + 10**7 + i``, so draw 0 is the one-draw figure.
"""

from __future__ import annotations

import csv
import math
from collections.abc import Callable
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import numpy as np

from qcalo.configs.gan import GANConfig
from qcalo.exceptions import CheckpointError, ConfigError

TEST_DRAWS = 10
"""Generated samples the best checkpoint is scored on against the test part (cheap: 10 × the test part's size)."""

__all__ = ["TEST_DRAWS", "evaluate_gan", "load_gan_data", "parse_subset", "read_chi2_csv", "reevaluate_gan", "run_gan", "write_gan_showers"]


def parse_subset(text: str) -> tuple[str | None, tuple[float, ...] | None, tuple[int, ...] | None]:
    """``"single"``/``"three"`` or ``"E1:n1,E2:n2"`` (MeV:events) → (preset, energies, counts)."""
    if ":" not in text:
        return text, None, None
    energies, counts = [], []
    for item in text.split(","):
        try:
            energy, count = item.split(":")
            energies.append(float(energy))
            counts.append(int(count))
        except ValueError:
            raise ConfigError(f"subset {text!r}: write 'single', 'three' or 'E1:n1,E2:n2' (MeV:events)") from None
    return None, tuple(energies), tuple(counts)


def load_gan_data(config: GANConfig, data: Path | None) -> tuple[Any, str, str]:
    """The run's subset, its source ("real"/"synthetic") and location."""
    from qcalo.data.calochallenge import read_ds1
    from qcalo.data.calochallenge_subsets import make_subset

    preset, energies, counts = parse_subset(config.subset)
    if data is not None:
        showers = read_ds1(data, config.particle)
        subset = make_subset(showers, preset, energies=energies, counts=counts, seed=config.seed, source=str(data))
        return subset, "real", str(Path(data).resolve())
    if config.particle != "pions":
        raise ConfigError(f"no synthetic stand-in for {config.particle}; pass --data with a dataset-1 file")
    from qcalo.data.synthetic_pions import synthetic_pion_subset

    subset = synthetic_pion_subset(preset, energies=energies, counts=counts, seed=config.seed)
    return subset, "synthetic", f"synthetic-pions(seed={config.seed})"


def _fingerprint_view(subset: Any) -> SimpleNamespace:
    """Train/val/test as [energy | showers] arrays, for :func:`qcalo.train.rundir.data_fingerprint`."""
    parts = {
        part: np.column_stack([getattr(subset, f"{part}_energies"), getattr(subset, f"{part}_showers")])
        for part in ("train", "val", "test")
    }
    return SimpleNamespace(**parts)


def run_gan(
    config: GANConfig,
    out: Path,
    *,
    data: Path | None = None,
    resume: bool = False,
    overwrite: bool = False,
    max_minutes: float | None = None,
    reference_run: Path | None = None,
    progress: Callable[[int, dict[str, float] | None], None] | None = None,
    notice: Callable[[str], None] | None = None,
) -> dict[str, Any]:
    """Train (or resume) a GAN in ``out``, then select and score; returns the summary."""
    from qcalo.atomic import write_json
    from qcalo.train.gan import train_gan
    from qcalo.train.rundir import (
        data_fingerprint,
        environment_record,
        open_run,
        read_json,
        save_config,
    )

    if max_minutes is not None and not (math.isfinite(max_minutes) and max_minutes > 0):
        raise ConfigError(f"--max-minutes {max_minutes}; use a number of minutes > 0")
    if resume and data is None and (out / "environment.json").is_file():
        recorded = read_json(out / "environment.json")
        if recorded.get("data_source") == "real":
            data = Path(recorded["data_location"])
    subset, source, location = load_gan_data(config, data)
    if source == "synthetic" and notice is not None:
        notice(f"no --data given: training on qcalo's synthetic pion stand-in ({location}); "
               "for the real showers run `qcalo data download calochallenge-ds1-pions` and pass --data")  # fmt: skip
    fingerprint = data_fingerprint(_fingerprint_view(subset))
    with open_run(out, resume=resume, overwrite=overwrite) as run_dir:
        if resume:
            _check_resume(run_dir, config, fingerprint)
        else:
            save_config(run_dir, config)
            write_json(run_dir / "environment.json", environment_record(
                data_source=source, data_location=location, data_sha256=fingerprint, subset=subset.name,
            ))  # fmt: skip
        select = subset.part("train" if config.select_on == "train" else "val")
        result = train_gan(config, subset.part("train"), select, run_dir, resume=resume, max_minutes=max_minutes, progress=progress)
        write_json(run_dir / "train_summary.json", {
            "iterations": result.iterations, "train_seconds": result.seconds, "stop_reason": result.stop_reason,
            "seconds_per_iteration": result.seconds / max(result.iterations, 1),
        })  # fmt: skip
        return evaluate_gan(run_dir, subset, config, reference_run=reference_run)


def _check_resume(run_dir: Path, config: GANConfig, fingerprint: str) -> None:
    from qcalo.configs.gan import load_gan_config
    from qcalo.train.rundir import read_json

    saved = load_gan_config(run_dir / "config.yaml")
    differing = [key for key in GANConfig.model_fields if getattr(saved, key) != getattr(config, key) and key != "iterations"]
    if differing:
        shown = "; ".join(f"{k}: run {getattr(saved, k)!r} vs now {getattr(config, k)!r}" for k in differing)
        raise CheckpointError(f"{run_dir}: config differs from the run's ({shown}); resume with the run's own config")
    recorded = read_json(run_dir / "environment.json").get("data_sha256")
    if recorded != fingerprint:
        raise CheckpointError(f"{run_dir}: the data differ from those the run started with (sha256 {str(recorded)[:12]}… vs {fingerprint[:12]}…); pass the run's --data")


def read_chi2_csv(run_dir: Path) -> dict[str, np.ndarray]:
    """``chi2.csv`` as columns (iteration, seconds, losses, χ²/NDF per energy and all)."""
    path = Path(run_dir) / "chi2.csv"
    if not path.is_file():
        raise CheckpointError(f"{path} not found; is {run_dir} a trained GAN run?")
    with path.open(newline="") as handle:
        rows = list(csv.DictReader(handle))
    if not rows:
        raise CheckpointError(f"{path} holds no checkpoint yet; train longer")
    return {key: np.array([float(row[key]) for row in rows]) for key in rows[0]}


def _window_mean(table: dict[str, np.ndarray], iterations: np.ndarray) -> float:
    rows = np.isin(table["iteration"], iterations)
    return float(np.nanmean(table["chi2_ndf_all"][rows])) if rows.any() else math.nan


def evaluate_gan(run_dir: Path, subset: Any, config: GANConfig, *, reference_run: Path | None = None) -> dict[str, Any]:
    """Best checkpoint, ⟨χ²⟩ window (and the reference's), test χ²/NDF per energy; writes summary.json."""
    import torch

    from qcalo.atomic import write_json
    from qcalo.metrics import standard_error
    from qcalo.models.fastcalogan import build_generator
    from qcalo.report.gan_plots import plot_etot_by_energy
    from qcalo.train.gan import generate_showers, score_showers
    from qcalo.train.rundir import read_json

    table = read_chi2_csv(run_dir)
    values = np.where(np.isfinite(table["chi2_ndf_all"]), table["chi2_ndf_all"], np.inf)
    best_row = int(np.argmin(values))
    window = table["iteration"][max(0, best_row - config.window) : best_row + config.window + 1]
    generator = build_generator(config, subset.train_showers.shape[1], seed=config.seed)
    generator.load_state_dict(torch.load(run_dir / "best.pt", weights_only=False)["generator"])
    reference = subset.part("test")
    generated = generate_showers(generator, reference.incident_energies, config, seed=config.seed + 10**7)
    test = score_showers(generated, reference)
    draws = [test["all"]] + [
        score_showers(generate_showers(generator, reference.incident_energies, config, seed=config.seed + 10**7 + i), reference)["all"]
        for i in range(1, TEST_DRAWS)
    ]
    baselines = _baselines(subset, generated, reference, seed=config.seed)
    etot = reference.incident_energies
    source = read_json(Path(run_dir) / "environment.json").get("data_source")
    label_real = "Geant4 (CaloChallenge)" if source == "real" else "synthetic stand-in"
    plot_etot_by_energy(etot, reference.showers.sum(axis=1), etot, generated.sum(axis=1), Path(run_dir) / "etot.png",
                        label_real=label_real, label_gen="GAN (best checkpoint)",
                        title=f"best checkpoint (iteration {int(table['iteration'][best_row])}) on the test part")  # fmt: skip
    summary: dict[str, Any] = {
        "kind": "gan",
        "best_iteration": int(table["iteration"][best_row]),
        "best_select_chi2_ndf": float(table["chi2_ndf_all"][best_row]),
        "select_on": config.select_on,
        "window_mean_chi2_ndf": _window_mean(table, window),
        "window": [int(window[0]), int(window[-1])],
        "max_iteration": int(table["iteration"][-1]),
        "test_chi2_ndf": test["all"],
        "test_chi2_ndf_per_energy": {k: v for k, v in test.items() if k != "all"},
        "test_chi2_ndf_draws_mean": float(np.mean(draws)),
        "test_chi2_ndf_draws_se": standard_error(draws),
        "test_draws": TEST_DRAWS,
        **baselines,
        "n_test": len(subset.test_energies),
        "checkpoints": len(table["iteration"]),
        "figures": ["etot.png"],
    }
    if reference_run is not None:
        summary["reference_run"] = str(reference_run)
        summary["reference_window_mean_chi2_ndf"] = _window_mean(read_chi2_csv(reference_run), window)
    write_json(Path(run_dir) / "summary.json", summary)
    return summary


def _baselines(subset: Any, generated: np.ndarray, reference: Any, *, seed: int) -> dict[str, Any]:
    """The test χ²/NDF's bootstrap se, the real-vs-real floor (validation vs test part) and a
    per-energy Gaussian of the training E_tot, all scored against the test part
    (:mod:`qcalo.metrics.etot_baselines`)."""
    from qcalo.metrics.etot_baselines import bootstrap_chi2_se, gaussian_etot
    from qcalo.metrics.etot_chi2 import etot_chi2_by_energy

    energies, etot = reference.incident_energies, reference.showers.sum(axis=1)
    train = subset.part("train")
    gaussian = gaussian_etot(train.incident_energies, train.showers.sum(axis=1), energies, seed=seed + 11)
    out = {
        "test_chi2_ndf_se": bootstrap_chi2_se(energies, generated.sum(axis=1), energies, etot, seed=seed + 12),
        "gaussian_test_chi2_ndf": etot_chi2_by_energy(energies, gaussian, energies, etot).reduced,
    }
    val = subset.part("val")
    if len(val.incident_energies) and set(np.unique(val.incident_energies)) >= set(np.unique(energies)):
        out["floor_test_chi2_ndf"] = etot_chi2_by_energy(val.incident_energies, val.showers.sum(axis=1), energies, etot).reduced
    return out


def write_gan_showers(
    run_dir: Path,
    out: Path,
    *,
    energies_mev: tuple[float, ...] | None = None,
    n_per_energy: int | None = None,
    energies_from: Path | None = None,
    seed: int = 0,
    overwrite: bool = False,
) -> Path:
    """Showers of a GAN run's best checkpoint in dataset-1 format (atomically, seeded, with provenance).

    Either ``n_per_energy`` showers at each of ``energies_mev``, or one per event of a dataset-1
    file ``energies_from`` (e.g. ``dataset_1_pions_2.hdf5``: the official evaluation wants its
    exact event count and energy mix).
    """
    import torch

    from qcalo import __version__
    from qcalo.configs.gan import load_gan_config
    from qcalo.data.calochallenge import read_ds1, write_ds1
    from qcalo.models.fastcalogan import build_generator
    from qcalo.train.gan import generate_showers
    from qcalo.train.rundir import read_json, run_lock
    from qcalo.validate import nonnegative_int, positive_int

    seed = nonnegative_int(seed, "seed")
    if (energies_from is None) == (energies_mev is None):
        raise ConfigError("give either --energies (with --n per energy) or --energies-from FILE")
    if out.is_dir():
        raise ConfigError(f"--out {out} is a folder; give a file name such as {out / 'generated.hdf5'}")
    if out.exists() and not overwrite:
        raise ConfigError(f"{out} exists; pass --overwrite to replace it or choose another --out")
    if not (run_dir / "best.pt").is_file():
        raise CheckpointError(f"{run_dir} holds no GAN checkpoint (best.pt); train it first: qcalo train gan --out {run_dir}")
    with run_lock(run_dir):
        config = load_gan_config(run_dir / "config.yaml")
        if energies_from is not None:
            energies = read_ds1(energies_from, config.particle).incident_energies
        else:
            n = positive_int(n_per_energy, "n", fix="(showers per energy)")
            for energy in energies_mev:
                if not (math.isfinite(energy) and energy > 0):
                    raise ConfigError(f"energy {energy!r}; use incident energies in MeV > 0")
            energies = np.repeat(np.asarray(energies_mev, dtype=np.float64), n)
        best = torch.load(run_dir / "best.pt", weights_only=False)
        generator = build_generator(config, 533 if config.particle == "pions" else 368, seed=config.seed)
        generator.load_state_dict(best["generator"])
        showers = generate_showers(generator, energies, config, seed=seed)
        environment = read_json(run_dir / "environment.json")
    return write_ds1(out, energies, showers, particle=config.particle, attrs={
        "generator": "qcalo FastCaloGAN", "qcalo_version": __version__, "run_dir": str(run_dir.resolve()),
        "checkpoint_iteration": int(best["iteration"]), "seed": seed,
        "trained_on_source": str(environment.get("data_source")), "trained_on_location": str(environment.get("data_location")),
        "config_yaml": (run_dir / "config.yaml").read_text(),
    })  # fmt: skip


def reevaluate_gan(run_dir: Path, *, data: Path | None = None, reference_run: Path | None = None) -> dict[str, Any]:
    """``qcalo evaluate`` of a GAN run: selection and test score again, on the data it was trained on."""
    from qcalo.configs.gan import load_gan_config
    from qcalo.train.rundir import clear_evaluation, data_fingerprint, read_json, run_lock

    with run_lock(run_dir):
        config = load_gan_config(run_dir / "config.yaml")
        recorded = read_json(run_dir / "environment.json")
        if data is None and recorded.get("data_source") == "real":
            data = Path(recorded["data_location"])
        subset, _source, _location = load_gan_data(config, data)
        if data_fingerprint(_fingerprint_view(subset)) != recorded.get("data_sha256"):
            raise CheckpointError(f"{run_dir} was trained on other data ({recorded.get('data_location')}); pass the run's --data")
        if reference_run is not None:
            read_chi2_csv(reference_run)  # a bad --reference fails before the old evaluation is cleared
        clear_evaluation(run_dir)
        return evaluate_gan(run_dir, subset, config, reference_run=reference_run)
