"""Adapter: rule evaluate_baseline -> cryosse.evaluate.stage.run_baseline_evaluation."""

import sys

# First: tracebacks and warnings, imports' included, land in the rule's log
sys.stderr = open(snakemake.log[0], "a", buffering=1)

from cryosse.evaluate.stage import run_baseline_evaluation
from cryosse.workflow.adapter import rule_log

log = rule_log(snakemake.log[0])
run_baseline_evaluation(
    name=snakemake.wildcards.baseline,
    manifest=snakemake.input.manifest,
    main_tsv=snakemake.input.splits,
    cases_out=snakemake.output.cases,
)
log.info("evaluated baseline %s", snakemake.wildcards.baseline)
