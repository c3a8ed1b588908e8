"""The noise study: real cells on a tiny grid, Dask retries after a killed worker, reruns, refusals."""

from __future__ import annotations

import csv
import json
import math
import os
import sys
import time
from dataclasses import replace
from pathlib import Path

import cloudpickle
import pytest
import yaml
from typer.testing import CliRunner

from qcalo.cli import app
from qcalo.exceptions import CheckpointError, ConfigError
from qcalo.experiments.noise_study import (
    RESULT_COLUMNS,
    Cell,
    StudySpec,
    make_spec,
    open_study,
    plan_cells,
    run_study,
)
from tests.conftest import real_clic8_folder

runner = CliRunner()
REAL_DATA = real_clic8_folder()
cloudpickle.register_pickle_by_value(sys.modules[__name__])  # worker processes need not import tests/


def _rows(folder: Path) -> list[dict[str, str]]:
    with (folder / "results.csv").open(newline="") as handle:
        return list(csv.DictReader(handle))


# -- fake tasks (the Dask machinery without training) ----------------------------------------
def fake_train(spec: StudySpec, folder: str, repetition: int) -> str:
    return f"clean-{repetition}"


def fake_cell(spec: StudySpec, folder: str, cell: Cell, clean_run: str | None) -> dict:
    if cell.scenario == "b":
        assert clean_run == f"clean-{cell.repetition}"
    ratio = 1.0 + cell.x * (0.5 if cell.scenario == "b" else 0.2) + 0.1 * ((cell.repetition * 7) % 3)
    return {"cell": cell.id, "scenario": cell.scenario, "x": cell.x, "repetition": cell.repetition,
            "mmd_ratio": ratio, "mmd_ratio_se": 0.1, "test_mmd": ratio * 1e-3, "floor_mmd": 1e-3,
            "train_seconds": 0.0, "eval_seconds": 0.0, "pid": os.getpid(), "finished_utc": "now"}  # fmt: skip


def killing_cell(spec: StudySpec, folder: str, cell: Cell, clean_run: str | None) -> dict:
    """Kills its own worker process the first time cell ``a:1:1`` runs (marker file)."""
    marker = Path(folder) / "killed-once"
    from qcalo.experiments.noise_study import WORKER_MALLOC

    for key, value in WORKER_MALLOC.items():  # the worker process got qcalo's malloc settings
        assert os.environ.get(key.rsplit(".", 1)[1]) == str(value)
    if cell.id == "a:1:1" and not marker.exists():
        marker.write_text(str(os.getpid()))
        os._exit(1)
    return fake_cell(spec, folder, cell, clean_run)


def failing_cell(spec: StudySpec, folder: str, cell: Cell, clean_run: str | None) -> dict:
    if cell.id == "b:0:0":
        raise RuntimeError("always fails")
    return fake_cell(spec, folder, cell, clean_run)


FAKE = make_spec(grid=[0, 1], repetitions=3)


def test_killed_worker_loses_nothing_and_its_cell_is_retried(tmp_path: Path) -> None:
    result = run_study(tmp_path, FAKE, workers=2, progress=False, train=fake_train, cell_task=killing_cell)
    assert (tmp_path / "killed-once").is_file()  # the worker really died
    rows = _rows(tmp_path)
    assert sorted(r["cell"] for r in rows) == sorted(c.id for c in plan_cells(FAKE))
    assert result["failed"] == [] and result["done"] == len(rows) == 12
    retried = next(r for r in rows if r["cell"] == "a:1:1")
    assert int(retried["pid"]) != int((tmp_path / "killed-once").read_text())
    assert (tmp_path / "figure.png").stat().st_size > 1000


def slow_train(spec: StudySpec, folder: str, repetition: int) -> str:
    time.sleep(0.05)  # trainings take time, evaluations (scenario b) next to none, as in a real study
    return fake_train(spec, folder, repetition)


def slow_cell(spec: StudySpec, folder: str, cell: Cell, clean_run: str | None) -> dict:
    time.sleep(0.05 if cell.scenario == "a" else 0.0)
    return fake_cell(spec, folder, cell, clean_run)


def test_repetitions_finish_in_order_so_a_stopped_study_holds_whole_ones(tmp_path: Path) -> None:
    spec = make_spec(grid=[0, 1], repetitions=8)  # 4 cells per repetition, 2 threads → a window of 2
    run_study(tmp_path, spec, workers=2, processes=False, progress=False, train=slow_train, cell_task=slow_cell)
    repetitions = [int(r["repetition"]) for r in _rows(tmp_path)]
    assert len(repetitions) == 32
    for k in range(2, 8):  # repetition k starts only after k - 1 whole repetitions are written
        assert repetitions.index(k) >= 4 * (k - 1), repetitions


def test_rerun_skips_finished_cells_and_failures_are_reported(tmp_path: Path) -> None:
    first = run_study(tmp_path, FAKE, processes=False, progress=False, train=fake_train, cell_task=failing_cell)
    assert first["failed"] and "b:0:0" in first["failed"][0] and first["done"] == 11
    before = {r["cell"]: r for r in _rows(tmp_path)}
    assert "b:0:0" not in before and len(before) == 11
    second = run_study(tmp_path, FAKE, processes=False, progress=False, train=fake_train, cell_task=fake_cell)
    assert (second["done"], second["skipped"], second["failed"]) == (1, 11, [])
    after = {r["cell"]: r for r in _rows(tmp_path)}
    assert len(after) == 12 and all(after[k] == v for k, v in before.items())  # finished rows untouched
    more = replace(FAKE, repetitions=4)  # more repetitions may be added to a study
    third = run_study(tmp_path, more, processes=False, progress=False, train=fake_train, cell_task=fake_cell)
    assert (third["done"], third["skipped"]) == (4, 12)
    claims = json.loads((tmp_path / "report.json").read_text())["claims"]
    assert claims["training_adapts_to_noise"]["difference"] == pytest.approx(0.3)  # b − a at x = 1
    assert claims["training_adapts_to_noise"]["holds"]
    assert claims["x1_within_fluctuation_of_x0_a"]["difference"] == pytest.approx(0.2)


def test_a_folder_from_another_grid_is_refused(tmp_path: Path) -> None:
    run_study(tmp_path, FAKE, processes=False, progress=False, train=fake_train, cell_task=fake_cell)
    listing = sorted(p.name for p in tmp_path.iterdir())
    table = (tmp_path / "results.csv").read_text()
    with pytest.raises(ConfigError, match="other settings.*grid"):
        run_study(tmp_path, replace(FAKE, grid=(0.0, 2.0)), processes=False, train=fake_train, cell_task=fake_cell)
    result = runner.invoke(app, ["noise-study", "--out", str(tmp_path), "--grid", "0,0.5", "--repetitions", "3"])
    assert result.exit_code == 2 and "other settings" in result.stderr and "\n" not in result.stderr.strip()
    assert sorted(p.name for p in tmp_path.iterdir()) == listing and (tmp_path / "results.csv").read_text() == table


def test_a_second_process_on_the_same_study_is_refused_in_one_line(tmp_path: Path) -> None:
    run_study(tmp_path, FAKE, processes=False, progress=False, train=fake_train, cell_task=failing_cell)
    table = (tmp_path / "results.csv").read_text()
    with open_study(tmp_path, FAKE):  # another process's driver holds the folder (flock is per open file)
        with pytest.raises(CheckpointError, match="in use by another qcalo process"):
            run_study(tmp_path, FAKE, processes=False, progress=False, train=fake_train, cell_task=fake_cell)
        args = ["noise-study", "--out", str(tmp_path), "--grid", "0,1", "--repetitions", "3", "-q"]
        result = runner.invoke(app, args)
        errors = [line for line in result.stderr.splitlines() if line.startswith("error:")]  # beside a data notice
        assert result.exit_code == 2 and len(errors) == 1 and "in use by another qcalo process" in errors[0], result.stderr
    assert (tmp_path / "results.csv").read_text() == table  # the failed cell b:0:0 was not rerun
    again = run_study(tmp_path, FAKE, processes=False, progress=False, train=fake_train, cell_task=fake_cell)
    assert again["done"] == 1 and again["skipped"] == 11  # free again once the holder is gone


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (["--grid", "0,-1"], "noise scale x=-1"),
        (["--grid", "0,nan"], "finite"),
        (["--grid", "0,a"], "comma-separated"),
        (["--config", "gan"], "qag-clic8-adam"),
        (["--repetitions", "0"], "repetitions=0"),
        (["--config", "qag-clic8", "--epochs", "5"], "COBYLA's minimum"),
    ],
)
def test_bad_study_input_is_one_line_and_nothing_written(tmp_path: Path, args: list[str], words: str) -> None:
    result = runner.invoke(app, ["noise-study", "--out", str(tmp_path / "study"), *args])
    assert result.exit_code == 2 and words in result.stderr and "\n" not in result.stderr.strip(), result.stderr
    assert not (tmp_path / "study").exists()


def test_tiny_real_study_writes_table_figure_and_finite_claims(tmp_path: Path) -> None:
    """Real trainings and evaluations (3 epochs, 16 images) on x ∈ {0, 1}, 2 repetitions."""
    if REAL_DATA is None:
        pytest.skip("real clic8 files not in ../shared/data/clic8")
    spec = make_spec(grid=[0, 1], repetitions=2, data=REAL_DATA, epochs=3, n_sets=2, n_large=100,
                     extra={"images": 16, "shots": 256, "monitor_images": 10})  # fmt: skip
    result = run_study(tmp_path, spec, workers=2, processes=False, progress=False)
    assert result["failed"] == [] and result["done"] == 8
    rows = _rows(tmp_path)
    assert list(rows[0]) == list(RESULT_COLUMNS) and len(rows) == 8
    assert all(math.isfinite(float(r["mmd_ratio"])) and float(r["mmd_ratio"]) > 0 for r in rows)
    by_cell = {r["cell"]: r for r in rows}
    # Scenario b at x = 0 evaluates the clean model noiselessly; scenario a at x = 0 trained at x = 0.
    assert float(by_cell["a:1:0"]["train_seconds"]) > 0 and float(by_cell["b:1:0"]["train_seconds"]) == 0
    assert (tmp_path / "runs" / "clean_r1" / "model.json").is_file()
    trained = yaml.safe_load((tmp_path / "runs" / "a_x1_r0" / "config.yaml").read_text())
    assert (trained["noise"], trained["noise_scale"], trained["seed"]) == ("fake_fez", 1.0, 0)
    assert yaml.safe_load((tmp_path / "runs" / "clean_r1" / "config.yaml").read_text())["noise"] is None
    report = json.loads((tmp_path / "report.json").read_text())
    for test in (report["claims"]["training_adapts_to_noise"], report["claims"]["x1_within_fluctuation_of_x0_a"]):
        assert all(math.isfinite(test[k]) for k in ("difference", "se", "p_two_sided", "p_one_sided"))
    assert (tmp_path / "figure.png").stat().st_size > 1000
    again = run_study(tmp_path, spec, processes=False, progress=False)
    assert (again["done"], again["skipped"]) == (0, 8)
