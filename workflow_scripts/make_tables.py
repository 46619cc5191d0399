"""Adapter: rule make_tables -> cryosse.evaluate.stage.run_tables."""

import sys

# First: tracebacks and warnings, imports' included, land in the rule's log
sys.stderr = open(snakemake.log[0], "a", buffering=1)

from cryosse.evaluate.stage import run_tables
from cryosse.workflow.adapter import rule_log

log = rule_log(snakemake.log[0])
run_tables(
    best_runs=snakemake.input.best_runs,
    case_files=list(snakemake.input.cases),
    table1_md=snakemake.output.table1,
    baseline_files=list(snakemake.input.baselines),
    test_chains=snakemake.input.test_chains or None,
    manifest=snakemake.input.manifest,
)
log.info("tables written next to %s", snakemake.output.table1)
