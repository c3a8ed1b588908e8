"""The QAG noise study of seed 000 §2.4 (Figure 6), run as independent cells on Dask.

For every noise scale ``x`` of a grid (default 0, 0.25, …, 2.0; ``x`` as defined in
:mod:`qcalo.quantum.noise`, device ``fake_fez``) and every repetition ``r``:

* **scenario a** — train a QAG under noise ``x`` (seed ``r``), evaluate it under noise ``x``;
* **scenario b** — train a QAG noiselessly (seed ``r``), evaluate it under noise ``x``. The
  clean training does not depend on ``x``, so **one clean training per repetition** is shared
  by all ``x`` of scenario b (kept in ``runs/clean_r{r}``, retrained only if missing).

Scenario a at ``x = 0`` trains through the density-matrix engine at scale 0 (exactly
noiseless, with the noisy runs' per-qubit shots); scenario b's clean models use the recipe's
own statevector engine and sampling.

A **cell** is one ``(scenario, x, r)``: its seeded training (scenario a) and its evaluation.
The score is the final **test MMD as a ratio to the real-vs-real floor** from
:func:`qcalo.train.evaluate.score_images` at one sample size ``n_eval = 250`` over
``n_sets`` independent generated sets (10; 4 with ``--quick``) plus 1000 showers for the
large-sample metrics — the same estimator as ``qcalo evaluate``, with fewer sets. Training
uses the chosen recipe (``qag-clic8-adam`` or ``qag-clic8``) with monitors and checkpoints
only at the start and end (they would otherwise cost more than the training under noise).
Under noise, shots are drawn per qubit (``noise_sampling: marginal``, ~5× a noiseless epoch
instead of ~40× for full bitstrings; :class:`qcalo.models.qag.NoiseSetting`).

**Execution.** Cells are Dask futures (``dask.distributed``): by default a ``LocalCluster``
of ``workers`` processes with one thread each (torch runs one thread per process: these
circuits are too small to share a core), or an existing cluster via ``scheduler`` (an
address such as ``tcp://host:8786``). For a batch system, start the cluster with
`dask-jobqueue <https://jobqueue.dask.org>`_ and pass its scheduler address, e.g. on HTCondor::

    from dask_jobqueue import HTCondorCluster      # or SLURMCluster for SLURM
    cluster = HTCondorCluster(cores=1, memory="2 GB", disk="1 GB")
    cluster.scale(jobs=50)
    print(cluster.scheduler_address)  # → qcalo noise-study --scheduler <address> …

(the workers need qcalo installed and the data folder readable; give them the environment of
``WORKER_MALLOC`` below, e.g. ``MALLOC_TRIM_THRESHOLD_=268435456 MALLOC_MMAP_THRESHOLD_=268435456``,
or each cell runs ~45 % slower). **Robustness.** The driver
appends each finished cell's row to ``results.csv`` atomically (:mod:`qcalo.atomic`) as
soon as it arrives, and reads the table on start: a rerun skips finished cells. A cell whose
worker process dies is rescheduled by Dask's scheduler on another worker (up to
``distributed.scheduler.allowed-failures`` times), and one that raises is retried
(``retries``); nothing finished is lost. The folder's ``study.json`` records the grid and
settings; a folder written for another grid or settings is refused in one line, and so is
a second driver on a folder whose lock (``.qcalo.lock``) another process holds.
"""

from __future__ import annotations

import contextlib
import csv
import io
import itertools
import math
import os
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import asdict, dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

from qcalo import atomic
from qcalo.exceptions import ConfigError
from qcalo.validate import positive_int

__all__ = [
    "DEFAULT_GRID",
    "QUICK",
    "RESULT_COLUMNS",
    "Cell",
    "ResultsTable",
    "StudySpec",
    "check_study",
    "make_spec",
    "open_study",
    "plan_cells",
    "run_cell",
    "run_study",
    "train_clean",
]

DEFAULT_GRID: tuple[float, ...] = tuple(0.25 * i for i in range(9))
QUICK = {"grid": (0.0, 1.0, 2.0), "repetitions": 4, "epochs": 60, "n_sets": 4}
RESULT_COLUMNS = (
    "cell", "scenario", "x", "repetition", "mmd_ratio", "mmd_ratio_se", "test_mmd", "floor_mmd",
    "train_seconds", "eval_seconds", "pid", "finished_utc",
)  # fmt: skip
RETRIES = 2
# Dask's nannies start workers with MALLOC_TRIM_THRESHOLD_=65536, which also switches off glibc's
# adaptive mmap threshold: every tensor above 128 kB is then mmap'ed, zero-filled and unmapped
# again, and a noisy training cell took 45 % longer (24.1 s instead of 16.6 s, 300 epochs, same
# machine). Large thresholds for both keep the memory in the process (a worker holds < 1 GB).
WORKER_MALLOC = {
    "distributed.nanny.pre-spawn-environ.MALLOC_TRIM_THRESHOLD_": 1 << 28,
    "distributed.nanny.pre-spawn-environ.MALLOC_MMAP_THRESHOLD_": 1 << 28,
}


@dataclass(frozen=True)
class StudySpec:
    """Everything that defines a study's cells (saved as ``study.json``)."""

    config: str = "qag-clic8-adam"
    grid: tuple[float, ...] = DEFAULT_GRID
    repetitions: int = 30
    epochs: int | None = None  # None: the recipe's own
    device: str = "fake_fez"
    n_eval: int = 250
    n_sets: int = 10
    n_large: int = 1000
    data: str | None = None  # data folder (None: qcalo's default)
    quick: bool = False
    extra: dict[str, Any] = field(default_factory=dict)  # further config overrides (tests)

    def comparable(self) -> dict[str, Any]:
        """The settings a folder must share to continue (more repetitions may be added)."""
        record = asdict(self)
        record.pop("repetitions")
        record["grid"] = list(self.grid)
        return record


@dataclass(frozen=True)
class Cell:
    """One point of the study: scenario ``a`` or ``b``, noise scale ``x``, repetition ``r``."""

    scenario: str
    x: float
    repetition: int

    @property
    def id(self) -> str:
        return f"{self.scenario}:{self.x:g}:{self.repetition}"


def make_spec(
    *,
    config: str = "qag-clic8-adam",
    grid: Sequence[float] | None = None,
    repetitions: int | None = None,
    quick: bool = False,
    data: str | Path | None = None,
    **settings: Any,
) -> StudySpec:
    """A validated :class:`StudySpec` (``quick`` fills the grid, repetitions and budget it leaves open).

    Raises:
        ConfigError: unknown config, empty grid, an ``x`` < 0 or non-finite, bad repetitions.
    """
    from qcalo.quantum.noise import check_scale

    if config not in ("qag-clic8-adam", "qag-clic8"):
        raise ConfigError(f"--config {config!r}; use qag-clic8-adam (qcalo's recipe) or qag-clic8 (the seed's)")
    defaults = QUICK if quick else {"grid": DEFAULT_GRID, "repetitions": 30}
    grid = defaults["grid"] if grid is None else grid
    if not grid:
        raise ConfigError("--grid is empty; give noise scales such as 0,0.5,1")
    scales = tuple(sorted({check_scale(x) for x in grid}))
    reps = positive_int(defaults["repetitions"] if repetitions is None else repetitions, "repetitions")
    if quick:
        settings.setdefault("epochs", QUICK["epochs"])
        settings.setdefault("n_sets", QUICK["n_sets"])
    spec = StudySpec(
        config=config, grid=scales, repetitions=reps, quick=quick,
        data=None if data is None else str(Path(data).resolve()), **settings,
    )  # fmt: skip
    _check_budget(_config(spec, 0, scales[-1]))  # a bad setting fails here, not in every cell
    return spec


def _check_budget(config: Any) -> None:
    from qcalo.models.qag import build_qag_circuit

    minimum = build_qag_circuit(config.n_pixels, config.ansatz, config.n_layers).n_params + 2
    if config.optimizer == "cobyla" and config.epochs < minimum:
        raise ConfigError(f"--epochs {config.epochs} is below COBYLA's minimum of {minimum} for {config.ansatz}; raise it")


def plan_cells(spec: StudySpec) -> list[Cell]:
    """Every cell, repetition-major (early repetitions finish first: a partial study is usable)."""
    return [Cell(s, x, r) for r in range(spec.repetitions) for x in spec.grid for s in ("a", "b")]


# -- what one worker does ------------------------------------------------------------------
@lru_cache(maxsize=2)
def _data(folder: str | None, n_pixels: int) -> Any:
    """The splits, loaded once per worker process."""
    import warnings

    from qcalo.data.clic import load_clic

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the driver already announced a stand-in
        return load_clic(folder, n_pixels=n_pixels)


def _config(spec: StudySpec, repetition: int, x: float | None) -> Any:
    """The recipe for one training: seed ``r``, noise ``x`` (``None``: noiseless)."""
    from qcalo.configs import default_config_path, load_qag_config

    budget = {} if spec.epochs is None else {"epochs": spec.epochs}
    base = load_qag_config(default_config_path(spec.config), **budget, **spec.extra)
    quiet = {"monitor_every": base.epochs, "checkpoint_every": base.epochs}
    noise = {"noise": "none"} if x is None else {"noise": spec.device, "noise_scale": x}
    return load_qag_config(default_config_path(spec.config), **budget, **spec.extra, **quiet,
                           seed=repetition, **noise)  # fmt: skip


def _train(spec: StudySpec, out: Path, repetition: int, x: float | None) -> Path:
    from qcalo.train.qag import train_qag

    if (out / "model.json").is_file() and (out / "train_summary.json").is_file():
        return out  # finished before (the clean model of an earlier run of the study)
    config = _config(spec, repetition, x)
    return train_qag(config, _data(spec.data, config.n_pixels), out, overwrite=True).run_dir


def train_clean(spec: StudySpec, folder: str, repetition: int) -> str:
    """Scenario b's clean model for ``repetition`` (shared by every x): its run directory."""
    return str(_train(spec, Path(folder) / "runs" / f"clean_r{repetition}", repetition, None))


def run_cell(spec: StudySpec, folder: str, cell: Cell, clean_run: str | None) -> dict[str, Any]:
    """Train (scenario a) and evaluate one cell; the row for ``results.csv``."""
    from qcalo.models.qag import NoiseSetting
    from qcalo.train.evaluate import generate_images, score_images
    from qcalo.train.rundir import read_json, utc_now

    if cell.scenario == "a":
        run = _train(spec, Path(folder) / "runs" / f"a_x{cell.x:g}_r{cell.repetition}", cell.repetition, cell.x)
    else:
        run = Path(clean_run)
    trained = time.perf_counter()
    config = _config(spec, cell.repetition, cell.x)
    data = _data(spec.data, config.n_pixels)
    noise = NoiseSetting(spec.device, cell.x, config.noise_sampling)
    images = generate_images(run, spec.n_sets * spec.n_eval + spec.n_large, seed=cell.repetition, noise=noise)
    scores = score_images(images, data, n_eval=(spec.n_eval,), n_sets=spec.n_sets, seed=cell.repetition)
    return {
        "cell": cell.id, "scenario": cell.scenario, "x": cell.x, "repetition": cell.repetition,
        "mmd_ratio": scores["mmd_ratio_to_floor"], "mmd_ratio_se": scores["mmd_ratio_to_floor_se"],
        "test_mmd": scores["test_mmd_mean"], "floor_mmd": scores["real_mmd_floor_mean"],
        "train_seconds": float(read_json(run / "train_summary.json")["train_seconds"])
        if cell.scenario == "a" else 0.0,
        "eval_seconds": time.perf_counter() - trained, "pid": os.getpid(), "finished_utc": utc_now(),
    }  # fmt: skip


# -- the folder ----------------------------------------------------------------------------
class ResultsTable:
    """``results.csv``: one row per finished cell, the whole file rewritten atomically per row.

    Rewriting a few hundred short rows costs microseconds and leaves no half-written row,
    whatever kills the driver; only the driver writes it (workers return rows).
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        self.rows: list[dict[str, str]] = []
        if path.is_file():
            with path.open(newline="") as handle:
                self.rows = [row for row in csv.DictReader(handle) if row.get("cell")]

    @property
    def finished(self) -> set[str]:
        return {row["cell"] for row in self.rows}

    def append(self, row: dict[str, Any]) -> None:
        self.rows.append({k: _text(row[k]) for k in RESULT_COLUMNS})
        buffer = io.StringIO()
        writer = csv.DictWriter(buffer, RESULT_COLUMNS, lineterminator="\n")
        writer.writeheader()
        writer.writerows(self.rows)
        atomic.write_text(self.path, buffer.getvalue())


def _text(value: Any) -> str:
    return repr(value) if isinstance(value, float) and math.isfinite(value) else str(value)


def check_study(folder: Path, spec: StudySpec) -> None:
    """Refuse (one line, nothing written) a folder holding another study or other files."""
    from qcalo.train.rundir import read_json, user_entries

    record = folder / "study.json"
    if record.is_file():
        saved = read_json(record)
        mine = spec.comparable()
        if {k: saved.get(k) for k in mine} != mine:
            differ = ", ".join(f"{k}: {saved.get(k)!r} there, {v!r} here" for k, v in mine.items() if saved.get(k) != v)
            raise ConfigError(f"{folder} holds a noise study with other settings ({differ}); use another --out")
    elif folder.is_file() or (folder.exists() and user_entries(folder)):
        raise ConfigError(f"{folder} is not an empty folder and holds no noise study (study.json); use another --out")


@contextlib.contextmanager
def open_study(folder: Path, spec: StudySpec) -> Iterator[ResultsTable]:
    """:func:`check_study`, then hold the folder's lock (:func:`qcalo.train.rundir.run_lock`)
    while ``study.json`` is written and the results table is used: a second process on the
    same folder is refused in one line instead of rewriting ``results.csv`` from its own rows."""
    from qcalo.train.rundir import run_lock

    check_study(folder, spec)  # nothing is created for a refused folder
    folder.mkdir(parents=True, exist_ok=True)
    with run_lock(folder):
        check_study(folder, spec)  # again: another study may have claimed the folder meanwhile
        atomic.write_json(folder / "study.json", {**spec.comparable(), "repetitions": spec.repetitions})
        yield ResultsTable(folder / "results.csv")


# -- the driver ----------------------------------------------------------------------------
def _mute_shutdown_heartbeat() -> None:
    """Run on our own LocalCluster's workers just before it closes: a worker whose heartbeat is
    in flight while the scheduler goes away logs a harmless ``CommClosedError`` traceback
    (dask/distributed#7105) after a study that finished cleanly; nothing is left to report then."""
    import logging

    logging.getLogger("distributed.worker").setLevel(logging.CRITICAL)


def run_study(
    folder: Path | str,
    spec: StudySpec,
    *,
    scheduler: str | None = None,
    workers: int = 2,
    processes: bool = True,
    progress: bool = True,
    train: Callable[[StudySpec, str, int], str] = train_clean,
    cell_task: Callable[[StudySpec, str, Cell, str | None], dict[str, Any]] = run_cell,
) -> dict[str, Any]:
    """Run every unfinished cell of ``spec`` in ``folder`` on Dask; write the table and report.

    Args:
        scheduler: address of an existing Dask scheduler (``None``: a ``LocalCluster`` of
            ``workers`` processes, 1 thread each; ``processes=False``: threads, for tests).
        train, cell_task: the clean training and the cell (replaceable in tests).

    Returns:
        ``{"done": n, "skipped": n, "failed": [cell ids + errors], "seconds": s, "report": …}``.
    """
    import dask
    from dask.distributed import Client, LocalCluster, as_completed
    from tqdm.auto import tqdm

    from qcalo.experiments.noise_study_report import write_report

    folder = Path(folder)
    workers = positive_int(workers, "workers")
    with open_study(folder, spec) as table:
        pending = [c for c in plan_cells(spec) if c.id not in table.finished]
        finished_before = len(table.rows)
        start = time.perf_counter()
        failed: list[str] = []
        if pending:
            with dask.config.set(WORKER_MALLOC):
                cluster = None if scheduler else LocalCluster(
                    n_workers=workers, threads_per_worker=1, processes=processes, dashboard_address=":0",  # any free port
                )  # fmt: skip
            client = Client(scheduler) if scheduler else Client(cluster)
            try:
                where = str(folder.resolve())
                by_repetition: dict[int, list[Cell]] = {}
                for c in pending:
                    by_repetition.setdefault(c.repetition, []).append(c)

                stream = as_completed()
                left: dict[int, int] = {}  # repetition → its cells not yet back
                repetition_of: dict[str, int] = {}  # future key → repetition

                def submit(r: int) -> None:
                    cells = by_repetition[r]
                    clean = None
                    if any(c.scenario == "b" for c in cells):
                        clean = client.submit(train, spec, where, r, key=f"clean-{r}", retries=RETRIES, pure=False, priority=-r)
                    batch = [
                        client.submit(cell_task, spec, where, c, clean if c.scenario == "b" else None,
                                      key=f"cell-{c.id}", retries=RETRIES, pure=False, priority=-r)
                        for c in cells
                    ]  # fmt: skip
                    left[r] = len(batch)
                    repetition_of.update((future.key, r) for future in batch)
                    stream.update(batch)

                # Repetitions go in a sliding window, so a stopped study holds whole repetitions of
                # both scenarios. Priorities alone did not do it: Dask queues the clean trainings
                # (a root-ish task group) on the scheduler while the cells go straight to the
                # workers, so every clean training but the first few ran after all of scenario a.
                threads = sum(client.nthreads().values()) or workers
                window = 1 + math.ceil(2 * threads / max(len(v) for v in by_repetition.values()))  # ≥ 2
                upcoming = iter(sorted(by_repetition))
                for r in itertools.islice(upcoming, window):
                    submit(r)
                bar = tqdm(total=len(plan_cells(spec)), initial=len(table.rows), unit="cell",
                           desc="noise study", disable=not progress)  # fmt: skip
                for future in stream:
                    try:
                        table.append(future.result())
                    except Exception as error:  # noqa: BLE001 - a cell that failed all its retries
                        failed.append(f"{future.key}: {type(error).__name__}: {error}")
                    bar.update(1)
                    repetition = repetition_of[future.key]
                    left[repetition] -= 1
                    if left[repetition] == 0 and (r := next(upcoming, None)) is not None:
                        submit(r)
                bar.close()
            finally:
                if cluster is not None and processes:  # a --scheduler cluster's workers are the user's
                    with contextlib.suppress(Exception):  # cosmetic: never hide the study's own error
                        client.run(_mute_shutdown_heartbeat)
                client.close()
                if cluster is not None:
                    cluster.close()
        report = write_report(folder) if table.rows else None
        return {
            "done": len(pending) - len(failed), "skipped": finished_before,
            "failed": failed, "seconds": time.perf_counter() - start, "report": report,
        }  # fmt: skip
