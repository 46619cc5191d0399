"""Adapter: rule html_report -> cryosse.report.html.build_report."""

import sys

# First: tracebacks and warnings, imports' included, land in the rule's log
sys.stderr = open(snakemake.log[0], "a", buffering=1)

import logging
from pathlib import Path

from cryosse.report.html import build_report

logging.basicConfig(filename=snakemake.log[0], level=logging.INFO)
build_report(
    Path(snakemake.output.html).parent,
    dict(snakemake.config),
    snakemake.output.html,
    record=snakemake.params.record,
)
logging.info("report: %s", snakemake.output.html)
