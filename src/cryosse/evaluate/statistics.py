"""Statistics the paper does not give: bootstrap confidence intervals and paired tests.

Bootstrap: cases are resampled with replacement (seeded, 2,000 resamples by default) and the
weighted average recomputed; the 95 % interval is the 2.5th-97.5th percentile of those
(percentile bootstrap). Resamples where the class is absent from every drawn case are skipped.

Map-level bootstrap of a stratum's aggregate (`bootstrap_f1`, `bootstrap_f1_difference`): the
unit resampled is a map — or a group of maps that share a source (one component low-passed to
several resolutions) — never a voxel: voxels of one map are not independent, and the
question is how the figure would move on other maps of the kind. The aggregate is recomputed
from each resample's (true positive, predicted, true) counts: "weighted" = per-map F1 weighted
by the map's true voxels (the model card's figure), "pooled" = F1 of the summed counts. The
difference of two predictors uses the same resamples for both (paired). With fewer than two
groups that hold true voxels of the class there is nothing to resample (every resample
repeats the one informative map) and the interval is None.

Paired test: the Wilcoxon signed-rank test (two-sided, scipy) on per-case sheet F1 of two
losses over the cases where both are defined; zero differences are dropped (Wilcoxon's
treatment). Effect size: the matched-pairs rank-biserial correlation r = (W+ − W−) / (W+ + W−)
from the signed ranks (+1: the first loss better on every case), and the median difference.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import stats

from cryosse.core.metrics import weighted_average


def bootstrap_ci(
    f1: list[float | None],
    weights: list[int],
    resamples: int = 2000,
    seed: int = 0,
    level: float = 0.95,
) -> tuple[float | None, float | None]:
    cases = [(v, w) for v, w in zip(f1, weights, strict=True) if v is not None and w > 0]
    if not cases:
        return None, None
    values = np.array([v for v, _ in cases])
    w = np.array([w for _, w in cases], dtype=np.float64)
    rng = np.random.default_rng(seed)
    draws = rng.integers(0, len(cases), size=(resamples, len(cases)))
    totals = w[draws].sum(axis=1)
    estimates = (values[draws] * w[draws]).sum(axis=1) / totals
    tail = (1.0 - level) / 2.0 * 100.0
    low, high = np.percentile(estimates, [tail, 100.0 - tail])
    return float(low), float(high)


def weighted_with_ci(
    f1: list[float | None], weights: list[int], resamples: int = 2000, seed: int = 0
) -> tuple[float | None, float | None, float | None]:
    low, high = bootstrap_ci(f1, weights, resamples, seed)
    return weighted_average(f1, weights), low, high


AGGREGATES = ("weighted", "pooled")


@dataclass(frozen=True)
class Interval:
    """An aggregate over maps with its percentile-bootstrap interval and sample size."""

    value: float | None
    low: float | None
    high: float | None
    n_maps: int
    n_groups: int
    n_groups_with_class: int  # groups holding true voxels (residues) of the class


def _group_sums(
    counts: list[tuple[int, int, int]], groups: list[str] | None
) -> tuple[np.ndarray, np.ndarray]:
    """Per group: summed (tp, pred, true) and summed (true × F1, true) of its maps."""
    ids = list(range(len(counts))) if groups is None else groups
    if len(ids) != len(counts):
        raise ValueError(f"{len(ids)} group labels for {len(counts)} maps")
    order = {g: i for i, g in enumerate(dict.fromkeys(ids))}
    totals = np.zeros((len(order), 3))
    weighted = np.zeros((len(order), 2))
    for (tp, pred, true), g in zip(counts, ids, strict=True):
        i = order[g]
        totals[i] += (tp, pred, true)
        if pred + true:
            weighted[i] += (true * 2.0 * tp / (pred + true), true)
    return totals, weighted


def _aggregate(totals: np.ndarray, weighted: np.ndarray, kind: str) -> np.ndarray:
    """The aggregate of the summed group rows (last axis: the sums); NaN where undefined."""
    with np.errstate(invalid="ignore", divide="ignore"):
        if kind == "weighted":
            return np.where(weighted[..., 1] > 0, weighted[..., 0] / weighted[..., 1], np.nan)
        if kind == "pooled":
            denominator = totals[..., 1] + totals[..., 2]
            return np.where(denominator > 0, 2.0 * totals[..., 0] / denominator, np.nan)
    raise ValueError(f"aggregate {kind!r}: expected one of {AGGREGATES}")


def _resampled(
    counts: list[tuple[int, int, int]],
    groups: list[str] | None,
    kind: str,
    draws: np.ndarray,
) -> tuple[float | None, np.ndarray]:
    totals, weighted = _group_sums(counts, groups)
    value = _aggregate(totals.sum(axis=0), weighted.sum(axis=0), kind)
    samples = _aggregate(totals[draws].sum(axis=1), weighted[draws].sum(axis=1), kind)
    return (None if np.isnan(value) else float(value)), samples


def _informative(counts: list[tuple[int, int, int]], groups: list[str] | None) -> int:
    totals, _ = _group_sums(counts, groups)
    return int((totals[:, 2] > 0).sum())


def _draws(n_groups: int, resamples: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return rng.integers(0, n_groups, size=(resamples, n_groups))


def _interval(samples: np.ndarray, level: float) -> tuple[float | None, float | None]:
    finite = samples[np.isfinite(samples)]
    if finite.size == 0:
        return None, None
    tail = (1.0 - level) / 2.0 * 100.0
    low, high = np.percentile(finite, [tail, 100.0 - tail])
    return float(low), float(high)


def bootstrap_f1(
    counts: list[tuple[int, int, int]],
    groups: list[str] | None = None,
    kind: str = "weighted",
    resamples: int = 2000,
    seed: int = 0,
    level: float = 0.95,
) -> Interval:
    """Aggregate F1 of per-map (tp, pred, true) counts with its map-level bootstrap interval;
    `groups` labels the maps that are resampled together (None: each map alone)."""
    n_groups = len(set(groups)) if groups is not None else len(counts)
    informative = _informative(counts, groups)
    draws = _draws(n_groups, resamples, seed)
    value, samples = _resampled(counts, groups, kind, draws)
    low, high = _interval(samples, level) if informative > 1 else (None, None)
    return Interval(value, low, high, len(counts), n_groups, informative)


def bootstrap_f1_difference(
    counts_a: list[tuple[int, int, int]],
    counts_b: list[tuple[int, int, int]],
    groups: list[str] | None = None,
    kind: str = "weighted",
    resamples: int = 2000,
    seed: int = 0,
    level: float = 0.95,
) -> Interval:
    """Aggregate F1 of a minus that of b on the same maps, paired resamples."""
    if len(counts_a) != len(counts_b):
        raise ValueError(f"{len(counts_a)} and {len(counts_b)} maps: not paired")
    n_groups = len(set(groups)) if groups is not None else len(counts_a)
    informative = _informative(counts_a, groups)
    draws = _draws(n_groups, resamples, seed)
    value_a, samples_a = _resampled(counts_a, groups, kind, draws)
    value_b, samples_b = _resampled(counts_b, groups, kind, draws)
    value = None if value_a is None or value_b is None else value_a - value_b
    low, high = _interval(samples_a - samples_b, level) if informative > 1 else (None, None)
    return Interval(value, low, high, len(counts_a), n_groups, informative)


@dataclass(frozen=True)
class PairedTest:
    n: int
    statistic: float | None
    p_value: float | None
    rank_biserial: float | None
    median_difference: float | None


def paired_wilcoxon(a: list[float | None], b: list[float | None]) -> PairedTest:
    """Wilcoxon signed-rank test of a vs b (per case, paired)."""
    pairs = [(x, y) for x, y in zip(a, b, strict=True) if x is not None and y is not None]
    differences = np.array([x - y for x, y in pairs])
    nonzero = differences[differences != 0]
    if len(nonzero) == 0:
        return PairedTest(
            len(pairs),
            None,
            None,
            None,
            float(np.median(differences)) if len(differences) else None,
        )
    ranks = stats.rankdata(np.abs(nonzero))
    plus, minus = ranks[nonzero > 0].sum(), ranks[nonzero < 0].sum()
    result = stats.wilcoxon(nonzero, alternative="two-sided")
    return PairedTest(
        n=len(pairs),
        statistic=float(result.statistic),
        p_value=float(result.pvalue),
        rank_biserial=float((plus - minus) / (plus + minus)),
        median_difference=float(np.median(differences)),
    )


def seed_mean_with_ci(
    f1: list[list[float | None]],
    weights: list[list[int]],
    resamples: int = 2000,
    seed: int = 0,
    level: float = 0.95,
) -> tuple[float | None, float | None, float | None, float | None]:
    """Mean over seeds of the weighted F1, its sd over seeds, and a map-level 95 % interval.

    `f1[s][m]`, `weights[s][m]`: seed s, map m (the same maps, in the same order, for every
    seed). The bootstrap resamples maps, not voxels or seeds: a drawn map enters every seed's
    weighted average, so the interval says how much the figure depends on which maps are in the
    test set, with the seeds' spread inside it (a cluster bootstrap over maps).
    """
    per_seed = [weighted_average(v, w) for v, w in zip(f1, weights, strict=True)]
    defined = [v for v in per_seed if v is not None]
    if not defined:
        return None, None, None, None
    mean = float(np.mean(defined))
    sd = float(np.std(defined, ddof=1)) if len(defined) > 1 else None
    values = np.array([[np.nan if v is None else v for v in row] for row in f1], dtype=np.float64)
    w = np.array(weights, dtype=np.float64)
    w[np.isnan(values) | (w <= 0)] = 0.0
    values = np.nan_to_num(values)
    n_maps = values.shape[1]
    rng = np.random.default_rng(seed)
    draws = rng.integers(0, n_maps, size=(resamples, n_maps))
    totals = w[:, draws].sum(axis=2)  # seeds x resamples
    sums = (values[:, draws] * w[:, draws]).sum(axis=2)
    with np.errstate(invalid="ignore", divide="ignore"):
        estimates = np.nanmean(np.where(totals > 0, sums / totals, np.nan), axis=0)
    estimates = estimates[~np.isnan(estimates)]
    if not len(estimates):
        return mean, sd, None, None
    tail = (1.0 - level) / 2.0 * 100.0
    low, high = np.percentile(estimates, [tail, 100.0 - tail])
    return mean, sd, float(low), float(high)
