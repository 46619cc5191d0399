"""config/paper_test_set.tsv, the paper's Table 2 as data: checked cell by cell against the
paper's own text, and read by cryosse.splits.published."""

from __future__ import annotations

import csv
import re
from pathlib import Path

import pytest

from cryosse.core.ids import is_valid_emdb_id, is_valid_pdb_id, sample_id
from cryosse.splits.published import published_keys, read_test_chains
from tests.conftest import REPO

TABLE = REPO / "config" / "paper_test_set.tsv"
# The table's F1 columns, left to right: CE, FL, DL, FL_DL voxel (H-V, S-V), FL_DL residue.
F1_COLUMNS = [
    *[f"{loss}_voxel_{cls}" for loss in ("CE", "FL", "DL", "FL_DL") for cls in ("helix", "sheet")],
    "FL_DL_residue_helix",
    "FL_DL_residue_sheet",
]
CASE_LINE = re.compile(r"(\d{4})_(\w{4})_(\w+) \(([0-9.]+)\)")


def _table() -> tuple[list[str], list[dict[str, str]]]:
    text = TABLE.read_text(encoding="utf-8")
    comments = [line for line in text.splitlines() if line.startswith("#")]
    body = [line for line in text.splitlines(keepends=True) if not line.startswith("#")]
    return comments, list(csv.DictReader(body, delimiter="\t"))


def _paper_rows(paper_text: str) -> dict[str, list[str]]:
    """Table 2's case lines (both parts of the table), by their first cell."""
    rows = {}
    for line in paper_text.splitlines():
        cells = line.split("\t")
        if CASE_LINE.fullmatch(cells[0]):
            assert cells[0] not in rows, f"{cells[0]} twice in the paper"
            rows[cells[0]] = cells[1:]
    return rows


def test_62_cases_with_valid_ids_and_a_source() -> None:
    comments, rows = _table()
    assert len(rows) == 62
    source = " ".join(comments)
    assert "Mu Y" in source and "Bioinformatics Advances" in source and "vbae169" in source
    assert "Table 2" in source
    ids = set()
    for row in rows:
        assert is_valid_emdb_id(row["emdb_id"]) and row["emdb_id"].startswith("EMD-")
        assert is_valid_pdb_id(row["pdb_id"])
        ids.add(sample_id(row["emdb_id"], row["pdb_id"], row["chain"]))  # a usable chain name
        assert 5.0 <= float(row["resolution_A"]) <= 10.0  # the paper's window
    assert len(ids) == 62
    cases = read_test_chains(TABLE)
    assert [c.sample_id for c in cases][:2] == ["EMD-0090_6gyk_M", "EMD-1657_4v5h_AE"]
    assert cases[0].label == "0090_6GYK_M"
    assert len(published_keys(cases)) == 10


def test_every_row_is_the_papers_line_cell_for_cell(paper_text: str) -> None:
    """Each row's numbers are exactly the cells of its line in the paper's Table 2, in the
    columns the table's header gives, and every line of the table is a row."""
    assert "\t\tH-V\tS-V\tH-V\tS-V\tH-V\tS-V\tH-V\tS-V\tH-R\tS-R" in paper_text
    losses = "\t\tCE (%)\t\tFL (%)\t\tDL (%)\t\tFL_DL (%)\t\tFL_DL (%)"
    assert losses in paper_text, "Table 2's loss columns: CE, FL, DL, FL_DL, residue FL_DL"
    paper = _paper_rows(paper_text)
    assert len(paper) == 62
    _, rows = _table()
    labels = []
    for row in rows:
        label = (
            f"{row['emdb_id'].removeprefix('EMD-')}_{row['pdb_id']}_{row['chain']} "
            f"({row['resolution_A']})"
        )
        labels.append(label)
        assert label in paper, f"{label} is not a line of the paper's Table 2"
        counts, *f1 = paper[label]
        assert row["counts_published"] == counts
        assert [row[c] for c in F1_COLUMNS] == f1, label
        parts = counts.split("/")
        split = [row["ca_helix"], row["ca_sheet"], row["ca_other"]]
        assert split == (parts if len(parts) == 3 else ["", "", ""]), label
    assert labels == list(paper)  # the table's order, nothing left out


def test_reader_refuses_a_malformed_table(tmp_path: Path) -> None:
    bad = tmp_path / "bad.tsv"
    bad.write_text("# source\nemdb_id\tchain\nEMD-1234\tA\n")
    with pytest.raises(ValueError, match="pdb_id"):
        read_test_chains(bad)
    bad.write_text("emdb_id\tpdb_id\tchain\nEMD-12\t1abc\tA\n")
    with pytest.raises(ValueError, match="row 1"):
        read_test_chains(bad)
    bad.write_text("emdb_id\tpdb_id\tchain\nEMD-1234\t1abc\tA\n1234\t1ABC\tA\n")
    with pytest.raises(ValueError, match="twice"):
        read_test_chains(bad)
    bad.write_text("emdb_id\tpdb_id\tchain\tCE_voxel_helix\nEMD-1234\t1abc\tA\t0.62x\n")
    with pytest.raises(ValueError):
        read_test_chains(bad)
    good = tmp_path / "good.tsv"
    good.write_text("emdb_id\tpdb_id\tchain\textra\nemd-1234\t1ABC\tA\tx\n")
    (case,) = read_test_chains(good)
    assert case.sample_id == "EMD-1234_1abc_A" and case.f1 == {}
