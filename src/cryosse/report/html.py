"""One self-contained HTML report of a run: tables, plots, dataset, curation log, config, versions.

Images are embedded as base64 PNG, so the file can be mailed or archived alone. The plots are
also kept as PNG files in results/<run>/plots/.
"""

from __future__ import annotations

import base64
import csv
import html
import inspect
import json
import platform
import re
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import yaml

from cryosse import __version__
from cryosse.core.atomic import write_text_atomic
from cryosse.core.classes import BACKGROUND, CLASS_NAMES, SCORED_CLASSES
from cryosse.core.grid import LOSSES, seeds
from cryosse.core.metrics import residue_votes
from cryosse.core.tsv import read_tsv
from cryosse.curate.dssp import mkdssp_version
from cryosse.curate.settings import CurationSettings
from cryosse.evaluate.evaluation import read_cases
from cryosse.evaluate.statistics import bootstrap_ci, weighted_with_ci
from cryosse.evaluate.study import PUBLISHED_SOURCE, PUBLISHED_TABLE1, table1_cells
from cryosse.evaluate.tables import PAPER_TABLES, REFERENCE_LOSS
from cryosse.io.curation_log import read_log
from cryosse.io.sample import read_sample
from cryosse.learn.augment import load_box
from cryosse.report.plots import (
    confusion,
    f1_per_loss,
    gamma_sweep,
    learning_curves,
    sheet_scatter,
    slice_montage,
)
from cryosse.splits.clusters import MIN_SEQ_ID, mmseqs_version

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


BASELINE_NOTE = (
    "<p><b>Baselines.</b> The rows and columns marked <code>baseline:</code> are predictors "
    "that learned nothing, scored on the same test cases and truth as the losses "
    "(cryosse.evaluate.baselines): <code>threshold</code> calls every voxel above the contour "
    "helix "
    "(the author's contour, else mean + 1 σ of the non-zero voxels) and never sheet; "
    "<code>hessian</code> calls rods of the smoothed density helix and plates sheet; "
    "<code>all_helix</code> calls every voxel, hence every residue, helix. A loss's figure "
    "means something only where it is above them.</p>"
)


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


def _default(function: Any, name: str) -> Any:
    """A parameter's default, so that the definitions quote what the code does."""
    return inspect.signature(function).parameters[name].default


def definitions(config: dict[str, Any]) -> str:
    """What every figure of the tables means, as cryosse.core.metrics, .tables, .statistics and
    .evaluation compute it; the numbers are read from the code and the run's config."""
    crop = CurationSettings.from_config(config).crop
    radius = _default(residue_votes, "radius")
    resamples = _default(weighted_with_ci, "resamples")
    seed = _default(weighted_with_ci, "seed")
    level = _default(bootstrap_ci, "level")
    tail = (1.0 - level) / 2.0 * 100.0
    terms = [
        (
            "Central box",
            f"Each sample is one chain: its all-atom bounding box plus {crop.padding:g}\u00a0Å "
            f"of padding on every side, on a {crop.voxel_size:g}\u00a0Å grid. "
            "Every score is taken in the central box, the chain's box without the padding; "
            "the padding is context for the network and is never scored.",
        ),
        (
            "Voxel F1",
            "Per class (helix, sheet) and per case, over the voxels of the central box: "
            "F1 = 2 TP / (#predicted + #true) voxels of the class, the harmonic mean of "
            "precision TP / #predicted and recall TP / #true. The truth is the sample's voxel "
            "labels (a voxel takes the DSSP class of its nearest Cα within the label radius, "
            "else background).",
        ),
        (
            "NA",
            "A case with no true and no predicted voxel of a class has no F1 for it: NA, as "
            "in the paper, and it is left out of every average of that class. A case with "
            "predicted but no true voxels of a class has F1 = 0. Table 1's average is NA "
            "unless both weighted averages are defined; Table 2 shows NA where a predictor "
            "has no result for the case.",
        ),
        (
            "Weighted average",
            "<code>helix_weighted</code>, <code>sheet_weighted</code> (the paper's weighted "
            "average): Σ w<sub>i</sub> F1<sub>i</sub> / Σ w<sub>i</sub> over the test cases, "
            "with w<sub>i</sub> = the number of true voxels of the class in case i's central "
            "box, over the cases whose F1 is defined and whose weight is above zero. A case "
            "with no true voxel of the class weighs nothing, even with false positives "
            "(F1 = 0): those count in the macro and micro F1 only.",
        ),
        (
            "Average",
            "(weighted helix F1 + weighted sheet F1) / 2, as in the paper. The best loss is "
            "the loss (never a baseline) with the highest average; Table 2 gives its residue "
            "F1.",
        ),
        (
            "Macro F1",
            "The plain mean of the per-case F1 over the cases where it is defined: every "
            "case counts the same, a small chain as much as a large one.",
        ),
        (
            "Micro F1",
            "F1 of the voxel counts pooled over all test cases, 2 ΣTP / (Σ#predicted + "
            "Σ#true): large chains count more, and so do cases with false positives only.",
        ),
        (
            "Residue vote",
            "Every residue whose Cα lies in the central box takes the class with most votes "
            f"among the predicted voxels whose centres lie within {radius:g}\u00a0Å of its Cα "
            "(inclusive). Ties go to the lower class id, background before helix before "
            "sheet, so a residue is called helix or sheet only on a clear majority; a residue "
            "with no voxel within reach is background. Residue F1 compares these votes with "
            "the residues' DSSP classes by the voxel F1 formula, counting residues (Table 2: "
            "the best loss and each baseline).",
        ),
        (
            "Bootstrap interval",
            f"<code>_ci_low</code>, <code>_ci_high</code>: a {100 * level:g}\u00a0% percentile "
            "bootstrap of the weighted average. The cases that enter it are resampled with "
            f"replacement {resamples:,} times (seed {seed}), the weighted average recomputed "
            f"each time; the interval is the {tail:g}th to {100 - tail:g}th percentile. It "
            "says how much the figure depends on which cases are in the test set, not on the "
            "training run.",
        ),
        (
            "Chosen run",
            "<code>run_id</code>, <code>gamma</code>: per loss, the run (learning rate, γ) "
            "with the highest validation metric at its best epoch, the mean of the helix and "
            "sheet voxel F1, each a plain mean over the validation cases where it is defined "
            "(a class NA on every case counts 0); ties go to the earlier run of the grid. "
            "<code>training/best_runs.tsv</code> says why each run was chosen.",
        ),
        (
            "Paired tests",
            f"{REFERENCE_LOSS} against every other loss: the two-sided Wilcoxon signed-rank "
            "test on per-case sheet voxel F1 over the cases where both are defined, zero "
            "differences dropped; effect size the matched-pairs rank-biserial r = (W+ − W−) / "
            f"(W+ + W−) (+1: {REFERENCE_LOSS} higher on every case) and the median "
            "difference.",
        ),
        (
            "Leakage check",
            "In the split report: the highest sequence identity MMseqs2 finds between each "
            "evaluation set and its training set; it must stay below "
            f"{MIN_SEQ_ID:g}.",
        ),
    ]
    items = "".join(f"<dt>{term}</dt><dd>{text}</dd>" for term, text in terms)
    return (
        "<h2 id='definitions'>Definitions</h2><p>What the tables mean, as the code computes them "
        "(cryosse.core.metrics, cryosse.evaluate.tables, cryosse.evaluate.statistics, "
        "cryosse.evaluate.evaluation).</p>"
        f"<dl class='definitions'>{items}</dl>" + BASELINE_NOTE
    )


def _breakable(text: str) -> str:
    """Escaped text that may wrap after '_' and ':' (run ids, baseline names)."""
    return re.sub(r"([_:])", r"\1<wbr>", html.escape(text))


# Table 1's per-class columns are grouped under one header each: helix_weighted -> weighted.
CLASS_GROUPS = SCORED_CLASSES


def _group_of(column: str) -> tuple[str, str] | None:
    """A grouped Table 1 column: (group header, sub-header); None for an ungrouped one.
    helix_ci_low -> ("helix voxel F1", "ci low"); residue_sheet_weighted -> ("sheet residue
    F1", "weighted")."""
    head, _, rest = column.partition("_")
    if head in CLASS_GROUPS and rest:
        return f"{head} voxel F1", rest.replace("_", " ")
    cls, _, what = rest.partition("_")
    if head == "residue" and cls in CLASS_GROUPS and what:
        return f"{cls} residue F1", what.replace("_", " ")
    return None


def _grouped_rows(
    rows: list[dict[str, str]],
    columns: list[str],
    group: dict[str, tuple[str, str]],
    group_name: Callable[[str], str],
) -> str:
    """<thead> with one header spanning each run of columns of a group (and the ungrouped
    columns spanning both header rows), then <tbody>: the values, long ones allowed to wrap."""
    top, sub = [], []
    for i, column in enumerate(columns):
        if column not in group:
            top.append(f"<th rowspan='2'>{_breakable(column)}</th>")
            continue
        name = group[column][0]
        if i == 0 or group.get(columns[i - 1], ("",))[0] != name:
            span = sum(1 for c in columns if c in group and group[c][0] == name)
            top.append(f"<th colspan='{span}'>{group_name(name)}</th>")
        sub.append(f"<th>{html.escape(group[column][1])}</th>")
    body = "".join(
        "<tr>" + "".join(f"<td>{_breakable(row[c])}</td>" for c in columns) + "</tr>"
        for row in rows
    )
    return f"<thead><tr>{''.join(top)}</tr><tr>{''.join(sub)}</tr></thead><tbody>{body}</tbody>"


def table1_html(rows: list[dict[str, str]], title: str) -> str:
    """Table 1 narrow enough for the page: the per-class columns (voxel, then residue F1) under
    one header per class, the sub-headers short, run ids allowed to wrap. The values are
    table1.tsv's, unchanged."""
    columns = list(rows[0])
    group = {c: g for c in columns if (g := _group_of(c)) is not None}
    return (
        f"<h2>{html.escape(title)}</h2><table class='table1'>"
        f"{_grouped_rows(rows, columns, group, html.escape)}</table>"
        "<p>Each column is defined under <a href='#definitions'>Definitions</a>, just below; "
        "the exact values are in <code>tables/table1.tsv</code>.</p>" + published_html()
    )


def published_html() -> str:
    """The published DeepSSETracer 1.1 figures (Mu et al. 2024, Table 1 and Table 2's last
    row; cryosse.evaluate.study.PUBLISHED_TABLE1), to read beside Table 1."""
    keys = ("voxel_helix", "voxel_sheet", "voxel_average", "residue_helix", "residue_sheet")
    heads = ("helix voxel", "sheet voxel", "average", "helix residue", "sheet residue")
    body = "".join(
        f"<tr><td>{html.escape(loss)}</td><td>{'' if v.get('gamma') is None else v['gamma']}</td>"
        + "".join(f"<td>{'–' if v.get(k) is None else f'{v[k]:.1f}'}</td>" for k in keys)
        + "</tr>"
        for loss, v in PUBLISHED_TABLE1.items()
    )
    return (
        "<h3>Beside Table 1: the published figures</h3>"
        f"<p>{html.escape(PUBLISHED_SOURCE)}: weighted F1 in % on the paper's 62-case test "
        "set (the network at 1 Å, base 64, ~100 epochs); residue F1 is published for FL_DL "
        "only. Another test set and training budget than this run's: read it as the target, "
        "not as a paired comparison.</p><table class='published'><thead><tr><th>loss</th>"
        "<th>γ</th>" + "".join(f"<th>{h}</th>" for h in heads) + f"</tr></thead><tbody>{body}"
        "</tbody></table>"
    )


def _table1(tables: Path) -> str | None:
    """Table 1 from its TSV (exact values) with the title of its Markdown; None if absent."""
    tsv, markdown = tables / "table1.tsv", tables / "table1.md"
    if not tsv.exists() or not markdown.exists():
        return None
    rows = read_tsv(tsv)
    title = markdown.read_text(encoding="utf-8").splitlines()[0].removeprefix("## ")
    if not rows:
        return f"<h2>{html.escape(title)}</h2><p>(no rows)</p>"
    return table1_html(rows, title)


def _table2_group(column: str, predictors: list[str]) -> tuple[str, str] | None:
    """A Table 2 column's (group header, sub-header): Cα counts, each predictor's voxel F1,
    the residue F1 of the best loss and of each baseline."""
    if column.startswith("ca_"):
        return "Cα in the central box", column.removeprefix("ca_")
    for cls in CLASS_GROUPS:
        if column == f"residue_{cls}":
            return "residue F1, best loss", cls
        if column.startswith(f"residue_{cls}_"):
            return f"residue F1, {column.removeprefix(f'residue_{cls}_')}", cls
    for name in predictors:
        for cls in CLASS_GROUPS:
            if column == f"{name}_{cls}":
                return f"{name} voxel F1", cls
    return None


def table2_html(rows: list[dict[str, str]], title: str) -> str:
    """Table 2 within the page at 1400 px: one header per predictor over its helix and sheet
    columns, small type, ids that wrap, and up to 1,360 px of the window rather than the
    1,100 px of the text (narrower windows scroll it in place). The values are table2.tsv's,
    unchanged."""
    columns = list(rows[0])
    predictors = [
        c.rsplit("_", 1)[0]
        for c in columns
        if c.endswith("_helix") and not c.startswith(("ca_", "residue_"))
    ]
    group = {c: g for c in columns if (g := _table2_group(c, predictors)) is not None}
    return (
        f"<h2>{html.escape(title)}</h2><div class='breakout'><table class='table2'>"
        f"{_grouped_rows(rows, columns, group, _breakable)}</table>"
        "</div><p>The exact values are in <code>tables/table2.tsv</code>.</p>"
    )


def _table2(tables: Path) -> str | None:
    tsv, markdown = tables / "table2.tsv", tables / "table2.md"
    if not tsv.exists() or not markdown.exists():
        return None
    rows = read_tsv(tsv)
    title = markdown.read_text(encoding="utf-8").splitlines()[0].removeprefix("## ")
    return table2_html(rows, title) if rows else f"<h2>{html.escape(title)}</h2><p>(no rows)</p>"


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


SEPARATOR_ROW = re.compile(r"^\|(\s*:?-+:?\s*\|)+\s*$")


def _cells(line: str) -> list[str]:
    """The cells of one Markdown table row, '\\|' being a literal bar."""
    inner = line.strip().removeprefix("|").removesuffix("|")
    return [c.strip().replace("\\|", "|") for c in re.split(r"(?<!\\)\|", inner)]


def _markdown_table(lines: list[str]) -> str:
    header = _cells(lines[0])
    rows = [_cells(r) for r in lines[1:] if not SEPARATOR_ROW.match(r)]
    # a column without a single number is text, set flush left
    css = [
        "" if any(_is_number(r[i]) for r in rows) else " class='text'" for i in range(len(header))
    ]
    head = "".join(f"<th{k}>{html.escape(c)}</th>" for k, c in zip(css, header, strict=True))
    body = "".join(
        "<tr>"
        + "".join(f"<td{k}>{html.escape(c)}</td>" for k, c in zip(css, r, strict=True))
        + "</tr>"
        for r in rows
    )
    return (
        f"<div class='wide'><table class='splits'><thead><tr>{head}</tr></thead>"
        f"<tbody>{body}</tbody></table></div>"
    )


def split_report_html(markdown: str) -> str:
    """The split report (cryosse.splits.report.write_report's Markdown) as HTML: its headings,
    its paragraphs, and its tables as tables; the leakage line set apart."""
    parts: list[str] = []
    paragraph: list[str] = []
    table: list[str] = []

    def flush() -> None:
        if paragraph:
            text = " ".join(paragraph)
            css = " class='leakage'" if text.startswith("Leakage") else ""
            parts.append(f"<p{css}>{html.escape(text)}</p>")
            paragraph.clear()
        if table:
            parts.append(_markdown_table(table))
            table.clear()

    for line in markdown.splitlines():
        if line.startswith("|"):
            if paragraph:
                flush()
            table.append(line)
            continue
        if table:
            flush()
        if line.startswith("#"):
            flush()
            heading = line.lstrip("#").strip()
            level = "h2" if heading == "Split report" else "h3"
            parts.append(f"<{level}>{html.escape(heading)}</{level}>")
        elif line.strip():
            paragraph.append(line.strip())
        else:
            flush()
    flush()
    return "".join(parts)


def _csv(path: Path) -> list[dict[str, str]]:
    with open(path, encoding="utf-8", newline="") as handle:
        return list(csv.DictReader(handle))


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


def make_plots(results: Path, plots: Path, seed: int = 0) -> list[tuple[Path, str]]:
    """Every figure the run's outputs allow, of the losses' runs with `seed` (the first, which
    chose the settings); returns (png, caption) pairs."""
    plots.mkdir(parents=True, exist_ok=True)
    made: list[tuple[Path, str]] = []
    tables = results / "tables"
    evaluation = results / "evaluation"
    cases = {
        p.parent.parent.name: read_cases(p)
        for p in sorted(evaluation.glob(f"*/seed_{seed}/cases.tsv"))
    }
    if (tables / "table1.tsv").exists():
        f1_per_loss(read_tsv(tables / "table1.tsv"), plots / "f1_per_loss.png")
        made.append((plots / "f1_per_loss.png", "Weighted voxel F1 per loss, 95 % bootstrap CI"))
    if cases:
        confusion(cases, plots / "confusion.png")
        made.append((plots / "confusion.png", "Voxel confusion matrices (test, row-normalised)"))
    if "FL_DL" in cases:
        for other in [x for x in ("CE", "DL") if x in cases]:
            png = plots / f"sheet_scatter_FL_DL_vs_{other}.png"
            sheet_scatter(cases["FL_DL"], cases[other], ("FL_DL", other), png)
            made.append((png, f"Per-case sheet F1: FL_DL against {other}"))
    histories = {
        p.parent.name: _csv(p) for p in sorted((results / "training").glob("*/history.csv"))
    }
    if histories:
        learning_curves(histories, plots / "learning_curves.png")
        made.append(
            (
                plots / "learning_curves.png",
                "Training loss beside the validation metric, per epoch, every run",
            )
        )
    summaries = [json.loads(p.read_text()) for p in (results / "training").glob("*/summary.json")]
    if any(s["loss"] in ("FL", "FL_DL") for s in summaries):
        gamma_sweep(summaries, plots / "gamma_sweep.png")
        made.append((plots / "gamma_sweep.png", "Best validation metric against γ"))
    made += _montages(results, cases, plots, seed)
    return made


def _montages(
    results: Path, cases: dict[str, list], plots: Path, seed: int, limit: int = 3
) -> list[tuple[Path, str]]:
    made: list[tuple[Path, str]] = []
    table1 = results / "tables" / "table1.tsv"
    rows = (
        [r for r in read_tsv(table1) if r["average"] != "NA" and r["loss"] in LOSSES]
        if table1.exists()
        else []
    )
    if not rows:
        return made
    best = max(rows, key=lambda r: float(r["average"]))["loss"]
    manifest = {r["sample_id"]: r for r in read_tsv(results / "manifest.tsv")}
    for case in cases.get(best, [])[:limit]:
        sample_dir = results / manifest[case.sample_id]["path"]
        prediction = results / "evaluation" / best / f"seed_{seed}" / "predictions" / case.sample_id
        pred = read_sample_labels(prediction / "pred_labels.mrc")
        box = load_box(sample_dir)
        png = plots / f"montage_{case.sample_id}.png"
        slice_montage(
            read_sample(sample_dir).density, box.labels, pred, f"{case.sample_id} ({best})", png
        )
        made.append((png, f"{case.sample_id}: density / truth / {best} prediction, middle slice"))
    return made


def read_sample_labels(path: Path) -> np.ndarray:
    import mrcfile

    with mrcfile.open(path, permissive=True) as mrc:
        return np.array(mrc.data, dtype=np.int64)


# Fewer optimisation steps than this for every run and the figures only prove the plumbing:
# the first default model (180 steps) scored below a density threshold on real maps.
MIN_TRAINING_STEPS = 5000


def training_steps(results: Path) -> list[int]:
    """Optimisation steps each finished run of `results` took (epochs run × steps per epoch)."""
    steps = []
    for path in sorted((results / "training").glob("*/summary.json")):
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
        head = "".join(f"<th>{_breakable(k)}</th>" for k in cells[0])
        body = "".join(
            "<tr>" + "".join(f"<td>{_breakable(v)}</td>" for v in row.values()) + "</tr>"
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
    head = "".join(f"<th>{_breakable(c)}</th>" for c in columns)
    for row in rows:  # the shipped model named as such, the baselines as the tables name them
        row["predictor"] = (
            "shipped model (cryosse default)"
            if row["predictor"] == "shipped model"
            else f"baseline:{row['predictor']}"
        )
    body = "".join(
        "<tr>" + "".join(f"<td>{_breakable(r[c])}</td>" for c in columns) + "</tr>" for r in rows
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


def build_report(
    results: str | Path,
    config: dict[str, Any],
    out_html: str | Path,
    record: str | Path | None = None,
) -> None:
    """The run's report; `record`: the loss study's committed record (docs/benchmark/), shown
    near the top, marked as such, beside the run's own numbers."""
    results = Path(results)
    config = json.loads(json.dumps(config, default=str))  # Snakemake's config holds wrappers
    first_seed = seeds(config.get("training", {}))[0]
    figures = make_plots(results, results / "plots", first_seed)
    manifest = read_tsv(results / "manifest.tsv")
    log_counts = Counter(
        (r.level, r.status, r.reason) for r in read_log(results / "curation_log.tsv")
    )
    residues = {
        k: sum(int(r[f"{k}_residues"]) for r in manifest)
        for k in (*SCORED_CLASSES, CLASS_NAMES[BACKGROUND])
    }
    total = sum(residues.values()) or 1
    parts = [
        f"<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'>"
        f"<title>cryosse report: {html.escape(str(config.get('run', '')))}</title>"
        f"<style>{STYLE}</style></head><body>",
        f"<h1>cryosse report — run {html.escape(str(config.get('run', '')))}</h1>",
        plumbing_banner(training_steps(results)),
        study_record_html(Path(record) if record else None),
        shipped_model_html(results / "shipped_model"),
        "<h2>Dataset</h2>",
        f"<p>{len(manifest)} samples from {len({r['emdb_id'] for r in manifest})} entries; "
        "residues in the central boxes: "
        + ", ".join(f"{k} {100 * v / total:.1f} %" for k, v in residues.items())
        + ".</p>",
    ]
    # Table 1 is the headline; what its columns mean follows it, before the other tables.
    parts.append(_table1(results / "tables") or "<h2>Table 1</h2><p>not computed</p>")
    parts.append(definitions(config))
    tables = (
        ("claims", "The paper's claims"),
        ("ranks", "P(rank 1)"),
        ("seeds", "Seeds"),
        ("by_resolution", "F1 by resolution band"),
        ("by_quality", "F1 by quality bin"),
        ("paired_tests", "Tests"),
        ("table_s1", "Table S1"),
    )
    parts.append(_table2(results / "tables") or "<h2>Table 2</h2><p>not computed</p>")
    for name, title in tables:
        fragment = results / "tables" / f"{name}.html"
        if fragment.exists():
            parts.append(_scrolling(fragment.read_text(encoding="utf-8")))
        else:
            parts.append(f"<h2>{title}</h2><p>not computed</p>")
    paper = [results / "tables" / f"{name}.html" for name in PAPER_TABLES]
    if all(fragment.exists() for fragment in paper):  # splits.test_chains, cases present
        parts.append(PAPER_NOTE)
        parts += [_scrolling(fragment.read_text(encoding="utf-8")) for fragment in paper]
    parts.append("<h2>Figures</h2>")
    parts += [_image(png, caption) for png, caption in figures]
    split_report = results / "splits" / "report.md"
    if split_report.exists():
        parts.append(split_report_html(split_report.read_text(encoding="utf-8")))
    parts.append(
        "<h2>Curation log</h2><table><thead><tr><th>level</th><th>status</th>"
        "<th>reason</th><th>count</th></tr></thead><tbody>"
    )
    parts += [
        f"<tr><td>{html.escape(a)}</td><td>{html.escape(b)}</td><td>{html.escape(c)}</td>"
        f"<td>{n}</td></tr>"
        for (a, b, c), n in sorted(log_counts.items())
    ]
    parts.append("</tbody></table>")
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
