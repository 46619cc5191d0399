"""What `cryosse segment` checks before and after the prediction: the request (names, output
folder, model, device, options), the --box region, the checkpoint's metadata and the
prediction's values, each refused with one line."""

from __future__ import annotations

import json
import math
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from cryosse.evaluate.residue_table import ResidueModel
from cryosse.learn.checkpoint import (
    Checkpoint,
    CheckpointError,
    default_model_path,
    load_checkpoint,
)
from cryosse.learn.device import Device
from cryosse.learn.ensemble import layer_plan
from cryosse.segment.errors import ResolutionWarning, SegmentError
from cryosse.segment.execution import SegmentOptions, select_device
from cryosse.segment.naming import check_names, map_stem
from cryosse.segment.resolution import resolution_summary

# The network grid a checkpoint may declare (Å): the shipped model's is 2 Å; beyond 10 Å a
# 5-10 Å map has no detail left to segment.
NETWORK_VOXEL_RANGE_A = (1.0, 10.0)
_Z_SLAB = 16  # planes checked at a time: no map-sized temporary


@dataclass(frozen=True)
class Request:
    """What segment_map checked and gathered before reading the map."""

    members: tuple[Checkpoint, ...]  # the checkpoint, or every one of a seed ensemble
    is_default: bool  # the packaged default model
    device: Device
    resolution: dict[str, Any]  # summary.json's "resolution"
    level: float | None  # the map's contour level: --contour, else the EMDB header's
    level_source: str | None
    residue_model: ResidueModel | None

    @property
    def checkpoint(self) -> Checkpoint:
        """The first member: its metadata (grid, training range, card) speak for an ensemble."""
        return self.members[0]


ModelArgument = str | Path | Checkpoint


def resolve_models(
    model: ModelArgument | list[ModelArgument] | tuple[ModelArgument, ...] | None,
) -> tuple[tuple[Checkpoint, ...], bool]:
    """(every checkpoint, is the packaged default). Several checkpoints are a seed ensemble:
    one network plan, grid and normalisation, or a one-line refusal."""
    if not isinstance(model, list | tuple):
        checkpoint, is_default = resolve_model(model)
        return (checkpoint,), is_default
    if not model:
        raise SegmentError("--model: no checkpoint given")
    members = tuple(resolve_model(m)[0] for m in model)
    first = members[0]

    def plan(c: Checkpoint) -> tuple[Any, ...]:
        return (*layer_plan(c.model), c.metadata.get("voxel_size"), c.metadata.get("normalization"))

    for other in members[1:]:
        if plan(other) != plan(first):
            raise SegmentError(
                f"--model: {other.path.name} is not of {first.path.name}'s network, grid or "
                "normalisation: an ensemble averages networks of one setting"
            )
    return members, False


def resolve_model(model: str | Path | Checkpoint | None) -> tuple[Checkpoint, bool]:
    """(checkpoint, is the packaged default)."""
    if isinstance(model, Checkpoint):
        return model, False
    if model is None:
        return load_checkpoint(default_model_path()), True
    return load_checkpoint(model), False


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
        """Validate `i1 j1 k1 i2 j2 k2` against the map's grid (cryosse.segment.predict)."""
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


def check_request(
    map_path: str | Path,
    out_dir: str | Path | None,
    model: ModelArgument | list[ModelArgument] | tuple[ModelArgument, ...] | None,
    options: SegmentOptions,
    *,
    structure: str | Path | None,
    resolution: float | None,
    contour: float | None,
    mask: bool,
    confident: float | None,
) -> Request:
    """Everything that can be refused before the map is read, in the order a user meets it."""
    threads = options.threads
    if threads is not None and int(threads) < 1:
        raise SegmentError(f"--threads {threads}: at least 1")
    if threads:
        torch.set_num_threads(int(threads))
    check_names(map_path, out_dir, structure)
    if out_dir is not None:
        check_not_another_maps_folder(map_path, Path(out_dir))
    residue_model = ResidueModel.read(structure) if structure is not None else None
    members, is_default = resolve_models(model)
    for member in members:
        check_checkpoint_metadata(member)
    checkpoint = members[0]
    device = select_device(options.device, bf16=options.bf16, cpu_bf16=options.cpu_bf16)
    resolution_info = resolution_summary(map_path, resolution, checkpoint.metadata)
    if resolution_info["warning"]:
        # stacklevel 3: segment_map's caller (claims_folder's wrapper)
        warnings.warn(resolution_info["warning"], ResolutionWarning, stacklevel=3)
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
    return Request(members, is_default, device, resolution_info, level, level_source, residue_model)
