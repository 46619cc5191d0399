"""Adapter: rule make_tables -> cryosse.evaluate.stage.run_tables."""

import sys

# First: tracebacks and warnings, imports' included, land in the rule's log
sys.stderr = open(snakemake.log[0], "a", buffering=1)

import logging

from cryosse.evaluate.stage import run_tables

logging.basicConfig(filename=snakemake.log[0], level=logging.INFO)
run_tables(
    snakemake.input.best_runs,
    list(snakemake.input.cases),
    snakemake.output.table1,
    list(snakemake.input.baselines),
    test_chains=snakemake.input.test_chains or None,
    manifest=snakemake.input.manifest,
)
logging.info("tables written next to %s", snakemake.output.table1)
