"""The figures of the report (matplotlib, Agg backend, PNG at 120 dpi).

f1_per_loss        weighted F1 of helix and sheet per loss, with bootstrap 95 % intervals
sheet_scatter      per-case sheet F1, FL_DL against another loss (diagonal = equal)
learning_curves    training loss and validation metric per epoch, side by side, one line per run
confusion          row-normalised 3 × 3 voxel confusion matrix per loss (test set)
gamma_sweep        validation metric against γ for FL and FL_DL, one line per learning rate
slice_montage      a central slice of a test case: density / truth / prediction
study_f1           the loss study's Table 1: voxel and residue F1 per loss, mean over seeds,
                   map-level 95 % intervals, the published figure beside each bar
paired_maps        per map, the reference loss against each other loss (sheet F1)
f1_by_resolution   per test case, F1 against the map's resolution, one colour per loss
loss_montage       slices of one test case, one row per loss, in the ChimeraX script's colours
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
    """Per run, side by side: the training loss and the validation metric per epoch (a loss
    that still falls while the metric is flat is learning what validation does not reward)."""
    figure, (loss_axis, metric_axis) = plt.subplots(1, 2, figsize=(9, 3.4))
    for run_id, rows in sorted(histories.items()):
        epochs = [int(r["epoch"]) for r in rows]
        (line,) = loss_axis.plot(
            epochs, [_value(r.get("train_loss", "")) for r in rows], label=run_id, linewidth=1
        )
        metric_axis.plot(
            epochs, [_value(r["val_metric"]) for r in rows], color=line.get_color(), linewidth=1
        )
    loss_axis.set_xlabel("epoch")
    loss_axis.set_ylabel("training loss")
    metric_axis.set_xlabel("epoch")
    metric_axis.set_ylabel("validation metric")
    if len(histories) <= 12:
        loss_axis.legend(frameon=False, fontsize=6)
    figure.tight_layout()
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


LOSS_COLOURS = ("#4c72b0", "#dd8452", "#55a868", "#c44e52", "#8172b3")


def study_f1(rows: list[dict[str, Any]], path: str | Path, source: str) -> None:
    """Four groups of bars (voxel helix / sheet, residue helix / sheet), one bar per loss: the
    mean over seeds with its map-level 95 % interval; a black tick marks the published figure."""
    figures = (
        ("voxel", "helix"),
        ("voxel", "sheet"),
        ("residue", "helix"),
        ("residue", "sheet"),
    )
    figure, axis = plt.subplots(figsize=(8, 3.6))
    width = 0.8 / max(1, len(rows))
    for i, row in enumerate(rows):
        x = np.arange(len(figures)) + (i - (len(rows) - 1) / 2) * width
        keys = [f"{level}_{cls}" for level, cls in figures]
        values = np.array([_value(row[f"{k}_mean"]) for k in keys])
        low = values - np.array([_value(row[f"{k}_ci_low"]) for k in keys])
        high = np.array([_value(row[f"{k}_ci_high"]) for k in keys]) - values
        axis.bar(
            x,
            np.nan_to_num(values),
            width * 0.9,
            color=LOSS_COLOURS[i % len(LOSS_COLOURS)],
            label=f"{row['loss']} ({row['seeds']} seed{'' if int(row['seeds']) == 1 else 's'})",
            yerr=np.nan_to_num(np.vstack([low, high])),
            capsize=2,
        )
        published = np.array([_value(row[f"{k}_published"]) for k in keys])
        axis.scatter(x, published, marker="_", s=120, color="black", zorder=3)
    axis.scatter([], [], marker="_", s=120, color="black", label="published")
    axis.set_xticks(np.arange(len(figures)), [f"{a} {b}" for a, b in figures])
    axis.set_ylim(0, 1)
    axis.set_ylabel("weighted F1 (test), mean over seeds")
    maps = max((int(r["maps"]) for r in rows), default=0)
    axis.set_title(
        f"95 % intervals: bootstrap over {maps} test maps; published: {source}", fontsize=7
    )
    axis.legend(frameon=False, fontsize=7, ncol=3)
    _save(figure, path)


def paired_maps(
    pairs: dict[str, list[tuple[str, float, float]]],
    reference: str,
    metric: str,
    path: str | Path,
) -> None:
    """One panel per other loss: each map a point (other loss, reference loss); above the
    diagonal the reference is better on that map."""
    others = list(pairs) or ["none"]
    figure, axes = plt.subplots(1, len(others), figsize=(2.8 * len(others), 3.0), squeeze=False)
    for axis, other in zip(axes[0], others, strict=True):
        points = pairs.get(other, [])
        axis.plot([0, 1], [0, 1], color="grey", linewidth=0.8)
        if points:
            axis.scatter([p[2] for p in points], [p[1] for p in points], s=12)
        above = sum(1 for p in points if p[1] > p[2])
        axis.set_title(f"{reference} vs {other}: {above}/{len(points)} maps above", fontsize=7)
        axis.set_xlabel(f"{other}, {metric} F1", fontsize=7)
        axis.set_ylabel(f"{reference}, {metric} F1", fontsize=7)
        axis.set_xlim(0, 1)
        axis.set_ylim(0, 1)
        axis.set_aspect("equal")
    figure.tight_layout()
    _save(figure, path)


def f1_by_resolution(
    table2_rows: list[dict[str, Any]], losses: list[str], path: str | Path
) -> None:
    """Per test case and loss: voxel F1 (mean over seeds) against the map's resolution."""
    figure, axes = plt.subplots(1, 2, figsize=(9, 3.4), sharey=True)
    for axis, cls in zip(axes, ("helix", "sheet"), strict=True):
        for i, loss in enumerate(losses):
            points = [
                (_value(r["resolution"]), _value(r[f"{loss}_{cls}"]))
                for r in table2_rows
                if r.get(f"{loss}_{cls}", "NA") != "NA" and r["resolution"] != "NA"
            ]
            offset = (i - (len(losses) - 1) / 2) * 0.04  # side by side at one resolution
            axis.scatter(
                [p[0] + offset for p in points],
                [p[1] for p in points],
                s=9,
                color=LOSS_COLOURS[i % len(LOSS_COLOURS)],
                label=loss,
            )
        axis.set_xlabel("map resolution (Å)")
        axis.set_title(f"{cls} voxel F1 per test case", fontsize=8)
        axis.set_ylim(0, 1)
    axes[0].set_ylabel("voxel F1, mean over seeds")
    axes[1].legend(frameon=False, fontsize=7)
    figure.tight_layout()
    _save(figure, path)


def loss_montage(
    density: np.ndarray,
    truth: np.ndarray,
    predictions: dict[str, np.ndarray],
    colours: dict[str, str],
    title: str,
    path: str | Path,
    slices: int = 3,
) -> None:
    """Slices of one test case ([z, y, x]): the first row the density with the true labels,
    then one row per loss with its predicted labels over the density; helix and sheet in
    `colours` (the ChimeraX script's), the legend says so."""
    from matplotlib.patches import Patch

    occupied = np.flatnonzero(truth.reshape(truth.shape[0], -1).any(axis=1))
    span = occupied if len(occupied) else np.arange(density.shape[0])
    picks = [int(span[round(q * (len(span) - 1))]) for q in np.linspace(0.25, 0.75, slices)]
    overlay = ListedColormap(["none", colours["helix"], colours["sheet"]])
    rows = [("truth", truth), *predictions.items()]
    figure, axes = plt.subplots(
        len(rows), slices, figsize=(2.2 * slices, 2.1 * len(rows)), squeeze=False
    )
    for r, (name, labels) in enumerate(rows):
        for c, z in enumerate(picks):
            axis = axes[r][c]
            axis.imshow(density[z], cmap="gray", origin="lower")
            shown = np.ma.masked_equal(labels[z], 0)
            axis.imshow(shown, cmap=overlay, vmin=0, vmax=2, origin="lower", alpha=0.6)
            axis.set_xticks([])
            axis.set_yticks([])
            if c == 0:
                axis.set_ylabel(name, fontsize=8)
            if r == 0:
                axis.set_title(f"z = {z}", fontsize=7)
    figure.legend(
        handles=[Patch(color=colours[k], label=k) for k in ("helix", "sheet")],
        loc="upper right",
        fontsize=7,
        frameon=False,
    )
    figure.suptitle(title, fontsize=9)
    _save(figure, path)
