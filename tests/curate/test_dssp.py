"""Real mkdssp on real models: class mapping, whole-model assignment, loud failure."""

from pathlib import Path

import gemmi
import pytest

from cryosse.core.classes import BACKGROUND, HELIX, SHEET, code_to_class
from cryosse.core.reasons import DataError, EnvironmentFault, Reason
from cryosse.curate.dssp import assign_dssp
from cryosse.io.structure import protein_residues, read_model


@pytest.mark.parametrize(
    ("code", "cls"),
    [
        ("H", HELIX),
        ("G", HELIX),
        ("I", HELIX),
        ("E", SHEET),
        ("B", SHEET),
        ("T", BACKGROUND),
        ("S", BACKGROUND),
        ("P", BACKGROUND),
        ("", BACKGROUND),
    ],
)
def test_paper_class_mapping(code: str, cls: int) -> None:
    assert code_to_class(code) == cls


def test_headerless_pdb_gets_codes_for_every_chain(realdata: Path) -> None:
    # 5me2.pdb: haemoglobin, 4 chains, all-helical; ligands (haem) are ignored.
    structure = read_model(realdata / "EMD-3488/5me2.pdb")
    codes = assign_dssp(structure)
    residues = protein_residues(structure)
    assert {key[0] for key in codes} == {"A", "B", "C", "D"}
    assert sum(1 for r in residues if r.key in codes) == len(residues)
    helix = sum(code_to_class(c) == HELIX for c in codes.values())
    assert helix / len(codes) > 0.7
    assert not any(code_to_class(c) == SHEET for c in codes.values())


def test_sheet_protein(realdata: Path) -> None:
    # The spike N-terminal domain is mostly β: the PDB file has no HEADER line at all.
    structure = read_model(realdata / "EMD-21457/6vyb_Ndom.pdb")
    codes = assign_dssp(structure)
    sheet = sum(code_to_class(c) == SHEET for c in codes.values())
    assert sheet / len(codes) > 0.3


def test_inter_chain_ladders_need_the_whole_model(realdata: Path) -> None:
    """A β-ladder between two chains is only found when DSSP sees both chains."""
    structure = read_model(realdata / "EMD-21457/6vyb_Ndom.pdb")
    codes = assign_dssp(structure)
    # Split the single chain into two chains at a residue inside a long strand pair region:
    split = gemmi.read_structure(str(realdata / "EMD-21457/6vyb_Ndom.pdb"))
    split.remove_hydrogens()
    model = split[0]
    chain = model[0]
    second = gemmi.Chain("B")
    half = len(chain) // 2
    for res in list(chain)[half:]:
        second.add_residue(res)
    for _ in range(len(chain) - half):
        del chain[half]
    model.add_chain(second)
    both = assign_dssp(read_model_from(split))
    only_a = assign_dssp(read_model_from(split, keep="A"))
    sheet_both = sum(code_to_class(c) == SHEET for k, c in both.items() if k[0] == "A")
    sheet_alone = sum(code_to_class(c) == SHEET for c in only_a.values())
    assert sheet_both > sheet_alone
    assert sum(code_to_class(c) == SHEET for c in both.values()) == pytest.approx(
        sum(code_to_class(c) == SHEET for c in codes.values()), abs=6
    )


def read_model_from(structure: gemmi.Structure, keep: str | None = None) -> gemmi.Structure:
    copy = structure.clone()
    if keep is not None:
        for name in [ch.name for ch in copy[0] if ch.name != keep]:
            copy[0].remove_chain(name)
    copy.setup_entities()
    return copy


def test_ca_only_model_fails_loudly(realdata: Path) -> None:
    structure = read_model(realdata / "EMD-8518/A_fitted.pdb")
    structure.remove_ligands_and_waters()
    for chain in structure[0]:
        for res in chain:
            for name in [a.name for a in res if a.name != "CA"]:
                res.remove_atom(name, "*")
    with pytest.raises(DataError) as info:
        assign_dssp(structure)
    assert info.value.reason == Reason.DSSP_EMPTY


def test_missing_mkdssp_fails_the_job_with_a_clear_error(realdata: Path) -> None:
    # was a dssp_failed exclusion of every entry a compute node without DSSP curated
    structure = read_model(realdata / "EMD-8518/A_fitted.pdb")
    with pytest.raises(EnvironmentFault, match="apt-get install dssp"):
        assign_dssp(structure, executable="mkdssp-not-installed")


def test_gzipped_mmcif_model(realdata: Path) -> None:
    """A deposited wwPDB mmCIF (gzipped) from ../shared/structures goes through the same path."""
    path = realdata.parent / "structures" / "1a7g.cif.gz"
    structure = read_model(path)
    residues = protein_residues(structure)
    codes = assign_dssp(structure)
    assert len(residues) > 50
    assert sum(1 for r in residues if r.key in codes) >= 0.95 * len(residues)
    classes = {code_to_class(c) for c in codes.values()}
    assert classes == {BACKGROUND, HELIX, SHEET}


def test_residue_without_number_is_refused(tmp_path: Path) -> None:
    # gemmi reads a blank resSeq as seqid.num None: Residue.key and residue_id need a number
    path = tmp_path / "unnumbered.pdb"
    path.write_text(
        "ATOM      1  N   ALA A    A       0.000   1.400   3.000  1.00  0.00           N\n"
        "ATOM      2  CA  ALA A    A       1.000   2.000   3.000  1.00  0.00           C\n"
        "ATOM      3  C   ALA A    A       2.400   2.000   3.000  1.00  0.00           C\n"
        "END\n"
    )
    with pytest.raises(DataError) as caught:
        protein_residues(read_model(path))
    assert caught.value.reason == Reason.MODEL_UNREADABLE
    assert "no residue number" in str(caught.value)


def test_a_sheet_mkdssp_cannot_annotate_falls_back_to_its_standard_ranges(realdata: Path) -> None:
    # 1a4l (adenosine deaminase, 4 chains): mkdssp 4.2 --write-experimental exits 1 with
    # "Duplicate Key violation, cat: struct_sheet_range" (a curation exclusion of 50 simulated
    # maps until the fallback): its standard _struct_conf carries the assignment
    path = realdata.parent / "structures" / "1a4l.pdb.gz"
    assert path.is_file(), f"tests need the deposited models in {path.parent}"
    codes = assign_dssp(read_model(path))
    classes = [code_to_class(c) for c in codes.values()]
    assert {key[0] for key in codes} == {"A", "B", "C", "D"}
    assert classes.count(HELIX) > 500 and classes.count(SHEET) > 150


def test_the_standard_ranges_give_the_summary_s_classes(tmp_path: Path) -> None:
    # where both outputs work (the demo's models), the fallback's classes are the summary's
    import subprocess

    from cryosse.curate.dssp import _struct_conf_rows, _summary_rows, _write_dssp_input
    from tests.conftest import DEMO_MIRROR

    for model in sorted((DEMO_MIRROR / "pdb").glob("*.pdb.gz")):
        _write_dssp_input(read_model(model), tmp_path / "in.cif")
        for extra, out in (["--write-experimental"], "a.cif"), ([], "b.cif"):
            subprocess.run(
                ["mkdssp", "--output-format", "mmcif", *extra, tmp_path / "in.cif", tmp_path / out],
                check=True,
                capture_output=True,
            )
        summary = {(a, s): code_to_class(c) for a, s, c in _summary_rows(tmp_path / "a.cif")}
        ranges = {(a, s): code_to_class(c) for a, s, c in _struct_conf_rows(tmp_path / "b.cif")}
        assert summary, model
        assert summary == {key: ranges.get(key, BACKGROUND) for key in summary}, model
