"""The split report's Markdown (cryosse.splits.report.write_report) as HTML: headings,
paragraphs, and its tables as tables. A small parser for that one writer's Markdown, not a
general one: pipe tables, '#' headings, blank-line paragraphs.
"""

from __future__ import annotations

import html
import re


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
