"""Issue 25 item 5 on the real EMD-8518 component map and the shipped model: background is
background (no P(sheet) halo in the empty space of a zoned map), and confident-only masks."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from scipy.ndimage import distance_transform_edt

from cryosse.cli import main
from cryosse.io.density import read_map
from tests.conftest import DEMO_MIRROR

MAP = DEMO_MIRROR / "emdb/structures/EMD-8518/map/emd_8518.map.gz"  # 1 Å voxels, zoned


@pytest.fixture(scope="module")
def out(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("seg")
    args = ["segment", str(MAP), "--out", str(folder), "--confident", "0.9", "--threads", "1"]
    assert main(args) == 0
    return folder


def test_no_probability_in_empty_space(out: Path) -> None:
    """Before: 58 % of the voxels with no density within 3 Å had P(sheet) > 0.15 (max 0.29)."""
    density = read_map(MAP).data  # already on the 1 Å grid the outputs use
    helix = read_map(out / "emd_8518_helix_prob.mrc").data
    sheet = read_map(out / "emd_8518_sheet_prob.mrc").data
    assert helix.shape == density.shape
    far = distance_transform_edt(density <= 0) > 3.0  # farther than 3 Å from any density
    assert far.mean() > 0.5  # a zoned map: most of its box is empty
    assert helix[far].max() == 0.0 and sheet[far].max() == 0.0
    near = distance_transform_edt(density <= 0) == 0
    assert sheet[near].max() > 0.5 and helix[near].max() > 0.5  # the molecule is untouched
    summary = json.loads((out / "summary.json").read_text())
    assert summary["empty_space"]["voxels"] >= int(far.sum())


def test_confident_masks_hold_the_voxels_at_or_above_the_threshold(out: Path) -> None:
    summary = json.loads((out / "summary.json").read_text())
    assert summary["confident"]["threshold"] == 0.9
    for cls in ("helix", "sheet"):
        probability = read_map(out / f"emd_8518_{cls}_prob.mrc").data
        confident = read_map(out / f"emd_8518_{cls}_confident.mrc").data
        mask = read_map(out / f"emd_8518_{cls}_mask.mrc").data
        assert np.array_equal(confident == 1, probability >= 0.9)
        assert not np.any((confident == 1) & (mask == 0))  # a subset of the argmax mask
        assert summary["confident"][f"{cls}_voxels"] == int((confident == 1).sum())
    assert 0 < summary["confident"]["helix_voxels"] < summary["helix"]["voxels"]
    assert "emd_8518_helix_confident.mrc" in summary["files"]


@pytest.mark.parametrize("value", ["0", "1.5", "nan"])
def test_a_confident_threshold_outside_0_1_is_refused(value: str, tmp_path: Path) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(["segment", str(MAP), "--confident", value, "--out", str(tmp_path / "o")])
    assert exit_info.value.code == 1
