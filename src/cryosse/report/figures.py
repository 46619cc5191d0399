"""Which figures a run's report shows: every plot (cryosse.report.plots) its declared inputs
allow, written as PNG into the run's plots/ folder, with its caption."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np

from cryosse.core.run_grid import LOSSES
from cryosse.core.tsv import read_tsv
from cryosse.evaluate.evaluation import CaseResult, read_cases
from cryosse.io.sample import read_sample
from cryosse.learn.augment import load_box
from cryosse.report.inputs import ReportInputs, by_loss
from cryosse.report.plots import (
    confusion,
    f1_per_loss,
    gamma_sweep,
    learning_curves,
    sheet_scatter,
    slice_montage,
)


def _csv(path: Path) -> list[dict[str, str]]:
    with open(path, encoding="utf-8", newline="") as handle:
        return list(csv.DictReader(handle))


def make_plots(inputs: ReportInputs, plots: Path) -> list[tuple[Path, str]]:
    """Every figure the run's outputs allow, of the losses' first-seed runs (which chose the
    settings); returns (png, caption) pairs."""
    plots.mkdir(parents=True, exist_ok=True)
    made: list[tuple[Path, str]] = []
    table1 = inputs.table("table1.tsv")
    cases = {loss: read_cases(p) for loss, p in by_loss(inputs.cases).items()}
    if table1 is not None:
        f1_per_loss(read_tsv(table1), plots / "f1_per_loss.png")
        made.append((plots / "f1_per_loss.png", "Weighted voxel F1 per loss, 95 % bootstrap CI"))
    if cases:
        confusion(cases, plots / "confusion.png")
        made.append((plots / "confusion.png", "Voxel confusion matrices (test, row-normalised)"))
    if "FL_DL" in cases:
        for other in [x for x in ("CE", "DL") if x in cases]:
            png = plots / f"sheet_scatter_FL_DL_vs_{other}.png"
            sheet_scatter(cases["FL_DL"], cases[other], ("FL_DL", other), png)
            made.append((png, f"Per-case sheet F1: FL_DL against {other}"))
    histories = {p.parent.name: _csv(p) for p in sorted(inputs.histories)}
    if histories:
        learning_curves(histories, plots / "learning_curves.png")
        made.append(
            (
                plots / "learning_curves.png",
                "Training loss beside the validation metric, per epoch, every run",
            )
        )
    summaries = [json.loads(p.read_text()) for p in inputs.summaries]
    if any(s["loss"] in ("FL", "FL_DL") for s in summaries):
        gamma_sweep(summaries, plots / "gamma_sweep.png")
        made.append((plots / "gamma_sweep.png", "Best validation metric against γ"))
    made += _montages(inputs, cases, plots)
    return made


def _montages(
    inputs: ReportInputs, cases: dict[str, list[CaseResult]], plots: Path, limit: int = 3
) -> list[tuple[Path, str]]:
    """Density, truth and prediction of the first test cases, for the best loss of Table 1."""
    made: list[tuple[Path, str]] = []
    table1 = inputs.table("table1.tsv")
    rows = (
        [r for r in read_tsv(table1) if r["average"] != "NA" and r["loss"] in LOSSES]
        if table1 is not None
        else []
    )
    if not rows:
        return made
    best = max(rows, key=lambda r: float(r["average"]))["loss"]
    manifest = {r["sample_id"]: r for r in read_tsv(inputs.manifest)}
    predictions = by_loss(inputs.predictions)
    for case in cases.get(best, [])[:limit]:
        sample_dir = inputs.manifest.parent / manifest[case.sample_id]["path"]
        pred = read_sample_labels(predictions[best] / case.sample_id / "pred_labels.mrc")
        box = load_box(sample_dir)
        png = plots / f"montage_{case.sample_id}.png"
        slice_montage(
            read_sample(sample_dir).density, box.labels, pred, f"{case.sample_id} ({best})", png
        )
        made.append((png, f"{case.sample_id}: density / truth / {best} prediction, middle slice"))
    return made


def read_sample_labels(path: Path) -> np.ndarray:
    import mrcfile

    with mrcfile.open(path, permissive=True) as mrc:
        return np.array(mrc.data, dtype=np.int64)
