"""Evaluation, as the workflow runs it: the chosen run of each loss and each baseline on the
test split, the tables, and the cross-validation's test folds and Table S1.

Rules `evaluate_loss`, `evaluate_baseline`, `make_tables`, `evaluate_cv` and `cv_table` call
the functions of the same names here.
"""

from __future__ import annotations

from pathlib import Path

from cryosse.core.atomic import write_text_atomic
from cryosse.evaluate.evaluation import (
    CaseResult,
    cases_by_loss_and_seed,
    evaluate_baselines,
    evaluate_checkpoint,
    read_cases,
)
from cryosse.evaluate.study_files import write_study_tables
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
from cryosse.io.run_layout import fold_number, fold_roles, read_best_runs, sample_dirs, split_roles
from cryosse.learn.device import require_gpu
from cryosse.splits.published import read_test_chains


def run_evaluation(
    *,
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
    test_dirs = sample_dirs(manifest, split_roles(main_tsv), "test")
    Path(predictions_out).mkdir(parents=True, exist_ok=True)
    evaluate_checkpoint(checkpoint, test_dirs, cases_out, predictions_out, device=device)


def run_baseline_evaluation(
    *, name: str, manifest: str | Path, main_tsv: str | Path, cases_out: str | Path
) -> None:
    """One baseline (cryosse.evaluate.baselines) on the test split, in the models' cases.tsv
    format."""
    test_dirs = sample_dirs(manifest, split_roles(main_tsv), "test")
    evaluate_baselines(name, test_dirs, cases_out)


def run_tables(
    *,
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
    *,
    fold: int,
    checkpoint: str | Path,
    manifest: str | Path,
    cv_tsv: str | Path,
    cases_out: str | Path,
    device: str = "auto",
    gpu: bool = False,
) -> None:
    """A fold's retrained run on the fold's test samples."""
    require_gpu(gpu, device)
    test_dirs = sample_dirs(manifest, fold_roles(cv_tsv, fold), "test")
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
    by_loss: dict[str, dict[int, list[CaseResult]]] = {}
    for path in case_files:
        path = Path(path)
        fold = fold_number(path.parent.parent.name)
        by_loss.setdefault(path.parent.name, {})[fold] = read_cases(path)
    rows = cv_table(by_loss)
    title = "Table S1: cross-validation, mean ± sd over folds"
    write_text_atomic(tsv, to_tsv(rows))
    write_text_atomic(markdown, to_markdown(rows, title))
    write_text_atomic(html, to_html(rows, title) + "\n")
