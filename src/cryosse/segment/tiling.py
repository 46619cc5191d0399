"""Tiled prediction of a whole normalised map with overlapping, smoothly blended tiles.

Definitions (all arrays [z, y, x], sizes in voxels of the 1 Å grid):

    padded map   the map padded at the high end of each axis to a multiple of the network's
                 `multiple` (2**depth) with the normalised value of zero density — exactly what
                 the whole-map prediction (learn.predict.predict_box) feeds the network.
    tiles        a Cartesian grid of equal boxes over the padded map. Per axis: one tile if the
                 axis fits in the tile side, else k tiles, the fewest that cover the axis with
                 at least `overlap` voxels shared by neighbours, with the side shrunk to the
                 smallest multiple of `multiple` that still does (less padding waste), starts
                 spread evenly and kept on multiples of `multiple` so every tile sees the same
                 pooling grid as the whole map.
    overlap      default 2 × ceil(receptive field / 2) voxels (44 for the DeepSSETracer net,
                 receptive field 44 voxels): every voxel is at least half a receptive field
                 inside some tile, where the tile's prediction equals the whole-map one.
    window       per tile and axis, w(d) = ε + (1 − ε)·sin²(π/2 · clip((d + ½ − h)/(o − h), 0, 1)),
                 d = distance (voxels) to a tile edge that lies inside the map, o = overlap,
                 h = ⌊o/2⌋: a tile's prediction within half a receptive field of its cut edge
                 (where the cut changes it) gets the floor weight, then the weight rises to 1 at
                 the overlap; in an overlap of o ≥ receptive field, one of two neighbours always
                 holds the voxel at least h inside. Edges on the map border get no taper (the
                 whole-map pass sees the same border). ε = 1e-4: a weight is never exactly zero.
                 The 3-D weight is the product of the three axes.
    blend        p(v) = Σ_t w_t(v) p_t(v) / Σ_t w_t(v). Because the tiles form a Cartesian grid
                 and the window is separable, Σ_t w_t(v) is the product of three per-axis sums:
                 no weight volume is stored. Only the helix and sheet probabilities are
                 accumulated (background = 1 − helix − sheet, as each tile's softmax sums to 1).

Memory: the network's working set is bounded by the tile (and batch) size, whatever the map
size (`tile_memory` estimates it from a measured constant, see BYTES_PER_VOXEL_PER_BASE). The
map-sized arrays are the normalised density (4 B per map voxel) and the two float32 accumulators
(2 × 4 B). They are not all resident at once: the density may come as `ZSlabs`, whose z-slabs
are freed as soon as the z-major tile order has passed them, and the accumulators are
zero-allocated (calloc: a page takes memory when a tile first writes to it), so they fill up
along z as the input empties. Peak: 8 B per map voxel + 4 B per voxel of one tile row's band
(tile side × the map's y × x), on top of the tile's working set.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Iterator
from dataclasses import dataclass, field

import numpy as np
import torch
from torch import nn
from tqdm import tqdm

from cryosse.learn.device import Device
from cryosse.learn.network_input import apply_normalization, coarsen_density, normalization_params
from cryosse.learn.unet import UNet3D

WINDOW_FLOOR = 1e-4
_NORMALISE_SLAB = 16  # planes normalised at a time: bounds the temporaries
# Peak bytes per tile voxel of one eval-mode forward (cryosse.learn.slab_forward.SlabForward),
# per unit of `base`, in fp32 on a CPU (measured: the shipped base-16 model, one 136³ tile,
# 420-460 MiB over the process start ≈ 11 × base B; a whole-volume pass took 1186 MiB,
# 29 × base); bf16 activations take about half. The estimate only sizes tiles: it is not a
# hard limit.
BYTES_PER_VOXEL_PER_BASE = 12


def default_overlap(model: UNet3D) -> int:
    """Twice the receptive field's half-width, rounded up to the network's multiple."""
    return _round_up(2 * math.ceil(model.receptive_field / 2), model.multiple)


def _round_up(n: int, multiple: int) -> int:
    return -(-n // multiple) * multiple


def tile_memory(model: UNet3D, tile_shape: tuple[int, int, int], bf16: bool = False) -> int:
    """Estimated peak bytes of one tile's forward pass (see BYTES_PER_VOXEL_PER_BASE)."""
    base = model.base
    per_voxel = BYTES_PER_VOXEL_PER_BASE * base // (2 if bf16 else 1)
    return int(np.prod(tile_shape)) * per_voxel


def side_for_memory(model: UNet3D, budget: int, bf16: bool = False, cap: int = 256) -> int:
    """The largest cubic tile side (a multiple of model.multiple, ≤ cap) within `budget` bytes."""
    side = _round_up(cap, model.multiple)
    while side > model.multiple and tile_memory(model, (side,) * 3, bf16) > budget:
        side -= model.multiple
    return side


@dataclass(frozen=True)
class AxisPlan:
    length: int  # map voxels along the axis
    padded: int  # length rounded up to the network's multiple
    side: int  # tile side along the axis
    starts: tuple[int, ...]

    def window(self, index: int, overlap: int) -> np.ndarray:
        """Blending weights of tile `index` along this axis (see the module docstring)."""
        start = self.starts[index]
        d = np.arange(self.side, dtype=np.float64) + 0.5
        taper = np.ones(self.side)
        half = overlap // 2
        ramp = max(1, overlap - half)
        if start > 0:  # low edge inside the map
            taper *= np.sin(np.pi / 2 * np.clip((d - half) / ramp, 0.0, 1.0)) ** 2
        if start + self.side < self.padded:  # high edge inside the map
            taper *= np.sin(np.pi / 2 * np.clip((d[::-1] - half) / ramp, 0.0, 1.0)) ** 2
        return (WINDOW_FLOOR + (1 - WINDOW_FLOOR) * taper).astype(np.float32)

    def weight_sum(self, overlap: int) -> np.ndarray:
        """Σ over this axis's tiles of their windows, on the (unpadded) axis."""
        total = np.zeros(self.padded, dtype=np.float64)
        for index, start in enumerate(self.starts):
            total[start : start + self.side] += self.window(index, overlap)
        return total[: self.length].astype(np.float32)


def plan_axis(length: int, multiple: int, max_side: int | None, overlap: int) -> AxisPlan:
    """The fewest tiles of side ≤ max_side (None: one tile) covering an axis with the overlap."""
    padded = _round_up(length, multiple)
    if max_side is not None:
        max_side = max_side // multiple * multiple  # tiles keep the pooling grid
    if max_side is None or padded <= max_side:
        return AxisPlan(length, padded, padded, (0,))
    if max_side - overlap < multiple:
        raise ValueError(
            f"tile side {max_side} leaves no room beside the overlap of {overlap} voxels: "
            "use a larger tile (or memory budget) or a smaller overlap"
        )
    count = max(2, math.ceil((padded - overlap) / (max_side - overlap)))
    while True:
        side = min(
            max_side, _round_up(math.ceil((padded + (count - 1) * overlap) / count), multiple)
        )
        span = padded - side
        starts = [(j * span // (count - 1)) // multiple * multiple for j in range(count)]
        starts[-1] = span
        if all(side - (b - a) >= overlap for a, b in itertools.pairwise(starts)):
            return AxisPlan(length, padded, side, tuple(starts))
        count += 1


@dataclass(frozen=True)
class TilePlan:
    axes: tuple[AxisPlan, AxisPlan, AxisPlan]  # z, y, x
    overlap: int
    batch_size: int = 1

    @property
    def tile_shape(self) -> tuple[int, int, int]:
        return tuple(a.side for a in self.axes)  # type: ignore[return-value]

    @property
    def n_tiles(self) -> int:
        return int(np.prod([len(a.starts) for a in self.axes]))

    def tiles(self) -> Iterator[tuple[int, int, int]]:
        """Tile indices (iz, iy, ix) in z-major order."""
        for iz in range(len(self.axes[0].starts)):
            for iy in range(len(self.axes[1].starts)):
                for ix in range(len(self.axes[2].starts)):
                    yield iz, iy, ix

    @property
    def computed_voxels(self) -> int:
        return self.n_tiles * int(np.prod(self.tile_shape))

    def describe(self) -> dict[str, object]:
        map_voxels = int(np.prod([a.length for a in self.axes]))
        return {
            "tile_shape_zyx": list(self.tile_shape),
            "overlap": self.overlap,
            "tiles": self.n_tiles,
            "tiles_per_axis_zyx": [len(a.starts) for a in self.axes],
            "starts_zyx": [list(a.starts) for a in self.axes],
            "batch_size": self.batch_size,
            "computed_voxels": self.computed_voxels,
            "computed_per_map_voxel": round(self.computed_voxels / map_voxels, 3),
            "window": f"floor {WINDOW_FLOOR} within overlap/2 of a cut edge, then sin² to 1",
        }


def plan_tiles(
    shape_zyx: tuple[int, ...],
    multiple: int,
    max_side: int | None,
    overlap: int,
    batch_size: int = 1,
) -> TilePlan:
    axes = tuple(plan_axis(n, multiple, max_side, overlap) for n in shape_zyx)
    return TilePlan(axes, overlap, batch_size)  # type: ignore[arg-type]


class ZSlabs:
    """A float32 [z, y, x] volume held as consecutive z-slabs, so that the slabs below a plane
    can be freed once no tile reads them any more (tiles run in z-major order).

    `border`: the volume is seen with that many voxels of empty map (the normalised value of
    zero density, which the caller pre-fills) on every side; `shape` includes them,
    `inner_shape` does not."""

    def __init__(self, slabs: list[np.ndarray], border: int = 0) -> None:
        self._slabs: list[np.ndarray | None] = list(slabs)
        self._bounds = [0, *itertools.accumulate(s.shape[0] for s in slabs)]
        self.border = int(border)
        self.inner_shape: tuple[int, int, int] = (self._bounds[-1], *slabs[0].shape[1:])
        nz, ny, nx = (n + 2 * self.border for n in self.inner_shape)
        self.shape: tuple[int, int, int] = (nz, ny, nx)

    def copy_into(self, out: np.ndarray, z0: int, y0: int, x0: int) -> None:
        """out[:dz, :dy, :dx] = volume[z0 : z0 + dz, y0 : y0 + dy, x0 : x0 + dx] (coordinates of
        the bordered volume), the part that lies inside the inner volume; the rest of `out` is
        left as it is."""
        b = self.border
        lows = [max(0, a - b) for a in (z0, y0, x0)]  # inner coordinates
        corner = (z0, y0, x0)
        highs = [
            min(lim, a - b + n)
            for a, n, lim in zip(corner, out.shape, self.inner_shape, strict=True)
        ]
        if any(lo >= hi for lo, hi in zip(lows, highs, strict=True)):
            return
        (iz0, iy0, ix0), (iz1, iy1, ix1) = lows, highs
        oy, ox = iy0 - (y0 - b), ix0 - (x0 - b)
        for i, slab in enumerate(self._slabs):
            lo, hi = max(iz0, self._bounds[i]), min(iz1, self._bounds[i + 1])
            if lo >= hi:
                continue
            if slab is None:
                raise ValueError(f"planes {lo}-{hi} of the map were already released")
            base, oz = self._bounds[i], lo - (z0 - b)
            out[oz : oz + hi - lo, oy : oy + iy1 - iy0, ox : ox + ix1 - ix0] = slab[
                lo - base : hi - base, iy0:iy1, ix0:ix1
            ]

    def release_below(self, z: int) -> None:
        """Free every slab that lies wholly below plane z (of the bordered volume)."""
        for i in range(len(self._slabs)):
            if self._bounds[i + 1] <= z - self.border:
                self._slabs[i] = None


def network_input(grid: np.ndarray, factor: int, border: int) -> tuple[ZSlabs, float]:
    """normalize_density's values (its parameters over the whole map, then the same
    elementwise formula) on the network's grid (block means of `factor`³ voxels of the 1 Å grid,
    as in training), kept as z-slabs that the tiling frees once it has passed them, with an
    empty border around the map (UNet3D.context_border). Returns them and the zero level."""
    params = normalization_params(grid)
    slab = _NORMALISE_SLAB * factor
    slabs = [
        coarsen_density(apply_normalization(grid[z : z + slab], params), factor)
        for z in range(0, grid.shape[0], slab)
    ]
    return ZSlabs(slabs, border=border), params.zero_level


@dataclass
class TiledPrediction:
    helix: np.ndarray  # float32 [z, y, x], blended probability
    sheet: np.ndarray
    plan: TilePlan
    seconds_forward: float = 0.0
    extra: dict[str, float] = field(default_factory=dict)


def predict_tiled(
    network: nn.Module,
    density: np.ndarray | ZSlabs,
    zero_level: float,
    plan: TilePlan,
    device: Device,
    channels_last: bool = False,
    progress: bool = False,
) -> TiledPrediction:
    """Blend the helix/sheet probabilities of every tile of `plan` over a normalised map;
    `network` maps a batch of tiles to those probabilities
    (cryosse.learn.slab_forward.inference_network). A `ZSlabs` density is released slab by
    slab as the tiles pass it (module docstring)."""
    import time

    source = density if isinstance(density, ZSlabs) else ZSlabs([density])
    shape, border, inner = source.shape, source.border, source.inner_shape
    # np.zeros is calloc: pages take memory only when a tile first writes to them. Only the
    # map itself is accumulated, not its empty border.
    helix = np.zeros(inner, dtype=np.float32)
    sheet = np.zeros(inner, dtype=np.float32)
    tz, ty, tx = plan.tile_shape
    tiles = list(plan.tiles())
    bar = tqdm(total=len(tiles), desc="tiles", unit="tile", disable=not progress)
    forward = 0.0
    network.eval()
    for first in range(0, len(tiles), plan.batch_size):
        batch = tiles[first : first + plan.batch_size]
        inputs = np.full((len(batch), 1, tz, ty, tx), zero_level, dtype=np.float32)
        corners = []
        for b, (iz, iy, ix) in enumerate(batch):
            z0, y0, x0 = (a.starts[i] for a, i in zip(plan.axes, (iz, iy, ix), strict=True))
            source.copy_into(inputs[b, 0], z0, y0, x0)
            corners.append((z0, y0, x0))
        # z-major order: no later tile reads below the next tile's first plane
        following = first + plan.batch_size
        source.release_below(
            plan.axes[0].starts[tiles[following][0]] if following < len(tiles) else shape[0]
        )
        x = torch.from_numpy(inputs).to(device.torch_device)
        if channels_last:
            x = x.contiguous(memory_format=torch.channels_last_3d)
        started = time.perf_counter()
        with torch.inference_mode(), device.amp():
            probs = network(x).cpu().numpy()  # helix and sheet probabilities
        forward += time.perf_counter() - started
        for b, (iz, iy, ix) in enumerate(batch):
            z0, y0, x0 = corners[b]
            wz, wy, wx = (
                a.window(i, plan.overlap) for a, i in zip(plan.axes, (iz, iy, ix), strict=True)
            )
            # the part of the tile inside the map (not its border nor the padding beyond it)
            lo = [max(0, c - border) for c in (z0, y0, x0)]
            hi = [
                min(n, c - border + t)
                for c, t, n in zip((z0, y0, x0), (tz, ty, tx), inner, strict=True)
            ]
            if any(a >= b_ for a, b_ in zip(lo, hi, strict=True)):
                continue
            tile = tuple(
                slice(a - c + border, b_ - c + border)
                for a, b_, c in zip(lo, hi, (z0, y0, x0), strict=True)
            )
            weight = wz[tile[0], None, None] * wy[None, tile[1], None] * wx[None, None, tile[2]]
            region = tuple(slice(a, b_) for a, b_ in zip(lo, hi, strict=True))
            helix[region] += probs[b, 0][tile] * weight
            sheet[region] += probs[b, 1][tile] * weight
        bar.update(len(batch))
    bar.close()
    # divide by Σ weights = product of the per-axis sums, in place (broadcast, no temporaries
    # of the map's size)
    for axis, plan_axis_ in enumerate(plan.axes):
        total = plan_axis_.weight_sum(plan.overlap)[border : border + inner[axis]]
        view = [None, None, None]
        view[axis] = slice(None)  # type: ignore[call-overload]
        helix /= total[tuple(view)]
        sheet /= total[tuple(view)]
    return TiledPrediction(helix, sheet, plan, forward)


def labels_from(helix: np.ndarray, sheet: np.ndarray) -> np.ndarray:
    """argmax over (background = 1 − helix − sheet, helix, sheet), first class on ties; int8.
    Computed a z-slab at a time (no map-sized float temporaries)."""
    labels = np.zeros(helix.shape, dtype=np.int8)
    for z in range(0, helix.shape[0], 8):
        h, s = helix[z : z + 8], sheet[z : z + 8]
        background = 1.0 - h - s
        out = labels[z : z + 8]
        out[(h > background) & (h >= s)] = 1
        out[(s > background) & (s > h)] = 2
    return labels
