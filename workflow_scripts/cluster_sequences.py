"""Adapter: rule cluster_sequences -> cryosse.splits.stage.run_clustering."""

import sys

# First: tracebacks and warnings, imports' included, land in the rule's log
sys.stderr = open(snakemake.log[0], "a", buffering=1)

import logging

from cryosse.splits.stage import run_clustering

logging.basicConfig(filename=snakemake.log[0], level=logging.INFO)
run_clustering(
    snakemake.input[0],
    snakemake.output.fasta,
    snakemake.output.clusters,
    snakemake.output.links,
    threads=snakemake.threads,
)
logging.info("clustered the central-chain sequences")
