"""The report, as the workflow runs it: rule `html_report` calls `run_report` with its declared
inputs (workflow_scripts/html_report.py), and the page reads those files and no others.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Any

from cryosse.report.html import build_report
from cryosse.report.inputs import ReportInputs


def run_report(
    *,
    manifest: str | Path,
    curation_log: str | Path,
    split_report: str | Path,
    tables: Iterable[str | Path],
    cases: Iterable[str | Path],
    predictions: Iterable[str | Path],
    summaries: Iterable[str | Path],
    histories: Iterable[str | Path],
    shipped: str | Path,
    config: dict[str, Any],
    out_html: str | Path,
    plots: str | Path,
    record: str | Path | None = None,
) -> None:
    """The run's self-contained HTML page and its figures (see cryosse.report.inputs for what
    each input is); `record`: the loss study's committed record (docs/benchmark/)."""
    inputs = ReportInputs(
        manifest=Path(manifest),
        curation_log=Path(curation_log),
        split_report=Path(split_report),
        tables=ReportInputs.by_name(tables),
        cases=tuple(map(Path, cases)),
        predictions=tuple(map(Path, predictions)),
        summaries=tuple(map(Path, summaries)),
        histories=tuple(map(Path, histories)),
        shipped=Path(shipped),
    )
    build_report(inputs, config, out_html, plots, record=record)
