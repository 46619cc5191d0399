# ---- Evaluation: the best run of each loss and each baseline on the test set, the tables; ----
# ---- each cross-validation fold's model on its test fold, and Table S1 ----

# make_tables' tables, each written as .tsv, .md and .html (cryosse.evaluate.tables.write_table)
# into tables/. The paper comparison (splits.test_chains) is not among them: it is written only
# when a listed case is in the test set, and Snakemake has no optional output (see html_report).
TABLES = (
    "table1",
    "table2",
    "paired_tests",
    "seeds",
    "claims",
    "ranks",
    "by_resolution",
    "by_quality",
    "by_kind",
)


rule evaluate_loss:
    """The chosen setting of one loss, with one seed, on every test case: per-case counts and
    F1, and predicted maps (MRC)."""
    input:
        manifest=rules.gather_dataset.output.manifest,
        splits=rules.assign_splits.output.main,
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
        manifest=rules.gather_dataset.output.manifest,
        splits=rules.assign_splits.output.main,
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
        best_runs=rules.select_best_runs.output[0],
        cases=expand(
            rules.evaluate_loss.output.cases,
            loss=TRAINED_LOSSES,
            seed=SEEDS,
        ),
        baselines=expand(rules.evaluate_baseline.output.cases, baseline=BASELINES),
        test_chains=TEST_CHAINS,
        manifest=rules.gather_dataset.output.manifest,
    output:
        **{
            f"{stem}_{suffix}": f"{RESULTS}/tables/{stem}.{suffix}"
            for stem in TABLES
            for suffix in ("tsv", "md", "html")
            if f"{stem}.{suffix}" not in ("table1.md", "table2.md")
        },
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
        per_case=f"{RESULTS}/tables/per_case.tsv",
        per_case_json=f"{RESULTS}/tables/per_case.json",
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


rule evaluate_cv:
    """The fold's model on the fold's test set."""
    input:
        best=rules.train_cv.output.best,
        manifest=rules.gather_dataset.output.manifest,
        cv=rules.assign_splits.output.cv,
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
        expand(rules.evaluate_cv.output[0], fold=CV_FOLDS, loss=TRAINED_LOSSES),
    output:
        tsv=f"{RESULTS}/tables/table_s1.tsv",
        markdown=report(
            f"{RESULTS}/tables/table_s1.md",
            caption="../report/table_s1.rst",
            category="Results",
        ),
        html=f"{RESULTS}/tables/table_s1.html",
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
