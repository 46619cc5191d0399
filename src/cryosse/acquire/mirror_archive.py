"""A local mirror as an Archive: its files read in place and checked as a download would be
(the map's size and values against its header, a model against its own counts)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from cryosse.acquire.archive import ModelFile
from cryosse.acquire.map_size import map_size_bounds
from cryosse.acquire.map_statistics import check_map_content, read_map_statistics
from cryosse.acquire.model_checks import check_model_content
from cryosse.core.reasons import DataError, Reason
from cryosse.io.header import EntryHeader
from cryosse.io.map_plan import plan_map
from cryosse.io.mirror import LocalMirror
from cryosse.io.obsolete import ObsoleteList, read_obsolete_list


class MirrorArchive:
    """A local mirror, read in place (no copies, no HTTP)."""

    def __init__(self, mirror: LocalMirror) -> None:
        self.mirror = mirror
        self.transient_failures: list[str] = []  # nothing is downloaded: never any

    def header_file(self, emdb_id: str) -> Path:
        return self.mirror.header_path(emdb_id)

    def map_file(self, emdb_id: str, header: EntryHeader) -> Path:
        path = self.mirror.map_path(emdb_id, header.map_file)
        if not path.is_file():
            raise DataError(Reason.MAP_MISSING, f"{emdb_id}: map {path.name} not in the mirror")
        # The size check of a download, from the map's own MRC header (1024 bytes read; a
        # truncated gzip's trailer would be garbage, and is reported unreadable when read): a
        # mirror file that is not the header's map is excluded before anything reads it, and
        # reading decompresses no more than this size (density.read_map).
        if header.map_size_kbytes is not None:
            implied = plan_map(path).file_bytes
            low, high = map_size_bounds(header.map_size_kbytes)
            if not low <= implied <= high:
                raise DataError(
                    Reason.MAP_SIZE_MISMATCH,
                    f"{emdb_id}: {path.name}: its MRC header implies {implied} bytes, the entry "
                    f"header says {header.map_size_kbytes} kB (1 kB = 1000 bytes)",
                )
        # The content check of a download (where the header publishes map statistics).
        try:
            check_map_content(path, read_map_statistics(self.header_file(emdb_id)))
        except ValueError as exc:
            raise DataError(Reason.MAP_UNREADABLE, f"{emdb_id}: {exc}") from exc
        return path

    def model_file(self, pdb_id: str) -> ModelFile:
        path = self.mirror.model_path(pdb_id)
        try:
            content = check_model_content(path)
        except ValueError as exc:
            raise DataError(Reason.MODEL_UNREADABLE, str(exc)) from exc
        transfer = "gzip CRC-32 read to its end" if path.name.endswith(".gz") else "no transfer"
        return ModelFile(path, str(path), f"mirror file ({transfer}); content {content}")

    def obsolete_list(self) -> ObsoleteList:
        path = self.mirror.obsolete_list_path()
        if path.is_file():
            return read_obsolete_list(path)
        return ObsoleteList.empty(f"no {path.relative_to(self.mirror.root)} in the mirror")

    def download_summary(self) -> str | None:
        return None

    def download_record(self) -> dict[str, Any]:
        return {}

    def close(self) -> None:
        """Nothing to release: the mirror is read in place."""
