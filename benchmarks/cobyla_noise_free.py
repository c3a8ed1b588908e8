"""Best case for COBYLA on the QAG: how far can it get with a *noise-free* objective?

Seed 000's Table 1 trains by COBYLA on a fresh 50-image MMD every evaluation, which is noisy.
This removes the noise altogether — one fixed batch of ``--images`` randomizing angles and real
images for the whole run (common random numbers) and exact ⟨Z⟩ (no shots) — and gives COBYLA
``--evals`` evaluations with Table 1's ``tol``. The result is then scored like ``qcalo
evaluate`` scores a run (2048 shots, MMD on pixel energies, n = 250, 30 sets, against the
validation-vs-test floor; correlation loss of 20 000 images against the test set).

If COBYLA cannot reach the quality bar even here, no choice of noise handling will get it there
within the same number of evaluations.

Usage:
    .venv/bin/python benchmarks/cobyla_noise_free.py ../shared/data/clic8 [--ansatz clic8] [--layers 2]
        [--evals 600] [--images 1000] [--rhobeg 5.593] [--corr-weight 0.3] [--codec-quantile 0.999]
"""

from __future__ import annotations

import argparse
import sys
import time

import numpy as np
import torch
from scipy.optimize import minimize
from tqdm import tqdm

from qcalo.configs import QAGConfig
from qcalo.data.clic import load_clic
from qcalo.exceptions import QcaloError
from qcalo.metrics import correlation_loss, median_distance, mmd
from qcalo.models.qag import QAG, PixelCodec
from qcalo.train.evaluate import score_images


def main() -> None:
    try:
        run(sys.argv[1:])
    except QcaloError as error:  # bad data folder, codec quantile, ansatz…: one line, no traceback
        sys.exit(f"error: {error}")


def run(argv: list[str]) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("data")
    parser.add_argument("--ansatz", default="clic8")
    parser.add_argument("--layers", type=int, default=None)
    parser.add_argument("--evals", type=int, default=600)
    parser.add_argument("--images", type=int, default=1000)
    parser.add_argument("--rhobeg", type=float, default=5.593)
    parser.add_argument("--tol", type=float, default=0.004)
    parser.add_argument("--corr-weight", type=float, default=0.3)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--codec-quantile", type=float, default=QAGConfig().codec_quantile)
    args = parser.parse_args(argv)
    torch.set_num_threads(1)

    data = load_clic(args.data)
    codec = PixelCodec.from_images(data.train, quantile=args.codec_quantile)
    encoded = torch.as_tensor(codec.encode(data.train))
    bandwidth = median_distance(encoded.numpy(), seed=args.seed)
    exact = QAG(data.train.shape[1], args.ansatz, n_layers=args.layers, shots=None)
    angles = exact.random_angles(args.images, torch.Generator().manual_seed(args.seed))
    rng = np.random.default_rng(args.seed)
    real = encoded[rng.choice(len(encoded), args.images, replace=False)]

    bar = tqdm(total=args.evals, desc="noise-free COBYLA evaluations", file=sys.stderr, leave=False)

    def objective(weights: np.ndarray) -> float:
        bar.update()
        with torch.no_grad():
            z = exact.simulator.expval_z(torch.as_tensor(weights, dtype=torch.float32), angles)
            z = z.double().clamp(-1, 1)
            return float(mmd(z, real, scale=bandwidth) + args.corr_weight * correlation_loss(z, real))

    started = time.perf_counter()
    result = minimize(
        objective,
        exact.init_weights(args.seed, spread=0.3),
        method="COBYLA",
        options={"maxiter": args.evals, "rhobeg": args.rhobeg, "tol": args.tol},
    )
    seconds = time.perf_counter() - started
    bar.close()
    ratio, floor, corr = score(data, codec, args, result.x)
    print(
        f"{args.ansatz} ({exact.n_params} params), {result.nfev} noise-free evaluations of {args.images} images "
        f"in {seconds:.0f} s: loss {result.fun:.4f}; test MMD {ratio:.1f}x the floor {floor:.3e}; "
        f"correlation loss {corr:.3f}"
    )


def score(data, codec: PixelCodec, args: argparse.Namespace, weights: np.ndarray) -> tuple[float, float, float]:
    """``qcalo evaluate`` 's numbers for these weights: MMD ratio to floor, floor, correlation loss."""
    shots = QAG(data.train.shape[1], args.ansatz, n_layers=args.layers, shots=2048)
    generator = torch.Generator().manual_seed(args.seed + 1)
    with torch.no_grad():
        images = codec.decode(shots.sample_z(weights, 30 * 250 + 20_000, generator=generator).double()).numpy()
    scores = score_images(images, data, n_eval=250, n_sets=30, seed=args.seed)
    return scores["mmd_ratio_to_floor"], scores["real_mmd_floor_mean"], scores["corr_loss"]


if __name__ == "__main__":
    main()
