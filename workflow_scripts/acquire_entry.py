"""Adapter: rule acquire_entry -> cryosse.acquire.stage.run_acquire."""

import sys

# First: tracebacks and warnings, imports' included, land in the rule's log
sys.stderr = open(snakemake.log[0], "a", buffering=1)

import json
import logging

from cryosse.acquire.stage import run_acquire

logging.basicConfig(filename=snakemake.log[0], level=logging.INFO)
located = run_acquire(
    snakemake.wildcards.emdb,
    snakemake.params.archive,
    snakemake.config["download"],
    snakemake.params.resolution,
    snakemake.output[0],
)
logging.info("%s: %s %s", located.emdb_id, located.status, located.message)
with open(snakemake.output[0]) as handle:
    record = json.load(handle)
for attempt in record.get("downloads", []):
    logging.info("download %s: %s", attempt["url"], attempt["result"])
if "download_summary" in record:
    logging.info(record["download_summary"])
