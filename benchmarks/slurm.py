"""Benchmark: the reduced demo through a real one-node SLURM cluster vs the same run locally.

The configuration and commands are those of tests/e2e/test_slurm.py
(tests/support/slurm_recipe.py): the README's SLURM recipe
(`cryosse search`, `cryosse fetch`, then Snakemake with profiles/slurm and the status-check
settings for a cluster without slurmdbd) against its loopback archive of the demo's five
entries, the losses CE and FL_DL, up to Table 1 and the split report. The search and the
downloads run once, before any timing; then the two runs go one after the other, each alone on
the machine, in fresh working folders sharing that archive cache: first `--cores 2` locally,
then through the cluster of tests/support/slurm_cluster.py (8 CPUs declared, 2 fake GPUs).
Printed: the wall time of each, their ratio, the number of SLURM jobs, and from Snakemake's
benchmark files the summed
in-job time of the rules' scripts in each run, so the gap splits into scheduling/polling
latency and the extra Snakemake start-up inside each SLURM job.

Needs root and slurm-wlm + munge (make test-slurm installs them). Run from the repository root:

    .venv/bin/python -m benchmarks.slurm [--keep DIR]
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

from benchmarks._harness import host_facts
from tests.support import slurm_cluster
from tests.support import slurm_recipe as recipe


def script_seconds(workdir: Path) -> float:
    """Sum of the `s` column of every Snakemake benchmark file of the run."""
    total = 0.0
    for tsv in (workdir / "results/demo/benchmarks").rglob("*.tsv"):
        lines = tsv.read_text().splitlines()
        total += float(lines[-1].split("\t")[0])
    return total


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--keep", type=Path, help="keep the two working folders here")
    args = parser.parse_args()
    reason = slurm_cluster.missing_reason()
    if reason:
        sys.exit(f"cannot start a SLURM cluster: {reason}")
    facts = host_facts()
    root = Path(tempfile.mkdtemp(prefix="cryosse-bench-slurm-"))
    try:
        with recipe.demo_archive() as archive:
            before, snakemake_command = recipe.recipe_commands()
            local = recipe.checkout(root, "local", archive)
            for command in before:  # the entry list and the downloads, not timed
                recipe.run_step(command, local)
            local_command = [
                str(recipe.SNAKEMAKE),
                "--configfile",
                "config/config.yaml",
                *recipe.LOCAL_ARGS,
            ]
            began = time.monotonic()
            recipe.finished(recipe.start(local_command, local), local)
            local_s = time.monotonic() - began

            slurm = recipe.checkout(root, "slurm", archive)
            shutil.copy(local / "config/entries.tsv", slurm / "config/entries.tsv")
            cluster = slurm_cluster.start(cpus=8, gpus=2)
            try:
                began = time.monotonic()
                recipe.finished(
                    recipe.start(
                        snakemake_command, slurm, *recipe.SLURM_ARGS, env=recipe.slurm_env()
                    ),
                    slurm,
                )
                slurm_s = time.monotonic() - began
                jobs = recipe.slurm_jobs()
            finally:
                problems = cluster.stop()
        load = os.getloadavg()
        print("cryosse SLURM benchmark (benchmarks/slurm.py)")
        print(
            f"machine : nproc={facts['nproc']}, CPU: {facts['cpu_model']}; "
            f"load average after the runs {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}"
        )
        print("workflow: demo, 5 entries, losses CE + FL_DL, targets Table 1 + split report")
        print(
            f"local   : --cores 2                      wall {local_s:7.1f} s   "
            f"rule scripts {script_seconds(local):7.1f} s"
        )
        print(
            f"slurm   : --executor slurm, {len(jobs):2d} jobs      wall {slurm_s:7.1f} s   "
            f"rule scripts {script_seconds(slurm):7.1f} s"
        )
        print(f"ratio   : SLURM / local wall = {slurm_s / local_s:.2f}")
        if problems:
            print(f"cluster stop problems: {problems}")
    finally:
        if args.keep:
            shutil.copytree(root, args.keep, dirs_exist_ok=True)
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
