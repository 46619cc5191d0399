"""Adapter: rule cv_table -> cryosse.dataset.run_cv_table."""

import logging
from pathlib import Path

from cryosse.dataset import run_cv_table

logging.basicConfig(filename=snakemake.log[0], level=logging.INFO)
run_cv_table(list(snakemake.input), Path(snakemake.output[0]).with_suffix(""))
logging.info("table S1: %s", snakemake.output[0])
