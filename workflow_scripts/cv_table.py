"""Adapter: rule cv_table -> cryosse.evaluate.stage.run_cv_table."""

import sys

# First: tracebacks and warnings, imports' included, land in the rule's log
sys.stderr = open(snakemake.log[0], "a", buffering=1)

import logging
from pathlib import Path

from cryosse.evaluate.stage import run_cv_table

logging.basicConfig(filename=snakemake.log[0], level=logging.INFO)
run_cv_table(list(snakemake.input), Path(snakemake.output[0]).with_suffix(""))
logging.info("table S1: %s", snakemake.output[0])
