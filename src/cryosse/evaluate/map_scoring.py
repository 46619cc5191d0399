"""Score a predicted label grid against an atomic model on a map's own grid.

Used where a prediction lives on the grid of the map it segmented (another tool's output, or
`cryosse segment --on-input-grid`), e.g. the He-lab component maps of benchmarks/real_maps.py.

Truth: mkdssp on the model's residues within the grid and cryosse.curate.dssp.DSSP_MARGIN around
it (they get a whole-model run's codes; H, G, I helix; B, E sheet; anything else
background); a voxel takes the class of the nearest Cα within 3 Å (cryosse.curate.labels, the rule
that reproduces the He-lab label files).

Regions:
    grid     every voxel of the map's grid; residues: every protein residue whose Cα lies on
             the grid (nearest voxel inside).
    near     the voxels within `near_radius` (6) Å of a Cα of the model (`near_model`): how a
             full or cropped map with unmodelled neighbours is scored around the part that
             is modelled (every labelled voxel is in it: labels reach 3 Å from a Cα); the
             region issue 23 measured EMD-5168 in; residues: those whose Cα voxel is in it.
    central  the paper's central box (Mu et al. 2024, Table 2: "the center box without the
             34 Å padding"): the bounding box of the chain's atoms on the grid — indices
             floor((min − origin)/step) … ceil((max − origin)/step), both included, clipped
             to the grid, exactly cryosse.curate.crop.chain_box without its padding; residues: those
             whose Cα lies in it.

Per map and class: voxel (true positives, predicted, true) counts, precision, recall, F1; the
residue vote (cryosse.core.metrics.residue_votes: 3 Å plurality, ties and empty → background) and
residue F1. Over maps (`summarize`): F1 weighted by the true voxels (residues) of the class,
as cryosse.segment.default_model.evaluation_figures, and the pooled precision, recall and F1.

A map with more copies of the molecule than the model holds (a filament with one modelled
subunit): `rest_volumes` sets the volume called helix / sheet outside the modelled part beside
what the modelled part's share predicts (cryosse.evaluate.baselines' contour measures the
molecule's volume on either side).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from scipy.spatial import cKDTree

from cryosse.core.classes import CLASS_IDS, SCORED_CLASSES, code_to_class
from cryosse.core.metrics import class_counts, micro_f1, residue_votes, weighted_average
from cryosse.curate.dssp import assign_dssp
from cryosse.curate.labels import label_voxels
from cryosse.io.density import DensityMap
from cryosse.io.structure import ca_array, chain_atom_coordinates, protein_residues, read_model

REGIONS = ("grid", "central", "near")
NEAR_RADIUS = 6.0  # Å: "within a few Å of the modelled part"


@dataclass
class GridTruth:
    """DSSP truth of a model on a map's grid ([z, y, x]) and its central box."""

    origin: np.ndarray  # xyz Å of voxel [0, 0, 0]
    voxel_size: float
    labels: np.ndarray  # int64 0/1/2 [z, y, x]
    ca: np.ndarray  # n × 3 Å, protein Cα on the grid
    ca_class: np.ndarray  # n, 0/1/2
    central: np.ndarray  # bool [z, y, x]
    ca_central: np.ndarray  # bool n
    near: np.ndarray  # bool [z, y, x], within near_radius Å of a Cα
    ca_near: np.ndarray  # bool n


def isotropic_step(density: DensityMap) -> float:
    step = density.voxel_size
    if not np.allclose(step, step[0], rtol=1e-4):
        raise ValueError(f"anisotropic voxels {step.tolist()}: resample to a cubic grid first")
    return float(step[0])


def _indices(points: np.ndarray, origin: np.ndarray, step: float) -> np.ndarray:
    return np.rint((np.asarray(points, dtype=np.float64) - origin) / step).astype(np.int64)


def near_model(
    origin: np.ndarray, shape_zyx: tuple[int, ...], step: float, atoms: np.ndarray, radius: float
) -> np.ndarray:
    """Bool [z, y, x]: voxel centres within `radius` Å of any of the atoms (n × 3, Å)."""
    near = np.zeros(shape_zyx, dtype=bool)
    if len(atoms) == 0:
        return near
    limit = np.array(shape_zyx[::-1]) - 1
    # Only the atoms' bounding box grown by the radius can be near: query that sub-grid.
    low = np.clip(np.floor((atoms.min(axis=0) - radius - origin) / step).astype(int), 0, limit)
    high = np.clip(np.ceil((atoms.max(axis=0) + radius - origin) / step).astype(int), 0, limit)
    if np.any(high < low):
        return near
    axes = [origin[a] + step * np.arange(low[a], high[a] + 1) for a in range(3)]
    zz, yy, xx = np.meshgrid(axes[2], axes[1], axes[0], indexing="ij")
    points = np.stack([xx.ravel(), yy.ravel(), zz.ravel()], axis=1)
    distance, _ = cKDTree(atoms).query(points, distance_upper_bound=radius + 1e-9)
    near[low[2] : high[2] + 1, low[1] : high[1] + 1, low[0] : high[0] + 1] = (
        distance <= radius
    ).reshape(zz.shape)
    return near


def truth_on_grid(
    density: DensityMap,
    model_path: str | Path,
    chain: str | None = None,
    radius: float = 3.0,
    near_radius: float = NEAR_RADIUS,
) -> GridTruth:
    """Labels of the model on the map's grid; the central box of `chain` (None: every chain);
    the voxels within `near_radius` Å of the model's Cα atoms (every chain)."""
    step = isotropic_step(density)
    structure = read_model(model_path)
    residues = protein_residues(structure)
    # DSSP only on the residues that can label this grid (a 559,680-atom model fitted into a
    # small map costs what the map holds): codes within the region equal a whole-model run's
    last = density.origin + (np.array(density.shape_xyz) - 1) * step
    codes = assign_dssp(structure, region=(density.origin - radius, last + radius))
    ca = ca_array(residues)
    ca_class = np.array([code_to_class(codes.get(r.key, "")) for r in residues], dtype=np.int64)
    shape_xyz = density.shape_xyz
    labels = label_voxels(density.origin, shape_xyz, step, ca, ca_class, radius)
    names = [chain] if chain is not None else sorted({r.chain for r in residues})
    atoms = np.concatenate([chain_atom_coordinates(structure, c) for c in names])
    if len(atoms) == 0:
        raise ValueError(f"{Path(model_path).name}: no protein atom in chain(s) {names}")
    limit = np.array(shape_xyz) - 1
    low = np.clip(np.floor((atoms.min(axis=0) - density.origin) / step).astype(int), 0, limit)
    high = np.clip(np.ceil((atoms.max(axis=0) - density.origin) / step).astype(int), 0, limit)
    central = np.zeros(labels.shape, dtype=bool)
    central[low[2] : high[2] + 1, low[1] : high[1] + 1, low[0] : high[0] + 1] = True
    index = _indices(ca, density.origin, step)
    on_grid = np.all((index >= 0) & (index <= limit), axis=1)
    in_central = np.all((index >= low) & (index <= high), axis=1)
    near = near_model(density.origin, labels.shape, step, ca, near_radius)
    clipped = np.clip(index, 0, limit)
    in_near = near[clipped[:, 2], clipped[:, 1], clipped[:, 0]] & on_grid
    return GridTruth(
        density.origin.copy(),
        step,
        labels.astype(np.int64),
        ca[on_grid],
        ca_class[on_grid],
        central,
        in_central[on_grid],
        near,
        in_near[on_grid],
    )


def _ratio(numerator: int, denominator: int) -> float | None:
    return numerator / denominator if denominator else None


@dataclass
class MapScore:
    """Counts of one prediction on one map and region; figures derived from them."""

    name: str
    region: str
    voxel: dict[str, tuple[int, int, int]] = field(default_factory=dict)  # (tp, pred, true)
    residue: dict[str, tuple[int, int, int]] = field(default_factory=dict)

    @staticmethod
    def _figures(counts: tuple[int, int, int]) -> dict[str, float | None]:
        tp, pred, true = counts
        return {
            "precision": _ratio(tp, pred),
            "recall": _ratio(tp, true),
            "f1": _ratio(2 * tp, pred + true),
        }

    def figures(self) -> dict[str, Any]:
        out: dict[str, Any] = {"name": self.name, "region": self.region}
        for kind, table in (("voxel", self.voxel), ("residue", self.residue)):
            for cls, counts in table.items():
                for key, value in self._figures(counts).items():
                    out[f"{kind}_{key}_{cls}"] = value
                out[f"{kind}_true_{cls}"] = counts[2]
        return out


def score_labels(
    pred: np.ndarray, truth: GridTruth, name: str = "", region: str = "grid"
) -> MapScore:
    """Voxel and residue counts of a label grid (same shape as the truth) in one region."""
    if pred.shape != truth.labels.shape:
        raise ValueError(f"prediction {pred.shape} and truth {truth.labels.shape} differ in shape")
    if region not in REGIONS:
        raise ValueError(f"region {region!r}: expected one of {REGIONS}")
    pred = np.asarray(pred, dtype=np.int64)
    if region == "central":
        mask, keep = truth.central, truth.ca_central
    elif region == "near":
        mask, keep = truth.near, truth.ca_near
    else:
        mask, keep = np.ones(pred.shape, dtype=bool), np.ones(len(truth.ca), dtype=bool)
    voted = residue_votes(pred, truth.origin, truth.voxel_size, truth.ca[keep])
    dssp = truth.ca_class[keep]
    score = MapScore(name, region)
    for cls in SCORED_CLASSES:
        value = CLASS_IDS[cls]
        score.voxel[cls] = class_counts(pred, truth.labels, mask, value)
        score.residue[cls] = class_counts(voted, dssp, np.ones(len(dssp), dtype=bool), value)
    return score


def summarize(scores: list[MapScore]) -> dict[str, float | None]:
    """Over maps: F1 weighted by true voxels / residues of the class; pooled P, R and F1."""
    out: dict[str, float | None] = {}
    for kind in ("voxel", "residue"):
        for cls in SCORED_CLASSES:
            counts = [getattr(s, kind)[cls] for s in scores]
            f1 = [_ratio(2 * tp, pred + true) for tp, pred, true in counts]
            out[f"{kind}_f1_{cls}_weighted"] = weighted_average(f1, [c[2] for c in counts])
            tp = sum(c[0] for c in counts)
            out[f"{kind}_precision_{cls}_pooled"] = _ratio(tp, sum(c[1] for c in counts))
            out[f"{kind}_recall_{cls}_pooled"] = _ratio(tp, sum(c[2] for c in counts))
            out[f"{kind}_f1_{cls}_pooled"] = micro_f1(counts)
    return out


def rest_volumes(
    pred: np.ndarray, truth: GridTruth, molecule: np.ndarray, part: np.ndarray | None = None
) -> dict[str, Any]:
    """Helix / sheet called on the map's unmodelled rest beside what the modelled part predicts.

    `part` (default: truth.near) is the modelled part, `molecule` the voxels of the molecule
    (e.g. above the threshold baseline's contour). If the rest holds more copies of the
    same molecule (a filament), a predictor consistent with itself calls on the rest
    predicted(part) × molecule(rest) / molecule(part) voxels of each class; the truth's share,
    true(part) × the same ratio, is what a perfect one would call. Volumes in Å³.
    """
    part = truth.near if part is None else part
    rest = ~part
    cube = truth.voxel_size**3
    molecule_part, molecule_rest = int((molecule & part).sum()), int((molecule & rest).sum())
    ratio = molecule_rest / molecule_part if molecule_part else None
    out: dict[str, Any] = {
        "molecule_part_A3": molecule_part * cube,
        "molecule_rest_A3": molecule_rest * cube,
        "rest_to_part": ratio,
    }
    for cls in SCORED_CLASSES:
        value = CLASS_IDS[cls]
        called_part = int(((pred == value) & part).sum())
        called_rest = int(((pred == value) & rest).sum())
        true_part = int(((truth.labels == value) & part).sum())
        out[f"{cls}_part_A3"] = called_part * cube
        out[f"{cls}_rest_A3"] = called_rest * cube
        out[f"{cls}_rest_expected_A3"] = None if ratio is None else called_part * ratio * cube
        out[f"{cls}_rest_true_share_A3"] = None if ratio is None else true_part * ratio * cube
        out[f"{cls}_rest_over_expected"] = (
            called_rest / (called_part * ratio) if ratio and called_part else None
        )
    return out
