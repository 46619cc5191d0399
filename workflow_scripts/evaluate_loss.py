"""Adapter: rule evaluate_loss -> cryosse.evaluate.stage.run_evaluation."""

import sys

# First: tracebacks and warnings, imports' included, land in the rule's log
sys.stderr = open(snakemake.log[0], "a", buffering=1)

from cryosse.evaluate.stage import run_evaluation
from cryosse.workflow.adapter import exit_on_device_error, rule_log

log = rule_log(snakemake.log[0])
training = snakemake.config["training"]
with exit_on_device_error(f"evaluate_loss {snakemake.wildcards.loss}"):
    run_evaluation(
        checkpoint=snakemake.input.checkpoint,
        manifest=snakemake.input.manifest,
        main_tsv=snakemake.input.splits,
        cases_out=snakemake.output.cases,
        predictions_out=snakemake.output.predictions,
        device=training["device"],
        gpu=training["gpu"],
    )
log.info("evaluated %s", snakemake.input.checkpoint)
