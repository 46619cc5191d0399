"""A PyMOL script (`<map>.pml`) beside the .cxc, for PyMOL users (Emap2sec+ writes .pml files
too): `pymol out/<map>.pml`, or `@out/<map>.pml` in a PyMOL session started in that folder.

    map        the input map, a grey mesh at the .cxc's level
    helix      <map>_helix_mask.mrc, a red surface at 0.5 (when any voxel is helix)
    sheet      <map>_sheet_mask.mrc, a yellow surface at 0.5 (when any voxel is sheet)
    fitted     with --structure: the fitted model as a cartoon coloured by PyMOL's own secondary
               structure (`dss`): helix salmon, sheet gold, loops grey

PyMOL resolves a script's relative paths against its working folder, not the script's: start
PyMOL in the output folder (`cd out && pymol <map>.pml`). The paths are relative to that
folder, so the folder can be moved together with the map. Names come from files cryosse
wrote or the user gave; control characters are refused (cryosse.segment.naming.check_names),
so no line can be split.
"""

from __future__ import annotations

import warnings
from pathlib import Path

import mrcfile
import numpy as np

from cryosse.core.atomic import write_text_atomic
from cryosse.segment.chimerax import MASK_LEVEL, MapStats

COLOURS = {"helix": "red", "sheet": "yellow", "map": "grey70"}


def _quoted(path: str) -> str:
    if any(ord(c) < 32 or ord(c) == 127 for c in path) or '"' in path:
        raise ValueError(f"{path!r}: a control character or quote cannot be written into a .pml")
    return f'"{path}"'


def _pymol_offset(path: Path) -> tuple[float, float, float]:
    """How far PyMOL would place a map from where cryosse (and ChimeraX) place it: PyMOL takes
    the position from NXSTART/NYSTART/NZSTART × voxel size and ignores the MRC ORIGIN field,
    which the He-lab component maps and cryosse's own outputs use."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with mrcfile.open(path, header_only=True, permissive=True) as mrc:
            header = mrc.header
            voxel = mrc.voxel_size
            origin = np.array([float(header.origin[a]) for a in "xyz"])
            start = np.array([float(header.nxstart), float(header.nystart), float(header.nzstart)])
            step = np.array([float(voxel.x), float(voxel.y), float(voxel.z)])
    pymol_at = start * step
    cryosse_at = origin if np.any(origin != 0) else pymol_at
    x, y, z = (float(v) for v in cryosse_at - pymol_at)
    return x, y, z


def _load_map(path_text: str, name: str, offset: tuple[float, float, float]) -> list[str]:
    lines = [f"load {path_text}, {name}, format=ccp4"]
    if any(offset):  # moved before any surface is made from it: surfaces follow the map
        lines.append(
            f"translate [{', '.join(f'{v:.6g}' for v in offset)}], object={name}, camera=0"
        )
    return lines


def write_pymol_script(
    path: Path,
    folder: Path,
    input_map: MapStats,
    map_level: float,
    outputs: dict[str, MapStats],
    structure: Path | None = None,
) -> list[str]:
    """Write `path` (see the module docstring); `folder` is where it finally lies. Returns the
    PyMOL object names it creates."""
    import os

    def named(target: Path) -> str:
        relative = os.path.relpath(target.resolve(), folder.resolve())
        return _quoted(relative if not relative.startswith("../../..") else str(target.resolve()))

    lines = [
        "# cryosse segmentation for PyMOL: start PyMOL in this folder (paths are relative to it)",
        "set normalize_ccp4_maps, 0",  # the levels below are the files' own values
        *_load_map(named(input_map.path), "map", _pymol_offset(input_map.path)),
        f"isomesh map_mesh, map, {map_level:.6g}",
        f"color {COLOURS['map']}, map_mesh",
    ]
    objects = ["map", "map_mesh"]
    for cls in ("helix", "sheet"):
        stats = outputs[f"{cls}_mask"]
        if not stats.inside(MASK_LEVEL):
            lines.append(f"# no voxel was predicted {cls}: {stats.path.name} is not loaded")
            continue
        lines += [
            *_load_map(_quoted(stats.path.name), f"{cls}_mask", _pymol_offset(stats.path)),
            f"isosurface {cls}, {cls}_mask, {MASK_LEVEL}",
            f"color {COLOURS[cls]}, {cls}",
            f"set transparency, 0.5, {cls}",
        ]
        objects += [f"{cls}_mask", cls]
    if structure is not None:
        lines += [
            f"load {named(structure)}, fitted",
            "dss fitted",
            "hide everything, fitted",
            "show cartoon, fitted",
            "color grey60, fitted",
            "color salmon, fitted and ss H",
            "color gold, fitted and ss S",
        ]
        objects.append("fitted")
    lines += ["disable map", "orient " + ("fitted" if structure is not None else "map_mesh")]
    write_text_atomic(path, "\n".join(lines) + "\n")
    return objects
