"""Shipping a run as the packaged default model: the checkpoint byte for byte, and a model card
whose figures are the run's own evaluation."""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from pathlib import Path

import mrcfile
import numpy as np
import pytest
import torch

from cryosse.cli import main
from cryosse.core.config import ModelSettings
from cryosse.core.ids import entry_origin
from cryosse.core.tsv import write_tsv
from cryosse.evaluate.evaluation import CaseResult, write_cases
from cryosse.io.density import read_map
from cryosse.learn.checkpoint import (
    default_model_path,
    load_checkpoint,
    make_checkpoint,
    save_checkpoint,
)
from cryosse.learn.unet import build_model
from cryosse.segment.default_model import WEIGHTS_LICENCE, ShipError, ship_default_model
from cryosse.segment.execution import SegmentOptions
from cryosse.segment.predict import segment_map
from tests.conftest import REALDATA

MODEL = ModelSettings(base=4)
RUN = "FL_DL_g2_lr0.001_s0"


def _case(sample_id: str, f1_helix: float, true_helix: int, ca_helix: int) -> CaseResult:
    return CaseResult(
        sample_id=sample_id,
        resolution=6.0,
        ca_helix=ca_helix,
        ca_sheet=0,
        ca_other=5,
        voxel_tp_helix=1,
        voxel_pred_helix=1,
        voxel_true_helix=true_helix,
        voxel_tp_sheet=0,
        voxel_pred_sheet=0,
        voxel_true_sheet=0,
        voxel_f1_helix=f1_helix,
        voxel_f1_sheet=None,
        residue_f1_helix=f1_helix / 2,
        residue_f1_sheet=None,
    )


@pytest.fixture(scope="module")
def validation_sample(demo_samples: Callable[[str], Path]) -> Path:
    """A real sample (EMD-6149 chain X, curated from the demo mirror) to calibrate on."""
    (sample,) = list(demo_samples("EMD-6149").iterdir())
    return sample


@pytest.fixture
def run_dir(tmp_path: Path, validation_sample: Path) -> Path:
    run = tmp_path / "results" / "offline"
    run.mkdir(parents=True)
    shutil.copytree(validation_sample, run / "samples" / validation_sample.name)
    sample_id = validation_sample.name
    write_tsv(
        run / "manifest.tsv",
        ["sample_id", "path"],
        [{"sample_id": sample_id, "path": f"samples/{sample_id}"}],
    )
    write_tsv(
        run / "splits/main.tsv",
        ["sample_id", "split"],
        [{"sample_id": sample_id, "split": "validation"}],
    )
    weights = build_model(MODEL).state_dict()
    training = {
        "run": {"loss": "FL_DL", "lr": 1e-3, "gamma": 2.0},
        "settings": {"crop_size": 24},
        "epoch": 3,
        "metric": 0.4,
        "train_cases": 3,
        "validation_cases": 1,
        "train_ids": ["EMD-92001_1abc_A", "EMD-92002_1abd_A", "EMD-91000_5me2_A"],
        "validation_ids": ["EMD-92003_1abe_A"],
        "samples_sha256": "0" * 64,
    }
    save_checkpoint(make_checkpoint(weights, MODEL, training), run / "training" / RUN / "best.pt")
    (run / "training" / RUN / "summary.json").write_text(
        json.dumps({"device": "cpu", "seconds": 12.5, "epochs_run": 3})
    )
    chosen = [{"loss": "FL_DL", "run_id": RUN}]
    write_tsv(run / "training/best_runs.tsv", ["loss", "run_id"], chosen)
    (run / "evaluation/FL_DL/seed_0").mkdir(parents=True)
    cases = [_case("EMD-8518_5u8s_A", 0.8, 300, 30), _case("EMD-6149_3j8g_X", 0.5, 100, 10)]
    write_cases(cases, run / "evaluation/FL_DL/seed_0/cases.tsv")
    return run


def test_ship_copies_the_checkpoint_and_writes_the_card(run_dir: Path, tmp_path: Path) -> None:
    package = tmp_path / "package"
    card = ship_default_model(run_dir, package)
    shipped = load_checkpoint(package / "models/default.pt")
    assert shipped.sha256 == card["model"]["checkpoint_sha256"]
    # calibrated on the validation case: the same weights but the head divided by T
    trained = load_checkpoint(run_dir / "training" / RUN / "best.pt")
    temperature = card["model"]["calibration"]["temperature"]
    assert temperature == shipped.metadata["calibration"]["temperature"] > 0
    for name, value in trained.model.state_dict().items():
        expected = value / temperature if name.startswith("head.") else value
        assert torch.allclose(shipped.model.state_dict()[name], expected, atol=1e-6), name
    assert "summary" in card
    assert card["licence"] == WEIGHTS_LICENCE and "MIT" in card["licence"]
    assert json.loads((package / "models/default.json").read_text()) == card
    # weighted by true voxels (voxel F1) and by Cα of the class (residue F1), by hand:
    weighted = card["test"]["weighted"]
    assert weighted["voxel_f1_helix"] == pytest.approx((0.8 * 300 + 0.5 * 100) / 400)
    assert weighted["residue_f1_helix"] == pytest.approx((0.4 * 30 + 0.25 * 10) / 40)
    assert weighted["voxel_f1_sheet"] is None  # no case has a sheet: NA, not 0
    assert card["training"]["train_cases_by_origin"] == {"simulated": 2, "derived": 1}
    assert card["training"]["validation_cases_by_origin"] == {"simulated": 1}
    assert card["model"]["parameters"] == sum(p.numel() for p in build_model(MODEL).parameters())


def test_the_card_summary_stands_beside_the_baselines_and_the_peer(
    run_dir: Path, tmp_path: Path
) -> None:
    def figures(helix: float, sheet: float | None) -> dict:
        return {"summary": {"voxel_f1_helix_weighted": helix, "voxel_f1_sheet_weighted": sheet}}

    real_maps = {  # the shape of benchmarks/real_maps.py --json
        "maps": [{"map": "EMD-8518 A", "resolution_A": 6.1}, {"map": "X", "resolution_A": 5.0}],
        "predictors": {
            "cryosse default model": figures(0.5, 0.25),
            "DeepSSETracer 1.0": figures(0.545, 0.318),
            "threshold": figures(0.409, 0.0),
            "hessian": figures(0.262, 0.194),
        },
    }
    card = ship_default_model(run_dir, tmp_path / "package", real_maps=real_maps)
    assert card["real_maps"] == real_maps
    assert "0.50 / 0.25 (best baseline, threshold: 0.41 / 0.00" in card["summary"]
    assert "DeepSSETracer 1.0: 0.55 / 0.32" in card["summary"] and "5-6.1 Å" in card["summary"]


def test_refuses_a_broken_checkpoint_and_an_unevaluated_run(
    run_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    package = tmp_path / "package"
    (run_dir / "evaluation/FL_DL/seed_0/cases.tsv").unlink()
    with pytest.raises(ShipError, match="evaluate the run"):
        ship_default_model(run_dir, package)
    best = run_dir / "training" / RUN / "best.pt"
    best.write_bytes(best.read_bytes()[:100])
    assert main(["ship-model", str(run_dir), "--package", str(package)]) == 1
    assert "not a readable model checkpoint" in capsys.readouterr().err
    assert not (package / "models/default.pt").exists()
    assert main(["ship-model", str(run_dir), "--loss", "CE", "--package", str(package)]) == 1
    assert "no run for loss CE" in capsys.readouterr().err


def test_the_shipped_model_and_its_card(tmp_path: Path) -> None:
    """The packaged default loads, its card describes exactly these bytes, and `cryosse
    segment` without --model uses it on a real map."""
    shipped = default_model_path()
    checkpoint = load_checkpoint(shipped)
    card = json.loads((shipped.parent / "default.json").read_text())
    assert card["model"]["checkpoint_sha256"] == checkpoint.sha256
    assert card["training"]["loss"] == "FL_DL" == checkpoint.metadata["run"]["loss"]
    assert card["licence"] == WEIGHTS_LICENCE  # the weights' terms travel with them
    assert shipped.stat().st_size <= 20 * 1024 * 1024
    # trained on simulated and derived maps only: no real evaluation entry among its cases
    trained_on = checkpoint.metadata["training"]["train_ids"]
    trained_on += checkpoint.metadata["training"]["validation_ids"]
    tested = {case["sample_id"] for case in card["test"]["cases"]}
    assert tested and not tested & set(trained_on)
    assert {entry_origin(s.split("_", 1)[0]) for s in trained_on} <= {"simulated", "derived"}
    out = tmp_path / "out"
    assert main(["segment", str(REALDATA / "EMD-8518/A-1.0APIX.mrc"), "--out", str(out)]) == 0
    summary = json.loads((out / "summary.json").read_text())
    assert summary["model"]["default"] is True
    assert summary["model"]["sha256"] == checkpoint.sha256
    assert summary["helix"]["voxels"] > 0


def _write(path: Path, data: np.ndarray, origin: np.ndarray) -> Path:
    with mrcfile.new(path) as mrc:
        mrc.set_data(np.ascontiguousarray(data, dtype=np.float32))
        mrc.voxel_size = 1.0
        mrc.header.origin.x, mrc.header.origin.y, mrc.header.origin.z = (float(v) for v in origin)
    return path


def test_the_shipped_model_does_not_depend_on_empty_space_zoning_or_cropping(
    tmp_path: Path,
) -> None:
    """A real map padded with 10-20 empty voxels, masked outside a radius and cropped: ≥ 99 %
    of the common voxels keep their class (the first default model: 10 voxels of padding
    changed the sheet volume of EMD-3488 by 77 %)."""
    source = REALDATA / "EMD-8518/A-1.0APIX.mrc"
    density = read_map(source)
    alone = segment_map(source, options=SegmentOptions(device="cpu")).labels
    assert (alone == 1).any() and (alone == 2).any()
    for pad in (10, 17, 20):
        padded = np.pad(density.data, pad)
        labels = segment_map(
            _write(tmp_path / f"pad{pad}.mrc", padded, density.origin - pad),
            options=SegmentOptions(device="cpu"),
        ).labels[pad:-pad, pad:-pad, pad:-pad]
        assert float((labels == alone).mean()) >= 0.99, pad
    z, y, x = np.indices(density.data.shape)
    centre = (np.array(density.data.shape) - 1) / 2
    inside = np.sqrt((z - centre[0]) ** 2 + (y - centre[1]) ** 2 + (x - centre[2]) ** 2) <= 40
    masked = np.where(inside, density.data, 0.0)
    assert (density.data[~inside] > 0).any()  # the mask removes density
    labels = segment_map(
        _write(tmp_path / "masked.mrc", masked, density.origin),
        options=SegmentOptions(device="cpu"),
    )
    assert float((labels.labels[inside] == alone[inside]).mean()) >= 0.99
    crop = density.data[8:-8, 8:-8, 8:-8]
    labels = segment_map(
        _write(tmp_path / "crop.mrc", crop, density.origin + 8),
        options=SegmentOptions(device="cpu"),
    )
    assert float((labels.labels == alone[8:-8, 8:-8, 8:-8]).mean()) >= 0.99


def test_the_card_names_the_map_kinds_where_the_model_is_weak(tmp_path: Path) -> None:
    """The shipped card's strata come from benchmarks/real_maps.py --json for these weights;
    the note `segment` prints is there for a kind under WEAK_MARGIN points over the threshold."""
    from cryosse.segment.default_model import (
        WEAK_MARGIN,
        card_strata,
        refresh_card_figures,
        weak_stratum_note,
    )

    shipped = default_model_path()
    card = json.loads((shipped.parent / "default.json").read_text())
    assert card["strata"] == card_strata(card["real_maps"])
    assert card["real_maps"]["checkpoint"]["sha256"] == card["model"]["checkpoint_sha256"]
    for key, figures in card["strata"].items():
        note = weak_stratum_note(card, key, "these maps")
        assert (note is not None) == (figures["helix_margin"] < WEAK_MARGIN), key
        if note:
            assert f"{figures['helix']:.1f} against {figures['threshold_helix']:.1f}" in note
    assert weak_stratum_note(card, "no such stratum", "maps") is None
    # refreshing the figures checks they are of the same weights
    package = tmp_path / "package"
    shutil.copytree(shipped.parent, package / "models")
    again = refresh_card_figures(package, card["real_maps"])
    assert again["summary"] == card["summary"] and again["strata"] == card["strata"]
    other = {**card["real_maps"], "checkpoint": {"sha256": "0" * 64}}
    with pytest.raises(ShipError, match="not of the shipped model"):
        refresh_card_figures(package, other)


def test_a_loss_study_run_ships_by_its_id(run_dir: Path, tmp_path: Path) -> None:
    """The study (benchmarks/loss_study.py) keeps no best_runs.tsv: its run is named."""
    shutil.copy(
        run_dir / "evaluation/FL_DL/seed_0/cases.tsv", run_dir / "training" / RUN / "test_cases.tsv"
    )
    (run_dir / "training/best_runs.tsv").unlink()
    card = ship_default_model(run_dir, tmp_path / "package", run_id=RUN)
    assert card["training"]["run_id"] == RUN and card["test"]["cases"]
    with pytest.raises(ShipError, match="not CE"):
        ship_default_model(run_dir, tmp_path / "other", loss="CE", run_id=RUN)
