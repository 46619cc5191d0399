"""Adapter: rule gather_dataset -> cryosse.curate.stage.gather."""

import sys

# First: tracebacks and warnings, imports' included, land in the rule's log
sys.stderr = open(snakemake.log[0], "a", buffering=1)

import logging

from cryosse.curate.stage import gather, summarize_log

logging.basicConfig(filename=snakemake.log[0], level=logging.INFO)
gather(
    list(snakemake.input),
    list(snakemake.params.invalid),
    snakemake.output.log,
    snakemake.output.manifest,
)
logging.info("curation summary:\n%s", summarize_log(snakemake.output.log))
