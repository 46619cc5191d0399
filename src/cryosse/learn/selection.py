"""The best run per loss: which setting of the training grid each loss keeps (rule
`select_best_runs`), from the runs' summaries (cryosse.learn.training.train_run)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from cryosse.core.run_grid import LOSSES
from cryosse.core.tsv import write_tsv

SELECTION_COLUMNS = ["loss", "run_id", "lr", "gamma", "best_epoch", "val_metric", "runs", "why"]


def select_best_runs(summaries: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Per loss, the run with the highest validation metric (ties: the earlier run in the grid
    order, i.e. the larger learning rate / smaller γ), with the reason spelled out."""
    rows = []
    for loss in LOSSES:
        runs = [s for s in summaries if s["loss"] == loss]
        if not runs:
            continue
        best = max(runs, key=lambda s: (s["best_val_metric"], -runs.index(s)))
        others = ", ".join(
            f"{s['run_id']} {s['best_val_metric']:.4f}" for s in runs if s is not best
        )
        rows.append(
            {
                "loss": loss,
                "run_id": best["run_id"],
                "lr": best["lr"],
                "gamma": "" if best["gamma"] is None else best["gamma"],
                "best_epoch": best["best_epoch"],
                "val_metric": f"{best['best_val_metric']:.4f}",
                "runs": len(runs),
                "why": f"highest {best['selection']} ({best['best_val_metric']:.4f} at epoch "
                f"{best['best_epoch']})" + (f"; others: {others}" if others else ""),
            }
        )
    return rows


def write_selection(rows: list[dict[str, Any]], tsv: str | Path) -> None:
    write_tsv(tsv, SELECTION_COLUMNS, rows)
