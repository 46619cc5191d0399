# ---- Curation: read map + model, choose chains, DSSP, box-crop, resample, label, write; ----
# ---- then every entry's samples and log rows gathered into the manifest and curation log ----
from cryosse.workflow.resources import curation_mem_mb


rule curate_entry:
    """One entry -> one sample per central chain, plus this entry's curation-log rows."""
    input:
        rules.acquire_entry.output,
    output:
        directory(f"{RESULTS}/entries/{{emdb}}"),
    log:
        f"{RESULTS}/logs/curate_entry/{{emdb}}.log",
    benchmark:
        f"{RESULTS}/benchmarks/curate_entry/{{emdb}}.tsv"
    conda:
        "../envs/curation.yaml"
    threads: 1
    # Memory from the map's size in the acquisition record (measured: cryosse/workflow/resources.py),
    # more on each retry. Runtime: 0.3-4.3 s per real pair (benchmarks/curation.py); 30 min
    # leaves room for the largest maps, and doubles on a retry after a time-limit kill.
    resources:
        mem_mb=lambda wildcards, input, attempt: curation_mem_mb(input[0], attempt),
        runtime=lambda wildcards, attempt: 30 * attempt,
    params:
        settings=SETTINGS,
    script:
        "../workflow_scripts/curate_entry.py"


rule gather_dataset:
    """Merge all entries' logs and sample metadata (invalid ids are logged here)."""
    input:
        lambda wildcards: expand(rules.curate_entry.output, emdb=entry_ids()[0]),
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
