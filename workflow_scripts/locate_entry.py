"""Adapter: rule locate_entry -> cryosse.dataset.run_locate."""

import logging

from cryosse.dataset import run_locate

logging.basicConfig(filename=snakemake.log[0], level=logging.INFO)
located = run_locate(
    snakemake.wildcards.emdb,
    snakemake.params.mirror,
    snakemake.params.settings,
    snakemake.output[0],
)
logging.info("%s: %s %s", located.emdb_id, located.status, located.message)
