# ---- Dataset: gather per-entry results into the curation log and the sample manifest ----


rule gather_dataset:
    """Merge all entries' logs and sample metadata (invalid ids are logged here)."""
    input:
        lambda wildcards: expand(f"{RESULTS}/entries/{{emdb}}", emdb=entry_ids()[0]),
    output:
        log=report(
            f"{RESULTS}/curation_log.tsv",
            caption="../report/curation_log.rst",
            category="Dataset",
        ),
        manifest=report(
            f"{RESULTS}/manifest.tsv",
            caption="../report/manifest.rst",
            category="Dataset",
        ),
    log:
        f"{RESULTS}/logs/gather_dataset.log",
    benchmark:
        f"{RESULTS}/benchmarks/gather_dataset.tsv"
    conda:
        "../envs/curation.yaml"
    resources:
        mem_mb=1000,
        runtime=10,
    params:
        invalid=lambda wildcards: entry_ids()[1],
    script:
        "../workflow_scripts/gather_dataset.py"
