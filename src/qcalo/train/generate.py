"""Write a trained run's generated showers to a file in the dataset's own format.

For a QAG trained on CLIC N-pixel data the file is what ``qcalo data download clic8`` gives:
dataset ``x`` of shape ``(N, n_pixels)``, pixel energies on the file's scale (mean layer energy
in GeV / 50), so any tool that reads the real files reads the generated ones. Provenance (the
run directory, seed, qcalo version, the run's data source and config) is stored as HDF5
attributes, with the noise it was generated under (``noise``, JSON; ``null`` = noiseless) and
the run's training noise (``train_noise``). The file appears only when complete (written to a
temp file, then renamed).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import numpy as np

from qcalo.atomic import atomic_path
from qcalo.exceptions import CheckpointError, ConfigError
from qcalo.validate import nonnegative_int, positive_int

__all__ = ["write_generated"]


def write_generated(
    run_dir: Path | str,
    n_showers: int,
    out: Path | str,
    *,
    seed: int = 0,
    overwrite: bool = False,
    progress: Callable[[int], None] | None = None,
    noise: object = "as-trained",
    backend: str | None = None,
) -> Path:
    """Generate ``n_showers`` from the trained run in ``run_dir`` and write them to ``out`` (HDF5).

    ``noise``: ``"as-trained"`` (default), a :class:`~qcalo.models.qag.NoiseSetting` or ``None``
    (noiseless) — see :func:`qcalo.train.evaluate.resolve_noise`. ``backend``: ``"fake:<name>"``
    or ``"ibm:<name>"`` runs the circuits through IBM's SamplerV2 instead
    (:func:`qcalo.quantum.hardware.run_on_backend`: the noise engine's ISA circuit on the device's
    best line, one sampler call per chunk of 500 showers); the spec, physical qubits and job ids
    are recorded.

    Raises:
        ConfigError: bad ``n_showers`` or ``seed``, ``out`` is a folder, or exists without ``overwrite``.
        CheckpointError: ``run_dir`` holds no trained model.
        OSError: ``out`` cannot be written (the CLI turns it into one line); no file is left.
    """
    import h5py

    from qcalo import __version__
    from qcalo.train.evaluate import generate_images
    from qcalo.train.qag import model_from_run, train_noise
    from qcalo.train.rundir import read_json, run_lock

    n_showers = positive_int(n_showers, "n", fix="(the number of showers to write)")
    seed = nonnegative_int(seed, "seed")
    run_dir, out = Path(run_dir), Path(out)
    if not (run_dir / "model.json").is_file():
        raise CheckpointError(f"{run_dir} holds no trained model (model.json); train it first: qcalo train qag --out {run_dir}")
    if out.is_dir():
        raise ConfigError(f"--out {out} is a folder; give a file name such as {out / 'generated.h5'}")
    if out.exists() and not overwrite:
        raise ConfigError(f"{out} exists; pass --overwrite to replace it or choose another --out")
    with run_lock(run_dir):  # not while another process trains or overwrites this run
        environment = read_json(run_dir / "environment.json") if (run_dir / "environment.json").is_file() else {}
        config_text = (run_dir / "config.yaml").read_text()
        model, _weights, _codec, config = model_from_run(run_dir, None if backend else noise)
        used = model.noise
        trained = train_noise(config)
        hardware: dict = {}
        if backend is None:
            showers = generate_images(run_dir, n_showers, seed=seed, progress=progress, noise=used)
        else:
            showers, hardware = _hardware_images(run_dir, n_showers, seed, backend, progress)
    with atomic_path(out) as tmp, h5py.File(tmp, "w") as handle:
        handle.create_dataset("x", data=showers, compression="gzip", compression_opts=4, shuffle=True)
        handle.attrs.update(
            {
                "generator": "qcalo QAG",
                "qcalo_version": __version__,
                "run_dir": str(run_dir.resolve()),
                "seed": seed,
                "n_showers": n_showers,
                "n_pixels": showers.shape[1],
                "units": "pixel = mean layer energy in GeV / 50 (CLIC recipe)",
                "trained_on_source": str(environment.get("data_source", "unknown")),
                "trained_on_location": str(environment.get("data_location", "unknown")),
                "config_yaml": config_text,
                "noise": json.dumps(None if used is None else used.record()),
                "train_noise": json.dumps(None if trained is None else trained.record()),
                "created_utc": datetime.now(UTC).isoformat(timespec="seconds"),
                **({"hardware": json.dumps(hardware)} if hardware else {}),
            }
        )

    return out


def _hardware_images(
    run_dir: Path, n_showers: int, seed: int, backend: str, progress: Callable[[int], None] | None, chunk: int = 500
) -> tuple[np.ndarray, dict]:
    """Showers measured through SamplerV2 on ``backend`` (seeded angles, as ``generate_images``)."""
    from qcalo.quantum.hardware import run_on_backend
    from qcalo.train.qag import epoch_generator, model_from_run

    model, weights, codec, _config = model_from_run(run_dir, None)
    generator, _ = epoch_generator(seed, 0, stream=2)
    parts, jobs, record = [], [], {}
    for index, start in enumerate(range(0, n_showers, chunk)):
        angles = model.random_angles(min(chunk, n_showers - start), generator).double().numpy()
        result = run_on_backend(model.circuit, weights, angles, backend, shots=model.shots or 2048, seed=seed * 100_003 + index)
        parts.append(codec.decode(np.asarray(result.expval_z, dtype=np.float64)))
        jobs.append(result.job_id)
        record = {"backend": str(result.backend), "physical_qubits": [int(q) for q in result.physical_qubits],
                  "shots": int(result.shots)}  # fmt: skip
        if progress is not None:
            progress(start + len(parts[-1]))
    record["job_ids"] = [job for job in jobs if job]
    return np.concatenate(parts), record
