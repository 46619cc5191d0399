"""An output folder claimed by one writer: created, proven writable and locked before any work.

`cryosse segment --out DIR` spends minutes predicting before it writes; an unwritable DIR must
stop it before that work, and two runs on the same DIR must not mix their files. The lock is an
advisory `flock` on DIR/.cryosse.lock, held for the block and dropped by the kernel if the
process dies, so a crash never leaves a folder locked.
"""

from __future__ import annotations

import errno
import fcntl
import functools
import inspect
import os
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypeVar

F = TypeVar("F", bound=Callable[..., Any])

LOCK_NAME = ".cryosse.lock"


class FolderError(RuntimeError):
    """The folder cannot be used (not a folder, not writable, or in use): one line."""


@contextmanager
def claimed_folder(path: str | Path, option: str = "--out") -> Iterator[Path]:
    """`path`, created if needed, writable, and locked against other cryosse writers for the
    block. A folder this call created is removed again if the block fails before writing in it."""
    folder = Path(path)
    if folder.exists() and not folder.is_dir():
        raise FolderError(f"{option} {folder}: exists and is not a folder")
    created = not folder.exists()
    try:
        folder.mkdir(parents=True, exist_ok=True)
        probe, probe_path = tempfile.mkstemp(prefix=".cryosse-probe-", dir=folder)
        os.close(probe)
        os.unlink(probe_path)
        handle = os.open(folder / LOCK_NAME, os.O_RDWR | os.O_CREAT, 0o644)
    except OSError as exc:
        raise FolderError(f"{option} {folder}: not writable ({exc.strerror})") from None
    try:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as exc:
            if exc.errno not in (errno.EWOULDBLOCK, errno.EAGAIN):
                raise FolderError(f"{option} {folder}: cannot be locked ({exc.strerror})") from None
            raise FolderError(
                f"{option} {folder}: another cryosse run is writing there; wait for it to "
                "finish or choose another folder"
            ) from None
        try:
            yield folder
        except BaseException:
            if created and [p.name for p in folder.iterdir()] == [LOCK_NAME]:
                (folder / LOCK_NAME).unlink()
                folder.rmdir()
            raise
    finally:
        os.close(handle)


def claims_folder(parameter: str, option: str = "--out") -> Callable[[F], F]:
    """Decorate a function that writes into the folder given as `parameter` (when not None):
    the folder is claimed (claimed_folder) before the function does any work."""

    def decorate(function: F) -> F:
        signature = inspect.signature(function)

        @functools.wraps(function)
        def claimed(*args: Any, **kwargs: Any) -> Any:
            folder = signature.bind(*args, **kwargs).arguments.get(parameter)
            if folder is None:
                return function(*args, **kwargs)
            with claimed_folder(folder, option):
                return function(*args, **kwargs)

        return claimed  # type: ignore[return-value]

    return decorate
