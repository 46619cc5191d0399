"""Adapter: rule train_model -> cryosse.learn.stage.run_training."""

import sys

# First: tracebacks and warnings, imports' included, land in the rule's log
sys.stderr = open(snakemake.log[0], "a", buffering=1)

import json
import logging

from cryosse.learn.device import DeviceError
from cryosse.learn.stage import run_training

logging.basicConfig(filename=snakemake.log[0], level=logging.INFO)
try:
    # the whole section: the recipe (params) and how this job computes (device, threads, ...)
    summary = run_training(
        snakemake.wildcards.run_id,
        snakemake.input.manifest,
        snakemake.input.splits,
        snakemake.config["training"],
        snakemake.params.model,
        str(snakemake.output.summary).rsplit("/", 1)[0],
    )
except DeviceError as error:
    sys.exit(f"train_model {snakemake.wildcards.run_id}: {error}")
logging.info("%s", json.dumps(summary, indent=2))
