"""Adapter: rule train_cv -> cryosse.learn.stage.run_cv_training."""

import sys

# First: tracebacks and warnings, imports' included, land in the rule's log
sys.stderr = open(snakemake.log[0], "a", buffering=1)

import json
from pathlib import Path

from cryosse.learn.stage import run_cv_training
from cryosse.workflow.adapter import exit_on_device_error, rule_log

log = rule_log(snakemake.log[0])
with exit_on_device_error(f"train_cv fold {snakemake.wildcards.fold} {snakemake.wildcards.loss}"):
    summary = run_cv_training(
        fold=int(snakemake.wildcards.fold),
        run_id=Path(snakemake.input.chosen).parent.name,
        manifest=snakemake.input.manifest,
        cv_tsv=snakemake.input.cv,
        training=snakemake.config["training"],
        model=snakemake.params.model,
        out_dir=Path(snakemake.output.summary).parent,
    )
log.info("%s", json.dumps(summary, indent=2))
