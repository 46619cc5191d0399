# cryosse: EMDB maps + fitted models -> labelled, box-cropped samples for secondary-structure
# segmentation. Outputs: results/<run>/{acquired,entries}/..., curation_log.tsv, manifest.tsv.
# Run: snakemake --cores 2 --configfile config/demo.yaml


from snakemake.utils import min_version, validate

min_version("9.0")


configfile: "config/config.yaml"


validate(config, "config/schema.json", set_default=True)


include: "rules/common.smk"


wildcard_constraints:
    emdb="EMD-[0-9]{4,7}",
    run_id="(CE|FL|DL|CE_DL|FL_DL)(_g[0-9.e+-]+)?_lr[0-9.e+-]+",
    loss="CE|FL|DL|CE_DL|FL_DL",
    fold="[0-9]+",


include: "rules/acquire.smk"
include: "rules/curate.smk"
include: "rules/dataset.smk"
include: "rules/splits.smk"
include: "rules/train.smk"
include: "rules/evaluate.smk"


rule all:
    default_target: True
    input:
        f"{RESULTS}/curation_log.tsv",
        f"{RESULTS}/manifest.tsv",
        f"{RESULTS}/splits/main.tsv",
        f"{RESULTS}/splits/cv.tsv",
        f"{RESULTS}/splits/report.md",
        f"{RESULTS}/training/best_runs.tsv",
        f"{RESULTS}/tables/table1.md",
        f"{RESULTS}/tables/table_s1.md" if CV_FOLDS else [],
        f"{RESULTS}/report.html",


rule dataset:
    """The data set alone, nothing trained: curated, split and reported (`make dataset`)."""
    input:
        f"{RESULTS}/curation_log.tsv",
        f"{RESULTS}/manifest.tsv",
        f"{RESULTS}/splits/main.tsv",
        f"{RESULTS}/splits/cv.tsv",
        f"{RESULTS}/splits/report.md",
