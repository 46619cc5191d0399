"""Inference options against their CPU cost, on VALIDATION cases only (issue 23, item 4).

    python -m benchmarks.model_options --run results/study \
        --checkpoints results/study/training/FL_DL_g2_lr0.001_s0/best.pt [more seeds ...]

Scores, with the code `cryosse evaluate` and the workflow run (evaluate_checkpoint):
  one      the first checkpoint, one forward pass per box
  flips    the first checkpoint, mean over the box's 8 mirror images (8 passes)
  seeds    the mean of all given checkpoints (one setting trained with several seeds)
  seeds+flips
on the run's validation split (never the test maps: the choice of a default model must not see
them), and prints the weighted voxel F1 (weights: true voxels), mean per-case F1 of helix and
sheet, the selection metric and the CPU seconds, side by side, with the machine's CPU flags.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path
from typing import Any

import torch

from benchmarks._harness import host_facts
from cryosse.core.metrics import selection_metric, weighted_average
from cryosse.evaluate.evaluation import CaseResult, evaluate_checkpoint
from cryosse.io.run_layout import sample_dirs, split_roles


def figures(cases: list[CaseResult]) -> dict[str, Any]:
    helix = [c.voxel_f1_helix for c in cases]
    sheet = [c.voxel_f1_sheet for c in cases]
    return {
        "voxel_helix": weighted_average(helix, [c.voxel_true_helix for c in cases]),
        "voxel_sheet": weighted_average(sheet, [c.voxel_true_sheet for c in cases]),
        "residue_helix": weighted_average(
            [c.residue_f1_helix for c in cases], [c.ca_helix for c in cases]
        ),
        "residue_sheet": weighted_average(
            [c.residue_f1_sheet for c in cases], [c.ca_sheet for c in cases]
        ),
        "metric": selection_metric(helix, sheet),
    }


def _pct(value: float | None) -> str:
    return "NA" if value is None else f"{100 * value:.1f}"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--run", required=True, help="workflow run folder (manifest, splits)")
    parser.add_argument("--checkpoints", nargs="+", required=True, help="best.pt of each seed")
    parser.add_argument("--split", default="validation", choices=["validation", "train"])
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--limit", type=int, help="score only the first N cases")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    run = Path(args.run)
    roles = split_roles(run / "splits/main.tsv")
    dirs = sample_dirs(run / "manifest.tsv", roles, args.split)
    dirs = dirs[: args.limit] if args.limit else dirs
    facts = host_facts()
    flags = [f for f in facts["cpu_flags"] if f in ("avx2", "avx512f", "avx512_bf16", "amx_bf16")]
    print(f"machine: {facts['cpu_model']}, {args.threads} thread(s), flags {' '.join(flags)}")
    print(f"{len(dirs)} {args.split} cases of {run}; {len(args.checkpoints)} checkpoint(s)")
    options: list[tuple[str, list[str], bool]] = [
        ("one", args.checkpoints[:1], False),
        ("flips", args.checkpoints[:1], True),
    ]
    if len(args.checkpoints) > 1:
        options += [("seeds", args.checkpoints, False), ("seeds+flips", args.checkpoints, True)]
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for name, checkpoints, flips in options:
            started = time.process_time()
            cases = evaluate_checkpoint(
                checkpoints, dirs, Path(tmp) / f"{name}.tsv", device="cpu", flips=flips
            )
            rows.append((name, figures(cases), time.process_time() - started))
    base_seconds = rows[0][2]
    print(
        "| option | voxel F1 helix | voxel F1 sheet | residue F1 helix | residue F1 sheet "
        "| metric | CPU s | × one |"
    )
    print("|---|---|---|---|---|---|---|---|")
    for name, f, seconds in rows:
        print(
            f"| {name} | {_pct(f['voxel_helix'])} | {_pct(f['voxel_sheet'])} | "
            f"{_pct(f['residue_helix'])} | {_pct(f['residue_sheet'])} | {f['metric']:.4f} | "
            f"{seconds:.0f} | {seconds / base_seconds:.1f} |"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
