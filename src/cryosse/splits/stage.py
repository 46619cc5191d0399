"""Splits, as the workflow runs them: clusters, the ledger and folds, and the report (the
sample folders of a split or a fold are read through cryosse.io.run_layout).

Rules `cluster_sequences`, `assign_splits` and `split_report` call `run_clustering`,
`run_splits` and `run_split_report`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from cryosse.core.atomic import atomic_path, write_text_atomic
from cryosse.core.reasons import Reason
from cryosse.core.tsv import read_tsv
from cryosse.io.curation_log import read_log
from cryosse.io.run_layout import FOLD_PREFIX
from cryosse.io.sample import SampleMeta
from cryosse.splits.clusters import cluster_sequences, read_fasta, similar_pairs, write_fasta
from cryosse.splits.ledger import (
    Case,
    SplitSettings,
    cross_validation_folds,
    update_ledger,
    write_cv_table,
)
from cryosse.splits.published import read_test_chains
from cryosse.splits.report import CaseFacts, build_report, test_chain_status, write_report


def run_clustering(
    *,
    manifest: str | Path,
    fasta_out: str | Path,
    clusters_out: str | Path,
    links_out: str | Path,
    threads: int = 1,
) -> None:
    """Central-chain sequences of all samples -> FASTA, their MMseqs2 clusters (35 %), and the
    pairs an all-against-all search aligns at >= 35 % identity."""
    root = Path(manifest).parent
    sequences = {
        row["sample_id"]: SampleMeta.read(root / row["path"]).sequence for row in read_tsv(manifest)
    }
    members = cluster_sequences(sequences, threads=threads)
    pairs = similar_pairs(sequences, threads=threads)
    with atomic_path(fasta_out) as tmp:
        write_fasta(sequences, tmp)
    lines = ["sample_id\tcluster"] + [f"{sid}\t{members[sid]}" for sid in sorted(members)]
    write_text_atomic(clusters_out, "\n".join(lines) + "\n")
    write_text_atomic(
        links_out, "".join(f"{a}\t{b}\n" for a, b in (("sample_a", "sample_b"), *pairs))
    )


def _links(path: str | Path) -> list[tuple[str, str]]:
    return [(row["sample_a"], row["sample_b"]) for row in read_tsv(path)]


def _cases(manifest: str | Path, clusters_tsv: str | Path) -> list[Case]:
    clusters = {row["sample_id"]: row["cluster"] for row in read_tsv(clusters_tsv)}
    return [
        Case(
            row["sample_id"],
            row["emdb_id"],
            int(row.get("quality_bin") or 1),
            clusters[row["sample_id"]],
        )
        for row in read_tsv(manifest)
    ]


def run_splits(
    *,
    manifest: str | Path,
    clusters_tsv: str | Path,
    links_tsv: str | Path,
    ledger: str | Path,
    settings: dict[str, Any],
    main_out: str | Path,
    cv_out: str | Path,
) -> None:
    """Extend the split ledger with new samples (never moving one), publish it as the main
    split table, and draw the cross-validation folds."""
    split_settings = SplitSettings.from_config(settings)
    cases = _cases(manifest, clusters_tsv)
    links = _links(links_tsv)
    rows = update_ledger(ledger, cases, split_settings, links)
    write_text_atomic(main_out, Path(ledger).read_text(encoding="utf-8"))
    main = {row.sample_id: row.split for row in rows}
    roles = cross_validation_folds(cases, main, split_settings, links)
    write_cv_table(cv_out, roles, split_settings.n_folds)


def run_split_report(
    *,
    manifest: str | Path,
    fasta: str | Path,
    main_tsv: str | Path,
    cv_tsv: str | Path,
    curation_log: str | Path,
    tsv_out: str | Path,
    markdown_out: str | Path,
    threads: int = 1,
    test_chains: str | Path | None = None,
) -> list[dict[str, Any]]:
    """The split report; with a test-chain table (splits.test_chains), which of its cases the
    run has (cryosse.splits.report.test_chain_status)."""
    facts = {
        row["sample_id"]: CaseFacts(
            row["sample_id"],
            int(row.get("quality_bin") or 1),
            int(row["helix_residues"]),
            int(row["sheet_residues"]),
            int(row["background_residues"]),
        )
        for row in read_tsv(manifest)
    }
    main = {r["sample_id"]: r["split"] for r in read_tsv(main_tsv) if r["sample_id"] in facts}
    cv = {
        r["sample_id"]: [v for k, v in r.items() if k.startswith(FOLD_PREFIX)]
        for r in read_tsv(cv_tsv)
    }
    rows = build_report(facts, read_fasta(fasta), main, cv, threads=threads)
    bins = {f"bin {b}": sum(1 for f in facts.values() if f.quality_bin == b) for b in (1, 2, 3)}
    bins["bin 4 (excluded)"] = sum(
        1 for row in read_log(curation_log) if row.reason == Reason.QUALITY_BIN_4.value
    )
    pinned = None
    if test_chains:
        status = test_chain_status(read_test_chains(test_chains), main, read_log(curation_log))
        pinned = (str(test_chains), status)
    write_report(rows, tsv_out, markdown_out, bins, test_chains=pinned)
    return rows
