"""Adapter: rule assign_splits -> cryosse.splits.stage.run_splits."""

import sys

# First: tracebacks and warnings, imports' included, land in the rule's log
sys.stderr = open(snakemake.log[0], "a", buffering=1)

from cryosse.splits.stage import run_splits
from cryosse.workflow.adapter import rule_log

log = rule_log(snakemake.log[0])
run_splits(
    manifest=snakemake.input.manifest,
    clusters_tsv=snakemake.input.clusters,
    links_tsv=snakemake.input.links,
    ledger=snakemake.params.ledger,
    settings=snakemake.params.settings,
    main_out=snakemake.output.main,
    cv_out=snakemake.output.cv,
)
log.info("split ledger: %s", snakemake.params.ledger)
