"""Score any tool's helix/sheet prediction against our labels, on the same footing as our models.

The map and model are curated exactly as a dataset entry (DSSP, central chains, 17 Å boxes at
1 Å, labels); the two predicted maps, on whatever grid the tool wrote them, are resampled
trilinearly onto each sample's box grid. A voxel takes the most probable of background
(1 − helix − sheet), helix and sheet: the rule by which a segmenter's masks come from its
probabilities, so a tool's probability maps and its masks score the same, and a binary 0/1 pair
keeps its classes. With a `threshold`, a voxel is helix when its helix value is ≥ the threshold
and ≥ its sheet value, sheet when its sheet value is ≥ the threshold (for tools whose maps are
not probabilities). A prediction that covers none of a sample's central box is refused
(PredictionError), never scored F1 = 0; one that covers part of it is scored, with the covered
fraction in the row's `coverage`. Voxel F1 and residue F1 are then
computed in the central box exactly as for our own predictions (cryosse.core.metrics), with the
precision and recall they come from (None where nothing was predicted / nothing is true).

With `baselines` (the command line asks for all of cryosse.evaluate.baselines), each sample is also
scored with those predictors that learned nothing, on the same box and truth, so the tool's
figures stand next to what a density threshold achieves (rows with predictor = the baseline's
name; the tool's rows have predictor "tool").
"""

from __future__ import annotations

import math
import tempfile
from pathlib import Path
from typing import Any

import numpy as np

from cryosse.acquire.locate import LocatedEntry, LocatedModel
from cryosse.core.classes import CLASS_IDS, HELIX, SHEET
from cryosse.core.hashing import sha256_file
from cryosse.core.metrics import (
    residue_f1,
    residue_precision_recall,
    residue_votes,
    voxel_f1,
    voxel_precision_recall,
)
from cryosse.curate.crop import CropBox, resample_box
from cryosse.curate.entry import curate_entry
from cryosse.curate.settings import CurationSettings
from cryosse.evaluate.baselines import baseline_labels
from cryosse.evaluate.evaluation import sample_contour
from cryosse.io.curation_log import LogRow
from cryosse.io.density import DensityMap, check_map_work, read_map
from cryosse.io.sample import Sample, SampleMeta, read_sample

# Below this covered fraction of a central box the row is still scored, with a warning.
FULL_COVERAGE = 0.99


class PredictionError(ValueError):
    """A prediction that cannot be scored against the map (its reason is in the message)."""


def combine(helix: np.ndarray, sheet: np.ndarray, threshold: float | None = None) -> np.ndarray:
    """Class ids of predicted helix/sheet values: argmax of (1 − h − s, h, s), ties to helix
    over background and to helix over sheet; or, with a threshold, the threshold rule."""
    labels = np.zeros(helix.shape, dtype=np.int64)
    if threshold is None:
        background = 1.0 - helix - sheet
        labels[(sheet > helix) & (sheet > background)] = SHEET
        labels[(helix >= sheet) & (helix >= background)] = HELIX
        return labels
    labels[sheet >= threshold] = SHEET
    labels[(helix >= threshold) & (helix >= sheet)] = HELIX
    return labels


def check_threshold(threshold: float | None) -> None:
    """A class threshold must be a number in (0, 1]: the values compared are probabilities
    or 0/1 masks (NaN, ±inf, 2 or −1 would silently make every voxel one class)."""
    if threshold is not None and not (math.isfinite(threshold) and 0.0 < threshold <= 1.0):
        raise PredictionError(f"threshold {threshold}: must lie in (0, 1]")


def coverage(prediction: DensityMap, box: CropBox) -> float:
    """Fraction of the box's central voxels that lie inside the prediction's grid."""
    fraction = 1.0
    for axis in range(3):
        centres = box.axis_coordinates(axis)[box.central_start[axis] : box.central_stop[axis]]
        n = prediction.shape_xyz[axis]
        first = prediction.origin[axis]
        last = first + (n - 1) * prediction.voxel_size[axis]
        tolerance = 1e-6 * prediction.voxel_size[axis]
        inside = (centres >= first - tolerance) & (centres <= last + tolerance)
        fraction *= float(inside.mean()) if len(centres) else 0.0
    return fraction


def _box(meta: SampleMeta) -> CropBox:
    return CropBox(
        origin=np.array(meta.origin, dtype=np.float64),
        shape_xyz=meta.shape_xyz,
        voxel_size=float(meta.voxel_size),
        central_start=meta.central_start_xyz,
        central_stop=meta.central_stop_xyz,
    )


def evaluate_external(
    pred_helix: str | Path,
    pred_sheet: str | Path,
    map_path: str | Path,
    model_path: str | Path,
    settings: CurationSettings | None = None,
    emdb_id: str = "EMD-0000",
    pdb_id: str = "pdb_00000000",
    threshold: float | None = None,
    baselines: tuple[str, ...] | list[str] = (),
) -> tuple[list[dict[str, Any]], list[LogRow]]:
    """(one row of scores per central chain — then one per chain and baseline —, the
    curation-log rows of the map/model pair). Raises PredictionError for a threshold outside
    (0, 1] or predictions that cover no sample's central box."""
    check_threshold(threshold)
    settings = settings or CurationSettings()
    located = LocatedEntry(
        emdb_id,
        "ok",
        map_path=str(map_path),
        map_sha256=sha256_file(map_path),
        models=[LocatedModel(pdb_id, path=str(model_path), sha256=sha256_file(model_path))],
    )
    # the predictions are resampled only box by box: their own size is the work they imply
    check_map_work(pred_helix)
    check_map_work(pred_sheet)
    helix_map = read_map(pred_helix, allow_constant=True)
    sheet_map = read_map(pred_sheet, allow_constant=True)
    rows: list[dict[str, Any]] = []
    baseline_rows: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory(prefix="cryosse-evaluate-") as work:
        result = curate_entry(located, settings, Path(work) / "samples")
        for sid in result.samples:
            sample = read_sample(Path(work) / "samples" / sid)
            box = _box(sample.meta)
            covered = min(coverage(helix_map, box), coverage(sheet_map, box))
            if covered == 0.0:
                raise PredictionError(
                    f"prediction_outside_map: the predicted maps ({_extent(helix_map)}; "
                    f"{_extent(sheet_map)}) do not overlap the central box of "
                    f"{sample.meta.sample_id} ({_box_extent(box)}): not the same frame"
                )
            pred = combine(resample_box(helix_map, box), resample_box(sheet_map, box), threshold)
            rows.append(_score_row(sample, box, pred, "tool", covered))
            for name in baselines:
                labels = baseline_labels(
                    name,
                    sample.density,
                    box.voxel_size,
                    sample.meta.resolution,
                    sample_contour(sample.meta),
                )
                baseline_rows.append(_score_row(sample, box, labels, name, 1.0))
    return rows + baseline_rows, result.rows


# Predicted helix/sheet farther than this from every modelled Cα lies in density the model does
# not explain (an unmodelled chain, a neighbour in a full map): scored as false positives.
UNMODELLED_DISTANCE_A = 6.0
UNMODELLED_WARNING = 0.25


def unmodelled_fraction(
    pred_helix: str | Path,
    pred_sheet: str | Path,
    model_path: str | Path,
    threshold: float | None = None,
) -> tuple[float, int]:
    """(fraction of the predicted helix and sheet voxels farther than UNMODELLED_DISTANCE_A from
    every Cα of the model, over the whole prediction; the number of predicted voxels)."""
    from scipy.spatial import cKDTree

    from cryosse.io.structure import ca_array, protein_residues, read_model

    helix_map = read_map(pred_helix, allow_constant=True)
    sheet_map = read_map(pred_sheet, allow_constant=True)
    if helix_map.data.shape != sheet_map.data.shape:
        return math.nan, 0
    predicted = np.argwhere(combine(helix_map.data, sheet_map.data, threshold) != 0)  # z, y, x
    if not len(predicted):
        return 0.0, 0
    ca = ca_array(protein_residues(read_model(model_path)))
    if not len(ca):
        return 1.0, len(predicted)
    points = helix_map.origin + predicted[:, ::-1] * helix_map.voxel_size
    distance, _ = cKDTree(ca).query(points, distance_upper_bound=UNMODELLED_DISTANCE_A)
    return float(np.mean(~np.isfinite(distance))), len(predicted)


def weighted_aggregate(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """One row per predictor over many maps: each F1, precision and recall averaged over the
    rows weighted by the row's true voxels of that class (the model card's weighting; residue
    figures too, by voxels), None where no row has a value."""
    out: list[dict[str, Any]] = []
    for predictor in dict.fromkeys(r["predictor"] for r in rows):
        mine = [r for r in rows if r["predictor"] == predictor]
        aggregate: dict[str, Any] = {"sample_id": f"ALL ({len(mine)} chains)", "chain": ""}
        for key in mine[0]:
            if not key.startswith(("voxel_", "residue_")):
                continue
            cls = key.rsplit("_", 1)[1]
            pairs = [(r[key], r[f"true_{cls}_voxels"]) for r in mine if r[key] is not None]
            weight = sum(w for _, w in pairs)
            aggregate[key] = sum(v * w for v, w in pairs) / weight if weight else None
        for cls in ("helix", "sheet"):
            aggregate[f"true_{cls}_voxels"] = sum(r[f"true_{cls}_voxels"] for r in mine)
        aggregate["predictor"] = predictor
        aggregate["coverage"] = min(r["coverage"] for r in mine)
        out.append(aggregate)
    return out


def _extent(density: DensityMap) -> str:
    last = density.origin + (np.array(density.shape_xyz) - 1) * density.voxel_size
    ranges = zip(density.origin, last, strict=True)
    return "x y z " + " ".join(f"{a:.1f}..{b:.1f}" for a, b in ranges) + " Å"


def _box_extent(box: CropBox) -> str:
    first = [box.axis_coordinates(a)[box.central_start[a]] for a in range(3)]
    last = [box.axis_coordinates(a)[box.central_stop[a] - 1] for a in range(3)]
    return "x y z " + " ".join(f"{a:.1f}..{b:.1f}" for a, b in zip(first, last, strict=True)) + " Å"


def _score_row(
    sample: Sample, box: CropBox, pred: np.ndarray, predictor: str, covered: float
) -> dict[str, Any]:
    truth = sample.labels.astype(np.int64)
    mask = sample.meta.central_mask(truth.shape)
    central = [r for r in sample.residues if r["in_central_box"] == "1"]
    ca = np.array([[float(r[f"ca_{a}"]) for a in "xyz"] for r in central]).reshape(-1, 3)
    dssp = np.array([CLASS_IDS[r["class"]] for r in central], dtype=np.int64)
    voted = residue_votes(pred, box.origin, box.voxel_size, ca)
    row: dict[str, Any] = {"sample_id": sample.meta.sample_id, "chain": sample.meta.chain}
    for name, cls in (("helix", HELIX), ("sheet", SHEET)):
        row[f"voxel_f1_{name}"] = voxel_f1(pred, truth, mask, cls)
        precision, recall = voxel_precision_recall(pred, truth, mask, cls)
        row[f"voxel_precision_{name}"], row[f"voxel_recall_{name}"] = precision, recall
    for name, cls in (("helix", HELIX), ("sheet", SHEET)):
        row[f"residue_f1_{name}"] = residue_f1(voted, dssp, cls)
        precision, recall = residue_precision_recall(voted, dssp, cls)
        row[f"residue_precision_{name}"], row[f"residue_recall_{name}"] = precision, recall
    row["true_helix_voxels"] = int(((truth == HELIX) & mask).sum())
    row["true_sheet_voxels"] = int(((truth == SHEET) & mask).sum())
    row["predictor"] = predictor
    row["coverage"] = covered
    return row
