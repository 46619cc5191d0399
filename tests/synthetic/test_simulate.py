"""Simulated and derived maps: reproducible, resolution-controlled, in the model's frame, and
curated like EMDB entries. Real structures and maps are read in place from ../shared."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import gemmi
import numpy as np
import pytest

from cryosse.cli import main as cli_main
from cryosse.core.ids import entry_origin, entry_rng
from cryosse.core.tsv import read_tsv
from cryosse.io.density import read_map
from cryosse.io.header import parse_header
from cryosse.io.mirror import LocalMirror
from cryosse.synthetic import deviations, masks
from cryosse.synthetic.atoms import load_atoms
from cryosse.synthetic.batch import simulate_structures
from cryosse.synthetic.derive import derive_pairs, lowpass
from cryosse.synthetic.fourier import k_squared
from cryosse.synthetic.offline import EVALUATION_ENTRIES, EVALUATION_IDS, write_evaluation_entry
from cryosse.synthetic.recipe import simulate_atoms
from cryosse.synthetic.simulate import simulate_entry
from tests.conftest import REPO

STRUCTURES = REPO.parent / "shared" / "structures"
HELICAL = STRUCTURES / "2xcj.pdb.gz"  # 84 residues, 65 % helix: small and curatable


def power_beyond(data: np.ndarray, voxel: float, k_min: float) -> float:
    """Fraction of the (mean-subtracted) power at |k| >= k_min."""
    power = np.abs(np.fft.rfftn(data - data.mean())) ** 2
    k = np.sqrt(k_squared(data.shape, voxel))
    return float(power[k >= k_min].sum() / power.sum())


def test_ids_are_reserved_and_named() -> None:
    assert entry_origin("EMD-92000") == entry_origin("EMD-99999") == "simulated"
    assert entry_origin("EMD-91000") == "derived"
    # The test fixtures' broken entries and real ids are neither.
    assert entry_origin("EMD-90010") == entry_origin("EMD-8518") == "emdb"
    with pytest.raises(ValueError, match="simulated range"):
        simulate_entry(HELICAL, "EMD-8518", Path("/nonexistent"), seed=1)


def test_same_seed_same_bytes_other_seed_other_map(tmp_path: Path) -> None:
    a, b, c = tmp_path / "a", tmp_path / "b", tmp_path / "c"
    simulate_entry(HELICAL, "EMD-92000", a, seed=7)
    simulate_entry(HELICAL, "EMD-92000", b, seed=7)
    simulate_entry(HELICAL, "EMD-92000", c, seed=8)
    files = sorted(p.relative_to(a) for p in a.rglob("*") if p.is_file())
    assert len(files) == 4  # header, map, simulation.json, model
    for rel in files:
        assert (a / rel).read_bytes() == (b / rel).read_bytes(), rel
    rel_map = Path("emdb/structures/EMD-92000/map/emd_92000.map.gz")
    assert (a / rel_map).read_bytes() != (c / rel_map).read_bytes()
    # The model is the source file, unchanged; the header says SIMULATED.
    assert gzip.decompress((a / "pdb/2xcj.pdb.gz").read_bytes()) == gzip.decompress(
        HELICAL.read_bytes()
    )
    header = parse_header(LocalMirror.at(a).header_path("EMD-92000"))
    assert header.title.startswith("SIMULATED") and header.fitted_pdb_ids == ["2xcj"]
    assert "not an EMDB entry" in LocalMirror.at(a).header_path("EMD-92000").read_text()
    record = json.loads((a / "emdb/structures/EMD-92000/other/simulation.json").read_text())
    assert record["simulated"] is True
    assert header.resolution == pytest.approx(record["parameters"]["resolution"], abs=0.01)
    assert 5.0 <= header.resolution <= 10.0


def test_resolution_moves_the_spectral_fall_off() -> None:
    fractions = {}
    for resolution in (5.0, 10.0):
        sim = simulate_atoms(load_atoms(HELICAL), entry_rng(3, "EMD-92000", "2xcj"), resolution)
        fractions[resolution] = power_beyond(sim.data, sim.voxel, 1 / 7.0)
    # Same draws but the resolution: detail finer than 7 Å survives at 5 Å, hardly at 10 Å.
    assert fractions[5.0] > 10 * fractions[10.0]
    assert fractions[10.0] < 0.01


def test_voxel_size_origin_and_frame_as_claimed(tmp_path: Path) -> None:
    modes = set()
    atoms = load_atoms(HELICAL).xyz
    for number in range(92000, 92006):
        record = simulate_entry(HELICAL, f"EMD-{number}", tmp_path, seed=1)
        p = record["parameters"]
        density = read_map(LocalMirror.at(tmp_path).map_path(f"EMD-{number}"))
        assert np.allclose(density.voxel_size, p["voxel_size"], atol=1e-4)
        assert 0.8 <= p["voxel_size_drawn"] <= 1.6
        assert list(density.shape_xyz) == p["shape_xyz"]
        expected = (
            np.array(p["nstart_xyz"]) * p["voxel_size"]
            if p["origin_mode"] == "nstart"
            else np.array(p["origin_xyz"])
        )
        assert np.allclose(density.origin, expected, atol=1e-3)
        modes.add(p["origin_mode"])
        _, inside = density.values_at(atoms)
        assert inside.all()  # the model sits in the map, with padding
    assert modes == {"origin", "nstart"}


def test_simulated_entry_is_curated_into_a_labelled_sample(tmp_path: Path) -> None:
    mirror, out = tmp_path / "mirror", tmp_path / "out"
    simulate_entry(HELICAL, "EMD-92000", mirror, seed=1)
    assert cli_main(["curate", "EMD-92000", "--mirror", str(mirror), "--out", str(out)]) == 0
    log = (out / "curation_log.tsv").read_text()
    assert "model_outside_map" not in log and "map_model_mismatch" not in log
    samples = list((out / "entries" / "EMD-92000" / "samples").iterdir())
    assert samples, log
    labels = read_map(samples[0] / "labels.mrc").data
    assert (labels == 1).sum() > 100  # helix voxels


def test_missing_and_extra_density_when_drawn(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(deviations, "P_MISSING", 1.0)
    monkeypatch.setattr(deviations, "P_EXTRA", 1.0)
    monkeypatch.setattr(deviations, "P_BELT", 1.0)
    monkeypatch.setattr(masks, "P_MASK", 0.0)
    atoms = load_atoms(HELICAL)
    before = atoms.weight.copy()
    sim = simulate_atoms(atoms, entry_rng(1, "EMD-92000", "2xcj"), 6.0)
    missing = sim.params["missing_density"]
    assert missing is not None and missing["atoms"] > 0
    assert (atoms.weight < before).sum() == missing["atoms"]
    kinds = [e["kind"] for e in sim.params["extra_density"]]
    assert "belt" in kinds and len(kinds) >= 2
    blob = next(e for e in sim.params["extra_density"] if e["kind"] != "belt")
    index = np.rint((np.array(blob["centre"]) - sim.origin) / sim.voxel).astype(int)
    # An unmodelled blob is density: above the map's median, far from any atom.
    assert sim.data[index[2], index[1], index[0]] > np.median(sim.data)
    for p in ("P_MISSING", "P_EXTRA", "P_BELT"):
        monkeypatch.setattr(deviations, p, 0.0)
    plain = simulate_atoms(load_atoms(HELICAL), entry_rng(1, "EMD-92000", "2xcj"), 6.0)
    assert plain.params["missing_density"] is None and plain.params["extra_density"] == []


def test_bad_structures_are_skipped_with_a_reason(tmp_path: Path) -> None:
    garbage = tmp_path / "9abc.pdb"
    garbage.write_text("this is not a structure\n")
    water = tmp_path / "9abd.pdb"
    water.write_text(
        "HETATM    1  O   HOH A   1      10.000  10.000  10.000  1.00 20.00           O\nEND\n"
    )
    bad_name = tmp_path / "structure.pdb"
    bad_name.write_bytes(gzip.decompress(HELICAL.read_bytes()))
    rows = simulate_structures([garbage, water, bad_name, HELICAL], tmp_path / "m")
    by_source = {r["source"]: r for r in rows}
    assert by_source["2xcj.pdb.gz"]["status"] == "written"
    assert by_source["9abc.pdb"]["status"] == "skipped"
    assert by_source["9abc.pdb"]["reason"].split(":")[0] in ("model_unreadable", "no_protein")
    assert by_source["9abd.pdb"]["reason"].startswith("no_protein")
    assert by_source["structure.pdb"]["reason"].startswith("invalid_id")
    assert (tmp_path / "m" / "simulated.tsv").read_text().count("skipped") == 3


def test_lowpass_cuts_beyond_one_over_resolution_and_keeps_low_frequencies() -> None:
    rng = np.random.default_rng(0)
    data = rng.standard_normal((48, 48, 48))
    out = lowpass(data, 1.0, 8.0)
    k = np.sqrt(k_squared(data.shape, 1.0))
    before, after = np.abs(np.fft.rfftn(data)) ** 2, np.abs(np.fft.rfftn(out)) ** 2
    high, low = k >= 1.5 / 8.0, (k > 0) & (k <= 0.5 / 8.0)
    assert after[high].sum() < 0.01 * before[high].sum()
    # Zero padding leaks a little at the box edge; the low band is kept nearly whole.
    assert after[low].sum() > 0.8 * before[low].sum()
    # |k| = 0 passes unchanged: a constant map stays constant away from the box edge.
    flat = lowpass(np.ones((48, 48, 48)), 1.0, 8.0)
    assert flat[24, 24, 24] == pytest.approx(1.0, abs=0.02)  # Butterworth tails: ~1 %
    # Exact zeros (outside a mask) stay zero.
    masked = data.copy()
    masked[:, :, :10] = 0
    assert np.all(lowpass(masked, 1.0, 8.0)[:, :, :10] == 0)


def test_derived_entries_name_their_source(tmp_path: Path, realdata: Path) -> None:
    rows = derive_pairs(realdata, tmp_path)
    written = [r for r in rows if r["status"] == "written"]
    assert {r["source_emdb_id"] for r in written} >= {"EMD-3488", "EMD-6272", "EMD-21457"}
    assert all(entry_origin(r["emdb_id"]) == "derived" for r in written)
    row = next(r for r in written if r["source_emdb_id"] == "EMD-3488")
    header_path = LocalMirror.at(tmp_path).header_path(row["emdb_id"])
    header = parse_header(header_path)
    assert header.title.startswith("DERIVED") and "EMD-3488" in header_path.read_text()
    assert header.resolution == pytest.approx(float(row["target_resolution"]), abs=0.01)
    source, derived = (
        read_map(realdata / "EMD-3488" / "emd_3488.mrc.gz"),
        read_map(LocalMirror.at(tmp_path).map_path(row["emdb_id"])),
    )
    assert np.allclose(source.origin, derived.origin) and source.data.shape == derived.data.shape
    resolution = float(row["target_resolution"])
    assert power_beyond(derived.data, 1.05, 1.5 / resolution) < 0.1 * power_beyond(
        source.data, 1.05, 1.5 / resolution
    )


def test_derive_leaves_out_the_excluded_pairs(tmp_path: Path, realdata: Path) -> None:
    # Held-out test maps must not be derived from: --exclude keeps them out of a mirror.
    others = ["EMD-0093", "EMD-2566", "EMD-3488", "EMD-6374", "EMD-21457"]
    argv = ["derive", "--realdata", str(realdata), "--mirror", str(tmp_path)]
    assert cli_main([*argv, "--maps-per-pair", "2", "--exclude", *others]) == 0
    rows = read_tsv(tmp_path / "derived.tsv")
    assert [r["source_emdb_id"] for r in rows] == ["EMD-6272", "EMD-6272"]
    assert len({r["target_resolution"] for r in rows}) == 2


def test_real_evaluation_entries(tmp_path: Path, realdata: Path) -> None:
    assert set(EVALUATION_IDS) == {"EMD-1657", "EMD-3491", "EMD-5168", "EMD-6149", "EMD-8518"}
    merged = next(e for e in EVALUATION_ENTRIES if e.folder == "EMD-3491")
    write_evaluation_entry(merged, realdata, tmp_path)
    mirror = LocalMirror.at(tmp_path)
    density = read_map(mirror.map_path("EMD-3491"))
    for name in ("L-1.0APIX.mrc", "X-1.0APIX.mrc"):
        part = read_map(realdata / "EMD-3491" / name)
        # Every non-zero voxel of each component is in the merged map, at the same place.
        values, inside = density.values_at(
            part.origin + np.argwhere(part.data.T != 0) * part.voxel_size
        )
        assert inside.all()
        assert np.allclose(values, part.data.T[part.data.T != 0])
    structure = gemmi.read_structure(str(mirror.model_path("5mdx")))
    assert sorted(chain.name for chain in structure[0]) == ["L", "X"]
    assert parse_header(mirror.header_path("EMD-3491")).resolution == 5.3
    unknown = next(e for e in EVALUATION_ENTRIES if e.folder == "EMD-1657")
    write_evaluation_entry(unknown, realdata, tmp_path)
    header = parse_header(mirror.header_path("EMD-1657"))
    assert header.resolution == 5.8  # the seed paper's Table 2, case 1657_4V5H_AM
    assert "Table 2" in mirror.header_path("EMD-1657").read_text()
