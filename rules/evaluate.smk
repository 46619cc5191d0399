# ---- Evaluation: the best run of each loss on the test set, then Tables 1 and 2 ----


rule evaluate_loss:
    """The chosen setting of one loss, with one seed, on every test case: per-case counts and
    F1, and predicted maps (MRC)."""
    input:
        manifest=f"{RESULTS}/manifest.tsv",
        splits=f"{RESULTS}/splits/main.tsv",
        checkpoint=chosen_checkpoint,
    output:
        cases=f"{RESULTS}/evaluation/{{loss}}/seed_{{seed}}/cases.tsv",
        predictions=directory(
            f"{RESULTS}/evaluation/{{loss}}/seed_{{seed}}/predictions"
        ),
    log:
        f"{RESULTS}/logs/evaluate_loss/{{loss}}_seed_{{seed}}.log",
    benchmark:
        f"{RESULTS}/benchmarks/evaluate_loss/{{loss}}_seed_{{seed}}.tsv"
    conda:
        "../envs/training.yaml"
    threads: TRAIN_THREADS
    resources:
        mem_mb=config["training"]["mem_mb"],
        runtime=60,
        gpu=1 if config["training"]["gpu"] else 0,
    script:
        "../workflow_scripts/evaluate_loss.py"


rule evaluate_baseline:
    """A baseline that learned nothing (cryosse.evaluate.baselines) on every test case, as the losses."""
    input:
        manifest=f"{RESULTS}/manifest.tsv",
        splits=f"{RESULTS}/splits/main.tsv",
    output:
        cases=f"{RESULTS}/evaluation/baselines/{{baseline}}/cases.tsv",
    log:
        f"{RESULTS}/logs/evaluate_baseline/{{baseline}}.log",
    benchmark:
        f"{RESULTS}/benchmarks/evaluate_baseline/{{baseline}}.tsv"
    wildcard_constraints:
        baseline="|".join(BASELINES),
    conda:
        "../envs/training.yaml"
    resources:
        mem_mb=2000,
        runtime=30,
    script:
        "../workflow_scripts/evaluate_baseline.py"


rule make_tables:
    """Table 1 (per loss and baseline, bootstrap CIs), Table 2 (per test case), paired tests;
    with splits.test_chains, ours beside the paper: table2_paper, paper_differences."""
    input:
        best_runs=f"{RESULTS}/training/best_runs.tsv",
        cases=expand(
            f"{RESULTS}/evaluation/{{loss}}/seed_{{seed}}/cases.tsv",
            loss=TRAINED_LOSSES,
            seed=SEEDS,
        ),
        baselines=expand(
            f"{RESULTS}/evaluation/baselines/{{baseline}}/cases.tsv",
            baseline=BASELINES,
        ),
        test_chains=TEST_CHAINS,
        manifest=f"{RESULTS}/manifest.tsv",
    output:
        table1=report(
            f"{RESULTS}/tables/table1.md",
            caption="../report/table1.rst",
            category="Results",
        ),
        table2=report(
            f"{RESULTS}/tables/table2.md",
            caption="../report/table2.rst",
            category="Results",
        ),
        tests=f"{RESULTS}/tables/paired_tests.md",
        seeds=f"{RESULTS}/tables/seeds.md",
        per_case=f"{RESULTS}/tables/per_case.tsv",
        per_case_json=f"{RESULTS}/tables/per_case.json",
        claims=f"{RESULTS}/tables/claims.md",
        ranks=f"{RESULTS}/tables/ranks.md",
        by_resolution=f"{RESULTS}/tables/by_resolution.md",
        by_quality=f"{RESULTS}/tables/by_quality.md",
    log:
        f"{RESULTS}/logs/make_tables.log",
    benchmark:
        f"{RESULTS}/benchmarks/make_tables.tsv"
    conda:
        "../envs/training.yaml"
    resources:
        mem_mb=1000,
        runtime=10,
    script:
        "../workflow_scripts/make_tables.py"


rule shipped_model:
    """The model the package ships on one test map of this run (cryosse.segment.showcase):
    cryosse segment, its QC slices and its scores beside the baselines, for the report.
    """
    input:
        manifest=f"{RESULTS}/manifest.tsv",
        splits=f"{RESULTS}/splits/main.tsv",
    output:
        scores=f"{RESULTS}/shipped_model/scores.tsv",
        facts=f"{RESULTS}/shipped_model/showcase.json",
    log:
        f"{RESULTS}/logs/shipped_model.log",
    benchmark:
        f"{RESULTS}/benchmarks/shipped_model.tsv"
    conda:
        "../envs/training.yaml"
    threads: 2
    resources:
        mem_mb=4000,
        runtime=20,
    params:
        acquired=f"{RESULTS}/acquired",
    script:
        "../workflow_scripts/shipped_model.py"


rule html_report:
    """One self-contained HTML report: tables, plots, dataset, curation log, config, versions."""
    input:
        tables=rules.make_tables.output,
        table_s1=f"{RESULTS}/tables/table_s1.md" if CV_FOLDS else [],
        cases=expand(
            f"{RESULTS}/evaluation/{{loss}}/seed_{{seed}}/cases.tsv",
            loss=TRAINED_LOSSES,
            seed=SEEDS,
        ),
        best_runs=f"{RESULTS}/training/best_runs.tsv",
        manifest=f"{RESULTS}/manifest.tsv",
        curation_log=f"{RESULTS}/curation_log.tsv",
        splits=f"{RESULTS}/splits/report.md",
        shipped=rules.shipped_model.output,
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
        # the loss study's committed record, shown beside this run's own numbers
        record=str(Path(workflow.basedir) / "docs" / "benchmark"),
    script:
        "../workflow_scripts/html_report.py"


rule train_cv:
    """Cross-validation: the setting chosen for one loss, retrained on one fold's training set."""
    input:
        chosen=chosen_summary,
        manifest=f"{RESULTS}/manifest.tsv",
        cv=f"{RESULTS}/splits/cv.tsv",
    output:
        summary=f"{RESULTS}/cross_validation/fold_{{fold}}/{{loss}}/summary.json",
        best=f"{RESULTS}/cross_validation/fold_{{fold}}/{{loss}}/best.pt",
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


rule evaluate_cv:
    """The fold's model on the fold's test set."""
    input:
        best=f"{RESULTS}/cross_validation/fold_{{fold}}/{{loss}}/best.pt",
        manifest=f"{RESULTS}/manifest.tsv",
        cv=f"{RESULTS}/splits/cv.tsv",
    output:
        f"{RESULTS}/cross_validation/fold_{{fold}}/{{loss}}/cases.tsv",
    log:
        f"{RESULTS}/logs/evaluate_cv/fold_{{fold}}_{{loss}}.log",
    benchmark:
        f"{RESULTS}/benchmarks/evaluate_cv/fold_{{fold}}_{{loss}}.tsv"
    conda:
        "../envs/training.yaml"
    threads: TRAIN_THREADS
    resources:
        mem_mb=config["training"]["mem_mb"],
        runtime=60,
        gpu=1 if config["training"]["gpu"] else 0,
    script:
        "../workflow_scripts/evaluate_cv.py"


rule cv_table:
    """Supplementary Table S1: mean ± sd over the folds, per loss."""
    input:
        expand(
            f"{RESULTS}/cross_validation/fold_{{fold}}/{{loss}}/cases.tsv",
            fold=CV_FOLDS,
            loss=TRAINED_LOSSES,
        ),
    output:
        report(
            f"{RESULTS}/tables/table_s1.md",
            caption="../report/table_s1.rst",
            category="Results",
        ),
    log:
        f"{RESULTS}/logs/cv_table.log",
    benchmark:
        f"{RESULTS}/benchmarks/cv_table.tsv"
    conda:
        "../envs/training.yaml"
    resources:
        mem_mb=1000,
        runtime=10,
    script:
        "../workflow_scripts/cv_table.py"
