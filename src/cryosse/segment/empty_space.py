"""Background where the map is empty: the network's probabilities far from any density are
noise, not structure."""

from __future__ import annotations

import numpy as np
from scipy.ndimage import binary_dilation

from cryosse.learn.checkpoint import SAMPLE_VOXEL_SIZE

# A voxel with no positive density within this distance is background whatever the network
# says: P(sheet) sat at 0.15-0.30 in the empty space of zoned maps (58 % of EMD-8518's empty
# voxels above 0.15), a halo at any ChimeraX level below 0.3 (issue 25); no label changes
# there (0 of EMD-8518's, 0.02 % of EMD-6149's empty voxels had a non-background argmax).
EMPTY_RADIUS_A = 3.0
_Z_SLAB = 16  # planes at a time: no map-sized temporary


def density_support(grid: np.ndarray) -> np.ndarray:
    """Voxels of the 1 Å grid with positive density within EMPTY_RADIUS_A (bool, 1 B/voxel)."""
    r = int(EMPTY_RADIUS_A / SAMPLE_VOXEL_SIZE)
    z, y, x = np.mgrid[-r : r + 1, -r : r + 1, -r : r + 1]
    ball = (x * x + y * y + z * z) <= r * r
    return binary_dilation(grid > 0, structure=ball)


def background_where_empty(helix: np.ndarray, sheet: np.ndarray, support: np.ndarray) -> int:
    """Zero helix and sheet (in place, a slab at a time) outside `support`; returns how many
    voxels that touched."""
    empty = 0
    for z in range(0, helix.shape[0], _Z_SLAB):
        outside = ~support[z : z + _Z_SLAB]
        empty += int(np.count_nonzero(outside))
        helix[z : z + _Z_SLAB][outside] = 0.0
        sheet[z : z + _Z_SLAB][outside] = 0.0
    return empty
