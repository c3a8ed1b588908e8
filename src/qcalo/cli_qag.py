"""``qcalo train qag`` and ``qcalo evaluate``: parse, then delegate to ``qcalo.train``."""

from __future__ import annotations

import json
import re
import warnings
from pathlib import Path
from typing import Annotated

import typer

from qcalo.exceptions import QcaloError

__all__ = ["evaluate", "train_app"]

train_app = typer.Typer(no_args_is_help=True, add_completion=False, pretty_exceptions_enable=False)


def _fail(error: Exception) -> typer.Exit:
    typer.echo(f"error: {error}", err=True)
    return typer.Exit(2)


def _config_path(config: Path | None) -> Path | None:
    """A YAML path as given, or a packaged config by name (``qag-clic8-adam``)."""
    from qcalo.configs import default_config_path

    if config is None or config.suffix or config.exists():
        return config
    packaged = default_config_path(str(config))
    return packaged if packaged.is_file() else config


def _load_data(data: Path | None, n_pixels: int, *, run: Path | None = None):
    """The data set: ``--data``, else (for an existing ``run``) the data the run recorded, else the default."""
    from qcalo.data.clic import SyntheticDataWarning, load_clic

    if data is None and run is not None and (recorded := _recorded_data(run, n_pixels)) is not None:
        return recorded
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", SyntheticDataWarning)
        splits = load_clic(data, n_pixels=n_pixels)
    for warning in caught:
        typer.echo(f"notice: {warning.message}", err=True)
    return splits


def _recorded_data(run: Path, n_pixels: int):
    """The data a run recorded in environment.json (real: its resolved folder; the stand-in: rebuilt).

    The stand-in is rebuilt here rather than by ``load_clic``, whose fallback only happens when
    the default data folder is empty: a stand-in run must never switch to real files.
    """
    from qcalo.data.clic import load_clic, load_clic_stand_in
    from qcalo.train.rundir import read_json

    environment = read_json(run / "environment.json") if (run / "environment.json").is_file() else {}
    source, location = environment.get("data_source"), environment.get("data_location")
    if source == "real" and location:
        return load_clic(location, n_pixels=n_pixels, allow_synthetic=False)
    if source == "synthetic":
        seed = re.fullmatch(r"synthetic\(seed=(\d+)\)", str(location))
        seed = int(seed.group(1)) if seed else 0
        typer.echo(f"notice: {run} was trained on qcalo's synthetic stand-in; using it again (--data to choose)", err=True)
        return load_clic_stand_in(n_pixels, seed)
    return None


def _interrupted(out: Path, what: str) -> typer.Exit:
    """Ctrl-C: say where the run stands and how to continue it; exit 130 (128 + SIGINT)."""
    checkpoint = out / "checkpoint.json"
    if what == "train" and checkpoint.is_file():
        epoch = json.loads(checkpoint.read_text()).get("epoch", "?")
        typer.echo(
            f"interrupted at epoch {epoch} (checkpoint saved); continue with: qcalo train qag --out {out} --resume",
            err=True,
        )
    elif what == "train":
        typer.echo(f"interrupted before the first checkpoint; nothing was kept in {out}", err=True)
    else:
        typer.echo(f"interrupted; no summary or figures were written to {out}", err=True)
    return typer.Exit(130)


def _os_error(error: OSError, out: Path) -> typer.Exit:
    return _fail(Exception(f"{error.filename or out}: {error.strerror or error}; check the path and its permissions"))


@train_app.callback()
def _train() -> None:
    """Train a model; writes a run directory."""


@train_app.command("qag")
def train_qag_command(
    out: Annotated[
        Path,
        typer.Option("--out", "-o", help="Run directory to create (or resume)."),
    ] = Path("runs/qag"),
    config: Annotated[
        Path | None,
        typer.Option("--config", "-c", help="YAML config, or a packaged name: qag-clic8-adam (qcalo's recipe, the default) or qag-clic8 (reproduces seed 000's Table 1: COBYLA, k = 50, 600 epochs)."),
    ] = None,
    data: Annotated[
        Path | None,
        typer.Option("--data", help="Folder with clic_8px_{train,val,test}.h5 (else $QCALO_DATA, else the cache dir)."),
    ] = None,
    ansatz: Annotated[
        str | None,
        typer.Option(help="clic8, mera-up or hea."),
    ] = None,
    n_layers: Annotated[
        int | None,
        typer.Option("--layers", help="Ansatz depth."),
    ] = None,
    pixels: Annotated[
        int | None,
        typer.Option("--pixels", help="Pixels per image = qubits (n_pixels; data files clic_{N}px_*.h5)."),
    ] = None,
    epochs: Annotated[
        int | None,
        typer.Option(help="Epochs (objective evaluations / updates); with --resume it may be raised (COBYLA, constant-step Adam) to extend a run."),
    ] = None,
    images: Annotated[
        int | None,
        typer.Option(help="k images per epoch."),
    ] = None,
    shots: Annotated[
        int | None,
        typer.Option(help="Shots per image."),
    ] = None,
    sigma2: Annotated[
        float | None,
        typer.Option("--sigma2", help="Variance of the randomizing angles."),
    ] = None,
    optimizer: Annotated[
        str | None,
        typer.Option(help="cobyla (gradient-free) or adam (exact gradients)."),
    ] = None,
    corr_weight: Annotated[
        float | None,
        typer.Option("--corr-weight", help="λ for an added correlation loss."),
    ] = None,
    seed: Annotated[
        int | None,
        typer.Option(help="Seed of everything random in the run."),
    ] = None,
    noise: Annotated[
        str | None,
        typer.Option("--noise", help="Train under this fake device's noise (fake_fez, fake_torino, …; 'none': noiseless)."),
    ] = None,
    noise_scale: Annotated[
        float | None,
        typer.Option("--noise-scale", help="Noise scale x ≥ 0 (0 noiseless, 1 as calibrated); alone it implies --noise fake_fez."),
    ] = None,
    resume: Annotated[
        bool,
        typer.Option("--resume", help="Continue the run in --out from its checkpoint (on the data it recorded unless --data is given)."),
    ] = False,
    overwrite: Annotated[
        bool,
        typer.Option("--overwrite", help="Replace an existing run in --out."),
    ] = False,
    quiet: Annotated[
        bool,
        typer.Option("--quiet", "-q", help="No progress bar."),
    ] = False,
) -> None:
    """Train a Quantum Angle Generator on CLIC showers by MMD; print the run directory."""
    from qcalo.configs import load_qag_config
    from qcalo.train.preflight import check_run_dir
    from qcalo.train.qag import train_qag

    try:
        if resume:
            check_run_dir(out, resume=True, overwrite=False)
        source = out / "config.yaml" if resume and config is None else _config_path(config)
        settings = load_qag_config(
            source, ansatz=ansatz, n_layers=n_layers, n_pixels=pixels, epochs=epochs, images=images,
            shots=shots, sigma2=sigma2, optimizer=optimizer, corr_weight=corr_weight, seed=seed,
            noise=noise, noise_scale=noise_scale,
        )  # fmt: skip
        if noise is None and noise_scale is not None and settings.noise is None:
            settings = load_qag_config(source, **{**settings.model_dump(), "noise": "fake_fez"})
        check_run_dir(out, resume=resume, overwrite=overwrite)  # before loading data: fail fast
        splits = _load_data(data, settings.n_pixels, run=out if resume else None)
        with _progress(settings.epochs, quiet) as report:
            result = train_qag(settings, splits, out, resume=resume, overwrite=overwrite, progress=report)
    except KeyboardInterrupt:
        raise _interrupted(out, "train") from None
    except QcaloError as error:
        raise _fail(error) from None
    except OSError as error:
        raise _os_error(error, out) from None
    typer.echo(
        f"trained {settings.ansatz} QAG ({result.epochs_done} epochs, {result.train_seconds:.1f} s, "
        f"final loss {result.final_loss:.3g}; {result.stop_reason}) -> {result.run_dir}"
    )


def evaluate(
    run_dir: Annotated[
        Path,
        typer.Argument(help="A run directory written by `qcalo train qag`."),
    ],
    data: Annotated[
        Path | None,
        typer.Option("--data", help="Data folder (default: the data the run was trained on)."),
    ] = None,
    n_eval: Annotated[
        list[int] | None,
        typer.Option("--n-eval", min=10, help="Images per MMD set; repeat for several sizes (default: 250 and 1000, those that fit the test and validation sizes)."),
    ] = None,
    n_sets: Annotated[
        int,
        typer.Option("--sets", min=2, help="Independent generated sets."),
    ] = 30,
    n_large: Annotated[
        int,
        typer.Option("--n-large", min=100, help="Images for correlation loss, separation power and figures."),
    ] = 20000,
    seed: Annotated[
        int,
        typer.Option(help="Seed of generation and subset draws."),
    ] = 0,
    no_figures: Annotated[
        bool,
        typer.Option("--no-figures", help="Skip the PNG figures (old ones are removed)."),
    ] = False,
    as_json: Annotated[
        bool,
        typer.Option("--json", help="Print summary.json to stdout."),
    ] = False,
    allow_other_data: Annotated[
        bool,
        typer.Option("--allow-other-data", help="Evaluate on data other than the run was trained on (recorded in the summary)."),
    ] = False,
    samples: Annotated[
        Path | None,
        typer.Option("--samples", help="Score the showers in this file (e.g. from `qcalo generate`) instead of generating."),
    ] = None,
    noise: Annotated[
        str | None,
        typer.Option("--noise", help="Generate under this fake device's noise ('none': noiseless; default: as trained)."),
    ] = None,
    noise_scale: Annotated[
        float | None,
        typer.Option("--noise-scale", help="Noise scale x ≥ 0 for generation (default: as trained, else 1)."),
    ] = None,
    reference: Annotated[
        Path | None,
        typer.Option("--reference", help="GAN runs: a finished reference run, its ⟨χ²⟩ over this run's best window (the seed's ⟨χ²⟩_c)."),
    ] = None,
) -> None:
    """Score a trained run on the test set (MMD vs the real-vs-real floor) and draw its figures."""
    from qcalo.train.evaluate import evaluate_run, format_summary, resolve_noise
    from qcalo.train.preflight import data_mismatch
    from qcalo.train.qag import model_from_run
    from qcalo.train.rundir import (
        clear_evaluation,
        data_fingerprint,
        data_location,
        run_lock,
        write_json,
    )

    if (run_dir / "chi2.csv").is_file():  # a GAN run: selection and test score again
        _evaluate_gan(run_dir, data, as_json, reference)
        return
    if reference is not None:
        raise _fail(QcaloError(f"--reference applies to GAN runs; {run_dir} is not one (no chi2.csv)"))
    try:
        if not (run_dir / "config.yaml").is_file():
            raise QcaloError(f"{run_dir} holds no qcalo run (no config.yaml); pass a folder written by `qcalo train qag` or `qcalo train gan`")
        with run_lock(run_dir):
            _model, _weights, _codec, config = model_from_run(run_dir)
            splits = _load_data(data, config.n_pixels, run=run_dir)
            mismatch = data_mismatch(run_dir, splits)
            if mismatch and not allow_other_data:
                raise QcaloError(f"{mismatch}; pass the run's own --data, or --allow-other-data to evaluate anyway")
            sizes = _eval_sizes(splits, n_eval)
            eval_noise = resolve_noise(noise, noise_scale, run_dir)
            showers = None
            if samples is not None:
                from qcalo.data.clic import read_clic_file

                showers = read_clic_file(samples, config.n_pixels)
            clear_evaluation(run_dir)
            summary = evaluate_run(
                run_dir, splits, n_eval=sizes, n_sets=n_sets, n_large=n_large, seed=seed,
                figures=not no_figures, samples=showers, noise=eval_noise,
            )  # fmt: skip
            if samples is not None:
                summary["samples_file"] = str(samples.resolve())
            summary.update(
                data_location=data_location(splits), data_sha256=data_fingerprint(splits),
                same_data_as_training=mismatch is None,
            )  # fmt: skip
            if mismatch:
                summary["other_data"] = f"evaluated with --allow-other-data: {mismatch}"
                typer.echo(f"notice: {summary['other_data']}", err=True)
            write_json(run_dir / "summary.json", summary)
    except KeyboardInterrupt:
        raise _interrupted(run_dir, "evaluate") from None
    except QcaloError as error:
        raise _fail(error) from None
    except OSError as error:
        raise _os_error(error, run_dir) from None
    if as_json:
        typer.echo(json.dumps(summary, indent=2))
        return
    typer.echo(format_summary(summary))
    for name in summary.get("figures", []):
        typer.echo(f"figure: {Path(run_dir) / name}")
    typer.echo(f"summary: {Path(run_dir) / 'summary.json'}")


def _eval_sizes(splits, n_eval: list[int] | None) -> tuple[int, ...]:
    """MMD set sizes: each draws ``n`` test and ``n`` validation images without replacement.

    Given sizes must all fit; the default (250 and 1000) keeps those that fit.
    """
    from qcalo.train.evaluate import DEFAULT_N_EVAL

    smallest = min(len(splits.test), len(splits.val))
    if n_eval:
        for n in n_eval:
            if n > smallest:
                raise QcaloError(
                    f"--n-eval {n} is above the {len(splits.test)} test / {len(splits.val)} validation images "
                    f"of {splits.location}; pass --n-eval {smallest} or less"
                )
        return tuple(n_eval)
    sizes = tuple(n for n in DEFAULT_N_EVAL if n <= smallest)
    if not sizes:
        raise QcaloError(
            f"the {len(splits.test)} test / {len(splits.val)} validation images of {splits.location} are fewer "
            f"than {DEFAULT_N_EVAL[0]}; pass --n-eval {smallest} or less"
        )
    return sizes


class _progress:
    """A rich progress bar over epochs on stderr (silent with ``quiet``)."""

    def __init__(self, total: int, quiet: bool) -> None:
        self.total, self.quiet, self.bar = total, quiet, None

    def __enter__(self):
        if self.quiet:
            return None
        from rich.console import Console
        from rich.progress import (
            BarColumn,
            Progress,
            TextColumn,
            TimeElapsedColumn,
            TimeRemainingColumn,
        )

        self.bar = Progress(
            TextColumn("training"), BarColumn(), TextColumn("{task.completed}/{task.total} epochs"),
            TextColumn("loss {task.fields[loss]}"), TimeElapsedColumn(), TimeRemainingColumn(),
            transient=False, console=Console(stderr=True),  # stdout carries only the result line
        )  # fmt: skip
        self.bar.start()
        self.task = self.bar.add_task("train", total=self.total, loss="-")
        return self._update

    def _update(self, epoch: int, loss: float) -> None:
        self.bar.update(self.task, completed=epoch + 1, loss=f"{loss:.3g}")

    def __exit__(self, *exc: object) -> None:
        if self.bar is not None:
            self.bar.stop()


def _evaluate_gan(run_dir: Path, data: Path | None, as_json: bool, reference: Path | None) -> None:
    from qcalo.train.gan_run import reevaluate_gan

    try:
        summary = reevaluate_gan(run_dir, data=data, reference_run=reference)
    except QcaloError as error:
        raise _fail(error) from None
    if as_json:
        typer.echo(json.dumps(summary, indent=2))
        return
    from qcalo.report.table import gan_summary_line

    typer.echo(gan_summary_line(summary))
    typer.echo(f"summary: {run_dir / 'summary.json'}")
