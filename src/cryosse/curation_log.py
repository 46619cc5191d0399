"""The curation log: one row per entry, model and chain, kept or excluded, with a reason.

Columns: emdb_id, pdb_id, chain, level (entry / model / chain), status (kept / excluded /
replaced: an obsolete model followed to its successor), reason (a stable code from
cryosse.reasons.Reason), message (a human sentence).
"""

from __future__ import annotations

import csv
import io
from dataclasses import asdict, dataclass
from pathlib import Path

from cryosse.atomic import write_text_atomic

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
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=COLUMNS, delimiter="\t", lineterminator="\n")
    writer.writeheader()
    for row in rows:
        writer.writerow(
            {k: str(v).replace("\t", " ").replace("\n", " ") for k, v in asdict(row).items()}
        )
    return buffer.getvalue()


def write_log(path: str | Path, rows: list[LogRow]) -> None:
    write_text_atomic(path, rows_to_tsv(rows))


def read_log(path: str | Path) -> list[LogRow]:
    with open(path, encoding="utf-8", newline="") as handle:
        return [LogRow(**row) for row in csv.DictReader(handle, delimiter="\t")]
