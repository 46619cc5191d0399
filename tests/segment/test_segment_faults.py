"""`cryosse segment` under the faults of issue 26, each as the user meets it (the command line,
real maps from ../shared/realdata and the demo mirror, real checkpoints): a checkpoint whose
weights overflow or whose metadata is nonsense, a newline or 230 characters in the map's name,
an output folder that holds another map's segmentation, a full disk while writing."""

from __future__ import annotations

import copy
import json
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch

from cryosse.cli import main
from cryosse.core.config import ModelSettings
from cryosse.core.output_folder import LOCK_NAME
from cryosse.learn.checkpoint import default_model_path, make_checkpoint, save_checkpoint
from cryosse.learn.unet import UNet3D
from cryosse.segment.chimerax import MapStats, write_chimerax_script
from tests.conftest import DEMO_MIRROR, REALDATA
from tests.support.full_disk import fill, needs_root, small_tmpfs

MAP_1A = REALDATA / "EMD-8518" / "A-1.0APIX.mrc"
DEMO_8518 = DEMO_MIRROR / "emdb/structures/EMD-8518/map/emd_8518.map.gz"
SMALL_BOX = ["--box", "0", "0", "0", "39", "39", "39"]


@pytest.fixture(scope="module")
def tiny_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    torch.manual_seed(0)
    path = tmp_path_factory.mktemp("model") / "best.pt"
    net = UNet3D(base=4).eval()
    save_checkpoint(make_checkpoint(net.state_dict(), ModelSettings(base=4), {"epoch": 1}), path)
    return path


def segment(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str]:
    code = main(["segment", *args, "--threads", "1"])
    err = capsys.readouterr().err
    assert "Traceback" not in err
    return code, err


def shipped_state() -> dict:
    return torch.load(default_model_path(), map_location="cpu", weights_only=True)


def test_weights_that_overflow_are_refused_and_nothing_is_written(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Each 5-D weight of the shipped model × 1e4: NaN maps with exit 0 before."""
    state = shipped_state()
    for name, tensor in state["model"].items():
        if tensor.ndim == 5:
            state["model"][name] = tensor * 1e4
    torch.save(state, tmp_path / "overflow.pt")
    out = tmp_path / "out"
    code, err = segment(
        capsys, str(DEMO_8518), "--model", str(tmp_path / "overflow.pt"), "--out", str(out)
    )
    assert code == 1 and "not finite" in err and "nothing was written" in err
    assert not out.exists()


@pytest.mark.parametrize(
    ("edit", "words"),
    [
        (lambda s: s.update(voxel_size=1e12), "voxel_size"),
        (lambda s: s["training"].update(train_resolution_A=["five", "ten"]), "train_resolution_A"),
        (lambda s: s["model_config"].update(dropout=float("nan")), "dropout"),
    ],
)
def test_checkpoint_metadata_that_makes_no_sense_is_one_line(
    edit, words: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    state = copy.deepcopy(shipped_state())
    edit(state)
    torch.save(state, tmp_path / "odd.pt")
    out = tmp_path / "out"
    code, err = segment(
        capsys, str(DEMO_8518), "--model", str(tmp_path / "odd.pt"), "--out", str(out)
    )
    assert code == 1 and words in err and len(err.splitlines()) == 1
    assert not out.exists()


def test_a_newline_in_the_maps_name_is_refused_before_any_work(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    evil = tmp_path / "x.mrc\nopen evil.py\n#.mrc"
    shutil.copy(MAP_1A, evil)
    out = tmp_path / "out"
    code, err = segment(capsys, str(evil), "--model", "absent.pt", "--out", str(out))
    assert code == 1 and "control character" in err  # before the checkpoint is looked for
    assert not out.exists()
    # a model file name is written into the .cxc and .pml too
    model = tmp_path / 'a"b.pdb'
    shutil.copy(REALDATA / "EMD-8518" / "A_fitted.pdb", model)
    args = ["--structure", str(model), "--model", "absent.pt", "--out", str(out)]
    code, err = segment(capsys, str(MAP_1A), *args)
    assert code == 1 and "double quote" in err and not out.exists()
    # the .cxc writer refuses such a name too: no stray command line can be written
    stats = MapStats(evil, 0.0, 1.0)
    with pytest.raises(ValueError, match="control character"):
        write_chimerax_script(tmp_path / "m.cxc", stats, 0.5, {})
    assert not (tmp_path / "m.cxc").exists()


def test_a_name_too_long_for_the_outputs_fails_before_the_prediction(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    long = tmp_path / ("m" * 230 + ".mrc")
    shutil.copy(MAP_1A, long)
    code, err = segment(capsys, str(long), "--model", "absent.pt", "--out", str(tmp_path / "o"))
    assert code == 1 and "too long" in err and "255" in err


def test_another_maps_output_folder_is_refused_and_its_summary_kept(
    tiny_model: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "out"
    first = [str(MAP_1A), "--model", str(tiny_model), "--out", str(out), *SMALL_BOX]
    assert segment(capsys, *first)[0] == 0
    summary = (out / "summary.json").read_bytes()
    other = tmp_path / "other_map.mrc"
    shutil.copy(MAP_1A, other)
    code, err = segment(
        capsys, str(other), "--model", str(tiny_model), "--out", str(out), *SMALL_BOX
    )
    assert code == 1 and "holds the segmentation of A-1.0APIX.mrc" in err
    assert (out / "summary.json").read_bytes() == summary
    assert not list(out.glob("other_map*"))
    assert segment(capsys, *first)[0] == 0  # the same map again replaces its own outputs
    assert json.loads((out / "summary.json").read_text())["input"]["path"] == str(MAP_1A)
    assert not list(out.glob(".cryosse-staging-*"))


@needs_root
def test_a_full_disk_while_writing_leaves_the_folder_as_it_was(
    tiny_model: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The five maps of a 40³ box take 0.8 MB; with 0.3 MB free the second one fails: before,
    one map and no summary.json were left, with no path named."""
    with small_tmpfs(tmp_path / "disk", 2048) as disk:
        out = disk / "out"
        out.mkdir()
        (out / "mine.txt").write_text("the user's own file\n")
        fill(disk, leave_bytes=300_000)
        code, err = segment(
            capsys, str(MAP_1A), "--model", str(tiny_model), "--out", str(out), *SMALL_BOX
        )
        assert code == 2, err
        (line,) = err.splitlines()
        assert "No space left on device" in line and str(out) in line
        assert sorted(p.name for p in out.iterdir()) == sorted([LOCK_NAME, "mine.txt"])
        (disk / "filler").unlink()  # space again: the same command succeeds
        assert (
            segment(capsys, str(MAP_1A), "--model", str(tiny_model), "--out", str(out), *SMALL_BOX)[
                0
            ]
            == 0
        )
        assert (out / "summary.json").is_file()
        assert np.isfinite(json.loads((out / "summary.json").read_text())["helix"]["volume_A3"])
