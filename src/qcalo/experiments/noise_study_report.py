"""The noise study's outputs: Figure 6 of seed 000 redrawn, and tests of its two claims.

From ``results.csv`` (:mod:`qcalo.experiments.noise_study`):

* ``figure.png`` — mean ± standard deviation over repetitions of the final test MMD ratio to
  the floor against the noise scale ``x``, scenario a (trained and evaluated under noise,
  violet, as in the seed) and scenario b (trained noiselessly, evaluated under noise, blue);
* ``report.json`` — those points (mean, std, n per scenario and x) and the claims:

  1. **training adapts to noise** — at the largest ``x``, scenario a scores better (lower)
     than b: difference ``mean_b − mean_a``, its standard error
     ``√(s_a²/n_a + s_b²/n_b)``, Welch's t-test p-values (one-sided a < b, and two-sided);
  2. **x = 1 is within fluctuation of x = 0** (scenario a; b alongside): difference
     ``mean(x=1) − mean(x=0)``, its standard error, Welch's two-sided p-value; "within
     fluctuation" means p ≥ 0.05. Needs both 0 and 1 in the grid.

Welch's test (SciPy, ``ttest_ind(equal_var=False)``) because the spreads differ between
scenarios and noise levels.
"""

from __future__ import annotations

import csv
import math
from pathlib import Path
from typing import Any

import numpy as np

from qcalo import atomic

__all__ = ["compare", "format_report", "summarize", "write_report"]

ALPHA = 0.05
COLORS = {"a": "#8e44ad", "b": "#1f77b4"}
LABELS = {"a": "trained and evaluated under noise (a)", "b": "trained noiseless, evaluated under noise (b)"}


def _read(folder: Path) -> list[dict[str, str]]:
    with (folder / "results.csv").open(newline="") as handle:
        return list(csv.DictReader(handle))


def _values(rows: list[dict[str, str]], scenario: str, x: float) -> np.ndarray:
    return np.array(
        [float(r["mmd_ratio"]) for r in rows if r["scenario"] == scenario and float(r["x"]) == x]
    )


def summarize(rows: list[dict[str, str]]) -> dict[str, list[dict[str, float]]]:
    """Per scenario, per ``x``: ``{"x", "n", "mean", "std"}`` of the MMD ratio (std: ddof 1)."""
    grid = sorted({float(r["x"]) for r in rows})
    points: dict[str, list[dict[str, float]]] = {}
    for scenario in ("a", "b"):
        points[scenario] = []
        for x in grid:
            values = _values(rows, scenario, x)
            if len(values):
                std = float(values.std(ddof=1)) if len(values) > 1 else math.nan
                points[scenario].append({"x": x, "n": len(values), "mean": float(values.mean()), "std": std})
    return points


def compare(first: np.ndarray, second: np.ndarray) -> dict[str, float]:
    """``mean(second) − mean(first)``, its standard error and Welch's p-values (two- and one-sided
    for ``first < second``)."""
    from scipy.stats import ttest_ind

    if len(first) < 2 or len(second) < 2:
        nan = math.nan
        return {"difference": nan, "se": nan, "p_two_sided": nan, "p_one_sided": nan, "n": [len(first), len(second)]}
    difference = float(second.mean() - first.mean())
    se = float(math.sqrt(first.var(ddof=1) / len(first) + second.var(ddof=1) / len(second)))
    two = ttest_ind(first, second, equal_var=False)
    one = ttest_ind(first, second, equal_var=False, alternative="less")
    return {
        "difference": difference,
        "se": se,
        "p_two_sided": float(two.pvalue),
        "p_one_sided": float(one.pvalue),
        "n": [len(first), len(second)],
    }


def claims(rows: list[dict[str, str]]) -> dict[str, Any]:
    """Both claims' statistics (see the module docstring)."""
    grid = sorted({float(r["x"]) for r in rows})
    high = grid[-1]
    adapts = compare(_values(rows, "a", high), _values(rows, "b", high))
    adapts.update(x=high, holds=bool(adapts["difference"] > 0 and adapts["p_one_sided"] < ALPHA))
    result: dict[str, Any] = {"training_adapts_to_noise": adapts}
    if 0.0 in grid and 1.0 in grid:
        for scenario in ("a", "b"):
            test = compare(_values(rows, scenario, 0.0), _values(rows, scenario, 1.0))
            test["holds"] = bool(test["p_two_sided"] >= ALPHA)
            result[f"x1_within_fluctuation_of_x0_{scenario}"] = test
    else:
        result["x1_within_fluctuation_of_x0_a"] = "grid lacks x = 0 or x = 1"
    return result


def _figure(points: dict[str, list[dict[str, float]]], path: Path, device: str) -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 4))
    for scenario, shift in (("b", -0.01), ("a", 0.01)):
        pts = points[scenario]
        if not pts:
            continue
        xs = np.array([p["x"] for p in pts]) + shift  # side by side, not hiding each other
        ax.errorbar(xs, [p["mean"] for p in pts], yerr=[0 if math.isnan(p["std"]) else p["std"] for p in pts],
                    fmt="o-", capsize=3, color=COLORS[scenario], label=LABELS[scenario])  # fmt: skip
    ax.axhline(1.0, color="grey", lw=0.8, ls=":", label="real-vs-real floor")
    ax.set_xlabel(f"noise scale x (× {device} calibration)")
    ax.set_ylabel("final test MMD / floor (mean ± std)")
    ax.set_title("QAG under device noise (seed 000, Fig. 6)")
    ax.legend(fontsize=8)
    fig.tight_layout()
    with atomic.atomic_path(path) as tmp:
        fig.savefig(tmp, format="png", dpi=120)
    plt.close(fig)
    return path


def write_report(folder: Path | str) -> dict[str, Any]:
    """``figure.png`` and ``report.json`` from ``folder/results.csv``; returns the report."""
    from qcalo.train.rundir import read_json

    folder = Path(folder)
    rows = _read(folder)
    spec = read_json(folder / "study.json")
    points = summarize(rows)
    report = {
        "points": points,
        "claims": claims(rows),
        "cells": len(rows),
        "score": f"final test MMD / floor, score_images at n = {spec['n_eval']}, {spec['n_sets']} sets",
        "figure": str(_figure(points, folder / "figure.png", spec["device"])),
        "table": str(folder / "results.csv"),
    }
    atomic.write_json(folder / "report.json", report)
    return report


def format_report(report: dict[str, Any]) -> str:
    """The lines ``qcalo noise-study`` prints."""
    lines = ["x      a: mean ± std (n)        b: mean ± std (n)"]
    by_x = {p["x"]: p for p in report["points"]["b"]}
    for p in report["points"]["a"]:
        b = by_x.get(p["x"], {"mean": math.nan, "std": math.nan, "n": 0})
        lines.append(f"{p['x']:<5g}  {p['mean']:.3f} ± {p['std']:.3f} ({p['n']})    "
                     f"{b['mean']:.3f} ± {b['std']:.3f} ({b['n']})")  # fmt: skip
    adapts = report["claims"]["training_adapts_to_noise"]
    lines.append(
        f"claim 1 (a beats b at x={adapts['x']:g}): b − a = {adapts['difference']:.3f} ± {adapts['se']:.3f}, "
        f"Welch p (one-sided) = {adapts['p_one_sided']:.3g} → {'supported' if adapts['holds'] else 'not supported'}"
    )
    for scenario in ("a", "b"):
        test = report["claims"].get(f"x1_within_fluctuation_of_x0_{scenario}")
        if isinstance(test, dict):
            lines.append(
                f"claim 2 ({scenario}: x=1 vs x=0): {test['difference']:.3f} ± {test['se']:.3f}, "
                f"Welch p (two-sided) = {test['p_two_sided']:.3g} → "
                f"{'within fluctuation' if test['holds'] else 'a significant difference'}"
            )
    lines.append(f"score: {report['score']}")
    lines.append(f"figure: {report['figure']}\ntable: {report['table']}")
    return "\n".join(lines)
