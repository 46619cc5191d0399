"""Adapter: rule evaluate_loss -> cryosse.evaluate.stage.run_evaluation."""

import sys

# First: tracebacks and warnings, imports' included, land in the rule's log
sys.stderr = open(snakemake.log[0], "a", buffering=1)

import logging

from cryosse.evaluate.stage import run_evaluation

logging.basicConfig(filename=snakemake.log[0], level=logging.INFO)
run_id = run_evaluation(
    snakemake.wildcards.loss,
    snakemake.input.best_runs,
    snakemake.input.manifest,
    snakemake.input.splits,
    snakemake.output.cases,
    snakemake.output.predictions,
    device=snakemake.params.device,
)
logging.info("evaluated %s (run %s)", snakemake.wildcards.loss, run_id)
