"""Adapter: rule evaluate_cv -> cryosse.evaluate.stage.run_cv_evaluation."""

import sys

# First: tracebacks and warnings, imports' included, land in the rule's log
sys.stderr = open(snakemake.log[0], "a", buffering=1)

import logging

from cryosse.evaluate.stage import run_cv_evaluation
from cryosse.learn.device import DeviceError

logging.basicConfig(filename=snakemake.log[0], level=logging.INFO)
training = snakemake.config["training"]
try:
    run_cv_evaluation(
        int(snakemake.wildcards.fold),
        snakemake.input.best,
        snakemake.input.manifest,
        snakemake.input.cv,
        snakemake.output[0],
        device=training["device"],
        gpu=training["gpu"],
    )
except DeviceError as error:
    sys.exit(f"evaluate_cv fold {snakemake.wildcards.fold} {snakemake.wildcards.loss}: {error}")
logging.info("evaluated fold %s, %s", snakemake.wildcards.fold, snakemake.wildcards.loss)
