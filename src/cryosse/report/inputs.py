"""What a run's report reads: the declared inputs of rule html_report, by role.

The report finds nothing by walking the run's folder: each file it reads is one of these paths
(and the sample folders the manifest names). The one exception is the paper comparison
(`paper_tables`): make_tables writes it only when a listed case is in the test set, and
Snakemake has no optional output, so it is looked for beside the declared tables.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from cryosse.evaluate.tables import PAPER_TABLES


@dataclass(frozen=True)
class ReportInputs:
    """manifest, curation_log and split_report as gather_dataset and split_report write them;
    tables by file name (table1.tsv, claims.html, table_s1.html, ...); cases and predictions
    of each loss's first-seed run (evaluation/<loss>/seed_<seed>/); every training run's
    summary.json and history.csv; the shipped model's folder."""

    manifest: Path
    curation_log: Path
    split_report: Path | None = None
    tables: Mapping[str, Path] = field(default_factory=dict)
    cases: tuple[Path, ...] = ()
    predictions: tuple[Path, ...] = ()
    summaries: tuple[Path, ...] = ()
    histories: tuple[Path, ...] = ()
    shipped: Path | None = None

    @staticmethod
    def by_name(paths: Iterable[str | Path]) -> dict[str, Path]:
        """Table files keyed by their file name, as `tables` takes them."""
        return {Path(p).name: Path(p) for p in paths}

    def table(self, name: str) -> Path | None:
        """A declared table file (e.g. "table1.tsv") that exists, else None."""
        path = self.tables.get(name)
        return path if path is not None and path.exists() else None

    def paper_tables(self) -> list[Path]:
        """The paper comparison's HTML fragments, beside Table 1 (see the module)."""
        table1 = self.tables.get("table1.html")
        return [] if table1 is None else [table1.parent / f"{s}.html" for s in PAPER_TABLES]


def by_loss(paths: Iterable[Path]) -> dict[str, Path]:
    """evaluation/<loss>/seed_<seed>/<file>: each path under its loss, in path order."""
    return {p.parent.parent.name: p for p in sorted(paths)}
