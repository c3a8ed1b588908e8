"""CaloChallenge dataset-1 geometry (pions 533 voxels, photons 368) and its high-level features.

The binning is the official ``code/binning_dataset_1_{pions,photons}.xml`` of
CaloChallenge/homepage (notes/calochallenge.md §3), written out here as constants so that
qcalo needs neither the XML file nor network access. Conventions, as in the official
``XMLHandler`` / ``HighLevelFeatures``:

* only layers with voxels are listed (pions 0, 1, 2, 3, 12, 13, 14; photons 0, 1, 2, 3, 12);
* flat index = offset(layer) + a·n_r + r: inside a layer the **α slice is the outer loop and
  r the inner loop**; layers in increasing id;
* r centre = midpoint of adjacent r edges (mm); α centres = midpoints of
  ``linspace(-π, π, n_α + 1)`` (0 for n_α = 1);
* η-like coordinate = r_c·cos α_c, φ-like = r_c·sin α_c (mm).

:func:`shower_features` computes the official features (E_tot, E_layer, EC and widths in
η/φ for the α-binned layers, EC_r and width_r, sparsity) after zeroing voxels below the
readout threshold (1 MeV for DS1, ``evaluate.py``'s ``min_energy``). It is written in numpy
rather than by importing the official class because that class needs matplotlib and the
XML file, and mixes plotting with the feature code.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

import numpy as np
import numpy.typing as npt

from qcalo.exceptions import ConfigError, ShapeError

__all__ = [
    "GEOMETRIES",
    "PHOTON_GEOMETRY",
    "PION_GEOMETRY",
    "READOUT_THRESHOLD_MEV",
    "CaloGeometry",
    "ShowerFeatures",
    "get_geometry",
    "shower_features",
]

READOUT_THRESHOLD_MEV = 1.0
"""DS1 ``min_energy`` of the official evaluation: voxels below it count as 0."""

_WIDTH_EPSILON = 1e-16  # added to the layer energy in the denominators, as the official code


@dataclass(frozen=True)
class CaloGeometry:
    """Voxel layout of one CaloChallenge dataset-1 particle.

    Attributes:
        particle: ``"pion"`` or ``"photon"`` (the XML ``name``).
        layers: ids of the layers that hold voxels, increasing.
        r_edges: radial bin edges per layer (mm), same order as ``layers``.
        n_alpha: number of α bins per layer.
    """

    particle: str
    layers: tuple[int, ...]
    r_edges: tuple[tuple[float, ...], ...]
    n_alpha: tuple[int, ...]

    @property
    def n_r(self) -> tuple[int, ...]:
        """Number of radial bins per layer."""
        return tuple(len(edges) - 1 for edges in self.r_edges)

    @property
    def voxels_per_layer(self) -> tuple[int, ...]:
        """``n_r · n_α`` per layer."""
        return tuple(r * a for r, a in zip(self.n_r, self.n_alpha, strict=True))

    @property
    def n_voxels(self) -> int:
        """Length of a flat shower vector."""
        return sum(self.voxels_per_layer)

    @property
    def alpha_binned_layers(self) -> tuple[int, ...]:
        """Layers with more than one α bin (the only ones with η/φ centres and widths)."""
        return tuple(layer for layer, a in zip(self.layers, self.n_alpha, strict=True) if a > 1)

    @cached_property
    def offsets(self) -> np.ndarray:
        """Flat index where each layer starts, plus the total at the end (``len(layers)+1``)."""
        return np.concatenate([[0], np.cumsum(self.voxels_per_layer)]).astype(np.int64)

    def layer_slice(self, layer: int) -> slice:
        """Flat-index slice of ``layer`` (a layer id, e.g. 12)."""
        position = self.layer_position(layer)
        return slice(int(self.offsets[position]), int(self.offsets[position + 1]))

    def layer_position(self, layer: int) -> int:
        """Position of layer id ``layer`` in :attr:`layers`."""
        if layer not in self.layers:
            raise ConfigError(
                f"layer {layer} has no voxels in the {self.particle} geometry; "
                f"use one of {list(self.layers)}"
            )
        return self.layers.index(layer)

    @cached_property
    def voxel_layer(self) -> np.ndarray:
        """Layer id of each voxel, shape ``[n_voxels]``."""
        return np.repeat(np.asarray(self.layers), self.voxels_per_layer)

    @cached_property
    def voxel_r_bin(self) -> np.ndarray:
        """Radial bin of each voxel (r is the inner loop)."""
        return np.concatenate(
            [np.tile(np.arange(r), a) for r, a in zip(self.n_r, self.n_alpha, strict=True)]
        )

    @cached_property
    def voxel_alpha_bin(self) -> np.ndarray:
        """α bin of each voxel (α is the outer loop)."""
        return np.concatenate(
            [np.repeat(np.arange(a), r) for r, a in zip(self.n_r, self.n_alpha, strict=True)]
        )

    @cached_property
    def r_centre(self) -> np.ndarray:
        """Radial bin centre of each voxel (mm)."""
        centres = [0.5 * (np.asarray(e[:-1]) + np.asarray(e[1:])) for e in self.r_edges]
        return np.concatenate([centres[i][self.voxel_r_bin[self.layer_slice(layer)]]
                               for i, layer in enumerate(self.layers)])

    @cached_property
    def alpha_centre(self) -> np.ndarray:
        """α bin centre of each voxel (rad); 0 in layers with one α bin."""
        pieces = []
        for i, layer in enumerate(self.layers):
            edges = np.linspace(-np.pi, np.pi, self.n_alpha[i] + 1)
            centres = 0.5 * (edges[:-1] + edges[1:])
            pieces.append(centres[self.voxel_alpha_bin[self.layer_slice(layer)]])
        return np.concatenate(pieces)

    @cached_property
    def eta(self) -> np.ndarray:
        """η-like coordinate r_c·cos α_c of each voxel (mm)."""
        return self.r_centre * np.cos(self.alpha_centre)

    @cached_property
    def phi(self) -> np.ndarray:
        """φ-like coordinate r_c·sin α_c of each voxel (mm)."""
        return self.r_centre * np.sin(self.alpha_centre)

    def check_showers(self, showers: npt.ArrayLike, *, name: str = "showers") -> np.ndarray:
        """``showers`` as a float64 array ``[n, n_voxels]``; ShapeError (one line) otherwise."""
        array = np.asarray(showers, dtype=np.float64)
        if array.ndim != 2 or array.shape[1] != self.n_voxels:
            raise ShapeError(
                f"{name} has shape {array.shape}; the {self.particle} geometry needs "
                f"[n_events, {self.n_voxels}]"
            )
        return array


PION_GEOMETRY = CaloGeometry(
    particle="pion",
    layers=(0, 1, 2, 3, 12, 13, 14),
    r_edges=(
        (0, 5, 10, 30, 50, 100, 200, 400, 600),
        (0, 1, 4, 7, 10, 15, 30, 50, 90, 150, 200),
        (0, 5, 10, 20, 30, 50, 80, 130, 200, 300, 400),
        (0, 50, 100, 200, 400, 600),
        (0, 10, 20, 30, 50, 80, 100, 130, 160, 200, 250, 300, 350, 400, 1000, 2000),
        (0, 10, 20, 30, 50, 80, 100, 130, 160, 200, 250, 300, 350, 400, 600, 1000, 2000),
        (0, 50, 100, 150, 200, 250, 300, 400, 600, 1000, 2000),
    ),
    n_alpha=(1, 10, 10, 1, 10, 10, 1),
)
"""``binning_dataset_1_pions.xml`` (pid 211): 533 voxels."""

PHOTON_GEOMETRY = CaloGeometry(
    particle="photon",
    layers=(0, 1, 2, 3, 12),
    r_edges=(
        (0, 5, 10, 30, 50, 100, 200, 400, 600),
        (0, 2, 4, 6, 8, 10, 12, 15, 20, 30, 40, 50, 70, 90, 120, 150, 200),
        (0, 2, 5, 10, 15, 20, 25, 30, 40, 50, 60, 80, 100, 130, 160, 200, 250, 300, 350, 400),
        (0, 50, 100, 200, 400, 600),
        (0, 100, 200, 400, 1000, 2000),
    ),
    n_alpha=(1, 10, 10, 1, 1),
)
"""``binning_dataset_1_photons.xml`` (pid 22): 368 voxels."""

GEOMETRIES = {"pions": PION_GEOMETRY, "photons": PHOTON_GEOMETRY}
"""Geometry by dataset-1 particle name (plural, as in the file names)."""


def get_geometry(particle: str) -> CaloGeometry:
    """The geometry for ``"pions"`` or ``"photons"`` (singular accepted too)."""
    key = particle if particle.endswith("s") else particle + "s"
    if key not in GEOMETRIES:
        raise ConfigError(f"particle={particle!r}; use 'pions' or 'photons'")
    return GEOMETRIES[key]


@dataclass(frozen=True, eq=False)
class ShowerFeatures:
    """Official dataset-1 high-level features of ``n`` showers (all arrays ``[n]``, mm / MeV).

    Dictionaries are keyed by layer id; ``ec_eta`` … ``width_phi`` only hold α-binned layers.
    """

    e_tot: np.ndarray
    e_layer: dict[int, np.ndarray]
    ec_eta: dict[int, np.ndarray]
    ec_phi: dict[int, np.ndarray]
    width_eta: dict[int, np.ndarray]
    width_phi: dict[int, np.ndarray]
    ec_r: dict[int, np.ndarray]
    width_r: dict[int, np.ndarray]
    sparsity: dict[int, np.ndarray]


def shower_features(
    showers: npt.ArrayLike,
    geometry: CaloGeometry = PION_GEOMETRY,
    *,
    threshold: float = READOUT_THRESHOLD_MEV,
) -> ShowerFeatures:
    """High-level features as ``HighLevelFeatures.CalculateFeatures`` after ``evaluate.py``'s cut.

    Voxels below ``threshold`` (MeV) are set to 0 first; then, per layer with energies E_i:
    EC = Σ x_i E_i / (Σ E_i + 1e-16), width = sqrt(max(0, Σ x_i² E_i / (Σ E_i + 1e-16) − EC²))
    for x = η, φ (α-binned layers) and x = r (every layer); sparsity = 1 − fraction of voxels
    with E > 0.

    Args:
        showers: ``[n, n_voxels]`` voxel energies (MeV).
        geometry: the voxel layout (default: pions).
        threshold: readout threshold in MeV (``0`` keeps every voxel).

    Returns:
        The features, see :class:`ShowerFeatures`.

    Raises:
        ShapeError: if ``showers`` does not match the geometry.
    """
    data = geometry.check_showers(showers)
    if threshold > 0:
        data = np.where(data < threshold, 0.0, data)
    fields: dict[str, dict[int, np.ndarray]] = {
        name: {} for name in ("e_layer", "ec_eta", "ec_phi", "width_eta", "width_phi",
                              "ec_r", "width_r", "sparsity")
    }
    for layer in geometry.layers:
        cut = geometry.layer_slice(layer)
        energy = data[:, cut]
        fields["e_layer"][layer] = energy.sum(axis=1)
        fields["sparsity"][layer] = 1.0 - (energy > 0).mean(axis=1)
        fields["ec_r"][layer], fields["width_r"][layer] = _centre_and_width(
            geometry.r_centre[cut], energy
        )
        if layer in geometry.alpha_binned_layers:
            fields["ec_eta"][layer], fields["width_eta"][layer] = _centre_and_width(
                geometry.eta[cut], energy
            )
            fields["ec_phi"][layer], fields["width_phi"][layer] = _centre_and_width(
                geometry.phi[cut], energy
            )
    return ShowerFeatures(e_tot=data.sum(axis=1), **fields)


def _centre_and_width(coordinate: np.ndarray, energy: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Energy-weighted mean and spread of ``coordinate`` per shower, as the official code."""
    denominator = energy.sum(axis=1) + _WIDTH_EPSILON
    centre = (energy * coordinate).sum(axis=1) / denominator
    second = (energy * coordinate**2).sum(axis=1) / denominator
    return centre, np.sqrt(np.clip(second - centre**2, 0.0, None))
