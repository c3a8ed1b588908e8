"""QAG model: one contract test over every ansatz, parameter counts, PixelCodec, bad settings."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from qcalo.exceptions import ConfigError, ShapeError
from qcalo.models.qag import ANSATZE, QAG, PixelCodec, build_qag_circuit

pytestmark = pytest.mark.usefixtures("torch_single_thread")

WIDTHS = (4, 8, 10)  # 10: not a power of two (MERA's tree must still cover every qubit)
CASES = [pytest.param(name, n, id=f"{name}-{n}px") for name in ANSATZE for n in WIDTHS]
SHOTS = 64


def random_weights(model: QAG, seed: int = 1) -> torch.Tensor:
    """Generic angles (far from the near-identity start), so no gradient vanishes by symmetry."""
    rng = np.random.default_rng(seed)
    return torch.tensor(
        rng.uniform(-math.pi, math.pi, model.n_params), dtype=model.simulator.real_dtype
    )


def seeded(seed: int) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def assert_shot_grid(z: torch.Tensor, shots: int, *, atol: float = 0.0) -> None:
    """Every value is ``1 - 2 k / shots`` for an integer count ``k`` in ``[0, shots]``."""
    counts = (1 - z.double()) * shots / 2
    assert torch.allclose(counts, counts.round(), rtol=0, atol=atol), (
        "shot values off the 2/shots grid"
    )
    assert counts.round().min() >= 0 and counts.round().max() <= shots


def coupling_graph_is_connected(model: QAG, weights: torch.Tensor) -> bool:
    """Pixels i, j linked when ⟨Z_j⟩ responds to the randomizing angle of qubit i."""
    angles = 0.3 * torch.randn(1, model.n_pixels, generator=seeded(5), dtype=torch.float64)
    jacobian = torch.autograd.functional.jacobian(
        lambda x: model.simulator.expval_z(weights, x)[0], angles
    )[:, 0]
    linked = (jacobian.abs() > 1e-9) | (jacobian.abs().T > 1e-9)
    reached, frontier = {0}, [0]
    while frontier:
        i = frontier.pop()
        for j in torch.nonzero(linked[i]).flatten().tolist():
            if j not in reached:
                reached.add(j)
                frontier.append(j)
    return len(reached) == model.n_pixels


# -- the contract every ansatz must meet ---------------------------------------------------
@pytest.mark.parametrize(("ansatz", "n_pixels"), CASES)
def test_ansatz_contract(ansatz: str, n_pixels: int) -> None:
    """Qubits = inputs = pixels; shapes, range, exact gradients, shot grid, seeding, coupling."""
    circuit = build_qag_circuit(n_pixels, ansatz)
    assert circuit.n_qubits == n_pixels and circuit.n_inputs == n_pixels
    assert circuit.n_params >= 1

    exact = QAG(n_pixels, ansatz, shots=None, dtype=torch.complex128)
    assert exact.n_params == circuit.n_params
    weights = random_weights(exact).requires_grad_(True)
    z = exact.sample_z(weights, 12, generator=seeded(0))
    assert z.shape == (12, n_pixels)
    assert z.isfinite().all() and z.abs().max() <= 1 + 1e-12
    coefficients = torch.randn(z.shape, generator=seeded(3), dtype=z.dtype)
    (z * coefficients).sum().backward()
    assert weights.grad is not None and weights.grad.isfinite().all()
    dead = torch.nonzero(weights.grad.abs() < 1e-10).flatten().tolist()
    assert not dead, f"{ansatz}: weights {dead} get no gradient"
    assert coupling_graph_is_connected(exact, weights.detach()), (
        f"{ansatz}: some pixels never couple"
    )

    shot = QAG(n_pixels, ansatz, shots=SHOTS)
    w = random_weights(shot)
    z_shot = shot.sample_z(w, 12, generator=seeded(0))
    assert z_shot.shape == (12, n_pixels) and z_shot.isfinite().all()
    assert_shot_grid(z_shot, SHOTS)
    assert torch.equal(z_shot, shot.sample_z(w, 12, generator=seeded(0)))
    assert not torch.equal(z_shot, shot.sample_z(w, 12, generator=seeded(1)))
    # With and without autograd the same images (torch's matmul may group the products
    # differently when an operand needs a gradient, so equal to round-off, not bitwise).
    torch.testing.assert_close(
        z.detach(), exact.sample_z(weights.detach(), 12, generator=seeded(0)), rtol=0, atol=1e-12
    )
    assert not torch.equal(z.detach(), exact.sample_z(weights.detach(), 12, generator=seeded(1)))


@pytest.mark.parametrize("ansatz", list(ANSATZE))
def test_deeper_ansatz_has_more_weights(ansatz: str) -> None:
    """``n_layers`` adds weights; ``None`` means the registered default depth."""
    one, two = (build_qag_circuit(8, ansatz, n).n_params for n in (1, 2))
    assert two > one
    default = ANSATZE[ansatz].default_layers
    assert build_qag_circuit(8, ansatz).n_params == build_qag_circuit(8, ansatz, default).n_params
    assert QAG(8, ansatz, n_layers=2, shots=None).n_params == two


def mera_up_count(n: int, layers: int) -> int:
    """From the `_mera_up` docstring: per stride s, blocks (i, i+s) and (i+s, i+2s), 2 RY each."""
    blocks, stride = 0, 1
    while 2 * stride < n:
        stride *= 2
    while stride >= 1:
        starts = range(0, n, 2 * stride)
        blocks += sum(i + stride < n for i in starts) + sum(i + 2 * stride < n for i in starts)
        stride //= 2
    return 2 * blocks * layers + n


@pytest.mark.parametrize("n_pixels", [2, 4, 5, 8, 10, 16])
@pytest.mark.parametrize("layers", [1, 2])
def test_documented_parameter_counts(n_pixels: int, layers: int) -> None:
    """mera-up and hea have exactly the weights their docstrings describe."""
    assert build_qag_circuit(n_pixels, "mera-up", layers).n_params == mera_up_count(
        n_pixels, layers
    )
    assert build_qag_circuit(n_pixels, "hea", layers).n_params == layers * 2 * n_pixels + n_pixels


def test_mera_up_8_matches_the_paper_count() -> None:
    """8 qubits: 11 blocks (1 + 3 + 7) of two RY, plus the final RY layer."""
    assert build_qag_circuit(8, "mera-up", 1).n_params == 2 * 11 + 8


@pytest.mark.parametrize("sampling", ["joint", "marginal"])
def test_shots_with_gradient_are_straight_through(sampling: str) -> None:
    """With shots and a weight needing grad: shot values forward, the exact gradient backward."""
    shot = QAG(8, "hea", shots=SHOTS, sampling=sampling, dtype=torch.complex128)
    exact = QAG(8, "hea", shots=None, dtype=torch.complex128)
    base = random_weights(shot)
    w_shot, w_exact = base.clone().requires_grad_(True), base.clone().requires_grad_(True)
    z_shot = shot.sample_z(w_shot, 10, generator=seeded(4))
    assert_shot_grid(z_shot.detach(), SHOTS, atol=1e-9)
    assert torch.allclose(z_shot.detach(), shot.sample_z(base, 10, generator=seeded(4)), atol=1e-12)
    coefficients = torch.randn(10, 8, generator=seeded(6), dtype=torch.float64)
    (z_shot * coefficients).sum().backward()
    (exact.sample_z(w_exact, 10, generator=seeded(4)) * coefficients).sum().backward()
    assert torch.allclose(w_shot.grad, w_exact.grad, atol=1e-12)


def test_exact_flag_bypasses_shots() -> None:
    """``exact=True`` on a shot model gives the exact expectation values."""
    shot, exact = QAG(4, "hea", shots=SHOTS), QAG(4, "hea", shots=None)
    w = random_weights(shot)
    assert torch.equal(
        shot.sample_z(w, 6, generator=seeded(2), exact=True),
        exact.sample_z(w, 6, generator=seeded(2)),
    )


def test_sigma2_sets_the_spread_of_the_randomizing_angles() -> None:
    """``random_angles`` draws N(0, σ²) per image and pixel."""
    angles = QAG(4, "hea", sigma2=0.25, shots=None).random_angles(20000, seeded(0))
    assert angles.shape == (20000, 4)
    assert (
        abs(float(angles.double().var()) - 0.25) < 0.01
        and abs(float(angles.double().mean())) < 0.01
    )


def test_init_weights_are_seeded_and_small() -> None:
    """Same seed, same start; the spread is the one asked for."""
    model = QAG(8, "mera-up", shots=None)
    a, b = model.init_weights(3, spread=0.1), model.init_weights(3, spread=0.1)
    assert a.shape == (model.n_params,) and np.array_equal(a, b)
    assert not np.array_equal(a, model.init_weights(4, spread=0.1))
    assert np.abs(model.init_weights(3, spread=0.0)).max() == 0


def test_exact_values_stay_in_range_near_identity() -> None:
    """Exact ⟨Z⟩ must stay in [−1, 1] (and decoded energies ≥ 0) even when a qubit sits at |0⟩."""
    model = QAG(8, "hea", sigma2=1e-6, shots=None)  # complex64, the default precision
    z = model.sample_z(np.zeros(model.n_params), 2000, generator=seeded(0))
    assert z.abs().max() <= 1
    assert PixelCodec((0.1,) * 8).decode(z).min() >= 0


# -- PixelCodec ---------------------------------------------------------------------------
CODEC = PixelCodec((0.05, 0.2, 0.5, 0.33))


@pytest.mark.parametrize("kind", ["numpy", "torch32", "torch64"])
def test_codec_round_trip(kind: str) -> None:
    """decode∘encode and encode∘decode are the identity inside the valid ranges."""
    rng = np.random.default_rng(0)
    energies = rng.uniform(0, 1, (50, 4)) * np.asarray(CODEC.scale)
    z = rng.uniform(-1, 1, (50, 4))
    if kind != "numpy":
        dtype = torch.float32 if kind == "torch32" else torch.float64
        energies, z = torch.tensor(energies, dtype=dtype), torch.tensor(z, dtype=dtype)
    tol = 1e-6 if kind == "torch32" else 1e-12
    back = CODEC.decode(CODEC.encode(energies))
    again = CODEC.encode(CODEC.decode(z))
    assert type(back) is type(energies) and type(again) is type(z)
    if kind == "numpy":
        np.testing.assert_allclose(back, energies, atol=tol)
        np.testing.assert_allclose(again, z, atol=tol)
    else:
        assert back.dtype == energies.dtype
        torch.testing.assert_close(back, energies, atol=tol, rtol=0)
        torch.testing.assert_close(again, z, atol=tol, rtol=0)


def test_codec_decode_range_and_ends() -> None:
    """⟨Z⟩ = 1 is no energy, −1 the pixel's full scale; all in between stays in [0, scale]."""
    z = np.random.default_rng(1).uniform(-1, 1, (200, 4))
    energies = CODEC.decode(z)
    assert energies.min() >= 0 and (energies <= np.asarray(CODEC.scale)).all()
    np.testing.assert_allclose(CODEC.decode(np.ones((1, 4))), 0.0)
    np.testing.assert_allclose(CODEC.decode(-np.ones((1, 4)))[0], CODEC.scale)
    torch.testing.assert_close(
        CODEC.decode(-torch.ones(1, 4, dtype=torch.float64))[0],
        torch.tensor(CODEC.scale, dtype=torch.float64),
    )


def test_codec_encode_clips_out_of_range_energies() -> None:
    """Energies above the scale encode to −1, negative ones to +1 (never outside [−1, 1])."""
    energies = np.array([[1.0, -0.1, 0.5, 10.0]])
    np.testing.assert_allclose(CODEC.encode(energies), [[-1.0, 1.0, -1.0, -1.0]])
    assert CODEC.encode(torch.tensor(energies)).abs().max() <= 1


def test_codec_from_images_scale() -> None:
    """scale_i = min(0.5, 1.1 · max_i) per pixel."""
    images = np.array([[0.01, 0.10, 0.48, 0.0], [0.02, 0.05, 0.30, 0.0]])
    codec = PixelCodec.from_images(images)
    assert codec.n_pixels == 4
    np.testing.assert_allclose(codec.scale[:3], [0.022, 0.11, 0.5])
    assert 0 < codec.scale[3] < 1e-9  # an all-zero pixel still gets a usable (positive) scale
    assert min(codec.scale) > 0 and max(PixelCodec.from_images(np.full((3, 2), 0.5)).scale) == 0.5
    encoded = codec.encode(images)
    assert encoded.min() >= -1 and encoded.max() <= 1


@pytest.mark.parametrize(
    "shape", [(5,), (5, 3), (5, 5), (2, 5, 4), (0,)], ids=["1d", "narrow", "wide", "3d", "empty-1d"]
)
@pytest.mark.parametrize("kind", ["numpy", "torch"])
def test_codec_wrong_shape_raises(shape: tuple[int, ...], kind: str) -> None:
    """encode and decode refuse anything but ``[n, n_pixels]``, in one line."""
    array = np.zeros(shape) if kind == "numpy" else torch.zeros(shape)
    for method in (CODEC.encode, CODEC.decode):
        with pytest.raises(ShapeError, match=r"\[n, 4\]") as caught:
            method(array)
        assert "\n" not in str(caught.value)


def test_codec_quantile_scale_ignores_rare_outliers() -> None:
    """quantile < 1: the scale follows the bulk, one outlier no longer sets it; it is clipped."""
    images = np.concatenate([np.linspace(0.0, 0.1, 999)[:, None], [[0.45]]])
    by_max = PixelCodec.from_images(images)
    by_quantile = PixelCodec.from_images(images, quantile=0.99)
    assert by_max.scale[0] == pytest.approx(min(0.5, 1.1 * 0.45))
    assert by_quantile.scale[0] == pytest.approx(1.1 * np.quantile(images, 0.99))
    assert by_quantile.encode(images).min() == -1.0  # the outlier sits at the clip
    with pytest.raises(ConfigError, match="quantile"):
        PixelCodec.from_images(images, quantile=1.5)


def test_codec_from_images_wrong_shape_raises() -> None:
    """from_images needs ``[n, n_pixels]`` too."""
    with pytest.raises(ShapeError):
        PixelCodec.from_images(np.ones(8))


# -- bad settings -------------------------------------------------------------------------
def assert_one_line(error: pytest.ExceptionInfo, *words: str) -> None:
    message = str(error.value)
    assert "\n" not in message, message
    for word in words:
        assert word in message, f"{word!r} not in {message!r}"


def test_unknown_ansatz_names_the_choices() -> None:
    """The model and the circuit builder both list every registered ansatz."""
    for make in (lambda: build_qag_circuit(8, "nope"), lambda: QAG(8, "nope")):
        with pytest.raises(ConfigError) as caught:
            make()
        assert_one_line(caught, "nope", *ANSATZE)


@pytest.mark.parametrize("sigma2", [0, -0.5, math.nan, math.inf, "0.5"])
def test_bad_sigma2_raises(sigma2: object) -> None:
    """σ² must be a finite number > 0."""
    with pytest.raises(ConfigError) as caught:
        QAG(8, "hea", sigma2=sigma2)
    assert_one_line(caught, "sigma2")


@pytest.mark.parametrize("shots", [0, -1, 2.5, True])
def test_bad_shots_raise(shots: object) -> None:
    """Shots: a positive integer or None."""
    with pytest.raises(ConfigError) as caught:
        QAG(8, "hea", shots=shots)
    assert_one_line(caught, "shots")


@pytest.mark.parametrize("n_layers", [0, -2, 1.5])
def test_bad_depth_raises(n_layers: object) -> None:
    """Depth must be an integer ≥ 1, for the builder and the model."""
    for make in (
        lambda: build_qag_circuit(8, "hea", n_layers),
        lambda: QAG(8, "hea", n_layers=n_layers),
    ):
        with pytest.raises(ConfigError) as caught:
            make()
        assert_one_line(caught, "n_layers")
