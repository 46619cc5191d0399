"""Adapter: checkpoint search_emdb -> cryosse.acquire.stage.run_search."""

import sys

# First: tracebacks and warnings, imports' included, land in the rule's log
sys.stderr = open(snakemake.log[0], "a", buffering=1)

import logging

from cryosse.acquire.stage import run_search

logging.basicConfig(filename=snakemake.log[0], level=logging.INFO)
result, downloads = run_search(config=snakemake.config, entries_tsv=snakemake.output[0])
logging.info("query: %s\nurl: %s", result.query, result.url)
logging.info("%d entries found, %d added", len(result.hits.records), len(result.addition.added))
for problem in result.hits.rejected + result.header_problems:
    logging.warning(problem)
logging.info(downloads)
