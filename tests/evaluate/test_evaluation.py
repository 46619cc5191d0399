"""Evaluation of a trained model on real samples, the statistics and Tables 1 and 2."""

from __future__ import annotations

from pathlib import Path

import mrcfile
import numpy as np
import pytest
import torch

from cryosse.core.config import ModelSettings
from cryosse.evaluate.evaluation import CaseResult, evaluate_checkpoint, read_cases
from cryosse.evaluate.statistics import bootstrap_ci, paired_wilcoxon
from cryosse.evaluate.tables import (
    best_loss,
    paired_tests,
    paper_comparison,
    table1,
    table2,
    write_table,
)
from cryosse.learn.checkpoint import make_checkpoint, save_checkpoint
from cryosse.learn.unet import UNet3D
from cryosse.splits.published import read_test_chains
from tests.conftest import DEMO_MIRROR
from tests.support.demo import WIDE


def case(sid: str, f1h: float | None, f1s: float | None, true_h: int, true_s: int) -> CaseResult:
    return CaseResult(sid, 6.0, 10, 5, 20, 0, 0, true_h, 0, 0, true_s, f1h, f1s, f1h, f1s)


def test_bootstrap_interval_brackets_the_estimate() -> None:
    f1 = [0.9, 0.5, 0.7, None, 0.6]
    weights = [100, 300, 200, 0, 100]
    low, high = bootstrap_ci(f1, weights, resamples=500, seed=1)
    estimate = (0.9 * 100 + 0.5 * 300 + 0.7 * 200 + 0.6 * 100) / 700
    assert low is not None and high is not None and low <= estimate <= high
    assert low >= 0.5 and high <= 0.9
    assert bootstrap_ci(f1, weights, resamples=500, seed=1) == (low, high)  # seeded
    assert bootstrap_ci([None], [0]) == (None, None)


def test_paired_wilcoxon_and_effect_size() -> None:
    better = [0.6, 0.7, 0.5, 0.8, 0.65, 0.55, 0.75, 0.6]
    worse = [
        v - d for v, d in zip(better, [0.1, 0.2, 0.05, 0.15, 0.12, 0.08, 0.3, 0.04], strict=True)
    ]
    test = paired_wilcoxon(better, worse)
    assert test.n == 8 and test.rank_biserial == pytest.approx(1.0)
    assert test.p_value is not None and test.p_value < 0.01
    assert paired_wilcoxon(worse, better).rank_biserial == pytest.approx(-1.0)
    assert paired_wilcoxon([0.5, None], [0.5, 0.2]).statistic is None  # only zero differences


def test_tables_from_a_hand_example(tmp_path: Path) -> None:
    results = {
        "CE": [case("a", 0.8, 0.2, 100, 50), case("b", 0.6, None, 300, 0)],
        "FL_DL": [case("a", 0.9, 0.5, 100, 50), case("b", 0.7, None, 300, 0)],
    }
    chosen = {"CE": {"run_id": "CE_lr0.001"}, "FL_DL": {"run_id": "FL_DL_g2_lr0.001", "gamma": 2.0}}
    rows = table1(results, chosen)
    fl_dl = rows[1]
    assert fl_dl["helix_weighted"] == f"{(0.9 * 100 + 0.7 * 300) / 400:.3f}"
    assert fl_dl["sheet_weighted"] == "0.500"  # case b has no sheet: NA, left out
    assert fl_dl["average"] == f"{((0.9 * 100 + 0.7 * 300) / 400 + 0.5) / 2:.3f}"
    assert fl_dl["helix_macro"] == "0.800" and fl_dl["gamma"] == 2.0
    assert best_loss(rows) == "FL_DL"
    rows2 = table2(results, "FL_DL")
    assert [r["sample_id"] for r in rows2] == ["a", "b"]
    assert rows2[1]["CE_sheet"] == "NA" and rows2[0]["FL_DL_sheet"] == "0.500"
    assert rows2[0]["residue_sheet"] == "0.500"
    tests = paired_tests(results)
    assert tests[0]["comparison"] == "FL_DL vs CE" and tests[0]["n"] == 1
    write_table(rows, "Table 1", tmp_path / "table1")
    assert (tmp_path / "table1.tsv").read_text().startswith("loss\trun_id")
    assert "| FL_DL |" in (tmp_path / "table1.md").read_text()
    assert "<table>" in (tmp_path / "table1.html").read_text()


PUBLISHED = (
    "# a test-chain table with published F1 in percent (cryosse.splits.published)\n"
    "emdb_id\tpdb_id\tchain\tresolution_A\tcounts_published\tCE_voxel_helix\tCE_voxel_sheet\t"
    "DL_voxel_helix\tFL_DL_voxel_helix\tFL_DL_voxel_sheet\tFL_DL_residue_helix\n"
    "EMD-8518\t5U8S\tA\t6.1\t529/43/343\t70.0\t40.0\t71.0\t60.0\tNA\t80.0\n"
    "EMD-6149\t3J8G\tW\t5.0\t22/59/58\t62.0\t10.0\t9.9\t14.9\t45.0\t9.5\n"
    "EMD-0090\t6GYK\tM\t5.1\t557/324/648\t53.6\t41.6\t51.1\t57.9\t48.8\t65.6\n"
)


def scored(sid: str, helix: float | None, sheet: float | None, residue_helix: float) -> CaseResult:
    return CaseResult(
        sid, 6.1, 529, 43, 343, 0, 0, 100, 0, 0, 50, helix, sheet, residue_helix, None
    )


def test_paper_comparison_from_constructed_cases(tmp_path: Path) -> None:
    """Ours beside the published F1 for the listed cases present, and ours − paper paired."""
    table = tmp_path / "published.tsv"
    table.write_text(PUBLISHED)
    published = read_test_chains(table)
    results = {
        "CE": [
            scored("EMD-8518_5u8s_A", 0.75, 0.40, 0.9),
            scored("EMD-6149_3j8g_W", 0.60, None, 0.7),
            scored("EMD-9999_1abc_A", 0.1, 0.1, 0.1),
        ],
        "CE_DL": [scored("EMD-8518_5u8s_A", 0.5, 0.5, 0.5)],  # not in the paper's table
        "FL_DL": [
            scored("EMD-8518_5u8s_A", 0.61, 0.3, 0.8),
            scored("EMD-6149_3j8g_W", 0.2, 0.5, 0.1),
        ],
    }
    rows, differences = paper_comparison(results, published)
    assert [r["case"] for r in rows] == ["8518_5U8S_A", "6149_3J8G_W"]  # EMD-0090 is absent
    first = rows[0]
    assert first["sample_id"] == "EMD-8518_5u8s_A" and first["ca_hso_paper"] == "529/43/343"
    assert first["ca_hso"] == "529/43/343" and first["resolution_paper"] == "6.1"
    assert first["CE_voxel_helix_ours"] == "75.0" and first["CE_voxel_helix_paper"] == "70.0"
    assert first["FL_DL_voxel_sheet_paper"] == "NA" and first["FL_DL_residue_helix_ours"] == "80.0"
    assert not any(k.startswith(("CE_DL", "DL_")) for k in first)  # DL untrained, CE_DL unpublished
    by_key = {(d["loss"], d["level"], d["class"]): d for d in differences}
    assert list(by_key) == [
        ("CE", "voxel", "helix"),
        ("CE", "voxel", "sheet"),
        ("FL_DL", "voxel", "helix"),
        ("FL_DL", "voxel", "sheet"),
        ("FL_DL", "residue", "helix"),
    ]
    ce = by_key["CE", "voxel", "helix"]  # +5.0 and -2.0
    assert (ce["n"], ce["mean_difference"], ce["sd_difference"]) == (2, "1.50", "4.95")
    assert (ce["ours_mean"], ce["paper_mean"]) == ("67.5", "66.0")
    assert (ce["ours_higher"], ce["ours_lower"], ce["equal"]) == (1, 1, 0)
    sheet = by_key["CE", "voxel", "sheet"]  # 40.0 = 40.0; case W has no sheet of ours: left out
    assert (sheet["n"], sheet["mean_difference"], sheet["sd_difference"]) == (1, "0.00", "NA")
    assert sheet["equal"] == 1
    fl_dl = by_key["FL_DL", "voxel", "sheet"]  # A published NA: only W, 50.0 - 45.0
    assert (fl_dl["n"], fl_dl["mean_difference"], fl_dl["ours_higher"]) == (1, "5.00", 1)
    residue = by_key["FL_DL", "residue", "helix"]  # 80.0 - 80.0 and 10.0 - 9.5
    assert (residue["n"], residue["mean_difference"], residue["equal"]) == (2, "0.25", 1)
    # No listed case in the test set: nothing to show.
    unlisted = {"CE": [scored("EMD-9999_1abc_A", 0.1, 0.1, 0.1)]}
    assert paper_comparison(unlisted, published) == ([], [])


def test_evaluate_a_checkpoint_on_real_samples(tmp_path: Path, demo_samples) -> None:
    torch.manual_seed(0)
    model_config = ModelSettings(base=4)
    save_checkpoint(
        make_checkpoint(UNet3D(base=4).state_dict(), model_config, {"epoch": 1, "metric": 0.0}),
        tmp_path / "best.pt",
    )
    sample = demo_samples("EMD-8518") / "EMD-8518_5u8s_A"
    results = evaluate_checkpoint(
        tmp_path / "best.pt", [sample], tmp_path / "cases.tsv", tmp_path / "pred", device="cpu"
    )
    (result,) = results
    (again,) = read_cases(tmp_path / "cases.tsv")  # floats are written with 6 decimals
    assert again.voxel_tp_helix == result.voxel_tp_helix
    assert again.voxel_f1_helix == pytest.approx(result.voxel_f1_helix, abs=1e-6)
    assert result.ca_helix + result.ca_sheet + result.ca_other > 100
    assert result.voxel_true_helix > 0
    for value in (result.voxel_f1_helix, result.residue_f1_helix):
        assert value is None or 0.0 <= value <= 1.0
    with (
        mrcfile.open(tmp_path / "pred/EMD-8518_5u8s_A/pred_helix.mrc") as pred,
        mrcfile.open(sample / "density.mrc") as density,
    ):
        assert pred.data.shape == density.data.shape
        assert np.allclose(
            [pred.header.origin[a] for a in "xyz"], [density.header.origin[a] for a in "xyz"]
        )
        assert float(pred.data.min()) >= 0.0 and float(pred.data.max()) <= 1.0
    with mrcfile.open(tmp_path / "pred/EMD-8518_5u8s_A/pred_labels.mrc") as labels:
        assert set(np.unique(labels.data)) <= {0, 1, 2}


def test_external_predictions_on_any_grid(tmp_path: Path, demo_samples) -> None:
    """Another tool's maps: our own labels written as binary helix/sheet maps score 1.0 on the
    sample grid; the same maps on a coarser 2 Å grid still score well (resampled)."""
    import subprocess
    import sys

    from scipy.ndimage import zoom

    from cryosse.evaluate.external import evaluate_external
    from cryosse.io.density import write_map
    from cryosse.io.sample import read_sample

    sample = read_sample(demo_samples("EMD-8518") / "EMD-8518_5u8s_A")
    origin = np.array(sample.meta.origin)
    for cls, name in ((1, "helix"), (2, "sheet")):
        binary = (sample.labels == cls).astype(np.float32)
        write_map(tmp_path / f"{name}.mrc", binary, origin, 1.0)
        coarse = zoom(binary, 0.5, order=1).astype(np.float32)  # 2 Å voxels, same origin
        write_map(tmp_path / f"{name}_2A.mrc", coarse, origin, 2.0)
    map_gz = DEMO_MIRROR / "emdb/structures/EMD-8518/map/emd_8518.map.gz"
    model = DEMO_MIRROR / "pdb/5u8s.pdb.gz"
    rows, log = evaluate_external(
        tmp_path / "helix.mrc", tmp_path / "sheet.mrc", map_gz, model, WIDE
    )
    (row,) = rows
    assert [r.status for r in log if r.level == "entry"] == ["kept"]
    assert row["chain"] == "A" and row["voxel_f1_helix"] == 1.0 and row["voxel_f1_sheet"] == 1.0
    assert row["residue_f1_helix"] > 0.95
    coarse_rows, _ = evaluate_external(
        tmp_path / "helix_2A.mrc", tmp_path / "sheet_2A.mrc", map_gz, model, WIDE
    )
    assert 0.6 < coarse_rows[0]["voxel_f1_helix"] < 1.0
    for level in ("voxel", "residue"):  # F1 is the harmonic mean of the precision and recall
        for cls in ("helix", "sheet"):
            p, r = (coarse_rows[0][f"{level}_{m}_{cls}"] for m in ("precision", "recall"))
            assert 0.0 < p <= 1.0 and 0.0 < r <= 1.0
            assert coarse_rows[0][f"{level}_f1_{cls}"] == pytest.approx(2 * p * r / (p + r))
    assert row["voxel_precision_helix"] == row["voxel_recall_helix"] == 1.0
    # the command line prints the same table, with the entry's ids when given
    cli = Path(sys.executable).with_name("cryosse")
    command = [
        str(cli),
        "evaluate",
        "--pred-helix",
        str(tmp_path / "helix.mrc"),
        "--pred-sheet",
        str(tmp_path / "sheet.mrc"),
        "--map",
        str(map_gz),
        "--config",
        str(tmp_path / "wide.yaml"),
        "--no-baselines",
    ]
    (tmp_path / "wide.yaml").write_text("resolution: {min: 3.0, max: 10.0}\n")
    tables = {}
    for how, extra in (
        ("structure", ["--structure", str(model), "--emdb", "emd-8518", "--pdb", "5U8S"]),
        ("deprecated", ["--model", str(model)]),
    ):
        done = subprocess.run(command + extra, capture_output=True, text=True, check=False)
        assert done.returncode == 0, done.stderr
        assert ("--model is deprecated" in done.stderr) is (how == "deprecated"), done.stderr
        header, *lines = done.stdout.splitlines()
        (cells,) = [dict(zip(header.split("\t"), line.split("\t"), strict=True)) for line in lines]
        assert cells["voxel_f1_helix"] == cells["voxel_precision_helix"] == "1.0000"
        assert cells["voxel_recall_sheet"] == "1.0000"
        tables[how] = cells
    assert tables["structure"]["sample_id"] == "EMD-8518_5u8s_A"
    assert tables["deprecated"]["sample_id"] == "EMD-0000_pdb_00000000_A"  # no ids given
    both = subprocess.run(
        command + ["--structure", str(model), "--model", str(model)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert both.returncode == 1 and "once, with --structure" in both.stderr
    bad_id = subprocess.run(
        command + ["--structure", str(model), "--emdb", "nope"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert bad_id.returncode == 1 and "not a valid EMDB id" in bad_id.stderr


def test_cross_validation_table_mean_and_sd() -> None:
    from cryosse.evaluate.tables import cv_table

    by_loss = {
        "FL_DL": {
            1: [case("a", 0.8, 0.4, 100, 10)],
            2: [case("b", 0.6, 0.2, 100, 10)],
            3: [case("c", 0.7, None, 100, 0)],  # no sheet in this fold's test set
        }
    }
    (row,) = cv_table(by_loss)
    assert row["folds"] == 3
    assert row["helix"] == "0.700 ± 0.100 (n=3)"
    assert row["sheet"] == "0.300 ± 0.141 (n=2)"
    assert row["average"] == "0.500 ± 0.141 (n=2)"


def test_external_prediction_with_a_hostile_header_is_refused(tmp_path: Path) -> None:
    """A 'prediction' whose header claims 2000³ floats in a few KB: one line and exit 1, no
    traceback and no 32 GB allocation."""
    import struct
    import subprocess
    import sys

    from cryosse.io.density import write_map

    write_map(tmp_path / "ok.mrc", np.zeros((4, 4, 4), dtype=np.float32), np.zeros(3), 1.0)
    head = bytearray((tmp_path / "ok.mrc").read_bytes()[:1024])
    head[0:12] = struct.pack("<3i", 2000, 2000, 2000)
    (tmp_path / "claims.mrc").write_bytes(bytes(head) + bytes(4096))
    cli = Path(sys.executable).with_name("cryosse")
    command = [
        str(cli),
        "evaluate",
        "--pred-helix",
        str(tmp_path / "claims.mrc"),
        "--pred-sheet",
        str(tmp_path / "ok.mrc"),
        "--map",
        str(DEMO_MIRROR / "emdb/structures/EMD-8518/map/emd_8518.map.gz"),
        "--structure",
        str(DEMO_MIRROR / "pdb/5u8s.pdb.gz"),
    ]
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    assert done.returncode == 1
    assert "map_unreadable" in done.stderr and "Traceback" not in done.stderr


def test_seeds_and_flips_score_through_the_same_path(tmp_path: Path, demo_samples) -> None:
    sample = demo_samples("EMD-8518") / "EMD-8518_5u8s_A"
    paths = []
    for seed in (0, 1):
        torch.manual_seed(seed)
        path = tmp_path / f"seed{seed}.pt"
        model = UNet3D(base=4).state_dict()
        save_checkpoint(make_checkpoint(model, ModelSettings(base=4), {"epoch": 1}), path)
        paths.append(path)
    (alone,) = evaluate_checkpoint(paths[0], [sample], tmp_path / "a.tsv", device="cpu")
    (twice,) = evaluate_checkpoint([paths[0]] * 2, [sample], tmp_path / "b.tsv", device="cpu")
    assert twice.voxel_f1_helix == pytest.approx(alone.voxel_f1_helix, abs=1e-6)
    (pair,) = evaluate_checkpoint(paths, [sample], tmp_path / "c.tsv", device="cpu")
    (flipped,) = evaluate_checkpoint(
        paths[0], [sample], tmp_path / "d.tsv", device="cpu", flips=True
    )
    for result in (pair, flipped):
        assert result.voxel_pred_helix + result.voxel_true_helix > 0
    # different networks and the mirror images change the prediction
    assert (pair.voxel_tp_helix, pair.voxel_pred_helix) != (
        alone.voxel_tp_helix,
        alone.voxel_pred_helix,
    )
    assert (flipped.voxel_tp_helix, flipped.voxel_pred_helix) != (
        alone.voxel_tp_helix,
        alone.voxel_pred_helix,
    )
