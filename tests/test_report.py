"""The HTML report: its opening banner (figures of a run trained for a few steps are labelled)
and the paper's Table 2 beside ours."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from cryosse.evaluation import read_cases
from cryosse.report import MIN_TRAINING_STEPS, plumbing_banner, training_steps
from cryosse.tables import PAPER_TABLES
from tests.conftest import REPO


def _run(results: Path, name: str, epochs: int, steps_per_epoch: int) -> None:
    folder = results / "training" / name
    folder.mkdir(parents=True)
    summary = {"epochs_run": epochs, "steps_per_epoch": steps_per_epoch, "train_cases": 3}
    (folder / "summary.json").write_text(json.dumps(summary))


def test_banner_when_no_run_trained_long_enough(tmp_path: Path) -> None:
    _run(tmp_path, "CE_lr0.001", 2, 3)
    _run(tmp_path, "FL_DL_g2_lr0.001", 3, 4)
    assert training_steps(tmp_path) == [6, 12]
    assert "only prove the plumbing" in plumbing_banner(training_steps(tmp_path))
    assert "at most 12 optimisation steps" in plumbing_banner([6, 12])


def test_no_banner_once_a_run_trained_long() -> None:
    assert plumbing_banner([10, MIN_TRAINING_STEPS]) == ""
    assert plumbing_banner([]) == ""


def test_report_puts_our_f1_beside_the_papers_when_its_cases_are_there(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """make_tables' real path and the report, with and without splits.test_chains: the paper's
    Table 2 beside ours only when on and a listed case is in the test set; off, unchanged."""
    from cryosse import report
    from cryosse.curation_log import write_log
    from cryosse.dataset import run_tables
    from cryosse.evaluation import CaseResult, write_cases
    from cryosse.tsv import write_tsv

    monkeypatch.setattr(report, "make_plots", lambda results, plots: [])  # figures: elsewhere
    paper = REPO / "config" / "paper_test_set.tsv"
    tables = tmp_path / "tables"
    files = []
    for loss, f1 in (("CE", 0.8), ("FL_DL", 0.7)):
        path = tmp_path / "evaluation" / loss / "cases.tsv"
        path.parent.mkdir(parents=True)
        write_cases(
            [
                CaseResult(sid, 6.1, 529, 43, 343, 80, 100, 100, 4, 10, 10, f1, 0.4, 0.9, None)
                for sid in ("EMD-5168_3mfp_A", "EMD-8518_5u8s_A")
            ],
            path,
        )
        files.append(path)
    write_tsv(
        tmp_path / "best_runs.tsv",
        ["loss", "run_id", "gamma"],
        [
            {"loss": "CE", "run_id": "CE_lr0.001", "gamma": ""},
            {"loss": "FL_DL", "run_id": "FL_DL_g1_lr0.001", "gamma": "1"},
        ],
    )
    write_tsv(
        tmp_path / "manifest.tsv",
        ["sample_id", "emdb_id", "helix_residues", "sheet_residues", "background_residues"],
        [
            {
                "sample_id": "EMD-8518_5u8s_A",
                "emdb_id": "EMD-8518",
                "helix_residues": 529,
                "sheet_residues": 43,
                "background_residues": 343,
            }
        ],
    )
    write_log(tmp_path / "curation_log.tsv", [])

    def build(test_chains: Path | None, cases: list[Path]) -> tuple[dict[str, bytes], str]:
        run_tables(tmp_path / "best_runs.tsv", cases, tables / "table1.md", [], test_chains)
        report.build_report(tmp_path, {"run": "t"}, tmp_path / "report.html")
        written = {p.name: p.read_bytes() for p in sorted(tables.iterdir())}
        return written, (tmp_path / "report.html").read_text()

    off, off_html = build(None, files)
    on, on_html = build(paper, files)
    assert "Beside the paper" not in off_html and "Beside the paper" in on_html
    assert {k: v for k, v in on.items() if k in off} == off  # Tables 1, 2, tests unchanged
    assert set(on) - set(off) == {f"{s}.{x}" for s in PAPER_TABLES for x in ("tsv", "md", "html")}
    row = on["table2_paper.tsv"].decode().splitlines()
    assert len(row) == 2 and row[1].startswith("8518_5U8S_A\tEMD-8518_5u8s_A\t6.1\t6.1\t")
    # CE helix: ours 80.0 beside the published 76.2; FL_DL residue helix 90.0 beside 88.2
    assert "\t80.0\t76.2\t" in row[1] and "\t90.0\t88.2\t" in row[1]
    assert "<td>8518_5U8S_A</td>" in on_html and "<td>3.80</td>" in on_html  # 80.0 - 76.2
    # Off again, or on with no listed case in the test set: no comparison, nothing stale left.
    assert build(None, files) == (off, off_html)
    for path in files:
        cases = [c for c in read_cases(path) if c.sample_id != "EMD-8518_5u8s_A"]
        write_cases(cases, path)
    absent, absent_html = build(paper, files)
    assert not set(absent) - set(off) and "Beside the paper" not in absent_html
