"""Adapter: rule select_best_runs -> cryosse.learn.stage.run_selection."""

import sys

# First: tracebacks and warnings, imports' included, land in the rule's log
sys.stderr = open(snakemake.log[0], "a", buffering=1)

import logging

from cryosse.learn.stage import run_selection

logging.basicConfig(filename=snakemake.log[0], level=logging.INFO)
for row in run_selection(list(snakemake.input), snakemake.output[0]):
    logging.info("%s: %s (%s)", row["loss"], row["run_id"], row["why"])
