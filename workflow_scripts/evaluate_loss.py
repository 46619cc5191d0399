"""Adapter: rule evaluate_loss -> cryosse.evaluate.stage.run_evaluation."""

import sys

# First: tracebacks and warnings, imports' included, land in the rule's log
sys.stderr = open(snakemake.log[0], "a", buffering=1)

import logging

from cryosse.evaluate.stage import run_evaluation
from cryosse.learn.device import DeviceError

logging.basicConfig(filename=snakemake.log[0], level=logging.INFO)
training = snakemake.config["training"]
try:
    run_evaluation(
        snakemake.input.checkpoint,
        snakemake.input.manifest,
        snakemake.input.splits,
        snakemake.output.cases,
        snakemake.output.predictions,
        device=training["device"],
        gpu=training["gpu"],
    )
except DeviceError as error:
    sys.exit(f"evaluate_loss {snakemake.wildcards.loss}: {error}")
logging.info("evaluated %s", snakemake.input.checkpoint)
