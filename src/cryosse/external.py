"""Score any tool's helix/sheet prediction against our labels, on the same footing as our models.

The map and model are curated exactly as a dataset entry (DSSP, central chains, 17 Å boxes at
1 Å, labels); the two predicted maps, on whatever grid the tool wrote them, are resampled
trilinearly onto each sample's box grid; a voxel is helix when its helix value is ≥ the
threshold (0.5) and ≥ its sheet value, sheet when its sheet value is ≥ the threshold, otherwise
background (binary 0/1 maps and probability maps both work). Voxel F1 and residue F1 are then
computed in the central box exactly as for our own predictions (cryosse.metrics), with the
precision and recall they come from (None where nothing was predicted / nothing is true).

With `baselines` (the command line asks for all of cryosse.baselines), each sample is also
scored with those predictors that learned nothing, on the same box and truth, so the tool's
figures stand next to what a density threshold achieves (rows with predictor = the baseline's
name; the tool's rows have predictor "tool").
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

import numpy as np

from cryosse.baselines import baseline_labels
from cryosse.boxes import central_mask
from cryosse.crop import Box, resample_box
from cryosse.curate import curate_entry
from cryosse.curation_log import LogRow
from cryosse.density import check_map_work, read_map
from cryosse.evaluation import CLASS_IDS, sample_contour
from cryosse.locate import LocatedEntry, LocatedModel, sha256_of
from cryosse.metrics import (
    HELIX,
    SHEET,
    residue_f1,
    residue_precision_recall,
    residue_votes,
    voxel_f1,
    voxel_precision_recall,
)
from cryosse.sample import Sample, read_sample
from cryosse.settings import CurationSettings

THRESHOLD = 0.5


def combine(helix: np.ndarray, sheet: np.ndarray, threshold: float = THRESHOLD) -> np.ndarray:
    labels = np.zeros(helix.shape, dtype=np.int64)
    labels[sheet >= threshold] = SHEET
    labels[(helix >= threshold) & (helix >= sheet)] = HELIX
    return labels


def _box(meta: dict[str, Any]) -> Box:
    return Box(
        origin=np.array(meta["origin"], dtype=np.float64),
        shape_xyz=tuple(meta["shape_xyz"]),
        voxel_size=float(meta["voxel_size"]),
        central_start=tuple(meta["central_start_xyz"]),
        central_stop=tuple(meta["central_stop_xyz"]),
    )


def evaluate_external(
    pred_helix: str | Path,
    pred_sheet: str | Path,
    map_path: str | Path,
    model_path: str | Path,
    settings: CurationSettings | None = None,
    emdb_id: str = "EMD-0000",
    pdb_id: str = "pdb_00000000",
    threshold: float = THRESHOLD,
    baselines: tuple[str, ...] | list[str] = (),
) -> tuple[list[dict[str, Any]], list[LogRow]]:
    """(one row of scores per central chain — then one per chain and baseline —, the
    curation-log rows of the map/model pair)."""
    settings = settings or CurationSettings()
    located = LocatedEntry(
        emdb_id, "ok", map_path=str(map_path), map_sha256=sha256_of(map_path),
        models=[LocatedModel(pdb_id, path=str(model_path), sha256=sha256_of(model_path))],
    )  # fmt: skip
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
            pred = combine(resample_box(helix_map, box), resample_box(sheet_map, box), threshold)
            rows.append(_score_row(sample, box, pred, "tool"))
            for name in baselines:
                labels = baseline_labels(name, sample.density, box.voxel_size,
                                         sample.meta.get("resolution"),
                                         sample_contour(sample.meta))  # fmt: skip
                baseline_rows.append(_score_row(sample, box, labels, name))
    return rows + baseline_rows, result.rows


def _score_row(sample: Sample, box: Box, pred: np.ndarray, predictor: str) -> dict[str, Any]:
    truth = sample.labels.astype(np.int64)
    mask = central_mask(sample.meta, truth.shape)
    central = [r for r in sample.residues if r["in_central_box"] == "1"]
    ca = np.array([[float(r[f"ca_{a}"]) for a in "xyz"] for r in central]).reshape(-1, 3)
    dssp = np.array([CLASS_IDS[r["class"]] for r in central], dtype=np.int64)
    voted = residue_votes(pred, box.origin, box.voxel_size, ca)
    row: dict[str, Any] = {"sample_id": sample.meta["sample_id"], "chain": sample.meta["chain"]}
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
    return row
