"""EMDB-like simulation (profile "emdb"): assemblies with packed neighbours under an atom cap,
B-DNA density, solvent noise, depositor masks, coarse voxels, maps spread over 5-10 Å, held-out
real assemblies; all reproducible byte for byte. Real structures from ../shared/structures."""

from __future__ import annotations

import hashlib
import json
import re
from pathlib import Path

import gemmi
import numpy as np
import pytest
from scipy.spatial import cKDTree

from cryosse.cli.synthetic import PROFILE_NAMES
from cryosse.io.mirror import LocalMirror
from cryosse.synthetic.assembly import build_assembly, checked_assembly, model_composition
from cryosse.synthetic.atoms import load_atoms, read_clean_structure
from cryosse.synthetic.batch import simulate_structures
from cryosse.synthetic.derive import derive_pairs
from cryosse.synthetic.deviations import nucleic_acid_duplex
from cryosse.synthetic.masks import depositor_mask
from cryosse.synthetic.noise import SOLVENT_SNR, solvent_noise
from cryosse.synthetic.offline import HELD_OUT_SOURCES, held_out_ids, write_held_out
from cryosse.synthetic.parameters import PROFILES
from cryosse.synthetic.recipe import NYQUIST_FRACTION
from cryosse.synthetic.simulate import simulate_entry
from tests.conftest import REPO

STRUCTURES = REPO.parent / "shared" / "structures"
WITH_ASSEMBLY = STRUCTURES / "1a7g.cif.gz"  # mmCIF, one assembly copy + crystal neighbours
CRYSTAL = STRUCTURES / "1a22.pdb.gz"  # two chains, P 43 21 2, REMARK 350
LONE = STRUCTURES / "2xcj.pdb.gz"  # no assembly operators, no crystal cell


def test_profiles_add_one_change_each() -> None:
    assert tuple(PROFILES) == PROFILE_NAMES  # the CLI's list stays in step
    names = ("coarse_voxels", "solvent", "masks", "assembly", "nucleic_acids", "heterogeneity")
    switched = [sum(getattr(p, n) for n in names) for p in PROFILES.values()]
    assert switched == list(range(len(PROFILES)))


def test_assembly_adds_copies_and_neighbours_in_a_bounded_region() -> None:
    structure = read_clean_structure(CRYSTAL)
    deposited = [c.name for c in structure[0]]
    built = build_assembly(structure)
    assert built.record["used"] and built.record["packed_neighbours"] > 0
    names = [c.name for c in built.structure[0]]
    assert names[: len(deposited)] == deposited  # curation keeps the deposited copy
    assert len(set(names)) == len(names)
    assert all(re.fullmatch(r"[A-Za-z0-9]{1,4}", n) for n in names)  # usable in sample ids
    xyz = np.array([a.pos.tolist() for c in built.structure[0] for r in c for a in r])
    dep = np.array([a.pos.tolist() for c in structure[0] for r in c for a in r])
    assert built.record["atoms"] == len(xyz) <= 6 * len(dep)  # whole copies, a few of them
    # neighbours touch the deposited chains (packed), none sits on top of them
    distances = cKDTree(dep).query(xyz[len(dep) :])[0]
    assert distances.min() < 4.0 and np.mean(distances < 1.0) < 0.01
    copies = build_assembly(read_clean_structure(WITH_ASSEMBLY)).record
    assert copies["assembly_copies"] >= 1
    lone = build_assembly(read_clean_structure(LONE)).record
    assert not lone["used"] and lone["reason"]
    capped = build_assembly(structure, max_atoms=4000).record
    assert not capped["used"] and capped["reason"].startswith("over 4000 atoms")


def test_an_assembly_that_mkdssp_refuses_falls_back_with_its_reason() -> None:
    # 3odu's crystal neighbours continue a β-sheet across copies; mkdssp 4.2 then writes
    # duplicate struct_sheet_range keys and exits 1, so curation would lose every map of it
    built = checked_assembly(read_clean_structure(STRUCTURES / "3odu.pdb.gz"))
    assert not built.record["used"]
    assert (
        "Duplicate Key" in built.record["reason"]
        and "deposited model alone" in built.record["reason"]
    )
    ok = checked_assembly(read_clean_structure(CRYSTAL)).record
    assert ok["used"] and ok["dssp_fallbacks"] == []


def test_composition_counts_chains_residues_and_nucleotides() -> None:
    counts = model_composition(read_clean_structure(CRYSTAL))
    assert counts["protein_chains"] == 2 and counts["nucleotides"] == 0
    assert 350 < counts["protein_residues"] < 400


def test_dna_lies_against_the_model_and_stays_out_of_it() -> None:
    atoms = load_atoms(LONE)
    xyz, weight, record = nucleic_acid_duplex(np.random.default_rng(3), atoms)
    assert record["base_pairs"] * 2 * 15 < len(xyz) <= record["base_pairs"] * 2 * 21
    assert set(np.unique(weight)) <= {6.0, 7.0, 8.0, 15.0}  # C, N, O, P
    distance = cKDTree(atoms.xyz).query(xyz)[0]
    assert distance.min() >= 3.0 and distance.min() < 12.0  # packed against the surface
    axis, centre = np.array(record["axis"]), np.array(record["centre"])
    offset = xyz - centre
    radial = np.linalg.norm(offset - np.outer(offset @ axis, axis), axis=1)
    assert radial.max() < 10.5  # a 20 Å duplex


def test_depositor_mask_and_solvent_noise() -> None:
    rng = np.random.default_rng(0)
    z, y, x = np.indices((40, 40, 40)) - 20
    clean = np.exp(-(x**2 + y**2 + z**2) / 50.0)  # a blob in an empty box
    weight, record = depositor_mask(rng, clean, 1.5, 50)
    assert weight.min() == 0.0 and weight.max() == 1.0 and weight[20, 20, 20] == 1.0
    assert 0 < record["inside_fraction"] < 0.5
    noise, params = solvent_noise(rng, (32, 32, 32), 2.0, 6.0, 8)
    assert noise.std() == pytest.approx(1.0, rel=0.2)
    assert SOLVENT_SNR[0] <= params["snr"] <= SOLVENT_SNR[1]


def test_emdb_entries_are_reproducible_and_spread(tmp_path: Path) -> None:
    rows = simulate_structures(
        [CRYSTAL], tmp_path / "a", maps_per_structure=2, seed=5, profile="emdb"
    )
    simulate_structures([CRYSTAL], tmp_path / "b", maps_per_structure=2, seed=5, profile="emdb")

    def digests(root: Path) -> dict[str, str]:
        return {
            p.relative_to(root).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(root.rglob("*"))
            if p.is_file()
        }

    assert digests(tmp_path / "a") == digests(tmp_path / "b")
    low, high = (float(r["resolution"]) for r in rows)
    assert 5.0 <= low < 7.5 <= high <= 10.0
    mirror = LocalMirror.at(tmp_path / "a")
    model = gemmi.read_structure(str(mirror.model_path("1a22")))
    assert len(model[0]) > 2 and mirror.model_path("1a22").name.endswith(".cif.gz")
    for row in rows:
        record = json.loads(
            (
                tmp_path / "a" / "emdb/structures" / row["emdb_id"] / "other/simulation.json"
            ).read_text()
        )
        p = record["parameters"]
        assert p["profile"] == "emdb" and p["noise"]["model"] == "solvent"
        assert p["voxel_size"] <= NYQUIST_FRACTION * p["resolution"] + 1e-6
        assert record["assembly"]["used"]


def test_held_out_real_assemblies_are_not_derived_for_training(
    tmp_path: Path, realdata: Path
) -> None:
    rows = derive_pairs(realdata, tmp_path, exclude=HELD_OUT_SOURCES)
    assert not {r["source_emdb_id"] for r in rows} & set(HELD_OUT_SOURCES)
    written = write_held_out(realdata, tmp_path, seed=1)
    assert written == held_out_ids()
    sources = {
        json.loads((tmp_path / "emdb/structures" / e / "other/derivation.json").read_text())[
            "source_emdb_id"
        ]
        for e in written
    }
    assert sources == set(HELD_OUT_SOURCES)
    config = (REPO / "config" / "offline.yaml").read_text()
    assert all(e in config for e in held_out_ids())  # pinned to the test split there


def test_an_assembly_entry_is_curated_with_its_neighbours_labelled(tmp_path: Path) -> None:
    from cryosse.cli import main as cli_main
    from cryosse.io.sample import read_sample

    mirror, out = tmp_path / "mirror", tmp_path / "out"
    simulate_entry(CRYSTAL, "EMD-92000", mirror, seed=1, profile="emdb")
    assert cli_main(["curate", "EMD-92000", "--mirror", str(mirror), "--out", str(out)]) == 0
    log = (out / "curation_log.tsv").read_text()
    samples = sorted((out / "entries" / "EMD-92000" / "samples").iterdir())
    assert samples, log
    # the deposited chains are the samples; their copies are redundant, not samples
    assert {s.name.rsplit("_", 1)[1] for s in samples} <= {"A", "B"}
    assert "chain_redundant" in log
    sample = read_sample(samples[0])
    chains = {row["chain"] for row in sample.residues}
    assert chains - {"A", "B"}, "no packed neighbour in the box"
    assert (sample.labels == 1).sum() > 100
