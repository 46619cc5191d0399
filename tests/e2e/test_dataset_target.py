"""`snakemake dataset` (`make dataset`): the data set curated, split and reported, nothing
trained."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

from tests.conftest import REPO
from tests.support.snakemake import run_snakemake

DATASET_OUTPUTS = [
    "curation_log.tsv",
    "manifest.tsv",
    "splits/main.tsv",
    "splits/cv.tsv",
    "splits/report.md",
]


@pytest.mark.slow
def test_the_dataset_target_curates_and_splits_without_training(tmp_path: Path) -> None:
    demo = yaml.safe_load((REPO / "config/demo.yaml").read_text())
    demo["entries"] = ["EMD-8518", "EMD-6149"]  # two small real component maps
    demo["entries_file"] = None  # these two only, not demo/entries.tsv's five
    demo["archive"]["mirror"] = str(REPO / "demo/mirror")
    config = tmp_path / "config.yaml"
    config.write_text(yaml.safe_dump(demo))
    result = run_snakemake(tmp_path, config, "dataset")
    assert result.returncode == 0, result.stderr[-3000:]
    jobs = set(re.findall(r"^(?:local)?rule (\w+):", result.stderr, flags=re.MULTILINE))
    assert {"curate_entry", "assign_splits", "split_report"} <= jobs
    assert not jobs & {"train_model", "train_cv", "evaluate_loss", "make_tables", "html_report"}
    results = tmp_path / "results/demo"
    for name in DATASET_OUTPUTS:
        assert (results / name).stat().st_size > 0, name
    assert not (results / "training").exists()
    assert "EMD-8518" in (results / "manifest.tsv").read_text()
