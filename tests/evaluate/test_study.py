"""The loss study's statistics: per-case record, verdicts on the paper's claims, P(rank 1)."""

import math
from dataclasses import replace

import numpy as np
import pytest

from cryosse.core.classes import SCORED_CLASSES
from cryosse.evaluate.evaluation import CaseResult
from cryosse.evaluate.map_bootstrap import map_of, metric_classes, percentile_interval
from cryosse.evaluate.study import by_stratum, case_counts, map_kind, resolution_band
from cryosse.evaluate.verdicts import PAPER_CLAIMS, not_learned, rank_probabilities, verdicts


def _case(sample: str, helix: float, sheet: float, resolution: float = 6.0) -> CaseResult:
    """A case with 100 true voxels per class and the given F1 (pred = true)."""
    tp_h, tp_s = round(100 * helix), round(100 * sheet)
    return CaseResult(
        sample,
        resolution,
        20,
        10,
        30,
        tp_h,
        100,
        100,
        tp_s,
        100,
        100,
        helix,
        sheet,
        None,
        None,
        residue_tp_helix=15,
        residue_pred_helix=18,
        residue_tp_sheet=5,
        residue_pred_sheet=9,
    )


def _study(sheet_gain: float, maps: int = 12, seeds: int = 3) -> dict:
    """FL_DL's sheet F1 = CE's + sheet_gain on every map, with map-to-map and seed noise."""
    rng = np.random.default_rng(1)
    base = rng.uniform(0.3, 0.6, size=maps)
    by_loss: dict = {}
    gains = (("CE", 0.0), ("FL", 0.0), ("DL", 0.0), ("CE_DL", 0.0), ("FL_DL", sheet_gain))
    for loss, gain in gains:
        by_loss[loss] = {
            s: [
                _case(f"EMD-{1000 + m}_1abc_A", 0.6, float(base[m] + gain + rng.normal(0, 0.02)))
                for m in range(maps)
            ]
            for s in range(seeds)
        }
    return by_loss


def test_a_clear_gain_is_reproduced_and_its_size_checked_against_the_paper() -> None:
    rows = {r["claim"]: r for r in verdicts(_study(0.088), resamples=500)}
    lift = rows[PAPER_CLAIMS[1].text]
    assert lift["verdict"] == "reproduced" and lift["maps"] == 12 and lift["seeds"] == "3/3"
    assert float(lift["ci_low"]) > 0.05 and "+8.8 is inside" in lift["why"]
    assert rows[PAPER_CLAIMS[3].text]["verdict"] == "inconclusive"  # FL = CE here
    assert rows[PAPER_CLAIMS[0].text]["verdict"] == "reproduced"  # FL_DL ranks first


def test_a_clear_gain_on_one_seed_is_not_settled() -> None:
    """The map-level interval says nothing of seed variance: one seed per loss is no verdict,
    though the difference and its interval are still given."""
    rows = {r["claim"]: r for r in verdicts(_study(0.088, seeds=1), resamples=300)}
    lift = rows[PAPER_CLAIMS[1].text]
    assert lift["verdict"] == "inconclusive" and lift["seeds"] == "1/1"
    assert float(lift["ci_low"]) > 0.05 and "seeds: FL_DL 1, CE 1" in lift["why"]
    assert rows[PAPER_CLAIMS[0].text]["verdict"] == "inconclusive"
    assert "a verdict needs 3 per loss" in rows[PAPER_CLAIMS[0].text]["why"]


def test_best_overall_is_not_tested_until_every_loss_has_results() -> None:
    """FL_DL alone (the study's first runs) ranks first in every resample: no verdict."""
    study = _study(0.088)
    del study["CE_DL"]
    rows = {r["claim"]: r for r in verdicts(study, resamples=200)}
    best = rows[PAPER_CLAIMS[0].text]
    assert best["verdict"] == "not tested" and "CE_DL" in best["why"]
    only = {r["claim"]: r for r in verdicts({"FL_DL": study["FL_DL"]}, resamples=200)}
    assert {r["verdict"] for r in only.values()} == {"not tested"}


def test_no_gain_is_inconclusive_with_the_maps_a_test_would_need() -> None:
    rows = {r["claim"]: r for r in verdicts(_study(0.0), resamples=500)}
    lift = rows[PAPER_CLAIMS[1].text]
    assert lift["verdict"] in ("inconclusive", "refuted")
    assert "+8.8 is outside" in lift["why"]
    worse = {r["claim"]: r for r in verdicts(_study(-0.1), resamples=500)}
    assert worse[PAPER_CLAIMS[1].text]["verdict"] == "refuted"


def test_too_few_maps_give_no_verdict() -> None:
    rows = verdicts(_study(0.2, maps=3), resamples=200)
    assert {r["verdict"] for r in rows} == {"inconclusive"}
    assert "3 test maps" in rows[1]["why"]


def test_rank_one_and_chains_of_one_map_move_together() -> None:
    by_loss = {
        "CE": {0: [_case("EMD-1_a_A", 0.5, 0.5), _case("EMD-1_a_B", 0.5, 0.5)]},
        "FL_DL": {0: [_case("EMD-1_a_A", 0.6, 0.6), _case("EMD-1_a_B", 0.6, 0.6)]},
    }
    ranks = {r["loss"]: r for r in rank_probabilities(by_loss, resamples=100)}
    assert ranks["FL_DL"]["p_rank_1"] == "1.000" and ranks["CE"]["maps"] == 1
    assert map_of("EMD-1_a_B") == "EMD-1"


def test_the_per_case_record_has_voxel_and_residue_counts() -> None:
    rows = case_counts(
        {"CE": {4: [_case("EMD-7_x_A", 0.5, 0.25)]}}, {"EMD-7_x_A": {"quality_bin": "2"}}
    )
    by_key = {(r["class"], r["level"]): r for r in rows}
    voxel = by_key[("sheet", "voxel")]
    assert (voxel["tp"], voxel["fp"], voxel["fn"], voxel["f1"]) == (25, 75, 75, 0.25)
    residue = by_key[("helix", "residue")]
    assert (residue["tp"], residue["fp"], residue["fn"]) == (15, 3, 5)
    assert residue["seed"] == 4 and residue["loss"] == "CE" and residue["quality_bin"] == "2"


def test_strata_by_resolution_band() -> None:
    by_loss = {"CE": {0: [_case("EMD-1_a_A", 0.5, 0.5, 5.5), _case("EMD-2_a_A", 0.7, 0.1, 9.6)]}}
    bands = {c.sample_id: resolution_band(c.resolution) for c in by_loss["CE"][0]}
    assert set(bands.values()) == {"5-6 Å", "9-10 Å"}
    rows = {r["resolution"]: r for r in by_stratum(by_loss, bands, "resolution")}
    assert rows["9-10 Å"]["helix_f1"] == "0.700" and rows["5-6 Å"]["maps"] == 1
    assert resolution_band(None) == "NA" and resolution_band(10.0) == "9-10 Å"
    assert rows["9-10 Å"]["helix_ci_low"] == "NA"  # one map: no interval


def test_strata_by_map_kind_with_intervals_over_maps() -> None:
    """The strata of the real-map test bed, from the id alone; an interval over maps."""
    assert map_kind("EMD-5168") == "real EMDB map"
    assert map_kind("EMD-91900") == map_kind("EMD-91905") == "real assembly, low-passed"
    assert map_kind("EMD-91003") == "derived" and map_kind("EMD-92417") == "simulated"
    study = _study(0.0, maps=6, seeds=2)
    kinds = {c.sample_id: map_kind(map_of(c.sample_id)) for c in study["CE"][0]}
    rows = by_stratum(study, kinds, "map_kind")
    ce = next(r for r in rows if r["loss"] == "CE")
    assert ce["map_kind"] == "real EMDB map" and ce["maps"] == 6 and ce["seeds"] == 2
    low, f1, high = (float(ce[k]) for k in ("sheet_ci_low", "sheet_f1", "sheet_ci_high"))
    assert low < f1 < high


def test_a_claim_against_a_loss_that_did_not_learn_is_inconclusive() -> None:
    """CE at a short step budget calls (almost) nothing helix or sheet: FL_DL's large lead over
    it measures the budget, not the loss, and the verdict says so."""
    study = _study(0.0)
    for seeds in study["CE"].values():
        for i, case in enumerate(seeds):
            seeds[i] = replace(
                case,
                voxel_tp_helix=0,
                voxel_pred_helix=0,
                voxel_f1_helix=0.0,
                voxel_tp_sheet=0,
                voxel_pred_sheet=1,
                voxel_f1_sheet=0.0,
            )
    assert set(not_learned(study)) == set(not_learned(study, "sheet")) == {"CE"}
    rows = {r["claim"]: r for r in verdicts(study, resamples=300)}
    lift = rows[PAPER_CLAIMS[1].text]
    assert float(lift["ci_low"]) > 0.2  # FL_DL far ahead of the all-background CE ...
    assert lift["verdict"] == "inconclusive"  # ... which is no test of the loss
    assert "true sheet voxels, CE called 1.0 %" in lift["why"] and "all-background" in lift["why"]
    assert rows[PAPER_CLAIMS[3].text]["verdict"] == "inconclusive"  # FL vs CE
    assert rows[PAPER_CLAIMS[2].text]["verdict"] == "inconclusive"  # DL = FL_DL, no CE
    assert "all-background" not in rows[PAPER_CLAIMS[2].text]["why"]


def test_a_loss_that_learned_helix_but_no_sheet_tests_no_sheet_claim() -> None:
    study = _study(0.088)
    for seeds in study["CE"].values():
        for i, case in enumerate(seeds):
            seeds[i] = replace(case, voxel_tp_sheet=0, voxel_pred_sheet=0, voxel_f1_sheet=0.0)
    assert not_learned(study) == {} and set(not_learned(study, "sheet")) == {"CE"}
    lift = {r["claim"]: r for r in verdicts(study, resamples=300)}[PAPER_CLAIMS[1].text]
    assert lift["verdict"] == "inconclusive" and "CE called 0.0 %" in lift["why"]


def test_percentile_interval_leaves_out_draws_without_a_value() -> None:
    drawn = np.concatenate([np.linspace(0.0, 1.0, 401), [np.nan] * 50])
    low, high = percentile_interval(drawn)
    assert low == pytest.approx(0.025) and high == pytest.approx(0.975)
    assert all(math.isnan(v) for v in percentile_interval(np.array([np.nan, np.nan])))
    assert metric_classes("average") == SCORED_CLASSES and metric_classes("sheet") == ("sheet",)
