"""The memory a training run's settings imply, checked before anything is allocated.

Absurd settings (a crop or a network too large for the job) end in one line before training
starts, not minutes later in an out-of-memory kill. The estimate comes from sample.json alone
and from the bytes autograd saves for one forward pass, measured on torch's meta device.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import torch

from cryosse.core.config import ModelSettings
from cryosse.io.density import memory_budget
from cryosse.learn.device import Device
from cryosse.learn.settings import TrainSettings
from cryosse.learn.unet import build_model

# Calibration of the memory estimate (check_training_memory) against the peak RSS of one CPU
# step, AMD EPYC, torch 2.13: a training step took 1.04-1.61 x the bytes autograd saves (base
# 16-64, depth 2-3, batch 1-2, crops of 64), an eval-mode forward 0.36-0.42 x (boxes of 64-128).
# Estimates: 1.1 x saved + 16 B per parameter (weights, gradients, two Adam moments) + fixed
# overhead; 0.5 x saved for inference; every loaded box at 15 B per voxel.
_TRAIN_FACTOR = 1.1
_EVAL_FACTOR = 0.5
_BYTES_PER_PARAMETER = 16
_OVERHEAD_BYTES = 200 * 2**20
_BOX_BYTES_PER_VOXEL = 15  # float32 density, int64 labels, bool mask, float16 zone distance


class TrainingMemoryError(ValueError):
    """The settings imply more memory than the job has: refused before training starts."""


def _saved_bytes(model_settings: ModelSettings, shape: tuple[int, ...]) -> tuple[int, int]:
    """Bytes autograd saves for one training-mode forward of a `shape` batch, and the number of
    parameters, measured on torch's meta device (no memory, no arithmetic)."""
    with torch.device("meta"):
        model = build_model(model_settings)
    total = 0

    def pack(tensor: torch.Tensor) -> torch.Tensor:
        nonlocal total
        total += tensor.numel() * tensor.element_size()
        return tensor

    model.train()
    with torch.autograd.graph.saved_tensors_hooks(pack, lambda tensor: tensor):
        model(torch.empty(shape, device="meta"))
    return total, sum(p.numel() for p in model.parameters())


def training_memory(
    model: ModelSettings,
    settings: TrainSettings,
    train_dirs: list[Path],
    val_dirs: list[Path],
    factor: int,
) -> dict[str, int]:
    """The bytes a run's settings imply, from sample.json alone: one training step, the largest
    validation box's forward pass (bordered and padded as predict_box does), the boxes held."""
    multiple = 2**model.depth
    crop = settings.crop_size
    saved, parameters = _saved_bytes(model, (settings.batch_size, 1, crop, crop, crop))
    step = int(_TRAIN_FACTOR * saved) + _BYTES_PER_PARAMETER * parameters
    shapes = {
        d: [
            -(-int(n) // factor)
            for n in json.loads((Path(d) / "sample.json").read_text())["shape_xyz"]
        ]
        for d in [*train_dirs, *val_dirs]
    }
    boxes = sum(math.prod(shape) for shape in shapes.values()) * _BOX_BYTES_PER_VOXEL
    forward = 0
    if val_dirs:
        with torch.device("meta"):
            border = build_model(model).context_border
        largest = max((shapes[d] for d in val_dirs), key=math.prod)
        padded = tuple(-(-(n + 2 * border) // multiple) * multiple for n in largest[::-1])
        forward = int(_EVAL_FACTOR * _saved_bytes(model, (1, 1, *padded))[0])
    return {
        "step": step,
        "validation": forward,
        "boxes": boxes,
        "total": max(step, forward) + boxes + _OVERHEAD_BYTES,
    }


def check_training_memory(
    model: ModelSettings,
    settings: TrainSettings,
    train_dirs: list[Path],
    val_dirs: list[Path],
    factor: int,
    device: Device,
    budget: int | None = None,
) -> dict[str, int]:
    """Refuse (TrainingMemoryError, one line) settings whose memory (training_memory) exceeds
    the budget: the job's memory (cryosse.io.density.memory_budget), or on a GPU its free
    memory for the network's part. A crop that is not a multiple of 2**depth is refused too."""
    depth = model.depth
    if settings.crop_size % 2**depth:
        raise TrainingMemoryError(
            f"training.crop_size {settings.crop_size} is not a multiple of 2**model.depth "
            f"({2**depth})"
        )
    need = training_memory(model, settings, train_dirs, val_dirs, factor)
    network = max(need["step"], need["validation"])
    if device.torch_device.type == "cuda" and budget is None:
        free, _ = torch.cuda.mem_get_info(device.torch_device)
        checks = [("GPU", network, int(free)), ("host", need["boxes"], memory_budget())]
    else:
        host = memory_budget() if budget is None else budget
        checks = [("host", need["total"], host)]
    for where, bytes_needed, available in checks:
        if bytes_needed > available:
            raise TrainingMemoryError(
                f"these settings need about {bytes_needed / 1e9:.1f} GB of {where} memory, "
                f"{available / 1e9:.1f} GB available: a step of {settings.batch_size} crop(s) of "
                f"{settings.crop_size}³ through model base {model.base} depth "
                f"{depth} {need['step'] / 1e9:.1f} GB, the largest validation box "
                f"{need['validation'] / 1e9:.1f} GB, the samples {need['boxes'] / 1e9:.1f} GB; "
                "lower training.crop_size / batch_size or model.base / depth"
            )
    return need
