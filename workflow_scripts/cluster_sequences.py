"""Adapter: rule cluster_sequences -> cryosse.splits.stage.run_clustering."""

import sys

# First: tracebacks and warnings, imports' included, land in the rule's log
sys.stderr = open(snakemake.log[0], "a", buffering=1)

from cryosse.splits.stage import run_clustering
from cryosse.workflow.adapter import rule_log

log = rule_log(snakemake.log[0])
run_clustering(
    manifest=snakemake.input[0],
    fasta_out=snakemake.output.fasta,
    clusters_out=snakemake.output.clusters,
    links_out=snakemake.output.links,
    threads=snakemake.threads,
)
log.info("clustered the central-chain sequences")
