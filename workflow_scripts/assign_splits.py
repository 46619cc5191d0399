"""Adapter: rule assign_splits -> cryosse.splits.stage.run_splits."""

import sys

# First: tracebacks and warnings, imports' included, land in the rule's log
sys.stderr = open(snakemake.log[0], "a", buffering=1)

import logging

from cryosse.splits.stage import run_splits

logging.basicConfig(filename=snakemake.log[0], level=logging.INFO)
run_splits(
    snakemake.input.manifest,
    snakemake.input.clusters,
    snakemake.input.links,
    snakemake.params.ledger,
    snakemake.params.settings,
    snakemake.output.main,
    snakemake.output.cv,
)
logging.info("split ledger: %s", snakemake.params.ledger)
