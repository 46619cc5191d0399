"""Adapter: rule split_report -> cryosse.splits.stage.run_split_report."""

import sys

# First: tracebacks and warnings, imports' included, land in the rule's log
sys.stderr = open(snakemake.log[0], "a", buffering=1)

from cryosse.splits.report import leaks
from cryosse.splits.stage import run_split_report
from cryosse.workflow.adapter import rule_log

log = rule_log(snakemake.log[0])
rows = run_split_report(
    manifest=snakemake.input.manifest,
    fasta=snakemake.input.fasta,
    main_tsv=snakemake.input.main,
    cv_tsv=snakemake.input.cv,
    curation_log=snakemake.input.curation_log,
    tsv_out=snakemake.output.tsv,
    markdown_out=snakemake.output.markdown,
    threads=snakemake.threads,
    test_chains=snakemake.input.test_chains or None,
)
for row in leaks(rows):
    log.warning("leakage: %s %s %s", row["scheme"], row["split"], row["closest_train_pair"])
