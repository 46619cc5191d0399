"""The wwPDB list of obsolete entries and their successors (pub/pdb/data/status/obsolete.dat).

Each data line reads ``OBSLTE    <date> <obsolete id> [<successor id> ...]``, e.g.

    OBSLTE    26-SEP-06 2B2A     2GA4 2GA5

An obsolete id without successors was withdrawn. A fitted model that has become obsolete is
followed to its current successor(s), through chains of supersession (1CAT -> 3CAT -> 7CAT),
and the replacement is logged; the fit checks of curation then decide whether the successor
still fits the map.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from cryosse.core.ids import is_valid_pdb_id, normalize_pdb_id

# Supersession chains are short in practice; the bound only protects against a cyclic list.
_MAX_DEPTH = 20


@dataclass(frozen=True)
class ObsoleteList:
    """Obsolete PDB id -> its direct successors (empty when withdrawn), ids normalized."""

    successors: dict[str, tuple[str, ...]]
    source: str = ""

    @classmethod
    def empty(cls, source: str = "") -> ObsoleteList:
        return cls({}, source)

    def is_obsolete(self, pdb_id: str) -> bool:
        return normalize_pdb_id(pdb_id) in self.successors

    def current_ids(self, pdb_id: str) -> list[str]:
        """The current id(s) that replace `pdb_id`: [pdb_id] itself if it is not obsolete,
        [] if the chain of supersession ends in a withdrawal."""
        start = normalize_pdb_id(pdb_id)
        current: list[str] = []
        seen: set[str] = set()
        frontier = [(start, 0)]
        while frontier:
            pid, depth = frontier.pop(0)
            if pid in seen or depth > _MAX_DEPTH:
                continue
            seen.add(pid)
            if pid not in self.successors:
                current.append(pid)
            else:
                frontier += [(nxt, depth + 1) for nxt in self.successors[pid]]
        return current


def parse_obsolete_list(text: str, source: str = "") -> ObsoleteList:
    """Parse obsolete.dat text; lines that are not OBSLTE records (the title) are skipped, as
    are ids that fail validation (they could never name a file)."""
    successors: dict[str, tuple[str, ...]] = {}
    for line in text.splitlines():
        fields = line.split()
        if len(fields) < 3 or fields[0] != "OBSLTE" or not is_valid_pdb_id(fields[2]):
            continue
        following = tuple(normalize_pdb_id(f) for f in fields[3:] if is_valid_pdb_id(f))
        successors[normalize_pdb_id(fields[2])] = following
    return ObsoleteList(successors, source)


def read_obsolete_list(path: str | Path) -> ObsoleteList:
    path = Path(path)
    return parse_obsolete_list(path.read_text(encoding="ascii", errors="replace"), str(path))
