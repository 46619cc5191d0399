"""What `cryosse segment --structure` writes for the viewers: the .cxc opens the fitted model
(coloured by DSSP), its residue attribute file and a zone, with paths relative to the output
folder; the PyMOL .pml is rendered headless by the real PyMOL (pymol-open-source, the test
extra) to a PNG, and the helix mask it shows sits on the model's helices."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest

from cryosse.cli import main
from cryosse.io.density import read_map
from tests.conftest import DEMO_MIRROR

MAP = DEMO_MIRROR / "emdb/structures/EMD-8518/map/emd_8518.map.gz"
MODEL = DEMO_MIRROR / "pdb/5u8s.pdb.gz"


@pytest.fixture(scope="module")
def outputs(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The shipped model on EMD-8518 with its fitted chain, in a folder beside copies of the
    map and model (so that moving the three together keeps every relative path)."""
    root = tmp_path_factory.mktemp("project")
    shutil.copy(MAP, root / MAP.name)
    shutil.copy(MODEL, root / MODEL.name)
    out = root / "seg"
    args = ["segment", str(root / MAP.name), "--structure", str(root / MODEL.name)]
    assert main([*args, "--out", str(out), "--threads", "1", "--resolution", "6.1"]) == 0
    return out


def _opened(script: Path) -> list[Path]:
    names = [
        line.split('"')[1]
        for line in script.read_text().splitlines()
        if line.startswith(("open ", "load "))
    ]
    return [(script.parent / name).resolve() for name in names]


def test_the_cxc_opens_the_model_its_dssp_its_attributes_and_a_zone(
    outputs: Path, tmp_path: Path
) -> None:
    cxc = (outputs / "emd_8518.cxc").read_text().splitlines()
    model = next(i for i, line in enumerate(cxc) if line.startswith("open") and "5u8s" in line)
    number = sum(line.startswith("open") for line in cxc[: model + 1])  # models #1..#N in order
    assert cxc[model] == 'open "../5u8s.pdb.gz"'  # relative: the folder moves with its inputs
    for command in (
        f"dssp #{number}",
        f"color #{number} & helix tomato target c",
        f"color #{number} & strand gold target c",
        f"volume zone #1-{number - 1} nearAtoms #{number} range 6",
        'open "emd_8518_residues.defattr"',
    ):
        assert command in cxc, command
    attributes = (outputs / "emd_8518_residues.defattr").read_text().splitlines()
    assert attributes.count("attribute: cryosse_p_helix") == 1
    rows = [line for line in attributes if line.startswith("\t")]
    assert len(rows) == 3 * 208 and "\t/A:1\t" in rows[0]  # three values for each residue
    assert any(line.endswith('"helix"') for line in rows)
    # moving the project folder keeps every file the two scripts name
    moved = tmp_path / "elsewhere"
    shutil.copytree(outputs.parent, moved)
    for script in ("emd_8518.cxc", "emd_8518.pml"):
        assert all(p.is_file() for p in _opened(moved / "seg" / script)), script


def test_pymol_renders_the_pml_and_its_helix_mask_sits_on_the_helices(
    outputs: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    pymol2 = pytest.importorskip("pymol2", reason="pymol-open-source (the test extra)")
    png = tmp_path / "render.png"
    monkeypatch.chdir(outputs)  # PyMOL reads a script's paths from its working folder
    with pymol2.PyMOL() as session:
        cmd = session.cmd
        cmd.feedback("disable", "all", "everything")
        cmd.do("@emd_8518.pml")
        assert set(cmd.get_names()) >= {"map_mesh", "helix", "sheet", "fitted"}
        # the surfaces lie where the model lies (PyMOL ignores the MRC ORIGIN: translated)
        helix_box, model_box = np.array(cmd.get_extent("helix")), np.array(cmd.get_extent("fitted"))
        assert (helix_box[0] <= model_box[0] + 10).all() and (
            helix_box[1] >= model_box[1] - 10
        ).all()
        ca = np.array([a.coord for a in cmd.get_model("fitted and ss H and name CA").atom])
        cmd.png(str(png), width=640, height=480, ray=1)
    assert len(ca) > 100  # PyMOL's own dss finds the chain's helices
    mask = read_map(outputs / "emd_8518_helix_mask.mrc")
    index = np.rint((ca - mask.origin) / mask.voxel_size).astype(int)  # x, y, z
    on_mask = mask.data[index[:, 2], index[:, 1], index[:, 0]] == 1
    assert on_mask.mean() > 0.8, on_mask.mean()  # the helix mask overlaps the helices
    import matplotlib.image

    pixels = matplotlib.image.imread(png)[..., :3]
    red = (pixels[..., 0] > 0.6) & (pixels[..., 1] < 0.35) & (pixels[..., 2] < 0.35)
    assert red.mean() > 0.02, red.mean()  # the helix surface is drawn


def test_cryosse_figure_draws_slices_through_the_model(
    outputs: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The QC figure of an output folder: slices through the model's Cα centre, masks above,
    the model's DSSP below; a folder that is not a segmentation is one line, exit 1."""
    import matplotlib.image

    assert main(["figure", str(outputs)]) == 0
    png = outputs / "emd_8518_figure.png"
    assert f"figure: {png}" in capsys.readouterr().out
    pixels = matplotlib.image.imread(png)[..., :3]
    assert pixels.shape[0] > 600 and pixels.shape[1] > 1000  # two rows of three slices
    red = (pixels[..., 0] > 0.8) & (pixels[..., 1] < 0.5) & (pixels[..., 2] < 0.5)
    yellow = (pixels[..., 0] > 0.8) & (pixels[..., 1] > 0.8) & (pixels[..., 2] < 0.5)
    assert red.mean() > 0.002 and yellow.mean() > 0.0002  # helix and sheet outlines drawn
    (tmp_path / "empty").mkdir()
    assert main(["figure", str(tmp_path / "empty")]) == 1
    assert "no summary.json" in capsys.readouterr().err
