"""summary.json of `cryosse segment`: the input, region, grid, helix and sheet volumes,
resolution, model, device, tiling and timings of one run."""

from __future__ import annotations

import math
import resource
import time
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from cryosse import __version__
from cryosse.core.classes import HELIX, SHEET
from cryosse.learn.checkpoint import SAMPLE_VOXEL_SIZE, Checkpoint
from cryosse.learn.device import Device
from cryosse.segment.checks import Region
from cryosse.segment.empty_space import EMPTY_RADIUS_A
from cryosse.segment.execution import Tiling

_Z_SLAB = 16  # planes counted at a time: no map-sized temporary


@dataclass(frozen=True)
class RunFacts:
    """What one segmentation ran on and with, for its summary."""

    input: dict[str, Any]  # path, geometry and masking of the input map
    box: Region | None  # the --box region, None for the whole map
    shape_xyz: tuple[int, int, int]  # the 1 Å grid
    origin: np.ndarray  # xyz Å of the 1 Å grid's first voxel
    members: tuple[Checkpoint, ...]  # the checkpoint, or every one of a seed ensemble
    is_default: bool  # the packaged default model
    on_input_grid: bool
    resolution: dict[str, Any]  # cryosse.segment.resolution.resolution_summary
    device: Device
    channels_last: bool
    flips: bool  # test-time flips (SegmentOptions.flips)
    tiling: Tiling
    empty_voxels: int  # set to background: no density near (cryosse.segment.empty_space)


def build_summary(
    facts: RunFacts, labels: np.ndarray, confident: dict[str, Any] | None
) -> dict[str, Any]:
    """summary.json's content, before the residues, files and timings are added; `confident`:
    confident_summary's counts."""
    counts = {
        name: int(np.count_nonzero(labels == value))
        for name, value in (("helix", HELIX), ("sheet", SHEET))
    }
    region = facts.box
    step = SAMPLE_VOXEL_SIZE
    return {
        "cryosse": __version__,
        "input": facts.input,
        "box": None
        if region is None
        else {
            "first_xyz": list(region.first),
            "last_xyz": list(region.last),
            "convention": "input grid indices, 0-based, both ends included (ChimeraX region)",
        },
        "grid": {
            "shape_xyz": list(facts.shape_xyz),
            "origin_xyz": facts.origin.tolist(),
            "voxel_size": step,
            "network_voxel_size": float(facts.members[0].metadata["voxel_size"]),
            "context_border_voxels": facts.members[0].model.context_border,
        },
        "outputs_on": "input grid" if facts.on_input_grid else f"{step:g} Å grid",
        "helix": {"voxels": counts["helix"], "volume_A3": counts["helix"] * step**3},
        "sheet": {"voxels": counts["sheet"], "volume_A3": counts["sheet"] * step**3},
        "classes": "argmax of background / helix / sheet probabilities",
        "resolution": facts.resolution,
        "model": _model_summary(facts.members[0], facts.is_default),
        **(
            {}
            if len(facts.members) == 1
            else {"ensemble": [{"path": str(c.path), "sha256": c.sha256} for c in facts.members]}
        ),
        "device": {
            "type": facts.device.torch_device.type,
            "bf16": facts.device.autocast,
            "channels_last": facts.channels_last,
            "test_time_flips": facts.flips,
            "threads": torch.get_num_threads(),
        },
        "tiling": facts.tiling.describe(),
        "empty_space": {
            "rule": f"no positive density within {EMPTY_RADIUS_A:g} Å: background (P = 0 "
            "helix/sheet)",
            "voxels": facts.empty_voxels,
        },
        **({} if confident is None else {"confident": confident}),
    }


def confident_summary(
    helix: np.ndarray, sheet: np.ndarray, threshold: float | None
) -> dict[str, Any] | None:
    """summary.json's "confident": voxels with P >= threshold, counted a z-slab at a time (None
    without a threshold)."""
    if threshold is None:
        return None
    return {
        "threshold": threshold,
        **{
            cls: int(
                sum(
                    np.count_nonzero(p[z : z + _Z_SLAB] >= threshold)
                    for z in range(0, p.shape[0], _Z_SLAB)
                )
            )
            for cls, p in (("helix_voxels", helix), ("sheet_voxels", sheet))
        },
    }


def record_timings(summary: dict[str, Any], timings: dict[str, float], started: float) -> None:
    """The steps' seconds, the total since `started` and the peak memory, into the summary."""
    timings["total"] = time.perf_counter() - started
    summary["timings_s"] = {k: round(v, 3) for k, v in timings.items()}
    summary["peak_rss_mb"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)


def json_safe(value: Any) -> Any:
    """`value` with non-finite floats as None and numpy scalars as Python ones."""
    if isinstance(value, dict):
        return {str(k): json_safe(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [json_safe(v) for v in value]
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
