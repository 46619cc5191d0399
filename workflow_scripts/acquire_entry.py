"""Adapter: rule acquire_entry -> cryosse.acquire.stage.run_acquire."""

import sys

# First: tracebacks and warnings, imports' included, land in the rule's log
sys.stderr = open(snakemake.log[0], "a", buffering=1)

from cryosse.acquire.stage import run_acquire
from cryosse.workflow.adapter import rule_log

log = rule_log(snakemake.log[0])
located = run_acquire(
    emdb_id=snakemake.wildcards.emdb,
    archive=snakemake.params.archive,
    download=snakemake.config["download"],
    resolution=snakemake.params.resolution,
    out_json=snakemake.output[0],
)
log.info("%s: %s %s", located.emdb_id, located.status, located.message)
