"""Full, unmasked maps: how to tell one, and the mask at a contour that makes it look like the
maps the model was trained on.

The training samples (and the He-lab component maps the model is judged on) are zoned around
their chains: most voxels are exactly zero. A deposited full map is not: its solvent is noise of
both signs around zero and its box holds neighbouring subunits. On such a map (EMD-5168, the
whole F-actin filament at 6.6 Å: 0 % zero voxels, 46 % negative) the shipped model called 262 of
369 residues of the one modelled subunit helix (DSSP: 150). Of 20 real maps at hand, only that
one has fewer than 1 % zero voxels; every masked, zoned or cropped one has 44-98 %.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

# Fewer zero voxels than this, and more than that of each sign: solvent noise, no mask.
MAX_ZERO_FRACTION = 0.01
MIN_NEGATIVE_FRACTION = 0.10
_SAMPLE = 2_000_000  # voxels looked at (a strided subsample), as for the display level


@dataclass(frozen=True)
class MapSigns:
    """What the values of a map say about whether it was masked."""

    zero_fraction: float
    negative_fraction: float
    enclosed_fraction: float | None  # voxels at or above the contour, when one is known

    @property
    def unmasked(self) -> bool:
        return (
            self.zero_fraction < MAX_ZERO_FRACTION
            and self.negative_fraction > MIN_NEGATIVE_FRACTION
            and 1.0 - self.zero_fraction - self.negative_fraction > MIN_NEGATIVE_FRACTION
        )

    def describe(self) -> str:
        text = (
            f"{self.zero_fraction:.0%} of its voxels are zero and "
            f"{self.negative_fraction:.0%} negative (solvent noise)"
        )
        if self.enclosed_fraction is not None:
            text += f", {self.enclosed_fraction:.0%} lie above the contour"
        return text

    def as_dict(self) -> dict[str, float | bool | None]:
        return {
            "unmasked": self.unmasked,
            "zero_fraction": round(self.zero_fraction, 4),
            "negative_fraction": round(self.negative_fraction, 4),
            "enclosed_fraction": None
            if self.enclosed_fraction is None
            else round(self.enclosed_fraction, 4),
        }


def map_signs(data: np.ndarray, contour: float | None = None) -> MapSigns:
    """The signs of masking in `data` (a strided subsample of up to 2 M voxels)."""
    flat = data.reshape(-1)
    sample = flat[:: max(1, flat.size // _SAMPLE)]
    enclosed = None if contour is None else float(np.mean(sample >= contour))
    return MapSigns(float(np.mean(sample == 0)), float(np.mean(sample < 0)), enclosed)


def mask_below(data: np.ndarray, contour: float) -> int:
    """Zero, in place, every voxel below `contour` (as the TEMPy authors' masked EMD-5168
    monomer was made); returns how many voxels were kept."""
    for z in range(0, data.shape[0], 16):  # a slab at a time: no map-sized boolean
        slab = data[z : z + 16]
        slab[slab < contour] = 0.0
    return int(sum(np.count_nonzero(data[z : z + 16]) for z in range(0, data.shape[0], 16)))
