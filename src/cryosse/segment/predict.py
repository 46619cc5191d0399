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
    resampled onto it by trilinear interpolation (a map already at 1 Å is copied unchanged).
 4. Normalisation once over the whole (cropped, resampled) map with
    cryosse.learn.inputs.normalize_density, the training normalisation: the input of every tile is a
    slice of one normalised map, so the result does not depend on the tiling (DeepSSETracer 1.1
    z-scores every 120³ tile on its own).
 5. Prediction with overlapping, smoothly blended tiles (cryosse.segment.tiling), batches of tiles,
    the tile side chosen from a memory budget (or given), BatchNorm folded into the
    convolutions, bf16 autocast on a GPU (on a CPU only on request).
 6. Outputs in `out_dir`, named after the input map (`<map>`: its file name without
    .mrc/.map/.ccp4/.gz), every file written atomically, summary.json last:

        <map>_helix_prob.mrc   float32 probability of helix
        <map>_sheet_prob.mrc   float32 probability of β-sheet
        <map>_helix_mask.mrc   int8 1 where helix is the most probable class (argmax), else 0
        <map>_sheet_mask.mrc   int8 1 where sheet is the most probable class
        <map>_labels.mrc       int8 argmax class: 0 background, 1 helix, 2 sheet
        <map>.cxc              ChimeraX commands (cryosse.segment.chimerax): the map and the masks
        with
                               levels and colours from the values actually written
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
freed slab by slab as the tiles pass (cryosse.segment.tiling: 8 B/vox + one tile row's band during
the
prediction); then the two probability maps (8), the labels (1) and one mask at a time (1) while
the files are written, with header statistics computed slab by slab, and the 1 B/vox of the
density support (EMPTY_RADIUS_A) through the prediction: about 11 B/vox in all.
Reading a float32 map costs 8 B per input voxel (the file's bytes and the array). The tile's
working set (cryosse.learn.slab_forward.SlabForward: the network run level by level in z-slabs) is
about
11 × base bytes per voxel of the network's grid, the full-resolution skip connection; a
whole-volume pass needed about 29 × base (EMD-5168 with the shipped model: peak RSS 1562 →
842 MiB, benchmarks/segment.py --real-maps).
"""

from __future__ import annotations

import json
import math
import os
import re
import resource
import shutil
import tempfile
import time
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from scipy.ndimage import binary_dilation

from cryosse import __version__
from cryosse.core.atomic import write_text_atomic
from cryosse.core.classes import HELIX, SHEET
from cryosse.core.output_folder import claims_folder
from cryosse.core.reasons import CurationError
from cryosse.evaluate.residue_table import (
    ResidueModel,
    residue_rows,
    summarize,
    write_residue_table,
)
from cryosse.io.density import DensityMap, check_map_work, read_map, write_map
from cryosse.io.header import parse_header
from cryosse.io.resample import lattice_in_region, resample_onto
from cryosse.learn.checkpoint import (
    Checkpoint,
    CheckpointError,
    default_model_path,
    grid_factor,
    load_checkpoint,
)
from cryosse.learn.device import Device, DeviceError, choose_device
from cryosse.learn.inputs import apply_normalization, coarsen_density, normalization_params, refine
from cryosse.learn.slab_forward import inference_network
from cryosse.segment.chimerax import (
    MapStats,
    map_display_level,
    write_attribute_file,
    write_chimerax_script,
)
from cryosse.segment.masking import map_signs, mask_below
from cryosse.segment.pymol_script import write_pymol_script
from cryosse.segment.tiling import (
    TilePlan,
    ZSlabs,
    default_overlap,
    labels_from,
    plan_tiles,
    predict_tiled,
    side_for_memory,
    tile_memory,
)

GRID_STEP = 1.0  # Å, the network's voxel size
OUTPUT_KINDS = ("helix_prob", "sheet_prob", "helix_mask", "sheet_mask", "labels")
MAX_TILE_SIDE = 256
_Z_SLAB = 16  # planes resampled at a time: bounds the interpolation temporaries


# The dataset's resolution range (config/config.yaml: resolution min/max): what a checkpoint
# that does not record its training cases' range is taken to have been trained on.
DATASET_RESOLUTION_A = (5.0, 10.0)


class SegmentError(ValueError):
    """Bad input or options for segmentation, with a one-line explanation."""


class ResolutionWarning(UserWarning):
    """The map's resolution lies outside the range the model was trained on."""


class UnmaskedMapWarning(UserWarning):
    """The map looks like a full, unmasked map (cryosse.segment.masking)."""


def header_for_map(map_path: str | Path) -> Path | None:
    """An EMDB header XML beside the map (or in the archive layout's ../header/): the one of
    the map's own EMDB number (emd_NNNN.map.gz → emd-NNNN-v30.xml or emd-NNNN.xml), else the
    only emd-*.xml of the folder."""
    folder = Path(map_path).resolve().parent
    folders = [folder, folder.parent / "header"]
    number = re.match(r"emd[_-](\d+)", Path(map_path).name, re.IGNORECASE)
    if number:
        for where in folders:
            for name in (f"emd-{number[1]}-v30.xml", f"emd-{number[1]}.xml"):
                if (where / name).is_file():
                    return where / name
        return None
    found = sorted(folder.glob("emd-*.xml"))
    return found[0] if len(found) == 1 else None


def map_resolution(map_path: str | Path, given: float | None) -> dict[str, Any]:
    """{value_A, source, contour_level}: `given` (--resolution), else the EMDB header's."""
    if given is not None:
        if not (math.isfinite(given) and 0.0 < given < 100.0):
            raise SegmentError(f"--resolution {given}: expected Å, between 0 and 100")
        return {"value_A": float(given), "source": "--resolution", "contour_level": None}
    header = header_for_map(map_path)
    if header is None:
        return {
            "value_A": None,
            "source": "no --resolution, no EMDB header beside the map",
            "contour_level": None,
        }
    try:
        parsed = parse_header(header)
    except CurationError as exc:
        return {
            "value_A": None,
            "source": f"unreadable EMDB header: {exc.message}",
            "contour_level": None,
        }
    return {
        "value_A": parsed.resolution,
        "source": f"EMDB header {header.name}",
        "contour_level": parsed.contour_level,
    }


def trained_resolution_range(metadata: dict[str, Any]) -> tuple[tuple[float, float], str]:
    """(low, high) Å of the model's training cases and where that range comes from."""
    recorded = (metadata.get("training") or {}).get("train_resolution_A")
    if isinstance(recorded, list | tuple) and len(recorded) == 2:
        return (float(recorded[0]), float(recorded[1])), "the checkpoint's training cases"
    low, high = DATASET_RESOLUTION_A
    return DATASET_RESOLUTION_A, f"not recorded in the checkpoint: the dataset's {low:g}-{high:g} Å"


def resolution_summary(
    map_path: str | Path, given: float | None, metadata: dict[str, Any]
) -> dict[str, Any]:
    """summary.json's "resolution": the map's, the trained range, and a warning when outside."""
    found = map_resolution(map_path, given)
    (low, high), range_source = trained_resolution_range(metadata)
    value = found["value_A"]
    inside = None if value is None else low <= value <= high
    warning = None
    if inside is False:
        warning = (
            f"the map's resolution {value:g} Å ({found['source']}) lies outside "
            f"{low:g}-{high:g} Å, the range the model was trained on "
            f"({range_source}): expect less reliable helix and sheet maps"
        )
    return {
        **found,
        "trained_range_A": [low, high],
        "trained_range_source": range_source,
        "inside_trained_range": inside,
        "warning": warning,
    }


@dataclass(frozen=True)
class Region:
    """Grid indices (x, y, z) of the first and last voxel of the input map, both included."""

    first: tuple[int, int, int]
    last: tuple[int, int, int]

    @classmethod
    def whole(cls, shape_xyz: tuple[int, int, int]) -> Region:
        return cls((0, 0, 0), tuple(n - 1 for n in shape_xyz))  # type: ignore[arg-type]

    @classmethod
    def from_box(cls, box: list[int] | tuple[int, ...], shape_xyz: tuple[int, int, int]) -> Region:
        """Validate `i1 j1 k1 i2 j2 k2` against the map's grid (see the module docstring)."""
        if len(box) != 6:
            raise SegmentError(f"--box takes 6 grid indices (i1 j1 k1 i2 j2 k2), got {len(box)}")
        first, last = tuple(int(v) for v in box[:3]), tuple(int(v) for v in box[3:])
        limit = " ".join(f"{n - 1}" for n in shape_xyz)
        for axis, (a, b, n) in enumerate(zip(first, last, shape_xyz, strict=True)):
            if a > b:
                raise SegmentError(f"--box: first index {a} > last index {b} on axis {'xyz'[axis]}")
            if a < 0 or b >= n:
                raise SegmentError(
                    f"--box {' '.join(map(str, box))} lies outside the map: grid indices run "
                    f"from 0 0 0 to {limit} (x y z)"
                )
        return cls(first, last)  # type: ignore[arg-type]


@dataclass
class SegmentResult:
    helix: np.ndarray  # float32 [z, y, x] on the 1 Å grid
    sheet: np.ndarray
    labels: np.ndarray  # int8 0/1/2
    origin: np.ndarray  # xyz Å of the 1 Å grid's first voxel
    summary: dict[str, Any]
    files: dict[str, Path] = field(default_factory=dict)
    residues: list[dict[str, Any]] = field(default_factory=list)  # with a structure


def parse_memory(text: str) -> int:
    """Bytes from '512M', '4G', '4GiB', '2.5g' or a plain number of bytes."""
    units = {"": 1, "K": 2**10, "M": 2**20, "G": 2**30, "T": 2**40}
    cleaned = text.strip().upper().removesuffix("IB").removesuffix("B")
    number, unit = (cleaned[:-1], cleaned[-1]) if cleaned[-1:] in units else (cleaned, "")
    try:
        value = float(number) * units[unit]
    except ValueError:
        raise SegmentError(f"--max-memory {text!r}: expected e.g. 512M, 4G or bytes") from None
    if not math.isfinite(value) or value < 2**20:
        raise SegmentError(f"--max-memory {text!r}: at least 1M")
    return int(value)


def _available_memory() -> int | None:
    try:
        with open("/proc/meminfo", encoding="utf-8") as handle:
            for line in handle:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        return None
    return None


def default_memory_budget(device: Device) -> int:
    """The network's working set: half the free GPU memory; on a CPU a quarter of the
    available RAM, at most 8 GiB (2 GiB when it cannot be read)."""
    if device.torch_device.type == "cuda":
        free, _ = torch.cuda.mem_get_info(device.torch_device)
        return int(free * 0.5)
    available = _available_memory()
    return min(8 * 2**30, available // 4) if available else 2 * 2**30


def select_device(name: str, bf16: bool = True, cpu_bf16: bool = False) -> Device:
    """The one device picker (cryosse.learn.device), refusing bf16 where this CPU would run it far
    slower than fp32."""
    try:
        return choose_device(name, bf16, cpu_bf16, refuse_slow_cpu_bf16=True)
    except DeviceError as error:
        raise SegmentError(f"--device {name} / --cpu-bf16: {error}") from error


def _lattice(density: DensityMap, region: Region) -> tuple[np.ndarray, tuple[int, int, int]]:
    """Origin (xyz Å) and shape (xyz) of the 1 Å grid inside the region (module docstring)."""
    try:
        return lattice_in_region(density, region.first, region.last, GRID_STEP)
    except ValueError as exc:  # fewer than 2 points on an axis
        raise SegmentError(str(exc)) from None


def resolve_model(model: str | Path | Checkpoint | None) -> tuple[Checkpoint, bool]:
    """(checkpoint, is the packaged default)."""
    if isinstance(model, Checkpoint):
        return model, False
    if model is None:
        return load_checkpoint(default_model_path()), True
    return load_checkpoint(model), False


def _json_safe(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k): _json_safe(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_json_safe(v) for v in value]
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, np.generic):
        return value.item()
    return value


def _model_summary(checkpoint: Checkpoint, is_default: bool) -> dict[str, Any]:
    meta = dict(checkpoint.metadata)
    training = dict(meta.get("training") or {})
    for key in ("train_ids", "validation_ids"):  # counts and a hash stay; long lists do not
        training.pop(key, None)
    meta["training"] = training
    return {
        "path": str(checkpoint.path),
        "sha256": checkpoint.sha256,
        "default": is_default,
        **meta,
    }


# The longest file name segment_map writes after the map's stem (NAME_MAX is 255 bytes).
_LONGEST_SUFFIX = max(
    [len(f"_{kind}.mrc") for kind in OUTPUT_KINDS] + [len("_residues_columns.txt")]
)
NAME_MAX = 255
_ATOMIC_EXTRA = len(".tmp-") + len(".") + 8
# The network grid a checkpoint may declare (Å): the shipped model's is 2 Å; beyond 10 Å a
# 5-10 Å map has no detail left to segment.
NETWORK_VOXEL_RANGE_A = (1.0, 10.0)


def check_names(
    map_path: str | Path, out_dir: str | Path | None, structure: str | Path | None = None
) -> None:
    """Refuse, before any work, a map whose outputs could not be named: a control character
    (a newline in the name would start a new command in the .cxc: issue 26) or a stem too long
    for the file system once the longest suffix is added (a 230-character name failed only
    after the whole prediction)."""
    named = (("map path", map_path), ("--out", out_dir or ""), ("--structure", structure or ""))
    for label, path in named:
        value = str(path)
        if any(ord(c) < 32 or ord(c) == 127 for c in value):
            raise SegmentError(
                f"the {label} {value!r} holds a control character (newline, tab, ...): rename it"
            )
        if '"' in value and label != "--out":  # the .pml cannot quote it
            raise SegmentError(f"the {label} {value!r} holds a double quote: rename it")
    stem = map_stem(map_path)
    # + the temporary name each file is first written under (cryosse.core.atomic.atomic_path:
    # ".tmp-<name>." and 8 random characters)
    longest = len(stem.encode()) + _LONGEST_SUFFIX + _ATOMIC_EXTRA
    if longest > NAME_MAX:
        raise SegmentError(
            f"the map's name ({len(stem.encode())} bytes without its extension) is too long "
            f"for its outputs: with the longest suffix and the temporary name they need "
            f"{longest} bytes, the file system allows {NAME_MAX}; rename or link the map to a "
            f"name of at most {NAME_MAX - _LONGEST_SUFFIX - _ATOMIC_EXTRA} bytes"
        )


def check_not_another_maps_folder(map_path: str | Path, out_dir: Path) -> None:
    """summary.json is one per folder: refuse a folder holding another map's segmentation
    rather than overwrite its summary (a re-run of the same map replaces its own)."""
    summary = out_dir / "summary.json"
    if not summary.is_file():
        return
    try:
        previous = json.loads(summary.read_text(encoding="utf-8"))["input"]["path"]
    except (OSError, ValueError, KeyError, TypeError):
        raise SegmentError(
            f"--out {out_dir}: holds a summary.json that is not cryosse segment's; choose "
            "another folder"
        ) from None
    if map_stem(previous) != map_stem(map_path):
        raise SegmentError(
            f"--out {out_dir}: holds the segmentation of {Path(previous).name} (its "
            "summary.json); choose another folder for this map"
        )


def check_checkpoint_metadata(checkpoint: Checkpoint) -> None:
    """The metadata segmentation reads, checked before use: a checkpoint with voxel_size 1e12,
    text in train_resolution_A or dropout NaN gave tracebacks (issue 26)."""
    meta = checkpoint.metadata
    name = checkpoint.path.name
    low, high = NETWORK_VOXEL_RANGE_A
    voxel = meta.get("voxel_size")
    if not _number(voxel) or not low <= float(voxel or 0.0) <= high:
        raise CheckpointError(f"{name}: voxel_size {voxel!r} is not a grid of {low:g}-{high:g} Å")
    recorded = (meta.get("training") or {}).get("train_resolution_A")
    if recorded is not None and not (
        isinstance(recorded, list | tuple)
        and len(recorded) == 2
        and all(_number(v) and 0 < float(v) <= 100 for v in recorded)
        and float(recorded[0]) <= float(recorded[1])
    ):
        raise CheckpointError(
            f"{name}: training.train_resolution_A {recorded!r} is not a range of two numbers (Å)"
        )
    dropout = (meta.get("model_config") or {}).get("dropout", 0.0)
    if not _number(dropout) or not 0.0 <= float(dropout) < 1.0:
        raise CheckpointError(f"{name}: model_config.dropout {dropout!r} is not in [0, 1)")


def _number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


# A voxel with no positive density within this distance is background whatever the network
# says: P(sheet) sat at 0.15-0.30 in the empty space of zoned maps (58 % of EMD-8518's empty
# voxels above 0.15), a halo at any ChimeraX level below 0.3 (issue 25); no label changes
# there (0 of EMD-8518's, 0.02 % of EMD-6149's empty voxels had a non-background argmax).
EMPTY_RADIUS_A = 3.0


def density_support(grid: np.ndarray) -> np.ndarray:
    """Voxels of the 1 Å grid with positive density within EMPTY_RADIUS_A (bool, 1 B/voxel)."""
    r = int(EMPTY_RADIUS_A / GRID_STEP)
    z, y, x = np.mgrid[-r : r + 1, -r : r + 1, -r : r + 1]
    ball = (x * x + y * y + z * z) <= r * r
    return binary_dilation(grid > 0, structure=ball)


def background_where_empty(helix: np.ndarray, sheet: np.ndarray, support: np.ndarray) -> int:
    """Zero helix and sheet (in place, a slab at a time) outside `support`; returns how many
    voxels that touched."""
    empty = 0
    for z in range(0, helix.shape[0], _Z_SLAB):
        outside = ~support[z : z + _Z_SLAB]
        empty += int(np.count_nonzero(outside))
        helix[z : z + _Z_SLAB][outside] = 0.0
        sheet[z : z + _Z_SLAB][outside] = 0.0
    return empty


def check_finite(helix: np.ndarray, sheet: np.ndarray) -> None:
    """Refuse a non-finite prediction (finite weights that overflow gave 100 % NaN maps with
    exit 0: issue 26), counted a z-slab at a time so the check costs no map-sized temporary."""
    bad = 0
    for z in range(0, helix.shape[0], _Z_SLAB):
        for volume in (helix, sheet):
            bad += int(np.count_nonzero(~np.isfinite(volume[z : z + _Z_SLAB])))
    if bad:
        raise SegmentError(
            f"the model's output is not finite (NaN or infinite) in {bad} of "
            f"{2 * helix.size} values: its weights overflow on this map; nothing was written"
        )


def _peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


@claims_folder("out_dir")
def segment_map(
    map_path: str | Path,
    out_dir: str | Path | None = None,
    model: str | Path | Checkpoint | None = None,
    box: list[int] | tuple[int, ...] | None = None,
    device: str = "auto",
    tile_size: int | None = None,
    overlap: int | None = None,
    max_memory: int | str | None = None,
    batch_size: int | None = None,
    on_input_grid: bool = False,
    bf16: bool = True,
    cpu_bf16: bool = False,
    channels_last: bool = False,
    threads: int | None = None,
    progress: bool = False,
    resolution: float | None = None,
    structure: str | Path | None = None,
    contour: float | None = None,
    mask: bool = False,
    confident: float | None = None,
) -> SegmentResult:
    """Segment one map (see the module docstring); write the outputs if `out_dir` is given.

    model: a checkpoint path, a loaded Checkpoint, or None for the packaged default model.
    tile_size: tile side in voxels (default: the largest within `max_memory`, ≤ 256).
    max_memory: bytes (or '4G') for the network's working set; default_memory_budget if None.
    resolution: the map's resolution in Å (default: from an EMDB header beside the map); a
    ResolutionWarning when it lies outside the model's training range (summary "resolution").
    structure: an atomic model fitted into the map: a per-residue table
    (cryosse.evaluate.residue_table)
    in `residues` and, with `out_dir`, `<map>_residues.tsv`; read before any prediction.
    contour: the map's contour level (default: the EMDB header's recommended one): the .cxc
    shows the map at it, and `mask` zeroes the density below it before segmenting. A map that
    looks unmasked (cryosse.segment.masking) gets an UnmaskedMapWarning unless `mask` is set.
    confident: also write <map>_helix_confident.mrc and <map>_sheet_confident.mrc, int8 1 where
    the probability is at least this (e.g. 0.9: the voxels the model is sure of, as Emap2sec+
    offers).
    `out_dir` is created, checked writable and locked (cryosse.core.output_folder) before any work.
    Raises SegmentError, CheckpointError, FolderError or CurationError (bad map) with a one-line
    message.
    """
    started = time.perf_counter()
    timings: dict[str, float] = {}
    if threads is not None and int(threads) < 1:
        raise SegmentError(f"--threads {threads}: at least 1")
    if threads:
        torch.set_num_threads(int(threads))
    check_names(map_path, out_dir, structure)
    if out_dir is not None:
        check_not_another_maps_folder(map_path, Path(out_dir))
    residue_model = ResidueModel.read(structure) if structure is not None else None
    checkpoint, is_default = resolve_model(model)
    check_checkpoint_metadata(checkpoint)
    torch_device = select_device(device, bf16=bf16, cpu_bf16=cpu_bf16)
    resolution_info = resolution_summary(map_path, resolution, checkpoint.metadata)
    if resolution_info["warning"]:
        warnings.warn(resolution_info["warning"], ResolutionWarning, stacklevel=2)
    if confident is not None and not (math.isfinite(confident) and 0.0 < confident <= 1.0):
        raise SegmentError(f"--confident {confident}: a probability in (0, 1]")
    if contour is not None and not math.isfinite(contour):
        raise SegmentError(f"--contour {contour}: not a number")
    level = contour if contour is not None else resolution_info["contour_level"]
    level_source = (
        "--contour" if contour is not None else "EMDB header" if level is not None else None
    )
    if mask and level is None:
        raise SegmentError(
            "--mask needs a contour level: give --contour LEVEL (the EMDB header beside the map "
            "records none)"
        )

    tick = time.perf_counter()
    # refuse from the header a map whose 1 Å grid cannot fit (README: ~10.4 B per grid voxel)
    check_map_work(map_path, grid_step=GRID_STEP, bytes_per_grid_voxel=11.0)
    density = read_map(map_path)
    timings["read"] = time.perf_counter() - tick
    region = (
        Region.from_box(box, density.shape_xyz)
        if box is not None
        else Region.whole(density.shape_xyz)
    )

    tick = time.perf_counter()
    origin, shape_xyz = _lattice(density, region)
    input_geometry = {
        "path": str(map_path),
        "shape_xyz": list(density.shape_xyz),
        "voxel_size_xyz": density.voxel_size.tolist(),
        "origin_xyz": density.origin.tolist(),
    }
    # the .cxc shows the input map: its value range and a level, before its values go
    input_stats = MapStats(Path(map_path), float(density.data.min()), float(density.data.max()))
    map_level = map_display_level(density.data, level) if out_dir is not None else math.nan
    signs = map_signs(density.data, level)
    masking: dict[str, Any] = {
        **signs.as_dict(),
        "contour": level,
        "contour_source": level_source,
        "masked": False,
    }
    if mask:
        assert level is not None
        if not input_stats.dmin < level < input_stats.dmax:
            raise SegmentError(
                f"--mask: the contour {level:g} ({level_source}) lies outside the map's values "
                f"({input_stats.dmin:.3g} to {input_stats.dmax:.3g})"
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
        if is_default:
            from cryosse.learn.checkpoint import default_model_card
            from cryosse.segment.default_model import weak_stratum_note

            note = weak_stratum_note(default_model_card(), "b", "full, unmasked maps")
            card_note = f" ({note})" if note else ""
        warnings.warn(
            f"{Path(map_path).name} looks like a full, unmasked map: {signs.describe()}. The "
            "model was trained on maps zoned around their chains and over-calls helix in "
            f"solvent and unmodelled neighbours here{card_note}; {offer}",
            UnmaskedMapWarning,
            stacklevel=2,
        )
    grid = resample_onto(density, origin, np.full(3, GRID_STEP), shape_xyz)
    # the raw values are no longer needed (the input grid needs only the geometry)
    density.data = np.empty((0, 0, 0), dtype=np.float32)
    timings["resample"] = time.perf_counter() - tick
    if float(grid.max()) <= 0.0:
        raise SegmentError(f"{Path(map_path).name}: no positive density in the region")

    tick = time.perf_counter()
    net = checkpoint.model
    factor = grid_factor(checkpoint.metadata, GRID_STEP)
    support = density_support(grid)
    normalised, zero_level = _network_input(grid, factor, net.context_border)
    del grid
    timings["normalise"] = time.perf_counter() - tick

    plan, budget, tile_bytes = _tile_plan(
        net, normalised.shape, torch_device, tile_size, overlap, max_memory, batch_size
    )

    tick = time.perf_counter()
    network = inference_network(net).to(torch_device.torch_device)
    if channels_last:
        # Module.to's stub overloads omit memory_format, which it accepts at run time
        network = network.to(memory_format=torch.channels_last_3d)  # type: ignore[call-overload]
    prediction = predict_tiled(
        network,
        normalised,
        zero_level,
        plan,
        torch_device,
        channels_last=channels_last,
        progress=progress,
    )
    del normalised
    timings["predict"] = time.perf_counter() - tick
    timings["forward"] = prediction.seconds_forward
    helix, sheet = prediction.helix, prediction.sheet
    check_finite(helix, sheet)
    if factor > 1:  # back onto the 1 Å grid (trilinear between block centres)
        fine = tuple(shape_xyz[::-1])
        helix, sheet = refine(helix, factor, fine), refine(sheet, factor, fine)
    empty = background_where_empty(helix, sheet, support)
    del support
    labels = labels_from(helix, sheet)

    summary = _summary(
        input_geometry,
        region if box is not None else None,
        shape_xyz,
        origin,
        checkpoint,
        net,
        on_input_grid,
        labels,
        resolution_info,
        is_default,
        torch_device,
        channels_last,
        plan,
        budget,
        tile_bytes,
    )
    summary["input"]["masking"] = masking
    summary["empty_space"] = {
        "rule": f"no positive density within {EMPTY_RADIUS_A:g} Å: background (P = 0 helix/sheet)",
        "voxels": empty,
    }
    if confident is not None:
        summary["confident"] = {
            "threshold": confident,
            **{
                cls: int(
                    sum(
                        np.count_nonzero(p[z : z + _Z_SLAB] >= confident)
                        for z in range(0, p.shape[0], _Z_SLAB)
                    )
                )
                for cls, p in (("helix_voxels", helix), ("sheet_voxels", sheet))
            },
        }
    result = SegmentResult(helix, sheet, labels, origin, summary)
    if residue_model is not None:
        result.residues = residue_rows(residue_model, helix, sheet, labels, origin, GRID_STEP)
        summary["residues"] = {"structure": str(residue_model.path), **summarize(result.residues)}
    if out_dir is None:
        timings["total"] = time.perf_counter() - started
        summary["timings_s"] = {k: round(v, 3) for k, v in timings.items()}
        summary["peak_rss_mb"] = round(_peak_rss_mb(), 1)
        return result
    # Every output is written into a hidden staging folder inside out_dir and moved into place
    # only once all are written: a full disk leaves the folder as it was, never half a set
    # (issue 26: one map file and no summary.json).
    final = Path(out_dir)
    staging = Path(tempfile.mkdtemp(prefix=".cryosse-staging-", dir=final))
    try:
        tick = time.perf_counter()
        _write_files(
            result,
            staging,
            final,
            map_path,
            density,
            region,
            on_input_grid,
            input_stats,
            map_level,
            residue_model,
        )
        timings["write"] = time.perf_counter() - tick
        timings["total"] = time.perf_counter() - started
        summary["timings_s"] = {k: round(v, 3) for k, v in timings.items()}
        summary["peak_rss_mb"] = round(_peak_rss_mb(), 1)
        result.files["summary"] = staging / "summary.json"
        summary["files"] = sorted(p.name for p in result.files.values())
        write_text_atomic(result.files["summary"], json.dumps(_json_safe(summary), indent=2) + "\n")
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
    return result


def _network_input(grid: np.ndarray, factor: int, border: int) -> tuple[ZSlabs, float]:
    """normalize_density's values (its parameters over the whole map, then the same
    elementwise formula) on the network's grid (block means of `factor`³ voxels of the 1 Å grid,
    as in training), kept as z-slabs that the tiling frees once it has passed them, with an
    empty border around the map (UNet3D.context_border). Returns them and the zero level."""
    params = normalization_params(grid)
    slab = _Z_SLAB * factor
    slabs = [
        coarsen_density(apply_normalization(grid[z : z + slab], params), factor)
        for z in range(0, grid.shape[0], slab)
    ]
    return ZSlabs(slabs, border=border), params.zero_level


def _tile_plan(
    net: Any,
    shape: tuple[int, int, int],
    torch_device: Device,
    tile_size: int | None,
    overlap: int | None,
    max_memory: int | str | None,
    batch_size: int | None,
) -> tuple[TilePlan, int, int]:
    """The tiles (side from the memory budget unless given), the budget and one tile's
    estimated bytes."""
    overlap = default_overlap(net) if overlap is None else int(overlap)
    if overlap < 0:
        raise SegmentError("--overlap must be >= 0")
    if max_memory is None:
        budget = default_memory_budget(torch_device)
    elif isinstance(max_memory, str):
        budget = parse_memory(max_memory)
    else:
        budget = int(max_memory)
    side = (
        int(tile_size)
        if tile_size is not None
        else side_for_memory(net, budget, torch_device.autocast, MAX_TILE_SIDE)
    )
    if side < net.multiple:
        raise SegmentError(f"--tile-size {side}: at least {net.multiple}")
    try:
        plan = plan_tiles(shape, net.multiple, side, overlap)
    except ValueError as exc:
        raise SegmentError(str(exc)) from exc
    tile_bytes = tile_memory(net, plan.tile_shape, torch_device.autocast)
    if batch_size is not None and int(batch_size) < 1:
        raise SegmentError(f"--batch-size {batch_size}: at least 1")
    if batch_size is None:
        batch_size = (
            max(1, min(16, budget // max(1, tile_bytes)))
            if torch_device.torch_device.type == "cuda"
            else 1
        )
    plan = TilePlan(plan.axes, plan.overlap, max(1, min(int(batch_size), plan.n_tiles)))
    return plan, budget, tile_bytes


def _summary(
    input_geometry: dict[str, Any],
    region: Region | None,
    shape_xyz: tuple[int, int, int],
    origin: np.ndarray,
    checkpoint: Checkpoint,
    net: Any,
    on_input_grid: bool,
    labels: np.ndarray,
    resolution_info: dict[str, Any],
    is_default: bool,
    torch_device: Device,
    channels_last: bool,
    plan: TilePlan,
    budget: int,
    tile_bytes: int,
) -> dict[str, Any]:
    """summary.json's content, before the files and timings are added."""
    counts = {
        name: int(np.count_nonzero(labels == value))
        for name, value in (("helix", HELIX), ("sheet", SHEET))
    }
    return {
        "cryosse": __version__,
        "input": input_geometry,
        "box": None
        if region is None
        else {
            "first_xyz": list(region.first),
            "last_xyz": list(region.last),
            "convention": "input grid indices, 0-based, both ends included (ChimeraX region)",
        },
        "grid": {
            "shape_xyz": list(shape_xyz),
            "origin_xyz": origin.tolist(),
            "voxel_size": GRID_STEP,
            "network_voxel_size": float(checkpoint.metadata["voxel_size"]),
            "context_border_voxels": net.context_border,
        },
        "outputs_on": "input grid" if on_input_grid else f"{GRID_STEP:g} Å grid",
        "helix": {"voxels": counts["helix"], "volume_A3": counts["helix"] * GRID_STEP**3},
        "sheet": {"voxels": counts["sheet"], "volume_A3": counts["sheet"] * GRID_STEP**3},
        "classes": "argmax of background / helix / sheet probabilities",
        "resolution": resolution_info,
        "model": _model_summary(checkpoint, is_default),
        "device": {
            "type": torch_device.torch_device.type,
            "bf16": torch_device.autocast,
            "channels_last": channels_last,
            "threads": torch.get_num_threads(),
        },
        "tiling": {
            **plan.describe(),
            "memory_budget_bytes": budget,
            "estimated_tile_bytes": tile_bytes * plan.batch_size,
        },
    }


def _write_files(
    result: SegmentResult,
    out_dir: Path,
    final: Path,
    map_path: str | Path,
    density: DensityMap,
    region: Region,
    on_input_grid: bool,
    input_stats: MapStats,
    map_level: float,
    residue_model: ResidueModel | None,
) -> None:
    """The maps, the ChimeraX commands and the residue table, written into `out_dir` (the
    staging folder) and recorded in `result.files` and `result.summary`; the .cxc names the
    input map relative to `final`, the folder they are moved to."""
    stem = map_stem(map_path)
    stats = _write_outputs(result, out_dir, density, region, on_input_grid, stem)
    threshold = result.summary.get("confident", {}).get("threshold")
    if threshold is not None:
        stats |= _write_confident(result, out_dir, density, region, on_input_grid, stem, threshold)
    result.files = {kind: s.path for kind, s in stats.items()}
    attributes = None
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
        cxc, input_stats, map_level, stats, folder=final, structure=structure, attributes=attributes
    )
    result.files["chimerax"] = cxc
    result.summary["chimerax"] = {"file": cxc.name, "levels": levels}
    pml = out_dir / f"{stem}.pml"
    write_pymol_script(pml, final, input_stats, map_level, stats, structure=structure)
    result.files["pymol"] = pml
    result.summary["pymol"] = {"file": pml.name}


def output_names(stem: str) -> dict[str, str]:
    """File name of each output of a map named `stem` (map_stem)."""
    return {kind: f"{stem}_{kind}.mrc" for kind in OUTPUT_KINDS}


def _write_outputs(
    result: SegmentResult,
    out: Path,
    density: DensityMap,
    region: Region,
    on_input_grid: bool,
    stem: str,
) -> dict[str, MapStats]:
    out.mkdir(parents=True, exist_ok=True)
    helix, sheet, labels = result.helix, result.sheet, result.labels
    origin: np.ndarray = result.origin
    voxel: float | np.ndarray = GRID_STEP
    if on_input_grid:
        source = DensityMap(helix, result.origin, np.full(3, GRID_STEP))
        origin = density.origin + np.array(region.first) * density.voxel_size
        shape = tuple(b - a + 1 for a, b in zip(region.first, region.last, strict=True))
        helix = resample_onto(source, origin, density.voxel_size, shape, clamp=True)
        source.data = sheet
        sheet = resample_onto(source, origin, density.voxel_size, shape, clamp=True)
        labels = labels_from(helix, sheet)
        voxel = density.voxel_size
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
    result: SegmentResult,
    out: Path,
    density: DensityMap,
    region: Region,
    on_input_grid: bool,
    stem: str,
    threshold: float,
) -> dict[str, MapStats]:
    """<map>_helix_confident.mrc, <map>_sheet_confident.mrc: int8 1 where P >= threshold."""
    origin: np.ndarray = result.origin
    voxel: float | np.ndarray = GRID_STEP
    files: dict[str, MapStats] = {}
    for cls, probability in (("helix", result.helix), ("sheet", result.sheet)):
        if on_input_grid:
            source = DensityMap(probability, result.origin, np.full(3, GRID_STEP))
            origin = density.origin + np.array(region.first) * density.voxel_size
            shape = tuple(b - a + 1 for a, b in zip(region.first, region.last, strict=True))
            probability = resample_onto(source, origin, density.voxel_size, shape, clamp=True)
            voxel = density.voxel_size
        path = out / f"{stem}_{cls}_confident.mrc"
        mask = (probability >= threshold).view(np.int8)
        low, high = write_map(path, mask, origin, voxel, slab_statistics=True)
        files[f"{cls}_confident"] = MapStats(path, low, high)
    return files


def map_stem(path: str | os.PathLike[str]) -> str:
    """The map's file name without .gz/.mrc/.map/.ccp4: the outputs' prefix."""
    name = Path(path).name
    for suffix in (".gz", ".mrc", ".map", ".ccp4"):
        name = name.removesuffix(suffix)
    return name or "map"
