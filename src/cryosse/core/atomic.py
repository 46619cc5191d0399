"""Atomic file and directory writes: write to a temporary sibling, then rename.

A crash leaves either the old file, the new file, or a hidden ".tmp-*" sibling that the next
write removes, never a half-written output under the final name.

A folder is replaced in one step where the kernel can swap two paths (Linux renameat2
RENAME_EXCHANGE); elsewhere the old folder is first renamed aside whole (".old-*"), the new
one renamed in, and only then the old one deleted. A crash between those steps leaves the old
folder complete beside the missing final name, and the next write to that folder (or
`recover_directory`) puts it back; it never leaves an entry half-deleted.
"""

from __future__ import annotations

import contextlib
import ctypes
import errno
import os
import shutil
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path


def _current_umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


# mkstemp/mkdtemp create private (0600/0700) entries; published outputs get the usual modes.
_FILE_MODE = 0o666 & ~_current_umask()
_DIR_MODE = 0o777 & ~_current_umask()


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike[str]) -> Iterator[Path]:
    """Yield a temporary path beside `path`; on success rename it to `path`."""
    final = Path(path)
    final.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=f".tmp-{final.name}.", dir=final.parent)
    os.close(fd)
    tmp = Path(tmp_name)
    try:
        yield tmp
        os.chmod(tmp, _FILE_MODE)
        os.replace(tmp, final)
    finally:
        if tmp.exists():
            tmp.unlink()


def write_text_atomic(path: str | os.PathLike[str], text: str) -> None:
    with atomic_path(path) as tmp:
        tmp.write_text(text, encoding="utf-8")


_AT_FDCWD = -100
_RENAME_EXCHANGE = 2


def _exchange(a: Path, b: Path) -> bool:
    """Swap two existing paths atomically (renameat2 RENAME_EXCHANGE); False where the C
    library, the kernel or the file system cannot."""
    try:
        renameat2 = ctypes.CDLL(None, use_errno=True).renameat2
    except (OSError, AttributeError):
        return False
    if renameat2(_AT_FDCWD, os.fsencode(a), _AT_FDCWD, os.fsencode(b), _RENAME_EXCHANGE) == 0:
        return True
    code = ctypes.get_errno()
    if code in (errno.ENOSYS, errno.EINVAL, errno.EOPNOTSUPP, errno.ENOTSUP):
        return False
    raise OSError(code, os.strerror(code), str(b))


def replace_directory(new: Path, final: Path, exchange: bool = True) -> None:
    """Put the folder `new` at `final`, replacing an existing one without a moment in which
    `final` is half-deleted (see the module docstring)."""
    if not final.exists():
        os.replace(new, final)
        return
    if exchange and _exchange(new, final):
        shutil.rmtree(new)  # now the old folder
        return
    aside = final.with_name(f".old-{final.name}.{uuid.uuid4().hex[:8]}")
    os.replace(final, aside)  # 1. the old folder, whole, beside the final name
    os.replace(new, final)  # 2. the new one in place
    shutil.rmtree(aside)  # 3. only now is anything deleted


def recover_directory(path: str | os.PathLike[str]) -> None:
    """Undo what a crash inside replace_directory left: put a whole old folder back where the
    final name is missing, delete it where the new one is in place."""
    final = Path(path)
    for old in sorted(final.parent.glob(f".old-{final.name}.*")):
        if not final.exists():
            os.replace(old, final)
        else:
            shutil.rmtree(old, ignore_errors=True)


@contextlib.contextmanager
def atomic_directory(path: str | os.PathLike[str]) -> Iterator[Path]:
    """Yield a temporary directory beside `path`; on success it replaces `path` whole."""
    final = Path(path)
    final.parent.mkdir(parents=True, exist_ok=True)
    recover_directory(final)
    for stale in final.parent.glob(f".tmp-{final.name}.*"):
        shutil.rmtree(stale, ignore_errors=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".tmp-{final.name}.", dir=final.parent))
    try:
        yield tmp
        os.chmod(tmp, _DIR_MODE)
        replace_directory(tmp, final)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
