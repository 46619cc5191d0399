"""The loss study's record: what is finished, what comes next, what the tables read."""

import json
from pathlib import Path

from cryosse.evaluate.evaluation import CaseResult, write_cases
from cryosse.evaluate.record import (
    chosen_runs,
    is_recorded,
    planned_runs,
    record_run,
    recorded_cases,
)

TRAINING = {"losses": ["CE", "FL_DL"], "learning_rates": [1e-3], "gammas": [1, 2], "seeds": [0, 1]}


def _finish(record: Path, tmp: Path, run_id: str, loss: str, metric: float) -> None:
    run = tmp / "runs" / run_id
    run.mkdir(parents=True)
    summary = {"run_id": run_id, "loss": loss, "lr": 1e-3, "gamma": None, "best_epoch": 3}
    summary |= {"best_val_metric": metric, "selection": "validation metric", "seconds": 60.0}
    (run / "summary.json").write_text(json.dumps(summary))
    (run / "history.csv").write_text("epoch\n1\n")
    case = CaseResult("EMD-1_a_A", 6.0, 1, 1, 1, 1, 2, 2, 1, 2, 2, 0.5, 0.5, 1.0, 1.0)
    write_cases([case], run / "cases.tsv")
    record_run(run, run / "cases.tsv", record)


def test_selection_first_then_the_seeds_of_the_chosen_setting(tmp_path: Path) -> None:
    record = tmp_path / "record"
    assert [s.run_id for s in planned_runs(TRAINING, record)] == [
        "CE_lr0.001_s0",
        "FL_DL_g1_lr0.001_s0",
        "FL_DL_g2_lr0.001_s0",
    ]
    _finish(record, tmp_path, "FL_DL_g1_lr0.001_s0", "FL_DL", 0.4)
    _finish(record, tmp_path, "FL_DL_g2_lr0.001_s0", "FL_DL", 0.5)
    assert is_recorded(record, "FL_DL_g2_lr0.001_s0")
    # FL_DL's selection is complete: γ 2 won, its second seed is planned; CE still to select
    assert [s.run_id for s in planned_runs(TRAINING, record)] == [
        "CE_lr0.001_s0",
        "FL_DL_g2_lr0.001_s1",
    ]
    assert chosen_runs(TRAINING, record) == {"FL_DL": "FL_DL_g2_lr0.001_s0"}
    _finish(record, tmp_path, "FL_DL_g2_lr0.001_s1", "FL_DL", 0.45)
    cases = recorded_cases(TRAINING, record)
    assert set(cases) == {"FL_DL"} and set(cases["FL_DL"]) == {0, 1}


def test_a_half_written_run_is_not_finished(tmp_path: Path) -> None:
    folder = tmp_path / "runs" / "CE_lr0.001_s0"
    folder.mkdir(parents=True)
    (folder / "summary.json").write_text("{}")
    assert not is_recorded(tmp_path, "CE_lr0.001_s0")
    assert planned_runs(TRAINING, tmp_path)[0].run_id == "CE_lr0.001_s0"


def test_a_record_holds_runs_of_one_data_set(tmp_path: Path, demo_samples) -> None:
    """The fingerprint covers each sample's split and bytes; runs of another build are refused."""
    import shutil

    import pytest

    from cryosse.core.tsv import write_tsv
    from cryosse.evaluate.record import check_same_dataset, dataset_fingerprint

    for emdb in ("EMD-8518", "EMD-3491"):  # a copy: the test changes a label
        shutil.copytree(demo_samples(emdb), tmp_path / "samples", dirs_exist_ok=True)
    ids = sorted(p.name for p in (tmp_path / "samples").iterdir())
    rows = [{"sample_id": i, "path": f"samples/{i}"} for i in ids]
    write_tsv(tmp_path / "manifest.tsv", ["sample_id", "path"], rows)
    splits = [{"sample_id": i, "split": "train" if k else "test"} for k, i in enumerate(ids)]
    write_tsv(tmp_path / "main.tsv", ["sample_id", "split"], splits)
    first = dataset_fingerprint(tmp_path / "manifest.tsv", tmp_path / "main.tsv")
    assert first["cases"] == {"test": 1, "train": len(ids) - 1}
    assert first == dataset_fingerprint(tmp_path / "manifest.tsv", tmp_path / "main.tsv")
    labels = tmp_path / "samples" / ids[-1] / "labels.mrc"
    data = bytearray(labels.read_bytes())
    data[-1] ^= 1  # one voxel's label
    labels.write_bytes(bytes(data))
    second = dataset_fingerprint(tmp_path / "manifest.tsv", tmp_path / "main.tsv")
    assert second["sha256"] != first["sha256"]

    record = tmp_path / "record"
    _finish(record, tmp_path, "CE_lr0.001_s0", "CE", 0.4)
    check_same_dataset(record, first)  # a run without a fingerprint (older) is not compared
    summary_path = record / "runs" / "CE_lr0.001_s0" / "summary.json"
    summary = json.loads(summary_path.read_text()) | {"dataset": first}
    summary_path.write_text(json.dumps(summary))
    check_same_dataset(record, first)
    with pytest.raises(ValueError, match="trained on data set"):
        check_same_dataset(record, second)


def test_the_other_seeds_come_seed_by_seed_across_the_losses(tmp_path: Path) -> None:
    """A study cut short has as many seeds of every chosen setting, give or take one."""
    training = {**TRAINING, "seeds": [0, 1, 2]}
    record = tmp_path / "record"
    _finish(record, tmp_path, "CE_lr0.001_s0", "CE", 0.1)
    _finish(record, tmp_path, "FL_DL_g1_lr0.001_s0", "FL_DL", 0.5)
    _finish(record, tmp_path, "FL_DL_g2_lr0.001_s0", "FL_DL", 0.4)
    assert [s.run_id for s in planned_runs(training, record)] == [
        "CE_lr0.001_s1",
        "FL_DL_g1_lr0.001_s1",
        "CE_lr0.001_s2",
        "FL_DL_g1_lr0.001_s2",
    ]
    _finish(record, tmp_path, "FL_DL_g1_lr0.001_s1", "FL_DL", 0.45)
    assert [s.run_id for s in planned_runs(training, record)][:2] == [
        "CE_lr0.001_s1",
        "CE_lr0.001_s2",
    ]
