"""Adapter: rule train_model -> cryosse.learn.stage.run_training."""

import sys

# First: tracebacks and warnings, imports' included, land in the rule's log
sys.stderr = open(snakemake.log[0], "a", buffering=1)

import json
from pathlib import Path

from cryosse.learn.stage import run_training
from cryosse.workflow.adapter import exit_on_device_error, rule_log

log = rule_log(snakemake.log[0])
with exit_on_device_error(f"train_model {snakemake.wildcards.run_id}"):
    # the whole section: the recipe (params) and how this job computes (device, threads, ...)
    summary = run_training(
        run_id=snakemake.wildcards.run_id,
        manifest=snakemake.input.manifest,
        main_tsv=snakemake.input.splits,
        training=snakemake.config["training"],
        model=snakemake.params.model,
        out_dir=Path(snakemake.output.summary).parent,
    )
log.info("%s", json.dumps(summary, indent=2))
