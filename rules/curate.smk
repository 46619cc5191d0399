# ---- Curation: read map + model, choose chains, DSSP, box-crop, resample, label, write ----
from cryosse.workflow.resources import curation_mem_mb


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
