"""``qcalo train gan``: parse, then delegate to :func:`qcalo.train.gan_run.run_gan`."""

from __future__ import annotations

from pathlib import Path

import typer

from qcalo.exceptions import QcaloError

__all__ = ["train_gan_command"]


def train_gan_command(
    config: Path = typer.Option(Path("gan-2x"), "--config", "-c", help="YAML config, or a packaged name (gan-2x, gan-classical, … see `qcalo/configs/gan-*.yaml`)."),
    out: Path = typer.Option(Path("runs/gan"), "--out", "-o", help="Run directory to create (or resume)."),
    data: Path | None = typer.Option(None, "--data", help="A CaloChallenge dataset-1 file (dataset_1_pions_1.hdf5); without it, qcalo's synthetic pion stand-in."),
    subset: str | None = typer.Option(None, help="single, three, or E1:n1,E2:n2 (MeV:events)."),
    iterations: int | None = typer.Option(None, help="Generator iterations."),
    checkpoint_every: int | None = typer.Option(None, "--checkpoint-every", help="Iterations between scored checkpoints."),
    max_minutes: float | None = typer.Option(None, "--max-minutes", help="Stop at this wall time (compare models at equal time)."),
    reference: Path | None = typer.Option(None, "--reference", help="A finished reference run: its ⟨χ²⟩ over this run's best window."),
    seed: int | None = typer.Option(None, help="Seed of everything random in the run."),
    resume: bool = typer.Option(False, "--resume", help="Continue the run in --out from its last checkpoint."),
    overwrite: bool = typer.Option(False, "--overwrite", help="Replace an existing run in --out."),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="No progress bar."),
) -> None:
    """Train a (quantum) FastCaloGAN by conditional WGAN-GP; score every checkpoint by E_tot χ²/NDF."""
    from qcalo.configs.gan import load_gan_config
    from qcalo.train.gan_run import run_gan

    def notice(text: str) -> None:
        typer.echo(f"notice: {text}", err=True)

    try:
        source = out / "config.yaml" if resume and (out / "config.yaml").is_file() and config == Path("gan-2x") else config
        settings = load_gan_config(source, subset=subset, iterations=iterations, checkpoint_every=checkpoint_every, seed=seed)
        with _Progress(settings.iterations, quiet) as report:
            summary = run_gan(
                settings, out, data=data, resume=resume, overwrite=overwrite, max_minutes=max_minutes,
                reference_run=reference, progress=report, notice=notice,
            )  # fmt: skip
    except QcaloError as error:
        typer.echo(f"error: {error}", err=True)
        raise typer.Exit(2) from None
    except KeyboardInterrupt:
        typer.echo(f"interrupted; the last checkpoint is kept: continue with `qcalo train gan --out {out} --resume`", err=True)
        raise typer.Exit(130) from None
    from qcalo.report.table import gan_summary_line

    typer.echo(f"{gan_summary_line(summary)} -> {out}")


class _Progress:
    """A progress bar over iterations on stderr, showing the last checkpoint's χ²/NDF."""

    def __init__(self, total: int, quiet: bool) -> None:
        self.total, self.quiet, self.bar = total, quiet, None

    def __enter__(self):
        if self.quiet:
            return None
        from tqdm.auto import tqdm

        self.bar = tqdm(total=self.total, unit="it", desc="train gan", dynamic_ncols=True)
        return self._update

    def _update(self, iteration: int, scores: dict[str, float] | None) -> None:
        self.bar.update(iteration - self.bar.n)
        if scores is not None:
            self.bar.set_postfix(chi2_ndf=f"{scores['all']:.2f}")

    def __exit__(self, *exc: object) -> None:
        if self.bar is not None:
            self.bar.close()
