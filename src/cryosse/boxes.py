"""Network input from a sample box: normalisation, central-box mask, crops, symmetries, padding.

Normalisation (the same function at training and at inference, see `normalize_density`):
    x = ρ / max(ρ); x < 0 → 0; then x → (x − mean(x)) / (std(x) + 1e-7) over the whole box,
    zeros included. This is DeepSSETracer 1.1's inference recipe (methods.md §3.2); its 1.0
    training loader used mean/std of the positive voxels instead, an inconsistency we do not
    copy. Padding added later (crops larger than a box, sides rounded up to a multiple of
    2**depth) takes the normalised value of zero density, so padding looks like empty map.

Crops: a box larger than the crop is cut at a random position that keeps at least one voxel of
the central box; a smaller one is padded. The central-box mask travels with the crop, so the
loss only sees central voxels. Augmentation: one of the 48 axis-aligned rotations/reflections
(an axis permutation and a flip per axis), applied alike to density, labels and mask (labels
of secondary structure do not depend on orientation).
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from cryosse.sample import read_sample

_STD_EPSILON = 1e-7
# Recorded in every checkpoint (cryosse.checkpoint): bump the version whenever
# `normalize_density` changes, so a model trained on the old inputs is refused at inference.
NORMALIZATION = "max_clip_zscore"
NORMALIZATION_VERSION = 1
SYMMETRIES = [
    (perm, flips)
    for perm in itertools.permutations(range(3))
    for flips in itertools.product((False, True), repeat=3)
]  # 6 × 8 = 48


@dataclass
class Box:
    """One sample ready for the network: normalised density, labels, central mask ([z, y, x])."""

    sample_id: str
    density: np.ndarray  # float32, normalised
    labels: np.ndarray  # int64: 0 background, 1 helix, 2 sheet
    central: np.ndarray  # bool
    zero_level: float  # the normalised value of zero density (for padding)


def normalize_density(density: np.ndarray) -> tuple[np.ndarray, float]:
    """(normalised float32 array, normalised value of zero density); see the module docstring."""
    params = normalization_params(density)
    return apply_normalization(density, params), params.zero_level


# float64 arithmetic a slab of ~4 M voxels at a time: a whole large map (cryosse segment) is
# normalised without several float64 copies of it.
_CHUNK_VOXELS = 1 << 22


@dataclass(frozen=True)
class NormalizationParams:
    peak: float  # max(ρ); x = ρ / peak (all zero if peak <= 0), negatives → 0
    mean: float  # mean of x over every voxel
    scale: float  # 1 / (std(x) + 1e-7)

    @property
    def zero_level(self) -> float:
        """The normalised value of zero density (the padding value)."""
        return float(-self.mean * self.scale)


def _chunks(density: np.ndarray) -> list[np.ndarray]:
    flat = density.reshape(-1)
    return [flat[i : i + _CHUNK_VOXELS] for i in range(0, flat.size, _CHUNK_VOXELS)]


def _clipped(chunk: np.ndarray, peak: float) -> np.ndarray:
    if peak <= 0:
        return np.zeros(chunk.shape, dtype=np.float64)
    x = chunk.astype(np.float64) / peak
    x[x < 0] = 0.0
    return x


def normalization_params(density: np.ndarray) -> NormalizationParams:
    """Peak, mean and scale of `normalize_density` over the whole array (two passes, as std)."""
    n = density.size
    peak = float(density.max()) if n else 0.0
    chunks = _chunks(np.ascontiguousarray(density))
    mean = sum(float(_clipped(c, peak).sum()) for c in chunks) / n if n else 0.0
    var = sum(float(np.square(_clipped(c, peak) - mean).sum()) for c in chunks) / n if n else 0.0
    return NormalizationParams(peak, mean, 1.0 / (float(np.sqrt(var)) + _STD_EPSILON))


def apply_normalization(density: np.ndarray, params: NormalizationParams) -> np.ndarray:
    """(clip(ρ / peak) − mean) · scale as float32, computed slab by slab."""
    source = np.ascontiguousarray(density)
    out = np.empty(source.shape, dtype=np.float32)
    flat = out.reshape(-1)
    start = 0
    for chunk in _chunks(source):
        flat[start : start + chunk.size] = (_clipped(chunk, params.peak) - params.mean) * \
            params.scale  # fmt: skip
        start += chunk.size
    return out


def central_mask(meta: dict, shape_zyx: tuple[int, ...]) -> np.ndarray:
    mask = np.zeros(shape_zyx, dtype=bool)
    (x0, y0, z0), (x1, y1, z1) = meta["central_start_xyz"], meta["central_stop_xyz"]
    mask[z0:z1, y0:y1, x0:x1] = True
    return mask


def load_box(sample_dir: str | Path) -> Box:
    sample = read_sample(sample_dir)
    density, zero_level = normalize_density(sample.density)
    return Box(
        sample.meta["sample_id"],
        density,
        sample.labels.astype(np.int64),
        central_mask(sample.meta, sample.density.shape),
        zero_level,
    )


def pad_to(array: np.ndarray, shape: tuple[int, ...], value: float) -> np.ndarray:
    """Pad at the high end of each axis up to `shape`."""
    widths = [(0, max(0, s - n)) for n, s in zip(array.shape, shape, strict=True)]
    return np.pad(array, widths, constant_values=value)


def round_up(shape: tuple[int, ...], multiple: int) -> tuple[int, ...]:
    return tuple(-(-n // multiple) * multiple for n in shape)


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
