# ---- Acquisition: find entries (EMDB search), then fetch or locate header, map and models ----


checkpoint search_emdb:
    """Query the EMDB search API once; the entry list it writes freezes the dataset.
    Runs only while that list does not exist (see entry_ids), so it can never overwrite it.
    """
    output:
        config.get("entries_file") or f"{RESULTS}/search/entries.tsv",
    log:
        f"{RESULTS}/logs/search_emdb.log",
    benchmark:
        f"{RESULTS}/benchmarks/search_emdb.tsv"
    # On a cluster: run by Snakemake itself (the login node, with internet), not a SLURM job.
    localrule: True
    conda:
        "../envs/curation.yaml"
    resources:
        mem_mb=1000,
        runtime=120,
    script:
        "../workflow_scripts/search_emdb.py"


rule acquire_entry:
    """Header-level checks (id, status, resolution, fitted models), then map and models:
    read in place from a mirror, or downloaded, verified and cached over HTTP."""
    output:
        f"{RESULTS}/acquired/{{emdb}}.json",
    log:
        f"{RESULTS}/logs/acquire_entry/{{emdb}}.log",
    benchmark:
        f"{RESULTS}/benchmarks/acquire_entry/{{emdb}}.tsv"
    # A transient download failure fails the job (nothing recorded): retried once at once,
    # and again by the next run.
    retries: 1
    # Downloading: run by Snakemake itself (the login node, with internet), not sent to compute
    # nodes that may have none. Reading a mirror: an ordinary job (it hashes the map).
    localrule: HTTP_MODE
    conda:
        "../envs/curation.yaml"
    resources:
        mem_mb=500,
        runtime=60 if HTTP_MODE else 10,
        downloads=1 if HTTP_MODE else 0,
    # Only the resolution window decides what is acquired: a change to any other curation
    # setting (padding, labels, quality) re-runs curation, never the downloads.
    params:
        archive=ARCHIVE,
        resolution=config["resolution"],
    script:
        "../workflow_scripts/acquire_entry.py"
