"""The figures of the report (matplotlib, Agg backend, PNG at 120 dpi).

f1_per_loss        weighted F1 of helix and sheet per loss, with bootstrap 95 % intervals
sheet_scatter      per-case sheet F1, FL_DL against another loss (diagonal = equal)
learning_curves    validation metric per epoch, one line per run
confusion          row-normalised 3 × 3 voxel confusion matrix per loss (test set)
gamma_sweep        validation metric against γ for FL and FL_DL, one line per learning rate
slice_montage      a central slice of a test case: density / truth / prediction
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
from matplotlib.colors import ListedColormap

from cryosse.core.atomic import atomic_path
from cryosse.core.classes import SHORT_NAMES
from cryosse.evaluate.evaluation import CaseResult

LABEL_COLOURS = ListedColormap(["#f0f0f0", "#d62728", "#1f77b4"])  # background, helix, sheet


def _save(figure: plt.Figure, path: str | Path) -> None:
    with atomic_path(path) as tmp:
        figure.savefig(tmp, dpi=120, bbox_inches="tight", format="png")
    plt.close(figure)


def _value(text: str) -> float:
    return float("nan") if text in ("NA", "") else float(text)


def f1_per_loss(table1_rows: list[dict[str, Any]], path: str | Path) -> None:
    figure, axis = plt.subplots(figsize=(6, 3.5))
    losses = [r["loss"] for r in table1_rows]
    x = np.arange(len(losses))
    for offset, cls, colour in ((-0.18, "helix", "#d62728"), (0.18, "sheet", "#1f77b4")):
        values = np.array([_value(r[f"{cls}_weighted"]) for r in table1_rows])
        low = values - np.array([_value(r[f"{cls}_ci_low"]) for r in table1_rows])
        high = np.array([_value(r[f"{cls}_ci_high"]) for r in table1_rows]) - values
        axis.bar(
            x + offset,
            np.nan_to_num(values),
            0.36,
            color=colour,
            label=cls,
            yerr=np.nan_to_num(np.vstack([low, high])),
            capsize=3,
        )
    axis.set_xticks(x, losses)
    axis.set_ylim(0, 1)
    axis.set_ylabel("weighted voxel F1 (test)")
    axis.legend(frameon=False)
    _save(figure, path)


def sheet_scatter(
    a: list[CaseResult], b: list[CaseResult], names: tuple[str, str], path: str | Path
) -> None:
    other = {c.sample_id: c.voxel_f1_sheet for c in b}
    both = [(c.voxel_f1_sheet, other.get(c.sample_id)) for c in a]
    pairs = [(x, y) for x, y in both if x is not None and y is not None]
    figure, axis = plt.subplots(figsize=(3.8, 3.8))
    axis.plot([0, 1], [0, 1], color="grey", linewidth=0.8)
    if pairs:
        axis.scatter([p[1] for p in pairs], [p[0] for p in pairs], s=14)
    axis.set_xlabel(f"sheet F1, {names[1]}")
    axis.set_ylabel(f"sheet F1, {names[0]}")
    axis.set_xlim(0, 1)
    axis.set_ylim(0, 1)
    _save(figure, path)


def learning_curves(histories: dict[str, list[dict[str, str]]], path: str | Path) -> None:
    figure, axis = plt.subplots(figsize=(6, 3.5))
    for run_id, rows in sorted(histories.items()):
        axis.plot(
            [int(r["epoch"]) for r in rows],
            [_value(r["val_metric"]) for r in rows],
            label=run_id,
            linewidth=1,
        )
    axis.set_xlabel("epoch")
    axis.set_ylabel("validation metric")
    if len(histories) <= 12:
        axis.legend(frameon=False, fontsize=6)
    _save(figure, path)


def confusion(results: dict[str, list[CaseResult]], path: str | Path) -> None:
    names = tuple(SHORT_NAMES[c] for c in sorted(SHORT_NAMES))
    losses = sorted(results)
    figure, axes = plt.subplots(1, max(1, len(losses)), figsize=(2.4 * max(1, len(losses)), 2.6))
    axes = np.atleast_1d(axes)
    for axis, loss in zip(axes, losses, strict=False):
        matrix = np.array(
            [
                [sum(getattr(c, f"conf_{t}_{q}") for c in results[loss]) for q in names]
                for t in names
            ],
            dtype=np.float64,
        )
        rows = matrix.sum(axis=1, keepdims=True)
        normalised = np.divide(matrix, rows, out=np.zeros_like(matrix), where=rows > 0)
        axis.imshow(normalised, vmin=0, vmax=1, cmap="Blues")
        for t in range(3):
            for q in range(3):
                axis.text(q, t, f"{normalised[t, q]:.2f}", ha="center", va="center", fontsize=7)
        axis.set_xticks(range(3), names, fontsize=7)
        axis.set_yticks(range(3), names, fontsize=7)
        axis.set_title(loss, fontsize=8)
        axis.set_xlabel("predicted", fontsize=7)
    axes[0].set_ylabel("true", fontsize=7)
    _save(figure, path)


def gamma_sweep(summaries: list[dict[str, Any]], path: str | Path) -> None:
    figure, axis = plt.subplots(figsize=(5, 3.2))
    for loss, marker in (("FL", "o"), ("FL_DL", "s")):
        runs = [s for s in summaries if s["loss"] == loss]
        for lr in sorted({s["lr"] for s in runs}):
            points = sorted((s["gamma"], s["best_val_metric"]) for s in runs if s["lr"] == lr)
            axis.plot(
                [p[0] for p in points],
                [p[1] for p in points],
                marker=marker,
                label=f"{loss}, lr {lr:g}",
            )
    axis.set_xlabel("γ")
    axis.set_ylabel("best validation metric")
    axis.legend(frameon=False, fontsize=7)
    _save(figure, path)


def slice_montage(
    density: np.ndarray, truth: np.ndarray, pred: np.ndarray, title: str, path: str | Path
) -> None:
    """The central z-slice of a box ([z, y, x]): density, true labels, predicted labels."""
    z = density.shape[0] // 2
    figure, axes = plt.subplots(1, 3, figsize=(8, 2.9))
    axes[0].imshow(density[z], cmap="gray", origin="lower")
    axes[1].imshow(truth[z], cmap=LABEL_COLOURS, vmin=0, vmax=2, origin="lower")
    axes[2].imshow(pred[z], cmap=LABEL_COLOURS, vmin=0, vmax=2, origin="lower")
    for axis, name in zip(axes, ("density", "truth", "prediction"), strict=True):
        axis.set_title(name, fontsize=8)
        axis.axis("off")
    figure.suptitle(title, fontsize=9)
    _save(figure, path)
