"""The loss study's per-case record, and F1 by resolution band, quality bin and map kind.

The record keeps, per loss × seed × case × class × level, the counts behind every figure;
the tables over seeds are in cryosse.evaluate.study_tables, the paper's claims with their
verdicts in cryosse.evaluate.verdicts, and the map-level bootstrap both use in
cryosse.evaluate.map_bootstrap.
"""

from __future__ import annotations

import math
from typing import Any

from cryosse.core.classes import SCORED_CLASSES
from cryosse.core.ids import entry_origin
from cryosse.core.run_grid import LOSSES
from cryosse.evaluate.evaluation import CaseResult
from cryosse.evaluate.map_bootstrap import (
    CasesByLossSeed,
    loss_arrays,
    map_of,
    number_text,
    percentile_interval,
    resample_weights,
    weighted_f1,
)
from cryosse.synthetic.offline import held_out_ids

STRATUM_RESAMPLES = 1000

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
    """Per loss and stratum (e.g. resolution band, quality bin, map kind): weighted voxel F1
    mean over seeds, its 95 % interval over maps of the stratum (none under two maps) and the
    maps behind it."""
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
            weights = resample_weights(arrays, STRATUM_RESAMPLES, seed=0)
            row["maps"] = arrays.n_maps
            row["cases"] = len(arrays.cluster)
            row["seeds"] = len(by_loss[loss])
            for cls in SCORED_CLASSES:
                f1 = weighted_f1(arrays, loss, cls, weights)
                low, high = percentile_interval(f1[1:])
                two = arrays.n_maps >= 2
                row[f"{cls}_f1"] = number_text(float(f1[0]))
                row[f"{cls}_ci_low"] = number_text(float(low) if two else None)
                row[f"{cls}_ci_high"] = number_text(float(high) if two else None)
            rows.append(row)
    return rows


def map_kind(emdb_id: str) -> str:
    """A test map's kind, the strata of the real-map test bed (benchmarks/real_maps.py): a real
    EMDB map, a held-out real assembly low-passed to medium resolution (EMD-0093, EMD-3488), a
    map derived from another real high-resolution map, or a simulated map."""
    if emdb_id in held_out_ids():
        return "real assembly, low-passed"
    return {"emdb": "real EMDB map", "derived": "derived", "simulated": "simulated"}[
        entry_origin(emdb_id)
    ]


def resolution_band(resolution: float | None) -> str:
    """The paper's 5-10 Å window in 1 Å bands, the last one 9-10 Å; NA without a value."""
    if resolution is None or not math.isfinite(resolution):
        return "NA"
    low = min(max(math.floor(resolution), 5), 9)
    return f"{low}-{low + 1} Å" if resolution >= 5 else "< 5 Å"
