# ---- Curation: read map + model, choose chains, DSSP, box-crop, resample, label, write ----


rule curate_entry:
    """One entry -> one sample per central chain, plus this entry's curation-log rows."""
    input:
        f"{RESULTS}/acquired/{{emdb}}.json",
    output:
        directory(f"{RESULTS}/entries/{{emdb}}"),
    log:
        f"{RESULTS}/logs/curate_entry/{{emdb}}.log",
    benchmark:
        f"{RESULTS}/benchmarks/curate_entry/{{emdb}}.tsv"
    conda:
        "../envs/curation.yaml"
    threads: 1
    resources:
        mem_mb=4000,
        runtime=30,
    params:
        settings=SETTINGS,
    script:
        "../workflow_scripts/curate_entry.py"
