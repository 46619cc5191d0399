"""The loss study's record (cryosse.evaluate.record) as its tables and figures, from the record
alone: no checkpoint, no results folder. What the record lacks (a loss not yet chosen, seeds
not yet run) is said in `coverage` and in every figure's basis, never filled in.

    <record>/tables/  coverage, runs (every recorded run, chosen or not), table1 (mean ± sd
                      over seeds, map-level 95 % interval, voxel and residue F1, the
                      published figure beside), table2 (per test case), seeds, claims,
                      ranks, by_resolution, by_quality, by_kind, per_case, figures (the maps and
                      seeds behind each figure), record.json
    <record>/figures/ f1_per_loss, paired_maps, learning_curves, f1_by_resolution (PNG);
                      montage_<case> from the study's checkpoints (`prediction_montages`)
"""

from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import Any

import numpy as np

from cryosse.core.atomic import write_text_atomic
from cryosse.core.run_grid import LOSSES, seeds, selection_grid
from cryosse.core.tsv import tsv_text
from cryosse.evaluate.evaluation import CaseResult, load_model
from cryosse.evaluate.record import (
    chosen_runs,
    coverage_line,
    record_coverage,
    recorded_cases,
    recorded_summaries,
    run_folder,
)
from cryosse.evaluate.study_files import write_study_tables
from cryosse.evaluate.study_tables import (
    PUBLISHED_SOURCE,
    per_map_pairs,
    study_table1,
    study_table2,
    table1_cells,
)
from cryosse.evaluate.tables import REFERENCE_LOSS, seed_table, to_markdown, write_table
from cryosse.report.plots import (
    f1_by_resolution,
    learning_curves,
    loss_montage,
    paired_maps,
    study_f1,
)

PAIRED_METRIC = "sheet"  # the paper's claims are about sheets


def _histories(record: Path) -> dict[str, list[dict[str, str]]]:
    """The learning curves of every recorded run (selection runs and seeds alike)."""
    out = {}
    for summary in recorded_summaries(record):
        path = run_folder(record, summary["run_id"]) / "history.csv"
        with open(path, encoding="utf-8") as handle:
            out[summary["run_id"]] = list(csv.DictReader(handle))
    return out


def runs_table(record: Path) -> list[dict[str, Any]]:
    """Every recorded run, chosen or not: its setting, the validation metric that chose (or
    will choose) among its loss's settings, its cost and its own weighted test voxel F1 — what
    a partial record can already show without claiming a loss's figure."""
    from cryosse.core.metrics import weighted_average
    from cryosse.evaluate.evaluation import read_cases

    rows = []
    for s in recorded_summaries(record):
        cases = read_cases(run_folder(record, s["run_id"]) / "cases.tsv")
        row: dict[str, Any] = {
            "run_id": s["run_id"],
            "loss": s["loss"],
            "gamma": "" if s.get("gamma") is None else f"{s['gamma']:g}",
            "seed": s.get("seed", ""),
            "steps": int(s.get("epochs_run", 0)) * int(s.get("steps_per_epoch", 0)),
            "best_epoch": s.get("best_epoch", ""),
            "val_metric": f"{s['best_val_metric']:.3f}",
            "minutes": f"{(s['seconds'] + s.get('test_seconds', 0)) / 60:.1f}",
            "test_cases": len(cases),
        }
        for cls in ("helix", "sheet"):
            value = weighted_average(
                [getattr(c, f"voxel_f1_{cls}") for c in cases],
                [getattr(c, f"voxel_true_{cls}") for c in cases],
            )
            row[f"test_voxel_{cls}"] = "NA" if value is None else f"{value:.3f}"
        rows.append(row)
    return rows


def _basis(by_seed: dict[str, dict[int, list[CaseResult]]], losses: list[str]) -> dict[str, Any]:
    """Losses, seeds per loss, maps and cases behind a figure made of `losses`."""
    ids = {c.sample_id for x in losses for cases in by_seed[x].values() for c in cases}
    return {
        "losses": ",".join(losses) or "none",
        "seeds": ",".join(f"{x}:{len(by_seed[x])}" for x in losses) or "none",
        "maps": len({s.split("_", 1)[0] for s in ids}),
        "cases": len(ids),
    }


TEST_CASES = "test_cases.tsv"  # the test cases' quality bins, kept in the record


def _quality_bins(
    by_seed: dict[str, dict[int, list[CaseResult]]], tables: Path, manifest: str | Path | None
) -> Path | None:
    """The quality bins of the record's test cases: from the data set's manifest when this
    machine has it, then kept in <record>/tables/test_cases.tsv, so that a machine without the
    data set tabulates by quality bin from the record alone."""
    kept = tables / TEST_CASES
    if manifest is None:
        return kept if kept.is_file() else None
    from cryosse.core.tsv import read_tsv, write_tsv

    ids = {c.sample_id for seeds in by_seed.values() for v in seeds.values() for c in v}
    rows = [r for r in read_tsv(manifest) if r["sample_id"] in ids]
    columns = ["sample_id", "emdb_id", "resolution", "quality_bin"]
    write_tsv(kept, columns, [{k: r.get(k, "") for k in columns} for r in rows])
    return kept


def write_record(
    training: dict[str, Any], record: str | Path, manifest: str | Path | None = None
) -> dict[str, Any]:
    """Every table and figure of the record; returns the coverage, its sentence, the figures'
    basis rows and what tables/record.json says (runs recorded of those planned, test maps)."""
    record = Path(record)
    tables, figures = record / "tables", record / "figures"
    tables.mkdir(parents=True, exist_ok=True)
    figures.mkdir(parents=True, exist_ok=True)
    coverage = record_coverage(training, record)
    line = coverage_line(coverage, len(seeds(training)))
    write_table(coverage, "What the record holds: " + line, tables / "coverage")
    title = "Every recorded run: setting, validation metric, minutes, its own test voxel F1"
    write_table(runs_table(record), title, tables / "runs")
    by_seed = recorded_cases(training, record)
    losses = [x for x in LOSSES if by_seed.get(x)]
    write_table(seed_table(by_seed), "Voxel F1 per loss, mean ± sd over seeds", tables / "seeds")
    write_study_tables(by_seed, tables, _quality_bins(by_seed, tables, manifest))
    rows1 = study_table1(by_seed, chosen_runs(training, record))
    write_text_atomic(tables / "table1.tsv", tsv_text(list(rows1[0]), rows1) if rows1 else "")
    title = (
        "Table 1: weighted F1 per loss, mean ± sd over seeds [map-level bootstrap 95 %], "
        f"beside the published ({PUBLISHED_SOURCE})"
    )
    write_text_atomic(tables / "table1.md", to_markdown([table1_cells(r) for r in rows1], title))
    rows2 = study_table2(by_seed)
    write_table(rows2, "Table 2: F1 per test case, mean over seeds", tables / "table2")

    basis = []
    if rows1:
        study_f1(rows1, figures / "f1_per_loss.png", PUBLISHED_SOURCE)
        basis.append({"figure": "f1_per_loss.png"} | _basis(by_seed, losses))
    others = [x for x in losses if x != REFERENCE_LOSS]
    if REFERENCE_LOSS in losses and others:
        pairs = {x: per_map_pairs(by_seed, REFERENCE_LOSS, x, PAIRED_METRIC) for x in others}
        paired_maps(pairs, REFERENCE_LOSS, PAIRED_METRIC, figures / "paired_maps.png")
        basis.append({"figure": "paired_maps.png"} | _basis(by_seed, losses))
    histories = _histories(record)
    if histories:
        learning_curves(histories, figures / "learning_curves.png")
        recorded = {x["loss"] for x in recorded_summaries(record)}
        runs = {"losses": ",".join(x for x in LOSSES if x in recorded)}
        runs["seeds"] = f"{len(histories)} runs"
        basis.append(
            {"figure": "learning_curves.png"} | runs | {"maps": "validation", "cases": "validation"}
        )
    if rows2:
        f1_by_resolution(rows2, losses, figures / "f1_by_resolution.png")
        basis.append({"figure": "f1_by_resolution.png"} | _basis(by_seed, losses))
    write_table(basis, "Maps and seeds behind each figure", tables / "figures")
    n_seeds = len(seeds(training))
    summary = {
        "runs": len(recorded_summaries(record)),
        "planned": len(selection_grid(training)) + len(selection_losses(training)) * (n_seeds - 1),
        "test_maps": max((int(r["maps"]) for r in rows1), default=0),
        "losses": losses,
        "seeds": n_seeds,
        "coverage": line,
        # optimisation steps per run, as the summaries record them (the same for every run)
        "steps": sorted(
            {
                int(x.get("epochs_run", 0)) * int(x.get("steps_per_epoch", 0))
                for x in recorded_summaries(record)
            }
        ),
    }
    write_text_atomic(tables / "record.json", json.dumps(summary, indent=2) + "\n")
    return {"coverage": coverage, "line": line, "basis": basis, "losses": losses} | summary


def pick_cases(
    by_seed: dict[str, dict[int, list[CaseResult]]], count: int, reference: str = REFERENCE_LOSS
) -> list[str]:
    """Test cases worth looking at: one per map, the most true sheet and helix voxels first
    (ties by id), from the reference loss's cases (else any loss's)."""
    source = by_seed.get(reference) or next(iter(by_seed.values()), {})
    cases = {c.sample_id: c for v in source.values() for c in v}
    ranked = sorted(cases.values(), key=lambda c: (-c.voxel_true_sheet, -c.voxel_true_helix))
    picked: list[str] = []
    for case in ranked:
        if case.sample_id.split("_", 1)[0] not in {p.split("_", 1)[0] for p in picked}:
            picked.append(case.sample_id)
        if len(picked) == count:
            break
    return picked


def prediction_montages(
    training: dict[str, Any],
    record: str | Path,
    results: str | Path,
    colours: dict[str, str],
    count: int = 4,
    device: str = "cpu",
) -> tuple[list[Path], list[str]]:
    """Slices of `count` test cases, one row per loss (its chosen run, first seed), predicted
    with the study's checkpoints (<results>/training/<run_id>/best.pt), which the record does
    not keep. Returns the figures and the losses left out for want of a checkpoint."""
    from cryosse.core.tsv import read_tsv
    from cryosse.io.run_layout import checkpoint_of
    from cryosse.io.sample import read_sample
    from cryosse.learn.augment import load_box
    from cryosse.learn.checkpoint import grid_factor
    from cryosse.learn.device import choose_device
    from cryosse.learn.predict import predict_sample

    record, results = Path(record), Path(results)
    chosen = chosen_runs(training, record)
    checkpoints = {
        loss: checkpoint_of(results, run_id)
        for loss, run_id in chosen.items()
        if checkpoint_of(results, run_id).is_file()
    }
    missing = [x for x in LOSSES if x in selection_losses(training) and x not in checkpoints]
    if not checkpoints:
        return [], missing
    paths = {r["sample_id"]: results / r["path"] for r in read_tsv(results / "manifest.tsv")}
    torch_device = choose_device(device)
    models = {loss: load_model(path, torch_device) for loss, path in checkpoints.items()}
    made = []
    for sample_id in pick_cases(recorded_cases(training, record), count):
        sample_dir = paths[sample_id]
        box = load_box(sample_dir)
        voxel = float(read_sample(sample_dir).meta.voxel_size)
        predictions = {}
        for loss in [x for x in LOSSES if x in models]:
            model, metadata = models[loss]
            probs = predict_sample(model, box, grid_factor(metadata, voxel), torch_device)
            predictions[f"{loss} ({chosen[loss]})"] = np.asarray(probs.argmax(axis=0))
        png = record / "figures" / f"montage_{sample_id}.png"
        loss_montage(box.density, box.labels, predictions, colours, sample_id, png)
        made.append(png)
    return made, missing


def selection_losses(training: dict[str, Any]) -> list[str]:
    return list(dict.fromkeys(spec.loss for spec in selection_grid(training)))
