"""The real map/model pairs of a realdata folder (EMDB entries, each with its provenance): one
reader for the synthetic mirror (`synthetic.derive`) and the benchmarks.

Each entry folder `EMD-*/` holds a `provenance.json`: the entry's metadata, its `files` with a
role each ("map", "model", "map_header_variant", ...) and the `overlap_checks` that fitted a map
to a model. A check names the map as it was found; files over 2 MB are stored here gzipped, so
the stored name may carry ".gz". A check whose files are not both stored is left out.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any


@dataclass(frozen=True)
class RealFit:
    """One good-fit (map, model) combination, by the names stored in the entry folder."""

    map_file: str
    model_file: str
    map_role: str
    model_role: str

    @property
    def primary(self) -> bool:
        """The entry's documented map fitted to its documented model (not a variant)."""
        return self.map_role == "map" and self.model_role == "model"


@dataclass(frozen=True)
class RealEntry:
    """One entry folder of realdata, ids as recorded (e.g. "EMD-0093", "6GYN")."""

    folder: Path
    emdb_id: str
    pdb_id: str
    map_kind: str  # "full", "crop", "component" or "masked": how the map was cut from its entry
    resolution: float | None
    resolution_source: str
    title: str
    fits: tuple[RealFit, ...]  # the good fits, in the order provenance.json lists them


def _good_fits(meta: dict[str, Any]) -> tuple[RealFit, ...]:
    roles = {f["file"]: f["role"] for f in meta.get("files", [])}

    def stored(name: str) -> str | None:
        return next((n for n in (name, name + ".gz") if n in roles), None)

    fits = []
    for check in meta.get("overlap_checks", []):
        map_file, model_file = stored(check["map"]), stored(check["model"])
        if check.get("good_fit") is True and map_file is not None and model_file is not None:
            fits.append(RealFit(map_file, model_file, roles[map_file], roles[model_file]))
    return tuple(fits)


def read_entries(realdata: Path) -> list[RealEntry]:
    """Every entry folder of `realdata`, in folder-name order."""
    entries = []
    for provenance in sorted(Path(realdata).glob("EMD-*/provenance.json")):
        meta = json.loads(provenance.read_text(encoding="utf-8"))
        entries.append(
            RealEntry(
                folder=provenance.parent,
                emdb_id=meta["id"],
                pdb_id=meta["pdb_id"],
                map_kind=meta["map_kind"],
                resolution=meta.get("resolution_A"),
                resolution_source=meta.get("resolution_source", ""),
                title=meta["title"],
                fits=_good_fits(meta),
            )
        )
    return entries
