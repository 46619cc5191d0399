"""The loss study's record turned into tables and figures (cryosse.report.study and
`python -m benchmarks.loss_study tables`), on a small real record: tiny networks trained on
real demo samples, scored on real test maps by the study's code and recorded by
cryosse.evaluate.record. The record is partial on purpose (one loss absent, one seed missing):
the tables say so and never fill it in."""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from pathlib import Path

import pytest

from cryosse.acquire.locate import locate_entry
from cryosse.core.metrics import weighted_average
from cryosse.core.run_grid import RunSpec
from cryosse.core.tsv import read_tsv, write_tsv
from cryosse.evaluate.evaluation import evaluate_checkpoint, read_cases
from cryosse.evaluate.record import record_run, run_folder
from cryosse.evaluate.study_tables import PUBLISHED_TABLE1
from cryosse.io.mirror import LocalMirror
from cryosse.learn.settings import TrainSettings
from cryosse.learn.training import train_run
from tests.conftest import DEMO_MIRROR
from tests.support.demo import WIDE

MODEL = {"base": 4, "depth": 2, "dropout": 0.0}
FAST = TrainSettings(epochs=2, patience=5, steps_per_epoch=2, crop_size=24, threads=1)
# DL is in the grid but never trained: the record lacks it; CE has seed 0 only.
TRAINING = {
    "losses": ["FL_DL", "CE", "DL"],
    "learning_rates": [1e-3],
    "gammas": [2],
    "seeds": [0, 1],
}
RUNS = (
    RunSpec("FL_DL", 1e-3, 2.0, 0),
    RunSpec("CE", 1e-3, None, 0),
    RunSpec("FL_DL", 1e-3, 2.0, 1),
)
TEST_MAPS = ("EMD-5168", "EMD-21457", "EMD-3491")


@pytest.fixture(scope="module")
def study(
    tmp_path_factory: pytest.TempPathFactory, demo_samples: Callable[[str], Path]
) -> dict[str, Path]:
    import torch

    torch.set_num_threads(1)
    results = tmp_path_factory.mktemp("results")
    samples = results / "samples"
    for emdb in ("EMD-8518", "EMD-6149", *TEST_MAPS):
        shutil.copytree(demo_samples(emdb), samples, dirs_exist_ok=True)
    dirs = sorted(samples.iterdir())
    train = [d for d in dirs if d.name.startswith("EMD-8518")]
    val = [d for d in dirs if d.name.startswith("EMD-6149")]
    test = [d for d in dirs if d.name.split("_")[0] in TEST_MAPS]
    assert train and val and len({d.name.split("_")[0] for d in test}) >= 2
    write_tsv(
        results / "manifest.tsv",
        ["sample_id", "path", "quality_bin"],
        [
            {
                "sample_id": d.name,
                "path": str(d.relative_to(results)),
                "quality_bin": json.loads((d / "sample.json").read_text())["quality"]["bin"],
            }
            for d in dirs
        ],
    )
    record = results / "record"
    for spec in RUNS:
        out = results / "training" / spec.run_id
        train_run(spec, FAST, MODEL, train, val, out)
        evaluate_checkpoint(out / "best.pt", test, out / "test_cases.tsv", device="cpu")
        record_run(out, out / "test_cases.tsv", record)
    return {"results": results, "record": record}


def test_tables_and_figures_from_a_partial_record(study: dict[str, Path]) -> None:
    from cryosse.report.study import write_record

    record = study["record"]
    written = write_record(TRAINING, record)
    assert written["losses"] == ["CE", "FL_DL"]
    # what is missing is said: DL has no run, CE lacks seed 1
    line = written["line"]
    assert "1 of 3 losses complete" in line and "CE (seeds 0 of 2)" in line and "DL" in line
    coverage = {r["loss"]: r for r in read_tsv(record / "tables" / "coverage.tsv")}
    assert coverage["DL"]["selection_runs"] == "0/1" and coverage["DL"]["chosen"] == ""
    assert coverage["CE"]["seeds_missing"] == "1" and coverage["FL_DL"]["seeds_missing"] == "none"

    # Table 1: mean over seeds of each seed's weighted F1, recomputed here from the cases
    rows = {r["loss"]: r for r in read_tsv(record / "tables" / "table1.tsv")}
    assert set(rows) == {"CE", "FL_DL"} and rows["FL_DL"]["seeds"] == "2"
    for level, field, weight in (
        ("voxel", "voxel_f1_helix", "voxel_true_helix"),
        ("residue", "residue_f1_sheet", "ca_sheet"),
    ):
        per_seed = []
        for seed in (0, 1):
            cases = read_cases(run_folder(record, f"FL_DL_g2_lr0.001_s{seed}") / "cases.tsv")
            value = weighted_average(
                [getattr(c, field) for c in cases], [getattr(c, weight) for c in cases]
            )
            if value is not None:
                per_seed.append(value)
        key = f"{level}_{field.rsplit('_', 1)[1]}_mean"
        expected = f"{sum(per_seed) / len(per_seed):.3f}" if per_seed else "NA"
        assert rows["FL_DL"][key] == expected, (key, rows["FL_DL"])
    assert rows["CE"]["voxel_helix_sd"] == "NA"  # one seed: no sd, not 0
    published = PUBLISHED_TABLE1["FL_DL"]["voxel_sheet"]
    assert published is not None
    assert rows["FL_DL"]["voxel_sheet_published"] == f"{published / 100:.3f}"
    assert rows["CE"]["residue_helix_published"] == "NA"  # the paper gives FL_DL's only
    low, high = rows["FL_DL"]["voxel_helix_ci_low"], rows["FL_DL"]["voxel_helix_ci_high"]
    if low != "NA":
        assert float(low) <= float(high)
    markdown = (record / "tables" / "table1.md").read_text()
    assert "Mu et al. 2024" in markdown and "voxel_helix paper" in markdown

    # every recorded run, chosen or not, with its own test figure
    runs = {r["run_id"]: r for r in read_tsv(record / "tables" / "runs.tsv")}
    assert set(runs) == {s.run_id for s in RUNS} and runs["CE_lr0.001_s0"]["steps"] == "4"
    assert runs["CE_lr0.001_s0"]["test_voxel_helix"] == rows["CE"]["voxel_helix_mean"]

    # Table 2: one row per test case, every recorded loss, FL_DL's residue F1
    table2 = read_tsv(record / "tables" / "table2.tsv")
    assert {r["map"] for r in table2} <= set(TEST_MAPS) and "FL_DL_residue_sheet" in table2[0]
    assert "DL_helix" not in table2[0]

    # Verdicts: too few maps, said; a claim about DL is not tested
    claims = read_tsv(record / "tables" / "claims.tsv")
    assert any(r["verdict"] == "not tested" and "DL" in r["why"] for r in claims)
    assert all(r["verdict"] in ("not tested", "inconclusive") for r in claims)

    # Figures, and the maps and seeds behind each
    figures = {r["figure"]: r for r in read_tsv(record / "tables" / "figures.tsv")}
    assert set(figures) == {
        "f1_per_loss.png",
        "paired_maps.png",
        "learning_curves.png",
        "f1_by_resolution.png",
    }
    for name in figures:
        assert (record / "figures" / name).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert figures["f1_per_loss.png"]["seeds"] == "CE:1,FL_DL:2"
    assert int(figures["f1_per_loss.png"]["maps"]) == len({r["map"] for r in table2})
    assert figures["learning_curves.png"]["seeds"] == "3 runs"
    summary = json.loads((record / "tables" / "record.json").read_text())
    assert (summary["runs"], summary["planned"], summary["test_maps"]) == (
        3,
        6,  # 3 selection runs, then seed 1 of each of the 3 losses
        len({r["map"] for r in table2}),
    )


def test_an_empty_record_says_so_and_invents_nothing(tmp_path: Path) -> None:
    from cryosse.report.study import write_record

    written = write_record(TRAINING, tmp_path / "record")
    assert "0 of 3 losses complete" in written["line"] and written["basis"] == []
    assert (tmp_path / "record" / "tables" / "table1.md").read_text().endswith("(no rows)\n")
    assert not list((tmp_path / "record" / "figures").iterdir())


def test_the_documented_command_prints_the_cost_and_what_is_missing(
    study: dict[str, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from benchmarks import loss_study
    from benchmarks.train_step import GRID_RUNS as grid_runs
    from benchmarks.train_step import grid_estimate

    config = tmp_path / "study.yaml"
    config.write_text(json.dumps({"run": "record_test", "training": TRAINING}))
    loss_study.main(["tables", "--config", str(config), "--record", str(study["record"])])
    out = capsys.readouterr().out
    summaries = [
        json.loads((run_folder(study["record"], s.run_id) / "summary.json").read_text())
        for s in RUNS
    ]
    hours = sum(s["seconds"] for s in summaries) / 3600
    assert f"study: 3 runs, {hours:.2f} CPU-hours" in out
    assert "no chosen run yet" in out and "DL" in out
    assert "paper scale: no measured step time" in out
    # With a step time measured by benchmarks/train_step.py (its --json layout), the estimate:
    # here the step of this record's own runs, scaled through train_step's grid estimate.
    step = summaries[0]["seconds"] / (summaries[0]["epochs_run"] * summaries[0]["steps_per_epoch"])
    rows = {"optimised bf16+CL, batch 1": grid_estimate(step, step / 3, 100)}
    measured = {
        "machine": {"cpu_model": "this machine"},
        "settings": {"base": 64},
        "estimate": {"device": "cpu", "epochs": 100, "scaled_from": 112, "rows": rows}
        | {"h100": grid_estimate(0.031, 0.01, 100)},
    }
    step_json = tmp_path / "train_step.json"
    step_json.write_text(json.dumps(measured))
    record = str(study["record"])
    args = ["tables", "--config", str(config), "--record", record]
    loss_study.main([*args, "--step-json", str(step_json)])
    cost = json.loads((study["record"] / "tables" / "cost.json").read_text())
    scale = cost["paper_scale"]
    per_run = rows["optimised bf16+CL, batch 1"]["hours"] / grid_runs
    assert scale["unit"] == "CPU-hours" and scale["runs"]["selection × seeds"] == grid_runs * 2
    assert scale["source"] == "train_step.json"  # never this machine's path
    assert scale["hours"]["this design"] == round(per_run * (grid_runs + 3 * 1), 1)
    assert "NOT measured" in capsys.readouterr().out


def test_montages_need_the_checkpoints_and_say_which_are_missing(study: dict[str, Path]) -> None:
    from cryosse.report.study import prediction_montages
    from cryosse.segment.chimerax import COLOURS

    made, missing = prediction_montages(TRAINING, study["record"], study["results"], COLOURS, 2)
    assert missing == ["DL"] and 1 <= len(made) <= 2
    assert all(p.read_bytes()[:4] == b"\x89PNG" for p in made)
    # without the checkpoints (another machine): nothing drawn, nothing invented
    made, missing = prediction_montages(
        TRAINING, study["record"], study["results"] / "elsewhere", COLOURS, 2
    )
    assert made == [] and set(missing) == {"FL_DL", "CE", "DL"}


def test_the_report_shows_the_record_marked_as_such(study: dict[str, Path], tmp_path: Path) -> None:
    """The run report's study section: the record's own counts in its label, its Table 1 and
    figures; a record that gained or lost runs since its tables were made is said to be so."""
    import shutil

    from cryosse.report.html import study_record_html
    from cryosse.report.study import write_record

    record = tmp_path / "record"
    shutil.copytree(study["record"], record)
    written = write_record(TRAINING, record)
    section = study_record_html(record)
    label = (
        f"From the committed study record (docs/benchmark/), 3 runs of 6, "
        f"{written['test_maps']} test maps"
    )
    assert label in section and "not this run's numbers" in section
    assert "trained for 4 optimisation steps each" in section  # FAST: 2 epochs × 2 steps
    assert "Loss study, Table 1" in section and section.count("data:image/png;base64") == 4
    assert "CE (seeds 0 of 2)" in section and "brings them up to date" not in section
    details = section[section.index("<details>") :]
    assert "<h3>Every recorded run" in details and "<td>FL_DL_g2_lr0.001_s1</td>" in details
    shutil.rmtree(run_folder(record, "FL_DL_g2_lr0.001_s1"))
    assert "The record now holds 2 runs; these tables were made from 3" in study_record_html(record)
    assert "absent" in study_record_html(None)
    assert "holds no finished run yet" in study_record_html(tmp_path)  # no runs/ folder at all


def test_the_shipped_model_on_a_test_map_beside_the_baselines(
    study: dict[str, Path], tmp_path: Path
) -> None:
    """cryosse.segment.showcase on a real demo map (the default model, cryosse segment, figure
    and evaluate's scoring), and the report's section that labels it as the shipped model's."""
    from dataclasses import asdict

    from cryosse.core.run_grid import BASELINES
    from cryosse.report.html import shipped_model_html
    from cryosse.segment.showcase import showcase

    results = study["results"]
    samples = [r["sample_id"] for r in read_tsv(results / "manifest.tsv")]
    test = sorted(s for s in samples if s.startswith("EMD-5168"))
    main = tmp_path / "main.tsv"
    rows = [{"sample_id": s, "split": "test" if s in test else "train"} for s in samples]
    write_tsv(main, ["sample_id", "split"], rows)
    acquired = tmp_path / "acquired"
    acquired.mkdir()
    located = locate_entry("EMD-5168", LocalMirror.at(DEMO_MIRROR), WIDE.resolution)
    (acquired / "EMD-5168.json").write_text(json.dumps(asdict(located)))
    out = tmp_path / "shipped_model"
    facts = showcase(results / "manifest.tsv", main, acquired, {}, out)
    assert facts["emdb_id"] == "EMD-5168" and facts["checkpoint"]["default"] is True
    scores = read_tsv(out / "scores.tsv")
    assert [r["predictor"] for r in scores] == ["shipped model", *BASELINES]
    assert all(r["sample_id"] == test[0] for r in scores)
    assert (out / "figure.png").read_bytes()[:4] == b"\x89PNG"
    section = shipped_model_html(out)
    assert "The model the package ships" in section and "emd_5168" in section
    assert "shipped model (cryosse default)" in section and "baseline:<wbr>threshold" in section
    # no test case: said, nothing drawn
    write_tsv(main, ["sample_id", "split"], [{**r, "split": "train"} for r in rows])
    empty = tmp_path / "empty"
    assert showcase(results / "manifest.tsv", main, acquired, {}, empty)["map"] is None
    assert "the test split has no case" in shipped_model_html(empty)


def test_quality_bins_travel_with_the_record(study: dict[str, Path], tmp_path: Path) -> None:
    """With the data set's manifest the test cases' quality bins are kept in the record; on a
    machine without it, the table by quality bin comes out the same from the record alone."""
    import shutil

    from cryosse.report.study import write_record

    record = tmp_path / "record"
    shutil.copytree(study["record"], record)
    write_record(TRAINING, record, study["results"] / "manifest.tsv")
    with_manifest = (record / "tables" / "by_quality.tsv").read_text()
    kept = read_tsv(record / "tables" / "test_cases.tsv")
    bins = {r["sample_id"]: r["quality_bin"] for r in read_tsv(study["results"] / "manifest.tsv")}
    assert kept and all(r["quality_bin"] == bins[r["sample_id"]] for r in kept)
    assert with_manifest.count("\n") > 1  # a header and at least one row
    write_record(TRAINING, record)
    assert (record / "tables" / "by_quality.tsv").read_text() == with_manifest
