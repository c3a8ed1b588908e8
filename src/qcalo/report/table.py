"""Side-by-side tables of finished runs, from their ``summary.json`` files (plain text).

GAN rows follow seed 001's tables (circuit gates, head, best χ²/NDF and its iteration, the
⟨χ²⟩ window means, and the held-out test χ²/NDF per incident energy with its bootstrap standard
error, the real-vs-real floor and a Gaussian baseline, and the same checkpoint's mean over 10
generated test samples, which a single draw's noise does not move). Runs of one recipe that differ only in
``--seed`` (a new data draw, initialisation and noise) are replicas: :func:`gan_replicas` puts
their mean ± standard error over seeds under the table, since one run's test score is one draw
whose spread between seeds can exceed its own bootstrap error.

Each QAG row puts the model's MMD beside the two baselines a reader needs to judge it: the
real-vs-real floor (the ratio's 1.0) and the Gaussian with the data's mean and covariance, at
every evaluated sample size, each with its standard error.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from pathlib import Path
from typing import Any

__all__ = ["gan_replicas", "gan_summary_line", "gan_table", "qag_table"]


def _aligned(rows: list[list[str]]) -> str:
    """Rows of cells (the first is the header) as left-aligned text columns, a rule under the header."""
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    lines = ["  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip() for row in rows]
    lines.insert(1, "  ".join("-" * width for width in widths))
    return "\n".join(lines)


def _cell(block: dict[str, float], key: str) -> str:
    return f"{block[key]:.2f} ± {block[key + '_se']:.2f}"


def qag_table(runs: Sequence[tuple[Path, dict[str, Any], dict[str, Any]]]) -> str:
    """A text table: one row per ``(run_dir, config, summary)``, columns for every evaluated n."""
    sizes = sorted({int(n) for _dir, _config, summary in runs for n in summary["by_n"]})
    header = ["run", "recipe", "params"]
    for n in sizes:
        header += [f"MMD/floor n={n}", f"Gaussian/floor n={n}"]
    header += ["corr loss (floor)", "E-sum width gen/real", "train s"]
    rows = [header]
    for run_dir, config, summary in runs:
        recipe = f"{config.get('optimizer', '?')} {config.get('ansatz', '?')}×{config.get('n_layers') or 'default'}"
        row = [str(run_dir), recipe, str(summary.get("n_params", "?"))]
        for n in sizes:
            block = summary["by_n"].get(str(n))
            row += ["–", "–"] if block is None else [
                _cell(block, "mmd_ratio_to_floor"),
                _cell(block, "gaussian_ratio_to_floor"),
            ]
        row += [
            f"{summary['corr_loss']:.4f} ({summary['real_corr_loss_floor']:.4f})",
            f"{summary['energy_sum_width_ratio']:.3f} ± {summary['energy_sum_width_ratio_se']:.3f}",
            f"{summary.get('train_seconds', float('nan')):.1f}",
        ]
        rows.append(row)
    return _aligned(rows)


@functools.cache
def _gan_defaults() -> dict[str, Any]:
    """GANConfig's defaults, for a run config written without some key (taken from the schema, not restated)."""
    from qcalo.configs.gan import GANConfig

    return GANConfig().model_dump()


def _selection(config: dict[str, Any], summary: dict[str, Any]) -> str:
    """'val', or 'val, mean of 10' when each checkpoint was scored on 10 generated samples."""
    draws = config.get("select_showers_per_event", _gan_defaults()["select_showers_per_event"])
    return summary["select_on"] + (f", mean of {draws}" if draws > 1 else "")


def _model_columns(config: dict[str, Any]) -> list[str]:
    defaults = _gan_defaults()
    quantum = config.get("quantum")
    critic = (config.get("critic") or {}).get("quantum")
    if quantum is None:
        circuit = ["✗", "✗", "–", "–"]
    else:
        offsets = "+" + ",+".join(str(d) for d in quantum.get("cnot_offsets", [1]))
        circuit = ["✓", "✓" if quantum.get("rz") else "✗", offsets, str(quantum.get("repetitions", 1))]
    head = ", ".join(str(w) for w in config.get("generator_layers", [])) + ", #voxels"
    default_widths = list(defaults["critic"]["layers"])  # shown only when a run's critic differs
    widths = list((config.get("critic") or {}).get("layers", default_widths))
    shown_widths = "" if widths == default_widths else " " + ",".join(str(w) for w in widths)
    critic_text = ("quantum ×" + str(critic.get("repetitions", 1)) if critic else "dense") + shown_widths
    rate = f"{config.get('learning_rate', defaults['learning_rate']):g}" + "".join(
        f", ×{f:g} from {int(i)}" for i, f in config.get("lr_steps") or ()
    )
    # batch, λ and latent size set a recipe apart too (gan-atlas: 128, 10, 50 against FastCaloQ's 10, 20, 10)
    setup = ", ".join(f"{config.get(key, defaults[key]):g}" for key in ("batch_size", "gp_lambda", "latent_dim"))
    return [*circuit, head, str(config.get("conditioning", "none")), critic_text, setup, rate]


def gan_table(runs: Sequence[tuple[Path, dict[str, Any], dict[str, Any]]]) -> str:
    """The seed-001-style table: circuit, head, best χ²/NDF and where, ⟨χ²⟩ windows, test χ²/NDF."""
    header = ["run", "Ry", "Rz", "CNOT", "reps", "NN layers", "cond.", "critic", "batch, λ, z", "lr", "χ²/NDF (select)", "at iter.",
              "max iter.", "⟨χ²⟩_q", "⟨χ²⟩_c", "test χ²/NDF ± se", "test, mean of draws", "per energy (test)", "floor", "Gaussian",
              "s/iter"]  # fmt: skip
    rows = [header]
    for run_dir, config, summary in runs:
        train = summary.get("train", {})
        per_energy = " / ".join(f"{v:.1f}" for _e, v in sorted(summary["test_chi2_ndf_per_energy"].items(), key=lambda kv: float(kv[0])))
        rows.append([
            str(run_dir), *_model_columns(config), f"{summary['best_select_chi2_ndf']:.2f} ({_selection(config, summary)})",
            str(summary["best_iteration"]), str(summary["max_iteration"]), f"{summary['window_mean_chi2_ndf']:.2f}",
            f"{summary['reference_window_mean_chi2_ndf']:.2f}" if "reference_window_mean_chi2_ndf" in summary else "–",
            f"{summary['test_chi2_ndf']:.2f}" + (f" ± {summary['test_chi2_ndf_se']:.2f}" if "test_chi2_ndf_se" in summary else ""),
            _draws(summary) or "–", per_energy, _optional(summary, "floor_test_chi2_ndf"), _optional(summary, "gaussian_test_chi2_ndf"),
            f"{train['seconds_per_iteration']:.3f}" if "seconds_per_iteration" in train else "–",
        ])  # fmt: skip
    return _aligned(rows)


_NOT_RECIPE = ("seed", "iterations")
"""Config keys that do not change the recipe: the seed (what replicas vary) and the iteration cap
(``--max-minutes`` runs stop on time, so their cap is arbitrary)."""


def gan_replicas(runs: Sequence[tuple[Path, dict[str, Any], dict[str, Any]]]) -> str:
    """Mean ± se over seeds of every recipe given with at least two distinct seeds; ``""`` when no recipe repeats.

    se = sample sd / √n over the runs' test χ²/NDF (and their selection χ²/NDF), so it measures
    the seed-to-seed spread, which includes each run's test-sample noise.
    """
    import numpy as np

    from qcalo.metrics import standard_error

    groups: dict[str, list[tuple[Path, dict[str, Any], dict[str, Any]]]] = {}
    # A rerun with a seed already in its group shares that run's data draw and initial weights, so
    # it is not a replica: only the first run given per seed counts, the others are named below.
    same_seed: list[str] = []
    for run_dir, config, summary in runs:
        key = repr(sorted((k, repr(v)) for k, v in config.items() if k not in _NOT_RECIPE))
        members = groups.setdefault(key, [])
        seed = config.get("seed", 0)  # GANConfig's default seed
        earlier = next((d for d, c, _s in members if c.get("seed", 0) == seed), None)
        if earlier is not None:
            same_seed.append(f"{run_dir} (seed {seed}, as {earlier})")
            continue
        members.append((run_dir, config, summary))
    header = ["recipe (runs)", "n", "seeds", "test χ²/NDF mean ± se", "sd", "min–max", "test, mean of draws: mean ± se",
              "χ²/NDF (select) mean ± se"]  # fmt: skip
    rows = [header]
    for members in groups.values():
        if len(members) < 2:
            continue
        test = np.array([summary["test_chi2_ndf"] for _d, _c, summary in members])
        select = np.array([summary["best_select_chi2_ndf"] for _d, _c, summary in members])
        # Runs evaluated before the mean over generated test draws existed lack it: "–" rather than a mean of some.
        draws = np.array([summary.get("test_chi2_ndf_draws_mean", np.nan) for _d, _c, summary in members])
        n = len(members)
        seeds = ",".join(str(config.get("seed", 0)) for _d, config, _s in members)
        rows.append([
            " ".join(_model_columns(members[0][1])) + " (" + ", ".join(str(d) for d, _c, _s in members) + ")",
            str(n), seeds, f"{test.mean():.2f} ± {standard_error(test):.2f}", f"{test.std(ddof=1):.2f}",
            f"{test.min():.2f}–{test.max():.2f}",
            "–" if np.isnan(draws).any() else f"{draws.mean():.2f} ± {standard_error(draws):.2f}",
            f"{select.mean():.2f} ± {standard_error(select):.2f}",
        ])  # fmt: skip
    left_out = "left out, same recipe and seed as an earlier run: " + "; ".join(same_seed)
    if len(rows) == 1:
        # Reruns of one seed and nothing else: say why they are not averaged rather than stay silent.
        return f"replicas: none (a recipe needs runs with two different --seed values); {left_out}" if same_seed else ""
    text = "replicas (same recipe, different --seed; se = sd/√n over seeds):\n" + _aligned(rows)
    if same_seed:
        text += "\n" + left_out
    return text


def gan_summary_line(summary: dict[str, Any]) -> str:
    """One line for the terminal: the selected checkpoint and its test scores beside the baselines."""
    per_energy = ", ".join(f"{float(e) / 1000:g} GeV {v:.2f}" for e, v in summary["test_chi2_ndf_per_energy"].items())
    draws = _draws(summary)
    return (
        f"best checkpoint: iteration {summary['best_iteration']} of {summary['max_iteration']} "
        f"({summary['select_on']} χ²/NDF {summary['best_select_chi2_ndf']:.2f}, ⟨χ²⟩ over {summary['window']} "
        f"{summary['window_mean_chi2_ndf']:.2f}); test χ²/NDF {summary['test_chi2_ndf']:.2f} ± {summary['test_chi2_ndf_se']:.2f} "
        f"({per_energy})" + (f", mean of {summary['test_draws']} draws {draws}" if draws else "") + "; "
        f"real-vs-real floor {summary.get('floor_test_chi2_ndf', float('nan')):.2f}, "
        f"Gaussian {summary['gaussian_test_chi2_ndf']:.2f}"
    )


def _draws(summary: dict[str, Any]) -> str:
    """'2.41 ± 0.11', the mean over generated test draws, or '' for a summary written before it existed."""
    if "test_chi2_ndf_draws_mean" not in summary:
        return ""
    return f"{summary['test_chi2_ndf_draws_mean']:.2f} ± {summary['test_chi2_ndf_draws_se']:.2f}"


def _optional(summary: dict[str, Any], key: str) -> str:
    return f"{summary[key]:.2f}" if key in summary else "–"
