"""The versioned entry list (entries.tsv): which EMDB entries make up a dataset, and why.

One row per entry, in the order entries were added; rows are only ever appended, so a dataset
is reproducible from this file alone and an addition never reorders what exists.

    emdb_id fitted_pdbs resolution method release_date map_size_kbytes source query retrieved

`source` is "search" (an EMDB search, whose Solr `query` is recorded) or "manual"
(`cryosse add`); `retrieved` is the UTC time the row was written. Only emdb_id is required when
reading, so a hand-written one-column list works too.
"""

from __future__ import annotations

import fcntl
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, fields
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from cryosse.core.atomic import write_text_atomic
from cryosse.core.ids import is_valid_emdb_id, normalize_emdb_id
from cryosse.core.tsv import read_tsv, tsv_text, write_tsv


@dataclass
class EntryRecord:
    emdb_id: str
    fitted_pdbs: str = ""  # comma-separated, validated ids
    resolution: str = ""
    method: str = ""
    release_date: str = ""
    map_size_kbytes: str = ""
    source: str = "manual"
    query: str = ""
    retrieved: str = ""


ENTRY_COLUMNS = [f.name for f in fields(EntryRecord)]


def utc_timestamp(when: datetime | None = None) -> str:
    return (when or datetime.now(UTC)).astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


class EntryListError(ValueError):
    """An entry list that cannot be read as one (binary, no header, no emdb_id column)."""


# An entry list is a few MB at most (one short row per entry): reading more is refused.
MAX_ENTRY_LIST_BYTES = 64 * 1024 * 1024


def _entry_list_text(path: Path) -> str:
    if path.is_dir():
        raise EntryListError(f"{path}: a folder, not an entry list (name a .tsv file)")
    if path.stat().st_size > MAX_ENTRY_LIST_BYTES:
        raise EntryListError(f"{path}: {path.stat().st_size} bytes: not an entry list")
    raw = path.read_bytes()
    if b"\0" in raw:
        raise EntryListError(f"{path}: binary data, not a tab-separated entry list")
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise EntryListError(f"{path}: not UTF-8 text ({exc.reason} at byte {exc.start})") from None


def _header(path: Path, text: str) -> list[str]:
    header = text.split("\n", 1)[0].rstrip("\r").split("\t")
    if "emdb_id" not in header:
        first = header[0][:40] if header and header[0] else "an empty line"
        raise EntryListError(
            f"{path}: the first line must be a header naming an 'emdb_id' column "
            f"(then one entry per line); it is {first!r}"
        )
    return header


def read_entry_table(path: str | Path) -> list[EntryRecord]:
    """Rows of an entry list; ids are kept as written (validation happens downstream, where an
    invalid id is logged as excluded). Raises EntryListError for a file that is not one."""
    path = Path(path)
    _header(path, _entry_list_text(path))
    rows = read_tsv(path)
    known = set(ENTRY_COLUMNS)
    return [EntryRecord(**{k: (v or "") for k, v in row.items() if k in known}) for row in rows]


def write_entry_table(path: str | Path, records: list[EntryRecord]) -> None:
    write_tsv(path, ENTRY_COLUMNS, (asdict(r) for r in records))


@dataclass(frozen=True)
class Addition:
    added: list[str]
    already_present: list[str]
    invalid: list[str]


@contextmanager
def _list_locked(path: Path) -> Iterator[None]:
    """An exclusive lock on one entry list across processes, held over the read-modify-write:
    16 concurrent `cryosse add` lost 6-8 of their rows without it. The lock is a hidden file
    beside the list, because the list itself is replaced (atomically) by each write."""
    with open(path.parent / f".{path.name}.lock", "a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def add_entries(
    path: str | Path,
    new: list[EntryRecord],
) -> Addition:
    """Append records for ids not yet in the list (existing rows are left byte-identical);
    invalid ids are refused here, before they could reach a path. Concurrent additions to one
    list (`cryosse add`, `cryosse search`) take turns, so none is lost."""
    path = Path(path)
    if path.is_dir():
        raise EntryListError(f"{path}: a folder, not an entry list (name a .tsv file)")
    if not path.parent.is_dir():
        raise EntryListError(f"{path}: its folder {path.parent} does not exist")
    try:
        with _list_locked(path):
            return _add_unlocked(path, new)
    except OSError as exc:  # a full disk, say: the list is unchanged (atomic), and named
        if exc.filename:
            raise
        raise OSError(exc.errno, f"{exc.strerror or exc}; unchanged", str(path)) from exc


def _add_unlocked(path: Path, new: list[EntryRecord]) -> Addition:
    existing = read_entry_table(path) if path.exists() else []
    present = {normalize_emdb_id(r.emdb_id) for r in existing if is_valid_emdb_id(r.emdb_id)}
    added: list[str] = []
    already: list[str] = []
    invalid: list[str] = []
    appended: list[EntryRecord] = []
    for record in new:
        if not is_valid_emdb_id(record.emdb_id):
            invalid.append(record.emdb_id)
            continue
        emdb_id = normalize_emdb_id(record.emdb_id)
        if emdb_id in present:
            already.append(emdb_id)
            continue
        present.add(emdb_id)
        record.emdb_id = emdb_id
        record.retrieved = record.retrieved or utc_timestamp()
        appended.append(record)
        added.append(emdb_id)
    if not path.exists():
        write_entry_table(path, appended)
    elif appended:
        # Append to the exact bytes that are there, in the file's own columns and line ending,
        # so existing rows cannot change (columns the list lacks are not written).
        text = _entry_list_text(path)
        columns = _header(path, text)
        newline = "\r\n" if text.split("\n", 1)[0].endswith("\r") else "\n"
        kept = [{k: v for k, v in asdict(r).items() if k in columns} for r in appended]
        rows = tsv_text(columns, kept, header=False).replace("\n", newline)
        write_text_atomic(path, text + ("" if text.endswith("\n") or not text else newline) + rows)
    return Addition(added, already, invalid)


def entry_ids_from_config(config: dict[str, Any]) -> list[str]:
    """The raw ids of a config: its `entries` list, then the rows of its `entries_file`."""
    ids = list(config.get("entries") or [])
    table = config.get("entries_file")
    if table:
        ids += [record.emdb_id for record in read_entry_table(table)]
    return ids
