"""Segment a user's map into helix and β-sheet: `cryosse segment` and `segment_map`.

Steps, and the definitions they use:

 1. Read the map (cryosse.io.density.read_map): .mrc / .map / .ccp4, gzipped or not, any axis order
    (MAPC/MAPR/MAPS), origin from the header ORIGIN or else NSTART × voxel size (the ChimeraX
    convention), any voxel size from 0.1 to 20 Å, anisotropic voxels allowed.
 2. Region (optional `box`): grid indices of the INPUT map, x y z of the first voxel then x y z
    of the last voxel, 0-based, both ends included — the numbers of ChimeraX's
    `volume #1 region i1,j1,k1,i2,j2,k2` (the region shown in the Volume Viewer). The region
    must lie inside the map's grid; no box means the whole map.
 3. The 1 Å grid: the points origin + k Å (k integer) that fall inside the region — the lattice
    anchored at the map's first voxel, as for the training samples (cryosse.curate.crop). The map is
    resampled onto it by trilinear interpolation (cryosse.io.resample; a map already at 1 Å is
    copied unchanged).
 4. Normalisation once over the whole (cropped, resampled) map with
    cryosse.learn.network_input.normalize_density, the training normalisation: the input of
    every tile is a slice of one normalised map, so the result does not depend on the tiling
    (DeepSSETracer 1.1 z-scores every 120³ tile on its own).
 5. Prediction with overlapping, smoothly blended tiles (cryosse.segment.tiling), batches of tiles,
    the tile side chosen from a memory budget (or given: cryosse.segment.execution), BatchNorm
    folded into the convolutions, bf16 autocast on a GPU (on a CPU only on request).
 6. Outputs in `out_dir` (cryosse.segment.outputs), named after the input map (`<map>`: its file
    name without .mrc/.map/.ccp4/.gz), every file written atomically, summary.json last:

        <map>_helix_prob.mrc   float32 probability of helix
        <map>_sheet_prob.mrc   float32 probability of β-sheet
        <map>_helix_mask.mrc   int8 1 where helix is the most probable class (argmax), else 0
        <map>_sheet_mask.mrc   int8 1 where sheet is the most probable class
        <map>_labels.mrc       int8 argmax class: 0 background, 1 helix, 2 sheet
        <map>.cxc              ChimeraX commands (cryosse.segment.chimerax): the map and the
                               masks with levels and colours from the values actually written
        summary.json           input, region, grid, helix/sheet volumes (Å³ and voxels on the
                               1 Å grid), resolution, the model (path, sha256, metadata),
                               device, tiling, timings

    The maps lie on the 1 Å grid in the input's frame (their origin is the Cartesian position of
    their first voxel, so they open in ChimeraX on top of the input map), or, with
    `on_input_grid`, are resampled back onto the input grid (the region's voxels, the input's
    voxel size and origin): probabilities by trilinear interpolation, masks and labels from the
    resampled probabilities. Volumes are always counted on the 1 Å grid.

Memory, in bytes per voxel of the 1 Å grid (B/vox) on top of the tile's working set: the raw
map is dropped once resampled (also with `on_input_grid`, which needs only its geometry); the
normalised map is made a z-slab at a time from the resampled one (8 B/vox while both exist) and
freed slab by slab as the tiles pass (cryosse.segment.tiling: 8 B/vox + one tile row's band
during the prediction); then the two probability maps (8), the labels (1) and one mask at a time
(1) while the files are written, with header statistics computed slab by slab, and the 1 B/vox
of the density support (cryosse.segment.empty_space) through the prediction: about 11 B/vox in
all. Reading a float32 map costs 8 B per input voxel (the file's bytes and the array). The
tile's working set (cryosse.learn.slab_forward.SlabForward: the network run level by level in
z-slabs) is about 11 × base bytes per voxel of the network's grid, the full-resolution skip
connection; a whole-volume pass needed about 29 × base (EMD-5168 with the shipped model: peak
RSS 1562 → 842 MiB, benchmarks/segment.py --real-maps).
"""

from __future__ import annotations

import math
import time
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import torch

from cryosse.core.output_folder import claims_folder
from cryosse.core.timing import timed
from cryosse.evaluate.residue_table import ResidueModel, residue_rows, summarize
from cryosse.io.density import DensityMap, check_map_work, read_map
from cryosse.io.resample import lattice_in_region, resample_onto
from cryosse.learn.checkpoint import (
    SAMPLE_VOXEL_SIZE,
    grid_factor,
)
from cryosse.learn.ensemble import MirrorMean, ProbabilityMean
from cryosse.learn.network_input import refine
from cryosse.learn.slab_forward import inference_network
from cryosse.segment.checks import (
    ModelArgument,
    Region,
    Request,
    check_finite,
    check_request,
)
from cryosse.segment.chimerax import MapStats, map_display_level
from cryosse.segment.empty_space import (
    background_where_empty,
    density_support,
)
from cryosse.segment.errors import SegmentError, UnmaskedMapWarning
from cryosse.segment.execution import SegmentOptions, Tiling, plan_tiling
from cryosse.segment.masking import map_signs, mask_below
from cryosse.segment.outputs import InputView, SegmentResult, write_staged
from cryosse.segment.summary import RunFacts, build_summary, confident_summary, record_timings
from cryosse.segment.tiling import labels_from, network_input, predict_tiled


@claims_folder("out_dir")
def segment_map(
    map_path: str | Path,
    out_dir: str | Path | None = None,
    model: ModelArgument | list[ModelArgument] | None = None,
    options: SegmentOptions | None = None,
    *,
    box: list[int] | tuple[int, ...] | None = None,
    structure: str | Path | None = None,
    resolution: float | None = None,
    contour: float | None = None,
    mask: bool = False,
    confident: float | None = None,
    on_input_grid: bool = False,
) -> SegmentResult:
    """Segment one map (see the module docstring); write the outputs if `out_dir` is given.

    model: a checkpoint path, a loaded Checkpoint, or None for the packaged default model; a
    list of them is a seed ensemble (the mean of their probabilities; one network plan).
    options: how the network runs (SegmentOptions: device, tiles, memory, threads).
    box: the region of the input's grid (module docstring, step 2); None: the whole map.
    structure: a fitted atomic model: a per-residue table (cryosse.evaluate.residue_table) in
    `residues` and, with `out_dir`, `<map>_residues.tsv`; read before any prediction.
    resolution: the map's resolution in Å (default: from an EMDB header beside the map); a
    ResolutionWarning when it lies outside the model's training range (summary "resolution").
    contour: the map's contour level (default: the EMDB header's recommended one): the .cxc
    shows the map at it, and `mask` zeroes the density below it before segmenting. A map that
    looks unmasked (cryosse.segment.masking) gets an UnmaskedMapWarning unless `mask` is set.
    confident: also write <map>_helix_confident.mrc and <map>_sheet_confident.mrc, int8 1 where
    the probability is at least this (e.g. 0.9, as Emap2sec+ offers).
    on_input_grid: the output maps on the input's grid instead of the 1 Å grid.
    `out_dir` is created, checked writable and locked (cryosse.core.output_folder) before any work.
    Raises SegmentError, CheckpointError, FolderError or DataError (bad map) with a one-line
    message.
    """
    started = time.perf_counter()
    options = SegmentOptions() if options is None else options
    timings: dict[str, float] = {}
    request = check_request(
        map_path,
        out_dir,
        model,
        options,
        structure=structure,
        resolution=resolution,
        contour=contour,
        mask=mask,
        confident=confident,
    )
    density, region = _read(map_path, box, timings)
    with timed(timings, "resample"):
        origin, shape_xyz = _lattice(density, region)
        view, geometry = _input_view(
            map_path, density, region, request, mask=mask, out_dir=out_dir, on_grid=on_input_grid
        )
    helix, sheet, empty, tiling = _predict(view, origin, shape_xyz, request, options, timings)
    labels = labels_from(helix, sheet)
    facts = RunFacts(
        geometry,
        region if box is not None else None,
        shape_xyz,
        origin,
        request.members,
        request.is_default,
        on_input_grid,
        request.resolution,
        request.device,
        options.channels_last,
        options.flips,
        tiling,
        empty,
    )
    summary = build_summary(facts, labels, confident_summary(helix, sheet, confident))
    result = SegmentResult(helix, sheet, labels, origin, summary)
    if request.residue_model is not None:
        _add_residues(result, request.residue_model)
    if out_dir is None:
        record_timings(summary, timings, started)
    else:
        write_staged(result, Path(out_dir), view, timings, started)
    return result


def _read(
    map_path: str | Path, box: list[int] | tuple[int, ...] | None, timings: dict[str, float]
) -> tuple[DensityMap, Region]:
    """The map, refused from its header first when its 1 Å grid cannot fit, and the region."""
    with timed(timings, "read"):
        # README: ~10.4 B per grid voxel
        check_map_work(map_path, grid_step=SAMPLE_VOXEL_SIZE, bytes_per_grid_voxel=11.0)
        density = read_map(map_path)
    whole = Region.whole(density.shape_xyz)
    return density, Region.from_box(box, density.shape_xyz) if box is not None else whole


def _add_residues(result: SegmentResult, residue_model: ResidueModel) -> None:
    """The per-residue table of the fitted model (cryosse.evaluate.residue_table) and its
    summary."""
    result.residues = residue_rows(
        residue_model, result.helix, result.sheet, result.labels, result.origin, SAMPLE_VOXEL_SIZE
    )
    result.summary["residues"] = {
        "structure": str(residue_model.path),
        **summarize(result.residues),
    }


def _lattice(density: DensityMap, region: Region) -> tuple[np.ndarray, tuple[int, int, int]]:
    """Origin (xyz Å) and shape (xyz) of the 1 Å grid inside the region (module docstring)."""
    try:
        return lattice_in_region(density, region.first, region.last, SAMPLE_VOXEL_SIZE)
    except ValueError as exc:  # fewer than 2 points on an axis
        raise SegmentError(str(exc)) from None


def _input_view(
    map_path: str | Path,
    density: DensityMap,
    region: Region,
    request: Request,
    *,
    mask: bool,
    out_dir: str | Path | None,
    on_grid: bool,
) -> tuple[InputView, dict[str, Any]]:
    """The input as the outputs show it (its value range and display level, taken before its
    values go) and summary.json's "input", with the masking (applied here when `mask`)."""
    geometry: dict[str, Any] = {
        "path": str(map_path),
        "shape_xyz": list(density.shape_xyz),
        "voxel_size_xyz": density.voxel_size.tolist(),
        "origin_xyz": density.origin.tolist(),
    }
    stats = MapStats(Path(map_path), float(density.data.min()), float(density.data.max()))
    level = map_display_level(density.data, request.level) if out_dir is not None else math.nan
    geometry["masking"] = _masking(map_path, density, stats, request, mask)
    view = InputView(Path(map_path), density, region, on_grid, stats, level, request.residue_model)
    return view, geometry


def _masking(
    map_path: str | Path, density: DensityMap, stats: MapStats, request: Request, mask: bool
) -> dict[str, Any]:
    """summary.json's "masking": zero the density below the contour when `mask`, else warn
    when the map looks like a full, unmasked one (cryosse.segment.masking)."""
    level, level_source = request.level, request.level_source
    signs = map_signs(density.data, level)
    masking: dict[str, Any] = {
        **signs.as_dict(),
        "contour": level,
        "contour_source": level_source,
        "masked": False,
    }
    if mask:
        assert level is not None
        if not stats.dmin < level < stats.dmax:
            raise SegmentError(
                f"--mask: the contour {level:g} ({level_source}) lies outside the map's values "
                f"({stats.dmin:.3g} to {stats.dmax:.3g})"
            )
        if not density.data.flags.writeable:
            density.data = np.array(density.data, dtype=np.float32)
        masking["voxels_kept"] = mask_below(density.data, level)
        masking["masked"] = True
    elif signs.unmasked:
        offer = (
            f"--mask zeroes the density below the contour {level:g} ({level_source})"
            if level is not None
            else "--mask --contour LEVEL zeroes the density below your contour"
        )
        card_note = ""
        if request.is_default:
            from cryosse.learn.checkpoint import default_model_card
            from cryosse.segment.default_model import weak_stratum_note

            note = weak_stratum_note(default_model_card(), "b", "full, unmasked maps")
            card_note = f" ({note})" if note else ""
        warnings.warn(
            f"{Path(map_path).name} looks like a full, unmasked map: {signs.describe()}. The "
            "model was trained on maps zoned around their chains and over-calls helix in "
            f"solvent and unmodelled neighbours here{card_note}; {offer}",
            UnmaskedMapWarning,
            stacklevel=4,  # segment_map's caller (claims_folder's wrapper)
        )
    return masking


def _predict(
    view: InputView,
    origin: np.ndarray,
    shape_xyz: tuple[int, int, int],
    request: Request,
    options: SegmentOptions,
    timings: dict[str, float],
) -> tuple[np.ndarray, np.ndarray, int, Tiling]:
    """Helix and sheet probabilities on the 1 Å grid (background where the map is empty), the
    number of empty voxels and the tiles run. Drops the input's values once resampled."""
    density = view.density
    with timed(timings, "resample"):
        grid = resample_onto(density, origin, np.full(3, SAMPLE_VOXEL_SIZE), shape_xyz)
        # the raw values are no longer needed (the input grid needs only the geometry)
        density.data = np.empty((0, 0, 0), dtype=np.float32)
    if float(grid.max()) <= 0.0:
        raise SegmentError(f"{view.map_path.name}: no positive density in the region")
    net = request.checkpoint.model
    with timed(timings, "normalise"):
        factor = grid_factor(request.checkpoint.metadata, SAMPLE_VOXEL_SIZE)
        support = density_support(grid)
        normalised, zero_level = network_input(grid, factor, net.context_border)
        del grid
    device = request.device
    tiling = plan_tiling(net, normalised.shape, device, options)
    with timed(timings, "predict"):
        networks = [inference_network(member.model) for member in request.members]
        network: torch.nn.Module = networks[0] if len(networks) == 1 else ProbabilityMean(networks)
        if options.flips:
            network = MirrorMean(network)
        network = network.to(device.torch_device)
        if options.channels_last:
            # Module.to's stub overloads omit memory_format, which it accepts at run time
            network = network.to(memory_format=torch.channels_last_3d)  # type: ignore[call-overload]
        prediction = predict_tiled(
            network,
            normalised,
            zero_level,
            tiling.plan,
            device,
            channels_last=options.channels_last,
            progress=options.progress,
        )
        del normalised
    timings["forward"] = prediction.seconds_forward
    helix, sheet = prediction.helix, prediction.sheet
    check_finite(helix, sheet)
    if factor > 1:  # back onto the 1 Å grid (trilinear between block centres)
        fine = tuple(shape_xyz[::-1])
        helix, sheet = refine(helix, factor, fine), refine(sheet, factor, fine)
    empty = background_where_empty(helix, sheet, support)
    return helix, sheet, empty, tiling
