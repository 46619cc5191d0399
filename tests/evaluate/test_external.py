"""`cryosse evaluate` on another tool's output: one class rule for probability maps and masks,
refusal of predictions in another frame, and of thresholds that are not probabilities."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from scipy.ndimage import gaussian_filter

from cryosse.evaluate.external import PredictionError, evaluate_external
from cryosse.io.density import write_map
from cryosse.io.sample import read_sample
from tests.conftest import DEMO_MIRROR
from tests.support.demo import WIDE

MAP = DEMO_MIRROR / "emdb/structures/EMD-8518/map/emd_8518.map.gz"
MODEL = DEMO_MIRROR / "pdb/5u8s.pdb.gz"


def evaluate_cli(helix: str, sheet: str, mapfile: str, structure: str, *extra: str):
    """`cryosse evaluate` as a user runs it, in its own process."""
    command = [sys.executable, "-m", "cryosse.cli", "evaluate", "--pred-helix", helix]
    command += ["--pred-sheet", sheet, "--map", mapfile, "--structure", structure, *extra]
    return subprocess.run(command, capture_output=True, text=True, timeout=300)


@pytest.fixture(scope="module")
def sample(demo_samples):
    return read_sample(demo_samples("EMD-8518") / "EMD-8518_5u8s_A")


def _softmax_prediction(sample, seed: int = 0) -> np.ndarray:
    """Probabilities (background, helix, sheet) of a plausible, uncertain segmenter: the true
    classes' logits, blurred and with smooth noise, so that many voxels have no class ≥ 0.5."""
    rng = np.random.default_rng(seed)
    logits = np.stack([(sample.labels == c).astype(np.float32) for c in range(3)])
    logits = np.stack([gaussian_filter(x, 2.0) for x in logits])
    noise = gaussian_filter(rng.normal(size=logits.shape), (0, 2, 2, 2))
    logits += 0.7 * noise / noise.std()
    e = np.exp(logits - logits.max(axis=0))
    return (e / e.sum(axis=0)).astype(np.float32)


def test_a_tools_probability_maps_and_its_masks_score_alike(sample, tmp_path: Path) -> None:
    """The masks a segmenter writes are the argmax of its probabilities; scored by default,
    both forms of one prediction give the same figures, which a 0.5 threshold does not."""
    probabilities = _softmax_prediction(sample)
    masks = probabilities.argmax(axis=0)
    origin = np.array(sample.meta.origin)
    assert float((probabilities.max(axis=0) < 0.5).mean()) > 0.2  # the case that differed
    for cls, name in ((1, "helix"), (2, "sheet")):
        write_map(tmp_path / f"{name}_prob.mrc", probabilities[cls], origin, 1.0)
        write_map(tmp_path / f"{name}_mask.mrc", (masks == cls).astype(np.int8), origin, 1.0)

    def scores(kind: str, threshold: float | None = None) -> dict:
        (row,) = evaluate_external(
            tmp_path / f"helix_{kind}.mrc",
            tmp_path / f"sheet_{kind}.mrc",
            MAP,
            MODEL,
            WIDE,
            threshold=threshold,
        )[0]
        return {k: v for k, v in row.items() if k.endswith(("helix", "sheet"))}

    from_masks, from_probabilities = scores("mask"), scores("prob")
    assert from_probabilities == pytest.approx(from_masks, abs=1e-9)
    assert from_masks["voxel_f1_helix"] > 0.1 and from_masks["voxel_f1_sheet"] > 0.0
    thresholded = scores("prob", threshold=0.5)  # the old default rule
    assert thresholded["voxel_recall_helix"] < from_masks["voxel_recall_helix"] - 0.02


def test_predictions_that_miss_the_map_are_refused_and_a_partial_one_is_marked(
    sample, tmp_path: Path
) -> None:
    origin = np.array(sample.meta.origin)
    helix = (sample.labels == 1).astype(np.float32)
    sheet = (sample.labels == 2).astype(np.float32)
    write_map(tmp_path / "far_helix.mrc", helix, origin + 500.0, 1.0)
    write_map(tmp_path / "far_sheet.mrc", sheet, origin + 500.0, 1.0)
    with pytest.raises(PredictionError, match=r"prediction_outside_map.*not the same frame"):
        evaluate_external(tmp_path / "far_helix.mrc", tmp_path / "far_sheet.mrc", MAP, MODEL, WIDE)
    half = helix.shape[2] // 2  # only the lower half of x is predicted
    write_map(tmp_path / "half_helix.mrc", helix[:, :, :half], origin, 1.0)
    write_map(tmp_path / "half_sheet.mrc", sheet[:, :, :half], origin, 1.0)
    (row,) = evaluate_external(
        tmp_path / "half_helix.mrc", tmp_path / "half_sheet.mrc", MAP, MODEL, WIDE
    )[0]
    assert 0.2 < row["coverage"] < 0.8
    assert row["voxel_precision_helix"] == 1.0 and row["voxel_recall_helix"] < 0.9
    far = [str(tmp_path / "far_helix.mrc"), str(tmp_path / "far_sheet.mrc")]
    result = evaluate_cli(*far, str(MAP), str(MODEL), "--no-baselines")
    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert result.stderr.startswith("cryosse evaluate: prediction_outside_map")


@pytest.mark.parametrize("threshold", ["nan", "inf", "2", "-1", "0", "half"])
def test_a_threshold_that_is_not_a_probability_is_refused(threshold: str) -> None:
    result = evaluate_cli("h.mrc", "s.mrc", "m.mrc", "c.cif", f"--threshold={threshold}")
    assert result.returncode == 1 and "--threshold" in result.stderr
    assert "Traceback" not in result.stderr
    with pytest.raises(PredictionError, match="must lie in"):
        evaluate_external("h.mrc", "s.mrc", "m.mrc", "c.cif", threshold=float("nan"))
