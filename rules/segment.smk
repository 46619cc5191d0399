# ---- Segmentation: the model the package ships, on a test map of the run (for the report) ----


rule shipped_model:
    """The model the package ships on one test map of this run (cryosse.segment.showcase):
    cryosse segment, its QC slices and its scores beside the baselines, for the report.
    A folder: the segmentation's files and the figure exist only when the test split has a case.
    """
    input:
        manifest=rules.gather_dataset.output.manifest,
        splits=rules.assign_splits.output.main,
    output:
        folder=directory(f"{RESULTS}/shipped_model"),
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
