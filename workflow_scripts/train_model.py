"""Adapter: rule train_model -> cryosse.learn.stage.run_training."""

import sys

# First: tracebacks and warnings, imports' included, land in the rule's log
sys.stderr = open(snakemake.log[0], "a", buffering=1)

import json
import logging

from cryosse.learn.stage import run_training

logging.basicConfig(filename=snakemake.log[0], level=logging.INFO)
summary = run_training(
    snakemake.wildcards.run_id,
    snakemake.input.manifest,
    snakemake.input.splits,
    snakemake.params.training,
    snakemake.params.model,
    str(snakemake.output.summary).rsplit("/", 1)[0],
)
logging.info("%s", json.dumps(summary, indent=2))
