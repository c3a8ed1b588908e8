"""Quantum FastCaloGAN: circuit template, models, WGAN-GP loop, selection, CLI (tiny, seeded runs)."""

from __future__ import annotations

import csv
import json
import math
from pathlib import Path

import numpy as np
import pytest
import torch
from typer.testing import CliRunner

from qcalo.cli import app
from qcalo.configs.gan import GANConfig, load_gan_config
from qcalo.data.calochallenge import Ds1Data
from qcalo.data.synthetic_pions import synthetic_pion_subset
from qcalo.exceptions import ConfigError
from qcalo.models.fastcalogan import build_critic, build_generator, energy_label
from qcalo.models.pqc import cnot_pairs, fastcaloq_circuit, parity_sets
from qcalo.train.gan import generate_showers, score_generator, score_showers, train_gan

pytestmark = pytest.mark.usefixtures("torch_single_thread")
runner = CliRunner()
TINY = {"latent_dim": 4, "generator_layers": (8,), "critic": {"layers": (16,)}, "batch_size": 4, "critic_steps": 2,
        "iterations": 6, "checkpoint_every": 3}  # fmt: skip


@pytest.fixture(scope="module")
def subset():
    return synthetic_pion_subset(None, energies=(4096.0, 65536.0), counts=40, seed=1)


def test_labels_are_fastcalogans() -> None:
    """Pion labels at 2^8, 2^15, 2^16, 2^22 MeV: 0, 0.52508, 0.59307, 1 (notes/fastcalogan.md §4)."""
    labels = energy_label(np.array([2.0**8, 2.0**15, 2.0**16, 2.0**22]), "pions")
    np.testing.assert_allclose(labels, [0.0, 0.52508, 0.59307, 1.0], atol=1e-5)


@pytest.mark.parametrize("offsets", [(1,), (1, 2), (1, 2, 3, 4)])
def test_one_block_matches_the_closed_form(offsets: tuple[int, ...]) -> None:
    """⟨Z_k⟩ = Π_{j∈S_k} cos(x_j) cos(θ_j) for one block (RZ has no effect), through QuantumLayer."""
    from qcalo.quantum.layer import QuantumLayer

    circuit = fastcaloq_circuit(10, rz=True, cnot_offsets=offsets)
    layer = QuantumLayer(circuit, dtype=torch.complex128, init_seed=3, init_spread=1.0)
    x = torch.rand(5, 10, dtype=torch.float64, generator=torch.Generator().manual_seed(0)) * 3
    theta = layer.weight.detach()[:10]
    factors = torch.cos(x) * torch.cos(theta)
    expected = torch.stack([factors[:, sorted(s)].prod(dim=1) for s in parity_sets(10, offsets)], dim=1)
    torch.testing.assert_close(layer(x).detach(), expected, atol=1e-10, rtol=0)
    if offsets == (1, 2, 3, 4):  # the notes' worked example
        assert parity_sets(10, offsets)[5] == {0, 4, 5} and parity_sets(10, offsets)[9] == {3, 4, 8, 9}
    assert all(t - c in offsets for c, t in cnot_pairs(10, offsets))


def test_conditioning_qubit_reaches_every_output() -> None:
    """The label's qubit is wire 0, so flipping the label changes every ⟨Z⟩ of a CNOT chain."""
    from qcalo.quantum.layer import QuantumLayer

    layer = QuantumLayer(fastcaloq_circuit(4, conditioning_qubit=True), dtype=torch.complex128, init_seed=0)
    z = torch.full((1, 4), 0.3, dtype=torch.float64)
    low, high = (layer(torch.cat([z, torch.tensor([[v]], dtype=torch.float64)], dim=1)) for v in (0.0, 1.0))
    assert bool(((low - high).abs() > 1e-3).all())


def test_config_errors_are_one_line(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("latent_dim: 10\nwarp_drive: true\n")
    with pytest.raises(ConfigError, match="warp_drive"):
        load_gan_config(bad)
    with pytest.raises(ConfigError, match="needs a quantum generator"):
        load_gan_config("gan-classical", conditioning="qubit")
    bad.write_text("quantum: {cnot_offsets: [1, 5]}\n")
    with pytest.raises(ConfigError, match="cnot_offsets"):
        load_gan_config(bad)
    with pytest.raises(ConfigError, match="not found"):
        load_gan_config(tmp_path / "missing.yaml")
    # ATLAS's latent 50 is fine for a classical generator, not as 50 qubits of a circuit
    assert load_gan_config("gan-atlas").latent_dim == 50
    with pytest.raises(ConfigError, match="latent_dim=50 with a quantum layer needs 50 qubits"):
        load_gan_config("gan-2x", latent_dim=50)
    with pytest.raises(ConfigError, match="quantum layer"):
        load_gan_config("gan-atlas", critic={"layers": [200, 50], "quantum": {}})


@pytest.mark.parametrize("name", sorted(p.stem for p in (Path(__file__).parents[1] / "src/qcalo/configs").glob("gan-*.yaml")))
def test_every_packaged_config_builds_its_models(name: str) -> None:
    """Every row of the seed's tables is a config that validates and builds; twins share head and critic."""
    config = load_gan_config(name)
    generator = build_generator(config, 533, seed=0)
    critic = build_critic(config, 533, seed=0)
    label = torch.full((3, 1), 0.5)
    z = config.latent_mean + config.latent_std * torch.randn(3, config.latent_dim)
    showers = generator(z, label)
    assert showers.shape == (3, 533) and bool((showers >= 0).all())
    assert critic(showers, label).shape == (3,)
    if config.quantum is not None:
        twin = build_generator(config.model_copy(update={"quantum": None, "conditioning": "none"}), 533, seed=0)
        assert [p.shape for p in twin.head.parameters()] == [p.shape for p in generator.head.parameters()] or config.conditioning != "none"


def _rows(run_dir: Path) -> list[dict[str, str]]:
    with (run_dir / "chi2.csv").open(newline="") as handle:
        return list(csv.DictReader(handle))


@pytest.mark.parametrize(("quantum", "lr_steps"), [(None, ()), ({"rz": True, "repetitions": 2}, ()), ({"repetitions": 2}, ((2, 0.5), (4, 0.1)))])
def test_training_scores_checkpoints_and_resumes_bit_identically(subset, tmp_path: Path, quantum, lr_steps) -> None:
    """Also across a learning-rate step: the rate comes from the iteration, not from the saved optimizer."""
    config = GANConfig(**TINY, quantum=quantum, conditioning="head", lr_steps=lr_steps)
    straight = tmp_path / "straight"
    straight.mkdir()
    result = train_gan(config, subset.part("train"), subset.part("val"), straight)
    assert result.iterations == 6 and [r["iteration"] for r in _rows(straight)] == ["3", "6"]
    assert set(_rows(straight)[0]) >= {"chi2_ndf_all", "chi2_ndf_4096", "chi2_ndf_65536", "loss_d", "loss_g"}
    assert math.isfinite(result.best_chi2_ndf) and (straight / "best.pt").is_file()
    # Interrupted after 3 iterations, resumed to 6: the same numbers.
    halves = tmp_path / "halves"
    halves.mkdir()
    train_gan(config.model_copy(update={"iterations": 3}), subset.part("train"), subset.part("val"), halves)
    train_gan(config, subset.part("train"), subset.part("val"), halves, resume=True)
    strip = lambda rows: [{k: v for k, v in r.items() if k != "seconds"} for r in rows]
    assert strip(_rows(halves)) == strip(_rows(straight))
    a, b = (torch.load(d / "latest.pt", weights_only=False)["trainer"]["generator"] for d in (straight, halves))
    assert all(torch.equal(a[k], b[k]) for k in a)


def test_learning_rate_steps_apply_from_their_iteration(subset) -> None:
    from qcalo.train.gan import _Trainer

    config = GANConfig(**TINY, quantum=None, lr_steps=((2, 0.5), (4, 0.1)))
    assert [config.learning_rate_at(i) for i in range(6)] == pytest.approx([1e-4, 1e-4, 5e-5, 5e-5, 1e-5, 1e-5])
    trainer = _Trainer(config, subset.part("train"))
    seen = []
    for _ in range(5):
        trainer.step()
        seen.append({group["lr"] for opt in (trainer.opt_g, trainer.opt_d) for group in opt.param_groups})
    assert seen == [{1e-4}, {1e-4}, {5e-5}, {5e-5}, {1e-5}]
    # A step at a lower rate moves the weights less than the same step at the full rate.
    moved = []
    for steps in ((), ((1, 0.01),)):
        trainer = _Trainer(config.model_copy(update={"lr_steps": steps}), subset.part("train"))
        trainer.step()
        before = [p.detach().clone() for p in trainer.generator.parameters()]
        trainer.step()
        moved.append(sum(float((p.detach() - b).abs().sum()) for p, b in zip(trainer.generator.parameters(), before, strict=True)))
    assert moved[1] < 0.05 * moved[0]


@pytest.mark.parametrize("steps", [[[0, 0.1]], [[5, 0.1], [3, 0.5]], [[5, 0.0]], [[5, 0.1], [5, 0.2]]])
def test_bad_lr_steps_are_refused(steps) -> None:
    with pytest.raises(ValueError, match="lr_steps"):
        GANConfig(lr_steps=steps)


def test_quantum_critic_trains_with_its_gradient_penalty(subset, tmp_path: Path) -> None:
    """The penalty differentiates the critic twice: the circuit runs on the torch engine."""
    config = GANConfig(**{**TINY, "critic": {"layers": (16,), "quantum": {"repetitions": 1, "backend": "torch"}}}, quantum=None)
    result = train_gan(config, subset.part("train"), subset.part("val"), tmp_path)
    assert result.iterations == 6 and all(math.isfinite(float(r["loss_d"])) for r in _rows(tmp_path))


def test_max_minutes_stops_at_the_wall_time(subset, tmp_path: Path) -> None:
    config = GANConfig(**{**TINY, "iterations": 10_000, "checkpoint_every": 5000}, quantum=None)
    result = train_gan(config, subset.part("train"), subset.part("val"), tmp_path, max_minutes=1e-4)
    assert result.iterations < 10_000 and "wall-time" in result.stop_reason
    assert len(_rows(tmp_path)) == 1  # the last iteration was scored


def _tiny_yaml(tmp_path: Path, **changes: object) -> Path:
    import yaml

    path = tmp_path / f"tiny-{len(list(tmp_path.glob('tiny-*.yaml')))}.yaml"
    values = {**TINY, "critic": {"layers": [16]}, "generator_layers": [8], "subset": "4096:30,65536:30", "window": 1, **changes}
    path.write_text(yaml.safe_dump(values))
    return path


def test_cli_trains_selects_and_reports_on_the_test_part(tmp_path: Path) -> None:
    out = tmp_path / "run"
    result = runner.invoke(app, ["train", "gan", "--config", str(_tiny_yaml(tmp_path, lr_steps=[[4, 0.5]], select_showers_per_event=2)), "--out", str(out), "-q"])
    assert result.exit_code == 0, (result.stderr, result.exception)
    assert "synthetic" in result.stderr and "best checkpoint: iteration" in result.stdout
    summary = json.loads((out / "summary.json").read_text())
    assert summary["select_on"] == "val" and summary["best_iteration"] in (3, 6)
    assert set(summary["test_chi2_ndf_per_energy"]) == {"4096", "65536"} and math.isfinite(summary["test_chi2_ndf"])
    for key in ("test_chi2_ndf_se", "floor_test_chi2_ndf", "gaussian_test_chi2_ndf", "test_chi2_ndf_draws_se"):  # errors, baselines
        assert math.isfinite(summary[key]) and summary[key] > 0, key
    assert summary["test_draws"] == 10 and f"mean of 10 draws {summary['test_chi2_ndf_draws_mean']:.2f}" in result.stdout
    assert (out / "etot.png").read_bytes()[:4] == b"\x89PNG"
    environment = json.loads((out / "environment.json").read_text())
    assert environment["data_source"] == "synthetic" and len(environment["data_sha256"]) == 64
    again = runner.invoke(app, ["train", "gan", "--config", str(_tiny_yaml(tmp_path)), "--out", str(out), "-q"])
    assert again.exit_code == 2 and "--resume" in again.stderr
    table = runner.invoke(app, ["table", str(out), "--figure", str(tmp_path / "chi2.png")])
    assert table.exit_code == 0 and "test χ²/NDF" in table.stdout and "Gaussian" in table.stdout, table.output
    assert "0.0001, ×0.5 from 4" in table.stdout  # the learning-rate schedule is part of the row
    assert "dense 16" in table.stdout and "4, 20, 4" in table.stdout  # critic widths, batch, λ, latent size
    assert "(val, mean of 2)" in table.stdout  # each checkpoint scored on 2 generated samples
    assert f"{summary['test_chi2_ndf_draws_mean']:.2f} ± {summary['test_chi2_ndf_draws_se']:.2f}" in table.stdout
    assert (tmp_path / "chi2.png").read_bytes()[:4] == b"\x89PNG"


def test_cli_bad_inputs_are_one_line(tmp_path: Path) -> None:
    from qcalo.data.calochallenge import write_ds1

    file = tmp_path / "ds1.hdf5"
    write_ds1(file, np.full(20, 4096.0), np.random.default_rng(0).random((20, 533)))
    cases = [
        (["--config", str(_tiny_yaml(tmp_path, subset="8192:5"))], "--data", str(file), "no events at 8192"),
        (["--config", str(_tiny_yaml(tmp_path, subset="4096:50"))], "--data", str(file), "lower the counts"),
        (["--config", str(_tiny_yaml(tmp_path, bogus=1))], None, None, "bogus"),
        (["--config", str(_tiny_yaml(tmp_path)), "--max-minutes", "-1"], None, None, "--max-minutes"),
    ]
    for args, flag, value, message in cases:
        out = tmp_path / "run"
        extra = [flag, value] if flag else []
        result = runner.invoke(app, ["train", "gan", *args, "--out", str(out), "-q", *extra])
        assert result.exit_code == 2 and message in result.stderr, (args, result.stderr, result.exception)
        assert len(result.stderr.strip().splitlines()) == 1 and not out.exists()


def test_seed_critic_readout_on_qubit_0_is_blind_to_the_other_qubits() -> None:
    """The light cone of ⟨Z₀⟩ through 2 blocks of CNOT(i → i+1) holds qubits 0 and 1 only; the last qubit's holds all."""
    grads = {}
    for readout in ("first", "last"):
        config = load_gan_config("gan-qcritic-2x").model_copy(update={"critic": load_gan_config("gan-qcritic-2x").critic.model_copy(update={"readout": readout})})
        critic = build_critic(config, 533, seed=0)
        critic(torch.rand(6, 533), torch.rand(6, 1)).sum().backward()
        grads[readout] = critic.quantum.weight.grad.abs()
    ry_first_block = grads["first"][:10]  # the first block's RY on each qubit
    assert bool((ry_first_block[:2] > 1e-3).all()) and bool((ry_first_block[2:] < 1e-6).all())  # float32 round-off
    assert bool((grads["last"][:10] > 1e-4).all())


def test_fresh_generator_starts_near_the_data_scale() -> None:
    """Plain He-uniform output: showers sum to ~100× E_kin (and die under the final ReLU); the default 0.1 does not."""
    z = 0.5 + 0.5 * torch.randn(200, 10, generator=torch.Generator().manual_seed(0))
    label = torch.full((200, 1), 0.59)
    sums = {}
    for scale in (1.0, 0.1):
        config = load_gan_config("gan-classical").model_copy(update={"output_init_scale": scale})
        with torch.no_grad():
            sums[scale] = float(build_generator(config, 533, seed=0)(z, label).sum(dim=1).mean())
    assert sums[1.0] > 30 and sums[0.1] < 0.2 * sums[1.0]


def test_more_showers_per_selection_event_shrink_the_scoring_noise_not_its_mean() -> None:
    """A generator scored against its own showers (the null): with 1 sample per event (the public
    code) the χ² moves with every fresh generated draw; averaging 20 draws shrinks that spread
    (measured 0.29 → 0.05) and keeps χ²/NDF near 1 (one 20× larger sample gave 1.5–3.0: the
    reference's extremes set the range, the bigger sample's tail piles into the edge bins)."""
    config = load_gan_config("gan-classical").model_copy(update={"output_init_scale": 1.0})
    generator = build_generator(config, 533, seed=0)
    energies = np.full(500, 65536.0)
    reference = Ds1Data(energies, generate_showers(generator, energies, config, seed=999))
    values = {}
    for per_event in (1, 20):
        scored = config.model_copy(update={"select_showers_per_event": per_event})
        values[per_event] = [score_generator(generator, reference, scored, seed=s)["all"] for s in range(16)]
    assert np.std(values[20]) < 0.5 * np.std(values[1])
    assert abs(np.mean(values[20]) - 1.0) < 0.2
    public = score_showers(generate_showers(generator, energies, config, seed=3), reference)
    assert score_generator(generator, reference, config, seed=3) == public


def test_gan_showers_are_written_in_dataset_1_format(tmp_path: Path) -> None:
    import h5py

    from qcalo.data.calochallenge import read_ds1, write_ds1
    from qcalo.train.gan_run import write_gan_showers

    out = tmp_path / "run"
    assert runner.invoke(app, ["train", "gan", "--config", str(_tiny_yaml(tmp_path)), "--out", str(out), "-q"]).exit_code == 0
    path = write_gan_showers(out, tmp_path / "g.hdf5", energies_mev=(4096.0, 1048576.0), n_per_energy=7, seed=2)
    data = read_ds1(path)
    assert data.showers.shape == (14, 533) and sorted(set(data.incident_energies)) == [4096.0, 1048576.0]
    with h5py.File(path) as handle:
        assert handle.attrs["checkpoint_iteration"] in (3, 6) and handle.attrs["trained_on_source"] == "synthetic"
    again = write_gan_showers(out, tmp_path / "h.hdf5", energies_mev=(4096.0, 1048576.0), n_per_energy=7, seed=2)
    np.testing.assert_array_equal(read_ds1(again).showers, data.showers)
    # One shower per event of a reference file (the official evaluation's event mix).
    reference = write_ds1(tmp_path / "ref.hdf5", np.array([256.0, 65536.0, 65536.0]), np.ones((3, 533)))
    mirrored = read_ds1(write_gan_showers(out, tmp_path / "m.hdf5", energies_from=reference))
    np.testing.assert_array_equal(mirrored.incident_energies, [256.0, 65536.0, 65536.0])
    with pytest.raises(ConfigError, match="--overwrite"):
        write_gan_showers(out, path, energies_mev=(4096.0,), n_per_energy=1)
    with pytest.raises(ConfigError, match="either"):
        write_gan_showers(out, tmp_path / "x.hdf5")
    assert not (tmp_path / "x.hdf5").exists()
    # Through the CLI: `qcalo generate` and `qcalo evaluate` know a GAN run.
    cli = runner.invoke(app, ["generate", str(out), "--energies", "65536", "--n", "5", "--out", str(tmp_path / "c.hdf5")])
    assert cli.exit_code == 0 and read_ds1(tmp_path / "c.hdf5").showers.shape == (5, 533), cli.output
    bad = runner.invoke(app, ["generate", str(out), "--energies", "lots", "--n", "5", "--out", str(tmp_path / "d.hdf5")])
    assert bad.exit_code == 2 and "--energies" in bad.stderr and not (tmp_path / "d.hdf5").exists()
    before = json.loads((out / "summary.json").read_text())
    evaluated = runner.invoke(app, ["evaluate", str(out), "--json"])
    assert evaluated.exit_code == 0, evaluated.output
    assert json.loads(evaluated.stdout)["test_chi2_ndf"] == before["test_chi2_ndf"]
    assert json.loads(evaluated.stdout)["test_chi2_ndf_draws_mean"] == before["test_chi2_ndf_draws_mean"]


def test_the_mean_over_test_draws_starts_with_the_one_draw_figure(tmp_path: Path) -> None:
    """Draw i is generated with seed + 10^7 + i, so draw 0 is the public one-draw figure and a
    reader can regenerate any draw; the mean is over draws that differ (else its se would be 0)."""
    import torch

    from qcalo.train.gan_run import TEST_DRAWS, load_gan_data

    out = tmp_path / "run"
    assert runner.invoke(app, ["train", "gan", "--config", str(_tiny_yaml(tmp_path)), "--out", str(out), "-q"]).exit_code == 0
    summary = json.loads((out / "summary.json").read_text())
    config = load_gan_config(out / "config.yaml")
    subset, _source, _location = load_gan_data(config, None)
    generator = build_generator(config, 533, seed=config.seed)
    generator.load_state_dict(torch.load(out / "best.pt", weights_only=False)["generator"])
    test = subset.part("test")
    draws = [
        score_showers(generate_showers(generator, test.incident_energies, config, seed=config.seed + 10**7 + i), test)["all"]
        for i in range(TEST_DRAWS)
    ]
    assert draws[0] == summary["test_chi2_ndf"] and len(set(draws)) > 1  # 30 events: two draws may bin alike
    assert summary["test_chi2_ndf_draws_mean"] == pytest.approx(np.mean(draws), rel=1e-12)
    assert summary["test_chi2_ndf_draws_se"] == pytest.approx(np.std(draws, ddof=1) / np.sqrt(TEST_DRAWS), rel=1e-12)
