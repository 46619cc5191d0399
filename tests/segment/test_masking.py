"""Full, unmasked maps (issue 25): told apart from masked ones on every real map at hand,
warned about, and masked at the given or recorded contour with --mask."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from cryosse.cli import main
from cryosse.core.config import ModelSettings
from cryosse.io.density import read_map
from cryosse.learn.checkpoint import make_checkpoint, save_checkpoint
from cryosse.learn.unet import UNet3D
from cryosse.segment.masking import map_signs
from tests.conftest import DEMO_MIRROR, REALDATA

FULL_5168 = DEMO_MIRROR / "emdb/structures/EMD-5168/map/emd_5168.map.gz"
MASKED = [
    REALDATA / "EMD-5168" / "emd_5168_monomer.mrc",  # the TEMPy authors' masked monomer
    *sorted(DEMO_MIRROR.glob("emdb/structures/*/map/*.gz")),
    REALDATA / "EMD-6374" / "6374.mrc",
    REALDATA / "EMD-2566" / "2566_3J6B_9.mrc",
]


@pytest.fixture(scope="module")
def tiny_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    torch.manual_seed(0)
    path = tmp_path_factory.mktemp("model") / "best.pt"
    net = UNet3D(base=4).eval()
    save_checkpoint(make_checkpoint(net.state_dict(), ModelSettings(base=4), {"epoch": 1}), path)
    return path


@pytest.mark.parametrize("path", MASKED, ids=lambda p: p.name)
def test_only_the_full_filament_map_looks_unmasked(path: Path) -> None:
    signs = map_signs(read_map(path).data)
    assert signs.unmasked == (path == FULL_5168), signs
    if path == FULL_5168:
        assert signs.zero_fraction < 0.01 and signs.negative_fraction > 0.4


def segment(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str]:
    code = main(["segment", *args, "--threads", "1"])
    err = capsys.readouterr().err
    assert "Traceback" not in err
    return code, err


def test_a_full_map_is_warned_about_and_masked_at_the_contour(
    tiny_model: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    plain, masked = tmp_path / "plain", tmp_path / "masked"
    code, err = segment(capsys, str(FULL_5168), "--model", str(tiny_model), "--out", str(plain))
    assert code == 0
    (line,) = [x for x in err.splitlines() if "unmasked" in x]
    assert line.startswith("cryosse segment: warning: emd_5168.map.gz looks like a full")
    assert "0% of its voxels are zero" in line and "--mask --contour LEVEL" in line
    summary = json.loads((plain / "summary.json").read_text())["input"]["masking"]
    assert summary["unmasked"] and not summary["masked"] and summary["contour"] is None
    # the TEMPy authors' contour, 10.0: no warning, the solvent zeroed, the .cxc at that level
    args = ["--model", str(tiny_model), "--out", str(masked), "--mask", "--contour", "10"]
    code, err = segment(capsys, str(FULL_5168), *args)
    assert code == 0 and "unmasked" not in err
    summary = json.loads((masked / "summary.json").read_text())["input"]["masking"]
    assert (
        summary["masked"]
        and summary["contour"] == 10.0
        and summary["contour_source"] == "--contour"
    )
    density = read_map(FULL_5168).data
    assert summary["voxels_kept"] == int((density >= 10.0).sum())
    assert "volume #1 style surface level 10 " in (masked / "emd_5168.cxc").read_text()


def test_mask_without_a_usable_contour_is_one_line(
    tiny_model: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, err = segment(
        capsys, str(FULL_5168), "--model", str(tiny_model), "--mask", "--out", str(tmp_path / "a")
    )
    assert code == 1 and "--mask needs a contour level" in err
    args = ["--model", str(tiny_model), "--mask", "--contour", "1000", "--out", str(tmp_path / "b")]
    code, err = segment(capsys, str(FULL_5168), *args)
    assert code == 1 and "lies outside the map's values" in err
    assert not (tmp_path / "a").exists() and not (tmp_path / "b").exists()


def test_the_default_model_cites_its_card_on_a_full_map(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Where the card shows the shipped model weak (full maps: stratum b of real_maps.py),
    the warning gives the card's figures beside the density threshold."""
    from cryosse.learn.checkpoint import default_model_card
    from cryosse.segment.default_model import weak_stratum_note

    note = weak_stratum_note(default_model_card(), "b", "full, unmasked maps")
    code, err = segment(capsys, str(FULL_5168), "--out", str(tmp_path / "out"))
    assert code == 0
    (line,) = [x for x in err.splitlines() if "unmasked" in x]
    assert (note is not None) == ("the model card shows the model weak" in line)
    if note:
        assert note in line
