# cryosse: EMDB maps + fitted models -> labelled, box-cropped samples -> leakage-free splits ->
# one U-Net per loss x hyper-parameter -> test-set F1 of each loss beside baselines -> one report.
# rules/<stage>.smk runs src/cryosse/<stage>/: acquire, curate, splits, learn, evaluate, segment
# (the shipped model, for the report), report. Outputs: results/<run>/, e.g. manifest.tsv,
# splits/, training/, tables/, report.html.
# Run: snakemake --cores 2 --configfile config/demo.yaml


import sys

from cryosse.workflow.toolchain import ToolchainError, check_toolchain
from cryosse.core.config import complete_config, sort_keys
from cryosse.core.run_grid import LOSSES, RUN_ID_PATTERN
from snakemake.utils import min_version
from snakemake_interface_executor_plugins.settings import DeploymentMethod

min_version("9.0")


configfile: "config/config.yaml"


# The schema (config/schema.json) with its defaults filled in: the loader the command line uses;
# keys sorted, so that params do not change with the order of a config file's keys.
sort_keys(complete_config(config))


include: "rules/common.smk"


wildcard_constraints:
    emdb="EMD-[0-9]{4,7}",
    run_id=RUN_ID_PATTERN,
    loss="|".join(LOSSES),
    fold="[0-9]+",
    seed="[0-9]+",


include: "rules/acquire.smk"
include: "rules/curate.smk"
include: "rules/splits.smk"
include: "rules/learn.smk"
include: "rules/evaluate.smk"
include: "rules/segment.smk"
include: "rules/report.smk"


# Before the first job (not in a dry run): a missing or too old mkdssp or mmseqs stops the run
# with one line saying what to install, instead of every entry excluded as dssp_failed. With
# --sdm conda the jobs' envs (envs/curation.yaml) bring both, so the check is left to them.
onstart:
    if DeploymentMethod.CONDA not in workflow.deployment_settings.deployment_method:
        try:
            check_toolchain()
        except ToolchainError as error:
            sys.exit(str(error))


rule dataset:
    """The data set alone, nothing trained: curated, split and reported (`make dataset`)."""
    input:
        rules.gather_dataset.output.log,
        rules.gather_dataset.output.manifest,
        rules.assign_splits.output.main,
        rules.assign_splits.output.cv,
        rules.split_report.output.markdown,


rule all:
    default_target: True
    input:
        rules.dataset.input,
        rules.select_best_runs.output,
        rules.make_tables.output.table1,
        rules.cv_table.output.markdown if CV_FOLDS else [],
        rules.html_report.output.html,
