"""Voxel-level F1 of predicted secondary structure, in the central box only.

F1 of class c over the masked voxels: precision = TP / #(pred = c), recall = TP / #(true = c),
F1 = 2 TP / (#(pred = c) + #(true = c)). When a case has no true and no predicted voxel of the
class, F1 is undefined (None, reported as NA, as in the paper) and left out of that class's
average.

Model selection on the validation set uses the paper's metric, the mean of the helix and sheet
F1 averaged over cases: (mean_cases F1_helix + mean_cases F1_sheet) / 2, each class mean over
the cases where its F1 is defined.
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np

HELIX, SHEET = 1, 2


def voxel_f1(pred: np.ndarray, truth: np.ndarray, mask: np.ndarray, cls: int) -> float | None:
    p = (pred == cls) & mask
    t = (truth == cls) & mask
    denominator = int(p.sum()) + int(t.sum())
    if denominator == 0:
        return None
    return 2.0 * int((p & t).sum()) / denominator


def mean_defined(values: Iterable[float | None]) -> float | None:
    defined = [v for v in values if v is not None]
    return float(np.mean(defined)) if defined else None


def selection_metric(f1_helix: list[float | None], f1_sheet: list[float | None]) -> float:
    """(mean helix F1 + mean sheet F1) / 2 over cases; an all-NA class counts as 0."""
    return ((mean_defined(f1_helix) or 0.0) + (mean_defined(f1_sheet) or 0.0)) / 2.0
