# ---- Acquisition: find the header, map and fitted models of an entry in the local mirror ----


rule locate_entry:
    """Header-level checks (id, status, resolution window, fitted models) and file lookup."""
    output:
        f"{RESULTS}/located/{{emdb}}.json",
    log:
        f"{RESULTS}/logs/locate_entry/{{emdb}}.log",
    benchmark:
        f"{RESULTS}/benchmarks/locate_entry/{{emdb}}.tsv"
    conda:
        "../envs/curation.yaml"
    resources:
        mem_mb=500,
        runtime=10,
    params:
        mirror=MIRROR,
        settings=SETTINGS,
    script:
        "../workflow_scripts/locate_entry.py"
