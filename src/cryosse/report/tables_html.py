"""Tables 1 and 2 as the report shows them: grouped headers (one per class or predictor), small
type, ids that may wrap; and the published figures to read beside Table 1. The values are the
TSVs', unchanged."""

from __future__ import annotations

import html
import re
from collections.abc import Callable
from pathlib import Path

from cryosse.core.classes import SCORED_CLASSES
from cryosse.core.tsv import read_tsv
from cryosse.evaluate.study_tables import PUBLISHED_SOURCE, PUBLISHED_TABLE1


def breakable(text: str) -> str:
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
            top.append(f"<th rowspan='2'>{breakable(column)}</th>")
            continue
        name = group[column][0]
        if i == 0 or group.get(columns[i - 1], ("",))[0] != name:
            span = sum(1 for c in columns if c in group and group[c][0] == name)
            top.append(f"<th colspan='{span}'>{group_name(name)}</th>")
        sub.append(f"<th>{html.escape(group[column][1])}</th>")
    body = "".join(
        "<tr>" + "".join(f"<td>{breakable(row[c])}</td>" for c in columns) + "</tr>" for row in rows
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
    row; cryosse.evaluate.study_tables.PUBLISHED_TABLE1), to read beside Table 1."""
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


def _title(markdown: Path) -> str:
    """A table's title: the first line of its Markdown, without the '## '."""
    return markdown.read_text(encoding="utf-8").splitlines()[0].removeprefix("## ")


def table1_section(tsv: Path | None, markdown: Path | None) -> str | None:
    """Table 1 from its TSV (exact values) with the title of its Markdown; None if absent."""
    if tsv is None or markdown is None or not tsv.exists() or not markdown.exists():
        return None
    rows = read_tsv(tsv)
    title = _title(markdown)
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
        f"{_grouped_rows(rows, columns, group, breakable)}</table>"
        "</div><p>The exact values are in <code>tables/table2.tsv</code>.</p>"
    )


def table2_section(tsv: Path | None, markdown: Path | None) -> str | None:
    """Table 2 from its TSV with the title of its Markdown; None if absent."""
    if tsv is None or markdown is None or not tsv.exists() or not markdown.exists():
        return None
    rows = read_tsv(tsv)
    title = _title(markdown)
    return table2_html(rows, title) if rows else f"<h2>{html.escape(title)}</h2><p>(no rows)</p>"
