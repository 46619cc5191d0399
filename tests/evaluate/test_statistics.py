"""Map-level bootstrap of a stratum's F1, on the counts of real component maps.

The counts are those of the threshold baseline and of DeepSSETracer 1.0's own outputs on the
five He-lab component grids (as tests/evaluate/test_baselines.py scores them).
"""

from __future__ import annotations

import shutil

import numpy as np
import pytest

from cryosse.core.metrics import micro_f1
from cryosse.evaluate.baselines import baseline_labels
from cryosse.evaluate.map_scoring import score_labels, summarize, truth_on_grid
from cryosse.evaluate.statistics import bootstrap_f1, bootstrap_f1_difference
from cryosse.io.density import read_map
from cryosse.segment.tiling import labels_from
from tests.conftest import REALDATA

pytestmark = pytest.mark.skipif(
    not REALDATA.is_dir() or shutil.which("mkdssp") is None,
    reason=f"needs the real component maps in {REALDATA} and mkdssp 4.x",
)
COMPONENTS = [  # folder, chain, map, model
    ("EMD-8518", "A", "A-1.0APIX.mrc", "A_fitted.pdb"),
    ("EMD-6149", "X", "X-1.0APIX.mrc.gz", "X_fitted.pdb"),
    ("EMD-3491", "L", "L-1.0APIX.mrc", "L_fitted.pdb"),
    ("EMD-3491", "X", "X-1.0APIX.mrc", "X_fitted.pdb"),
    ("EMD-1657", "AM", "AM-1.0APIX.mrc", "AM_fitted.pdb"),
]


@pytest.fixture(scope="module")
def scores() -> dict[str, list]:
    out: dict[str, list] = {"threshold": [], "dst10": []}
    for folder, chain, map_name, model_name in COMPONENTS:
        density = read_map(REALDATA / folder / map_name)
        truth = truth_on_grid(density, REALDATA / folder / model_name)
        out["threshold"].append(
            score_labels(baseline_labels("threshold", density.data), truth, f"{folder} {chain}")
        )
        base = REALDATA / "dst10_predictions" / folder
        maps = [
            read_map(next(base.glob(f"{chain}_pred_{c}.mrc*")), allow_constant=True).data
            for c in ("helix", "sheet")
        ]
        out["dst10"].append(score_labels(labels_from(*maps), truth, f"{folder} {chain}"))
    return out


def _counts(scores: list, cls: str = "helix") -> list[tuple[int, int, int]]:
    return [s.voxel[cls] for s in scores]


def test_the_aggregates_are_the_model_cards(scores: dict[str, list]) -> None:
    for name in ("threshold", "dst10"):
        summary = summarize(scores[name])
        for cls in ("helix", "sheet"):
            weighted = bootstrap_f1(_counts(scores[name], cls), kind="weighted", resamples=200)
            pooled = bootstrap_f1(_counts(scores[name], cls), kind="pooled", resamples=200)
            assert weighted.value == pytest.approx(summary[f"voxel_f1_{cls}_weighted"])
            assert pooled.value == pytest.approx(micro_f1(_counts(scores[name], cls)))
            assert weighted.n_maps == weighted.n_groups == 5
    # DeepSSETracer 1.0: the figure issue 16 measured, inside its own interval
    dst = bootstrap_f1(_counts(scores["dst10"]), resamples=2000, seed=0)
    assert dst.value == pytest.approx(0.545, abs=0.002)
    assert dst.low < dst.value < dst.high
    assert dst.low >= 0.0 and dst.high <= 1.0
    assert bootstrap_f1(_counts(scores["dst10"]), seed=0) == dst  # seeded
    assert bootstrap_f1(_counts(scores["dst10"]), seed=1) != dst


def test_maps_of_one_source_are_resampled_together(scores: dict[str, list]) -> None:
    counts = _counts(scores["dst10"])
    alone = bootstrap_f1(counts, resamples=500, seed=3)
    # each map twice (as a component and its low-passed copy), grouped by source: the same
    # resamples of five units, so the same figure and interval, n maps 10, n sources 5
    twice = [c for c in counts for _ in range(2)]
    groups = [s.name for s in scores["dst10"] for _ in range(2)]
    grouped = bootstrap_f1(twice, groups, resamples=500, seed=3)
    assert (grouped.value, grouped.low, grouped.high) == pytest.approx(
        (alone.value, alone.low, alone.high)
    )
    assert (grouped.n_maps, grouped.n_groups) == (10, 5)
    # ungrouped, the copies would pass for independent maps and narrow the interval
    naive = bootstrap_f1(twice, resamples=500, seed=3)
    assert naive.high - naive.low < grouped.high - grouped.low
    # one source map: nothing to resample
    single = bootstrap_f1(counts[:2], ["EMD-3491", "EMD-3491"])
    assert single.value is not None and single.low is None and single.n_groups == 1
    with pytest.raises(ValueError, match="group labels"):
        bootstrap_f1(counts, groups)


def test_no_interval_when_one_map_holds_the_class(scores: dict[str, list]) -> None:
    sheet = _counts(scores["dst10"], "sheet")
    without = [c for c in sheet if c[2] == 0]  # the EMD-3491 chains hold no β-sheet
    holding = [c for c in sheet if c[2] > 0]
    assert without and len(holding) >= 2
    lone = bootstrap_f1([holding[0], *without], resamples=200)
    # every resample repeats the one map's F1 (or has none): no interval, the count says why
    assert lone.value == pytest.approx(2 * holding[0][0] / (holding[0][1] + holding[0][2]))
    assert (lone.low, lone.high, lone.n_groups, lone.n_groups_with_class) == (
        None,
        None,
        1 + len(without),
        1,
    )
    assert bootstrap_f1(holding, resamples=200).n_groups_with_class == len(holding)


def test_paired_difference_of_two_predictors(scores: dict[str, list]) -> None:
    a, b = _counts(scores["dst10"]), _counts(scores["threshold"])
    diff = bootstrap_f1_difference(a, b, resamples=1000, seed=0)
    value_a = bootstrap_f1(a).value
    value_b = bootstrap_f1(b).value
    assert diff.value == pytest.approx(value_a - value_b)
    assert diff.low < diff.value < diff.high
    same = bootstrap_f1_difference(a, a, resamples=200)
    assert (same.value, same.low, same.high) == (0.0, 0.0, 0.0)
    # threshold never calls sheet: its sheet F1 is 0 on every resample
    sheet = bootstrap_f1(_counts(scores["threshold"], "sheet"), resamples=200)
    assert (sheet.value, sheet.low, sheet.high) == (0.0, 0.0, 0.0)
    with pytest.raises(ValueError, match="not paired"):
        bootstrap_f1_difference(a, b[:4])
    with pytest.raises(ValueError, match="aggregate"):
        bootstrap_f1(a, kind="median")
    assert np.isfinite(diff.high)
