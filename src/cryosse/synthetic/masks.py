"""Masks of simulated maps, as deposited maps are masked: zoned around the model (He-lab
component maps, Chimera's zone) or cut by a depositor's mask around the density's own envelope.

Version 1 zones a map with probability `P_MASK`; the EMDB-like profiles draw one of `MASK_KINDS`.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from scipy import ndimage
from scipy.spatial import cKDTree

from cryosse.synthetic.parameters import VOLUME_PER_ATOM, uniform

P_MASK = 0.25
MASK_RADIUS = (3.0, 7.0)
MASK_KINDS = (  # (kind, probability) of the "emdb" profile
    ("none", 0.45),  # a full deposited map
    ("contour", 0.35),  # a depositor's mask: the density's own envelope, dilated, soft edge
    ("zone", 0.20),  # zoned around the model (He-lab components, Chimera zone)
)
MASK_EXTEND = (1.0, 6.0)  # Å added around a depositor's mask
MASK_SOFT = (0.0, 8.0)  # Å of cosine edge (0: a hard mask, as Chimera's `volume mask`)
MASK_LEVEL_VOLUME = (1.0, 2.5)  # the mask's level encloses this × the model's volume


def depositor_mask(
    rng: np.random.Generator, clean: np.ndarray, voxel: float, n_atoms: int
) -> tuple[np.ndarray, dict[str, Any]]:
    """A depositor's mask (weights in [0, 1]): the noise-free density above the level that
    encloses `volume` × the model's volume, extended by `extend` Å, with a cosine edge of
    `soft` Å (0: hard, exact zeros outside as in Chimera's mask of EMD-0093)."""
    volume = uniform(rng, MASK_LEVEL_VOLUME)
    extend = uniform(rng, MASK_EXTEND)
    soft = uniform(rng, MASK_SOFT) if rng.random() < 0.5 else 0.0
    n = int(min(clean.size - 1, max(1, n_atoms * VOLUME_PER_ATOM * volume / voxel**3)))
    level = float(np.partition(clean, clean.size - n, axis=None)[clean.size - n])
    outside = ndimage.distance_transform_edt(clean < level) * voxel
    weight = np.where(outside <= extend, 1.0, 0.0)
    if soft > 0:
        edge = (outside > extend) & (outside <= extend + soft)
        weight[edge] = 0.5 * (1 + np.cos(math.pi * (outside[edge] - extend) / soft))
    record = {
        "kind": "contour",
        "volume_factor": round(volume, 3),
        "extend": round(extend, 2),
        "soft_edge": round(soft, 2),
        "inside_fraction": round(float(np.mean(weight > 0)), 4),
    }
    return weight, record


def _mask_kind(rng: np.random.Generator, kinds_drawn: bool) -> str:
    if kinds_drawn:
        kinds = [k for k, _ in MASK_KINDS]
        weights = np.array([w for _, w in MASK_KINDS])
        return str(rng.choice(kinds, p=weights / sum(w for _, w in MASK_KINDS)))
    return "zone" if rng.random() < P_MASK else "none"


def apply_mask(
    rng: np.random.Generator,
    data: np.ndarray,
    *,
    kinds_drawn: bool,
    clean: np.ndarray,
    pos: np.ndarray,
    atom_xyz: np.ndarray,
    voxel: float,
) -> tuple[np.ndarray, dict[str, Any] | None]:
    """The map masked as drawn, and the mask's record (None: not masked). `pos` holds each
    voxel's xyz (Å), `clean` the noise-free density a depositor's mask is drawn around;
    `kinds_drawn` (the EMDB-like profiles) draws from MASK_KINDS, else version 1's zoning."""
    kind = _mask_kind(rng, kinds_drawn)
    if kind == "zone":
        radius = uniform(rng, MASK_RADIUS)
        tree = cKDTree(atom_xyz)
        dist = tree.query(pos.reshape(-1, 3), distance_upper_bound=radius + 1e-6)[0]
        mask: dict[str, Any] = {"radius": round(radius, 2)}
        if kinds_drawn:
            mask["kind"] = "zone"
        return np.where(dist.reshape(data.shape) <= radius, data, 0.0), mask
    if kind == "contour":
        weight, record = depositor_mask(rng, clean, voxel, len(atom_xyz))
        return data * weight, record
    return data, None
