"""How `cryosse segment` runs the network: its options, the device, the memory budget and the
tiles it implies. None of these change the prediction beyond float rounding (bf16)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch

from cryosse.io.density import memory_budget
from cryosse.learn.device import Device, DeviceError, choose_device
from cryosse.learn.unet import UNet3D
from cryosse.segment.errors import SegmentError
from cryosse.segment.tiling import (
    TilePlan,
    default_overlap,
    plan_tiles,
    side_for_memory,
    tile_memory,
)

MAX_TILE_SIDE = 256
# The network's share of what this process may use on a CPU, and its ceiling
CPU_BUDGET_FRACTION = 0.25
CPU_BUDGET_CAP = 8 * 2**30


@dataclass(frozen=True)
class SegmentOptions:
    """How segment_map runs the network (the execution, not what it writes).

    Args:
        device: "auto" (CUDA when available), "cpu" or "cuda".
        bf16: bf16 autocast on a GPU.
        cpu_bf16: bf16 autocast on a CPU too; refused where this CPU would run it far slower
            than fp32.
        channels_last: the channels_last_3d memory layout for the network.
        threads: CPU threads for torch (None: torch's default).
        tile_size: tile side in voxels (None: the largest within `max_memory`, at most 256).
        overlap: tile overlap in voxels (None: tiling.default_overlap, twice the receptive
            field's half-width).
        max_memory: bytes for the network's working set (None: tile_budget).
        batch_size: tiles per forward (None: as many as the budget holds, at most 16, on a GPU;
            1 on a CPU).
        progress: a progress bar over the tiles.
        flips: test-time flips: each tile's probabilities are the mean over its 8 mirror images
            (cryosse.learn.ensemble.MirrorMean; 8 times the forward time).
    """

    device: str = "auto"
    bf16: bool = True
    cpu_bf16: bool = False
    channels_last: bool = False
    threads: int | None = None
    tile_size: int | None = None
    overlap: int | None = None
    max_memory: int | None = None
    batch_size: int | None = None
    progress: bool = False
    flips: bool = False


@dataclass(frozen=True)
class Tiling:
    """The tiles of one map, the memory budget they were sized for and one batch's estimate."""

    plan: TilePlan
    budget: int
    tile_bytes: int

    def describe(self) -> dict[str, Any]:
        """summary.json's "tiling"."""
        return {
            **self.plan.describe(),
            "memory_budget_bytes": self.budget,
            "estimated_tile_bytes": self.tile_bytes * self.plan.batch_size,
        }


def select_device(name: str, bf16: bool = True, cpu_bf16: bool = False) -> Device:
    """The one device picker (cryosse.learn.device), refusing bf16 where this CPU would run it far
    slower than fp32."""
    try:
        return choose_device(name, bf16, cpu_bf16, refuse_slow_cpu_bf16=True)
    except DeviceError as error:
        raise SegmentError(f"--device {name} / --cpu-bf16: {error}") from error


def tile_budget(device: Device) -> int:
    """The network's working set: half the free GPU memory; on a CPU a quarter of what this
    process may use (cryosse.io.density.memory_budget: the available memory, the address-space,
    cgroup and SLURM limits), at most 8 GiB."""
    if device.torch_device.type == "cuda":
        free, _ = torch.cuda.mem_get_info(device.torch_device)
        return int(free * 0.5)
    return min(CPU_BUDGET_CAP, memory_budget(fraction=CPU_BUDGET_FRACTION))


def plan_tiling(
    net: UNet3D, shape: tuple[int, int, int], device: Device, options: SegmentOptions
) -> Tiling:
    """The tiles over the network's input (side from the memory budget unless given)."""
    overlap = default_overlap(net) if options.overlap is None else int(options.overlap)
    if overlap < 0:
        raise SegmentError("--overlap must be >= 0")
    budget = tile_budget(device) if options.max_memory is None else int(options.max_memory)
    side = (
        int(options.tile_size)
        if options.tile_size is not None
        else side_for_memory(net, budget, device.autocast, MAX_TILE_SIDE)
    )
    if side < net.multiple:
        raise SegmentError(f"--tile-size {side}: at least {net.multiple}")
    try:
        plan = plan_tiles(shape, net.multiple, side, overlap)
    except ValueError as exc:
        raise SegmentError(str(exc)) from exc
    tile_bytes = tile_memory(net, plan.tile_shape, device.autocast)
    batch_size = options.batch_size
    if batch_size is not None and int(batch_size) < 1:
        raise SegmentError(f"--batch-size {batch_size}: at least 1")
    if batch_size is None:
        batch_size = (
            max(1, min(16, budget // max(1, tile_bytes)))
            if device.torch_device.type == "cuda"
            else 1
        )
    plan = TilePlan(plan.axes, plan.overlap, max(1, min(int(batch_size), plan.n_tiles)))
    return Tiling(plan, budget, tile_bytes)
