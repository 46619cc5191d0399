"""Voxel- and residue-level F1 of predicted secondary structure, in the central box only.

F1 of class c over the masked voxels: precision = TP / #(pred = c), recall = TP / #(true = c),
F1 = 2 TP / (#(pred = c) + #(true = c)). When a case has no true and no predicted voxel of the
class, F1 is undefined (None, reported as NA, as in the paper) and left out of that class's
average.

Averages over cases (Table 1/2 of the paper and beyond), each over the cases where F1 is defined:
    weighted  Σ_i w_i F1_i / Σ_i w_i with w_i = the number of true voxels of the class in case i
              (the paper's "weighted average");
    macro     the plain mean of the per-case F1;
    micro     F1 of the pooled counts, 2 ΣTP / (Σ#pred + Σ#true) over all cases.

Residue level: every residue whose Cα lies in the central box takes the class with most votes
among the predicted voxels within 3 Å of its Cα (voxel centres, inclusive); ties go to the lower
class id (background before helix before sheet: a residue is called structured only on a clear
majority); a residue with no voxel within reach is background. It is compared with its DSSP class.

Model selection on the validation set uses the paper's metric, the mean of the helix and sheet
F1 averaged over cases: (mean_cases F1_helix + mean_cases F1_sheet) / 2, each class mean over
the cases where its F1 is defined.
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np


def voxel_f1(pred: np.ndarray, truth: np.ndarray, mask: np.ndarray, cls: int) -> float | None:
    p = (pred == cls) & mask
    t = (truth == cls) & mask
    denominator = int(p.sum()) + int(t.sum())
    if denominator == 0:
        return None
    return 2.0 * int((p & t).sum()) / denominator


def voxel_precision_recall(
    pred: np.ndarray, truth: np.ndarray, mask: np.ndarray, cls: int
) -> tuple[float | None, float | None]:
    """(TP / #pred, TP / #true) of one class in the mask; None where the count is 0."""
    tp, predicted, true = class_counts(pred, truth, mask, cls)
    return (tp / predicted if predicted else None, tp / true if true else None)


def residue_precision_recall(
    voted: np.ndarray, dssp_class: np.ndarray, cls: int
) -> tuple[float | None, float | None]:
    everything = np.ones(len(voted), dtype=bool)
    return voxel_precision_recall(np.asarray(voted), np.asarray(dssp_class), everything, cls)


def mean_defined(values: Iterable[float | None]) -> float | None:
    defined = [v for v in values if v is not None]
    return float(np.mean(defined)) if defined else None


def selection_metric(f1_helix: list[float | None], f1_sheet: list[float | None]) -> float:
    """(mean helix F1 + mean sheet F1) / 2 over cases; an all-NA class counts as 0."""
    return ((mean_defined(f1_helix) or 0.0) + (mean_defined(f1_sheet) or 0.0)) / 2.0


def class_counts(
    pred: np.ndarray, truth: np.ndarray, mask: np.ndarray, cls: int
) -> tuple[int, int, int]:
    """(true positives, predicted, true) voxels of one class in the mask."""
    p = (pred == cls) & mask
    t = (truth == cls) & mask
    return int((p & t).sum()), int(p.sum()), int(t.sum())


def weighted_average(f1: list[float | None], weights: list[int]) -> float | None:
    pairs = [(v, w) for v, w in zip(f1, weights, strict=True) if v is not None and w > 0]
    total = sum(w for _, w in pairs)
    return sum(v * w for v, w in pairs) / total if total else None


def micro_f1(counts: list[tuple[int, int, int]]) -> float | None:
    tp = sum(c[0] for c in counts)
    denominator = sum(c[1] + c[2] for c in counts)
    return 2.0 * tp / denominator if denominator else None


def residue_votes(
    pred: np.ndarray, origin: np.ndarray, voxel_size: float, ca: np.ndarray, radius: float = 3.0
) -> np.ndarray:
    """Class voted for each Cα (n × 3, Å) by the predicted labels [z, y, x] within `radius`."""
    classes = np.zeros(len(ca), dtype=np.int64)
    reach = int(np.ceil(radius / voxel_size))
    shape = np.array(pred.shape[::-1])  # x, y, z
    for i, point in enumerate(np.asarray(ca, dtype=np.float64)):
        centre = np.round((point - origin) / voxel_size).astype(int)
        low = np.maximum(centre - reach, 0)
        high = np.minimum(centre + reach + 1, shape)
        if np.any(high <= low):
            continue
        axes = [origin[a] + voxel_size * np.arange(low[a], high[a]) for a in range(3)]
        zz, yy, xx = np.meshgrid(axes[2], axes[1], axes[0], indexing="ij")
        near = (xx - point[0]) ** 2 + (yy - point[1]) ** 2 + (
            zz - point[2]
        ) ** 2 <= radius**2 + 1e-9
        block = pred[low[2] : high[2], low[1] : high[1], low[0] : high[0]][near]
        if block.size:
            votes = np.bincount(block.astype(np.int64), minlength=3)
            classes[i] = int(np.argmax(votes))  # argmax takes the lowest id on ties
    return classes


def residue_f1(voted: np.ndarray, dssp_class: np.ndarray, cls: int) -> float | None:
    everything = np.ones(len(voted), dtype=bool)
    return voxel_f1(np.asarray(voted), np.asarray(dssp_class), everything, cls)
