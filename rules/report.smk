# ---- Report: one self-contained HTML page of the run ----
import os

# The loss study's committed record, shown beside this run's own numbers: relative to the
# working directory, so that a checkout elsewhere does not change the report job's params.
STUDY_RECORD = os.path.relpath(Path(workflow.basedir) / "docs" / "benchmark")


rule html_report:
    """One self-contained HTML report: tables, plots, dataset, curation log, config, versions."""
    input:
        manifest=rules.gather_dataset.output.manifest,
        curation_log=rules.gather_dataset.output.log,
        split_report=rules.split_report.output.markdown,
        tables=rules.make_tables.output,
        table_s1=rules.cv_table.output if CV_FOLDS else [],
        # the runs of the first seed, which chose each loss's setting
        cases=expand(
            rules.evaluate_loss.output.cases, loss=TRAINED_LOSSES, seed=SEEDS[0]
        ),
        predictions=expand(
            rules.evaluate_loss.output.predictions, loss=TRAINED_LOSSES, seed=SEEDS[0]
        ),
        summaries=lambda w: expand(
            rules.train_model.output.summary, run_id=trained_runs(w)
        ),
        histories=lambda w: expand(
            rules.train_model.output.history, run_id=trained_runs(w)
        ),
        shipped=rules.shipped_model.output.folder,
    output:
        html=report(
            f"{RESULTS}/report.html",
            caption="../report/html_report.rst",
            category="Results",
        ),
        plots=directory(f"{RESULTS}/plots"),
    log:
        f"{RESULTS}/logs/html_report.log",
    benchmark:
        f"{RESULTS}/benchmarks/html_report.tsv"
    conda:
        "../envs/training.yaml"
    resources:
        mem_mb=2000,
        runtime=10,
    params:
        record=STUDY_RECORD,
    script:
        "../workflow_scripts/html_report.py"
