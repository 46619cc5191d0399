"""Per-residue secondary structure of a segmented map, for an atomic model fitted into it.

    chain residue name aa ca_x ca_y ca_z p_background p_helix p_sheet vote_3A argmax_at_ca
    dssp dssp_class

One row per protein residue with a Cα (cryosse.io.structure). `vote_3A` is the residue vote of the
evaluation (cryosse.core.metrics.residue_votes: the most frequent predicted class of the voxels
within 3 Å of the Cα), so the table agrees with the residue F1 of `cryosse evaluate`;
`argmax_at_ca` is the most probable class of the three probabilities in the same row, which are
the predicted maps interpolated trilinearly at the Cα. The two can differ (a Cα in a helix's
edge voxel can be outvoted by its neighbours): issue 25 found 21 of 366 rows on EMD-5168 while
the column was called `predicted`, so each is named for what it is and COLUMN_GUIDE, written
beside the table, says so. Outside the segmented region the probabilities are "NA" and both
classes "outside". With mkdssp on PATH the model's own DSSP
code and class (H, G, I helix; B, E sheet) sit beside the prediction, so a user sees at once where
the map and the model disagree; without it those two columns are empty.
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from scipy.ndimage import map_coordinates

from cryosse.core.atomic import write_text_atomic
from cryosse.core.classes import CLASS_IDS, CLASS_NAMES, SCORED_CLASSES, code_to_class
from cryosse.core.metrics import residue_f1, residue_votes
from cryosse.core.reasons import DataError, Reason
from cryosse.core.tsv import write_tsv
from cryosse.curate.dssp import assign_dssp
from cryosse.io.structure import Residue, protein_residues, read_model

COLUMNS = [
    *("chain", "residue", "name", "aa", "ca_x", "ca_y", "ca_z"),
    *("p_background", "p_helix", "p_sheet", "vote_3A", "argmax_at_ca", "dssp", "dssp_class"),
]

# The column guide written beside every residue table (<map>_residues_columns.txt).
COLUMN_GUIDE = """Columns of {table}, one row per protein residue of {structure} with a CA atom:

chain, residue, name, aa   the residue as the model names it (chain id, number + insertion code,
                           three- and one-letter name)
ca_x, ca_y, ca_z           its CA position, Å, in the map's frame
p_background, p_helix,     the predicted probabilities interpolated (trilinear) at the CA;
p_sheet                    NA outside the segmented region
vote_3A                    the residue's class as cryosse evaluate scores it: the most frequent
                           predicted class (argmax per voxel) of the voxels within 3 Å of the
                           CA; "outside" beyond the segmented region. The residue counts and
                           F1 in summary.json use this column.
argmax_at_ca               the most probable of the three probabilities in this row (the class
                           at the CA point alone). It can differ from vote_3A where the CA sits
                           at an element's edge: there the 3 Å neighbourhood outvotes the point.
dssp, dssp_class           the model's own DSSP code and class (H, G, I helix; B, E sheet; else
                           background), computed with mkdssp; empty without mkdssp on PATH
"""


@dataclass(frozen=True)
class ResidueModel:
    """The protein residues of a model and, when mkdssp could run, their DSSP codes."""

    path: Path
    residues: list[Residue]
    dssp: dict[tuple[str, int, str], str] | None

    @classmethod
    def read(cls, path: str | Path) -> ResidueModel:
        """Raises DataError (MODEL_MISSING / MODEL_UNREADABLE / NO_PROTEIN): called before
        any prediction is made."""
        structure = read_model(path)
        residues = protein_residues(structure)
        if not residues:
            raise DataError(
                Reason.NO_PROTEIN, f"{Path(path).name}: no protein residue with a Cα atom"
            )
        dssp = None
        if shutil.which("mkdssp"):
            try:
                dssp = assign_dssp(structure)
            except DataError:
                dssp = None  # a model DSSP cannot read still gets its predicted classes
        return cls(Path(path), residues, dssp)


def residue_rows(
    model: ResidueModel,
    helix: np.ndarray,
    sheet: np.ndarray,
    labels: np.ndarray,
    origin: np.ndarray,
    voxel_size: float,
) -> list[dict[str, Any]]:
    """The table's rows for predicted maps [z, y, x] on a cubic grid starting at `origin`."""
    ca = np.array([r.ca for r in model.residues], dtype=np.float64)
    voted = residue_votes(labels, origin, voxel_size, ca)
    index = (ca - origin) / voxel_size  # x, y, z in voxels
    shape = np.array(labels.shape[::-1])
    inside = np.all((index >= 0) & (index <= shape - 1), axis=1)
    zyx = index[:, ::-1].T
    p_helix = map_coordinates(helix, zyx, order=1, mode="nearest")
    p_sheet = map_coordinates(sheet, zyx, order=1, mode="nearest")
    rows: list[dict[str, Any]] = []
    for i, residue in enumerate(model.residues):
        code = model.dssp.get(residue.key, "") if model.dssp is not None else None
        row: dict[str, Any] = {
            "chain": residue.chain,
            "residue": residue.residue_id,
            "name": residue.name,
            "aa": residue.one_letter,
            **{f"ca_{a}": f"{ca[i, k]:.3f}" for k, a in enumerate("xyz")},
            "dssp": "" if code is None else (code or "-"),
            "dssp_class": "" if code is None else CLASS_NAMES[code_to_class(code)],
        }
        if inside[i]:
            h, s = float(p_helix[i]), float(p_sheet[i])
            background = max(0.0, 1.0 - h - s)
            at_ca = int(np.argmax([background, h, s]))  # ties: the lower class id, as argmax
            row |= {"p_background": f"{background:.3f}", "p_helix": f"{h:.3f}"}
            row |= {"p_sheet": f"{s:.3f}", "vote_3A": CLASS_NAMES[int(voted[i])]}
            row["argmax_at_ca"] = CLASS_NAMES[at_ca]
        else:
            row |= dict.fromkeys(("p_background", "p_helix", "p_sheet"), "NA")
            row |= dict.fromkeys(("vote_3A", "argmax_at_ca"), "outside")
        rows.append(row)
    return rows


def summarize(rows: list[dict[str, Any]]) -> dict[str, Any]:
    """Counts per class of the 3 Å vote (`predicted`, the column vote_3A) and, with DSSP, the
    residue F1 of that vote against the model's DSSP (the paper's residue metric; None where a
    class is neither true nor predicted); `argmax_at_ca_differs` counts the rows whose point
    class differs from the vote."""
    names = [*CLASS_NAMES.values(), "outside"]
    counts = {name: sum(r["vote_3A"] == name for r in rows) for name in names}
    summary: dict[str, Any] = {
        "residues": len(rows),
        "predicted": counts,
        "predicted_by": "vote_3A",
        "argmax_at_ca_differs": sum(r["vote_3A"] != r["argmax_at_ca"] for r in rows),
    }
    scored = [r for r in rows if r["dssp_class"] and r["vote_3A"] != "outside"]
    if scored:
        voted = np.array([CLASS_IDS[r["vote_3A"]] for r in scored])
        truth = np.array([CLASS_IDS[r["dssp_class"]] for r in scored])
        summary["dssp_residues"] = len(scored)
        summary["residue_f1_vs_dssp"] = {
            name: residue_f1(voted, truth, CLASS_IDS[name]) for name in SCORED_CLASSES
        }
    return summary


def column_guide_path(table: str | Path) -> Path:
    """Where the guide to `table`'s columns is written: <map>_residues_columns.txt."""
    table = Path(table)
    return table.with_name(table.name.removesuffix(".tsv") + "_columns.txt")


def write_residue_table(
    path: str | Path, rows: list[dict[str, Any]], structure: str | Path = "the model"
) -> Path:
    """The table and its column guide beside it; returns the guide's path."""
    write_tsv(path, COLUMNS, rows)
    guide = column_guide_path(path)
    text = COLUMN_GUIDE.format(table=Path(path).name, structure=Path(structure).name)
    write_text_atomic(guide, text)
    return guide
