"""Adapter: rule evaluate_baseline -> cryosse.evaluate.stage.run_baseline_evaluation."""

import sys

# First: tracebacks and warnings, imports' included, land in the rule's log
sys.stderr = open(snakemake.log[0], "a", buffering=1)

import logging

from cryosse.evaluate.stage import run_baseline_evaluation

logging.basicConfig(filename=snakemake.log[0], level=logging.INFO)
run_baseline_evaluation(
    snakemake.wildcards.baseline,
    snakemake.input.manifest,
    snakemake.input.splits,
    snakemake.output.cases,
)
logging.info("evaluated baseline %s", snakemake.wildcards.baseline)
