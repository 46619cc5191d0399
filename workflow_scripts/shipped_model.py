"""Adapter: rule shipped_model -> cryosse.segment.showcase.showcase."""

import sys

# First: tracebacks and warnings, imports' included, land in the rule's log
sys.stderr = open(snakemake.log[0], "a", buffering=1)


from cryosse.segment.showcase import showcase
from cryosse.workflow.adapter import rule_log

log = rule_log(snakemake.log[0])
facts = showcase(
    manifest=snakemake.input.manifest,
    main_tsv=snakemake.input.splits,
    acquired=snakemake.params.acquired,
    config=dict(snakemake.config),
    out_dir=snakemake.output.folder,
    threads=snakemake.threads,
)
log.info("shipped model on %s: %s", facts.get("map"), facts.get("seconds"))
