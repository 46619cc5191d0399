"""Seed variance: mean ± sd over seeds with a map-level (cluster) bootstrap interval."""

import pytest

from cryosse.evaluate.evaluation import CaseResult
from cryosse.evaluate.statistics import seed_mean_with_ci
from cryosse.evaluate.tables import seed_table


def test_mean_and_sd_are_over_seeds_and_the_interval_over_maps() -> None:
    # two seeds, three maps; weights are the true voxels of the class
    f1 = [[0.2, 0.6, 0.4], [0.4, 0.8, 0.6]]
    weights = [[100, 100, 200], [100, 100, 200]]
    mean, sd, low, high = seed_mean_with_ci(f1, weights)
    assert mean == pytest.approx((0.4 + 0.6) / 2)  # seed averages 0.4 and 0.6
    assert sd == pytest.approx(0.1414, abs=1e-3)
    assert low is not None and high is not None
    assert 0.2 < low < mean < high < 0.8
    # maps that all score the same leave no map-level uncertainty, whatever the seeds do
    mean, sd, low, high = seed_mean_with_ci([[0.5, 0.5], [0.7, 0.7]], [[10, 30], [10, 30]])
    assert (low, high) == pytest.approx((0.6, 0.6))
    # a class absent everywhere is NA, not 0
    assert seed_mean_with_ci([[None, None]], [[0, 0]]) == (None, None, None, None)


def _case(sample: str, f1_helix: float, true_helix: int) -> CaseResult:
    return CaseResult(sample, 6.0, 10, 0, 5, 0, 0, true_helix, 0, 0, 0, f1_helix, None, None, None)


def test_the_seed_table_counts_seeds_and_maps() -> None:
    by_loss = {
        "CE": {0: [_case("a", 0.2, 10), _case("b", 0.4, 10)], 1: [_case("a", 0.4, 10)]},
        "FL_DL": {3: [_case("a", 0.5, 10), _case("b", 0.5, 10)]},
    }
    rows = {r["loss"]: r for r in seed_table(by_loss)}
    assert (rows["CE"]["seeds"], rows["CE"]["maps"]) == (2, 2)
    assert rows["CE"]["helix_mean"] == "0.350"  # seed 0: 0.3, seed 1 (one map): 0.4
    assert rows["FL_DL"]["helix_sd"] == "NA" and rows["FL_DL"]["sheet_mean"] == "NA"
