"""One self-contained HTML report of a run: tables, plots, dataset, curation log, config, versions.

Images are embedded as base64 PNG, so the file can be mailed or archived alone. The plots are
also kept as PNG files in results/<run>/plots/. What the page reads is given to it
(cryosse.report.inputs.ReportInputs, the rule's declared inputs); the Definitions are
cryosse.report.glossary's, Tables 1 and 2 cryosse.report.tables_html's, the split report
cryosse.report.markdown's and the figures cryosse.report.figures'.
"""

from __future__ import annotations

import base64
import html
import json
import platform
from collections import Counter
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import numpy as np
import yaml

from cryosse import __version__
from cryosse.core.atomic import write_text_atomic
from cryosse.core.classes import BACKGROUND, CLASS_NAMES, SCORED_CLASSES
from cryosse.core.tsv import read_tsv
from cryosse.curate.dssp import mkdssp_version
from cryosse.evaluate.study_tables import PUBLISHED_SOURCE, table1_cells
from cryosse.io.curation_log import read_log
from cryosse.report.figures import make_plots
from cryosse.report.glossary import definitions
from cryosse.report.inputs import ReportInputs
from cryosse.report.markdown import split_report_html
from cryosse.report.tables_html import breakable, table1_section, table2_section
from cryosse.splits.clusters import mmseqs_version

STYLE = """body{font-family:system-ui,sans-serif;max-width:1100px;margin:2em auto;color:#222}
table{border-collapse:collapse;font-size:12px;margin:1em 0}td,th{border:1px solid #ccc;
padding:2px 6px;text-align:right}th{background:#f3f3f3}img{max-width:100%}
pre{background:#f7f7f7;padding:8px;font-size:11px;overflow:auto}h1{font-size:1.6em}
.banner{background:#fff3cd;border:1px solid #e0b000;padding:10px 14px;margin:1em 0}
th{vertical-align:bottom}.wide{overflow-x:auto}.leakage{font-weight:bold}td.text,th.text,
table.table1 td:nth-child(-n+2),table.table1 tr:first-child th:nth-child(-n+2){text-align:left}
dl.definitions{display:grid;grid-template-columns:10em 1fr;gap:4px 12px;font-size:14px}
dl.definitions dt{font-weight:bold}dl.definitions dd{margin:0}
table.table1,table.table2{font-size:11px}table.table1 td,table.table1 th,table.table2 td,
table.table2 th{padding:1px 3px}
table.table2 td:first-child{text-align:left}
.breakout{width:min(1360px,calc(100vw - 40px));position:relative;left:50%;
transform:translateX(-50%);overflow-x:auto}
.real{background:#e8f4ea;border:1px solid #5a9a68;padding:4px 14px;margin:1em 0}
.real .source{font-weight:bold}"""


PAPER_NOTE = (
    "<h2>Beside the paper</h2><p>The cases of the test-chain table "
    "(<code>splits.test_chains</code>; <code>config/paper_test_set.tsv</code> is Table 2 of "
    "Mu et al. 2024) that this run's test set holds: our F1 beside the published one, in "
    "percent, for every loss the table gives (<code>_ours</code>, <code>_paper</code>), then "
    "the paired difference ours − published over the cases where both are defined: n, mean, "
    "standard deviation, and how many cases are higher, lower or equal at the paper's 0.1 %. "
    "The boxes and the training set are this run's: where <code>ca_hso</code> (helix / sheet / "
    "other Cα in our central box) differs from <code>ca_hso_paper</code>, the two figures are "
    "not scored on the same box.</p>"
)


def _image(path: Path, alt: str) -> str:
    data = base64.b64encode(path.read_bytes()).decode()
    return (
        f'<figure><img alt="{html.escape(alt)}" src="data:image/png;base64,{data}">'
        f"<figcaption>{html.escape(alt)}</figcaption></figure>"
    )


def _versions() -> dict[str, str]:
    import snakemake
    import torch

    return {
        "cryosse": __version__,
        "python": platform.python_version(),
        "torch": torch.__version__,
        "numpy": np.__version__,
        "snakemake": snakemake.__version__,
        "mkdssp": mkdssp_version() or "not found",
        "mmseqs": mmseqs_version() or "not found",
    }


MIN_TRAINING_STEPS = 5000


def training_steps(summaries: Iterable[Path]) -> list[int]:
    """Optimisation steps each finished run took (epochs run × steps per epoch), in path order."""
    steps = []
    for path in sorted(summaries):
        summary = json.loads(path.read_text())
        # written by cryosse.learn.training since the summary records it; before, one step per case
        per_epoch = summary.get("steps_per_epoch") or summary.get("train_cases", 0)
        steps.append(int(summary.get("epochs_run", 0)) * int(per_epoch))
    return steps


def plumbing_banner(steps: list[int]) -> str:
    """The warning a report opens with when no run trained long enough to mean anything."""
    if not steps or max(steps) >= MIN_TRAINING_STEPS:
        return ""
    return (
        "<div class='banner'><strong>These numbers only prove the plumbing.</strong> Every "
        f"network of this run was trained for at most {max(steps):,} optimisation steps (a "
        f"figure here means something from about {MIN_TRAINING_STEPS:,}; the paper's runs took "
        "~100 epochs of 1,246 steps). The tables show that the pipeline runs end to end, not "
        "how well any loss segments helices or sheets: compare with the baseline rows.</div>"
    )


def _scrolling(fragment: str) -> str:
    """A table fragment whose table scrolls inside the page when wider than it (Table 2 has
    two columns per predictor), rather than widening the page."""
    return fragment.replace("<table>", "<div class='wide'><table>").replace(
        "</table>", "</table></div>"
    )


STUDY_FIGURES = (
    ("f1_per_loss.png", "Loss study: F1 per loss, mean over seeds, map-level 95 % intervals"),
    ("paired_maps.png", "Loss study: per map, FL_DL against each loss (sheet voxel F1)"),
    ("learning_curves.png", "Loss study: training loss beside the validation metric"),
    ("f1_by_resolution.png", "Loss study: F1 per test case against resolution"),
)
REGENERATE = "python -m benchmarks.loss_study tables"


def study_record_html(record: Path | None) -> str:
    """The loss study's committed record (docs/benchmark/: cryosse.report.study's tables and
    figures), marked as such: what a real run gives, beside a run's own numbers."""
    from cryosse.evaluate.record import recorded_summaries

    heading = "<h2>What a real run gives: the loss study</h2>"
    if record is None or not record.is_dir():
        return heading + "<p>No study record here (docs/benchmark/ is absent).</p>"
    live = len(recorded_summaries(record))
    tables = record / "tables"
    summary_path = tables / "record.json"
    if not live:
        return heading + (
            "<p>The committed study record (docs/benchmark/) holds no finished run yet: its "
            "runs are committed as they finish (docs/benchmark/README.md).</p>"
        )
    if not summary_path.is_file():
        return heading + (
            f"<p>The committed study record (docs/benchmark/) holds {live} finished runs and "
            f"no tables yet: <code>{REGENERATE}</code> makes them.</p>"
        )
    summary = json.loads(summary_path.read_text(encoding="utf-8"))
    parts = [
        heading,
        "<div class='real'><p><span class='source'>From the committed study record "
        f"(docs/benchmark/), {summary['runs']} runs of {summary['planned']}, "
        f"{summary['test_maps']} test maps</span> — not this run's numbers: the paper's losses "
        f"trained for {' or '.join(f'{n:,}' for n in summary.get('steps', [])) or 'NA'} "
        "optimisation steps each at CPU scale (docs/benchmark/README.md). "
        + html.escape(summary["coverage"])
        + "</p>",
    ]
    if live != summary["runs"]:
        parts.append(
            f"<p><b>The record now holds {live} runs; these tables were made from "
            f"{summary['runs']}.</b> <code>{REGENERATE}</code> brings them up to date.</p>"
        )
    if (tables / "table1.tsv").is_file() and read_tsv(tables / "table1.tsv"):
        cells = [table1_cells(r) for r in read_tsv(tables / "table1.tsv")]
        head = "".join(f"<th>{breakable(k)}</th>" for k in cells[0])
        body = "".join(
            "<tr>" + "".join(f"<td>{breakable(v)}</td>" for v in row.values()) + "</tr>"
            for row in cells
        )
        parts.append(
            "<h3>Loss study, Table 1: mean ± sd over seeds [map-level 95 % interval], the "
            f"published beside (<code>paper</code>: {html.escape(PUBLISHED_SOURCE)})</h3>"
            f"<div class='wide'><table class='table2'><thead><tr>{head}</tr></thead>"
            f"<tbody>{body}</tbody></table></div>"
        )
    if (tables / "claims.html").is_file():
        claims = (tables / "claims.html").read_text(encoding="utf-8")
        parts.append(_scrolling(claims.replace("<h2>", "<h3>").replace("</h2>", "</h3>")))
    for name, caption in STUDY_FIGURES:
        if (record / "figures" / name).is_file():
            parts.append(_image(record / "figures" / name, caption))
    details = [
        _scrolling((tables / f"{name}.html").read_text(encoding="utf-8").replace("h2>", "h3>"))
        for name in ("coverage", "runs", "figures")
        if (tables / f"{name}.html").is_file()
    ]
    if details:
        parts.append(
            "<details><summary>What the record holds and lacks, every recorded run, the maps "
            "and seeds behind each figure</summary>" + "".join(details) + "</details>"
        )
    parts.append("</div>")
    return "".join(parts)


def shipped_model_html(folder: Path) -> str:
    """The shipped model on one test map of the run (cryosse.segment.showcase): its slices and
    its scores beside the baselines, labelled as the shipped model's."""
    heading = "<h2>The shipped model on a test map of this run</h2>"
    facts_path = folder / "showcase.json"
    if not facts_path.is_file():
        return ""
    facts = json.loads(facts_path.read_text(encoding="utf-8"))
    if facts.get("map") is None:
        return heading + f"<p>Not shown: {html.escape(str(facts.get('why')))}.</p>"
    run = facts.get("checkpoint", {}).get("run", {})
    trained = (
        f"{run.get('loss')}, γ {run.get('gamma')}, epoch {facts['checkpoint'].get('epoch')}"
        if run
        else "see docs/model_card.md"
    )
    rows = read_tsv(folder / "scores.tsv")
    columns = ["predictor", "sample_id", *[c for c in rows[0] if "_f1_" in c]] if rows else []
    head = "".join(f"<th>{breakable(c)}</th>" for c in columns)
    for row in rows:  # the shipped model named as such, the baselines as the tables name them
        row["predictor"] = (
            "shipped model (cryosse default)"
            if row["predictor"] == "shipped model"
            else f"baseline:{row['predictor']}"
        )
    body = "".join(
        "<tr>" + "".join(f"<td>{breakable(r[c])}</td>" for c in columns) + "</tr>" for r in rows
    )
    text = (
        "<div class='real'><p><span class='source'>The model the package ships</span> "
        f"(<code>cryosse segment</code> without <code>--model</code>; trained {trained}; "
        "docs/model_card.md), not a network of this run: it segments "
        f"{html.escape(str(facts['map']))} ({html.escape(str(facts['emdb_id']))}, "
        f"{facts.get('resolution')} Å), the first map of this run's test split. The slices are "
        "<code>cryosse figure</code>'s (masks in the ChimeraX script's colours, the fitted "
        f"model {html.escape(str(facts['structure']))}'s DSSP dashed); the scores are "
        "<code>cryosse evaluate</code>'s on each chain's central box, beside the baselines "
        "that learned nothing, scored on the same boxes.</p>"
    )
    table = f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"
    figure = (
        _image(folder / "figure.png", f"The shipped model on {facts['map']}")
        if (folder / "figure.png").is_file()
        else ""
    )
    return heading + text + table + figure + "</div>"


# The tables after Table 2: the HTML fragments make_tables and cv_table write, with the title
# the page shows where one is missing.
FRAGMENTS = (
    ("claims", "The paper's claims"),
    ("ranks", "P(rank 1)"),
    ("seeds", "Seeds"),
    ("by_resolution", "F1 by resolution band"),
    ("by_quality", "F1 by quality bin"),
    ("by_kind", "F1 by map kind"),
    ("paired_tests", "Tests"),
    ("table_s1", "Table S1"),
)


def _dataset_parts(manifest: list[dict[str, str]]) -> list[str]:
    """Samples, entries and the residue classes' shares in the central boxes."""
    residues = {
        k: sum(int(r[f"{k}_residues"]) for r in manifest)
        for k in (*SCORED_CLASSES, CLASS_NAMES[BACKGROUND])
    }
    total = sum(residues.values()) or 1
    return [
        "<h2>Dataset</h2>",
        f"<p>{len(manifest)} samples from {len({r['emdb_id'] for r in manifest})} entries; "
        "residues in the central boxes: "
        + ", ".join(f"{k} {100 * v / total:.1f} %" for k, v in residues.items())
        + ".</p>",
    ]


def _table_parts(inputs: ReportInputs, config: dict[str, Any]) -> list[str]:
    """Table 1 (the headline) and what its columns mean, Table 2, the other tables, and the
    paper comparison where make_tables wrote it."""
    parts = [
        table1_section(inputs.table("table1.tsv"), inputs.table("table1.md"))
        or "<h2>Table 1</h2><p>not computed</p>",
        definitions(config),
        table2_section(inputs.table("table2.tsv"), inputs.table("table2.md"))
        or "<h2>Table 2</h2><p>not computed</p>",
    ]
    for name, title in FRAGMENTS:
        fragment = inputs.table(f"{name}.html")
        if fragment is not None:
            parts.append(_scrolling(fragment.read_text(encoding="utf-8")))
        else:
            parts.append(f"<h2>{title}</h2><p>not computed</p>")
    paper = inputs.paper_tables()
    if paper and all(fragment.exists() for fragment in paper):  # splits.test_chains, cases
        parts.append(PAPER_NOTE)
        parts += [_scrolling(fragment.read_text(encoding="utf-8")) for fragment in paper]
    return parts


def _curation_log_parts(curation_log: Path) -> list[str]:
    """How many log rows of each level, status and reason."""
    counts = Counter((r.level, r.status, r.reason) for r in read_log(curation_log))
    return [
        "<h2>Curation log</h2><table><thead><tr><th>level</th><th>status</th>"
        "<th>reason</th><th>count</th></tr></thead><tbody>",
        *(
            f"<tr><td>{html.escape(a)}</td><td>{html.escape(b)}</td><td>{html.escape(c)}</td>"
            f"<td>{n}</td></tr>"
            for (a, b, c), n in sorted(counts.items())
        ),
        "</tbody></table>",
    ]


def build_report(
    inputs: ReportInputs,
    config: dict[str, Any],
    out_html: str | Path,
    plots: str | Path,
    record: str | Path | None = None,
) -> None:
    """The run's report, its figures written into `plots`; `record`: the loss study's committed
    record (docs/benchmark/), shown near the top, marked as such, beside the run's own numbers."""
    config = json.loads(json.dumps(config, default=str))  # Snakemake's config holds wrappers
    figures = make_plots(inputs, Path(plots))
    run = html.escape(str(config.get("run", "")))
    parts = [
        f"<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'>"
        f"<title>cryosse report: {run}</title><style>{STYLE}</style></head><body>",
        f"<h1>cryosse report — run {run}</h1>",
        plumbing_banner(training_steps(inputs.summaries)),
        study_record_html(Path(record) if record else None),
        shipped_model_html(inputs.shipped) if inputs.shipped is not None else "",
        *_dataset_parts(read_tsv(inputs.manifest)),
        *_table_parts(inputs, config),
        "<h2>Figures</h2>",
        *(_image(png, caption) for png, caption in figures),
    ]
    if inputs.split_report is not None and inputs.split_report.exists():
        parts.append(split_report_html(inputs.split_report.read_text(encoding="utf-8")))
    parts += _curation_log_parts(inputs.curation_log)
    parts.append(
        "<h2>Software</h2><table><tbody>"
        + "".join(
            f"<tr><th>{html.escape(k)}</th><td>{html.escape(v)}</td></tr>"
            for k, v in _versions().items()
        )
        + "</tbody></table>"
    )
    parts.append(
        "<h2>Configuration</h2><pre>"
        + html.escape(yaml.safe_dump(config, sort_keys=False))
        + "</pre>"
    )
    parts.append("</body></html>")
    write_text_atomic(out_html, "\n".join(parts) + "\n")
