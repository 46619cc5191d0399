"""The paired cluster bootstrap over maps that the loss study's figures and verdicts share.

Unit of resampling: the map (EMDB entry). Chains of one map share its noise and its fit, so a
bootstrap draws maps with replacement and keeps every chain, every seed and every loss of a
drawn map together (a paired cluster bootstrap). A loss's figure in one resample is the mean
over its seeds of the weighted voxel F1 (weights: true voxels of the class), as in Table 1.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from cryosse.core.classes import SCORED_CLASSES
from cryosse.core.run_grid import LOSSES
from cryosse.evaluate.evaluation import CaseResult

# evaluation/<loss>/seed_<seed>/cases.tsv read by loss, then seed
CasesByLossSeed = dict[str, dict[int, list[CaseResult]]]


def map_of(sample_id: str) -> str:
    """The map (EMDB entry) a sample comes from: the first field of EMD-xxxx_pdb_chain."""
    return sample_id.split("_", 1)[0]


@dataclass
class LossArrays:
    """Per loss: F1 and weights [seed, case] for each class, over the cases all losses share."""

    losses: list[str]
    cluster: np.ndarray  # case -> map index
    n_maps: int
    f1: dict[str, dict[str, np.ndarray]]
    weight: dict[str, dict[str, np.ndarray]]


def loss_arrays(by_loss: CasesByLossSeed, level: str = "voxel") -> LossArrays:
    """`level` voxel: voxel F1 weighted by true voxels; residue: residue F1 (the 3 Å vote)
    weighted by the class's true Cα in the central box."""
    losses = [x for x in LOSSES if by_loss.get(x)]
    if not losses:
        return LossArrays([], np.zeros(0, dtype=np.int64), 0, {}, {})
    shared = set.intersection(
        *({c.sample_id for cases in by_loss[x].values() for c in cases} for x in losses)
    )
    samples = sorted(shared)
    maps = sorted({map_of(s) for s in samples})
    cluster = np.array([maps.index(map_of(s)) for s in samples], dtype=np.int64)
    f1: dict[str, dict[str, np.ndarray]] = {}
    weight: dict[str, dict[str, np.ndarray]] = {}
    weight_field = "voxel_true_{}" if level == "voxel" else "ca_{}"
    for loss in losses:
        f1[loss], weight[loss] = {}, {}
        for cls in SCORED_CLASSES:
            values = np.zeros((len(by_loss[loss]), len(samples)))
            weights = np.zeros_like(values)
            for row, cases in enumerate(by_loss[loss].values()):
                by_id = {c.sample_id: c for c in cases}
                for col, sample in enumerate(samples):
                    case = by_id.get(sample)
                    value = None if case is None else getattr(case, f"{level}_f1_{cls}")
                    if case is not None and value is not None:
                        values[row, col] = value
                        weights[row, col] = getattr(case, weight_field.format(cls))
            f1[loss][cls], weight[loss][cls] = values, weights
    return LossArrays(losses, cluster, len(maps), f1, weight)


def metric_classes(metric: str) -> tuple[str, ...]:
    """The classes a metric averages: helix and sheet for "average", else the one it names."""
    return SCORED_CLASSES if metric == "average" else (metric,)


def weighted_f1(arrays: LossArrays, loss: str, metric: str, case_weights: np.ndarray) -> np.ndarray:
    """Mean over seeds of the weighted F1 for each row of `case_weights` (resample × case:
    how often each case is drawn)."""
    per_class = []
    for cls in metric_classes(metric):
        f1, w = arrays.f1[loss][cls], arrays.weight[loss][cls]  # seed × case
        totals = case_weights @ w.T  # resample × seed
        sums = case_weights @ (f1 * w).T
        with np.errstate(invalid="ignore", divide="ignore"):
            per_class.append(np.nanmean(np.where(totals > 0, sums / totals, np.nan), axis=1))
    return np.mean(per_class, axis=0)


def resample_weights(arrays: LossArrays, resamples: int, seed: int) -> np.ndarray:
    """resample × case: how often each case's map is drawn (the first row: the data itself)."""
    rng = np.random.default_rng(seed)
    drawn = rng.integers(0, arrays.n_maps, size=(resamples, arrays.n_maps))
    per_map = np.stack([np.bincount(row, minlength=arrays.n_maps) for row in drawn])
    observed = np.ones((1, arrays.n_maps))
    return np.concatenate([observed, per_map])[:, arrays.cluster].astype(np.float64)


def percentile_interval(drawn: np.ndarray) -> tuple[float, float]:
    """The 95 % percentile interval of a bootstrap's draws, the draws without a value (NaN:
    the class absent from every drawn case) left out; (NaN, NaN) when none has one."""
    finite = drawn[~np.isnan(drawn)]
    if not len(finite):
        return math.nan, math.nan
    low, high = np.percentile(finite, [2.5, 97.5])
    return float(low), float(high)


def number_text(value: float | None, digits: int = 3) -> str:
    return (
        "NA"
        if value is None or (isinstance(value, float) and math.isnan(value))
        else (f"{value:.{digits}f}")
    )
