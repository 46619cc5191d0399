"""Adapter: rule train_cv -> cryosse.learn.stage.run_cv_training."""

import sys

# First: tracebacks and warnings, imports' included, land in the rule's log
sys.stderr = open(snakemake.log[0], "a", buffering=1)

import json
import logging
from pathlib import Path

from cryosse.learn.device import DeviceError
from cryosse.learn.stage import run_cv_training

logging.basicConfig(filename=snakemake.log[0], level=logging.INFO)
try:
    summary = run_cv_training(
        int(snakemake.wildcards.fold),
        Path(snakemake.input.chosen).parent.name,
        snakemake.input.manifest,
        snakemake.input.cv,
        snakemake.config["training"],
        snakemake.params.model,
        Path(snakemake.output.summary).parent,
    )
except DeviceError as error:
    sys.exit(f"train_cv fold {snakemake.wildcards.fold} {snakemake.wildcards.loss}: {error}")
logging.info("%s", json.dumps(summary, indent=2))
