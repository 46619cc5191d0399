"""Training, as the workflow runs it: one run of the grid, the best run per loss, and the
retraining of each loss's setting on the cross-validation folds.

Rules `train_model`, `select_best_runs` and `train_cv` call `run_training`, `run_selection` and
`run_cv_training`.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from cryosse.core.run_grid import run_spec, seed_run_id
from cryosse.io.run_layout import fold_roles, read_best_runs, sample_dirs, split_roles
from cryosse.learn.device import require_gpu
from cryosse.learn.selection import select_best_runs, write_selection
from cryosse.learn.settings import TrainSettings
from cryosse.learn.training import train_run


def chosen_run_id(best_runs: str | Path, loss: str, seed: int, training: dict[str, Any]) -> str:
    """The run of the setting chosen for `loss` (on the first seed) with `seed`."""
    return seed_run_id(read_best_runs(best_runs)[loss]["run_id"], seed, training)


def check_job_device(training: dict[str, Any]) -> None:
    """Before any work: a job that asked for a GPU gets one or fails with one line."""
    require_gpu(bool(training.get("gpu")), str(training.get("device", "auto")))


def run_training(
    *,
    run_id: str,
    manifest: str | Path,
    main_tsv: str | Path,
    training: dict[str, Any],
    model: dict[str, Any],
    out_dir: str | Path,
    progress: bool = False,
) -> dict[str, Any]:
    """One run of the grid on the main split's training and validation samples."""
    check_job_device(training)
    roles = split_roles(main_tsv)
    return _train(run_id, training, model, manifest, roles, out_dir, progress)


def run_selection(*, summary_files: list[str | Path], tsv_out: str | Path) -> list[dict[str, Any]]:
    """The best run of each loss's grid (training/best_runs.tsv)."""
    summaries = [json.loads(Path(f).read_text()) for f in summary_files]
    rows = select_best_runs(summaries)
    write_selection(rows, tsv_out)
    return rows


def run_cv_training(
    *,
    fold: int,
    run_id: str,
    manifest: str | Path,
    cv_tsv: str | Path,
    training: dict[str, Any],
    model: dict[str, Any],
    out_dir: str | Path,
) -> dict[str, Any]:
    """Retrain `run_id` (the setting chosen for its loss on the main split) on one CV fold's
    training set."""
    check_job_device(training)
    return _train(run_id, training, model, manifest, fold_roles(cv_tsv, fold), out_dir)


def _train(
    run_id: str,
    training: dict[str, Any],
    model: dict[str, Any],
    manifest: str | Path,
    roles: dict[str, str],
    out_dir: str | Path,
    progress: bool = False,
) -> dict[str, Any]:
    """Train `run_id` on the samples whose role is train, selecting on those of validation."""
    return train_run(
        run_spec(run_id, training),
        TrainSettings.from_config(training),
        model,
        sample_dirs(manifest, roles, "train"),
        sample_dirs(manifest, roles, "validation"),
        out_dir,
        progress=progress,
    )
