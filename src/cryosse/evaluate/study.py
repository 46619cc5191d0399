"""The loss study's per-case record, and F1 by resolution band and quality bin.

The record keeps, per loss × seed × case × class × level, the counts behind every figure;
the tables over seeds are in cryosse.evaluate.study_tables, the paper's claims with their
verdicts in cryosse.evaluate.verdicts, and the map-level bootstrap both use in
cryosse.evaluate.map_bootstrap.
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
    loss_arrays,
    map_of,
    number_text,
    weighted_f1,
)

PER_CASE_COLUMNS = [
    "loss",
    "seed",
    "sample_id",
    "map",
    "resolution",
    "quality_bin",
    "class",
    "level",
    "tp",
    "fp",
    "fn",
    "f1",
]


def case_counts(
    by_loss: CasesByLossSeed, manifest: dict[str, dict[str, str]] | None = None
) -> list[dict[str, Any]]:
    """The primary record: per loss × seed × case × class × level, TP / FP / FN and F1, with
    the case's map, resolution and quality bin (from the manifest, when given)."""
    rows = []
    for loss, seeds in by_loss.items():
        for seed, cases in seeds.items():
            for case in cases:
                meta = (manifest or {}).get(case.sample_id, {})
                for cls in SCORED_CLASSES:
                    for level, (tp, pred, true) in _counts(case, cls).items():
                        if tp is None or pred is None:
                            continue  # a cases.tsv from before the residue counts
                        f1 = 2 * tp / (pred + true) if pred + true else None
                        rows.append(
                            {
                                "loss": loss,
                                "seed": seed,
                                "sample_id": case.sample_id,
                                "map": map_of(case.sample_id),
                                "resolution": case.resolution,
                                "quality_bin": meta.get("quality_bin", ""),
                                "class": cls,
                                "level": level,
                                "tp": tp,
                                "fp": pred - tp,
                                "fn": true - tp,
                                "f1": None if f1 is None else round(f1, 6),
                            }
                        )
    return rows


def _counts(case: CaseResult, cls: str) -> dict[str, tuple[int | None, int | None, int]]:
    return {
        "voxel": (
            getattr(case, f"voxel_tp_{cls}"),
            getattr(case, f"voxel_pred_{cls}"),
            getattr(case, f"voxel_true_{cls}"),
        ),
        "residue": (
            getattr(case, f"residue_tp_{cls}"),
            getattr(case, f"residue_pred_{cls}"),
            getattr(case, f"ca_{cls}"),
        ),
    }


def by_stratum(
    by_loss: CasesByLossSeed, stratum_of: dict[str, str], name: str
) -> list[dict[str, Any]]:
    """Per loss and stratum (e.g. resolution band, quality bin): weighted voxel F1 mean over
    seeds and the maps behind it."""
    rows = []
    strata = sorted(set(stratum_of.values()))
    for loss in [x for x in LOSSES if x in by_loss]:
        for stratum in strata:
            row: dict[str, Any] = {"loss": loss, name: stratum}
            members = {s for s, v in stratum_of.items() if v == stratum}
            sub = {
                loss: {
                    k: [c for c in v if c.sample_id in members] for k, v in by_loss[loss].items()
                }
            }
            arrays = loss_arrays(sub)
            if not arrays.n_maps:
                continue
            ones = np.ones((1, len(arrays.cluster)))
            row["maps"] = arrays.n_maps
            row["cases"] = len(arrays.cluster)
            row["seeds"] = len(by_loss[loss])
            for cls in SCORED_CLASSES:
                row[f"{cls}_f1"] = number_text(float(weighted_f1(arrays, loss, cls, ones)[0]))
            rows.append(row)
    return rows


def resolution_band(resolution: float | None) -> str:
    """The paper's 5-10 Å window in 1 Å bands, the last one 9-10 Å; NA without a value."""
    if resolution is None or not math.isfinite(resolution):
        return "NA"
    low = min(max(math.floor(resolution), 5), 9)
    return f"{low}-{low + 1} Å" if resolution >= 5 else "< 5 Å"
