"""The paper's Table 1 and Table 2, and the paired tests, from per-case evaluation results.

Table 1 — per loss: the chosen run (best γ for FL and FL_DL), the weighted-average voxel F1 of
helix and sheet over the test cases with its bootstrap 95 % interval, their mean ("average",
as in the paper), and, labelled as such, the micro (pooled) and macro (plain mean) F1; then
the residue F1 of helix and sheet (the 3 Å vote) weighted by the true Cα of the class, with
its interval.
Table 2 — per test case: resolution, helix / sheet / other Cα in the central box, voxel F1 of
helix and sheet for every loss, residue F1 of helix and sheet for the best loss (the highest
Table 1 average).
Tests — FL_DL against every other loss: Wilcoxon signed-rank on per-case sheet F1.
Each table is written as TSV (exact values), Markdown and an HTML fragment.

Baselines (cryosse.evaluate.baselines: density threshold, Hessian shape, every voxel helix), scored
on
the same test cases and truth, stand beside the losses: in Table 1 as rows `baseline:<name>`
(never chosen as the best loss), in Table 2 as their voxel F1 columns `baseline:<name>_helix`
/ `_sheet` and residue F1 columns `residue_helix_baseline:<name>` / `residue_sheet_…`.

Beside the paper (`paper_comparison`, with `splits.test_chains`, e.g. the paper's Table 2 in
config/paper_test_set.tsv) — for every listed case in the test set: our F1 and the published
one, in percent, for every loss and level (voxel, residue) the table gives; and per loss, level
and class the paired difference ours − paper over the cases where both are defined: n, mean,
standard deviation, and the sign count (ours higher / lower / equal at the paper's 0.1 %).
"""

from __future__ import annotations

import html
from pathlib import Path
from typing import Any

import numpy as np

from cryosse.core.atomic import write_text_atomic
from cryosse.core.classes import SCORED_CLASSES
from cryosse.core.metrics import mean_defined, micro_f1
from cryosse.core.run_grid import BASELINES, LOSSES
from cryosse.core.tsv import tsv_text
from cryosse.evaluate.evaluation import CaseResult
from cryosse.evaluate.statistics import paired_wilcoxon, seed_mean_with_ci, weighted_with_ci
from cryosse.splits.published import F1Key, PublishedCase, published_keys

REFERENCE_LOSS = "FL_DL"
# Written beside Table 2 only when the run has cases of a test-chain table with published F1.
PAPER_TABLES = ("table2_paper", "paper_differences")


def _num(value: float | None, digits: int = 3) -> str:
    return "NA" if value is None else f"{value:.{digits}f}"


BASELINE_PREFIX = "baseline:"


def _predictors(
    results: dict[str, list[CaseResult]], baselines: dict[str, list[CaseResult]] | None
) -> dict[str, list[CaseResult]]:
    """Losses in the paper's order, then the baselines as `baseline:<name>`."""
    out = {loss: results[loss] for loss in LOSSES if loss in results}
    for name in [b for b in BASELINES if b in (baselines or {})]:
        out[BASELINE_PREFIX + name] = (baselines or {})[name]
    return out


def table1(
    results: dict[str, list[CaseResult]],
    chosen: dict[str, dict[str, Any]],
    baselines: dict[str, list[CaseResult]] | None = None,
) -> list[dict]:
    rows = []
    for loss, cases in _predictors(results, baselines).items():
        row: dict[str, Any] = {
            "loss": loss,
            "run_id": chosen[loss]["run_id"] if loss in chosen else "",
            "gamma": (chosen[loss].get("gamma") or "") if loss in chosen else "",
            "cases": len(cases),
        }
        averages = []
        for cls in SCORED_CLASSES:
            f1 = [getattr(c, f"voxel_f1_{cls}") for c in cases]
            weights = [getattr(c, f"voxel_true_{cls}") for c in cases]
            value, low, high = weighted_with_ci(f1, weights)
            averages.append(value)
            counts = [
                (
                    getattr(c, f"voxel_tp_{cls}"),
                    getattr(c, f"voxel_pred_{cls}"),
                    getattr(c, f"voxel_true_{cls}"),
                )
                for c in cases
            ]
            row |= {
                f"{cls}_weighted": _num(value),
                f"{cls}_ci_low": _num(low),
                f"{cls}_ci_high": _num(high),
                f"{cls}_micro": _num(micro_f1(counts)),
                f"{cls}_macro": _num(mean_defined(f1)),
            }
        defined = [a for a in averages if a is not None]
        row["average"] = _num(sum(defined) / len(defined) if len(defined) == 2 else None)
        for cls in SCORED_CLASSES:  # the 3 Å vote, weighted by the class's true Cα
            value, low, high = weighted_with_ci(
                [getattr(c, f"residue_f1_{cls}") for c in cases],
                [getattr(c, f"ca_{cls}") for c in cases],
            )
            row |= {
                f"residue_{cls}_weighted": _num(value),
                f"residue_{cls}_ci_low": _num(low),
                f"residue_{cls}_ci_high": _num(high),
            }
        rows.append(row)
    return rows


def best_loss(rows: list[dict]) -> str | None:
    """The loss with the highest Table 1 average (baseline rows never count)."""
    scored = [r for r in rows if r["average"] != "NA" and r["loss"] in LOSSES]
    return max(scored, key=lambda r: float(r["average"]))["loss"] if scored else None


def table2(
    results: dict[str, list[CaseResult]],
    best: str | None,
    baselines: dict[str, list[CaseResult]] | None = None,
) -> list[dict]:
    predictors = _predictors(results, baselines)
    losses = list(predictors)
    extra = [p for p in losses if p.startswith(BASELINE_PREFIX)]
    by_case: dict[str, dict[str, CaseResult]] = {}
    for loss in losses:
        for case in predictors[loss]:
            by_case.setdefault(case.sample_id, {})[loss] = case
    rows = []
    for sample_id in sorted(by_case):
        any_case = next(iter(by_case[sample_id].values()))
        row: dict[str, Any] = {
            "sample_id": sample_id,
            "resolution": any_case.resolution,
            "ca_helix": any_case.ca_helix,
            "ca_sheet": any_case.ca_sheet,
            "ca_other": any_case.ca_other,
        }
        for loss in losses:
            scored = by_case[sample_id].get(loss)
            row[f"{loss}_helix"] = _num(scored.voxel_f1_helix if scored else None)
            row[f"{loss}_sheet"] = _num(scored.voxel_f1_sheet if scored else None)
        chosen = by_case[sample_id].get(best) if best else None
        row["residue_helix"] = _num(chosen.residue_f1_helix if chosen else None)
        row["residue_sheet"] = _num(chosen.residue_f1_sheet if chosen else None)
        for name in extra:
            scored = by_case[sample_id].get(name)
            row[f"residue_helix_{name}"] = _num(scored.residue_f1_helix if scored else None)
            row[f"residue_sheet_{name}"] = _num(scored.residue_f1_sheet if scored else None)
        rows.append(row)
    return rows


def _ours_percent(case: CaseResult | None, level: str, cls: str) -> float | None:
    value = getattr(case, f"{level}_f1_{cls}") if case else None
    return None if value is None else 100.0 * value


def _pct(value: float | None, digits: int = 1) -> str:
    return "NA" if value is None else f"{value:.{digits}f}"


def _mean(values: list[float]) -> float | None:
    return float(np.mean(values)) if values else None


def _paired_difference(values: list[tuple[float, float]]) -> dict[str, Any]:
    """(ours, paper) pairs in percent: n, both means, mean and standard deviation of
    ours − paper, and the sign count with ours rounded to the paper's 0.1 %."""
    diffs = [o - p for o, p in values]
    return {
        "n": len(values),
        "ours_mean": _pct(_mean([o for o, _ in values])),
        "paper_mean": _pct(_mean([p for _, p in values])),
        "mean_difference": _pct(_mean(diffs), 2),
        "sd_difference": _pct(float(np.std(diffs, ddof=1)) if len(diffs) > 1 else None, 2),
        "ours_higher": sum(round(o, 1) > p for o, p in values),
        "ours_lower": sum(round(o, 1) < p for o, p in values),
        "equal": sum(round(o, 1) == p for o, p in values),
    }


def paper_comparison(
    results: dict[str, list[CaseResult]], published: list[PublishedCase]
) -> tuple[list[dict], list[dict]]:
    """(per-case rows, paired differences) for the listed cases among `results`: our F1 beside
    the published one (percent), for the losses both have; ([], []) if no listed case is there."""
    ours = {loss: {c.sample_id: c for c in results[loss]} for loss in LOSSES if loss in results}
    keys: list[F1Key] = [k for k in published_keys(published) if k[0] in ours]
    present = [p for p in published if any(p.sample_id in cases for cases in ours.values())]
    if not present or not keys:
        return [], []
    rows = []
    pairs: dict[F1Key, list[tuple[float, float]]] = {key: [] for key in keys}
    for paper in present:
        found = [cases[paper.sample_id] for cases in ours.values() if paper.sample_id in cases]
        row: dict[str, Any] = {
            "case": paper.label,
            "sample_id": paper.sample_id,
            "resolution": "NA" if found[0].resolution is None else found[0].resolution,
            "resolution_paper": paper.resolution or "NA",
            "ca_hso": f"{found[0].ca_helix}/{found[0].ca_sheet}/{found[0].ca_other}",
            "ca_hso_paper": paper.counts or "NA",
        }
        for key in keys:
            loss, level, cls = key
            value = _ours_percent(ours[loss].get(paper.sample_id), level, cls)
            given = paper.f1.get(key)
            row[f"{loss}_{level}_{cls}_ours"] = _pct(value)
            row[f"{loss}_{level}_{cls}_paper"] = _pct(given)
            if value is not None and given is not None:
                pairs[key].append((value, given))
        rows.append(row)
    summary = [
        {"loss": loss, "level": level, "class": cls, **_paired_difference(values)}
        for (loss, level, cls), values in pairs.items()
    ]
    return rows, summary


def paired_tests(results: dict[str, list[CaseResult]]) -> list[dict]:
    if REFERENCE_LOSS not in results:
        return []
    reference = {c.sample_id: c.voxel_f1_sheet for c in results[REFERENCE_LOSS]}
    rows = []
    for loss in [x for x in LOSSES if x in results and x != REFERENCE_LOSS]:
        other = {c.sample_id: c.voxel_f1_sheet for c in results[loss]}
        ids = sorted(set(reference) & set(other))
        test = paired_wilcoxon([reference[i] for i in ids], [other[i] for i in ids])
        rows.append(
            {
                "comparison": f"{REFERENCE_LOSS} vs {loss}",
                "metric": "sheet voxel F1",
                "n": test.n,
                "W": _num(test.statistic, 1),
                "p_value": _num(test.p_value, 4),
                "rank_biserial": _num(test.rank_biserial),
                "median_difference": _num(test.median_difference),
            }
        )
    return rows


def to_tsv(rows: list[dict]) -> str:
    return tsv_text(list(rows[0]), rows) if rows else ""


def to_markdown(rows: list[dict], title: str) -> str:
    if not rows:
        return f"## {title}\n\n(no rows)\n"
    header = list(rows[0])
    lines = [f"## {title}", "", "| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(str(r[k]) for k in header) + " |" for r in rows]
    return "\n".join(lines) + "\n"


def to_html(rows: list[dict], title: str) -> str:
    if not rows:
        return f"<h2>{html.escape(title)}</h2><p>(no rows)</p>"
    header = "".join(f"<th>{html.escape(str(k))}</th>" for k in rows[0])
    body = "".join(
        "<tr>" + "".join(f"<td>{html.escape(str(v))}</td>" for v in r.values()) + "</tr>"
        for r in rows
    )
    return (
        f"<h2>{html.escape(title)}</h2><table><thead><tr>{header}</tr></thead>"
        f"<tbody>{body}</tbody></table>"
    )


def write_table(rows: list[dict], title: str, stem: str | Path) -> None:
    stem = Path(stem)
    write_text_atomic(stem.with_suffix(".tsv"), to_tsv(rows))
    write_text_atomic(stem.with_suffix(".md"), to_markdown(rows, title))
    write_text_atomic(stem.with_suffix(".html"), to_html(rows, title) + "\n")


def cv_table(by_loss: dict[str, dict[int, list[CaseResult]]]) -> list[dict]:
    """Per loss: mean ± sd over folds of the weighted helix / sheet F1 and their average
    (a fold whose test set has no case of a class is left out of that column)."""
    rows = []
    for loss in [x for x in LOSSES if x in by_loss]:
        folds = by_loss[loss]
        row: dict[str, Any] = {"loss": loss, "folds": len(folds)}
        per_fold: dict[str, list[float]] = {"helix": [], "sheet": [], "average": []}
        for cases in folds.values():
            values = {}
            for cls in SCORED_CLASSES:
                f1 = [getattr(c, f"voxel_f1_{cls}") for c in cases]
                weights = [getattr(c, f"voxel_true_{cls}") for c in cases]
                value, _, _ = weighted_with_ci(f1, weights, resamples=1)
                values[cls] = value
                if value is not None:
                    per_fold[cls].append(value)
            if values["helix"] is not None and values["sheet"] is not None:
                per_fold["average"].append((values["helix"] + values["sheet"]) / 2)
        for key, fold_values in per_fold.items():
            row[key] = _mean_sd(fold_values)
        rows.append(row)
    return rows


def _mean_sd(values: list[float]) -> str:
    if not values:
        return "NA"
    sd = float(np.std(values, ddof=1)) if len(values) > 1 else float("nan")
    return (
        f"{np.mean(values):.3f} ± {sd:.3f} (n={len(values)})"
        if len(values) > 1
        else f"{values[0]:.3f} (n=1)"
    )


def seed_table(by_loss: dict[str, dict[int, list[CaseResult]]]) -> list[dict]:
    """Per loss: the chosen setting's weighted voxel F1, mean ± sd over its seeds, with a
    map-level bootstrap 95 % interval (statistics.seed_mean_with_ci); n seeds and n maps say
    how much stands behind each figure."""
    rows = []
    for loss in [x for x in LOSSES if x in by_loss]:
        by_seed = by_loss[loss]
        maps = sorted({c.sample_id for cases in by_seed.values() for c in cases})
        row: dict[str, Any] = {"loss": loss, "seeds": len(by_seed), "maps": len(maps)}
        for cls in SCORED_CLASSES:
            f1, weights = [], []
            for cases in by_seed.values():
                by_map = {c.sample_id: c for c in cases}
                f1.append([_case_value(by_map.get(m), f"voxel_f1_{cls}") for m in maps])
                weights.append([_case_value(by_map.get(m), f"voxel_true_{cls}") or 0 for m in maps])
            mean, sd, low, high = seed_mean_with_ci(f1, weights)
            row |= {
                f"{cls}_mean": _num(mean),
                f"{cls}_sd": _num(sd),
                f"{cls}_ci_low": _num(low),
                f"{cls}_ci_high": _num(high),
            }
        rows.append(row)
    return rows


def _case_value(case: CaseResult | None, field: str) -> Any:
    return None if case is None else getattr(case, field)
