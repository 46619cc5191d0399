"""Pipeline-level steps that the Snakemake rules call: locate, curate, gather.

Layout of a run (results/<run>/):
    acquired/EMD-XXXX.json         where the entry's files are (or why it is excluded)
    entries/EMD-XXXX/              written atomically as a whole
        curation_log.tsv           this entry's rows
        timings.json               seconds per step
        samples/<sample_id>/       density.mrc, labels.mrc, residues.tsv, sample.json
    curation_log.tsv               every entry, model and chain: kept or excluded, with reason
    manifest.tsv                   one row per sample
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from cryosse.archive import HttpArchive, archive_from_config
from cryosse.atomic import atomic_directory, atomic_path, write_text_atomic
from cryosse.clusters import cluster_sequences, read_fasta, similar_pairs, write_fasta
from cryosse.config import settings_from
from cryosse.curate import curate_entry
from cryosse.curation_log import LogRow, read_log, write_log
from cryosse.entries import read_entry_table
from cryosse.ids import is_valid_emdb_id, normalize_emdb_id
from cryosse.locate import LocatedEntry, locate_entry
from cryosse.published import read_test_chains
from cryosse.reasons import Reason
from cryosse.settings import CurationSettings, ResolutionWindow
from cryosse.split_report import CaseFacts, build_report, test_chain_status, write_report
from cryosse.splits import (
    Case,
    SplitSettings,
    cross_validation_folds,
    update_ledger,
    write_cv_table,
)
from cryosse.tsv import read_tsv, write_tsv

# The training, evaluation and table stages import torch; they import it when they run, so
# acquisition and curation jobs (hundreds of them) start without it.

MANIFEST_COLUMNS = [
    "sample_id",
    "emdb_id",
    "pdb_id",
    "chain",
    "resolution",
    "nx",
    "ny",
    "nz",
    "central_nx",
    "central_ny",
    "central_nz",
    "helix_voxels",
    "sheet_voxels",
    "background_voxels",
    "helix_residues",
    "sheet_residues",
    "background_residues",
    "helix_similarity",
    "n_helices",
    "precision",
    "recall",
    "contour_source",
    "quality_bin",
    "path",
]


def split_entry_ids(raw_ids: list[str]) -> tuple[list[str], list[str]]:
    """(valid ids in canonical form, without duplicates, in order; invalid raw ids)."""
    valid: list[str] = []
    invalid: list[str] = []
    for raw in raw_ids:
        if is_valid_emdb_id(raw):
            canonical = normalize_emdb_id(raw)
            if canonical not in valid:
                valid.append(canonical)
        else:
            invalid.append(raw)
    return valid, invalid


def entry_ids_from_config(config: dict[str, Any]) -> list[str]:
    ids = list(config.get("entries") or [])
    table = config.get("entries_file")
    if table:
        ids += [record.emdb_id for record in read_entry_table(table)]
    return ids


def settings_section(config: dict[str, Any]) -> dict[str, Any]:
    """The parts of the config that decide a sample's content (not the entry list), so that
    Snakemake re-runs an entry only when these change, never because entries were added."""
    keys = ("resolution", "chains", "fit", "crop", "labels", "quality")
    return {key: config.get(key, {}) for key in keys}


class TransientDownloadError(RuntimeError):
    """Acquisition met network or server failures that a later run may not meet."""


def run_acquire(
    emdb_id: str,
    archive: dict[str, Any],
    download: dict[str, Any],
    resolution: dict[str, Any],
    out_json: str | Path,
    progress: bool = False,
) -> LocatedEntry:
    """Acquire one entry from the configured archive (mirror or HTTP) and record the result.
    Of the curation settings only the resolution window (config section `resolution`) decides
    what is acquired, so no other setting re-runs a download."""
    source = archive_from_config(archive, download, progress=progress)
    try:
        located = locate_entry(emdb_id, source, settings_from(ResolutionWindow, resolution))
    finally:
        if isinstance(source, HttpArchive):
            source.downloader.close()
    if isinstance(source, HttpArchive) and source.transient_failures:
        # Not an exclusion: the network or the server failed. No record is written, so the
        # Snakemake job fails and the next run (or the rule's retry) tries again.
        raise TransientDownloadError(
            f"{emdb_id}: {len(source.transient_failures)} download(s) failed after all "
            f"retries; run again later: " + "; ".join(source.transient_failures)
        )
    record = located.to_dict()
    if isinstance(source, HttpArchive):
        record["downloads"] = source.attempts
        record["download_summary"] = source.downloader.stats.summary_line()
    write_text_atomic(out_json, json.dumps(record, indent=2) + "\n")
    return located


def run_curate(located_json: str | Path, settings: dict[str, Any], out_dir: str | Path) -> None:
    located = LocatedEntry.from_dict(json.loads(Path(located_json).read_text()))
    curation = CurationSettings.from_config(settings)
    with atomic_directory(out_dir) as tmp:
        result = curate_entry(located, curation, tmp / "samples")
        (tmp / "samples").mkdir(exist_ok=True)
        write_log(tmp / "curation_log.tsv", result.rows)
        timings = {
            step: round(result.timings.get(step, 0.0), 4)
            for step in ("read", "dssp", "crop", "label", "quality", "write")
        }
        (tmp / "timings.json").write_text(json.dumps(timings, indent=2) + "\n")


def gather(
    entry_dirs: list[str | Path],
    invalid_ids: list[str],
    log_out: str | Path,
    manifest_out: str | Path,
) -> None:
    """Merge per-entry logs and sample metadata into the run's log and manifest."""
    rows = [
        LogRow(
            repr(raw),
            "",
            "",
            "entry",
            "excluded",
            Reason.INVALID_ID.value,
            f"{raw!r} is not a valid EMDB id (EMD- + 4-7 digits)",
        )
        for raw in invalid_ids
    ]
    manifest_rows: list[dict[str, Any]] = []
    root = Path(manifest_out).parent
    for entry_dir in entry_dirs:
        entry_dir = Path(entry_dir)
        rows += read_log(entry_dir / "curation_log.tsv")
        for meta_path in sorted((entry_dir / "samples").glob("*/sample.json")):
            manifest_rows.append(
                manifest_row(json.loads(meta_path.read_text()), meta_path.parent, root)
            )
    manifest_rows.sort(key=lambda row: row["sample_id"])
    write_log(log_out, rows)
    write_tsv(manifest_out, MANIFEST_COLUMNS, manifest_rows)


def manifest_row(meta: dict[str, Any], sample_dir: Path, root: Path) -> dict[str, Any]:
    start, stop = meta["central_start_xyz"], meta["central_stop_xyz"]
    central = [b - a for a, b in zip(start, stop, strict=True)]
    return {
        "sample_id": meta["sample_id"],
        "emdb_id": meta["emdb_id"],
        "pdb_id": meta["pdb_id"],
        "chain": meta["chain"],
        "resolution": meta["resolution"],
        "nx": meta["shape_xyz"][0],
        "ny": meta["shape_xyz"][1],
        "nz": meta["shape_xyz"][2],
        "central_nx": central[0],
        "central_ny": central[1],
        "central_nz": central[2],
        "helix_voxels": meta["voxels_central"]["helix"],
        "sheet_voxels": meta["voxels_central"]["sheet"],
        "background_voxels": meta["voxels_central"]["background"],
        "helix_residues": meta["residues_central"]["helix"],
        "sheet_residues": meta["residues_central"]["sheet"],
        "background_residues": meta["residues_central"]["background"],
        "helix_similarity": _na(meta["quality"]["helix_similarity"]),
        "n_helices": len(meta["quality"]["helices"]),
        "precision": meta["quality"]["precision"],
        "recall": meta["quality"]["recall"],
        "contour_source": meta["quality"]["contour_source"],
        "quality_bin": meta["quality"]["bin"],
        "path": str(sample_dir.resolve().relative_to(root.resolve())),
    }


def _na(value: object) -> object:
    return "NA" if value is None else value


def summarize_log(path: str | Path) -> str:
    """A short human summary of a curation log (counts per level, status and reason)."""
    counts: dict[tuple[str, str, str], int] = {}
    for row in read_log(path):
        key = (row.level, row.status, row.reason)
        counts[key] = counts.get(key, 0) + 1
    lines = [
        f"{level:6s} {status:9s} {reason:24s} {n}"
        for (level, status, reason), n in sorted(counts.items())
    ]
    return "\n".join(lines)


_manifest = read_tsv  # every table here is one


def run_clustering(
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
        row["sample_id"]: json.loads((root / row["path"] / "sample.json").read_text())["sequence"]
        for row in _manifest(manifest)
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
    return [(row["sample_a"], row["sample_b"]) for row in _manifest(path)]


def _cases(manifest: str | Path, clusters_tsv: str | Path) -> list[Case]:
    clusters = {row["sample_id"]: row["cluster"] for row in _manifest(clusters_tsv)}
    return [
        Case(
            row["sample_id"],
            row["emdb_id"],
            int(row.get("quality_bin") or 1),
            clusters[row["sample_id"]],
        )
        for row in _manifest(manifest)
    ]


def run_splits(
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
    run has (cryosse.split_report.test_chain_status)."""
    facts = {
        row["sample_id"]: CaseFacts(
            row["sample_id"],
            int(row.get("quality_bin") or 1),
            int(row["helix_residues"]),
            int(row["sheet_residues"]),
            int(row["background_residues"]),
        )
        for row in _manifest(manifest)
    }
    main = {r["sample_id"]: r["split"] for r in _manifest(main_tsv) if r["sample_id"] in facts}
    cv = {
        r["sample_id"]: [v for k, v in r.items() if k.startswith("fold_")]
        for r in _manifest(cv_tsv)
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


def split_sample_dirs(manifest: str | Path, main_tsv: str | Path, split: str) -> list[Path]:
    """Sample folders of one split of the main split table, in sample-id order."""
    root = Path(manifest).parent
    splits = {r["sample_id"]: r["split"] for r in _manifest(main_tsv)}
    return [
        root / row["path"]
        for row in sorted(_manifest(manifest), key=lambda r: r["sample_id"])
        if splits.get(row["sample_id"]) == split
    ]


def run_training(
    run_id: str,
    manifest: str | Path,
    main_tsv: str | Path,
    training: dict[str, Any],
    model: dict[str, Any],
    out_dir: str | Path,
    progress: bool = False,
) -> dict[str, Any]:
    from cryosse.grid import run_spec
    from cryosse.training import TrainSettings, train_run

    spec = run_spec(run_id, training)
    return train_run(
        spec,
        TrainSettings.from_config(training),
        model,
        split_sample_dirs(manifest, main_tsv, "train"),
        split_sample_dirs(manifest, main_tsv, "validation"),
        out_dir,
        progress=progress,
    )


def run_selection(summary_files: list[str | Path], tsv_out: str | Path) -> list[dict[str, Any]]:
    from cryosse.training import select_best_runs, write_selection

    summaries = [json.loads(Path(f).read_text()) for f in summary_files]
    rows = select_best_runs(summaries)
    write_selection(rows, tsv_out)
    return rows


def _best_runs(path: str | Path) -> dict[str, dict[str, Any]]:
    return {row["loss"]: row for row in _manifest(path)}


def run_evaluation(
    loss: str,
    best_runs: str | Path,
    manifest: str | Path,
    main_tsv: str | Path,
    cases_out: str | Path,
    predictions_out: str | Path,
    device: str = "auto",
) -> str:
    """Evaluate the run chosen for `loss` on the test split; return its run id."""
    from cryosse.evaluation import evaluate_checkpoint

    chosen = _best_runs(best_runs)[loss]
    checkpoint = Path(best_runs).parent / chosen["run_id"] / "best.pt"
    test_dirs = split_sample_dirs(manifest, main_tsv, "test")
    Path(predictions_out).mkdir(parents=True, exist_ok=True)
    evaluate_checkpoint(checkpoint, test_dirs, cases_out, predictions_out, device=device)
    return chosen["run_id"]


def run_baseline_evaluation(
    name: str, manifest: str | Path, main_tsv: str | Path, cases_out: str | Path
) -> None:
    """One baseline (cryosse.baselines) on the test split, in the models' cases.tsv format."""
    from cryosse.evaluation import evaluate_baselines

    evaluate_baselines(name, split_sample_dirs(manifest, main_tsv, "test"), cases_out)


def run_tables(
    best_runs: str | Path,
    case_files: list[str | Path],
    table1_md: str | Path,
    baseline_files: list[str | Path] | None = None,
    test_chains: str | Path | None = None,
) -> None:
    """Table 1, Table 2 and the paired tests as TSV, Markdown and HTML in one folder; the
    baselines' cases (<name>/cases.tsv) as rows / columns beside the losses. With a test-chain
    table that gives published F1 (splits.test_chains) and any of its cases in the test set:
    `table2_paper` (ours beside the paper, per case) and `paper_differences` (ours − paper)."""
    from cryosse.evaluation import read_cases
    from cryosse.tables import (
        PAPER_TABLES,
        best_loss,
        paired_tests,
        paper_comparison,
        table1,
        table2,
        write_table,
    )

    chosen = _best_runs(best_runs)
    results = {Path(f).parent.name: read_cases(f) for f in case_files}
    baselines = {Path(f).parent.name: read_cases(f) for f in baseline_files or []}
    out = Path(table1_md).parent
    rows1 = table1(results, chosen, baselines)
    write_table(
        rows1, "Table 1: weighted-average voxel F1 per loss and baseline (test set)", out / "table1"
    )
    write_table(
        table2(results, best_loss(rows1), baselines), "Table 2: per test case", out / "table2"
    )
    write_table(paired_tests(results), "Paired tests: per-case sheet F1", out / "paired_tests")
    for stem in PAPER_TABLES:  # none left from an earlier run with other test chains
        for suffix in (".tsv", ".md", ".html"):
            (out / stem).with_suffix(suffix).unlink(missing_ok=True)
    if not test_chains:
        return
    cases, differences = paper_comparison(results, read_test_chains(test_chains))
    if cases:
        source = Path(test_chains).name
        title = f"Table 2 beside the paper: F1 (%) of the {source} cases in this test set"
        write_table(cases, title, out / "table2_paper")
        title = "Beside the paper: ours − published F1 (percentage points), paired"
        write_table(differences, title, out / "paper_differences")


def cv_sample_dirs(manifest: str | Path, cv_tsv: str | Path, fold: int, role: str) -> list[Path]:
    """Sample folders with `role` (train / validation / test) in cross-validation fold `fold`."""
    root = Path(manifest).parent
    roles = {r["sample_id"]: r.get(f"fold_{fold}") for r in _manifest(cv_tsv)}
    return [
        root / row["path"]
        for row in sorted(_manifest(manifest), key=lambda r: r["sample_id"])
        if roles.get(row["sample_id"]) == role
    ]


def run_cv_training(
    fold: int,
    loss: str,
    best_runs: str | Path,
    manifest: str | Path,
    cv_tsv: str | Path,
    training: dict[str, Any],
    model: dict[str, Any],
    out_dir: str | Path,
) -> dict[str, Any]:
    """Retrain the setting chosen for `loss` on the main split, on one CV fold's training set."""
    from cryosse.grid import run_spec
    from cryosse.training import TrainSettings, train_run

    spec = run_spec(_best_runs(best_runs)[loss]["run_id"], training)
    return train_run(
        spec,
        TrainSettings.from_config(training),
        model,
        cv_sample_dirs(manifest, cv_tsv, fold, "train"),
        cv_sample_dirs(manifest, cv_tsv, fold, "validation"),
        out_dir,
    )


def run_cv_evaluation(
    fold: int,
    checkpoint: str | Path,
    manifest: str | Path,
    cv_tsv: str | Path,
    cases_out: str | Path,
    device: str = "auto",
) -> None:
    from cryosse.evaluation import evaluate_checkpoint

    test_dirs = cv_sample_dirs(manifest, cv_tsv, fold, "test")
    evaluate_checkpoint(checkpoint, test_dirs, cases_out, device=device)


def run_cv_table(case_files: list[str | Path], stem: str | Path) -> None:
    """Supplementary Table S1: per loss, mean ± sd over the folds of the weighted F1."""
    from cryosse.evaluation import read_cases
    from cryosse.tables import cv_table, write_table

    by_loss: dict[str, dict[int, list]] = {}
    for path in case_files:
        path = Path(path)
        fold = int(path.parent.parent.name.removeprefix("fold_"))
        by_loss.setdefault(path.parent.name, {})[fold] = read_cases(path)
    write_table(cv_table(by_loss), "Table S1: cross-validation, mean ± sd over folds", stem)
