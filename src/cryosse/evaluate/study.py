"""The loss study over maps and seeds: the per-case record, the paper's claims with a verdict,
P(rank 1) of each loss, and F1 by resolution band and quality bin.

Unit of resampling: the map (EMDB entry). Chains of one map share its noise and its fit, so a
bootstrap draws maps with replacement and keeps every chain, every seed and every loss of a
drawn map together (a paired cluster bootstrap). A loss's figure in one resample is the mean
over its seeds of the weighted voxel F1 (weights: true voxels of the class), as in Table 1.

Verdicts: a claim that A beats B is *reproduced* when the 95 % interval of A − B lies above
zero, *refuted* when it lies below, and *inconclusive* otherwise; then the maps needed to
separate a difference of the published size (or, without one, of the observed size) at
α = 0.05 with 80 % power are estimated from the sd of the per-map paired differences
(n = ((1.96 + 0.84) sd / δ)²). "FL_DL is best overall" is reproduced when FL_DL ranks first
in at least 95 % of the resamples, refuted when another loss does. With fewer than MIN_MAPS
test maps every claim is inconclusive.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import numpy as np

from cryosse.core.classes import SCORED_CLASSES
from cryosse.core.grid import LOSSES
from cryosse.evaluate.evaluation import CaseResult

# evaluation/<loss>/seed_<seed>/cases.tsv read by loss, then seed
CasesByLossSeed = dict[str, dict[int, list[CaseResult]]]

Z_ALPHA, Z_POWER = 1.96, 0.84  # two-sided 5 %, 80 % power
# Below this many maps no verdict is given: a bootstrap over so few maps has no tails to read
# (CASP4's 14 targets could not separate its top eight methods).
MIN_MAPS = 5
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
PER_CASE_COLUMNS = [
    "loss",
    "seed",
    "sample_id",
    "map",
    "resolution",
    "quality_bin",
    "class",
    "level",
    "tp",
    "fp",
    "fn",
    "f1",
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


def map_of(sample_id: str) -> str:
    """The map (EMDB entry) a sample comes from: the first field of EMD-xxxx_pdb_chain."""
    return sample_id.split("_", 1)[0]


def case_counts(
    by_loss: CasesByLossSeed, manifest: dict[str, dict[str, str]] | None = None
) -> list[dict[str, Any]]:
    """The primary record: per loss × seed × case × class × level, TP / FP / FN and F1, with
    the case's map, resolution and quality bin (from the manifest, when given)."""
    rows = []
    for loss, seeds in by_loss.items():
        for seed, cases in seeds.items():
            for case in cases:
                meta = (manifest or {}).get(case.sample_id, {})
                for cls in SCORED_CLASSES:
                    for level, (tp, pred, true) in _counts(case, cls).items():
                        if tp is None or pred is None:
                            continue  # a cases.tsv from before the residue counts
                        f1 = 2 * tp / (pred + true) if pred + true else None
                        rows.append(
                            {
                                "loss": loss,
                                "seed": seed,
                                "sample_id": case.sample_id,
                                "map": map_of(case.sample_id),
                                "resolution": case.resolution,
                                "quality_bin": meta.get("quality_bin", ""),
                                "class": cls,
                                "level": level,
                                "tp": tp,
                                "fp": pred - tp,
                                "fn": true - tp,
                                "f1": None if f1 is None else round(f1, 6),
                            }
                        )
    return rows


def _counts(case: CaseResult, cls: str) -> dict[str, tuple[int | None, int | None, int]]:
    return {
        "voxel": (
            getattr(case, f"voxel_tp_{cls}"),
            getattr(case, f"voxel_pred_{cls}"),
            getattr(case, f"voxel_true_{cls}"),
        ),
        "residue": (
            getattr(case, f"residue_tp_{cls}"),
            getattr(case, f"residue_pred_{cls}"),
            getattr(case, f"ca_{cls}"),
        ),
    }


@dataclass
class _Arrays:
    """Per loss: F1 and weights [seed, case] for each class, over the cases all losses share."""

    losses: list[str]
    cluster: np.ndarray  # case -> map index
    n_maps: int
    f1: dict[str, dict[str, np.ndarray]]
    weight: dict[str, dict[str, np.ndarray]]


def _arrays(by_loss: CasesByLossSeed, level: str = "voxel") -> _Arrays:
    """`level` voxel: voxel F1 weighted by true voxels; residue: residue F1 (the 3 Å vote)
    weighted by the class's true Cα in the central box."""
    losses = [x for x in LOSSES if by_loss.get(x)]
    if not losses:
        return _Arrays([], np.zeros(0, dtype=np.int64), 0, {}, {})
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
    return _Arrays(losses, cluster, len(maps), f1, weight)


def _figure(arrays: _Arrays, loss: str, metric: str, case_weights: np.ndarray) -> np.ndarray:
    """Mean over seeds of the weighted F1 for each row of `case_weights` (resample × case:
    how often each case is drawn)."""
    classes = SCORED_CLASSES if metric == "average" else (metric,)
    per_class = []
    for cls in classes:
        f1, w = arrays.f1[loss][cls], arrays.weight[loss][cls]  # seed × case
        totals = case_weights @ w.T  # resample × seed
        sums = case_weights @ (f1 * w).T
        with np.errstate(invalid="ignore", divide="ignore"):
            per_class.append(np.nanmean(np.where(totals > 0, sums / totals, np.nan), axis=1))
    return np.mean(per_class, axis=0)


def _resample_weights(arrays: _Arrays, resamples: int, seed: int) -> np.ndarray:
    """resample × case: how often each case's map is drawn (the first row: the data itself)."""
    rng = np.random.default_rng(seed)
    drawn = rng.integers(0, arrays.n_maps, size=(resamples, arrays.n_maps))
    per_map = np.stack([np.bincount(row, minlength=arrays.n_maps) for row in drawn])
    observed = np.ones((1, arrays.n_maps))
    return np.concatenate([observed, per_map])[:, arrays.cluster].astype(np.float64)


def rank_probabilities(
    by_loss: CasesByLossSeed, metric: str = "average", resamples: int = 2000, seed: int = 0
) -> list[dict[str, Any]]:
    """Per loss: its figure on the data and P(rank 1) over paired map resamples."""
    arrays = _arrays(by_loss)
    if not arrays.losses or not arrays.n_maps:
        return []
    weights = _resample_weights(arrays, resamples, seed)
    figures = np.stack([_figure(arrays, x, metric, weights) for x in arrays.losses])
    figures = figures[:, 1:][:, ~np.isnan(figures[:, 1:]).any(axis=0)]
    firsts = np.bincount(np.argmax(figures, axis=0), minlength=len(arrays.losses))
    observed = [
        _figure(arrays, x, metric, np.ones((1, len(arrays.cluster))))[0] for x in arrays.losses
    ]
    return [
        {
            "loss": loss,
            "metric": f"{metric} voxel F1",
            "value": _num(observed[i]),
            "p_rank_1": _num(firsts[i] / figures.shape[1] if figures.shape[1] else None),
            "maps": arrays.n_maps,
            "seeds": len(by_loss[loss]),
        }
        for i, loss in enumerate(arrays.losses)
    ]


def verdicts(
    by_loss: CasesByLossSeed,
    claims: Iterable[Claim] = PAPER_CLAIMS,
    resamples: int = 2000,
    seed: int = 0,
) -> list[dict[str, Any]]:
    """Each claim with the observed difference, its map-level 95 % interval, the verdict and,
    when inconclusive, the maps a test would need."""
    arrays = _arrays(by_loss)
    weights = _resample_weights(arrays, resamples, seed) if arrays.n_maps else None
    rows: list[dict[str, Any]] = []
    for claim in claims:
        row: dict[str, Any] = {"claim": claim.text, "maps": arrays.n_maps}
        needed = [claim.better] + ([claim.worse] if claim.worse else [])
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
            row |= {"difference": "", "ci_low": "", "ci_high": "", "p_rank_1": _num(p)}
            row |= {
                "verdict": verdict,
                "why": f"{claim.better} ranks first in {100 * p:.0f} % "
                f"of {resamples} map resamples"
                + (f"; {rival['loss']} in {100 * float(rival['p_rank_1']):.0f} %" if rival else ""),
            }
            rows.append(row)
            continue
        a = _figure(arrays, claim.better, claim.metric, weights)
        b = _figure(arrays, claim.worse, claim.metric, weights)
        diffs = (a - b)[1:]
        diffs = diffs[~np.isnan(diffs)]
        observed = float(a[0] - b[0])
        low, high = np.percentile(diffs, [2.5, 97.5]) if len(diffs) else (np.nan, np.nan)
        verdict = "reproduced" if low > 0 else "refuted" if high < 0 else "inconclusive"
        row |= {
            "difference": _num(observed),
            "ci_low": _num(float(low)),
            "ci_high": _num(float(high)),
            "verdict": verdict,
            "why": _why(
                claim,
                observed,
                float(low),
                float(high),
                verdict,
                _maps_needed(arrays, claim, observed),
            ),
        }
        rows.append(row)
    return [{k: row.get(k, "") for k in VERDICT_COLUMNS} for row in rows]


def _maps_needed(arrays: _Arrays, claim: Claim, observed: float) -> int | None:
    """Maps needed to separate the published (else the observed) difference from zero, from
    the sd over maps of the per-map paired difference (each map's mean over seeds)."""
    assert claim.worse is not None
    per_map = []
    for m in range(arrays.n_maps):
        on_map = (arrays.cluster == m).astype(np.float64)[None, :]
        d = _figure(arrays, claim.better, claim.metric, on_map) - _figure(
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


def by_stratum(
    by_loss: CasesByLossSeed, stratum_of: dict[str, str], name: str
) -> list[dict[str, Any]]:
    """Per loss and stratum (e.g. resolution band, quality bin): weighted voxel F1 mean over
    seeds and the maps behind it."""
    rows = []
    strata = sorted(set(stratum_of.values()))
    for loss in [x for x in LOSSES if x in by_loss]:
        for stratum in strata:
            row: dict[str, Any] = {"loss": loss, name: stratum}
            members = {s for s, v in stratum_of.items() if v == stratum}
            sub = {
                loss: {
                    k: [c for c in v if c.sample_id in members] for k, v in by_loss[loss].items()
                }
            }
            arrays = _arrays(sub)
            if not arrays.n_maps:
                continue
            ones = np.ones((1, len(arrays.cluster)))
            row["maps"] = arrays.n_maps
            row["cases"] = len(arrays.cluster)
            row["seeds"] = len(by_loss[loss])
            for cls in SCORED_CLASSES:
                row[f"{cls}_f1"] = _num(float(_figure(arrays, loss, cls, ones)[0]))
            rows.append(row)
    return rows


def resolution_band(resolution: float | None) -> str:
    """The paper's 5-10 Å window in 1 Å bands, the last one 9-10 Å; NA without a value."""
    if resolution is None or not math.isfinite(resolution):
        return "NA"
    low = min(max(math.floor(resolution), 5), 9)
    return f"{low}-{low + 1} Å" if resolution >= 5 else "< 5 Å"


# Mu et al. 2024, "The combined focal loss and dice loss function improves the segmentation of
# beta-sheets in medium-resolution cryo-electron-microscopy density maps", Bioinformatics
# Advances 4(1), vbae169: Table 1 (weighted-average voxel F1 over the 62-case test set, in %,
# with the γ chosen) and Table 2's last row (FL_DL's residue F1, the 3 Å vote). DeepSSETracer
# 1.1 is the FL_DL network; the paper gives residue F1 for FL_DL only.
PUBLISHED_TABLE1: dict[str, dict[str, float | None]] = {
    "CE": {"gamma": None, "voxel_helix": 61.7, "voxel_sheet": 39.9, "voxel_average": 50.8},
    "FL": {"gamma": 2, "voxel_helix": 62.9, "voxel_sheet": 45.4, "voxel_average": 54.2},
    "DL": {"gamma": None, "voxel_helix": 61.8, "voxel_sheet": 43.4, "voxel_average": 52.6},
    "CE_DL": {"gamma": None, "voxel_helix": 61.7, "voxel_sheet": 46.0, "voxel_average": 53.9},
    "FL_DL": {
        "gamma": 1,
        "voxel_helix": 62.0,
        "voxel_sheet": 48.7,
        "voxel_average": 55.4,
        "residue_helix": 74.3,
        "residue_sheet": 58.2,
    },
}
PUBLISHED_SOURCE = "Mu et al. 2024 (DeepSSETracer 1.1), Bioinformatics Advances 4(1) vbae169"
# Table 1's figures: (level, metric); the average is the paper's (helix + sheet) / 2.
TABLE1_FIGURES = (
    ("voxel", "helix"),
    ("voxel", "sheet"),
    ("voxel", "average"),
    ("residue", "helix"),
    ("residue", "sheet"),
)


def _per_seed(arrays: _Arrays, loss: str, metric: str) -> list[float]:
    """The weighted F1 of each seed on all its cases (a seed with nothing to weigh: left out)."""
    classes = SCORED_CLASSES if metric == "average" else (metric,)
    out = []
    for row in range(next(iter(arrays.f1[loss].values())).shape[0]):
        values = []
        for cls in classes:
            f1, w = arrays.f1[loss][cls][row], arrays.weight[loss][cls][row]
            values.append(float((f1 * w).sum() / w.sum()) if w.sum() > 0 else math.nan)
        if not any(math.isnan(v) for v in values):
            out.append(float(np.mean(values)))
    return out


def study_table1(
    by_loss: CasesByLossSeed,
    chosen: dict[str, str] | None = None,
    resamples: int = 2000,
    seed: int = 0,
) -> list[dict[str, Any]]:
    """Table 1 over seeds: per loss and figure (voxel helix / sheet / average, residue helix /
    sheet), the mean over seeds of the weighted F1, its sd over seeds, and a 95 % interval
    from a bootstrap over maps (every chain and seed of a drawn map together); the published
    figure beside it (PUBLISHED_TABLE1, 0-1 scale). Each loss on all its own test cases."""
    rows = []
    for loss in [x for x in LOSSES if by_loss.get(x)]:
        one = {loss: by_loss[loss]}
        row: dict[str, Any] = {
            "loss": loss,
            "run_id": (chosen or {}).get(loss, ""),
            "seeds": len(by_loss[loss]),
            "maps": 0,
            "cases": 0,
        }
        for level in ("voxel", "residue"):
            arrays = _arrays(one, level)
            row["maps"], row["cases"] = arrays.n_maps, len(arrays.cluster)
            weights = _resample_weights(arrays, resamples, seed) if arrays.n_maps else None
            for lvl, metric in TABLE1_FIGURES:
                if lvl != level:
                    continue
                key = f"{level}_{metric}"
                values = _per_seed(arrays, loss, metric) if weights is not None else []
                low = high = math.nan
                if weights is not None and values:
                    boot = _figure(arrays, loss, metric, weights)[1:]
                    boot = boot[~np.isnan(boot)]
                    if len(boot):
                        low, high = (float(v) for v in np.percentile(boot, [2.5, 97.5]))
                row[f"{key}_mean"] = _num(float(np.mean(values)) if values else None)
                row[f"{key}_sd"] = _num(float(np.std(values, ddof=1)) if len(values) > 1 else None)
                row[f"{key}_ci_low"] = _num(low)
                row[f"{key}_ci_high"] = _num(high)
                published = PUBLISHED_TABLE1.get(loss, {}).get(key)
                row[f"{key}_published"] = _num(None if published is None else published / 100)
        rows.append(row)
    return rows


def table1_cells(row: dict[str, Any]) -> dict[str, str]:
    """One Table 1 row for reading: 'mean ± sd [low, high]' per figure, the published beside."""
    out = {k: str(row[k]) for k in ("loss", "run_id", "seeds", "maps", "cases")}
    for level, metric in TABLE1_FIGURES:
        key = f"{level}_{metric}"
        mean, sd = row[f"{key}_mean"], row[f"{key}_sd"]
        cell = mean if sd == "NA" else f"{mean} ± {sd}"
        if row[f"{key}_ci_low"] != "NA":
            cell += f" [{row[f'{key}_ci_low']}, {row[f'{key}_ci_high']}]"
        out[key] = cell
        out[f"{key} paper"] = row[f"{key}_published"]
    return out


def study_table2(by_loss: CasesByLossSeed, reference: str = "FL_DL") -> list[dict[str, Any]]:
    """Table 2 over seeds: per test case, its map, resolution and Cα counts, each loss's voxel F1
    of helix and sheet (mean over the seeds where it is defined) and the reference loss's
    residue F1. NA: no seed of that loss has the case, or F1 undefined on every seed."""
    losses = [x for x in LOSSES if by_loss.get(x)]
    cases: dict[str, dict[str, list[CaseResult]]] = {}
    for loss in losses:
        for seed_cases in by_loss[loss].values():
            for case in seed_cases:
                cases.setdefault(case.sample_id, {}).setdefault(loss, []).append(case)
    rows = []
    for sample_id in sorted(cases):
        first = next(iter(cases[sample_id].values()))[0]
        row: dict[str, Any] = {
            "sample_id": sample_id,
            "map": map_of(sample_id),
            "resolution": _num(first.resolution, 1),
            "ca_helix": first.ca_helix,
            "ca_sheet": first.ca_sheet,
            "ca_other": first.ca_other,
        }
        for loss in losses:
            for cls in SCORED_CLASSES:
                row[f"{loss}_{cls}"] = _mean_of(cases[sample_id].get(loss, []), f"voxel_f1_{cls}")
        if reference in losses:
            for cls in SCORED_CLASSES:
                row[f"{reference}_residue_{cls}"] = _mean_of(
                    cases[sample_id].get(reference, []), f"residue_f1_{cls}"
                )
        rows.append(row)
    return rows


def _mean_of(cases: list[CaseResult], field: str) -> str:
    values = [getattr(c, field) for c in cases if getattr(c, field) is not None]
    return _num(float(np.mean(values)) if values else None)


def per_map_pairs(
    by_loss: CasesByLossSeed, better: str, worse: str, metric: str = "sheet"
) -> list[tuple[str, float, float]]:
    """Per map the two losses share: (map, better's figure, worse's figure), each the mean over
    its seeds of the weighted voxel F1 over the map's chains (maps where either is undefined
    are left out): the points of a paired plot."""
    arrays = _arrays({better: by_loss[better], worse: by_loss[worse]})
    maps = sorted({map_of(s) for s in _shared(by_loss, better, worse)})  # arrays' map order
    out = []
    for index, name in enumerate(maps):
        on_map = (arrays.cluster == index).astype(np.float64)[None, :]
        a = float(_figure(arrays, better, metric, on_map)[0])
        b = float(_figure(arrays, worse, metric, on_map)[0])
        if not (math.isnan(a) or math.isnan(b)):
            out.append((name, a, b))
    return out


def _ids(cases: list[CaseResult]) -> list[str]:
    return [c.sample_id for c in cases]


def _shared(by_loss: CasesByLossSeed, a: str, b: str) -> set[str]:
    ids = [{s for cases in by_loss[x].values() for s in _ids(cases)} for x in (a, b)]
    return ids[0] & ids[1]


def _num(value: float | None, digits: int = 3) -> str:
    return (
        "NA"
        if value is None or (isinstance(value, float) and math.isnan(value))
        else (f"{value:.{digits}f}")
    )
