"""Curation end to end on real maps and models, and every kind of bad input.

Each broken entry is a real corrupted fixture made here from the demo mirror or
../shared/realdata; it must end in the curation log with its reason, never raise, and never
leave a half-written file.
"""

import gzip
import json
import shutil
from pathlib import Path

import gemmi
import mrcfile
import numpy as np
import pytest
from scipy.ndimage import map_coordinates

from cryosse.acquire.locate import locate_entry
from cryosse.core.config import ResolutionWindow
from cryosse.core.reasons import Reason
from cryosse.curate.entry import curate_entry
from cryosse.curate.quality import QualitySettings
from cryosse.curate.settings import ChainRules, CurationSettings
from cryosse.io.density import read_map
from cryosse.io.mirror import LocalMirror
from cryosse.io.sample import read_sample
from tests.support.demo import WIDE


def curate(mirror: Path, emdb_id: str, out: Path, settings: CurationSettings = WIDE):
    located = locate_entry(emdb_id, LocalMirror.at(mirror), settings.resolution)
    return curate_entry(located, settings, out / "samples")


def entry_row(result):
    (row,) = [r for r in result.rows if r.level == "entry"]
    return row


def add_entry(
    mirror: Path, number: str, pdb_id: str, resolution: float = 6.0, status: str = "REL"
) -> Path:
    """Write a header for a test entry; returns the entry's map directory."""
    entry = mirror / "emdb" / "structures" / f"EMD-{number}"
    (entry / "header").mkdir(parents=True)
    (entry / "map").mkdir()
    (entry / "header" / f"emd-{number}-v30.xml").write_text(
        f"""<?xml version="1.0" encoding="UTF-8"?>
<emd emdb_id="EMD-{number}" version="3.0">
  <admin><current_status><code>{status}</code></current_status></admin>
  <crossreferences><pdb_list><pdb_reference><pdb_id>{pdb_id}</pdb_id></pdb_reference>
  </pdb_list></crossreferences>
  <structure_determination_list><structure_determination><method>singleParticle</method>
  <singleparticle_processing><final_reconstruction><resolution>{resolution}</resolution>
  </final_reconstruction></singleparticle_processing></structure_determination>
  </structure_determination_list>
  <map format="CCP4"><file>emd_{number}.map.gz</file></map>
</emd>
""",
        encoding="utf-8",
    )
    return entry / "map"


def write_gz(path: Path, data: bytes) -> None:
    path.write_bytes(gzip.compress(data, mtime=0))


def write_model(path: Path, structure: gemmi.Structure) -> None:
    structure.setup_entities()
    text = structure.make_pdb_string()
    write_gz(path, text.encode())


def test_demo_entry_gives_labelled_samples(mirror_copy: Path, tmp_path: Path) -> None:
    result = curate(mirror_copy, "EMD-3488", tmp_path)
    assert entry_row(result).status == "kept"
    chains = {r.chain: r for r in result.rows if r.level == "chain"}
    assert chains["A"].status == chains["B"].status == "kept"
    assert chains["C"].reason == chains["D"].reason == Reason.CHAIN_REDUNDANT
    assert set(result.timings) == {"read", "dssp", "crop", "label", "quality", "write"}

    sample = read_sample(tmp_path / "samples" / "EMD-3488_5me2_A")
    meta = sample.meta
    shape = meta.shape_xyz
    assert sample.density.shape == sample.labels.shape == shape[::-1]
    # 17 voxels of padding on each side, 34 per dimension.
    assert meta.central_start_xyz == (17, 17, 17)
    assert [s - c for s, c in zip(shape, meta.central_stop_xyz, strict=True)] == [17, 17, 17]
    assert meta.voxel_size == 1.0
    # Labels are helix around helix Cα atoms; haemoglobin has no sheet.
    assert meta.voxels_central.helix > 0 and meta.voxels_central.sheet == 0
    assert set(np.unique(sample.labels)) <= {0, 1}
    # Density values are raw: trilinear interpolation of the original map in the same frame,
    # checked against scipy's independent implementation at every voxel of the box.
    density = read_map(mirror_copy / "emdb/structures/EMD-3488/map/emd_3488.map.gz")
    centres = (
        np.array(meta.origin)
        + np.stack(np.meshgrid(*[np.arange(n) for n in shape], indexing="ij"), axis=-1).reshape(
            -1, 3
        )
        * meta.voxel_size
    )
    frac = (centres - density.origin) / density.voxel_size  # x, y, z
    expected = map_coordinates(density.data, frac[:, ::-1].T, order=1, mode="constant")
    expected = expected.reshape(shape).transpose(2, 1, 0)  # [x,y,z] -> [z,y,x]
    inside = np.all((frac >= 0) & (frac <= np.array(density.shape_xyz) - 1), axis=1)
    inside = inside.reshape(shape).transpose(2, 1, 0)
    np.testing.assert_allclose(sample.density[inside], expected[inside], atol=1e-5)
    residues = [r for r in sample.residues if r["chain"] == "A"]
    # The residue table covers the central chain and its neighbours in the box.
    assert {r["chain"] for r in sample.residues} >= {"A", "B"}
    assert all(r["central_chain"] == "1" for r in residues)
    with mrcfile.open(tmp_path / "samples/EMD-3488_5me2_A/labels.mrc") as mrc:
        assert mrc.header.origin.x == pytest.approx(meta.origin[0], abs=1e-3)


def test_resampling_non_unit_voxels(mirror_copy: Path, tmp_path: Path) -> None:
    result = curate(mirror_copy, "EMD-5168", tmp_path)  # 1.742 Å voxels, NSTART origin
    assert entry_row(result).status == "kept"
    sample = read_sample(tmp_path / "samples" / "EMD-5168_3mfp_A")
    assert sample.meta.voxels_central.sheet > 0
    # Fitted model on its density: density at helix voxels is well above the box average.
    assert sample.density[sample.labels == 1].mean() > sample.density.mean()


@pytest.mark.parametrize(
    ("damage", "reason"),
    [
        ("truncated_gzip", Reason.MAP_UNREADABLE),
        ("garbage_header", Reason.MAP_UNREADABLE),
        ("nan_density", Reason.MAP_INVALID_VALUES),
        ("map_missing", Reason.MAP_MISSING),
        ("header_broken", Reason.HEADER_INVALID),
    ],
)
def test_broken_map_or_header(
    damage: str, reason: Reason, mirror_copy: Path, tmp_path: Path
) -> None:
    entry = mirror_copy / "emdb/structures/EMD-8518"
    map_gz = entry / "map/emd_8518.map.gz"
    raw = gzip.decompress(map_gz.read_bytes())
    if damage == "truncated_gzip":
        map_gz.write_bytes(map_gz.read_bytes()[:50_000])
    elif damage == "garbage_header":
        write_gz(map_gz, b"\x07" * 1024 + raw[1024:])
    elif damage == "nan_density":
        array = np.frombuffer(raw[1024:], dtype=np.float32).copy()
        array[5000] = np.nan
        write_gz(map_gz, raw[:1024] + array.tobytes())
    elif damage == "map_missing":
        map_gz.unlink()
    elif damage == "header_broken":
        (entry / "header/emd-8518-v30.xml").write_text("<emd emdb_id='EMD-8518'><map>")
    result = curate(mirror_copy, "EMD-8518", tmp_path)
    row = entry_row(result)
    assert (row.status, row.reason) == ("excluded", reason)
    assert row.message
    assert not (tmp_path / "samples").exists() or not any((tmp_path / "samples").iterdir())


def test_model_outside_the_map(mirror_copy: Path, realdata: Path, tmp_path: Path) -> None:
    # The origin-zero variant of the EMD-21457 segment with the deposited-frame model.
    map_dir = add_entry(mirror_copy, "90001", "9aaa")
    write_gz(
        map_dir / "emd_90001.map.gz", (realdata / "EMD-21457/emd_21457_seg_orig0.mrc").read_bytes()
    )
    write_gz(mirror_copy / "pdb/9aaa.pdb.gz", (realdata / "EMD-21457/6vyb_Ndom.pdb").read_bytes())
    result = curate(mirror_copy, "EMD-90001", tmp_path)
    model_rows = [r for r in result.rows if r.level == "model"]
    assert [r.reason for r in model_rows] == [Reason.MODEL_OUTSIDE_MAP]
    assert entry_row(result).status == "excluded"
    # ... and with the shifted model shipped for that frame, the same map is kept.
    write_gz(
        mirror_copy / "pdb/9aaa.pdb.gz", (realdata / "EMD-21457/6vyb_Ndom_shifted.pdb").read_bytes()
    )
    # (a β-only, tightly cropped domain: no helix to score, so the quality bin is relaxed too)
    relaxed = CurationSettings(
        resolution=ResolutionWindow(3.0, 10.0),
        chains=ChainRules(require_helix=False),
        quality=QualitySettings(pr_threshold=1.0),
    )
    assert entry_row(curate(mirror_copy, "EMD-90001", tmp_path / "2", relaxed)).status == "kept"


def test_map_and_model_that_do_not_overlap(
    mirror_copy: Path, realdata: Path, tmp_path: Path
) -> None:
    """The model lies inside the grid, but beside its density (shifted by one box length)."""
    density = read_map(realdata / "EMD-8518/A-1.0APIX.mrc")
    nx = density.data.shape[2]
    wide = np.concatenate([density.data, np.zeros_like(density.data)], axis=2)
    map_dir = add_entry(mirror_copy, "90002", "9aab")
    with mrcfile.new(tmp_path / "wide.mrc") as mrc:
        mrc.set_data(wide)
        mrc.voxel_size = 1.0
        mrc.header.origin.x, mrc.header.origin.y, mrc.header.origin.z = density.origin
    write_gz(map_dir / "emd_90002.map.gz", (tmp_path / "wide.mrc").read_bytes())
    structure = gemmi.read_structure(str(realdata / "EMD-8518/A_fitted.pdb"))
    structure[0].transform_pos_and_adp(gemmi.Transform(gemmi.Mat33(), gemmi.Vec3(nx, 0, 0)))
    write_model(mirror_copy / "pdb/9aab.pdb.gz", structure)
    result = curate(mirror_copy, "EMD-90002", tmp_path)
    (row,) = [r for r in result.rows if r.level == "model"]
    assert row.reason == Reason.MAP_MODEL_MISMATCH
    assert "percentile" in row.message


@pytest.mark.parametrize(
    ("damage", "reason"),
    [
        ("no_ca", Reason.NO_PROTEIN),
        ("ligands_only", Reason.NO_PROTEIN),
        ("ca_only", Reason.DSSP_EMPTY),
        ("garbage", Reason.MODEL_UNREADABLE),
        ("missing", Reason.MODEL_MISSING),
    ],
)
def test_broken_models(
    damage: str, reason: Reason, mirror_copy: Path, realdata: Path, tmp_path: Path
) -> None:
    model_path = mirror_copy / "pdb/5u8s.pdb.gz"
    structure = gemmi.read_structure(str(realdata / "EMD-8518/A_fitted.pdb"))
    if damage in ("no_ca", "ca_only"):
        for chain in structure[0]:
            for res in chain:
                drop = [a.name for a in res if (a.name == "CA") == (damage == "no_ca")]
                for name in drop:
                    res.remove_atom(name, "*")
        write_model(model_path, structure)
    elif damage == "ligands_only":
        model_path.write_bytes(
            gzip.compress(
                b"HETATM    1  O   HOH A 301      10.000  10.000  10.000  1.00 20.00"
                b"           O\nEND\n"
            )
        )
    elif damage == "garbage":
        model_path.write_bytes(gzip.compress(b"\x00\x01 this is not a structure file \xff" * 20))
    elif damage == "missing":
        model_path.unlink()
    result = curate(mirror_copy, "EMD-8518", tmp_path)
    (row,) = [r for r in result.rows if r.level == "model"]
    assert (row.status, row.reason) == ("excluded", reason), row.message
    assert entry_row(result).status == "excluded"


def test_header_level_exclusions(mirror_copy: Path, tmp_path: Path) -> None:
    narrow = CurationSettings(resolution=ResolutionWindow(5.0, 10.0))
    row = entry_row(curate(mirror_copy, "EMD-3488", tmp_path, narrow))  # 3.2 Å
    assert row.reason == Reason.RESOLUTION_OUT_OF_RANGE and "3.2" in row.message
    assert entry_row(curate(mirror_copy, "EMD-99999", tmp_path)).reason == Reason.HEADER_MISSING
    add_entry(mirror_copy, "90003", "1abc", status="OBS")
    assert entry_row(curate(mirror_copy, "EMD-90003", tmp_path)).reason == Reason.OBSOLETE_ENTRY
    add_entry(mirror_copy, "90004", "../../etc/passwd")
    shutil.copy(
        mirror_copy / "emdb/structures/EMD-8518/map/emd_8518.map.gz",
        mirror_copy / "emdb/structures/EMD-90004/map/emd_90004.map.gz",
    )
    result = curate(mirror_copy, "EMD-90004", tmp_path)
    (model_row,) = [r for r in result.rows if r.level == "model"]
    assert model_row.reason == Reason.INVALID_ID
    row = entry_row(curate(mirror_copy, "../EMD-8518", tmp_path))
    assert row.reason == Reason.INVALID_ID


def test_no_half_written_sample_after_a_crash(
    mirror_copy: Path, tmp_path: Path, monkeypatch
) -> None:
    """A failure while writing a sample leaves no sample directory and no temporary file."""
    import cryosse.io.sample as sample_module

    def crash(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(sample_module, "write_map", crash)
    result = curate(mirror_copy, "EMD-8518", tmp_path)
    (row,) = [r for r in result.rows if r.level == "model"]
    assert row.reason == Reason.INTERNAL_ERROR and "disk full" in row.message
    assert list((tmp_path / "samples").iterdir()) == []


def test_located_entry_round_trips(mirror_copy: Path) -> None:
    from cryosse.acquire.locate import LocatedEntry

    located = locate_entry("EMD-6149", LocalMirror.at(mirror_copy), WIDE.resolution)
    again = LocatedEntry.from_dict(json.loads(json.dumps(located.to_dict())))
    assert again == located
    assert again.models[0].sha256 and len(again.map_sha256 or "") == 64


def test_quality_scores_and_bin_4_exclusion(mirror_copy: Path, tmp_path: Path) -> None:
    import dataclasses

    result = curate(mirror_copy, "EMD-8518", tmp_path / "a")
    quality = read_sample(tmp_path / "a/samples/EMD-8518_5u8s_A").meta.quality
    assert quality.bin in (1, 2, 3)
    assert quality.helix_similarity is not None and 0.5 < quality.helix_similarity <= 1.0
    assert all(0.0 <= h.f1 <= 1.0 and h.n_residues >= 6 for h in quality.helices)
    assert 0.0 <= quality.recall <= quality.precision <= 1.0
    assert quality.contour_source == "fallback mean+0sd"  # the demo header has no contour
    assert entry_row(result).status == "kept"

    # Thresholds no chain can meet: every chain lands in bin 4 and is excluded with its reason.
    strict = dataclasses.replace(WIDE, quality=QualitySettings(f1_threshold=1.0, pr_threshold=0.0))
    result = curate(mirror_copy, "EMD-8518", tmp_path / "b", strict)
    (chain,) = [r for r in result.rows if r.level == "chain"]
    assert (chain.status, chain.reason) == ("excluded", Reason.QUALITY_BIN_4)
    assert "helix similarity 0." in chain.message and "contour" in chain.message
    assert not (tmp_path / "b/samples/EMD-8518_5u8s_A").exists()


def test_author_contour_from_the_header(mirror_copy: Path, tmp_path: Path) -> None:
    header = mirror_copy / "emdb/structures/EMD-8518/header/emd-8518-v30.xml"
    text = header.read_text()
    contour = '<contour_list><contour primary="true"><level>0.05</level></contour></contour_list>'
    header.write_text(
        text.replace("<file>emd_8518.map.gz</file>", f"<file>emd_8518.map.gz</file>{contour}")
    )
    curate(mirror_copy, "EMD-8518", tmp_path)
    quality = read_sample(tmp_path / "samples/EMD-8518_5u8s_A").meta.quality
    assert (quality.contour, quality.contour_source) == (0.05, "author")


def test_gzip_bomb_in_a_mirror_is_excluded_not_fatal(mirror_copy: Path, tmp_path: Path) -> None:
    """A mirror map whose header claims 2000³ floats (a 31 MB .mrc.gz expanding to 32 GB)
    ends as one excluded entry with its reason, read from the header alone; the next entry of
    the run is curated as usual."""
    import struct

    map_dir = add_entry(mirror_copy, "90002", "5u8s")
    raw = bytearray(
        gzip.decompress(
            (mirror_copy / "emdb/structures/EMD-8518/map/emd_8518.map.gz").read_bytes()
        )[:1024]
    )
    raw[0:12] = struct.pack("<3i", 2000, 2000, 2000)
    raw[28:40] = struct.pack("<3i", 2000, 2000, 2000)
    raw[40:52] = struct.pack("<3f", 2000.0, 2000.0, 2000.0)
    write_gz(map_dir / "emd_90002.map.gz", bytes(raw) + bytes(1 << 20))
    located = locate_entry("EMD-90002", LocalMirror.at(mirror_copy), WIDE.resolution)
    result = curate_entry(located, WIDE, tmp_path / "samples", max_memory=2 * 10**9)
    row = entry_row(result)
    assert (row.status, row.reason) == ("excluded", Reason.MAP_TOO_LARGE)
    assert "2000×2000×2000" in row.message and "budget is 2.00 GB" in row.message
    assert entry_row(curate(mirror_copy, "EMD-8518", tmp_path / "next")).status == "kept"
