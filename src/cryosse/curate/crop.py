"""Box-crop a map around a central chain and resample it to a 1 Å grid.

Box: the chain's all-atom bounding box plus `padding` (17 Å) on every side — 34 Å per
dimension, as in Mu et al. 2024. The 1 Å output lattice is anchored at the map's own first
voxel (positions origin + k Å), so a map that is already at 1 Å is copied without any
interpolation, and all samples of one entry share one lattice. The central box is the unpadded
region: exactly `padding` voxels are added on each side of it.

Interpolation is trilinear (cryosse.io.resample.resample_axes, what ChimeraX `volume resample`
does), on only the sub-block of the map around the box. Values are kept raw (no normalisation:
that belongs to training). Box voxels that fall outside the map are 0.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from cryosse.io.density import DensityMap
from cryosse.io.resample import resample_axes


@dataclass(frozen=True)
class CropBox:
    """A region of the 1 Å output lattice: the padded box around a chain and its central part
    (not `boxes.Box`, which is a training sample: density, labels and mask)."""

    origin: np.ndarray  # xyz Å of voxel [0,0,0]
    shape_xyz: tuple[int, int, int]
    voxel_size: float
    central_start: tuple[int, int, int]  # xyz index of the first central voxel
    central_stop: tuple[int, int, int]  # xyz index one past the last central voxel

    def axis_coordinates(self, axis: int) -> np.ndarray:
        return self.origin[axis] + self.voxel_size * np.arange(self.shape_xyz[axis])

    def voxel_centres(self) -> np.ndarray:
        """Cartesian centres of all voxels, shape (nz, ny, nx, 3) in xyz order."""
        x, y, z = (self.axis_coordinates(a) for a in range(3))
        zz, yy, xx = np.meshgrid(z, y, x, indexing="ij")
        return np.stack([xx, yy, zz], axis=-1)

    def central_mask(self) -> np.ndarray:
        """Boolean [z, y, x] mask of the central (unpadded) box."""
        mask = np.zeros(self.shape_xyz[::-1], dtype=bool)
        (x0, y0, z0), (x1, y1, z1) = self.central_start, self.central_stop
        mask[z0:z1, y0:y1, x0:x1] = True
        return mask

    def contains(self, xyz: np.ndarray, central: bool = False) -> np.ndarray:
        """Which points fall in the box (nearest voxel), or in its central part."""
        idx = np.rint((np.asarray(xyz, dtype=np.float64) - self.origin) / self.voxel_size)
        lo = np.array(self.central_start if central else (0, 0, 0))
        hi = np.array(self.central_stop if central else self.shape_xyz)
        return np.all((idx >= lo) & (idx < hi), axis=1)


def map_extent(density: DensityMap) -> tuple[np.ndarray, np.ndarray]:
    """xyz Å of the map's first and last voxel centres."""
    last = density.origin + (np.array(density.shape_xyz) - 1) * density.voxel_size
    return density.origin.copy(), last


def chain_box(
    atoms_xyz: np.ndarray, density: DensityMap, padding: float = 17.0, voxel_size: float = 1.0
) -> CropBox:
    """The padded box around a chain's atoms on the lattice anchored at the map origin.

    Atoms more than `padding` outside the map do not widen it (the box is clipped to the map's
    extent plus twice the padding): a misplaced atom 600 Å out, or at 1e6 Å, would otherwise set
    a box of hundreds of GB holding only the zeros outside the map. A chain that merely overhangs
    the map's edge keeps its whole box. Raises ValueError when no atom is near the map."""
    pad = round(padding / voxel_size)
    anchor = density.origin
    lo = np.floor((atoms_xyz.min(axis=0) - anchor) / voxel_size).astype(np.int64) - pad
    hi = np.ceil((atoms_xyz.max(axis=0) - anchor) / voxel_size).astype(np.int64) + pad
    _, last = map_extent(density)
    map_hi = np.ceil((last - anchor) / voxel_size).astype(np.int64)
    lo = np.maximum(lo, -2 * pad)
    hi = np.minimum(hi, map_hi + 2 * pad)
    if np.any(hi - lo < 2 * pad):
        raise ValueError("its atoms lie outside the map")
    shape = tuple(int(v) for v in hi - lo + 1)
    return CropBox(
        origin=anchor + lo * voxel_size,
        shape_xyz=shape,  # type: ignore[arg-type]
        voxel_size=voxel_size,
        central_start=(pad, pad, pad),
        central_stop=tuple(int(s - pad) for s in shape),  # type: ignore[arg-type]
    )


def resample_box(density: DensityMap, box: CropBox) -> np.ndarray:
    """Density on the box grid, float32 [z, y, x], by separable trilinear interpolation."""
    return resample_axes(density, [box.axis_coordinates(a) for a in range(3)])
