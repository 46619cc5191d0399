"""The paper's five-loss study at CPU scale, resumable across machines through its committed
record (cryosse.evaluate.record: docs/benchmark/runs/<run_id>/).

    python -m benchmarks.loss_study run [--config config/study.yaml] [--record docs/benchmark]
        [--workers 2] [--commit] [--max-runs N]
    python -m benchmarks.loss_study tables [--config ...] [--record ...]
    python -m benchmarks.loss_study plan [--config ...] [--record ...]

`run` builds the data set with the workflow (`snakemake dataset`: the offline mirror's entries,
curated and split; byte-identical on every machine), then trains the runs still missing from
the record, one per worker and one thread each, with the code the workflow runs
(cryosse.learn.stage.run_training), scores each on the test split
(cryosse.evaluate.evaluation.evaluate_checkpoint) and records it; with --commit each finished
run is committed at once (only its folder), so that a session that ends loses only the runs in
flight. Selection runs (first seed) come first; once all of a loss's are recorded, the other
seeds of its chosen setting follow. `tables` writes the tables, the verdicts and the cost from
the record alone (no checkpoint needed).
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import subprocess
import sys
import time
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from pathlib import Path
from typing import Any

from cryosse.core.config import load_config

REPO = Path(__file__).resolve().parent.parent


def _results(config: dict[str, Any]) -> Path:
    return REPO / "results" / config["run"]


def build_dataset(config_path: Path, workers: int, rerun_triggers: list[str] | None) -> None:
    snakemake = Path(sys.executable).with_name("snakemake")
    command = [str(snakemake), "dataset", "--configfile", str(config_path), "--cores", str(workers)]
    if rerun_triggers:
        # e.g. mtime: keep entries curated by an earlier build when only code that does not
        # change them (an error message, a check) has changed since
        command += ["--rerun-triggers", *rerun_triggers]
    subprocess.run([*command, "-q"], cwd=REPO, check=True)


def train_and_record(
    run_id: str, config_path: str, record: str, dataset: dict[str, Any]
) -> dict[str, Any]:
    """One run: train, score on the test split, record (runs in a worker process)."""
    import torch

    from cryosse.evaluate.evaluation import evaluate_checkpoint
    from cryosse.evaluate.record import record_run
    from cryosse.learn.stage import run_training
    from cryosse.splits.stage import split_sample_dirs

    torch.set_num_threads(1)
    config = load_config(config_path)
    results = _results(config)
    manifest, main = results / "manifest.tsv", results / "splits" / "main.tsv"
    out = results / "training" / run_id
    summary = run_training(run_id, manifest, main, config["training"], config["model"], out)
    test_dirs = split_sample_dirs(manifest, main, "test")
    cases = out / "test_cases.tsv"
    started = time.perf_counter()
    evaluate_checkpoint(out / "best.pt", test_dirs, cases, device="cpu")
    summary["test_seconds"] = round(time.perf_counter() - started, 1)
    summary["dataset"] = dataset  # record.check_same_dataset compares it
    (out / "summary.json").write_text(json.dumps(summary, indent=2) + "\n")
    record_run(out, cases, record)
    return summary


def commit_run(record: Path, run_id: str) -> None:
    """Commit only this run's folder; retried while another git command holds the index."""
    folder = record / "runs" / run_id
    for _ in range(30):
        added = subprocess.run(["git", "add", "--", str(folder)], cwd=REPO, check=False)
        if added.returncode == 0:
            message = f"loss study: run {run_id} recorded (summary, learning curve, test cases)"
            done = subprocess.run(
                ["git", "commit", "-q", "-m", message, "--", str(folder)], cwd=REPO, check=False
            )
            if done.returncode == 0:
                return
        time.sleep(10)
    print(f"could not commit {folder}: commit it by hand", file=sys.stderr)


def run(args: argparse.Namespace) -> None:
    from cryosse.evaluate.record import check_same_dataset, dataset_fingerprint, planned_runs

    config = load_config(args.config)
    record = Path(args.record)
    build_dataset(Path(args.config), args.workers, args.rerun_triggers)
    results = _results(config)
    dataset = dataset_fingerprint(results / "manifest.tsv", results / "splits" / "main.tsv")
    try:
        check_same_dataset(record, dataset)
    except ValueError as exc:
        raise SystemExit(f"loss_study: {exc}") from None
    print(f"data set {dataset['sha256'][:12]}: {dataset['cases']}", flush=True)
    started, finished = 0, 0
    in_flight: dict[Future[dict[str, Any]], str] = {}
    # spawn: the workers start clean, not as forks of a process that has loaded torch
    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(max_workers=args.workers, mp_context=context) as pool:
        while True:
            busy = set(in_flight.values())
            for spec in planned_runs(config["training"], record):
                if len(in_flight) >= args.workers or started >= args.max_runs:
                    break
                if spec.run_id in busy:
                    continue
                print(f"start {spec.run_id}", flush=True)
                future = pool.submit(
                    train_and_record, spec.run_id, str(args.config), str(record), dataset
                )
                in_flight[future] = spec.run_id
                busy.add(spec.run_id)
                started += 1
            if not in_flight:
                break
            done, _ = wait(in_flight, return_when=FIRST_COMPLETED)
            for future in done:
                run_id = in_flight.pop(future)
                summary = future.result()
                finished += 1
                print(
                    f"recorded {run_id}: {summary['seconds'] / 60:.1f} min training, "
                    f"validation {summary['best_val_metric']:.4f}",
                    flush=True,
                )
                if args.commit:
                    commit_run(record, run_id)
    print(
        f"{finished} runs recorded; still planned: {len(planned_runs(config['training'], record))}"
    )


def plan(args: argparse.Namespace) -> None:
    from cryosse.evaluate.record import chosen_runs, planned_runs, recorded_summaries

    config = load_config(args.config)
    done = recorded_summaries(args.record)
    print(f"recorded: {len(done)} runs ({sum(s['seconds'] for s in done) / 3600:.2f} CPU-hours)")
    print(f"chosen so far: {chosen_runs(config['training'], args.record)}")
    print(
        "planned next:", " ".join(s.run_id for s in planned_runs(config["training"], args.record))
    )


def tables(args: argparse.Namespace) -> None:
    from cryosse.evaluate.record import recorded_cases, recorded_summaries
    from cryosse.evaluate.stage import write_study_tables
    from cryosse.evaluate.tables import seed_table, write_table

    config = load_config(args.config)
    record = Path(args.record)
    out = record / "tables"
    out.mkdir(parents=True, exist_ok=True)
    by_seed = recorded_cases(config["training"], record)
    manifest = _results(config) / "manifest.tsv"
    write_table(seed_table(by_seed), "Voxel F1 per loss, mean ± sd over seeds", out / "seeds")
    write_study_tables(by_seed, out, manifest if manifest.exists() else None)
    summaries = recorded_summaries(record)
    hours = sum(s["seconds"] + s.get("test_seconds", 0) for s in summaries) / 3600
    cost = {
        "runs": len(summaries),
        "cpu_hours": round(hours, 2),
        "cpu": summaries[0]["cpu"] if summaries else None,
        "os_cpu_count": os.cpu_count(),
    }
    (out / "cost.json").write_text(json.dumps(cost, indent=2) + "\n")
    print(json.dumps(cost, indent=2))
    for name in ("claims", "ranks", "seeds"):
        print((out / f"{name}.md").read_text())


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("command", choices=["run", "tables", "plan"])
    parser.add_argument("--config", default=str(REPO / "config" / "study.yaml"))
    parser.add_argument("--record", default=str(REPO / "docs" / "benchmark"))
    parser.add_argument("--workers", type=int, default=2, help="runs at once, one thread each")
    parser.add_argument("--max-runs", type=int, default=10**6, help="stop after starting N runs")
    parser.add_argument("--commit", action="store_true", help="git-commit each recorded run")
    parser.add_argument(
        "--rerun-triggers",
        nargs="+",
        help="passed to snakemake for the data set (mtime: keep an earlier build's entries)",
    )
    args = parser.parse_args(argv)
    {"run": run, "tables": tables, "plan": plan}[args.command](args)


if __name__ == "__main__":
    main()
