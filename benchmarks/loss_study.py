"""The paper's five-loss study at CPU scale, resumable across machines through its committed
record (cryosse.evaluate.record: docs/benchmark/runs/<run_id>/).

    python -m benchmarks.loss_study run [--config config/study.yaml] [--record docs/benchmark]
        [--workers 2] [--commit] [--max-runs N]
    python -m benchmarks.loss_study tables [--config ...] [--record ...] [--step-json FILE]
    python -m benchmarks.loss_study montages [--config ...] [--record ...] [--cases 4]
    python -m benchmarks.loss_study plan [--config ...] [--record ...]

`run` builds the data set with the workflow (`snakemake dataset`: the offline mirror's entries,
curated and split; byte-identical on every machine), then trains the runs still missing from
the record, one per worker and one thread each, with the code the workflow runs
(cryosse.learn.stage.run_training), scores each on the test split
(cryosse.evaluate.evaluation.evaluate_checkpoint) and records it; with --commit each finished
run is committed at once (only its folder), so that a session that ends loses only the runs in
flight. Selection runs (first seed) come first; once all of a loss's are recorded, the other
seeds of its chosen setting follow, seed by seed across the losses (every loss's second seed
before any third: a study cut short keeps as many seeds of each). `tables` writes the tables,
the verdicts, the figures and the cost from the record alone (no checkpoint needed;
cryosse.report.study), and says which losses and seeds the record still lacks. `montages`
draws prediction montages from the study's checkpoints, which only the machine that trained
them has.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import subprocess
import sys
import time
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from pathlib import Path
from typing import Any

from cryosse.core.atomic import write_text_atomic
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
    from cryosse.io.run_layout import sample_dirs, split_roles
    from cryosse.learn.stage import run_training

    torch.set_num_threads(1)
    config = load_config(config_path)
    results = _results(config)
    manifest, main = results / "manifest.tsv", results / "splits" / "main.tsv"
    out = results / "training" / run_id
    summary = run_training(
        run_id=run_id,
        manifest=manifest,
        main_tsv=main,
        training=config["training"],
        model=config["model"],
        out_dir=out,
    )
    test_dirs = sample_dirs(manifest, split_roles(main), "test")
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


def study_cost(record: Path) -> dict[str, Any]:
    """The study's CPU time from the record: training and test scoring of every recorded run,
    and its measured seconds per optimisation step (validation included)."""
    from cryosse.evaluate.record import recorded_summaries

    summaries = recorded_summaries(record)
    train_s = sum(s["seconds"] for s in summaries)
    test_s = sum(s.get("test_seconds", 0) for s in summaries)
    per_step = [
        s["seconds"] / (s["epochs_run"] * s["steps_per_epoch"])
        for s in summaries
        if s.get("epochs_run") and s.get("steps_per_epoch")
    ]
    return {
        "runs": len(summaries),
        "cpu_hours": round((train_s + test_s) / 3600, 2),
        "training_cpu_hours": round(train_s / 3600, 2),
        "test_cpu_hours": round(test_s / 3600, 2),
        "median_s_per_step": round(sorted(per_step)[len(per_step) // 2], 3) if per_step else None,
        "cpu": summaries[0].get("cpu") if summaries else None,
        "threads_per_run": 1,
    }


def _shown(path: Path | None) -> str:
    """A path as the record may show it: relative to the repository, never this machine's."""
    if path is None:
        return "no step-time file"
    try:
        return str(path.resolve().relative_to(REPO))
    except ValueError:
        return path.name


def paper_scale(step_json: Path | None, n_seeds: int, n_losses: int) -> dict[str, Any]:
    """GPU-hours (or, measured on a CPU, CPU-hours) of the paper's grid at 1 Å with seeds, from
    a step time measured by benchmarks/train_step.py (--json): its grid estimate (GRID_RUNS
    runs × epochs × (training steps + validation forwards) of 112³ at the paper's network) per
    run, times the runs. Two counts: the 33 selection runs × every seed, and this study's
    design (the 33, then the other seeds of each loss's chosen setting only)."""
    from benchmarks.train_step import GRID_RUNS, GRID_SIZE  # its grid, not a copy (imports torch)

    literal, design = GRID_RUNS * n_seeds, GRID_RUNS + n_losses * (n_seeds - 1)
    if step_json is None or not step_json.is_file():
        return {
            "measured": False,
            "why": f"no measured step time ({_shown(step_json)} absent): measure it on the target "
            "machine with `python -m benchmarks.train_step --json docs/benchmark/train_step.json`",
            "runs": {"selection × seeds": literal, "this design": design},
        }
    figures = json.loads(step_json.read_text())
    estimate = figures["estimate"]
    label, row = min(estimate["rows"].items(), key=lambda item: item[1]["hours"])
    per_run = row["hours"] / GRID_RUNS
    unit = "GPU-hours" if estimate["device"] == "cuda" else "CPU-hours"
    machine = figures["machine"]
    out: dict[str, Any] = {
        "measured": True,
        "source": _shown(step_json),
        "device": machine.get("gpu") or machine.get("cpu_model"),
        "unit": unit,
        "configuration": label,
        "step_s": round(row["step_s"], 4),
        "size": GRID_SIZE,
        "scaled_from": estimate["scaled_from"],
        "base": figures["settings"]["base"],
        "epochs": estimate["epochs"],
        "hours_per_run": round(per_run, 2),
        "runs": {"selection × seeds": literal, "this design": design},
        "hours": {
            "selection × seeds": round(per_run * literal, 1),
            "this design": round(per_run * design, 1),
        },
    }
    if estimate["device"] != "cuda":
        h100 = estimate["h100"]["hours"] / GRID_RUNS
        out["gpu_not_measured"] = {
            "why": "no GPU measured: one H100 at 31 ms per 112³ step is the project brief's "
            "figure, quoted by benchmarks/train_step.py, not a measurement",
            "gpu_hours": {
                "selection × seeds": round(h100 * literal, 1),
                "this design": round(h100 * design, 1),
            },
        }
    return out


def tables(args: argparse.Namespace) -> None:
    from cryosse.core.run_grid import seeds
    from cryosse.report.study import selection_losses, write_record

    config = load_config(args.config)
    record = Path(args.record)
    manifest = _results(config) / "manifest.tsv"
    written = write_record(config["training"], record, manifest if manifest.exists() else None)
    print(f"record {record}: {written['line']}")
    for row in written["basis"]:
        print(
            f"  {row['figure']}: losses {row['losses']}; seeds {row['seeds']}; "
            f"{row['maps']} maps, {row['cases']} cases"
        )
    cost = study_cost(record)
    n_seeds, n_losses = len(seeds(config["training"])), len(selection_losses(config["training"]))
    step_json = Path(args.step_json) if args.step_json else record / "train_step.json"
    cost["paper_scale"] = paper_scale(step_json, n_seeds, n_losses)
    out = record / "tables"
    write_text_atomic(out / "cost.json", json.dumps(cost, indent=2) + "\n")
    cpu = cost["cpu"] or {}
    machine = f"{cpu.get('model', '?')} ({' '.join(cpu.get('flags', []))}), one thread per run"
    if not cost["runs"]:
        print("study: no run recorded yet, no CPU-hours to count")
    else:
        print(
            f"study: {cost['runs']} runs, {cost['cpu_hours']:.2f} CPU-hours (training "
            f"{cost['training_cpu_hours']:.2f}, test scoring {cost['test_cpu_hours']:.2f}) on "
            f"{machine}; {cost['median_s_per_step']} s per optimisation step (median, "
            "validation included)"
        )
    scale = cost["paper_scale"]
    if scale["measured"]:
        print(
            f"paper scale ({scale['size']}³ at 1 Å, base {scale['base']}, {scale['epochs']} "
            f"epochs; step {scale['step_s']} s, {scale['configuration']}, measured on "
            f"{scale['device']}"
            + (
                f", scaled by voxel count from {scale['scaled_from']}³"
                if scale["scaled_from"] != scale["size"]
                else ""
            )
            + (
                f"; base {scale['base']} is NOT the paper's network (64)"
                if scale["base"] != 64
                else ""
            )
            + f"): {scale['hours_per_run']} {scale['unit']} per run; "
            + "; ".join(
                f"{scale['runs'][k]} runs ({k}): {v} {scale['unit']}"
                for k, v in scale["hours"].items()
            )
        )
        if "gpu_not_measured" in scale:
            guess = scale["gpu_not_measured"]
            print(
                "  GPU-hours, NOT measured: "
                + "; ".join(f"{scale['runs'][k]} runs: {v}" for k, v in guess["gpu_hours"].items())
                + f" ({guess['why']})"
            )
    else:
        print(f"paper scale: {scale['why']}")
    for name in ("coverage", "table1", "claims", "ranks"):
        print((out / f"{name}.md").read_text())


def montages(args: argparse.Namespace) -> None:
    """Prediction montages from the study's checkpoints (results/<run>/training/<run_id>/best.pt,
    never committed): the record alone cannot make them."""
    import torch

    from cryosse.report.study import prediction_montages
    from cryosse.segment.chimerax import COLOURS

    torch.set_num_threads(1)
    config = load_config(args.config)
    made, missing = prediction_montages(
        config["training"], args.record, _results(config), COLOURS, args.cases
    )
    for png in made:
        print(f"montage: {png}")
    if missing:
        print(
            "left out of the montages (no chosen run yet, or its checkpoint is not on this "
            f"machine): {', '.join(missing)}"
        )
    if not made:
        print(f"no montage: no checkpoint of a chosen run under {_results(config) / 'training'}")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("command", choices=["run", "tables", "plan", "montages"])
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
    parser.add_argument(
        "--step-json",
        help="tables: benchmarks/train_step.py --json output for the paper-scale estimate "
        "(default <record>/train_step.json)",
    )
    parser.add_argument("--cases", type=int, default=4, help="montages: test cases to draw")
    args = parser.parse_args(argv)
    {"run": run, "tables": tables, "plan": plan, "montages": montages}[args.command](args)


if __name__ == "__main__":
    main()
