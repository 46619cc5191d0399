"""Adapter: rule shipped_model -> cryosse.segment.showcase.showcase."""

import sys

# First: tracebacks and warnings, imports' included, land in the rule's log
sys.stderr = open(snakemake.log[0], "a", buffering=1)

import logging

from cryosse.segment.showcase import showcase

logging.basicConfig(filename=snakemake.log[0], level=logging.INFO)
facts = showcase(
    snakemake.input.manifest,
    snakemake.input.splits,
    snakemake.params.acquired,
    dict(snakemake.config),
    snakemake.output.folder,
    threads=snakemake.threads,
)
logging.info("shipped model on %s: %s", facts.get("map"), facts.get("seconds"))
