"""The config's `training` section as one run reads it (`TrainSettings`), and its device."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from cryosse.core.config import settings_from
from cryosse.core.run_grid import GRID_KEYS
from cryosse.learn.device import Choice, Device, choose_device

# Keys of the `training` section that are not TrainSettings: the grid (cryosse.core.run_grid; a
# run's seed is its RunSpec's) and the resources each job asks a scheduler for (rules/learn.smk).
TRAINING_GRID_AND_RESOURCES = (*GRID_KEYS, "gpu", "mem_mb", "runtime")


@dataclass(frozen=True)
class TrainSettings:
    epochs: int = 100
    patience: int = 10
    steps_per_epoch: int | None = None  # None: one crop per training sample
    batch_size: int = 1
    crop_size: int = 64
    weight_decay: float = 0.0
    device: str = "auto"  # auto, cpu, cuda
    bf16: bool = True  # autocast on GPU; on CPU only if cpu_bf16
    cpu_bf16: Choice = "auto"  # auto: where the CPU has bf16 convolutions (cryosse.learn.device)
    channels_last: Choice = "auto"  # auto: with bf16 autocast
    # He-lab-like zoning: with this probability a training crop's density is zeroed farther than
    # a radius drawn from zone_radius (Å) from the central chain's Cα atoms
    zone_probability: float = 0.0
    zone_radius: tuple[float, float] = (5.0, 8.0)
    # contrast: with this probability a crop's normalised density is raised to a power drawn
    # log-uniformly from contrast_power (a monotone change of contrast that keeps 0 and 1), so
    # the network cannot lean on the simulation's exact density profile
    contrast_probability: float = 0.0
    contrast_power: tuple[float, float] = (0.7, 1.5)
    snapshot_every: int = 0  # keep the weights of every n-th epoch (learning curves); 0: none
    compile: bool = False
    cudnn_benchmark: bool = False
    threads: int | None = None

    @classmethod
    def from_config(cls, training: dict[str, Any]) -> TrainSettings:
        """From the config's `training` section; the grid's keys are read by
        cryosse.core.run_grid and the job's resources by the rules."""
        return settings_from(
            cls,
            training,
            ignore=TRAINING_GRID_AND_RESOURCES,
            zone_radius=lambda radii: tuple(float(r) for r in radii),
            contrast_power=lambda powers: tuple(float(x) for x in powers),
        )


def pick_device(settings: TrainSettings) -> Device:
    """`device.choose_device` for the training settings (the one picker; this only unpacks)."""
    return choose_device(settings.device, settings.bf16, settings.cpu_bf16, settings.channels_last)
