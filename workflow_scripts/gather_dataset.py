"""Adapter: rule gather_dataset -> cryosse.curate.stage.gather."""

import sys

# First: tracebacks and warnings, imports' included, land in the rule's log
sys.stderr = open(snakemake.log[0], "a", buffering=1)

from cryosse.curate.stage import gather, summarize_log
from cryosse.workflow.adapter import rule_log

log = rule_log(snakemake.log[0])
gather(
    entry_dirs=list(snakemake.input),
    invalid_ids=list(snakemake.params.invalid),
    log_out=snakemake.output.log,
    manifest_out=snakemake.output.manifest,
)
log.info("curation summary:\n%s", summarize_log(snakemake.output.log))
