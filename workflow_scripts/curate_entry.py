"""Adapter: rule curate_entry -> cryosse.curate.stage.run_curate."""

import sys

# First: tracebacks and warnings, imports' included, land in the rule's log
sys.stderr = open(snakemake.log[0], "a", buffering=1)

from cryosse.curate.stage import run_curate
from cryosse.workflow.adapter import rule_log

log = rule_log(snakemake.log[0])
run_curate(
    located_json=snakemake.input[0],
    settings=snakemake.params.settings,
    out_dir=snakemake.output[0],
)
log.info("curated %s", snakemake.wildcards.emdb)
