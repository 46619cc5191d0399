"""The network-input contract: how a density becomes what the network sees, and back.

What every checkpoint versions (cryosse.learn.checkpoint records NORMALIZATION and its version)
and every prediction path imports (training, evaluation, `cryosse segment`), apart from the
training-only augmentation of cryosse.learn.augment.

Normalisation (the same function at training and at inference, see `normalize_density`):
    x = max(ρ, 0) / q, q = the 99th percentile of the strictly positive voxels (all of them, or
    an evenly strided sample of a very large map). Zero density stays exactly zero, and zeros
    do not enter q, so the input does not change when a map is padded with empty space, zoned
    or masked, and hardly when it is cropped: real He-lab component maps are 75-80 % zeros,
    simulated boxes mostly are not, and the version-1 z-score over the whole box (zeros
    included, DeepSSETracer 1.1's inference recipe) made the same molecule look different in
    each (10 voxels of zero padding changed the predicted sheet volume of EMD-3488 by 77 %).
    Padding added later (crops larger than a box, sides rounded up to a multiple of 2**depth,
    the empty border around a map at inference) takes the normalised value of zero density, 0.

Grids: the network may work on a coarser grid than the 1 Å samples: an integer factor f, so that
every network voxel is one f³ block of sample voxels (cryosse.learn.checkpoint records the grid
spacing). Density: the block mean (a box filter, then sampling: with f = 2, 2 Å voxels are
still finer than the 2.5 Å Nyquist spacing of a 5 Å map). Labels: the block's most frequent
class, a tie going to the rarer class (sheet, then helix). Central mask: half the block or
more. Probabilities come back to the sample grid by trilinear interpolation between block
centres (`refine`), so evaluation stays on the 1 Å labels.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

# Recorded in every checkpoint (cryosse.learn.checkpoint): bump the version whenever
# `normalize_density` changes, so a model trained on the old inputs is refused at inference.
NORMALIZATION = "positive_quantile"
NORMALIZATION_VERSION = 2
QUANTILE = 99.0  # percent, of the strictly positive voxels
# above this many voxels, q comes from an evenly strided sample (bounded memory and time)
_QUANTILE_SAMPLE = 1 << 23


def normalize_density(density: np.ndarray) -> tuple[np.ndarray, float]:
    """(normalised float32 array, normalised value of zero density); see the module docstring."""
    params = normalization_params(density)
    return apply_normalization(density, params), params.zero_level


# float32 arithmetic a slab of ~4 M voxels at a time: a whole large map (cryosse segment) is
# normalised without a second full-size temporary.
_CHUNK_VOXELS = 1 << 22


@dataclass(frozen=True)
class NormalizationParams:
    scale: float  # 1 / q (0 when the map has no positive voxel)

    @property
    def zero_level(self) -> float:
        """The normalised value of zero density (the padding value): always 0."""
        return 0.0


def normalization_params(density: np.ndarray) -> NormalizationParams:
    """1 / (99th percentile of the positive voxels) of `density`."""
    flat = np.ascontiguousarray(density).reshape(-1)
    if flat.size > _QUANTILE_SAMPLE:
        flat = flat[:: -(-flat.size // _QUANTILE_SAMPLE)]
    positive = flat[flat > 0]
    if positive.size == 0:
        return NormalizationParams(0.0)
    q = float(np.percentile(positive.astype(np.float64), QUANTILE))
    return NormalizationParams(1.0 / q if q > 0 else 0.0)


def apply_normalization(density: np.ndarray, params: NormalizationParams) -> np.ndarray:
    """max(ρ, 0) · scale as float32, computed slab by slab."""
    source = np.ascontiguousarray(density, dtype=np.float32)
    out = np.empty(source.shape, dtype=np.float32)
    flat_in, flat_out = source.reshape(-1), out.reshape(-1)
    scale = np.float32(params.scale)
    for start in range(0, flat_in.size, _CHUNK_VOXELS):
        chunk = flat_in[start : start + _CHUNK_VOXELS]
        np.multiply(np.maximum(chunk, 0), scale, out=flat_out[start : start + _CHUNK_VOXELS])
    return out


def pad_to(array: np.ndarray, shape: tuple[int, ...], value: float) -> np.ndarray:
    """Pad at the high end of each axis up to `shape`."""
    widths = [(0, max(0, s - n)) for n, s in zip(array.shape, shape, strict=True)]
    return np.pad(array, widths, constant_values=value)


def round_up(shape: tuple[int, ...], multiple: int) -> tuple[int, ...]:
    return tuple(-(-n // multiple) * multiple for n in shape)


def block_view(array: np.ndarray, factor: int, fill: float | int | bool) -> np.ndarray:
    """View of `array` padded at the high end to a multiple of `factor`, as [z, f, y, f, x, f]."""
    padded = pad_to(array, round_up(array.shape, factor), fill)
    z, y, x = (n // factor for n in padded.shape)
    return padded.reshape(z, factor, y, factor, x, factor)


def coarsen_density(density: np.ndarray, factor: int) -> np.ndarray:
    """Block means of a normalised density (pads with 0, the normalised value of no density)."""
    if factor == 1:
        return density
    return (
        block_view(density, factor, 0.0).mean(axis=(1, 3, 5), dtype=np.float64).astype(np.float32)
    )


def coarsen_labels(labels: np.ndarray, factor: int) -> np.ndarray:
    if factor == 1:
        return labels
    blocks = block_view(labels, factor, 0)
    counts = np.stack([(blocks == k).sum(axis=(1, 3, 5)) for k in range(3)]).astype(np.float32)
    counts += np.array([0.0, 0.1, 0.2], dtype=np.float32)[:, None, None, None]  # ties
    return counts.argmax(axis=0).astype(labels.dtype)


def coarsen_mask(mask: np.ndarray, factor: int) -> np.ndarray:
    if factor == 1:
        return mask
    return block_view(mask, factor, False).mean(axis=(1, 3, 5)) >= 0.5


def refine(coarse: np.ndarray, factor: int, shape: tuple[int, ...]) -> np.ndarray:
    """Trilinear interpolation of `coarse` [..., z, y, x] (block centres) onto the fine grid of
    `shape` (its last three axes): fine voxel i lies at (i + ½)/f − ½ in coarse voxels, and
    beyond the outermost block centres the edge value is kept. Separable: one axis at a time."""
    if factor == 1:
        return coarse[..., : shape[-3], : shape[-2], : shape[-1]]
    out = coarse.astype(np.float32, copy=False)
    lead = out.ndim - 3
    for axis, n in enumerate(shape[-3:]):
        position = np.clip((np.arange(n) + 0.5) / factor - 0.5, 0, out.shape[lead + axis] - 1)
        low = np.floor(position).astype(int)
        high = np.minimum(low + 1, out.shape[lead + axis] - 1)
        weight = (position - low).astype(np.float32)
        view = [1] * out.ndim
        view[lead + axis] = n
        weight = weight.reshape(view)
        out = (
            np.take(out, low, axis=lead + axis) * (1 - weight)
            + np.take(out, high, axis=lead + axis) * weight
        )
    return out
