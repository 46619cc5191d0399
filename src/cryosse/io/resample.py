"""Trilinear resampling of a density map onto another orthogonal grid.

Interpolation is trilinear (what ChimeraX `volume resample` does), computed separably along
x, y and z, which is exact for trilinear and needs only the sub-block of the map around the
target grid. A target grid that is a sub-grid of the map's own is copied without interpolation.
Curation crops its training boxes with `resample_axes` (cryosse.curate.crop); `cryosse segment`
resamples whole maps onto its 1 Å grid and back with `resample_onto`, a z-slab at a time.
"""

from __future__ import annotations

import numpy as np

from cryosse.io.density import DensityMap

_Z_SLAB = 16  # planes resampled at a time: bounds the interpolation temporaries


def _interp_axis(block: np.ndarray, axis: int, frac: np.ndarray) -> np.ndarray:
    """Linear interpolation of `block` along one array axis at fractional indices `frac`.

    Points outside [0, n-1] give 0. The sub-block always reaches the map's own edge where a
    point lies near it, so outside the block means outside the map.
    """
    n = block.shape[axis]
    i0 = np.floor(frac).astype(np.int64)
    w = (frac - i0).astype(np.float32)
    inside = (frac >= 0) & (frac <= n - 1)
    i0c = np.clip(i0, 0, n - 1)
    i1c = np.clip(i0 + 1, 0, n - 1)
    shape = [1] * block.ndim
    shape[axis] = len(frac)
    w = w.reshape(shape)
    a = np.take(block, i0c, axis=axis)
    b = np.take(block, i1c, axis=axis)
    out: np.ndarray = a * (1.0 - w) + b * w
    out *= inside.reshape(shape)
    return out.astype(np.float32, copy=False)


def resample_axes(density: DensityMap, coordinates_xyz: list[np.ndarray]) -> np.ndarray:
    """Density on the grid with these x, y and z coordinates (Å), float32 [z, y, x]."""
    fracs = [(coordinates_xyz[a] - density.origin[a]) / density.voxel_size[a] for a in range(3)]
    # Cut the sub-block of the map that the box touches, then interpolate z, y, x in turn.
    nx, ny, nz = density.shape_xyz
    limits = []
    for frac, n in zip(fracs, (nx, ny, nz), strict=True):
        lo = int(np.clip(np.floor(frac.min()), 0, n - 1))
        hi = int(np.clip(np.floor(frac.max()) + 2, 1, n))
        limits.append((lo, hi))
    (x0, x1), (y0, y1), (z0, z1) = limits
    block = density.data[z0:z1, y0:y1, x0:x1]
    out = _interp_axis(block, 0, fracs[2] - z0)
    out = _interp_axis(out, 1, fracs[1] - y0)
    out = _interp_axis(out, 2, fracs[0] - x0)
    return out


def lattice_in_region(
    density: DensityMap,
    first: tuple[int, int, int],
    last: tuple[int, int, int],
    step: float,
) -> tuple[np.ndarray, tuple[int, int, int]]:
    """Origin (xyz Å) and shape (xyz) of the grid origin + k·step (k integer) that falls inside
    the map's voxels `first` to `last` (grid indices, both included): the lattice anchored at
    the map's first voxel. Raises ValueError when it has fewer than 2 points on an axis."""
    low = np.array(first) * density.voxel_size
    high = np.array(last) * density.voxel_size
    # header voxel sizes are float32 ratios (cell / samples): 1e-4 Å of slack
    k0 = np.ceil(low / step - 1e-4).astype(int)
    k1 = np.floor(high / step + 1e-4).astype(int)
    shape = tuple(int(v) for v in k1 - k0 + 1)
    if min(shape) < 2:
        raise ValueError(
            f"the region spans {' x '.join(f'{v:.3g}' for v in high - low)} Å: too small for "
            f"a {step:g} Å grid (at least 2 voxels per axis)"
        )
    return density.origin + k0 * step, shape  # type: ignore[return-value]


def resample_onto(
    density: DensityMap,
    origin: np.ndarray,
    step: np.ndarray,
    shape_xyz: tuple[int, ...],
    clamp: bool = False,
) -> np.ndarray:
    """`density` on the grid origin + step·i (xyz), float32 [z, y, x], trilinear, a z-slab at a
    time; a plain copy when the grid is a sub-grid of the map's own. `clamp`: points just
    beyond the map's extent take the value at its edge instead of 0."""
    coords = [origin[a] + step[a] * np.arange(shape_xyz[a]) for a in range(3)]
    fracs = [(coords[a] - density.origin[a]) / density.voxel_size[a] for a in range(3)]
    if all(np.allclose(f, np.rint(f), atol=1e-4) and np.allclose(np.diff(f), 1.0) for f in fracs):
        start = [int(np.rint(f[0])) for f in fracs]
        nx, ny, nz = density.shape_xyz
        if all(
            s >= 0 and s + n <= lim
            for s, n, lim in zip(start, shape_xyz, (nx, ny, nz), strict=True)
        ):
            (x0, y0, z0), (sx, sy, sz) = start, shape_xyz
            return density.data[z0 : z0 + sz, y0 : y0 + sy, x0 : x0 + sx].copy()
    if clamp:
        extent = [
            density.origin[a] + density.voxel_size[a] * (density.shape_xyz[a] - 1) for a in range(3)
        ]
        coords = [np.clip(coords[a], density.origin[a], extent[a]) for a in range(3)]
    out = np.empty(tuple(shape_xyz[::-1]), dtype=np.float32)
    for z in range(0, shape_xyz[2], _Z_SLAB):
        out[z : z + _Z_SLAB] = resample_axes(
            density, [coords[0], coords[1], coords[2][z : z + _Z_SLAB]]
        )
    return out
