"""The loss study's Table 1 and Table 2 over seeds, beside the published figures, and the
per-map pairs of two losses that the paired plot draws.

Each figure is the mean over seeds of the weighted F1, with a 95 % interval from the map-level
bootstrap (cryosse.evaluate.map_bootstrap).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from cryosse.core.classes import SCORED_CLASSES
from cryosse.core.run_grid import LOSSES
from cryosse.evaluate.evaluation import CaseResult
from cryosse.evaluate.map_bootstrap import (
    CasesByLossSeed,
    LossArrays,
    loss_arrays,
    map_of,
    metric_classes,
    number_text,
    percentile_interval,
    resample_weights,
    weighted_f1,
)

# Mu et al. 2024, "The combined focal loss and dice loss function improves the segmentation of
# beta-sheets in medium-resolution cryo-electron-microscopy density maps", Bioinformatics
# Advances 4(1), vbae169: Table 1 (weighted-average voxel F1 over the 62-case test set, in %,
# with the γ chosen) and Table 2's last row (FL_DL's residue F1, the 3 Å vote). DeepSSETracer
# 1.1 is the FL_DL network; the paper gives residue F1 for FL_DL only.
PUBLISHED_TABLE1: dict[str, dict[str, float | None]] = {
    "CE": {"gamma": None, "voxel_helix": 61.7, "voxel_sheet": 39.9, "voxel_average": 50.8},
    "FL": {"gamma": 2, "voxel_helix": 62.9, "voxel_sheet": 45.4, "voxel_average": 54.2},
    "DL": {"gamma": None, "voxel_helix": 61.8, "voxel_sheet": 43.4, "voxel_average": 52.6},
    "CE_DL": {"gamma": None, "voxel_helix": 61.7, "voxel_sheet": 46.0, "voxel_average": 53.9},
    "FL_DL": {
        "gamma": 1,
        "voxel_helix": 62.0,
        "voxel_sheet": 48.7,
        "voxel_average": 55.4,
        "residue_helix": 74.3,
        "residue_sheet": 58.2,
    },
}
PUBLISHED_SOURCE = "Mu et al. 2024 (DeepSSETracer 1.1), Bioinformatics Advances 4(1) vbae169"
# Table 1's figures: (level, metric); the average is the paper's (helix + sheet) / 2.
TABLE1_FIGURES = (
    ("voxel", "helix"),
    ("voxel", "sheet"),
    ("voxel", "average"),
    ("residue", "helix"),
    ("residue", "sheet"),
)


def _per_seed(arrays: LossArrays, loss: str, metric: str) -> list[float]:
    """The weighted F1 of each seed on all its cases (a seed with nothing to weigh: left out)."""
    classes = metric_classes(metric)
    out = []
    for row in range(next(iter(arrays.f1[loss].values())).shape[0]):
        values = []
        for cls in classes:
            f1, w = arrays.f1[loss][cls][row], arrays.weight[loss][cls][row]
            values.append(float((f1 * w).sum() / w.sum()) if w.sum() > 0 else math.nan)
        if not any(math.isnan(v) for v in values):
            out.append(float(np.mean(values)))
    return out


def study_table1(
    by_loss: CasesByLossSeed,
    chosen: dict[str, str] | None = None,
    resamples: int = 2000,
    seed: int = 0,
) -> list[dict[str, Any]]:
    """Table 1 over seeds: per loss and figure (voxel helix / sheet / average, residue helix /
    sheet), the mean over seeds of the weighted F1, its sd over seeds, and a 95 % interval
    from a bootstrap over maps (every chain and seed of a drawn map together); the published
    figure beside it (PUBLISHED_TABLE1, 0-1 scale). Each loss on all its own test cases."""
    rows = []
    for loss in [x for x in LOSSES if by_loss.get(x)]:
        one = {loss: by_loss[loss]}
        row: dict[str, Any] = {
            "loss": loss,
            "run_id": (chosen or {}).get(loss, ""),
            "seeds": len(by_loss[loss]),
            "maps": 0,
            "cases": 0,
        }
        for level in ("voxel", "residue"):
            arrays = loss_arrays(one, level)
            row["maps"], row["cases"] = arrays.n_maps, len(arrays.cluster)
            weights = resample_weights(arrays, resamples, seed) if arrays.n_maps else None
            for lvl, metric in TABLE1_FIGURES:
                if lvl != level:
                    continue
                key = f"{level}_{metric}"
                values = _per_seed(arrays, loss, metric) if weights is not None else []
                low = high = math.nan
                if weights is not None and values:
                    low, high = percentile_interval(weighted_f1(arrays, loss, metric, weights)[1:])
                row[f"{key}_mean"] = number_text(float(np.mean(values)) if values else None)
                row[f"{key}_sd"] = number_text(
                    float(np.std(values, ddof=1)) if len(values) > 1 else None
                )
                row[f"{key}_ci_low"] = number_text(low)
                row[f"{key}_ci_high"] = number_text(high)
                published = PUBLISHED_TABLE1.get(loss, {}).get(key)
                row[f"{key}_published"] = number_text(
                    None if published is None else published / 100
                )
        rows.append(row)
    return rows


def table1_cells(row: dict[str, Any]) -> dict[str, str]:
    """One Table 1 row for reading: 'mean ± sd [low, high]' per figure, the published beside."""
    out = {k: str(row[k]) for k in ("loss", "run_id", "seeds", "maps", "cases")}
    for level, metric in TABLE1_FIGURES:
        key = f"{level}_{metric}"
        mean, sd = row[f"{key}_mean"], row[f"{key}_sd"]
        cell = mean if sd == "NA" else f"{mean} ± {sd}"
        if row[f"{key}_ci_low"] != "NA":
            cell += f" [{row[f'{key}_ci_low']}, {row[f'{key}_ci_high']}]"
        out[key] = cell
        out[f"{key} paper"] = row[f"{key}_published"]
    return out


def study_table2(by_loss: CasesByLossSeed, reference: str = "FL_DL") -> list[dict[str, Any]]:
    """Table 2 over seeds: per test case, its map, resolution and Cα counts, each loss's voxel F1
    of helix and sheet (mean over the seeds where it is defined) and the reference loss's
    residue F1. NA: no seed of that loss has the case, or F1 undefined on every seed."""
    losses = [x for x in LOSSES if by_loss.get(x)]
    cases: dict[str, dict[str, list[CaseResult]]] = {}
    for loss in losses:
        for seed_cases in by_loss[loss].values():
            for case in seed_cases:
                cases.setdefault(case.sample_id, {}).setdefault(loss, []).append(case)
    rows = []
    for sample_id in sorted(cases):
        first = next(iter(cases[sample_id].values()))[0]
        row: dict[str, Any] = {
            "sample_id": sample_id,
            "map": map_of(sample_id),
            "resolution": number_text(first.resolution, 1),
            "ca_helix": first.ca_helix,
            "ca_sheet": first.ca_sheet,
            "ca_other": first.ca_other,
        }
        for loss in losses:
            for cls in SCORED_CLASSES:
                row[f"{loss}_{cls}"] = _mean_of(cases[sample_id].get(loss, []), f"voxel_f1_{cls}")
        if reference in losses:
            for cls in SCORED_CLASSES:
                row[f"{reference}_residue_{cls}"] = _mean_of(
                    cases[sample_id].get(reference, []), f"residue_f1_{cls}"
                )
        rows.append(row)
    return rows


def _mean_of(cases: list[CaseResult], field: str) -> str:
    values = [getattr(c, field) for c in cases if getattr(c, field) is not None]
    return number_text(float(np.mean(values)) if values else None)


def per_map_pairs(
    by_loss: CasesByLossSeed, better: str, worse: str, metric: str = "sheet"
) -> list[tuple[str, float, float]]:
    """Per map the two losses share: (map, better's figure, worse's figure), each the mean over
    its seeds of the weighted voxel F1 over the map's chains (maps where either is undefined
    are left out): the points of a paired plot."""
    arrays = loss_arrays({better: by_loss[better], worse: by_loss[worse]})
    maps = sorted({map_of(s) for s in _shared(by_loss, better, worse)})  # arrays' map order
    out = []
    for index, name in enumerate(maps):
        on_map = (arrays.cluster == index).astype(np.float64)[None, :]
        a = float(weighted_f1(arrays, better, metric, on_map)[0])
        b = float(weighted_f1(arrays, worse, metric, on_map)[0])
        if not (math.isnan(a) or math.isnan(b)):
            out.append((name, a, b))
    return out


def _ids(cases: list[CaseResult]) -> list[str]:
    return [c.sample_id for c in cases]


def _shared(by_loss: CasesByLossSeed, a: str, b: str) -> set[str]:
    ids = [{s for cases in by_loss[x].values() for s in _ids(cases)} for x in (a, b)]
    return ids[0] & ids[1]
