"""Adapter: rule split_report -> cryosse.splits.stage.run_split_report."""

import sys

# First: tracebacks and warnings, imports' included, land in the rule's log
sys.stderr = open(snakemake.log[0], "a", buffering=1)

import logging

from cryosse.splits.report import leaks
from cryosse.splits.stage import run_split_report

logging.basicConfig(filename=snakemake.log[0], level=logging.INFO)
rows = run_split_report(
    snakemake.input.manifest,
    snakemake.input.fasta,
    snakemake.input.main,
    snakemake.input.cv,
    snakemake.input.curation_log,
    snakemake.output.tsv,
    snakemake.output.markdown,
    threads=snakemake.threads,
    test_chains=snakemake.input.test_chains or None,
)
for row in leaks(rows):
    logging.warning("leakage: %s %s %s", row["scheme"], row["split"], row["closest_train_pair"])
