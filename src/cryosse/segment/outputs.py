"""The outputs of one segmentation: in memory (`SegmentResult`) and as files, written into a
hidden staging folder and moved into place only once all are written, summary.json last (the
file list is in cryosse.segment.predict's docstring)."""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from cryosse.core.atomic import write_text_atomic
from cryosse.core.classes import HELIX, SHEET
from cryosse.core.timing import timed
from cryosse.evaluate.residue_table import ResidueModel, write_residue_table
from cryosse.io.density import DensityMap, write_map
from cryosse.io.resample import resample_onto
from cryosse.learn.checkpoint import SAMPLE_VOXEL_SIZE
from cryosse.segment.checks import Region
from cryosse.segment.chimerax import MapStats, write_attribute_file, write_chimerax_script
from cryosse.segment.naming import map_stem, output_names
from cryosse.segment.pymol_script import write_pymol_script
from cryosse.segment.summary import json_safe, record_timings
from cryosse.segment.tiling import labels_from


@dataclass
class SegmentResult:
    helix: np.ndarray  # float32 [z, y, x] on the 1 Å grid
    sheet: np.ndarray
    labels: np.ndarray  # int8 0/1/2
    origin: np.ndarray  # xyz Å of the 1 Å grid's first voxel
    summary: dict[str, Any]
    files: dict[str, Path] = field(default_factory=dict)
    residues: list[dict[str, Any]] = field(default_factory=list)  # with a structure


@dataclass(frozen=True)
class InputView:
    """The input map as the outputs need it: its grid (its values are gone by then), the region
    segmented, how the viewers show it, and the structure fitted into it."""

    map_path: Path
    density: DensityMap  # the input's geometry
    region: Region
    on_input_grid: bool  # outputs resampled back onto the region of the input's grid
    stats: MapStats  # the input's value range, for the viewers
    level: float  # the input's display level
    residue_model: ResidueModel | None


def write_staged(
    result: SegmentResult, final: Path, view: InputView, timings: dict[str, float], started: float
) -> None:
    """Every output into a staging folder inside `final`, then moved into place, summary.json
    last: a full disk leaves the folder as it was, never half a set (issue 26: one map file and
    no summary.json)."""
    staging = Path(tempfile.mkdtemp(prefix=".cryosse-staging-", dir=final))
    try:
        with timed(timings, "write"):
            _write_files(result, staging, final, view)
        summary = result.summary
        record_timings(summary, timings, started)
        result.files["summary"] = staging / "summary.json"
        summary["files"] = sorted(p.name for p in result.files.values())
        write_text_atomic(result.files["summary"], json.dumps(json_safe(summary), indent=2) + "\n")
        for kind, path in result.files.items():  # summary.json last (sorted by insertion)
            os.replace(path, final / path.name)
            result.files[kind] = final / path.name
    except OSError as exc:
        written = ", ".join(sorted(p.name for p in result.files.values())) or "none"
        raise OSError(
            exc.errno,
            f"{exc.strerror or exc} while writing the outputs (staged: {written}); "
            f"{final} is left as it was",
            str(final),
        ) from exc
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def _write_files(result: SegmentResult, out_dir: Path, final: Path, view: InputView) -> None:
    """The maps, the ChimeraX and PyMOL commands and the residue table, written into `out_dir`
    (the staging folder) and recorded in `result.files` and `result.summary`; the scripts name
    the input map relative to `final`, the folder they are moved to."""
    stem = map_stem(view.map_path)
    stats = _write_maps(result, out_dir, view, stem)
    threshold = result.summary.get("confident", {}).get("threshold")
    if threshold is not None:
        stats |= _write_confident(result, out_dir, view, stem, threshold)
    result.files = {kind: s.path for kind, s in stats.items()}
    attributes = None
    residue_model = view.residue_model
    structure = None if residue_model is None else residue_model.path
    if residue_model is not None:
        result.files["residues"] = out_dir / f"{stem}_residues.tsv"
        guide = write_residue_table(result.files["residues"], result.residues, residue_model.path)
        result.files["residue_columns"] = guide
        attributes = out_dir / f"{stem}_residues.defattr"
        write_attribute_file(attributes, result.residues)
        result.files["residue_attributes"] = attributes
    cxc = out_dir / f"{stem}.cxc"
    levels = write_chimerax_script(
        cxc, view.stats, view.level, stats, folder=final, structure=structure, attributes=attributes
    )
    result.files["chimerax"] = cxc
    result.summary["chimerax"] = {"file": cxc.name, "levels": levels}
    pml = out_dir / f"{stem}.pml"
    write_pymol_script(pml, final, view.stats, view.level, stats, structure=structure)
    result.files["pymol"] = pml
    result.summary["pymol"] = {"file": pml.name}


def _output_grid(
    result: SegmentResult, view: InputView
) -> tuple[np.ndarray, float | np.ndarray, Callable[[np.ndarray], np.ndarray]]:
    """Origin and voxel size of the output maps, and what puts a probability map on that grid:
    the 1 Å grid as it is, or the region of the input's grid (trilinear, clamped at the edge)."""
    if not view.on_input_grid:
        return result.origin, SAMPLE_VOXEL_SIZE, lambda probability: probability
    density, region = view.density, view.region
    origin = density.origin + np.array(region.first) * density.voxel_size
    shape = tuple(b - a + 1 for a, b in zip(region.first, region.last, strict=True))
    step = np.full(3, SAMPLE_VOXEL_SIZE)

    def onto_input(probability: np.ndarray) -> np.ndarray:
        source = DensityMap(probability, result.origin, step)
        return resample_onto(source, origin, density.voxel_size, shape, clamp=True)

    return origin, density.voxel_size, onto_input


def _write_maps(
    result: SegmentResult, out: Path, view: InputView, stem: str
) -> dict[str, MapStats]:
    out.mkdir(parents=True, exist_ok=True)
    origin, voxel, onto = _output_grid(result, view)
    helix, sheet, labels = result.helix, result.sheet, result.labels
    if view.on_input_grid:
        helix, sheet = onto(helix), onto(sheet)
        labels = labels_from(helix, sheet)
    files: dict[str, MapStats] = {}
    names = output_names(stem)
    # one map at a time, the masks made just before they are written (1 B per voxel each)
    for name, data in (
        ("helix_prob", lambda: helix),
        ("sheet_prob", lambda: sheet),
        ("helix_mask", lambda: (labels == HELIX).view(np.int8)),
        ("sheet_mask", lambda: (labels == SHEET).view(np.int8)),
        ("labels", lambda: labels),
    ):
        path = out / names[name]
        low, high = write_map(path, data(), origin, voxel, slab_statistics=True)
        files[name] = MapStats(path, low, high)
    return files


def _write_confident(
    result: SegmentResult, out: Path, view: InputView, stem: str, threshold: float
) -> dict[str, MapStats]:
    """<map>_helix_confident.mrc, <map>_sheet_confident.mrc: int8 1 where P >= threshold."""
    origin, voxel, onto = _output_grid(result, view)
    files: dict[str, MapStats] = {}
    for cls, probability in (("helix", result.helix), ("sheet", result.sheet)):
        path = out / f"{stem}_{cls}_confident.mrc"
        mask = (onto(probability) >= threshold).view(np.int8)
        low, high = write_map(path, mask, origin, voxel, slab_statistics=True)
        files[f"{cls}_confident"] = MapStats(path, low, high)
    return files
