# ---- Learning: one job per loss x hyper-parameter, the best run per loss on validation, ----
# ---- then that setting retrained on each cross-validation fold ----


# last.pt (the resume state) and snapshots/ are written beside the outputs but never declared:
# Snakemake deletes a job's outputs before it runs, and a rerun must find them to resume.


rule train_model:
    """One run of the grid: U-Net + loss + learning rate (+ gamma) + seed; resumes from last.pt."""
    input:
        manifest=rules.gather_dataset.output.manifest,
        splits=rules.assign_splits.output.main,
    output:
        summary=f"{RESULTS}/training/{{run_id}}/summary.json",
        best=f"{RESULTS}/training/{{run_id}}/best.pt",
        history=report(
            f"{RESULTS}/training/{{run_id}}/history.csv",
            caption="../report/history.rst",
            category="Training",
            subcategory="{run_id}",
        ),
    log:
        f"{RESULTS}/logs/train_model/{{run_id}}.log",
    benchmark:
        f"{RESULTS}/benchmarks/train_model/{{run_id}}.tsv"
    conda:
        "../envs/training.yaml"
    threads: TRAIN_THREADS
    resources:
        mem_mb=config["training"]["mem_mb"],
        runtime=config["training"]["runtime"],
        gpu=1 if config["training"]["gpu"] else 0,
    params:
        recipe=TRAINING_RECIPE,
        model=config["model"],
    script:
        "../workflow_scripts/train_model.py"


# A checkpoint: which runs the other seeds train depends on the setting chosen here.
checkpoint select_best_runs:
    """The best run per loss on the validation metric (first seed), with the reason."""
    input:
        expand(rules.train_model.output.summary, run_id=SELECTION_RUNS),
    output:
        report(
            f"{RESULTS}/training/best_runs.tsv",
            caption="../report/best_runs.rst",
            category="Training",
        ),
    log:
        f"{RESULTS}/logs/select_best_runs.log",
    benchmark:
        f"{RESULTS}/benchmarks/select_best_runs.tsv"
    conda:
        "../envs/training.yaml"
    resources:
        mem_mb=500,
        runtime=5,
    script:
        "../workflow_scripts/select_best_runs.py"


rule train_cv:
    """Cross-validation: the setting chosen for one loss, retrained on one fold's training set."""
    input:
        chosen=chosen_summary,
        manifest=rules.gather_dataset.output.manifest,
        cv=rules.assign_splits.output.cv,
    output:
        summary=f"{RESULTS}/cross_validation/fold_{{fold}}/{{loss}}/summary.json",
        best=f"{RESULTS}/cross_validation/fold_{{fold}}/{{loss}}/best.pt",
        history=f"{RESULTS}/cross_validation/fold_{{fold}}/{{loss}}/history.csv",
    log:
        f"{RESULTS}/logs/train_cv/fold_{{fold}}_{{loss}}.log",
    benchmark:
        f"{RESULTS}/benchmarks/train_cv/fold_{{fold}}_{{loss}}.tsv"
    conda:
        "../envs/training.yaml"
    threads: TRAIN_THREADS
    resources:
        mem_mb=config["training"]["mem_mb"],
        runtime=config["training"]["runtime"],
        gpu=1 if config["training"]["gpu"] else 0,
    params:
        recipe=TRAINING_RECIPE,
        model=config["model"],
    script:
        "../workflow_scripts/train_cv.py"
