"""What an entry's record says of a file's content check (`NOT_VERIFIABLE` where nothing
published about the file could check it), and the checks already done, remembered by file
identity: a verified ".part" keeps its inode, size and mtime when it is renamed onto its final
name, so the record reuses the download's result instead of reading the file again."""

from __future__ import annotations

import threading
from pathlib import Path

# What the record says when nothing published about a file could check its content.
NOT_VERIFIABLE = "not verifiable"
_checked: dict[tuple[object, ...], str] = {}
_checked_lock = threading.Lock()


def file_identity(path: Path, *extra: object) -> tuple[object, ...]:
    """The file's identity (device, inode, size, mtime), with `extra` (what it was checked
    against), as the key of a check's result."""
    st = path.stat()
    return (st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns, *extra)


def recalled(key: tuple[object, ...]) -> str | None:
    """The note of a check already done on this key, or None."""
    with _checked_lock:
        return _checked.get(key)


def remember(key: tuple[object, ...], note: str) -> None:
    with _checked_lock:
        _checked[key] = note
