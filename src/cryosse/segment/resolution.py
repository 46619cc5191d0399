"""The map's resolution against the range the model was trained on (summary.json's
"resolution"): given with --resolution or read from the EMDB header beside the map."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

from cryosse.core.config import ResolutionWindow
from cryosse.io.header import map_resolution
from cryosse.segment.errors import SegmentError

# The dataset's resolution range (config/config.yaml: resolution min/max): what a checkpoint
# that does not record its training cases' range is taken to have been trained on.
DATASET_RESOLUTION_A = (ResolutionWindow().min, ResolutionWindow().max)


def given_or_header_resolution(map_path: str | Path, given: float | None) -> dict[str, Any]:
    """{value_A, source, contour_level}: `given` (--resolution), else the EMDB header's."""
    if given is None:
        return map_resolution(map_path)
    if not (math.isfinite(given) and 0.0 < given < 100.0):
        raise SegmentError(f"--resolution {given}: expected Å, between 0 and 100")
    return {"value_A": float(given), "source": "--resolution", "contour_level": None}


def trained_resolution_range(metadata: dict[str, Any]) -> tuple[tuple[float, float], str]:
    """(low, high) Å of the model's training cases and where that range comes from."""
    recorded = (metadata.get("training") or {}).get("train_resolution_A")
    if isinstance(recorded, list | tuple) and len(recorded) == 2:
        return (float(recorded[0]), float(recorded[1])), "the checkpoint's training cases"
    low, high = DATASET_RESOLUTION_A
    return DATASET_RESOLUTION_A, f"not recorded in the checkpoint: the dataset's {low:g}-{high:g} Å"


def resolution_summary(
    map_path: str | Path, given: float | None, metadata: dict[str, Any]
) -> dict[str, Any]:
    """summary.json's "resolution": the map's, the trained range, and a warning when outside."""
    found = given_or_header_resolution(map_path, given)
    (low, high), range_source = trained_resolution_range(metadata)
    value = found["value_A"]
    inside = None if value is None else low <= value <= high
    warning = None
    if inside is False:
        warning = (
            f"the map's resolution {value:g} Å ({found['source']}) lies outside "
            f"{low:g}-{high:g} Å, the range the model was trained on "
            f"({range_source}): expect less reliable helix and sheet maps"
        )
    return {
        **found,
        "trained_range_A": [low, high],
        "trained_range_source": range_source,
        "inside_trained_range": inside,
        "warning": warning,
    }
