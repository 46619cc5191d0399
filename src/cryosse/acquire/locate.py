"""Acquire an entry: its header, map and fitted models, and apply the header-level filters.

The files come from an Archive: a local mirror (read in place, paths recorded) or the live
archives over HTTP (downloaded into a cache). Header-level exclusions (invalid or obsolete id,
resolution outside the window, no fitted model) are decided before the map is fetched, so an
excluded entry costs one small header download. Obsolete fitted models are followed to their
successors where the wwPDB list names one.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields

from cryosse.acquire.archive import Archive
from cryosse.acquire.map_statistics import check_map_content, read_map_statistics
from cryosse.acquire.mirror_archive import MirrorArchive
from cryosse.core.config import ResolutionWindow
from cryosse.core.hashing import sha256_file
from cryosse.core.ids import normalize_emdb_id, normalize_pdb_id
from cryosse.core.reasons import DataError, Reason
from cryosse.io.header import parse_header
from cryosse.io.mirror import LocalMirror
from cryosse.io.obsolete import ObsoleteList


@dataclass
class LocatedModel:
    pdb_id: str
    path: str | None = None
    sha256: str | None = None
    reason: str | None = None  # set when the model is excluded here
    message: str | None = None
    source: str | None = None  # mirror path or download URL
    replaces: str | None = None  # the obsolete fitted id this successor stands in for
    # what vouches for the file being whole, or that nothing does (model_checks.check_model_content)
    verification: str | None = None


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
    map_size_kbytes: int | None = None
    map_path: str | None = None
    map_sha256: str | None = None
    models: list[LocatedModel] = field(default_factory=list)
    obsolete_list: str = ""  # where the obsolete-id list came from (or why there was none)
    # what was checked of the map's content, or that it could not be
    # (map_statistics.check_map_content)
    map_verification: str | None = None

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> LocatedEntry:
        """Read a record back; keys that are not fields (download records) are skipped."""
        known = {f.name for f in fields(cls)}
        models = [LocatedModel(**m) for m in data.get("models", [])]
        return cls(**{**{k: v for k, v in data.items() if k in known}, "models": models})


def locate_entry(
    raw_id: str, archive: Archive | LocalMirror, window: ResolutionWindow
) -> LocatedEntry:
    """Header checks (the resolution against `window`, the only setting acquisition uses), then
    the map and the fitted models; every exclusion carries its reason."""
    if isinstance(archive, LocalMirror):
        archive = MirrorArchive(archive)
    try:
        emdb_id = normalize_emdb_id(raw_id)
    except DataError as exc:
        # The raw id never reaches a path: it is only echoed (escaped) in the log.
        return LocatedEntry(
            emdb_id=repr(raw_id), status="excluded", reason=exc.reason, message=exc.message
        )
    try:
        header_path = archive.header_file(emdb_id)
        header = parse_header(header_path)
    except DataError as exc:
        return LocatedEntry(emdb_id, "excluded", exc.reason, exc.message)
    entry = LocatedEntry(
        emdb_id=emdb_id,
        status="ok",
        resolution=header.resolution,
        method=header.method,
        contour_level=header.contour_level,
        title=header.title,
        map_size_kbytes=header.map_size_kbytes,
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
    if not window.min <= header.resolution <= window.max:
        return exclude(
            Reason.RESOLUTION_OUT_OF_RANGE,
            f"{emdb_id}: resolution {header.resolution:g} Å is outside the window "
            f"{window.min:g}-{window.max:g} Å",
        )
    if not header.fitted_pdb_ids:
        return exclude(Reason.NO_FITTED_MODEL, f"{emdb_id} has no fitted PDB model")

    try:
        map_path = archive.map_file(emdb_id, header)
    except DataError as exc:
        return exclude(Reason(exc.reason), exc.message)
    try:
        # the archive checked it already (remembered by file identity): this only reads the note
        entry.map_verification = check_map_content(map_path, read_map_statistics(header_path))
    except ValueError as exc:
        return exclude(Reason.MAP_UNREADABLE, f"{emdb_id}: {exc}")
    entry.map_path = str(map_path)
    entry.map_sha256 = sha256_file(map_path)

    obsolete = archive.obsolete_list()
    entry.obsolete_list = obsolete.source
    for raw_pdb in header.fitted_pdb_ids:
        try:
            pdb_id = normalize_pdb_id(raw_pdb)
        except DataError as exc:
            entry.models.append(LocatedModel(repr(raw_pdb), reason=exc.reason, message=exc.message))
            continue
        for model in _current_models(pdb_id, obsolete):
            if model.pdb_id in {m.pdb_id for m in entry.models}:
                continue  # a successor that is also fitted directly
            if model.reason is None:
                _fetch_model(archive, model)
            entry.models.append(model)
    return entry


def _current_models(pdb_id: str, obsolete: ObsoleteList) -> list[LocatedModel]:
    """The model(s) to use for a fitted id: itself, its successor(s), or an exclusion."""
    if not obsolete.is_obsolete(pdb_id):
        return [LocatedModel(pdb_id)]
    successors = obsolete.current_ids(pdb_id)
    if not successors:
        message = f"{pdb_id} is obsolete and has no successor in the wwPDB obsolete list"
        return [LocatedModel(pdb_id, reason=Reason.OBSOLETE_MODEL.value, message=message)]
    return [LocatedModel(successor, replaces=pdb_id) for successor in successors]


def _fetch_model(archive: Archive, model: LocatedModel) -> None:
    try:
        found = archive.model_file(model.pdb_id)
    except DataError as exc:
        model.reason, model.message = exc.reason, exc.message
        return
    model.path, model.source, model.sha256 = str(found.path), found.source, sha256_file(found.path)
    model.verification = found.verification or None
