"""Trivial and classic predictors of helix / sheet, scored exactly like the network.

Every accuracy figure of a trained model must stand next to what a predictor that learned
nothing achieves on the same maps and truth. Each baseline here returns what the network's
evaluation scores: an integer label grid [z, y, x] (0 background, 1 helix, 2 sheet) on the
grid of the density it was given, so cryosse.core.metrics (voxel F1, the residue vote) scores it
unchanged.

    threshold  density above a contour → helix, nothing is sheet. The contour is the author's
               recommended level when known, else mean + 1 σ of the non-zero voxels (zeros are
               the outside of masks and zoned component maps, not density).
    hessian    the classic shape detector of secondary structure in medium-resolution maps:
               local Hessian eigenvalues of the Gaussian-smoothed density, restricted to the
               voxels above the same contour. A rod (two strongly negative eigenvalues, one
               near zero) is helix, a plate (one strongly negative, two near zero) is sheet,
               a blob (three negative) or a non-ridge voxel is background.
    all_helix  every voxel helix: the floor of voxel F1, and, through the 3 Å residue vote,
               exactly "every residue helix" (every residue whose Cα lies on the grid has at
               least its own voxel within 3 Å), the floor of residue helix F1.

How the Hessian baseline's few parameters were chosen (from physics, before it was run on any
real map; none was tuned on the real test maps):
    smoothing: the total Gaussian blur of map + filter is brought to `HESSIAN_TOTAL_SIGMA`
        = 2.0 Å, which leaves a 4.8 Å modulation (the spacing of β-strands in a sheet) at
        exp(−2π²σ²/4.8²) ≈ 3 %, so the strands of a sheet merge into a plate, while the ~10 Å
        cross-section of a helix stays a rod. A map of resolution d already carries a blur of
        0.225·d (ChimeraX molmap's σ = d/(π√2), also cryosse.synthetic.recipe's), so the filter
        adds
        σ_f = sqrt(2.0² − (0.225·d)²), at least `HESSIAN_MIN_SIGMA` = 1 Å (second derivatives
        of a 1 Å grid need some smoothing); d unknown → 6 Å (σ_f ≈ 1.5 Å).
    classification: no threshold is fitted. The sorted eigenvalues λ1 ≤ λ2 ≤ λ3 (λ1 < 0 at a
        density ridge) are scaled to (a, b) = (λ2/λ1, λ3/λ1); the voxel takes the class of the
        nearest ideal shape: plate (0, 0) → sheet, rod (1, 0) → helix, blob (1, 1) →
        background. Voxels with λ1 ≥ 0 (no ridge) are background.
Checked afterwards on simulated maps only (benchmarks/hessian_simulated.py, 12 structures with
β-sheet, 5–8 Å, seed 1): weighted voxel F1 helix / sheet 22.2 / 13.1 % at a total blur of
1.5 Å, 22.8 / 12.8 at 2.0, 25.2 / 11.7 at 2.5, 26.4 / 10.8 at 3.0 — more blur trades sheet for
helix, no clear optimum, so the physical 2.0 Å stays.
"""

from __future__ import annotations

import math

import numpy as np
from scipy import ndimage

from cryosse.core.classes import BACKGROUND, HELIX, SHEET
from cryosse.core.run_grid import BASELINES
from cryosse.curate.quality import fallback_contour

BASELINE_TITLES = {
    "threshold": "threshold → helix",
    "hessian": "Hessian rod/plate",
    "all_helix": "every voxel helix",
}
THRESHOLD_SIGMA = 1.0  # mean + 1 σ of the non-zero voxels when the author's contour is unknown
HESSIAN_TOTAL_SIGMA = 2.0  # Å, map blur + filter (module docstring)
HESSIAN_MIN_SIGMA = 1.0  # Å
MAP_BLUR_PER_RESOLUTION = 0.225  # σ of a map of resolution d ≈ 0.225·d (ChimeraX molmap)
DEFAULT_RESOLUTION = 6.0  # Å, when the map's resolution is unknown
_TRUNCATE = 4.0  # Gaussian kernels reach 4 σ (scipy's default)
_Z_SLAB = 32  # planes per slab: bounds the six Hessian components in memory


def density_threshold(density: np.ndarray, contour: float | None = None) -> float:
    """The author's contour if known, else mean + 1 σ of the non-zero voxels."""
    if contour is not None:
        return float(contour)
    return fallback_contour(density, THRESHOLD_SIGMA)


def threshold_labels(density: np.ndarray, contour: float | None = None) -> np.ndarray:
    """Helix above the contour, background elsewhere; never sheet."""
    labels = np.zeros(density.shape, dtype=np.int64)
    labels[density > density_threshold(density, contour)] = HELIX
    return labels


def all_helix_labels(density: np.ndarray) -> np.ndarray:
    """Every voxel helix (see the module docstring for its residue-level meaning)."""
    return np.full(density.shape, HELIX, dtype=np.int64)


def hessian_sigma(resolution: float | None, total_sigma: float = HESSIAN_TOTAL_SIGMA) -> float:
    """Filter σ in Å that brings the map's blur to `total_sigma` (module docstring)."""
    d = DEFAULT_RESOLUTION if resolution is None or not math.isfinite(resolution) else resolution
    remaining = total_sigma**2 - (MAP_BLUR_PER_RESOLUTION * d) ** 2
    return max(HESSIAN_MIN_SIGMA, math.sqrt(max(remaining, 0.0)))


def shape_classes(eigenvalues: np.ndarray) -> np.ndarray:
    """Class per row of sorted eigenvalues (n × 3, λ1 ≤ λ2 ≤ λ3): nearest ideal shape."""
    lam1 = eigenvalues[:, 0]
    ridge = lam1 < 0
    safe = np.where(ridge, lam1, -1.0)
    a = eigenvalues[:, 1] / safe  # λ2/λ1: 1 for a rod or blob, 0 for a plate
    b = eigenvalues[:, 2] / safe  # λ3/λ1: 1 for a blob, 0 for a rod or plate
    prototypes = np.array([[1.0, 1.0], [1.0, 0.0], [0.0, 0.0]])  # blob, rod, plate
    classes = np.array([BACKGROUND, HELIX, SHEET], dtype=np.int64)
    points = np.stack([a, b], axis=1)
    distance = ((points[:, None, :] - prototypes[None, :, :]) ** 2).sum(axis=2)
    out = classes[np.argmin(distance, axis=1)]
    out[~ridge] = 0
    return out


def hessian_labels(
    density: np.ndarray,
    voxel_size: float = 1.0,
    resolution: float | None = None,
    contour: float | None = None,
    total_sigma: float = HESSIAN_TOTAL_SIGMA,
) -> np.ndarray:
    """Rod → helix, plate → sheet among the voxels above the contour (module docstring).

    The six Hessian components are computed a z-slab at a time with a halo of the kernel's
    reach, so the result equals the whole-map filter while memory stays at a slab's size.
    """
    data = np.asarray(density, dtype=np.float32)
    above = data > density_threshold(data, contour)
    labels = np.zeros(data.shape, dtype=np.int64)
    sigma = hessian_sigma(resolution, total_sigma) / float(voxel_size)
    halo = int(_TRUNCATE * sigma + 0.5) + 1
    orders = [(2, 0, 0), (0, 2, 0), (0, 0, 2), (1, 1, 0), (1, 0, 1), (0, 1, 1)]
    pairs = [(0, 0), (1, 1), (2, 2), (0, 1), (0, 2), (1, 2)]
    nz = data.shape[0]
    for z0 in range(0, nz, _Z_SLAB):
        z1 = min(nz, z0 + _Z_SLAB)
        mask = above[z0:z1]
        if not mask.any():
            continue
        lo, hi = max(0, z0 - halo), min(nz, z1 + halo)
        slab = data[lo:hi]
        hessian = np.empty((int(mask.sum()), 3, 3), dtype=np.float64)
        for order, (i, j) in zip(orders, pairs, strict=True):
            component = ndimage.gaussian_filter(
                slab, sigma, order=order, output=np.float32, truncate=_TRUNCATE
            )
            values = component[z0 - lo : z0 - lo + (z1 - z0)][mask]
            hessian[:, i, j] = values
            hessian[:, j, i] = values
        labels[z0:z1][mask] = shape_classes(np.linalg.eigvalsh(hessian))
    return labels


def baseline_labels(
    name: str,
    density: np.ndarray,
    voxel_size: float = 1.0,
    resolution: float | None = None,
    contour: float | None = None,
) -> np.ndarray:
    """Labels [z, y, x] of one baseline (BASELINES) on the grid of `density`."""
    if name == "threshold":
        return threshold_labels(density, contour)
    if name == "hessian":
        return hessian_labels(density, voxel_size, resolution, contour)
    if name == "all_helix":
        return all_helix_labels(density)
    raise ValueError(f"unknown baseline {name!r}: expected one of {', '.join(BASELINES)}")
