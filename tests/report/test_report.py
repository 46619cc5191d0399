"""The HTML report: its opening banner (figures of a run trained for a few steps are labelled)
and the paper's Table 2 beside ours."""

from __future__ import annotations

import html
import json
import re
from pathlib import Path

import pytest

from cryosse.evaluate.evaluation import read_cases
from cryosse.evaluate.tables import PAPER_TABLES
from cryosse.report.html import MIN_TRAINING_STEPS, plumbing_banner, training_steps
from cryosse.report.inputs import ReportInputs
from tests.conftest import REPO
from tests.support.browser import headless_chromium


def _run(results: Path, name: str, epochs: int, steps_per_epoch: int) -> None:
    folder = results / "training" / name
    folder.mkdir(parents=True)
    summary = {"epochs_run": epochs, "steps_per_epoch": steps_per_epoch, "train_cases": 3}
    (folder / "summary.json").write_text(json.dumps(summary))


def _declared(results: Path) -> ReportInputs:
    """A results folder's files as rule html_report declares them (the tests' runs hold only
    the first seed, seed_0)."""
    evaluation, training = results / "evaluation", results / "training"
    return ReportInputs(
        manifest=results / "manifest.tsv",
        curation_log=results / "curation_log.tsv",
        split_report=results / "splits" / "report.md",
        tables=ReportInputs.by_name(sorted((results / "tables").glob("*"))),
        cases=tuple(sorted(evaluation.glob("*/seed_0/cases.tsv"))),
        predictions=tuple(sorted(evaluation.glob("*/seed_0/predictions"))),
        summaries=tuple(sorted(training.glob("*/summary.json"))),
        histories=tuple(sorted(training.glob("*/history.csv"))),
        shipped=results / "shipped_model",
    )


def _build(results: Path) -> None:
    """The report of `results`, as rule html_report builds it."""
    from cryosse.report import html as report

    report.build_report(
        _declared(results), {"run": "t"}, results / "report.html", results / "plots"
    )


def test_banner_when_no_run_trained_long_enough(tmp_path: Path) -> None:
    _run(tmp_path, "CE_lr0.001", 2, 3)
    _run(tmp_path, "FL_DL_g2_lr0.001", 3, 4)
    summaries = _declared(tmp_path).summaries
    assert training_steps(summaries) == [6, 12]
    assert "only prove the plumbing" in plumbing_banner(training_steps(summaries))
    assert "at most 12 optimisation steps" in plumbing_banner([6, 12])


def test_no_banner_once_a_run_trained_long() -> None:
    assert plumbing_banner([10, MIN_TRAINING_STEPS]) == ""
    assert plumbing_banner([]) == ""


def test_report_puts_our_f1_beside_the_papers_when_its_cases_are_there(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """make_tables' real path and the report, with and without splits.test_chains: the paper's
    Table 2 beside ours only when on and a listed case is in the test set; off, unchanged."""
    from cryosse.core.tsv import write_tsv
    from cryosse.evaluate.evaluation import CaseResult, write_cases
    from cryosse.evaluate.stage import run_tables
    from cryosse.io.curation_log import write_log
    from cryosse.report import html as report

    monkeypatch.setattr(report, "make_plots", lambda inputs, plots: [])  # figures: elsewhere
    paper = REPO / "config" / "paper_test_set.tsv"
    tables = tmp_path / "tables"
    files = []
    for loss, f1 in (("CE", 0.8), ("FL_DL", 0.7)):
        path = tmp_path / "evaluation" / loss / "seed_0" / "cases.tsv"
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
            {"loss": "CE", "run_id": "CE_lr0.001_s0", "gamma": ""},
            {"loss": "FL_DL", "run_id": "FL_DL_g1_lr0.001_s0", "gamma": "1"},
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
        run_tables(
            best_runs=tmp_path / "best_runs.tsv",
            case_files=cases,
            table1_md=tables / "table1.md",
            baseline_files=[],
            test_chains=test_chains,
        )
        _build(tmp_path)
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


def test_definitions_name_every_term_with_the_codes_numbers() -> None:
    """The Definitions section names each term of the tables, with the numbers the code and the
    run's config use (not copies that could drift)."""
    from cryosse.report.glossary import definitions

    text = definitions({"crop": {"padding": 12.0}})
    assert text.startswith("<h2 id='definitions'>Definitions</h2>")
    for term in (
        "Central box",
        "Voxel F1",
        "NA",
        "Weighted average",
        "Average",
        "Macro F1",
        "Micro F1",
        "Residue vote",
        "Bootstrap interval",
        "Chosen run",
        "Paired tests",
        "Leakage check",
    ):
        assert f"<dt>{term}</dt>" in text, term
    assert "plus 12\u00a0Å of padding" in text and "17\u00a0Å" not in text  # the run's config
    assert "plus 17\u00a0Å of padding" in definitions({})  # the default of cryosse.curate.settings
    assert "within 3\u00a0Å of its Cα" in text  # metrics.residue_votes
    assert "2,000 times (seed 0)" in text and "2.5th to 97.5th percentile" in text
    assert "the number of true voxels of the class" in text
    assert "baseline:" in text  # the baselines' note travels with the definitions


def test_the_definitions_claims_hold_in_the_code() -> None:
    """What the Definitions say the code does, checked against the code: the weights of the
    weighted average, the tie rule of the residue vote, the NA rule."""
    import numpy as np

    from cryosse.core.metrics import (
        mean_defined,
        micro_f1,
        residue_votes,
        voxel_f1,
        weighted_average,
    )

    # A case with false positives only: F1 0, weight 0 -> not in the weighted average.
    assert weighted_average([1.0, 0.0], [10, 0]) == 1.0
    assert mean_defined([1.0, 0.0]) == 0.5  # but in the macro F1
    assert micro_f1([(10, 10, 10), (0, 10, 0)]) == 20 / 30  # and in the micro F1
    # No true, no predicted voxel of the class: NA, left out of the averages.
    nothing = np.zeros((3, 3, 3), dtype=np.int64)
    assert voxel_f1(nothing, nothing, np.ones_like(nothing, dtype=bool), 1) is None
    assert weighted_average([None, 0.5], [0, 4]) == 0.5
    # Ties go to the lower class id: one helix and one sheet voxel, 1 Å either side of the Cα.
    pred = np.zeros((1, 1, 3), dtype=np.int64)
    pred[0, 0] = [1, 0, 2]  # x = 0, 1, 2 (Å); the Cα sits on x = 1, a background voxel
    votes = residue_votes(pred, np.zeros(3), 1.0, np.array([[1.0, 0.0, 0.0]]), radius=1.0)
    assert votes.tolist() == [0]  # background 1, helix 1, sheet 1: background
    pred[0, 0] = [1, 2, 2]  # a clear majority wins
    assert residue_votes(pred, np.zeros(3), 1.0, np.array([[1.0, 0.0, 0.0]]), 1.0).tolist() == [2]
    pred[0, 0] = [1, 2, 0]  # x = 0 and 1 within reach of x = 0.5: helix 1, sheet 1 -> helix
    assert residue_votes(pred, np.zeros(3), 1.0, np.array([[0.5, 0.0, 0.0]]), 1.0).tolist() == [1]
    # No voxel within reach: background.
    far = np.array([[50.0, 50.0, 50.0]])
    assert residue_votes(np.ones((3, 3, 3), dtype=np.int64), np.zeros(3), 1.0, far).tolist() == [0]


STRUCTURES = REPO.parent / "shared" / "structures"


def _chain_sequences(files: list[Path]) -> dict[str, str]:
    from cryosse.io.structure import protein_residues, read_model

    sequences: dict[str, str] = {}
    for path in files:
        for residue in protein_residues(read_model(path)):
            key = f"{path.name.split('.')[0]}_{residue.chain}"
            sequences[key] = sequences.get(key, "") + residue.one_letter
    return {k: s for k, s in sequences.items() if len(s) >= 30}


def _write_splits(results: Path) -> list[dict]:
    """splits/report.tsv and .md as cryosse.splits.report writes them, for real chains (the
    leakage check runs the real mmseqs), with a test-chain section whose reason holds a '|'."""
    from cryosse.splits.report import CaseFacts, build_report, write_report

    files = sorted(STRUCTURES.glob("*.gz"))[:12]
    assert files, f"tests need {STRUCTURES}"
    sequences = _chain_sequences(files)
    ids = sorted(sequences)
    main = {sid: ("train", "validation", "test")[i % 3] for i, sid in enumerate(ids)}
    cv = {
        sid: ["train" if i % 2 else "test", "test" if i % 2 else "train"]
        for i, sid in enumerate(ids)
    }
    facts = {sid: CaseFacts(sid, 1 + i % 3, 30 + i, 10, 50) for i, sid in enumerate(ids)}
    rows = build_report(facts, sequences, main, cv)
    chains = [
        {
            "case": "8518_5U8S_A",
            "sample_id": "EMD-8518_5u8s_A",
            "status": "absent",
            "reason": "chain_redundant",
            "why": "chain_redundant: kept chain B | 100 % identical",
        },
    ]
    folder = results / "splits"
    folder.mkdir(parents=True)
    write_report(
        rows,
        folder / "report.tsv",
        folder / "report.md",
        {"bin 1": 4},
        ("paper_test_set.tsv", chains),
    )
    return rows


def _write_run(results: Path) -> None:
    """Every loss and baseline of the grid on two test cases, tables made by the real path
    (dataset.run_tables), a 12-step training summary, the split report."""
    from cryosse.core.run_grid import BASELINES, LOSSES
    from cryosse.core.tsv import write_tsv
    from cryosse.evaluate.evaluation import CaseResult, write_cases
    from cryosse.evaluate.stage import run_tables
    from cryosse.io.curation_log import write_log

    files, baselines = [], []
    for i, name in enumerate([*LOSSES, *BASELINES]):
        seed = "seed_0" if name in LOSSES else ""
        path = (
            results / ("evaluation" if name in LOSSES else "baselines") / name / seed / "cases.tsv"
        )
        path.parent.mkdir(parents=True)
        write_cases(
            [
                CaseResult(
                    sid,
                    6.1,
                    529,
                    43,
                    343,
                    80 + i,
                    100,
                    100,
                    4,
                    10,
                    10,
                    0.8 - i / 50,
                    0.4,
                    0.9,
                    None,
                )
                for sid in ("EMD-5168_3mfp_A", "EMD-8518_5u8s_A")
            ],
            path,
        )
        (files if name in LOSSES else baselines).append(path)
    chosen = [
        {
            "loss": loss,
            "run_id": f"{loss}_g2_lr0.001_s0" if "FL" in loss else f"{loss}_lr0.001_s0",
            "gamma": "2" if "FL" in loss else "",
        }
        for loss in LOSSES
    ]
    write_tsv(results / "best_runs.tsv", ["loss", "run_id", "gamma"], chosen)
    run_tables(
        best_runs=results / "best_runs.tsv",
        case_files=files,
        table1_md=results / "tables" / "table1.md",
        baseline_files=baselines,
    )
    columns = ["sample_id", "emdb_id", "helix_residues", "sheet_residues", "background_residues"]
    manifest = dict(zip(columns, ["EMD-8518_5u8s_A", "EMD-8518", 529, 43, 343], strict=True))
    write_tsv(results / "manifest.tsv", columns, [manifest])
    write_log(results / "curation_log.tsv", [])
    _run(results, "CE_lr0.001", 4, 3)
    _write_splits(results)


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    from cryosse.report import html as report

    results = tmp_path_factory.mktemp("run")
    _write_run(results)
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(report, "make_plots", lambda inputs, plots: [])  # figures: elsewhere
        _build(results)
    return results, (results / "report.html").read_text()


def _section(page: str, heading: str) -> str:
    start = page.index(f"<h2>{heading}</h2>")
    return page[start : page.index("<h2>", start + 1)]


def test_split_report_is_rendered_as_tables(built: tuple[Path, str]) -> None:
    from cryosse.core.tsv import read_tsv
    from cryosse.splits.report import REPORT_COLUMNS

    results, page = built
    section = _section(page, "Split report")
    assert "<pre" not in section and section.count("<table") == 2  # the splits, the test chains
    assert "<h3>Test chains (paper_test_set.tsv)</h3>" in section
    # every row of report.tsv is a row of the table, its identity in its own cell
    body = section.split("<tbody>")[1].split("</tbody>")[0]
    rows = read_tsv(results / "splits" / "report.tsv")
    assert body.count("<tr>") == len(rows) > 6
    for row, html_row in zip(rows, body.split("<tr>")[1:], strict=True):
        # the closest pair is named in the leakage line, not in the table
        shown = [k for k in REPORT_COLUMNS if k != "closest_train_pair"]
        assert re.findall(r"<td[^>]*>(.*?)</td>", html_row) == [row[k] for k in shown]
    assert any(r["max_identity_to_train"] not in ("NA", "") for r in rows)  # mmseqs ran
    markdown = (results / "splits" / "report.md").read_text().splitlines()
    leakage = next(line for line in markdown if line.startswith("Leakage (identity >= 0.35)"))
    assert f"<p class='leakage'>{html.escape(leakage)}</p>" in section
    # an escaped '|' inside a cell stays in its cell
    assert ">chain_redundant: kept chain B | 100 % identical</td></tr>" in section
    # text columns flush left, number columns right
    assert "<th class='text'>scheme</th>" in section and "<th>max identity to train</th>" in section


def test_the_report_keeps_its_banner_and_definitions(built: tuple[Path, str]) -> None:
    _, page = built
    assert page.index("only prove the plumbing") < page.index("<h2>Dataset")
    assert "at most 12 optimisation steps" in page
    # Table 1, then what its columns mean, then the other tables
    table1, definitions = page.index("<h2>Table 1:"), page.index("<h2 id='definitions'>")
    assert page.index("<h2>Dataset") < table1 < definitions < page.index("<h2>Table 2:")
    assert page.count("<h2>Table 1:") == 1 and "href='#definitions'" in page[table1:definitions]


def _measure(page: Path, selectors: dict[str, str], window: str = "1200,1600") -> dict:
    """Rendered widths (px) in headless Chromium: each selector's element, the body and the page;
    a script added to a copy of the page writes them into the DOM Chromium dumps."""
    script = (
        "<script>const out = {body: document.body.clientWidth,"
        " page: document.documentElement.scrollWidth, window: window.innerWidth};"
        f"for (const [name, css] of Object.entries({json.dumps(selectors)})) {{"
        " const e = document.querySelector(css);"
        " out[name] = e ? Math.max(e.scrollWidth, e.getBoundingClientRect().width) : null; }"
        "const d = document.createElement('div'); d.id = 'measured';"
        " d.textContent = JSON.stringify(out); document.body.appendChild(d);</script>"
    )
    probe = page.with_name(page.stem + "_probe.html")
    probe.write_text(page.read_text().replace("</body>", script + "</body>"))
    done = headless_chromium(probe, window, "--dump-dom")
    assert done.returncode == 0, done.stderr[-2000:]
    found = done.stdout.split('<div id="measured">')[1].split("</div>")[0]
    return json.loads(html.unescape(found))


def test_table1_fits_the_page_in_a_browser(built: tuple[Path, str]) -> None:
    """Every loss and baseline of the grid: Table 1 is no wider than the 1100 px body in a
    1200 px window, and the page does not scroll sideways. The fragment the table writer makes
    (tables/table1.html), set in the same page, does not fit: the measure can fail."""
    results, _ = built
    page = results / "report.html"
    fragment = (results / "tables" / "table1.html").read_text()
    with_fragment = results / "with_fragment.html"
    with_fragment.write_text(
        page.read_text().replace("</body>", f"<div id='fragment'>{fragment}</div></body>")
    )
    widths = _measure(with_fragment, {"table1": "table.table1", "fragment": "#fragment table"})
    assert widths["body"] == 1100
    assert widths["table1"] <= widths["body"], widths
    assert widths["fragment"] > widths["body"], widths  # the unchanged fragment overflows
    plain = _measure(page, {"table1": "table.table1", "leakage": "p.leakage"})
    assert plain["page"] <= plain["window"], plain  # no sideways scroll anywhere
    assert plain["leakage"] and plain["leakage"] > 0


def test_table2_fits_the_page_at_1400_px(built: tuple[Path, str]) -> None:
    """Every loss and baseline of the grid, helix and sheet each, and the residue columns:
    in a 1400 px window Table 2 is whole (no scrolling inside its frame) and the page does not
    scroll sideways; the fragment the table writer makes (tables/table2.html), put in the same
    frame, would not fit: the measure can fail."""
    results, page_html = built
    page = results / "report.html"
    assert "<th colspan='2'>FL_<wbr>DL voxel F1</th>" in page_html
    fragment = (results / "tables" / "table2.html").read_text()
    frame = "<div class='breakout' id='fragment'>"
    with_fragment = results / "with_table2_fragment.html"
    with_fragment.write_text(page.read_text().replace("</body>", f"{frame}{fragment}</div></body>"))
    selectors = {"table2": "table.table2", "frame": "div.breakout", "fragment": "#fragment table"}
    widths = _measure(with_fragment, selectors, "1400,1600")
    assert widths["table2"] <= widths["frame"] <= 1360, widths
    assert widths["fragment"] > 1360, widths
    plain = _measure(page, {"table2": "table.table2", "frame": "div.breakout"}, "1400,1600")
    assert plain["table2"] <= plain["frame"] and plain["page"] <= plain["window"], plain


def test_table1_has_residue_f1_and_the_published_figures_beside_it(
    built: tuple[Path, str],
) -> None:
    from cryosse.core.tsv import read_tsv
    from cryosse.evaluate.study_tables import PUBLISHED_TABLE1

    results, page = built
    rows = read_tsv(results / "tables" / "table1.tsv")
    # the residue vote's F1, weighted by true Cα: every case here has residue helix F1 0.9
    assert {r["residue_helix_weighted"] for r in rows} == {"0.900"}
    assert "<th colspan='3'>helix residue F1</th>" in page
    published = page[page.index("<h3>Beside Table 1: the published figures</h3>") :]
    assert published.index("</table>") < published.index("<h2 id='definitions'>")
    fl_dl = PUBLISHED_TABLE1["FL_DL"]
    assert f"<td>FL_DL</td><td>1</td><td>{fl_dl['voxel_helix']:.1f}</td>" in published
    assert "Bioinformatics Advances 4(1) vbae169" in published


def test_the_report_reads_its_declared_inputs_not_the_folder(
    built: tuple[Path, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """run_report (rule html_report) shows what it is given: a table on disk that the rule does
    not declare is "not computed", and the rest of the page is unchanged."""
    from cryosse.report import html as report
    from cryosse.report.stage import run_report

    results, page = built
    missing = "<h2>The paper's claims</h2><p>not computed</p>"
    assert missing not in page and (results / "tables" / "claims.html").is_file()
    monkeypatch.setattr(report, "make_plots", lambda inputs, plots: [])  # figures: elsewhere
    declared = _declared(results)
    out = results / "declared.html"
    run_report(
        manifest=declared.manifest,
        curation_log=declared.curation_log,
        split_report=results / "splits" / "report.md",
        tables=[p for name, p in declared.tables.items() if name != "claims.html"],
        cases=declared.cases,
        predictions=declared.predictions,
        summaries=declared.summaries,
        histories=declared.histories,
        shipped=results / "shipped_model",
        config={"run": "t"},
        out_html=out,
        plots=results / "plots",
    )
    text = out.read_text()
    assert missing in text
    shown = report._scrolling((results / "tables" / "claims.html").read_text(encoding="utf-8"))
    assert text.replace(missing, shown) == page
