"""Voxel labels from residue classes: the nearest-Cα rule.

A voxel is helix / sheet when the Cα nearest to its centre — over ALL protein residues of the
model, neighbouring chains included — lies within `radius` (3.0 Å, inclusive) and belongs to a
helix / sheet residue; otherwise it is background. This rule reproduces, voxel for voxel, the
reference label files shipped with the He-lab component maps (see tests/curate/test_labels.py).
"""

from __future__ import annotations

import numpy as np
from scipy.spatial import cKDTree

from cryosse.core.classes import BACKGROUND


def label_voxels(
    origin: np.ndarray,
    shape_xyz: tuple[int, int, int],
    voxel_size: float,
    ca_xyz: np.ndarray,
    ca_class: np.ndarray,
    radius: float = 3.0,
) -> np.ndarray:
    """uint8 [z, y, x] labels (0 background, 1 helix, 2 sheet) on a regular grid."""
    labels = np.full(shape_xyz[::-1], BACKGROUND, dtype=np.uint8)
    ca_xyz = np.asarray(ca_xyz, dtype=np.float64).reshape(-1, 3)
    if len(ca_xyz) == 0:
        return labels
    shape = np.array(shape_xyz)
    # Candidate voxels: those in the cube of ±radius around any Cα that can reach the grid.
    reach = int(np.ceil(radius / voxel_size))
    centre_idx = np.rint((ca_xyz - origin) / voxel_size).astype(np.int64)
    near = np.all((centre_idx >= -reach) & (centre_idx < shape + reach), axis=1)
    if not near.any():
        return labels
    offsets = np.stack(
        np.meshgrid(*[np.arange(-reach, reach + 1)] * 3, indexing="ij"), axis=-1
    ).reshape(-1, 3)
    cand = (centre_idx[near][:, None, :] + offsets[None, :, :]).reshape(-1, 3)
    cand = cand[np.all((cand >= 0) & (cand < shape), axis=1)]
    if len(cand) == 0:
        return labels
    flat = np.ravel_multi_index((cand[:, 2], cand[:, 1], cand[:, 0]), labels.shape)
    flat = np.unique(flat)
    iz, iy, ix = np.unravel_index(flat, labels.shape)
    points = origin + voxel_size * np.stack([ix, iy, iz], axis=1)
    tree = cKDTree(ca_xyz)
    distance, nearest = tree.query(points, k=1, distance_upper_bound=radius + 1e-6)
    hit = distance <= radius + 1e-9
    labels.reshape(-1)[flat[hit]] = np.asarray(ca_class, dtype=np.uint8)[nearest[hit]]
    return labels
