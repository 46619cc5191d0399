"""Adapter: rule html_report -> cryosse.report.stage.run_report."""

import sys

# First: tracebacks and warnings, imports' included, land in the rule's log
sys.stderr = open(snakemake.log[0], "a", buffering=1)

import logging

from cryosse.report.stage import run_report

logging.basicConfig(filename=snakemake.log[0], level=logging.INFO)
run_report(
    manifest=snakemake.input.manifest,
    curation_log=snakemake.input.curation_log,
    split_report=snakemake.input.split_report,
    tables=[*snakemake.input.tables, *snakemake.input.table_s1],
    cases=snakemake.input.cases,
    predictions=snakemake.input.predictions,
    summaries=snakemake.input.summaries,
    histories=snakemake.input.histories,
    shipped=snakemake.input.shipped,
    config=dict(snakemake.config),
    out_html=snakemake.output.html,
    plots=snakemake.output.plots,
    record=snakemake.params.record,
)
logging.info("report: %s", snakemake.output.html)
