"""The simulation profiles, the ranges that several steps of the recipe share, and how a
parameter is drawn from its range.

A profile says which of the EMDB-like changes (docs/simulation.md, "Realism") a map gets: version
1 ("v1", the maps behind the shipped model) gets none, "emdb" all of them, and each profile
between adds one, so that `benchmarks/realism.py` measures each change alone.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

RESOLUTION = (5.0, 10.0)  # Å: the data set's window, for simulated and derived maps alike
FIELD_LENGTH = (10.0, 30.0)  # Å: the length over which local resolution and order vary
VOLUME_PER_ATOM = 17.0  # Å³ per heavy atom (1.21 Å³/Da, ~14 Da per heavy atom with its H)


@dataclass(frozen=True)
class Profile:
    """How a map is simulated: version 1 ("v1", the maps behind the shipped model) or the
    EMDB-like maps ("emdb"); the profiles between add one change each, in order."""

    name: str
    coarse_voxels: bool = False  # voxels COARSE_VOXEL (else VOXEL), padding FULL_PADDING
    solvent: bool = False  # the solvent noise model (else version 1's)
    masks: bool = False  # MASK_KINDS (else version 1's zoning with P_MASK)
    assembly: bool = False  # biological assembly + packed neighbours (`assembly.py`)
    nucleic_acids: bool = False  # P_NUCLEIC B-DNA duplexes
    heterogeneity: bool = False  # uneven order: AMPLITUDE_FIELD, stronger SHARPENING_EMDB


# Each profile adds the next change, in the order of Profile's fields, to the one before it.
_LADDER = ("v1", "voxels", "solvent", "masks", "assembly", "nucleic", "emdb")
PROFILES: dict[str, Profile] = {
    name: Profile(name, *(change < rung for change in range(len(_LADDER) - 1)))
    for rung, name in enumerate(_LADDER)
}
DEFAULT_PROFILE = "emdb"


def profile_named(profile: Profile | str) -> Profile:
    return PROFILES[profile] if isinstance(profile, str) else profile


def uniform(rng: np.random.Generator, bounds: tuple[float, float]) -> float:
    return float(rng.uniform(*bounds))


def log_uniform(rng: np.random.Generator, bounds: tuple[float, float]) -> float:
    """A draw uniform in log scale (a signal-to-noise ratio)."""
    return float(math.exp(rng.uniform(math.log(bounds[0]), math.log(bounds[1]))))
