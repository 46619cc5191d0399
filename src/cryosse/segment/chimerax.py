"""A ChimeraX command file (`<map>.cxc`) that shows a segmentation on top of its map.

`open out/<map>.cxc` in a fresh ChimeraX session opens, as models #1, #2, … in this order:

    the input map          transparent grey surface at `map_display_level` (the EMDB header's
                           recommended contour when there is one inside the map's values)
    <map>_helix_mask.mrc   red surface at 0.5 (the argmax helix voxels), when any voxel is helix
    <map>_sheet_mask.mrc   yellow surface at 0.5, when any voxel is sheet
    <map>_helix_prob.mrc,  hidden, at 0.5 (or the middle of their values when none reaches 0.5):
    <map>_sheet_prob.mrc   `show #N models` and the Volume Viewer's slider to explore

With a fitted model (`cryosse segment --structure`) the .cxc goes on: the model as a cartoon
coloured by its own DSSP (ChimeraX's `dssp`: helix tomato, strand gold, the rest grey), the
per-residue attribute file `<map>_residues.defattr` (P(helix), P(sheet) at the Cα and the 3 Å
vote as residue attributes cryosse_p_helix, cryosse_p_sheet, cryosse_vote_3A; a commented
`color byattribute` line colours by them), and `volume zone` of the map and masks within 6 Å
of the model (`volume unzone #1-5` undoes it).

Every level lies strictly between the minimum and maximum of the file it is applied to (a
level outside would draw nothing, or a box around the whole map). ChimeraX runs a .cxc in the
file's own folder, so the outputs are named relative to it and the folder can be moved along
with the map (named by a path relative to the folder when it lies near it, else absolute).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from cryosse.core.atomic import write_text_atomic

MASK_LEVEL = 0.5
PROB_LEVEL = 0.5
COLOURS = {"helix": "red", "sheet": "yellow", "map": "#a0a0a0"}
MAP_TRANSPARENCY = 0.7
_SAMPLE = 2_000_000  # voxels looked at for the map's level (a strided subsample)


@dataclass(frozen=True)
class MapStats:
    """A written map and the range of its values."""

    path: Path
    dmin: float
    dmax: float

    def inside(self, level: float) -> bool:
        return self.dmin < level < self.dmax


def _within(level: float, stats: MapStats) -> float:
    """`level`, or the middle of the values when it lies outside them."""
    return level if stats.inside(level) else (stats.dmin + stats.dmax) / 2.0


def map_display_level(data: np.ndarray, recommended: float | None = None) -> float:
    """A surface level for the input map: the depositors' recommended contour when it lies
    inside the values, else the 95th percentile (5 % of the voxels enclosed: ChimeraX's own
    initial 1 % hides much of a box-cropped molecule), else, for a mostly empty (zoned) map
    where that is not above zero, the median of the positive voxels."""
    flat = data.reshape(-1)
    dmin, dmax = float(flat.min()), float(flat.max())
    if recommended is not None and dmin < recommended < dmax:
        return float(recommended)
    sample = flat[:: max(1, flat.size // _SAMPLE)]
    level = float(np.percentile(sample, 95))
    if level <= 0.0 and (sample > 0).any():
        level = float(np.median(sample[sample > 0]))
    return _within(level, MapStats(Path(), dmin, dmax))


def _quoted(path: str) -> str:
    """A path as one ChimeraX argument. A control character cannot be quoted (a newline would
    end the command and start another: issue 26), so such a name is refused;
    cryosse.segment.naming.check_names refuses it before any work."""
    if any(ord(c) < 32 or ord(c) == 127 for c in path):
        raise ValueError(f"{path!r}: a control character cannot be written into a .cxc")
    return '"' + path.replace("\\", "/").replace('"', '\\"') + '"'


def _relative(target: Path, folder: Path) -> str:
    """A path relative to `folder` when the two are near (the map beside or above the output
    folder, which travel together), else the absolute path."""
    try:
        relative = os.path.relpath(target.resolve(), folder.resolve())
    except ValueError:  # another drive (Windows): no relative path exists
        return str(target.resolve())
    return relative if Path(relative).parts[:3].count("..") < 3 else str(target.resolve())


DSSP_COLOURS = {"helix": "tomato", "strand": "gold", "coil": "gray"}
ZONE_RANGE_A = 6.0
ATTRIBUTES = (
    ("cryosse_p_helix", "p_helix"),
    ("cryosse_p_sheet", "p_sheet"),
    ("cryosse_vote_3A", "vote_3A"),
)


def write_attribute_file(path: Path, rows: list[dict[str, str]]) -> None:
    """The residue table as a ChimeraX attribute assignment file (defattr): one block per
    attribute, residues named by chain and number only (no model number), so it applies to
    the fitted model whatever number it was opened as. Residues outside the segmented region
    get no value."""
    lines = ["# cryosse segment: per-residue values at the Cα (see <map>_residues_columns.txt)"]
    for attribute, column in ATTRIBUTES:
        lines += [f"attribute: {attribute}", "recipient: residues", "match mode: any"]
        for row in rows:
            value = row[column]
            if value in ("NA", "outside"):
                continue
            shown = f'"{value}"' if column == "vote_3A" else value
            lines.append(f"\t/{row['chain']}:{row['residue']}\t{shown}")
    for line in lines:  # chain ids and residue numbers come from the user's model file
        if any(ord(c) < 32 and c != "\t" for c in line):
            raise ValueError(f"{line!r}: a control character in the model's names")
    write_text_atomic(path, "\n".join(lines) + "\n")


def _structure_lines(
    structure: Path, folder: Path, model: int, attributes: Path | None, n_volumes: int
) -> list[str]:
    lines = [
        f"open {_quoted(_relative(structure, folder))}",
        f"# #{model}: the fitted model, coloured by its own DSSP secondary structure",
        f"dssp #{model}",
        f"cartoon #{model}",
        f"color #{model} {DSSP_COLOURS['coil']} target c",
        f"color #{model} & helix {DSSP_COLOURS['helix']} target c",
        f"color #{model} & strand {DSSP_COLOURS['strand']} target c",
        f"volume zone #1-{n_volumes} nearAtoms #{model} range {ZONE_RANGE_A:g}",
        f"# volume unzone #1-{n_volumes}   (the whole map again)",
    ]
    if attributes is not None:
        lines += [
            f"open {_quoted(attributes.name)}",
            "# colour the model by P(helix) at each Cα, or select by the 3 Å vote:",
            f"# color byattribute cryosse_p_helix #{model} palette ^RdYlBu range 0,1 target c",
            '# select ::cryosse_vote_3A="helix"',
        ]
    return lines


def write_chimerax_script(
    path: Path,
    input_map: MapStats,
    map_level: float,
    outputs: dict[str, MapStats],
    folder: Path | None = None,
    structure: Path | None = None,
    attributes: Path | None = None,
) -> dict[str, float | None]:
    """Write `path` (see the module docstring); `outputs` keyed helix_mask, sheet_mask,
    helix_prob, sheet_prob, files that end up beside the .cxc. `folder`: where the .cxc will
    finally lie, when it is written elsewhere first (the input map and `structure` are named
    relative to it). `structure`: the fitted model; `attributes`: its defattr file, beside the
    .cxc.
    Returns the level given to each file (None: not opened)."""
    folder = folder or path.parent
    lines = [
        "# cryosse segmentation: open this file in a fresh ChimeraX session (models #1, #2, ...)",
        f"open {_quoted(_relative(input_map.path, folder))}",
        f"volume #1 style surface level {map_level:.6g} color {COLOURS['map']} "
        f"transparency {MAP_TRANSPARENCY}",
    ]
    levels: dict[str, float | None] = {"map": map_level}
    model = 1
    for kind in ("helix_mask", "sheet_mask", "helix_prob", "sheet_prob"):
        stats = outputs[kind]
        cls = kind.split("_")[0]
        name = _quoted(stats.path.name)  # beside the .cxc
        if kind.endswith("_mask") and not stats.inside(MASK_LEVEL):
            lines.append(f"# no voxel was predicted {cls}: {stats.path.name} is not opened")
            levels[kind] = None
            continue
        level = MASK_LEVEL if kind.endswith("_mask") else _within(PROB_LEVEL, stats)
        if not stats.inside(level):  # a constant probability map: no surface to show
            lines.append(f"# {stats.path.name} is constant: not opened")
            levels[kind] = None
            continue
        model += 1
        lines.append(f"open {name}")
        lines.append(f"volume #{model} style surface level {level:.6g} color {COLOURS[cls]}")
        if kind.endswith("_prob"):
            lines.append(f"hide #{model} models")
        levels[kind] = level
    if structure is not None:
        lines += _structure_lines(structure, folder, model + 1, attributes, model)
    lines.append("view")
    write_text_atomic(path, "\n".join(lines) + "\n")
    return levels
