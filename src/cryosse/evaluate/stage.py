"""Evaluation, as the workflow runs it: the chosen run of each loss and each baseline on the
test split, the tables, and the cross-validation's test folds and Table S1.

Rules `evaluate_loss`, `evaluate_baseline`, `make_tables`, `evaluate_cv` and `cv_table` call
the functions of the same names here.
"""

from __future__ import annotations

import json
from pathlib import Path

from cryosse.core.atomic import write_text_atomic
from cryosse.core.tsv import read_tsv, tsv_text
from cryosse.evaluate.evaluation import (
    cases_by_loss_and_seed,
    evaluate_baselines,
    evaluate_checkpoint,
    read_cases,
)
from cryosse.evaluate.study import PER_CASE_COLUMNS, by_stratum, case_counts, resolution_band
from cryosse.evaluate.tables import (
    PAPER_TABLES,
    best_loss,
    cv_table,
    paired_tests,
    paper_comparison,
    seed_table,
    table1,
    table2,
    to_html,
    to_markdown,
    to_tsv,
    write_table,
)
from cryosse.evaluate.verdicts import rank_probabilities, verdicts
from cryosse.learn.device import require_gpu
from cryosse.learn.stage import read_best_runs
from cryosse.splits.published import read_test_chains
from cryosse.splits.stage import cv_sample_dirs, split_sample_dirs


def run_evaluation(
    checkpoint: str | Path,
    manifest: str | Path,
    main_tsv: str | Path,
    cases_out: str | Path,
    predictions_out: str | Path,
    device: str = "auto",
    gpu: bool = False,
) -> None:
    """One trained run (a loss's chosen setting with one seed) on the test split."""

    require_gpu(gpu, device)
    test_dirs = split_sample_dirs(manifest, main_tsv, "test")
    Path(predictions_out).mkdir(parents=True, exist_ok=True)
    evaluate_checkpoint(checkpoint, test_dirs, cases_out, predictions_out, device=device)


def run_baseline_evaluation(
    name: str, manifest: str | Path, main_tsv: str | Path, cases_out: str | Path
) -> None:
    """One baseline (cryosse.evaluate.baselines) on the test split, in the models' cases.tsv
    format."""

    evaluate_baselines(name, split_sample_dirs(manifest, main_tsv, "test"), cases_out)


def write_study_tables(
    by_seed: dict[str, dict[int, list]], out: Path, manifest: str | Path | None
) -> None:
    """The study's record and statistics (cryosse.evaluate.study): per_case (TSV + JSON, the
    primary output), claims (the paper's, with verdicts), ranks, by_resolution, by_quality."""
    rows = {r["sample_id"]: r for r in read_tsv(manifest)} if manifest else {}
    records = case_counts(by_seed, rows)
    cells = [{k: "NA" if v is None else v for k, v in r.items()} for r in records]
    write_text_atomic(out / "per_case.tsv", tsv_text(PER_CASE_COLUMNS, cells))
    write_text_atomic(out / "per_case.json", json.dumps(records, indent=1) + "\n")
    write_table(
        verdicts(by_seed), "The paper's claims: verdicts (map-level bootstrap)", out / "claims"
    )
    write_table(
        rank_probabilities(by_seed), "P(rank 1) per loss (paired map resamples)", out / "ranks"
    )
    cases = {c.sample_id: c for seeds in by_seed.values() for v in seeds.values() for c in v}
    bands = {s: resolution_band(c.resolution) for s, c in cases.items()}
    write_table(
        by_stratum(by_seed, bands, "resolution"), "F1 by resolution band", out / "by_resolution"
    )
    bins = {s: str(rows[s].get("quality_bin", "NA")) for s in cases if s in rows}
    write_table(by_stratum(by_seed, bins, "quality_bin"), "F1 by quality bin", out / "by_quality")


def run_tables(
    best_runs: str | Path,
    case_files: list[str | Path],
    table1_md: str | Path,
    baseline_files: list[str | Path] | None = None,
    test_chains: str | Path | None = None,
    manifest: str | Path | None = None,
) -> None:
    """Table 1, Table 2 and the paired tests as TSV, Markdown and HTML in one folder; the
    baselines' cases (<name>/cases.tsv) as rows / columns beside the losses. Tables 1 and 2 and
    the tests are of each loss's first seed (the run chosen on validation); `seeds` gives every
    seed's mean ± sd with a map-level interval. With a test-chain
    table that gives published F1 (splits.test_chains) and any of its cases in the test set:
    `table2_paper` (ours beside the paper, per case) and `paper_differences` (ours − paper)."""

    chosen = read_best_runs(best_runs)
    by_seed = cases_by_loss_and_seed(case_files)
    results = {loss: next(iter(seeds.values())) for loss, seeds in by_seed.items()}
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
    title = "Seeds: weighted voxel F1 of each loss's chosen setting, mean ± sd over seeds"
    write_table(seed_table(by_seed), title, out / "seeds")
    write_study_tables(by_seed, out, manifest)
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


def run_cv_evaluation(
    fold: int,
    checkpoint: str | Path,
    manifest: str | Path,
    cv_tsv: str | Path,
    cases_out: str | Path,
    device: str = "auto",
    gpu: bool = False,
) -> None:

    require_gpu(gpu, device)
    test_dirs = cv_sample_dirs(manifest, cv_tsv, fold, "test")
    evaluate_checkpoint(checkpoint, test_dirs, cases_out, device=device)


def run_cv_table(
    *,
    case_files: list[str | Path],
    tsv: str | Path,
    markdown: str | Path,
    html: str | Path,
) -> None:
    """Supplementary Table S1 (TSV, Markdown, HTML): per loss, mean ± sd over the folds of the
    weighted F1."""

    by_loss: dict[str, dict[int, list]] = {}
    for path in case_files:
        path = Path(path)
        fold = int(path.parent.parent.name.removeprefix("fold_"))
        by_loss.setdefault(path.parent.name, {})[fold] = read_cases(path)
    rows = cv_table(by_loss)
    title = "Table S1: cross-validation, mean ± sd over folds"
    write_text_atomic(tsv, to_tsv(rows))
    write_text_atomic(markdown, to_markdown(rows, title))
    write_text_atomic(html, to_html(rows, title) + "\n")
