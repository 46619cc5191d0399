"""Map/model quality scores of one chain: helix cylindrical similarity, precision/recall, bins.

The He lab sorts map/model pairs into four quality bins from two numbers per chain (Nguyen et
al., ACM BCB 2023): the *averaged helix cylindrical similarity* (Sazzed et al., JCIM 2020) and
the *difference between precision and recall* of the map against the model. Neither paper's
methods text nor code is public, so the definitions below
are our own, documented reconstruction; every constant is a `QualitySettings` field.

Public helpers next to the brief's API: `polyline_distance` (exact point-to-polyline
distance) and `zone_voxels` (the zone's densities and model mask, which `precision_recall`
thresholds; computing it once makes contour sweeps cheap). `QualitySettings` validates its
values (helix_min_residues ≥ 5, 0 < cylinder_radius < crop_radius, 0 < model_radius ≤
zone_radius, thresholds in [0, 1]); `from_config` rejects unknown keys.

Conventions: density arrays are [z, y, x]; coordinates are x, y, z in Å; voxel [0, 0, 0] is
centred at `origin` and voxels are cubes of `voxel_size` Å. Voxels outside the array do not
exist: every voxel set below is clipped to the array. Only the sub-box around the helix or
chain is ever read, never the whole map.

Helices
    A helix is a run of ≥ `helix_min_residues` (6) consecutive residues of class HELIX (DSSP H,
    G or I; `cryosse.core.classes.HELIX` = 1), split where consecutive Cα atoms are more than
    `CHAIN_BREAK` (4.2 Å; a trans peptide spans 3.8 Å) apart.

Helix axis
    a_k = mean(Cα_k … Cα_k+3) for k = 0 … n-4 (the 4-residue centroid axis). On an ideal α-helix
    (100° per residue) these centroids wobble 0.26 Å around the true axis. For the crop the
    polyline is extended by `axis_extension` (1.5 Å) at both ends along the end tangent, taken
    as the chord a_0 → a_3 (and a_{m-4} → a_{m-1}): three steps are 300°, almost one turn, so
    the wobble barely tilts it (≈ 3°, against ≈ 15° for the one-step chord).

Helix cylindrical similarity (methods.md §1.4 option (a), "volume-matched threshold")
    W = voxels within `crop_radius` (5 Å, the He-lab prototype's crop) of the extended axis
        polyline; a union of capsules, so W has hemispherical ends.
    M = voxels of W within `cylinder_radius` of the unextended axis polyline: a capsule (the
        model cylinder with hemispherical caps of the same radius), not a flat-ended cylinder.
    D = the |M| voxels of W with the highest density; ties go to the lower flat voxel index
        (C order of the [z, y, x] array), so the result is deterministic even on flat maps.
    precision = |D ∩ M| / |D|, recall = |D ∩ M| / |M|, F1 = their harmonic mean; |D| = |M|
    makes all three equal. The threshold is implied by the volume, so the score needs no
    contour and is unchanged by any increasing transform of the density (scaling, offset).
    Pure noise scores near the chance level |M| / |W|. Distances are exact point-to-segment
    distances. |M| = 0 (helix outside the map) or |W| = |M| (nothing outside the model in the
    crop, e.g. clipped by the box edge) raise ValueError: there is nothing to score.

    `cylinder_radius` = 2.5 Å is calibrated on the 155 helices (≥ 6 residues) of the 18 chains
    of 12 real EMDB map/model pairs (benchmarks/quality.py: 1 Å curation boxes;
    maps better than 4.5 Å Gaussian-filtered to 6 Å first). Per-helix F1 (min / median / max,
    and the median chance level |M| / |W|) against the published range 0.171-0.848 (JCIM 2020,
    30,994 helices at 5-10 Å):
        2.0 Å: 0.105 / 0.631 / 0.830, chance 0.11
        2.5 Å: 0.256 / 0.668 / 0.847, chance 0.18
        3.0 Å: 0.371 / 0.695 / 0.832, chance 0.27
        3.5 Å: 0.455 / 0.714 / 0.817, chance 0.38
    A helix whose density is unrelated to it scores about the chance level, so the lowest of
    31k published scores should lie near chance: 2.5 Å puts chance (0.18) at the published
    minimum and reproduces the published maximum; 2.0 Å gives real, fitted helices scores
    below the published floor, while at 3.0-3.5 Å the published minimum would be worse than
    random. 2.5 Å is also just outside the Cα radius of an α-helix (2.3 Å).

Chain helix similarity
    The unweighted mean of the per-helix F1 over the chain's scored helices (every helix
    counts once, whatever its length; methods.md leaves the weighting open). None when no
    helix could be scored.

Precision and recall of the chain (methods.md §2)
    Z (zone) = voxels within `zone_radius` (6 Å) of an atom of the chain whose nearest atom over
        the chain and all other atoms of the model is one of the chain's (ties go to the chain).
        It keeps the neighbours' density out of the chain's score.
    Model = voxels of Z within `model_radius` (3 Å) of a chain atom.
    Map = voxels of Z with density ≥ `contour`.
    precision = |Map ∩ Model| / |Map| (0.0 when Map is empty), recall = |Map ∩ Model| / |Model|.
    Sign: precision − recall > 0 means the contoured density is smaller than the model (contour
    too high, missing density); < 0 means more density than model (contour too low, noise,
    unmodelled parts). All distances include their bound (+1e-9 Å).

Contour
    The EMDB author contour is the intended level; `fallback_contour` gives mean +
    `sigma_factor` × standard deviation of the map's non-zero voxels (zeros are the outside of
    masks and zoned component maps, not density) for maps without one. `sigma_factor` = 0.0:
    on the real pairs (benchmarks/quality.py) P = R is reached at mean + k σ with k between
    −0.43 and +0.24 (median −0.26) on the six medium-resolution pairs scored as they are, and
    at mean + 0 σ all six have |P − R| ≤ 0.21; mean + 1 σ gave P − R between +0.36 and +0.90
    on every pair (the contoured volume far below the model), which would put nearly every
    chain in bin 2 or 4.

Quality bins (methods.md §2; the 2×2 split and both thresholds are our inference)
    high F1 = chain helix similarity ≥ `f1_threshold`; a chain without a scored helix is low.
    small |P − R| = |precision − recall| ≤ `pr_threshold`.
    1 = high F1, small |P − R|; 2 = high F1, large |P − R|; 3 = low F1, small |P − R|;
    4 = low F1, large |P − R| (excluded by curation).
    `f1_threshold` = 0.5: the middle of the published per-helix range (0.171-0.848 → 0.51),
    and the point where the majority of the model cylinder's voxels are among the |M| densest
    voxels of the crop. On the real pairs the fitted chains score 0.49-0.79 and the same
    chains moved by 8 Å 0.06-0.23, so 0.5 separates fit from misfit.
    `pr_threshold` = 0.25: when contoured map and model volume are nested, |P − R| ≤ 0.25
    means the contoured volume is 0.75-1.33 × the model volume. On the real pairs P − R rises
    by 0.3-0.6 per σ of contour around P = R, so 0.25 tolerates a contour about ±0.5 σ away
    from the level that matches the model's volume; at mean + 0 σ the six medium-resolution
    pairs scored as they are all have |P − R| ≤ 0.21 (small).
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
    box = _sub_box(
        density,
        origin,
        voxel_size,
        extended.min(axis=0) - settings.crop_radius,
        extended.max(axis=0) + settings.crop_radius,
    )
    if box is None:
        raise ValueError("the helix lies outside the map")
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
    box = _sub_box(
        density,
        origin,
        voxel_size,
        chain_atoms.min(axis=0) - settings.zone_radius,
        chain_atoms.max(axis=0) + settings.zone_radius,
    )
    if box is None:
        raise ValueError("the chain lies outside the map")
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
