"""Per-residue secondary structure of a segmented map, for an atomic model fitted into it.

    chain residue name aa ca_x ca_y ca_z p_background p_helix p_sheet predicted dssp dssp_class

One row per protein residue with a Cα (cryosse.io.structure). `predicted` is the residue vote of the
evaluation (cryosse.core.metrics.residue_votes: the most frequent predicted class of the voxels
within
3 Å of the Cα), so the table agrees with the residue F1 of `cryosse evaluate`; the three
probabilities are the predicted maps interpolated trilinearly at the Cα ("NA" outside the
segmented region, and `predicted` is then "outside"). With mkdssp on PATH the model's own DSSP
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

from cryosse.core.classes import CLASS_IDS, CLASS_NAMES, SCORED_CLASSES, code_to_class
from cryosse.core.metrics import residue_f1, residue_votes
from cryosse.core.reasons import CurationError, Reason
from cryosse.core.tsv import write_tsv
from cryosse.curate.dssp import assign_dssp
from cryosse.io.structure import Residue, protein_residues, read_model

COLUMNS = [
    *("chain", "residue", "name", "aa", "ca_x", "ca_y", "ca_z"),
    *("p_background", "p_helix", "p_sheet", "predicted", "dssp", "dssp_class"),
]


@dataclass(frozen=True)
class ResidueModel:
    """The protein residues of a model and, when mkdssp could run, their DSSP codes."""

    path: Path
    residues: list[Residue]
    dssp: dict[tuple[str, int, str], str] | None

    @classmethod
    def read(cls, path: str | Path) -> ResidueModel:
        """Raises CurationError (MODEL_MISSING / MODEL_UNREADABLE / NO_PROTEIN): called before
        any prediction is made."""
        structure = read_model(path)
        residues = protein_residues(structure)
        if not residues:
            raise CurationError(
                Reason.NO_PROTEIN, f"{Path(path).name}: no protein residue with a Cα atom"
            )
        dssp = None
        if shutil.which("mkdssp"):
            try:
                dssp = assign_dssp(structure)
            except CurationError:
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
            predicted = CLASS_NAMES[int(voted[i])]
            row |= {"p_background": f"{background:.3f}", "p_helix": f"{h:.3f}"}
            row |= {"p_sheet": f"{s:.3f}", "predicted": predicted}
        else:
            row |= dict.fromkeys(("p_background", "p_helix", "p_sheet"), "NA")
            row["predicted"] = "outside"
        rows.append(row)
    return rows


def summarize(rows: list[dict[str, Any]]) -> dict[str, Any]:
    """Counts per predicted class and, with DSSP, the residue F1 of prediction against the
    model's DSSP (the paper's residue metric; None where a class is neither true nor predicted)."""
    names = [*CLASS_NAMES.values(), "outside"]
    counts = {name: sum(r["predicted"] == name for r in rows) for name in names}
    summary: dict[str, Any] = {"residues": len(rows), "predicted": counts}
    scored = [r for r in rows if r["dssp_class"] and r["predicted"] != "outside"]
    if scored:
        voted = np.array([CLASS_IDS[r["predicted"]] for r in scored])
        truth = np.array([CLASS_IDS[r["dssp_class"]] for r in scored])
        summary["dssp_residues"] = len(scored)
        summary["residue_f1_vs_dssp"] = {
            name: residue_f1(voted, truth, CLASS_IDS[name]) for name in SCORED_CLASSES
        }
    return summary


def write_residue_table(path: str | Path, rows: list[dict[str, Any]]) -> None:
    write_tsv(path, COLUMNS, rows)
