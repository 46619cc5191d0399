"""The curation log: one row per entry, model and chain, kept or excluded, with a reason.

Columns: emdb_id, pdb_id, chain, level (entry / model / chain), status (kept / excluded /
replaced: an obsolete model followed to its successor), reason (a stable code from
cryosse.core.reasons.Reason), message (a human sentence).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path

from cryosse.core.atomic import write_text_atomic
from cryosse.core.tsv import read_tsv, tsv_text

COLUMNS = ["emdb_id", "pdb_id", "chain", "level", "status", "reason", "message"]


@dataclass(frozen=True)
class LogRow:
    emdb_id: str
    pdb_id: str
    chain: str
    level: str
    status: str
    reason: str
    message: str


def rows_to_tsv(rows: list[LogRow]) -> str:
    cells = (
        {k: str(v).replace("\t", " ").replace("\n", " ") for k, v in asdict(r).items()}
        for r in rows
    )
    return tsv_text(COLUMNS, cells)


def write_log(path: str | Path, rows: list[LogRow]) -> None:
    write_text_atomic(path, rows_to_tsv(rows))


def read_log(path: str | Path) -> list[LogRow]:
    return [LogRow(**row) for row in read_tsv(path)]
