"""The loss study's committed record: one folder per finished run, kept in the repository so that
a study spread over several machines loses only the runs in flight.

    <record>/runs/<run_id>/summary.json   the run's summary (cryosse.learn.training.train_run)
    <record>/runs/<run_id>/history.csv    its learning curve, per epoch
    <record>/runs/<run_id>/cases.tsv      its test cases (cryosse.evaluate.evaluation)

Never a checkpoint: a run is finished when its three files are there, and the tables are
computed from the cases alone. The plan follows the workflow's grid (cryosse.core.run_grid): the
selection runs (first seed) first; once every selection run of a loss is recorded, the other
seeds of the setting chosen on validation, seed by seed across the losses (every chosen
setting's second seed before any third), so that a study cut short by its CPU budget has the
same number of seeds of every loss, give or take one.
"""

from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path
from typing import Any

from cryosse.core.atomic import atomic_directory
from cryosse.core.hashing import sha256_file
from cryosse.core.run_grid import RunSpec, seeds, selection_grid
from cryosse.core.tsv import read_tsv
from cryosse.evaluate.evaluation import CaseResult, read_cases
from cryosse.learn.selection import select_best_runs

RUN_FILES = ("summary.json", "history.csv", "cases.tsv")


def run_folder(record: str | Path, run_id: str) -> Path:
    return Path(record) / "runs" / run_id


def is_recorded(record: str | Path, run_id: str) -> bool:
    folder = run_folder(record, run_id)
    return all((folder / name).is_file() for name in RUN_FILES)


def record_run(run_dir: str | Path, cases_tsv: str | Path, record: str | Path) -> Path:
    """Copy a finished run's summary, learning curve and test cases into the record, all at
    once (a folder renamed into place: a kill leaves no half run)."""
    run_dir = Path(run_dir)
    target = run_folder(record, run_dir.name)
    with atomic_directory(target) as tmp:
        for name in ("summary.json", "history.csv"):
            shutil.copyfile(run_dir / name, Path(tmp) / name)
        shutil.copyfile(cases_tsv, Path(tmp) / "cases.tsv")
    return target


def recorded_summaries(record: str | Path) -> list[dict[str, Any]]:
    runs = Path(record) / "runs"
    if not runs.is_dir():
        return []
    return [
        json.loads((folder / "summary.json").read_text())
        for folder in sorted(runs.iterdir())
        if is_recorded(record, folder.name)
    ]


def planned_runs(training: dict[str, Any], record: str | Path) -> list[RunSpec]:
    """The runs still to train, in order: the selection grid, then the other seeds of each
    chosen setting (losses whose selection runs are all recorded), seed-major."""
    selection = selection_grid(training)
    todo = [spec for spec in selection if not is_recorded(record, spec.run_id)]
    chosen = [
        next(s for s in selection if s.run_id == run_id)
        for run_id in chosen_runs(training, record).values()
    ]
    for seed in seeds(training)[1:]:
        for spec in chosen:
            other = RunSpec(spec.loss, spec.lr, spec.gamma, seed)
            if not is_recorded(record, other.run_id):
                todo.append(other)
    return todo


def chosen_runs(training: dict[str, Any], record: str | Path) -> dict[str, str]:
    """Per loss whose selection runs are all recorded: the run id chosen on validation."""
    selection = selection_grid(training)
    summaries = {s["run_id"]: s for s in recorded_summaries(record)}
    chosen = {}
    for loss in dict.fromkeys(spec.loss for spec in selection):
        mine = [s.run_id for s in selection if s.loss == loss]
        if all(run_id in summaries for run_id in mine):
            chosen[loss] = select_best_runs([summaries[r] for r in mine])[0]["run_id"]
    return chosen


def recorded_cases(
    training: dict[str, Any], record: str | Path
) -> dict[str, dict[int, list[CaseResult]]]:
    """The test cases of each loss's chosen setting, by loss and seed (every recorded seed)."""
    by_loss: dict[str, dict[int, list[CaseResult]]] = {}
    for loss, run_id in chosen_runs(training, record).items():
        spec = next(s for s in selection_grid(training) if s.run_id == run_id)
        for seed in seeds(training):
            other = RunSpec(spec.loss, spec.lr, spec.gamma, seed).run_id
            if is_recorded(record, other):
                cases = read_cases(run_folder(record, other) / "cases.tsv")
                by_loss.setdefault(loss, {})[seed] = cases
    return by_loss


def dataset_fingerprint(manifest: str | Path, main_tsv: str | Path) -> dict[str, Any]:
    """What the runs of one record must share: a sha256 over every sample's split, id and the
    bytes of its sample.json, density and labels, with the cases per split. A record mixes
    runs only of the same data set (a rebuild on a new machine must give the same bytes)."""
    root = Path(manifest).parent
    paths = {row["sample_id"]: root / row["path"] for row in read_tsv(manifest)}
    digest = hashlib.sha256()
    cases: dict[str, int] = {}
    for row in sorted(read_tsv(main_tsv), key=lambda r: r["sample_id"]):
        sample_id, split = row["sample_id"], row["split"]
        cases[split] = cases.get(split, 0) + 1
        digest.update(f"{split}\t{sample_id}\n".encode())
        for name in ("sample.json", "density.mrc", "labels.mrc"):
            digest.update(sha256_file(paths[sample_id] / name).encode())
    return {"sha256": digest.hexdigest(), "cases": dict(sorted(cases.items()))}


def check_same_dataset(record: str | Path, fingerprint: dict[str, Any]) -> None:
    """Refuse (ValueError, one line) to add runs of another data set to a record."""
    for summary in recorded_summaries(record):
        recorded = (summary.get("dataset") or {}).get("sha256")
        if recorded is not None and recorded != fingerprint["sha256"]:
            raise ValueError(
                f"run {summary['run_id']} of {record} was trained on data set "
                f"{recorded[:12]}, this build is {fingerprint['sha256'][:12]}: rebuild the data "
                "set with the code and mirror the record names, or start a new record"
            )


def record_coverage(training: dict[str, Any], record: str | Path) -> list[dict[str, Any]]:
    """Per loss of the grid: how many of its selection runs are recorded, the run chosen (once
    they all are), the seeds of that setting recorded and those still missing. What a partial
    record stands on, said rather than filled in."""
    selection = selection_grid(training)
    chosen = chosen_runs(training, record)
    rows = []
    for loss in dict.fromkeys(spec.loss for spec in selection):
        mine = [s for s in selection if s.loss == loss]
        done = [s for s in mine if is_recorded(record, s.run_id)]
        row: dict[str, Any] = {
            "loss": loss,
            "selection_runs": f"{len(done)}/{len(mine)}",
            "chosen": chosen.get(loss, ""),
        }
        if loss in chosen:
            spec = next(s for s in mine if s.run_id == chosen[loss])
            recorded = [
                seed
                for seed in seeds(training)
                if is_recorded(record, RunSpec(spec.loss, spec.lr, spec.gamma, seed).run_id)
            ]
        else:
            recorded = []
        row["seeds_recorded"] = ",".join(map(str, recorded)) or "none"
        missing = [s for s in seeds(training) if s not in recorded]
        row["seeds_missing"] = ",".join(map(str, missing)) or "none"
        rows.append(row)
    return rows


def coverage_line(rows: list[dict[str, Any]], total_seeds: int) -> str:
    """One sentence on what the record holds and what it lacks."""
    complete = [r["loss"] for r in rows if r["seeds_missing"] == "none"]
    partial = [r for r in rows if r["chosen"] and r["seeds_missing"] != "none"]
    absent = [r["loss"] for r in rows if not r["chosen"]]
    parts = [f"{len(complete)} of {len(rows)} losses complete ({total_seeds} seeds each)"]
    if partial:
        parts.append(
            "partial: "
            + ", ".join(
                f"{r['loss']} (seeds {r['seeds_recorded']} of {total_seeds})" for r in partial
            )
        )
    if absent:
        parts.append(
            "no chosen run yet, hence missing from every table and figure: " + ", ".join(absent)
        )
    return "; ".join(parts) + "."
