"""What simulation adds: the offline model against models trained on real maps only.

For every real evaluation entry E of an offline run (the pinned test split of
config/offline.yaml), a FL_DL model with the SAME network, crops, steps, learning rate and γ as
the offline grid is trained on the samples of the OTHER real entries only (leave-one-out; no
validation case is left, so the last epoch with the lowest training loss is kept, as
cryosse.learn.training does without validation) and tested on E's samples with the same evaluation
code as the pipeline. The offline model's per-case results are read from the run's own
evaluation (evaluation/FL_DL/seed_0/cases.tsv). Prints voxel and residue F1 of helix and sheet per
real pair and weighted over pairs (weights: true voxels / residues of the class), side by side.

    .venv/bin/python -m benchmarks.real_only_loo --config config/offline.yaml \
        --out /tmp/loo [--threads 1] [--with-derived]

`--with-derived` also trains on the derived (low-passed real, EMD-91xxx) maps: real data
without simulation.
"""

from __future__ import annotations

import argparse
import json
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

import yaml

from benchmarks._harness import host_facts
from cryosse.core.classes import SCORED_CLASSES
from cryosse.core.run_grid import RunSpec
from cryosse.core.tsv import read_tsv
from cryosse.evaluate.evaluation import CaseResult, evaluate_checkpoint, read_cases
from cryosse.learn.settings import TrainSettings
from cryosse.learn.training import train_run
from cryosse.segment.default_model import KINDS, evaluation_figures

DERIVED_RANGE = range(91000, 92000)


def _entry(sample_id: str) -> str:
    return sample_id.split("_", 1)[0]


def _train_and_test(job: dict[str, Any]) -> list[CaseResult]:
    settings = TrainSettings.from_config({**job["training"], "threads": job["threads"]})
    out = Path(job["out"])
    train_run(job["spec"], settings, job["model"], job["train"], [], out)
    return evaluate_checkpoint(out / "best.pt", job["test"], out / "cases.tsv", device="cpu")


def _fmt(value: float | None) -> str:
    return "  NA " if value is None else f"{value:.3f}"


def _row(case: CaseResult | None) -> str:
    """Voxel and residue F1 of helix and sheet (NA where the case or the class is missing)."""
    return "  ".join(
        _fmt(getattr(case, f"{k}_f1_{c}") if case else None) for k in KINDS for c in SCORED_CLASSES
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--config", default="config/offline.yaml")
    parser.add_argument("--out", required=True, help="folder for the leave-one-out runs")
    parser.add_argument("--threads", type=int, default=1, help="torch threads per run")
    parser.add_argument("--jobs", type=int, default=2, help="runs side by side")
    parser.add_argument("--with-derived", action="store_true")
    args = parser.parse_args()

    config = yaml.safe_load(Path(args.config).read_text())
    results = Path("results") / config["run"]
    manifest = read_tsv(results / "manifest.tsv")
    split = {r["sample_id"]: r["split"] for r in read_tsv(results / "splits/main.tsv")}
    paths = {r["sample_id"]: results / r["path"] for r in manifest}
    real = sorted(s for s in paths if split.get(s) == "test")
    derived = sorted(s for s in paths if int(_entry(s)[4:]) in DERIVED_RANGE)
    entries = sorted({_entry(s) for s in real})
    if len(entries) < 2:
        raise SystemExit("need at least two real evaluation entries in the offline run")

    training = config["training"]
    spec = RunSpec("FL_DL", float(training["learning_rates"][0]), float(training["gammas"][0]))
    jobs = []
    for held in entries:
        train = [paths[s] for s in real if _entry(s) != held]
        if args.with_derived:
            train += [paths[s] for s in derived]
        jobs.append(
            {
                "spec": spec,
                "training": training,
                "model": config["model"],
                "threads": args.threads,
                "train": train,
                "out": str(Path(args.out) / held),
                "test": [paths[s] for s in real if _entry(s) == held],
            }
        )

    facts = host_facts()
    print(f"machine: {facts['cpu_model']}, {facts['nproc']} cores; python {facts['python']}")
    print(
        f"offline run: {results}; real entries: {', '.join(entries)}; run {spec.run_id}, "
        f"model {config['model']}, {training['epochs']} epochs x "
        f"{training['steps_per_epoch']} steps of {training['crop_size']}^3 crops"
        + ("; real-only training + derived maps" if args.with_derived else "")
    )
    started = time.perf_counter()
    with ProcessPoolExecutor(max_workers=args.jobs) as pool:
        loo = [case for cases in pool.map(_train_and_test, jobs) for case in cases]
    seconds = time.perf_counter() - started
    offline = read_cases(results / "evaluation/FL_DL/seed_0/cases.tsv")

    by_id = {c.sample_id: c for c in loo}
    print(f"\n{'case':26}| offline (simulated + derived) | real only, leave-one-out")
    print(f"{'':26}| {'vox H  vox E  res H  res E':30}| vox H  vox E  res H  res E")
    for case in offline:
        print(f"{case.sample_id:26}| {_row(case):30}| {_row(by_id.get(case.sample_id))}")
    # the same weighting as the model card: true voxels (voxel F1), Cα of the class (residue F1)
    summary = {
        name: evaluation_figures(cases)["weighted"]
        for name, cases in (("offline", offline), ("real_only_loo", loo))
    }
    cells = [
        "  ".join(_fmt(summary[n][f"{k}_f1_{c}"]) for k in KINDS for c in SCORED_CLASSES)
        for n in ("offline", "real_only_loo")
    ]
    print(f"{'weighted over pairs':26}| {cells[0]:30}| {cells[1]}")
    print(
        f"\nleave-one-out training + testing: {seconds:.0f} s for {len(jobs)} runs "
        f"({args.jobs} side by side, {args.threads} thread each)"
    )
    Path(args.out).mkdir(parents=True, exist_ok=True)
    (Path(args.out) / "summary.json").write_text(json.dumps(summary, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
