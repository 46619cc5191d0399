"""The paper's claims about the losses, each with a verdict from the map-level bootstrap
(cryosse.evaluate.map_bootstrap), and P(rank 1) of each loss.

Verdicts: a claim that A beats B is *reproduced* when the 95 % interval of A − B lies above
zero, *refuted* when it lies below, and *inconclusive* otherwise; then the maps needed to
separate a difference of the published size (or, without one, of the observed size) at
α = 0.05 with 80 % power are estimated from the sd of the per-map paired differences
(n = ((1.96 + 0.84) sd / δ)²). "FL_DL is best overall" is reproduced when FL_DL ranks first
in at least 95 % of the resamples, refuted when another loss does; it is tested only once all
five losses have results. With fewer than MIN_MAPS
test maps every claim is inconclusive. A pairwise claim against a loss that did not learn the
claim's class (its runs call fewer than NOT_LEARNED_FRACTION as many voxels sheet, say, as are
true sheet: the all-background solution, which unweighted CE reaches on a short step budget)
is inconclusive too: the difference then measures the step budget, not the loss. So is a claim
with fewer than MIN_SEEDS seeds of a loss it names: the map-level interval holds the maps still,
not the seeds, and two seeds of one setting can differ by more than a claim's size (the
difference and its interval are still given).
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import numpy as np

from cryosse.core.run_grid import LOSSES
from cryosse.evaluate.map_bootstrap import (
    CasesByLossSeed,
    LossArrays,
    loss_arrays,
    metric_classes,
    number_text,
    percentile_interval,
    resample_weights,
    weighted_f1,
)

Z_ALPHA, Z_POWER = 1.96, 0.84  # two-sided 5 %, 80 % power
# Below this many maps no verdict is given: a bootstrap over so few maps has no tails to read
# (CASP4's 14 targets could not separate its top eight methods).
MIN_MAPS = 5
# A loss whose runs call under 5 % as many voxels of a class as are true has not learned it (the
# study's CE and FL at 4,000 steps called no sheet).
NOT_LEARNED_FRACTION = 0.05
# Below this many seeds of a loss no claim about it is settled: two seeds of one recipe, equal on
# validation, were 8 points of helix F1 apart on the real components (docs/simulation.md).
MIN_SEEDS = 3
VERDICT_COLUMNS = [
    "claim",
    "verdict",
    "maps",
    "seeds",
    "difference",
    "ci_low",
    "ci_high",
    "p_rank_1",
    "why",
]


@dataclass(frozen=True)
class Claim:
    text: str
    better: str
    worse: str | None  # None: better than every other loss (rank 1)
    metric: str  # "sheet", "helix" or "average" (of helix and sheet), voxel F1
    published: float | None  # the published difference, F1 points (0-1 scale), or None


# Mu et al. 2024, Table 1 (voxel F1, %): CE 39.9 sheet, FL_DL 48.7 sheet, 62.0 helix.
PAPER_CLAIMS = (
    Claim("FL_DL is the best loss overall (Table 1 average)", "FL_DL", None, "average", None),
    Claim("FL_DL lifts sheet voxel F1 by 8.8 points over CE", "FL_DL", "CE", "sheet", 0.088),
    Claim("FL_DL detects sheets better than DL", "FL_DL", "DL", "sheet", None),
    Claim("FL detects sheets better than CE", "FL", "CE", "sheet", None),
)


def rank_probabilities(
    by_loss: CasesByLossSeed, metric: str = "average", resamples: int = 2000, seed: int = 0
) -> list[dict[str, Any]]:
    """Per loss: its figure on the data and P(rank 1) over paired map resamples."""
    arrays = loss_arrays(by_loss)
    if not arrays.losses or not arrays.n_maps:
        return []
    weights = resample_weights(arrays, resamples, seed)
    figures = np.stack([weighted_f1(arrays, x, metric, weights) for x in arrays.losses])
    figures = figures[:, 1:][:, ~np.isnan(figures[:, 1:]).any(axis=0)]
    firsts = np.bincount(np.argmax(figures, axis=0), minlength=len(arrays.losses))
    observed = [
        weighted_f1(arrays, x, metric, np.ones((1, len(arrays.cluster))))[0] for x in arrays.losses
    ]
    return [
        {
            "loss": loss,
            "metric": f"{metric} voxel F1",
            "value": number_text(observed[i]),
            "p_rank_1": number_text(firsts[i] / figures.shape[1] if figures.shape[1] else None),
            "maps": arrays.n_maps,
            "seeds": len(by_loss[loss]),
        }
        for i, loss in enumerate(arrays.losses)
    ]


def called_fraction(by_loss: CasesByLossSeed, classes: Iterable[str]) -> dict[str, float]:
    """Per loss: voxels called `classes` ÷ true voxels of `classes`, over every test case and
    seed (near 0: the runs predict background there)."""
    out = {}
    for loss, seeds in by_loss.items():
        cases = [c for cases in seeds.values() for c in cases]
        true = sum(getattr(c, f"voxel_true_{x}") for c in cases for x in classes)
        if true:
            called = sum(getattr(c, f"voxel_pred_{x}") for c in cases for x in classes)
            out[loss] = called / true
    return out


def not_learned(by_loss: CasesByLossSeed, metric: str = "average") -> dict[str, float]:
    """The losses whose runs did not learn to call the metric's class(es) (helix and sheet for
    "average"), with their called fraction."""
    fractions = called_fraction(by_loss, metric_classes(metric))
    return {x: f for x, f in fractions.items() if f < NOT_LEARNED_FRACTION}


def verdicts(
    by_loss: CasesByLossSeed,
    claims: Iterable[Claim] = PAPER_CLAIMS,
    resamples: int = 2000,
    seed: int = 0,
) -> list[dict[str, Any]]:
    """Each claim with the observed difference, its map-level 95 % interval, the verdict and,
    when inconclusive, the maps a test would need."""
    arrays = loss_arrays(by_loss)
    weights = resample_weights(arrays, resamples, seed) if arrays.n_maps else None
    rows: list[dict[str, Any]] = []
    for claim in claims:
        row: dict[str, Any] = {"claim": claim.text, "maps": arrays.n_maps}
        # "best overall" is a claim about all five losses: with one missing it is not tested
        # (FL_DL alone would rank first in every resample)
        rivals = [claim.worse] if claim.worse else [x for x in LOSSES if x != claim.better]
        needed = [claim.better, *rivals]
        missing = [x for x in needed if x not in arrays.losses]
        if missing or weights is None:
            rows.append(row | {"verdict": "not tested", "why": f"no results for {missing}"})
            continue
        row["seeds"] = "/".join(str(len(by_loss[x])) for x in needed)
        if arrays.n_maps < MIN_MAPS:
            why = f"{arrays.n_maps} test maps: a verdict needs at least {MIN_MAPS}"
            rows.append(row | {"verdict": "inconclusive", "why": why})
            continue
        if claim.worse is None:
            ranks = {r["loss"]: r for r in rank_probabilities(by_loss, claim.metric, resamples)}
            p = float(ranks[claim.better]["p_rank_1"])
            rival = max(
                (r for r in ranks.values() if r["loss"] != claim.better),
                key=lambda r: float(r["p_rank_1"]),
                default=None,
            )
            verdict = "reproduced" if p >= 0.95 else "inconclusive"
            if rival is not None and float(rival["p_rank_1"]) >= 0.95:
                verdict = "refuted"
            few = _few_seeds(by_loss, needed)
            row |= {"difference": "", "ci_low": "", "ci_high": "", "p_rank_1": number_text(p)}
            row |= {
                "verdict": "inconclusive" if few else verdict,
                "why": f"{claim.better} ranks first in {100 * p:.0f} % "
                f"of {resamples} map resamples"
                + (f"; {rival['loss']} in {100 * float(rival['p_rank_1']):.0f} %" if rival else "")
                + few,
            }
            rows.append(row)
            continue
        a = weighted_f1(arrays, claim.better, claim.metric, weights)
        b = weighted_f1(arrays, claim.worse, claim.metric, weights)
        observed = float(a[0] - b[0])
        low, high = percentile_interval((a - b)[1:])
        verdict = "reproduced" if low > 0 else "refuted" if high < 0 else "inconclusive"
        untrained = not_learned(by_loss, claim.metric)
        stuck = {x: untrained[x] for x in (claim.better, claim.worse) if x in untrained}
        few = _few_seeds(by_loss, needed)
        row |= {
            "difference": number_text(observed),
            "ci_low": number_text(float(low)),
            "ci_high": number_text(float(high)),
            "verdict": "inconclusive" if stuck or few else verdict,
            "why": _why(
                claim,
                observed,
                float(low),
                float(high),
                verdict,
                _maps_needed(arrays, claim, observed),
            )
            + _not_learned_text(stuck, claim.metric)
            + few,
        }
        rows.append(row)
    return [{k: row.get(k, "") for k in VERDICT_COLUMNS} for row in rows]


def _maps_needed(arrays: LossArrays, claim: Claim, observed: float) -> int | None:
    """Maps needed to separate the published (else the observed) difference from zero, from
    the sd over maps of the per-map paired difference (each map's mean over seeds)."""
    assert claim.worse is not None
    per_map = []
    for m in range(arrays.n_maps):
        on_map = (arrays.cluster == m).astype(np.float64)[None, :]
        d = weighted_f1(arrays, claim.better, claim.metric, on_map) - weighted_f1(
            arrays, claim.worse, claim.metric, on_map
        )
        if not np.isnan(d[0]):
            per_map.append(float(d[0]))
    effect = claim.published if claim.published is not None else observed
    if len(per_map) < 2 or not effect:
        return None
    sd = float(np.std(per_map, ddof=1))
    return max(2, math.ceil(((Z_ALPHA + Z_POWER) * sd / abs(effect)) ** 2))


def _why(
    claim: Claim, observed: float, low: float, high: float, verdict: str, needed: int | None
) -> str:
    points = f"{100 * observed:+.1f} points [{100 * low:+.1f}, {100 * high:+.1f}]"
    text = f"{claim.better} − {claim.worse}: {points}"
    if claim.published is not None:
        where = "inside" if low <= claim.published <= high else "outside"
        text += f"; the published {100 * claim.published:+.1f} is {where} the interval"
    if verdict == "inconclusive" and needed is not None:
        size = "the published" if claim.published is not None else "the observed"
        text += f"; about {needed} maps would separate {size} difference from zero"
    return text


def _few_seeds(by_loss: CasesByLossSeed, losses: list[str]) -> str:
    """The reason a claim is not settled for want of seeds ("" when every loss has enough)."""
    short = {x: len(by_loss[x]) for x in losses if len(by_loss[x]) < MIN_SEEDS}
    if not short:
        return ""
    named = ", ".join(f"{x} {n}" for x, n in short.items())
    return (
        f"; seeds: {named} (a verdict needs {MIN_SEEDS} per loss: the interval is over maps, "
        "and seeds of one setting can differ by more than that)"
    )


def _not_learned_text(stuck: dict[str, float], metric: str) -> str:
    if not stuck:
        return ""
    what = "helix or sheet" if metric == "average" else metric
    named = ", ".join(f"{x} called {100 * f:.1f} %" for x, f in stuck.items())
    return (
        f"; not a test of the loss: of the true {what} voxels, {named} as many {what} "
        "(the all-background solution at this step budget)"
    )
