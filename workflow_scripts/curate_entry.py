"""Adapter: rule curate_entry -> cryosse.curate.stage.run_curate."""

import sys

# First: tracebacks and warnings, imports' included, land in the rule's log
sys.stderr = open(snakemake.log[0], "a", buffering=1)

import logging

from cryosse.curate.stage import run_curate

logging.basicConfig(filename=snakemake.log[0], level=logging.INFO)
run_curate(snakemake.input[0], snakemake.params.settings, snakemake.output[0])
logging.info("curated %s", snakemake.wildcards.emdb)
