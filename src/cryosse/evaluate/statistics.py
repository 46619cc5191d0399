"""Statistics the paper does not give: bootstrap confidence intervals and paired tests.

Bootstrap: cases are resampled with replacement (seeded, 2,000 resamples by default) and the
weighted average recomputed; the 95 % interval is the 2.5th-97.5th percentile of those
(percentile bootstrap). Resamples where the class is absent from every drawn case are skipped.

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
