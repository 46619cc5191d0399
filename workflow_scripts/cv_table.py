"""Adapter: rule cv_table -> cryosse.evaluate.stage.run_cv_table."""

import sys

# First: tracebacks and warnings, imports' included, land in the rule's log
sys.stderr = open(snakemake.log[0], "a", buffering=1)

import logging

from cryosse.evaluate.stage import run_cv_table

logging.basicConfig(filename=snakemake.log[0], level=logging.INFO)
run_cv_table(
    case_files=list(snakemake.input),
    tsv=snakemake.output.tsv,
    markdown=snakemake.output.markdown,
    html=snakemake.output.html,
)
logging.info("table S1: %s", snakemake.output.markdown)
