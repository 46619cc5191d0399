"""The three segmentation classes, defined once for the whole package: their ids (label values
and the network's output channels, in that order), their names, and the paper's rule from a
DSSP code to a class (Mu et al. 2024): H, G, I → helix; B, E → sheet; everything else (T, S,
P, loop, nucleic acids, ligands, residues DSSP could not assign) → background.
"""

from __future__ import annotations

BACKGROUND, HELIX, SHEET = 0, 1, 2
CLASS_NAMES: dict[int, str] = {BACKGROUND: "background", HELIX: "helix", SHEET: "sheet"}
CLASS_IDS: dict[str, int] = {name: cls for cls, name in CLASS_NAMES.items()}
N_CLASSES = len(CLASS_NAMES)
# The classes that F1 is reported for; background is what the other two leave.
SCORED_CLASSES: tuple[str, ...] = (CLASS_NAMES[HELIX], CLASS_NAMES[SHEET])
# The names in the confusion-matrix columns conf_<true>_<predicted> (e.g. conf_bg_helix).
SHORT_NAMES: dict[int, str] = {BACKGROUND: "bg", HELIX: "helix", SHEET: "sheet"}

HELIX_DSSP_CODES = frozenset("HGI")
SHEET_DSSP_CODES = frozenset("BE")


def code_to_class(code: str) -> int:
    """The class of a one-letter DSSP code: 0 background / 1 helix / 2 sheet."""
    if code in HELIX_DSSP_CODES:
        return HELIX
    if code in SHEET_DSSP_CODES:
        return SHEET
    return BACKGROUND
