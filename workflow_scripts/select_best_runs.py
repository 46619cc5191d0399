"""Adapter: rule select_best_runs -> cryosse.learn.stage.run_selection."""

import sys

# First: tracebacks and warnings, imports' included, land in the rule's log
sys.stderr = open(snakemake.log[0], "a", buffering=1)

from cryosse.learn.stage import run_selection
from cryosse.workflow.adapter import rule_log

log = rule_log(snakemake.log[0])
for row in run_selection(summary_files=list(snakemake.input), tsv_out=snakemake.output[0]):
    log.info("%s: %s (%s)", row["loss"], row["run_id"], row["why"])
