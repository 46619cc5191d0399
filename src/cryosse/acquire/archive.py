"""Where an entry's files come from: a local mirror read in place (`mirror_archive`), or the
live archives over HTTP, downloaded into a cache laid out like a mirror (`http_archive`).

Both sources answer the same questions (the `Archive` protocol): the header file of an EMDB
entry, its primary map, the model file of a PDB id, and the wwPDB list of obsolete ids; and both
check what they serve beyond its transfer, recorded in the entry's record (`map_verification`,
each model's `verification`), since neither archive publishes a checksum of its files: a map
against its header's size (`map_size`) and map statistics (`map_statistics`), a model against
the residue or atom count it publishes itself (`model_checks`).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from cryosse.io.header import EntryHeader
from cryosse.io.obsolete import ObsoleteList


class ArchiveConfigError(RuntimeError):
    """The configured archive cannot be used as it is (an https:// URL redirecting to http://):
    no entry is excluded for it, the acquisition fails until the configuration changes."""


@dataclass(frozen=True)
class ModelFile:
    path: Path
    source: str  # the mirror path or the URL it was downloaded from
    # what vouches for the file being whole (gzip CRC, its own residue or atom count), or
    # why nothing does: for the entry's record
    verification: str = ""


class Archive(Protocol):
    """What the acquisition step needs from a source of EMDB and PDB files."""

    # downloads that failed for reasons a later run may not meet (network, 5xx, 429, 403):
    # the acquisition then fails instead of recording an exclusion
    transient_failures: list[str]

    def header_file(self, emdb_id: str) -> Path: ...

    def map_file(self, emdb_id: str, header: EntryHeader) -> Path: ...

    def model_file(self, pdb_id: str) -> ModelFile: ...

    def obsolete_list(self) -> ObsoleteList: ...

    def download_summary(self) -> str | None:
        """The downloads' one-line summary; None where nothing is downloaded."""
        ...

    def download_record(self) -> dict[str, Any]:
        """What the entry's record says of the downloads (nothing, for a mirror)."""
        ...

    def close(self) -> None:
        """Release what the archive holds open (its connections)."""
        ...
