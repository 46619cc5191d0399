"""The cost printed before any download: the entry list's, and the whole run's (cryosse estimate):
figures computed from the config and the measured constants, never totals."""

from __future__ import annotations

from pathlib import Path

import pytest

from cryosse.acquire.estimate import (
    CURATION_S_PER_ENTRY,
    CURATION_S_PER_MAP_MB,
    SAMPLE_BYTES,
    SAMPLES_PER_ENTRY,
    estimate_count,
    estimate_entries,
)
from cryosse.acquire.run_estimate import (
    BASELINE_S_PER_CASE,
    CPU_STEP,
    FORWARD_PER_STEP_VOXEL,
    GPU_STEP,
    PAPER_SPLIT,
    REPORT_S,
    SPLITS_S_PER_SAMPLE,
    StepTime,
    estimate_run,
    run_samples,
    split_samples,
)
from cryosse.core.config import complete_config
from cryosse.core.tsv import tsv_text
from cryosse.io.entries import EntryRecord


def test_the_estimate_reads_emdb_sizes_in_units_of_1000_bytes() -> None:
    """EMD-25107 as EMDB records it (size_kbytes="42593" for a 42,593,024-byte map, a public
    fact): 42.593 MB, not KiB; an entry without a size counts at the median of the others."""
    records = [
        EntryRecord("EMD-25107", fitted_pdbs="pdb_00007sbd", map_size_kbytes="42593"),
        EntryRecord("EMD-8518", fitted_pdbs="5u8s,5u8t", map_size_kbytes="1000"),
        EntryRecord("EMD-6149", map_size_kbytes="nan"),
        EntryRecord("EMD-1;rm"),  # never counted
    ]
    estimate = estimate_entries(records)
    assert (estimate.entries, estimate.sized, estimate.models) == (3, 2, 3)
    median = (42_593_000 + 1_000_000) / 2
    assert estimate.map_bytes == int(42_593_000 + 1_000_000 + median)
    assert estimate.sample_bytes == int(3 * SAMPLES_PER_ENTRY * SAMPLE_BYTES)
    assert estimate.curation_cpu_s == pytest.approx(
        3 * CURATION_S_PER_ENTRY + CURATION_S_PER_MAP_MB * estimate.map_bytes / 1e6
    )
    text = "\n".join(estimate.lines())
    assert "estimate for 3 entries (1 without a recorded size counted at the median)" in text
    assert "at most 0.07 GB of maps" in text and "+ 3 fitted models" in text
    unknown = estimate_entries([EntryRecord("EMD-8518")])
    assert "map sizes unknown" in unknown.lines()[0]


def paper_config(**training: object) -> dict:
    return complete_config({"training": dict(training)} if training else {})


def test_the_grid_of_the_default_config_is_the_papers_33_runs_plus_25_cross_validation() -> None:
    """config/config.yaml trains the schema's defaults: 5 losses × 3 learning rates (× 4 γ for
    FL and FL_DL) = 33, one seed, 5 folds × 5 losses; every figure follows from the constants."""
    estimate = estimate_run(paper_config(), None, "no list")
    samples, gpu = estimate.samples, estimate.gpu
    assert (samples.train, samples.validation, samples.test) == PAPER_SPLIT
    assert (gpu.selection_runs, gpu.seed_runs, gpu.cv_runs, gpu.epochs) == (33, 0, 25, 100)
    assert gpu.steps_per_epoch == 1246
    step = 0.031 * 64**3 / 112**3  # the 64³ crop of the schema's default
    forward = FORWARD_PER_STEP_VOXEL * 0.031 * samples.mean_voxels / 112**3
    assert gpu.step_s == pytest.approx(step)
    training = 58 * 100 * (1246 * step + 47 * forward)
    tests = (5 + 25) * 62 * forward
    assert gpu.hours(47) == pytest.approx((training + tests) / 3600)
    assert estimate.cpu.step_s == pytest.approx(CPU_STEP.seconds)  # measured at 64³
    hours = estimate.cpu_hours
    assert hours["curation"] == 0  # no entries known
    assert hours["splits"] == pytest.approx(SPLITS_S_PER_SAMPLE * 1355 / 3600)
    assert hours["evaluation"] == pytest.approx((3 * 62 * BASELINE_S_PER_CASE + REPORT_S) / 3600)
    text = "\n".join(estimate.lines())
    assert "unknown until `cryosse search` writes the entry list" in text
    assert "58 training runs (33 loss × learning rate × γ, 0 for more seeds, 25 cross" in text
    assert "not measured by this project" in text and "measured with benchmarks/" in text
    assert "the GPU-hours are a lower bound" in text


def test_the_estimate_follows_the_config_not_a_total() -> None:
    """More seeds train only each loss's chosen setting again; no folds, no CV runs; twice the
    epochs, twice the training; a wider network costs (base / 64)² more per voxel."""
    base = estimate_run(paper_config(), None, "").gpu
    seeded = estimate_run(paper_config(seeds=[0, 1, 2]), None, "").gpu
    assert (seeded.selection_runs, seeded.seed_runs) == (33, 10)
    no_cv = estimate_run(complete_config({"splits": {"n_folds": 0}}), None, "").gpu
    assert no_cv.cv_runs == 0 and no_cv.evaluation_forwards == 5 * 62
    longer = estimate_run(paper_config(epochs=200), None, "").gpu
    training = base.runs * base.epochs * base.epoch_s(47)
    assert longer.hours(47) - base.hours(47) == pytest.approx(training / 3600)
    wide = estimate_run(complete_config({"model": {"base": 128}}), None, "").gpu
    assert wide.step_s == pytest.approx(4 * base.step_s)
    batched = estimate_run(paper_config(batch_size=2, crop_size=112), None, "").gpu
    assert batched.steps_per_epoch == 623
    assert batched.step_s == pytest.approx(2 * GPU_STEP.seconds)
    deeper = estimate_run(complete_config({"model": {"depth": 3}}), None, "")
    assert any("depth 3" in note for note in deeper.notes)


def test_a_planned_count_gives_download_disk_and_curation() -> None:
    """Before the search: N entries of M MB each; samples follow from the entries."""
    planned = estimate_count(2000, 100.0)
    assert planned.map_bytes == 200_000_000_000
    assert planned.curation_cpu_s == pytest.approx(2000 * 0.84 + 0.31 * 200_000)
    estimate = estimate_run(paper_config(), planned, "planned")
    assert estimate.samples.total == 1900
    assert estimate.cpu_hours["curation"] > planned.curation_cpu_s / 3600  # + acquisition
    text = "\n".join(estimate.lines())
    assert "estimate for 2000 entries:" in text and "200.00 GB of maps" in text
    assert "+ their fitted models" in text
    with pytest.raises(ValueError):
        estimate_count(10, float("nan"))


def test_a_curated_run_counts_its_own_samples(tmp_path: Path) -> None:
    """The manifest's boxes and the split table's assignment replace every planning figure."""
    columns = ["sample_id", "nx", "ny", "nz", "path"]
    rows = [[f"EMD-1000_1abc_{c}", "100", "100", "100", f"s/{c}"] for c in "ABCDE"]
    rows.append(["EMD-1000_1abc_F", "50", "50", "50", "s/F"])
    (tmp_path / "manifest.tsv").write_text(
        tsv_text(columns, [dict(zip(columns, r, strict=True)) for r in rows])
    )
    split = ["train", "train", "train", "validation", "test", "test"]
    main = [{"sample_id": r[0], "split": s} for r, s in zip(rows, split, strict=True)]
    main.append({"sample_id": "EMD-9_gone_A", "split": "train"})  # no longer curated
    (tmp_path / "main.tsv").write_text(tsv_text(["sample_id", "split"], main))
    proportions = {"train": 1, "validation": 1, "test": 1}
    samples = run_samples(tmp_path / "manifest.tsv", tmp_path / "main.tsv", proportions)
    assert (samples.train, samples.validation, samples.test) == (3, 1, 2)
    assert samples.mean_voxels == pytest.approx((5 * 100**3 + 50**3) / 6)
    before = run_samples(tmp_path / "manifest.tsv", tmp_path / "missing.tsv", proportions)
    assert (before.train, before.validation, before.test) == (2, 2, 2)
    given = StepTime("a GPU", 0.010, 64, "given")
    estimate = estimate_run(paper_config(), None, "", samples, given)
    assert estimate.gpu.step_s == pytest.approx(0.010)
    assert estimate.gpu.steps_per_epoch == 3
    assert split_samples(10, proportions, "").total == 10
