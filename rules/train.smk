# ---- Training: one job per loss x hyper-parameter, then the best run per loss on validation ----


rule train_model:
    """One run of the grid: U-Net + loss + learning rate (+ gamma) + seed; resumes from last.pt."""
    input:
        manifest=f"{RESULTS}/manifest.tsv",
        splits=f"{RESULTS}/splits/main.tsv",
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
        expand(f"{RESULTS}/training/{{run_id}}/summary.json", run_id=SELECTION_RUNS),
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
