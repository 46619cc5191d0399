"""Adapter: rule curate_entry -> cryosse.dataset.run_curate."""

import logging

from cryosse.dataset import run_curate

logging.basicConfig(filename=snakemake.log[0], level=logging.INFO)
run_curate(snakemake.input[0], snakemake.params.settings, snakemake.output[0])
logging.info("curated %s", snakemake.wildcards.emdb)
