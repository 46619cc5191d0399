"""Metric functions against hand-computed cases: voxel F1, averages, the residue vote."""

from __future__ import annotations

import numpy as np
import pytest

from cryosse.core.classes import HELIX, SHEET
from cryosse.core.metrics import (
    class_counts,
    mean_defined,
    micro_f1,
    residue_f1,
    residue_votes,
    selection_metric,
    voxel_f1,
    weighted_average,
)

MASK = np.ones((1, 1, 4), dtype=bool)


def labels(*values: int) -> np.ndarray:
    return np.array(values, dtype=np.int64).reshape(1, 1, -1)


def test_voxel_f1_perfect_empty_disjoint_na() -> None:
    truth = labels(1, 1, 2, 0)
    assert voxel_f1(truth, truth, MASK, HELIX) == 1.0
    assert voxel_f1(labels(0, 0, 0, 0), truth, MASK, HELIX) == 0.0  # nothing predicted
    assert voxel_f1(labels(2, 2, 1, 0), truth, MASK, HELIX) == 0.0  # disjoint
    assert voxel_f1(labels(0, 0, 0, 0), labels(0, 0, 0, 0), MASK, SHEET) is None  # NA
    # one of two helix voxels found, one false positive: P = 1/2, R = 1/2
    assert voxel_f1(labels(1, 0, 0, 1), truth, MASK, HELIX) == pytest.approx(0.5)
    # the mask removes voxels from the count entirely
    mask = np.array([True, True, True, False]).reshape(1, 1, 4)
    assert voxel_f1(labels(1, 1, 2, 1), truth, mask, HELIX) == 1.0
    assert class_counts(labels(1, 0, 0, 1), truth, MASK, HELIX) == (1, 2, 2)


def test_averages_reproduce_a_hand_table() -> None:
    # three cases: F1 0.9 with 100 true voxels, 0.5 with 300, NA with 0
    f1 = [0.9, 0.5, None]
    weights = [100, 300, 0]
    assert weighted_average(f1, weights) == pytest.approx((0.9 * 100 + 0.5 * 300) / 400)
    assert mean_defined(f1) == pytest.approx(0.7)
    assert weighted_average([None, None], [0, 0]) is None
    # pooled: TP 90 + 150, predicted 100 + 300, true 100 + 300
    assert micro_f1([(90, 100, 100), (150, 300, 300)]) == pytest.approx(2 * 240 / 800)
    assert micro_f1([(0, 0, 0)]) is None
    assert selection_metric([0.8, None], [0.4, 0.2]) == pytest.approx((0.8 + 0.3) / 2)
    assert selection_metric([None], [None]) == 0.0


def test_residue_vote_and_its_tie_rule() -> None:
    pred = np.zeros((5, 5, 9), dtype=np.int64)  # [z, y, x], 1 Å voxels, origin 0
    pred[:, :, 0:3] = HELIX
    pred[:, :, 6:9] = SHEET
    ca = np.array([[1.0, 2.0, 2.0], [7.0, 2.0, 2.0], [4.5, 2.0, 2.0], [50.0, 50.0, 50.0]])
    voted = residue_votes(pred, np.zeros(3), 1.0, ca, radius=3.0)
    assert voted[0] == HELIX and voted[1] == SHEET
    # x = 4.5: voxels x = 2 (helix) … x = 7 (sheet) within 3 Å; x in {2,3,4,5,6,7}: helix {2},
    # background {3,4,5}, sheet {6,7}: background has the majority
    assert voted[2] == 0
    assert voted[3] == 0  # far outside the box: no voxel, background
    # an exact tie between helix and sheet goes to the lower id (helix)
    tie = np.zeros((1, 1, 2), dtype=np.int64)
    tie[0, 0] = [HELIX, SHEET]
    assert residue_votes(tie, np.zeros(3), 1.0, np.array([[0.5, 0.0, 0.0]]), 1.0)[0] == HELIX
    assert residue_f1(voted, np.array([1, 2, 0, 1]), HELIX) == pytest.approx(2 / 3)
