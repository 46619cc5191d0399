"""The report's Definitions: what every figure of the tables means, as cryosse.core.metrics,
cryosse.evaluate.tables, .statistics and .evaluation compute it.

The glossary is data (TERMS); its numbers are placeholders filled from the code's own defaults
and the run's config, so that the page never quotes a copy that could drift.
"""

from __future__ import annotations

import inspect
from typing import Any

from cryosse.core.metrics import residue_votes
from cryosse.curate.settings import CurationSettings
from cryosse.evaluate.statistics import bootstrap_ci, weighted_with_ci
from cryosse.evaluate.tables import REFERENCE_LOSS
from cryosse.splits.clusters import MIN_SEQ_ID

BASELINE_NOTE = (
    "<p><b>Baselines.</b> The rows and columns marked <code>baseline:</code> are predictors "
    "that learned nothing, scored on the same test cases and truth as the losses "
    "(cryosse.evaluate.baselines): <code>threshold</code> calls every voxel above the contour "
    "helix "
    "(the author's contour, else mean + 1 σ of the non-zero voxels) and never sheet; "
    "<code>hessian</code> calls rods of the smoothed density helix and plates sheet; "
    "<code>all_helix</code> calls every voxel, hence every residue, helix. A loss's figure "
    "means something only where it is above them.</p>"
)


# (term, text): the text's {placeholders} are filled by `definitions`.
TERMS = (
    (
        "Central box",
        "Each sample is one chain: its all-atom bounding box plus {padding:g}\u00a0Å "
        "of padding on every side, on a {voxel_size:g}\u00a0Å grid. "
        "Every score is taken in the central box, the chain's box without the padding; "
        "the padding is context for the network and is never scored.",
    ),
    (
        "Voxel F1",
        "Per class (helix, sheet) and per case, over the voxels of the central box: "
        "F1 = 2 TP / (#predicted + #true) voxels of the class, the harmonic mean of "
        "precision TP / #predicted and recall TP / #true. The truth is the sample's voxel "
        "labels (a voxel takes the DSSP class of its nearest Cα within the label radius, "
        "else background).",
    ),
    (
        "NA",
        "A case with no true and no predicted voxel of a class has no F1 for it: NA, as "
        "in the paper, and it is left out of every average of that class. A case with "
        "predicted but no true voxels of a class has F1 = 0. Table 1's average is NA "
        "unless both weighted averages are defined; Table 2 shows NA where a predictor "
        "has no result for the case.",
    ),
    (
        "Weighted average",
        "<code>helix_weighted</code>, <code>sheet_weighted</code> (the paper's weighted "
        "average): Σ w<sub>i</sub> F1<sub>i</sub> / Σ w<sub>i</sub> over the test cases, "
        "with w<sub>i</sub> = the number of true voxels of the class in case i's central "
        "box, over the cases whose F1 is defined and whose weight is above zero. A case "
        "with no true voxel of the class weighs nothing, even with false positives "
        "(F1 = 0): those count in the macro and micro F1 only.",
    ),
    (
        "Average",
        "(weighted helix F1 + weighted sheet F1) / 2, as in the paper. The best loss is "
        "the loss (never a baseline) with the highest average; Table 2 gives its residue "
        "F1.",
    ),
    (
        "Macro F1",
        "The plain mean of the per-case F1 over the cases where it is defined: every "
        "case counts the same, a small chain as much as a large one.",
    ),
    (
        "Micro F1",
        "F1 of the voxel counts pooled over all test cases, 2 ΣTP / (Σ#predicted + "
        "Σ#true): large chains count more, and so do cases with false positives only.",
    ),
    (
        "Residue vote",
        "Every residue whose Cα lies in the central box takes the class with most votes "
        "among the predicted voxels whose centres lie within {radius:g}\u00a0Å of its Cα "
        "(inclusive). Ties go to the lower class id, background before helix before "
        "sheet, so a residue is called helix or sheet only on a clear majority; a residue "
        "with no voxel within reach is background. Residue F1 compares these votes with "
        "the residues' DSSP classes by the voxel F1 formula, counting residues (Table 2: "
        "the best loss and each baseline).",
    ),
    (
        "Bootstrap interval",
        "<code>_ci_low</code>, <code>_ci_high</code>: a {level:g}\u00a0% percentile "
        "bootstrap of the weighted average. The cases that enter it are resampled with "
        "replacement {resamples:,} times (seed {seed}), the weighted average recomputed "
        "each time; the interval is the {tail:g}th to {upper:g}th percentile. It "
        "says how much the figure depends on which cases are in the test set, not on the "
        "training run.",
    ),
    (
        "Chosen run",
        "<code>run_id</code>, <code>gamma</code>: per loss, the run (learning rate, γ) "
        "with the highest validation metric at its best epoch, the mean of the helix and "
        "sheet voxel F1, each a plain mean over the validation cases where it is defined "
        "(a class NA on every case counts 0); ties go to the earlier run of the grid. "
        "<code>training/best_runs.tsv</code> says why each run was chosen.",
    ),
    (
        "Paired tests",
        "{reference} against every other loss: the two-sided Wilcoxon signed-rank "
        "test on per-case sheet voxel F1 over the cases where both are defined, zero "
        "differences dropped; effect size the matched-pairs rank-biserial r = (W+ − W−) / "
        "(W+ + W−) (+1: {reference} higher on every case) and the median "
        "difference.",
    ),
    (
        "Leakage check",
        "In the split report: the highest sequence identity MMseqs2 finds between each "
        "evaluation set and its training set; it must stay below "
        "{min_seq_id:g}.",
    ),
)


def _default(function: Any, name: str) -> Any:
    """A parameter's default, so that the definitions quote what the code does."""
    return inspect.signature(function).parameters[name].default


def definitions(config: dict[str, Any]) -> str:
    """The Definitions section, with the numbers the code and the run's config use."""
    crop = CurationSettings.from_config(config).crop
    level = _default(bootstrap_ci, "level")
    tail = (1.0 - level) / 2.0 * 100.0
    numbers = {
        "padding": crop.padding,
        "voxel_size": crop.voxel_size,
        "radius": _default(residue_votes, "radius"),
        "resamples": _default(weighted_with_ci, "resamples"),
        "seed": _default(weighted_with_ci, "seed"),
        "level": 100 * level,
        "tail": tail,
        "upper": 100 - tail,
        "reference": REFERENCE_LOSS,
        "min_seq_id": MIN_SEQ_ID,
    }
    items = "".join(f"<dt>{term}</dt><dd>{text.format(**numbers)}</dd>" for term, text in TERMS)
    return (
        "<h2 id='definitions'>Definitions</h2><p>What the tables mean, as the code computes them "
        "(cryosse.core.metrics, cryosse.evaluate.tables, cryosse.evaluate.statistics, "
        "cryosse.evaluate.evaluation).</p>"
        f"<dl class='definitions'>{items}</dl>" + BASELINE_NOTE
    )
