"""Locate an entry's header, map and fitted models, and apply the header-level filters.

This is the acquisition step for a local mirror: nothing is copied, the resolved paths are
recorded. Header-level exclusions (invalid or obsolete id, resolution outside the window, no
fitted model) are decided here, before any map is read.
"""

from __future__ import annotations

import hashlib
from dataclasses import asdict, dataclass, field
from pathlib import Path

from cryosse.header import parse_header
from cryosse.ids import normalize_emdb_id, normalize_pdb_id
from cryosse.mirror import LocalMirror
from cryosse.reasons import CurationError, Reason
from cryosse.settings import CurationSettings


@dataclass
class LocatedModel:
    pdb_id: str
    path: str | None = None
    sha256: str | None = None
    reason: str | None = None  # set when the model is excluded here
    message: str | None = None


@dataclass
class LocatedEntry:
    emdb_id: str
    status: str  # "ok" or "excluded"
    reason: str = Reason.KEPT.value
    message: str = ""
    resolution: float | None = None
    method: str | None = None
    contour_level: float | None = None
    title: str | None = None
    map_path: str | None = None
    map_sha256: str | None = None
    models: list[LocatedModel] = field(default_factory=list)

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> LocatedEntry:
        models = [LocatedModel(**m) for m in data.get("models", [])]
        return cls(**{**data, "models": models})


def sha256_of(path: str | Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def locate_entry(raw_id: str, mirror: LocalMirror, settings: CurationSettings) -> LocatedEntry:
    try:
        emdb_id = normalize_emdb_id(raw_id)
    except CurationError as exc:
        # The raw id never reaches a path: it is only echoed (escaped) in the log.
        return LocatedEntry(emdb_id=repr(raw_id), status="excluded", reason=exc.reason,
                            message=exc.message)  # fmt: skip
    try:
        header = parse_header(mirror.header_path(emdb_id))
    except CurationError as exc:
        return LocatedEntry(emdb_id, "excluded", exc.reason, exc.message)
    entry = LocatedEntry(
        emdb_id=emdb_id,
        status="ok",
        resolution=header.resolution,
        method=header.method,
        contour_level=header.contour_level,
        title=header.title,
    )

    def exclude(reason: Reason, message: str) -> LocatedEntry:
        entry.status, entry.reason, entry.message = "excluded", reason.value, message
        return entry

    if header.emdb_id != emdb_id:
        return exclude(Reason.HEADER_INVALID, f"header describes {header.emdb_id}, not {emdb_id}")
    if not header.is_released:
        successor = ", ".join(header.superseded_by) or "none given"
        message = f"{emdb_id} has status {header.status} (superseded by: {successor})"
        return exclude(Reason.OBSOLETE_ENTRY, message)
    if header.resolution is None:
        return exclude(Reason.RESOLUTION_UNKNOWN, f"{emdb_id}: the header gives no resolution")
    if not settings.resolution_min <= header.resolution <= settings.resolution_max:
        return exclude(
            Reason.RESOLUTION_OUT_OF_RANGE,
            f"{emdb_id}: resolution {header.resolution:g} Å is outside the window "
            f"{settings.resolution_min:g}-{settings.resolution_max:g} Å",
        )
    if not header.fitted_pdb_ids:
        return exclude(Reason.NO_FITTED_MODEL, f"{emdb_id} has no fitted PDB model")

    map_path = mirror.map_path(emdb_id, header.map_file)
    if not map_path.is_file():
        return exclude(Reason.MAP_MISSING, f"{emdb_id}: map {map_path.name} not in the mirror")
    entry.map_path = str(map_path)
    entry.map_sha256 = sha256_of(map_path)

    for raw_pdb in header.fitted_pdb_ids:
        try:
            pdb_id = normalize_pdb_id(raw_pdb)
        except CurationError as exc:
            entry.models.append(LocatedModel(repr(raw_pdb), reason=exc.reason, message=exc.message))
            continue
        try:
            path = mirror.model_path(pdb_id)
        except CurationError as exc:
            entry.models.append(LocatedModel(pdb_id, reason=exc.reason, message=exc.message))
            continue
        entry.models.append(LocatedModel(pdb_id, path=str(path), sha256=sha256_of(path)))
    return entry
