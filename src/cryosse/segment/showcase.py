"""The shipped model at work, for a run's report (`make demo`'s first): one map of the run's
test split segmented with the model the package ships (`cryosse segment` without --model),
its QC slices (`cryosse figure`) and its scores beside the baselines that learned nothing
(`cryosse evaluate`'s scoring: the same samples, truth and code), so that the report shows
what the model does on a real map, not only networks trained for a few demo steps.

The map is the test split's first sample's deposited map (sample ids sorted), scored with the
fitted model of that sample. Written in <out>: segmentation/ (cryosse segment's folder),
figure.png, scores.tsv (one row per central chain and predictor: `shipped model` and each
baseline) and showcase.json (which map, model and checkpoint; seconds per step).
"""

from __future__ import annotations

import json
import shutil
import time
from pathlib import Path
from typing import Any

from cryosse.acquire.locate import LocatedEntry
from cryosse.core.atomic import write_text_atomic
from cryosse.core.run_grid import BASELINES
from cryosse.core.tsv import read_tsv, write_tsv
from cryosse.curate.settings import CurationSettings
from cryosse.evaluate.external import evaluate_external
from cryosse.io.sample import read_sample
from cryosse.segment.execution import SegmentOptions
from cryosse.segment.figure import draw_figure
from cryosse.segment.predict import segment_map

SHIPPED = "shipped model"
CHECKPOINT_FACTS = ("sha256", "default", "run", "epoch", "metric", "voxel_size")
SCORE_COLUMNS = [
    "predictor",
    "sample_id",
    "voxel_f1_helix",
    "voxel_f1_sheet",
    "residue_f1_helix",
    "residue_f1_sheet",
    "true_helix_voxels",
    "true_sheet_voxels",
]


def first_test_sample(manifest: str | Path, main_tsv: str | Path) -> Path | None:
    """The folder of the test split's first sample (by id), or None without a test case."""
    tests = sorted(r["sample_id"] for r in read_tsv(main_tsv) if r["split"] == "test")
    paths = {r["sample_id"]: r["path"] for r in read_tsv(manifest)}
    return Path(manifest).parent / paths[tests[0]] if tests else None


def showcase(
    manifest: str | Path,
    main_tsv: str | Path,
    acquired: str | Path,
    config: dict[str, Any],
    out_dir: str | Path,
    threads: int | None = 1,
) -> dict[str, Any]:
    """Segment, draw and score one test map with the shipped model (see the module)."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    sample_dir = first_test_sample(manifest, main_tsv)
    if sample_dir is None:
        facts: dict[str, Any] = {"map": None, "why": "the test split has no case"}
        write_text_atomic(out / "showcase.json", json.dumps(facts, indent=2) + "\n")
        write_tsv(out / "scores.tsv", SCORE_COLUMNS, [])
        return facts
    meta = read_sample(sample_dir).meta
    located = LocatedEntry.from_dict(
        json.loads((Path(acquired) / f"{meta.emdb_id}.json").read_text())
    )
    model = next(m for m in located.models if m.pdb_id == meta.pdb_id)
    assert located.map_path and model.path  # a sample exists only for a located pair
    seconds: dict[str, float] = {}
    folder = out / "segmentation"
    shutil.rmtree(folder, ignore_errors=True)  # a rerun starts clean
    tick = time.perf_counter()
    options = SegmentOptions(device="cpu", threads=threads)
    result = segment_map(located.map_path, folder, options=options, structure=model.path)
    seconds["segment"] = time.perf_counter() - tick
    tick = time.perf_counter()
    draw_figure(folder, out / "figure.png", model.path)
    seconds["figure"] = time.perf_counter() - tick
    tick = time.perf_counter()
    helix = next(p for p in result.files.values() if p.name.endswith("_helix_prob.mrc"))
    sheet = next(p for p in result.files.values() if p.name.endswith("_sheet_prob.mrc"))
    rows, _ = evaluate_external(
        helix,
        sheet,
        located.map_path,
        model.path,
        CurationSettings.from_config(config),
        emdb_id=meta.emdb_id,
        pdb_id=meta.pdb_id,
        baselines=BASELINES,
    )
    seconds["score"] = time.perf_counter() - tick
    for row in rows:
        row["predictor"] = SHIPPED if row["predictor"] == "tool" else row["predictor"]
    cells = [
        {
            k: "NA" if r[k] is None else f"{r[k]:.4f}" if isinstance(r[k], float) else r[k]
            for k in SCORE_COLUMNS
        }
        for r in rows
    ]
    write_tsv(out / "scores.tsv", SCORE_COLUMNS, cells)
    facts = {
        "map": Path(located.map_path).name,
        "emdb_id": meta.emdb_id,
        "structure": Path(model.path).name,
        "resolution": meta.resolution,
        "checkpoint": {
            k: v for k, v in result.summary.get("model", {}).items() if k in CHECKPOINT_FACTS
        },
        "seconds": {k: round(v, 1) for k, v in seconds.items()},
    }
    write_text_atomic(out / "showcase.json", json.dumps(facts, indent=2, default=str) + "\n")
    return facts
