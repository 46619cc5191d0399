"""Training samples as network input: the box, its central mask, crops, symmetries, zoning.

A `Box` is a sample normalised as every network input is (cryosse.learn.network_input), with
its labels and central-box mask; `coarsen_box` puts it on a coarser network grid.

Crops: a box larger than the crop is cut at a random position that keeps at least one voxel of
the central box; a smaller one is padded. The central-box mask travels with the crop, so the
loss only sees central voxels. Augmentation: one of the 48 axis-aligned rotations/reflections
(an axis permutation and a flip per axis), applied alike to density, labels and mask (labels
of secondary structure do not depend on orientation). Zoning: the density farther than a radius
from the central chain set to empty map, as the He-lab component maps are zoned.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
from scipy import ndimage

from cryosse.io.sample import Sample, read_sample
from cryosse.learn.network_input import (
    block_view,
    coarsen_density,
    coarsen_labels,
    coarsen_mask,
    normalize_density,
    pad_to,
)

SYMMETRIES = [
    (perm, flips)
    for perm in itertools.permutations(range(3))
    for flips in itertools.product((False, True), repeat=3)
]  # 6 × 8 = 48


@dataclass
class Box:
    """One training sample ready for the network: normalised density, labels, central mask
    ([z, y, x]); the grid region it was cut from is `crop.CropBox`."""

    sample_id: str
    density: np.ndarray  # float32, normalised
    labels: np.ndarray  # int64: 0 background, 1 helix, 2 sheet
    central: np.ndarray  # bool
    zero_level: float  # the normalised value of zero density (for padding)
    # Å from each voxel to the nearest Cα of the central chain (float16), for zoning
    zone_distance: np.ndarray | None = None


def load_box(sample_dir: str | Path, zone: bool = False) -> Box:
    """A sample as network input; `zone`: also the distance map that `zoned` needs."""
    sample = read_sample(sample_dir)
    density, zero_level = normalize_density(sample.density)
    return Box(
        sample.meta.sample_id,
        density,
        sample.labels.astype(np.int64),
        sample.meta.central_mask(sample.density.shape),
        zero_level,
        chain_distance(sample) if zone else None,
    )


def chain_distance(sample: Sample) -> np.ndarray:
    """Å from every voxel to the nearest Cα of the sample's central chain (float16)."""
    voxel = float(sample.meta.voxel_size)
    origin = np.array(sample.meta.origin, dtype=np.float64)
    # annotated: numpy's stubs type ones() of a tuple[Any, ...] shape as 0-d (shape ())
    seeds: np.ndarray = np.ones(sample.density.shape, dtype=bool)
    for row in sample.residues:
        if row["central_chain"] != "1":
            continue
        xyz = np.array([float(row[f"ca_{a}"]) for a in "xyz"])
        index = np.rint((xyz - origin) / voxel).astype(int)[::-1]  # zyx
        if all(0 <= i < n for i, n in zip(index, seeds.shape, strict=True)):
            seeds[tuple(index)] = False
    if seeds.all():
        return np.full(seeds.shape, np.inf, dtype=np.float16)
    return (ndimage.distance_transform_edt(seeds) * voxel).astype(np.float16)


def zoned(box: Box, radius: float) -> Box:
    """The box with the density farther than `radius` Å from every Cα of the central chain set
    to empty map, as the He-lab component maps are zoned around their chain (75-80 % zeros)."""
    if box.zone_distance is None:
        raise ValueError(f"{box.sample_id}: loaded without its zone distances")
    density = np.where(box.zone_distance <= radius, box.density, np.float32(box.zero_level))
    return replace(box, density=density.astype(np.float32))


def contrasted(density: np.ndarray, power: float) -> np.ndarray:
    """Normalised density (≥ 0, the 99th percentile of its positive voxels at 1) raised to
    `power`: empty map stays empty, 1 stays 1, the order of the voxels is kept."""
    return np.power(density, np.float32(power), dtype=np.float32)


def random_crop(
    box: Box, size: int, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(density, labels, mask) of a size³ crop holding at least one central voxel."""
    shape = tuple(max(n, size) for n in box.density.shape)
    density = pad_to(box.density, shape, box.zero_level)
    labels = pad_to(box.labels, shape, 0)
    mask = pad_to(box.central, shape, False)
    central = np.argwhere(mask)
    anchor = central[rng.integers(len(central))] if len(central) else np.zeros(3, dtype=int)
    start = [
        int(np.clip(a - rng.integers(size), 0, n - size))
        for a, n in zip(anchor, shape, strict=True)
    ]
    window = tuple(slice(s, s + size) for s in start)
    return density[window], labels[window], mask[window]


def apply_symmetry(array: np.ndarray, index: int) -> np.ndarray:
    """One of the 48 axis-aligned rotations/reflections of a 3-D array (index 0 = identity)."""
    perm, flips = SYMMETRIES[index]
    out = np.transpose(array, perm)
    axes = tuple(axis for axis, flip in enumerate(flips) if flip)
    return np.ascontiguousarray(np.flip(out, axes) if axes else out)


def coarsen_box(box: Box, factor: int) -> Box:
    """The box on the network's grid (`factor` sample voxels per network voxel and axis; see
    cryosse.learn.network_input)."""
    if factor == 1:
        return box
    zone = None
    if box.zone_distance is not None:
        zone = block_view(box.zone_distance, factor, np.inf).min(axis=(1, 3, 5))
    return Box(
        box.sample_id,
        coarsen_density(box.density, factor),
        coarsen_labels(box.labels, factor),
        coarsen_mask(box.central, factor),
        box.zero_level,
        zone,
    )
