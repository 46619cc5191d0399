"""Adapter: rule evaluate_cv -> cryosse.evaluate.stage.run_cv_evaluation."""

import sys

# First: tracebacks and warnings, imports' included, land in the rule's log
sys.stderr = open(snakemake.log[0], "a", buffering=1)

from cryosse.evaluate.stage import run_cv_evaluation
from cryosse.workflow.adapter import exit_on_device_error, rule_log

log = rule_log(snakemake.log[0])
training = snakemake.config["training"]
with exit_on_device_error(
    f"evaluate_cv fold {snakemake.wildcards.fold} {snakemake.wildcards.loss}"
):
    run_cv_evaluation(
        fold=int(snakemake.wildcards.fold),
        checkpoint=snakemake.input.best,
        manifest=snakemake.input.manifest,
        cv_tsv=snakemake.input.cv,
        cases_out=snakemake.output[0],
        device=training["device"],
        gpu=training["gpu"],
    )
log.info("evaluated fold %s, %s", snakemake.wildcards.fold, snakemake.wildcards.loss)
