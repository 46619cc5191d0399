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
