# ---- Splits: MMseqs2 clusters at 35 %, the append-only main split, CV folds, leakage report ----


rule cluster_sequences:
    """Central-chain sequences: mmseqs easy-cluster at 35 %, and all-vs-all pairs >= 35 %."""
    input:
        rules.gather_dataset.output.manifest,
    output:
        fasta=f"{RESULTS}/splits/sequences.fasta",
        clusters=f"{RESULTS}/splits/clusters.tsv",
        links=f"{RESULTS}/splits/similar_pairs.tsv",
    log:
        f"{RESULTS}/logs/cluster_sequences.log",
    benchmark:
        f"{RESULTS}/benchmarks/cluster_sequences.tsv"
    conda:
        "../envs/curation.yaml"
    threads: 2
    resources:
        mem_mb=2000,
        runtime=30,
    script:
        "../workflow_scripts/cluster_sequences.py"


rule assign_splits:
    """New samples get a split in the ledger (existing rows never change), test chains pinned;
    CV folds."""
    input:
        manifest=rules.gather_dataset.output.manifest,
        clusters=rules.cluster_sequences.output.clusters,
        links=rules.cluster_sequences.output.links,
        test_chains=TEST_CHAINS,
    output:
        main=report(
            f"{RESULTS}/splits/main.tsv",
            caption="../report/splits.rst",
            category="Dataset",
        ),
        cv=f"{RESULTS}/splits/cv.tsv",
    log:
        f"{RESULTS}/logs/assign_splits.log",
    benchmark:
        f"{RESULTS}/benchmarks/assign_splits.tsv"
    conda:
        "../envs/curation.yaml"
    resources:
        mem_mb=1000,
        runtime=10,
    params:
        ledger=SPLIT_LEDGER,
        settings=SPLIT_SETTINGS,
    script:
        "../workflow_scripts/assign_splits.py"


rule split_report:
    """Cases per split and bin, residue fractions, max train-test identity (mmseqs search), and
    which test chains are present."""
    input:
        manifest=rules.gather_dataset.output.manifest,
        fasta=rules.cluster_sequences.output.fasta,
        main=rules.assign_splits.output.main,
        cv=rules.assign_splits.output.cv,
        curation_log=rules.gather_dataset.output.log,
        test_chains=TEST_CHAINS,
    output:
        tsv=f"{RESULTS}/splits/report.tsv",
        markdown=report(
            f"{RESULTS}/splits/report.md",
            caption="../report/split_report.rst",
            category="Dataset",
        ),
    log:
        f"{RESULTS}/logs/split_report.log",
    benchmark:
        f"{RESULTS}/benchmarks/split_report.tsv"
    conda:
        "../envs/curation.yaml"
    threads: 2
    resources:
        mem_mb=2000,
        runtime=30,
    script:
        "../workflow_scripts/split_report.py"
