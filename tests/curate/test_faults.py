"""Faults of the machine fail the curation job; faults of the data are exclusions (issue 26).

Disk full is a real 2 MiB tmpfs where the process may mount one (root), a killed mkdssp is a real
mkdssp that is killed; only an I/O error and a MemoryError are injected at the real call.
"""

import errno
import gzip
import json
import os
import shutil
import subprocess
from pathlib import Path

import gemmi
import numpy as np
import pytest

from cryosse.acquire.locate import locate_entry
from cryosse.acquire.stage import run_acquire
from cryosse.core.reasons import EnvironmentFault, Reason
from cryosse.curate.chain_sample import BOX_BYTES_PER_VOXEL
from cryosse.curate.dssp import assign_dssp, trim_to_region
from cryosse.curate.entry import curate_entry
from cryosse.curate.stage import run_curate
from cryosse.io.mirror import LocalMirror
from cryosse.io.sample import read_sample
from tests.support.demo import WIDE


def curate(mirror: Path, emdb_id: str, out: Path, **kwargs):
    located = locate_entry(emdb_id, LocalMirror.at(mirror), WIDE.resolution)
    return curate_entry(located, WIDE, out / "samples", **kwargs)


def rows_at(result, level: str):
    return [r for r in result.rows if r.level == level]


def acquired_json(mirror: Path, emdb_id: str, out: Path) -> Path:
    path = out / f"{emdb_id}.json"
    run_acquire(
        emdb_id=emdb_id,
        archive={"mirror": str(mirror)},
        download={},
        resolution={"min": WIDE.resolution.min, "max": WIDE.resolution.max},
        out_json=path,
    )
    return path


def _curation_settings() -> dict:
    from cryosse.core.config import load_config
    from cryosse.curate.settings import settings_section

    config = load_config(None)
    config["resolution"] = {"min": 3.0, "max": 10.0}
    return settings_section(config)


@pytest.fixture
def small_tmpfs(tmp_path: Path):
    """A real 2 MiB tmpfs (the EMD-8518 sample's density alone is 3.5 MB), unmounted after."""
    mount = tmp_path / "tmpfs"
    mount.mkdir()
    done = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=2m", "tmpfs", str(mount)],
        capture_output=True,
        check=False,
    )
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {done.stderr.decode().strip()}")
    try:
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], check=False)


def test_disk_full_fails_the_job_and_the_rerun_curates(
    mirror_copy: Path, tmp_path: Path, small_tmpfs: Path
) -> None:
    """On a full disk the entry is not excluded (it was: `internal_error` "No space left on
    device", kept for good since the rule's output existed): the job fails, leaves no entry
    folder, and once there is room the same call curates the entry."""
    located = acquired_json(mirror_copy, "EMD-8518", tmp_path)
    settings = _curation_settings()
    out = small_tmpfs / "entries" / "EMD-8518"
    with pytest.raises(OSError) as info:
        run_curate(located_json=located, settings=settings, out_dir=out)
    assert info.value.errno == errno.ENOSPC
    assert any("EMD-8518" in note for note in getattr(info.value, "__notes__", []))
    assert not out.exists()
    assert not [p for p in (small_tmpfs / "entries").iterdir()]  # no temporary left either
    subprocess.run(["mount", "-o", "remount,size=64m", str(small_tmpfs)], check=True)
    run_curate(located_json=located, settings=settings, out_dir=out)
    log = (out / "curation_log.tsv").read_text()
    assert "\tkept\t" in log and "internal_error" not in log
    assert read_sample(out / "samples" / "EMD-8518_5u8s_A").meta.chain == "A"


def test_no_half_written_sample_on_a_full_disk(
    mirror_copy: Path, tmp_path: Path, monkeypatch
) -> None:
    """ENOSPC at the real write call (where no tmpfs can be mounted the test above skips)."""
    import cryosse.io.sample as sample_module

    def full(*args, **kwargs):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(args[0]))

    monkeypatch.setattr(sample_module, "write_map", full)
    with pytest.raises(OSError) as info:
        curate(mirror_copy, "EMD-8518", tmp_path)
    assert info.value.errno == errno.ENOSPC
    assert not (tmp_path / "samples").exists() or list((tmp_path / "samples").iterdir()) == []


def test_io_error_reading_a_model_fails_the_job(
    mirror_copy: Path, tmp_path: Path, monkeypatch
) -> None:
    """EIO from the disk is not an unreadable model (it was: model_unreadable)."""
    import cryosse.io.structure as structure_module

    def eio(path, *args, **kwargs):
        raise OSError(errno.EIO, os.strerror(errno.EIO), path)

    monkeypatch.setattr(structure_module.gemmi, "read_structure", eio)
    with pytest.raises(OSError) as info:
        curate(mirror_copy, "EMD-8518", tmp_path)
    assert info.value.errno == errno.EIO


def test_memory_error_fails_the_job(mirror_copy: Path, tmp_path: Path, monkeypatch) -> None:
    """A MemoryError (the process limit) was an exclusion (resources_exceeded); what fits the
    budget is checked before allocating, so running out anyway is the machine's fault."""
    import cryosse.curate.chain_sample as chain_sample

    def out_of_memory(*args, **kwargs):
        raise MemoryError

    monkeypatch.setattr(chain_sample, "resample_box", out_of_memory)
    with pytest.raises(MemoryError) as info:
        curate(mirror_copy, "EMD-8518", tmp_path)
    assert any("EMD-8518" in note for note in info.value.__notes__)


def _fake_mkdssp(tmp_path: Path, body: str, monkeypatch) -> None:
    """An `mkdssp` first on PATH: a real program that ends as `body` says."""
    folder = tmp_path / "bin"
    folder.mkdir()
    program = folder / "mkdssp"
    program.write_text(f"#!/bin/sh\n{body}\n")
    program.chmod(0o755)
    monkeypatch.setenv("PATH", f"{folder}{os.pathsep}{os.environ['PATH']}")


@pytest.mark.parametrize(
    ("body", "said"),
    [
        ("kill -KILL $$", "killed (SIGKILL)"),
        ("echo 'write failed: No space left on device' >&2; exit 1", "No space left on device"),
    ],
)
def test_killed_or_starved_mkdssp_fails_the_job(
    mirror_copy: Path, tmp_path: Path, monkeypatch, body: str, said: str
) -> None:
    """mkdssp killed (the OOM killer) or out of disk was dssp_failed; now the job fails."""
    _fake_mkdssp(tmp_path, body, monkeypatch)
    with pytest.raises(EnvironmentFault) as info:
        curate(mirror_copy, "EMD-8518", tmp_path)
    assert said in str(info.value)


def test_mkdssp_failing_on_its_input_is_still_an_exclusion(
    mirror_copy: Path, tmp_path: Path, monkeypatch
) -> None:
    _fake_mkdssp(tmp_path, "echo 'parse error in line 3' >&2; exit 1", monkeypatch)
    result = curate(mirror_copy, "EMD-8518", tmp_path)
    (row,) = rows_at(result, "model")
    assert (row.reason, row.message) == (
        Reason.DSSP_FAILED,
        "mkdssp exited with 1: parse error in line 3",
    )


# -- one far atom (issue 26): the box is bounded by the map, and checked before it is allocated --


def _far_atom_entry(mirror: Path, number: str, shift: float, suffix: str = ".pdb.gz") -> None:
    """EMD-8518's map with its model 5u8s, one Cα moved `shift` Å in x, y and z."""
    entry = mirror / "emdb/structures" / f"EMD-{number}"
    shutil.copytree(mirror / "emdb/structures/EMD-8518", entry)
    header = entry / "header" / "emd-8518-v30.xml"
    text = header.read_text().replace("8518", number).replace("5u8s", "9far")
    (entry / "header" / f"emd-{number}-v30.xml").write_text(text)
    header.unlink()
    (entry / "map" / "emd_8518.map.gz").rename(entry / "map" / f"emd_{number}.map.gz")
    structure = gemmi.read_structure(str(mirror / "pdb/5u8s.pdb.gz"))
    atom = structure[0][0][40].find_atom("CA", "*")
    atom.pos = gemmi.Position(atom.pos.x + shift, atom.pos.y + shift, atom.pos.z + shift)
    structure.setup_entities()
    if suffix == ".pdb.gz":
        data = structure.make_pdb_string().encode()
    else:
        data = structure.make_mmcif_document().as_string().encode()
    (mirror / "pdb" / f"9far{suffix}").write_bytes(gzip.compress(data, mtime=0))


@pytest.mark.parametrize(("shift", "suffix"), [(600.0, ".pdb.gz"), (1e6, ".cif.gz")])
def test_one_far_atom_does_not_set_the_box(
    mirror_copy: Path, tmp_path: Path, shift: float, suffix: str
) -> None:
    """One Cα 600 Å out passed the 95 %-inside rule and set a 656×638×620 box (5.6-7.6 GB
    peak, then internal_error); at 1e6 Å it asked for 16.6 GiB. Now the box stops at the map's
    extent plus twice the padding, and the chain is kept with the box the others would get."""
    _far_atom_entry(mirror_copy, "90010", shift, suffix)
    result = curate(mirror_copy, "EMD-90010", tmp_path, max_memory=2 * 10**9)
    (row,) = rows_at(result, "chain")
    assert (row.status, row.reason) == ("kept", Reason.KEPT), row.message
    meta = read_sample(tmp_path / "samples/EMD-90010_9far_A").meta
    reference = curate(mirror_copy, "EMD-8518", tmp_path / "ref")
    assert entry_row_status(reference) == "kept"
    ref_meta = read_sample(tmp_path / "ref/samples/EMD-8518_5u8s_A").meta
    # 55×81×91 map voxels of 1 Å: the box is at most that + 4 × 17 per side
    assert all(n <= m + 68 for n, m in zip(meta.shape_xyz, (55, 81, 91), strict=True))
    assert np.prod(meta.shape_xyz) < 3 * np.prod(ref_meta.shape_xyz)
    assert meta.origin == ref_meta.origin


def entry_row_status(result) -> str:
    (row,) = rows_at(result, "entry")
    return row.status


def test_a_box_beyond_the_budget_is_refused_before_allocating(
    mirror_copy: Path, tmp_path: Path
) -> None:
    """A box that does not fit what is left of the budget is excluded with its size and the
    budget (chain_box_too_large), never allocated."""
    located = locate_entry("EMD-8518", LocalMirror.at(mirror_copy), WIDE.resolution)
    # the map (1.6 MB of float32) fits; its chain's box at BOX_BYTES_PER_VOXEL does not
    budget = 8 * 10**6  # the map needs about 4.9 MB to read; its chain's box 77×102×113
    result = curate_entry(located, WIDE, tmp_path / "samples", max_memory=budget)
    (row,) = rows_at(result, "chain")
    assert (row.status, row.reason) == ("excluded", Reason.CHAIN_BOX_TOO_LARGE)
    need = f"{77 * 102 * 113 * BOX_BYTES_PER_VOXEL / 1e9:.2f} GB"
    assert f"padded box of 77×102×113 voxels at 1 Å needs about {need}" in row.message, row.message
    assert "the budget is" in row.message


# -- NaN coordinates (issue 26): named as such, not as a model outside the map ------------------


def test_nan_coordinates_are_named(mirror_copy: Path, tmp_path: Path) -> None:
    raw = gzip.decompress((mirror_copy / "pdb/5u8s.pdb.gz").read_bytes()).decode()
    lines = raw.splitlines()
    i = next(k for k, line in enumerate(lines) if line.startswith("ATOM") and " CA " in line)
    lines[i] = lines[i][:30] + "     nan" + lines[i][38:]
    (mirror_copy / "pdb/5u8s.pdb.gz").write_bytes(gzip.compress("\n".join(lines).encode()))
    result = curate(mirror_copy, "EMD-8518", tmp_path)
    (row,) = rows_at(result, "model")
    assert row.reason == Reason.MODEL_UNREADABLE
    assert "1 atom(s) with NaN or infinite coordinates (first: CA of" in row.message


# -- DSSP bounded by the region that matters (issue 26: a 559,680-atom model) -------------------


def test_dssp_on_a_region_assigns_its_residues_as_the_whole_model_does(
    mirror_copy: Path,
) -> None:
    """The residues within a region get the codes a whole-model run gives them, and only the
    region and its margin go to mkdssp."""
    structure = gemmi.read_structure(str(mirror_copy / "pdb/5me2.pdb.gz"))
    structure.setup_entities()
    whole = assign_dssp(structure)
    ca = {
        (ch.name, res.seqid.num, res.seqid.icode.strip()): res.find_atom("CA", "*").pos
        for ch in structure[0]
        for res in ch
        if res.find_atom("CA", "*") is not None
    }
    xs = np.array([p.x for p in ca.values()])
    low = np.array([xs.min(), -1e9, -1e9])
    high = np.array([np.median(xs), 1e9, 1e9])  # half of the model along x
    part = assign_dssp(structure, region=(low, high))
    inside = [k for k, p in ca.items() if low[0] <= p.x <= high[0] and k in whole]
    assert len(inside) > 100
    assert {k: part.get(k, "") for k in inside} == {k: whole[k] for k in inside}
    trimmed, dropped = trim_to_region(structure, low, high)
    assert dropped > 0 and trimmed[0].count_atom_sites() < structure[0].count_atom_sites()
    assert json.dumps(sorted(part)) != json.dumps(sorted(whole))  # the rest was not sent
