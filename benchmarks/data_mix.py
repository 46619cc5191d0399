"""A training-data recipe tried against the study's own (issue 23, items 3 and 4): the study's
data set plus the samples of another curated run, added to its TRAINING set only
(cryosse.splits.extend: only structures the study trains on, its validation and test cases
unchanged), trained with the study's settings, judged on the study's validation cases (the
training's own selection metric) and then on the real maps (benchmarks/real_maps.py).

    cryosse simulate STRUCTURES --mirror results/offline/mirror_v1 --first-id 93000 --profile v1
    python -m benchmarks.data_mix entries results/offline/mirror_v1
    snakemake dataset --configfile config/v1_extra.yaml --cores 2
    python -m benchmarks.data_mix union --base results/study --extra results/v1_extra \
        --out results/data_mix
    python -m benchmarks.data_mix train --data results/data_mix --run FL_DL_g8_lr0.001_s0
    python -m benchmarks.real_maps --strata abc \
        --checkpoint results/data_mix/training/FL_DL_g8_lr0.001_s0/best.pt

More real texture (config/derived_extra.yaml: more low-passed maps of the real pairs), added
on top of the union above: `cryosse derive ... --exclude` as that file says, `data_mix entries
results/offline/mirror_derived`, `snakemake dataset --configfile config/derived_extra.yaml`,
then `data_mix union --base results/data_mix --extra results/derived_extra --out
results/data_mix_derived` and train on it.

Measured (stop 31, 2-core AMD EPYC, avx2 avx512f avx512_bf16, under load 3-5): the v1 mirror
of the 384 structures 2.7 CPU-min; curating the 269 maps of study-training structures about
17 CPU-min (373 samples); training 4,000 steps on 1,126 cases (753 + 373) 49 min. Figures in
the stop's closing note and docs/simulation.md.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from cryosse.core.atomic import write_text_atomic
from cryosse.core.config import load_config
from cryosse.core.tsv import read_tsv, tsv_text
from cryosse.splits.extend import extend_training


def entries(args: argparse.Namespace) -> None:
    """The entry list of a `cryosse simulate` or `cryosse derive` mirror: every map written."""
    mirror = Path(args.mirror)
    table = [
        {"emdb_id": r["emdb_id"], "source": source}
        for source in ("simulated", "derived")
        if (mirror / f"{source}.tsv").exists()
        for r in read_tsv(mirror / f"{source}.tsv")
        if r["status"] == "written"
    ]
    write_text_atomic(mirror / "entries.tsv", tsv_text(["emdb_id", "source"], table))
    print(f"{len(table)} entries: {mirror / 'entries.tsv'}")


def union(args: argparse.Namespace) -> None:
    base, extra = Path(args.base), Path(args.extra)
    made = extend_training(
        base / "manifest.tsv", base / "splits" / "main.tsv", extra / "manifest.tsv", args.out
    )
    print(
        f"added {made.added} training samples, left out {made.left_out} (structures outside "
        f"the base training set); samples per split: {made.splits}"
    )


def train(args: argparse.Namespace) -> None:
    import torch

    from cryosse.learn.stage import run_training

    config = load_config(args.config)
    torch.set_num_threads(int(config["training"]["threads"]))
    data = Path(args.data)
    summary = run_training(
        run_id=args.run,
        manifest=data / "manifest.tsv",
        main_tsv=data / "splits" / "main.tsv",
        training=config["training"],
        model=config["model"],
        out_dir=data / "training" / args.run,
        progress=True,
    )
    print(json.dumps({k: summary[k] for k in ("best_epoch", "best_val_metric", "seconds")}))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)
    p = commands.add_parser("entries", help="entries.tsv of a simulated mirror")
    p.add_argument("mirror")
    p.set_defaults(func=entries)
    p = commands.add_parser("union", help="the base run plus extra training samples")
    p.add_argument("--base", default="results/study", help="the finished run whose split stays")
    p.add_argument("--extra", required=True, help="the curated run whose samples are added")
    p.add_argument("--out", default="results/data_mix")
    p.set_defaults(func=union)
    p = commands.add_parser("train", help="one run of the grid on the union")
    p.add_argument("--data", default="results/data_mix")
    p.add_argument("--config", default="config/study.yaml", help="training and model settings")
    p.add_argument("--run", default="FL_DL_g8_lr0.001_s0", help="run id (loss, γ, lr, seed)")
    p.set_defaults(func=train)
    args = parser.parse_args()
    args.func(args)


if __name__ == "__main__":
    main()
