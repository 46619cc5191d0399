"""Map/model quality scores of one chain: helix cylindrical similarity, precision/recall, bins.

The He lab sorts map/model pairs into four quality bins from two numbers per chain (Nguyen et
al., ACM BCB 2023): the *averaged helix cylindrical similarity* (Sazzed et al., JCIM 2020) and
the *difference between precision and recall* of the map against the model. Neither paper's
methods text nor code is public, so the definitions are our own, documented reconstruction;
every constant is a `QualitySettings` field. docs/quality.md is the specification: the
definitions, and the measurements on real pairs (benchmarks/quality.py) that set each constant.

Public helpers next to the brief's API: `polyline_distance` (exact point-to-polyline
distance) and `zone_voxels` (the zone's densities and model mask, which `precision_recall`
thresholds; computing it once makes contour sweeps cheap). `QualitySettings` validates its
values (helix_min_residues ≥ 5, 0 < cylinder_radius < crop_radius, 0 < model_radius ≤
zone_radius, thresholds in [0, 1]); `from_config` rejects unknown keys.

Conventions: density arrays are [z, y, x]; coordinates are x, y, z in Å; voxel [0, 0, 0] is
centred at `origin` and voxels are cubes of `voxel_size` Å. Voxels outside the array do not
exist: every voxel set below is clipped to the array. Only the sub-box around the helix or
chain is ever read, never the whole map.

Design: the helix similarity compares the model cylinder M with the |M| densest voxels of the
crop (a volume-matched threshold), so it needs no contour and no increasing transform of the
density changes it; ties go to the lower flat voxel index, so flat maps score
deterministically. Precision and recall are taken in the chain's own zone (voxels nearer to
it than to any other chain), which keeps the neighbours' density out of its score. All
distances include their bound.
"""

from __future__ import annotations

import dataclasses
import itertools
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy.spatial import cKDTree

from cryosse.core.classes import HELIX
from cryosse.core.config import settings_from

# Consecutive Cα atoms farther apart than this (Å) are a chain break, not a peptide bond.
CHAIN_BREAK = 4.2
# Residues averaged per axis point (one α-helix turn is 3.6 residues).
AXIS_WINDOW = 4
# Axis steps of the end tangent's chord (3 × 100° ≈ one turn).
TANGENT_STEPS = 3
# Distances include their bound: voxel centres exactly on a radius count as inside.
_EPS = 1e-9


@dataclass(frozen=True)
class QualitySettings:
    helix_min_residues: int = 6
    crop_radius: float = 5.0
    axis_extension: float = 1.5
    cylinder_radius: float = 2.5
    model_radius: float = 3.0
    zone_radius: float = 6.0
    sigma_factor: float = 0.0
    f1_threshold: float = 0.5
    pr_threshold: float = 0.25

    def __post_init__(self) -> None:
        if self.helix_min_residues < AXIS_WINDOW + 1:
            # Two axis points at least: the extension needs an end tangent.
            raise ValueError(f"helix_min_residues must be ≥ {AXIS_WINDOW + 1}")
        if not 0.0 < self.cylinder_radius < self.crop_radius:
            raise ValueError("need 0 < cylinder_radius < crop_radius (M must be a part of W)")
        if self.axis_extension < 0.0:
            raise ValueError("axis_extension must be ≥ 0")
        if not 0.0 < self.model_radius <= self.zone_radius:
            raise ValueError("need 0 < model_radius ≤ zone_radius")
        if not 0.0 <= self.f1_threshold <= 1.0:
            raise ValueError("f1_threshold must lie in [0, 1]")
        if not 0.0 <= self.pr_threshold <= 1.0:
            raise ValueError("pr_threshold must lie in [0, 1]")

    @classmethod
    def from_config(cls, quality: dict[str, Any]) -> QualitySettings:
        """Settings from the config's `quality` section (cryosse.core.config.settings_from): missing
        keys take the defaults, unknown keys raise ValueError (ConfigError), so that a misspelt
        threshold cannot pass unnoticed."""
        return settings_from(cls, quality)


@dataclass(frozen=True)
class HelixScore:
    first_residue: int  # index into the chain's residue list
    n_residues: int
    f1: float
    precision: float
    recall: float
    n_window: int  # |W|
    n_model: int  # |M|


def helix_segments(
    classes: Sequence[int] | np.ndarray, ca: np.ndarray, min_residues: int
) -> list[tuple[int, int]]:
    """(start, stop) index ranges of helix runs of ≥ min_residues residues, split at breaks."""
    cls_arr = np.asarray(classes)
    ca = np.asarray(ca, dtype=np.float64).reshape(-1, 3)
    if len(cls_arr) != len(ca):
        raise ValueError(f"{len(cls_arr)} classes for {len(ca)} Cα atoms")
    is_helix = cls_arr == HELIX
    gap = np.linalg.norm(np.diff(ca, axis=0), axis=1) > CHAIN_BREAK  # gap[i]: between i, i+1
    segments: list[tuple[int, int]] = []
    start: int | None = None
    for i in range(len(cls_arr) + 1):
        ends = i == len(cls_arr) or not is_helix[i] or (start is not None and gap[i - 1])
        if start is not None and ends:
            if i - start >= min_residues:
                segments.append((start, i))
            start = None
        if start is None and i < len(cls_arr) and is_helix[i]:
            start = i
    return segments


def helix_axis(ca: np.ndarray, extension: float = 0.0) -> np.ndarray:
    """Axis polyline (m×3) of one helix: 4-residue Cα centroids, extended at both ends."""
    ca = np.asarray(ca, dtype=np.float64).reshape(-1, 3)
    if len(ca) < AXIS_WINDOW:
        raise ValueError(f"a helix axis needs ≥ {AXIS_WINDOW} Cα atoms, got {len(ca)}")
    cumulative = np.concatenate([np.zeros((1, 3)), np.cumsum(ca, axis=0)])
    axis = (cumulative[AXIS_WINDOW:] - cumulative[:-AXIS_WINDOW]) / AXIS_WINDOW
    if extension <= 0.0:
        return axis
    if len(axis) < 2:
        raise ValueError("extending a helix axis needs ≥ 2 axis points (≥ 5 residues)")
    steps = min(TANGENT_STEPS, len(axis) - 1)
    head = axis[0] - axis[steps]
    tail = axis[-1] - axis[-1 - steps]
    head = axis[0] + extension * head / np.linalg.norm(head)
    tail = axis[-1] + extension * tail / np.linalg.norm(tail)
    return np.vstack([head, axis, tail])


def polyline_distance(points: np.ndarray, vertices: np.ndarray) -> np.ndarray:
    """Exact distance of each point (N×3) to a polyline (m×3): minimum over its segments."""
    points = np.asarray(points, dtype=np.float64).reshape(-1, 3)
    vertices = np.asarray(vertices, dtype=np.float64).reshape(-1, 3)
    if len(vertices) == 1:
        return np.linalg.norm(points - vertices[0], axis=1)
    best = np.full(len(points), np.inf)
    for a, b in itertools.pairwise(vertices):
        ab = b - a
        length2 = float(ab @ ab)
        rel = points - a
        t = np.clip(rel @ ab / length2, 0.0, 1.0) if length2 > 0.0 else np.zeros(len(points))
        diff = rel - t[:, None] * ab
        np.minimum(best, np.einsum("ij,ij->i", diff, diff), out=best)
    return np.sqrt(best)


@dataclass(frozen=True)
class _SubBox:
    points: np.ndarray  # (N, 3) voxel centres, xyz Å
    values: np.ndarray  # (N,) density
    flat: np.ndarray  # (N,) flat index into the whole [z, y, x] array


def _sub_box(
    density: np.ndarray, origin: np.ndarray, voxel_size: float, lo: np.ndarray, hi: np.ndarray
) -> _SubBox | None:
    """The voxels whose centres lie in the xyz range [lo, hi], clipped to the array."""
    shape_xyz = np.array(density.shape[::-1])
    first = np.maximum(np.floor((lo - origin) / voxel_size - _EPS).astype(np.int64), 0)
    last = np.minimum(np.ceil((hi - origin) / voxel_size + _EPS).astype(np.int64), shape_xyz - 1)
    if np.any(last < first):
        return None
    ranges = [np.arange(first[a], last[a] + 1) for a in range(3)]
    iz, iy, ix = np.meshgrid(ranges[2], ranges[1], ranges[0], indexing="ij")
    block = density[first[2] : last[2] + 1, first[1] : last[1] + 1, first[0] : last[0] + 1]
    points = origin + voxel_size * np.stack([ix.ravel(), iy.ravel(), iz.ravel()], axis=1)
    flat = np.ravel_multi_index((iz.ravel(), iy.ravel(), ix.ravel()), density.shape)
    return _SubBox(points=points, values=block.reshape(-1), flat=flat)


def _sub_box_around(
    density: np.ndarray,
    origin: np.ndarray,
    voxel_size: float,
    points: np.ndarray,
    radius: float,
    what: str,
) -> _SubBox:
    """The voxels in the bounding box of `points` grown by `radius`; ValueError naming `what`
    when that box misses the map."""
    box = _sub_box(
        density, origin, voxel_size, points.min(axis=0) - radius, points.max(axis=0) + radius
    )
    if box is None:
        raise ValueError(f"{what} lies outside the map")
    return box


def _check_grid(density: np.ndarray, voxel_size: float) -> None:
    if density.ndim != 3:
        raise ValueError(f"density must be a 3D [z, y, x] array, got shape {density.shape}")
    if not voxel_size > 0.0:
        raise ValueError(f"voxel_size must be positive, got {voxel_size}")


def cylindrical_similarity(
    density: np.ndarray,
    origin: np.ndarray,
    voxel_size: float,
    helix_ca: np.ndarray,
    settings: QualitySettings,
) -> HelixScore:
    """Volume-matched cylindrical similarity of one helix (first_residue 0 = helix_ca[0]).

    Raises ValueError when |M| = 0 or |W| = |M| (nothing to score).
    """
    _check_grid(density, voxel_size)
    origin = np.asarray(origin, dtype=np.float64)
    helix_ca = np.asarray(helix_ca, dtype=np.float64).reshape(-1, 3)
    axis = helix_axis(helix_ca)
    extended = helix_axis(helix_ca, settings.axis_extension)
    box = _sub_box_around(density, origin, voxel_size, extended, settings.crop_radius, "the helix")
    in_window = polyline_distance(box.points, extended) <= settings.crop_radius + _EPS
    points = box.points[in_window]
    values = box.values[in_window]
    flat = box.flat[in_window]
    in_model = polyline_distance(points, axis) <= settings.cylinder_radius + _EPS
    n_window, n_model = len(points), int(np.count_nonzero(in_model))
    if n_model == 0:
        raise ValueError("no voxel of the map lies in the helix's model cylinder")
    if n_window == n_model:
        raise ValueError("the crop around the helix has no voxel outside its model cylinder")
    # Highest density first; equal densities in flat-index order (lexsort: last key primary).
    order = np.lexsort((flat, -values.astype(np.float64)))
    hits = int(np.count_nonzero(in_model[order[:n_model]]))
    score = hits / n_model  # = precision = recall = F1, since |D| = |M|
    return HelixScore(
        first_residue=0,
        n_residues=len(helix_ca),
        f1=score,
        precision=score,
        recall=score,
        n_window=n_window,
        n_model=n_model,
    )


def chain_helix_similarity(
    density: np.ndarray,
    origin: np.ndarray,
    voxel_size: float,
    classes: Sequence[int] | np.ndarray,
    ca: np.ndarray,
    settings: QualitySettings,
) -> tuple[float | None, list[HelixScore]]:
    """Unweighted mean F1 over the chain's scorable helices (None if none), and the scores.

    `classes` and `ca` are per residue of one chain, in chain order. Helices that cannot be
    scored (outside the map, or clipped so that W = M) are left out.
    """
    ca = np.asarray(ca, dtype=np.float64).reshape(-1, 3)
    scores: list[HelixScore] = []
    for start, stop in helix_segments(classes, ca, settings.helix_min_residues):
        try:
            score = cylindrical_similarity(density, origin, voxel_size, ca[start:stop], settings)
        except ValueError:
            continue
        scores.append(dataclasses.replace(score, first_residue=start))
    if not scores:
        return None, scores
    return float(np.mean([s.f1 for s in scores])), scores


def fallback_contour(values: np.ndarray, sigma_factor: float) -> float:
    """mean + sigma_factor × std of the non-zero values (zeros are outside masks / zones)."""
    data = np.asarray(values).reshape(-1)
    data = data[(data != 0) & np.isfinite(data)].astype(np.float64)
    if data.size == 0:
        raise ValueError("the map has no non-zero voxel: no contour can be derived")
    return float(data.mean() + sigma_factor * data.std())


def zone_voxels(
    density: np.ndarray,
    origin: np.ndarray,
    voxel_size: float,
    chain_atoms: np.ndarray,
    other_atoms: np.ndarray,
    settings: QualitySettings,
) -> tuple[np.ndarray, np.ndarray]:
    """Density of the chain's zone voxels Z and the mask of those in its model volume.

    Raises ValueError when no model voxel lies in the map.
    """
    _check_grid(density, voxel_size)
    origin = np.asarray(origin, dtype=np.float64)
    chain_atoms = np.asarray(chain_atoms, dtype=np.float64).reshape(-1, 3)
    other_atoms = np.asarray(other_atoms, dtype=np.float64).reshape(-1, 3)
    if len(chain_atoms) == 0:
        raise ValueError("the chain has no atom")
    box = _sub_box_around(
        density, origin, voxel_size, chain_atoms, settings.zone_radius, "the chain"
    )
    reach = settings.zone_radius + _EPS
    # Bounded queries: voxels beyond the zone radius come back as inf and cost little.
    d_chain, _ = cKDTree(chain_atoms).query(box.points, distance_upper_bound=reach)
    near = d_chain <= reach
    d_chain, values = d_chain[near], box.values[near]
    if len(other_atoms):
        d_other, _ = cKDTree(other_atoms).query(box.points[near], distance_upper_bound=reach)
        zone = d_chain <= d_other  # ties go to the chain
        d_chain, values = d_chain[zone], values[zone]
    in_model = d_chain <= settings.model_radius + _EPS
    if not in_model.any():
        raise ValueError("no voxel of the chain's model volume lies in the map")
    return values, in_model


def precision_recall(
    density: np.ndarray,
    origin: np.ndarray,
    voxel_size: float,
    chain_atoms: np.ndarray,
    other_atoms: np.ndarray,
    contour: float,
    settings: QualitySettings,
) -> tuple[float, float]:
    """(precision, recall) of the contoured map against the chain's model volume, in its zone.

    Raises ValueError when no model voxel lies in the map.
    """
    values, in_model = zone_voxels(density, origin, voxel_size, chain_atoms, other_atoms, settings)
    in_map = values >= contour
    n_map = int(np.count_nonzero(in_map))
    both = int(np.count_nonzero(in_model & in_map))
    precision = both / n_map if n_map else 0.0
    return precision, both / int(np.count_nonzero(in_model))


def quality_bin(
    helix_f1: float | None, precision: float, recall: float, settings: QualitySettings
) -> int:
    """Bin 1-4: (high F1, small |P−R|), (high, large), (low, small), (low, large)."""
    high = helix_f1 is not None and helix_f1 >= settings.f1_threshold
    small = abs(precision - recall) <= settings.pr_threshold
    if high:
        return 1 if small else 2
    return 3 if small else 4
