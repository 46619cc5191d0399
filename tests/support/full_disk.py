"""A real full file system for the disk-full tests: a small tmpfs, mounted for one test (root
only; the tests that use it are skipped elsewhere), filled so that the next write fails with
ENOSPC as it does on a full disk."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

needs_root = pytest.mark.skipif(
    os.geteuid() != 0, reason="mounting a tmpfs to fill needs root (CI runs the tests as root)"
)


@contextmanager
def small_tmpfs(path: Path, size_kb: int) -> Iterator[Path]:
    """`path` as a tmpfs of `size_kb` KiB for the block."""
    path.mkdir(parents=True, exist_ok=True)
    subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={size_kb}k", "tmpfs", str(path)], check=True
    )
    try:
        yield path
    finally:
        subprocess.run(["umount", "-l", str(path)], check=False)


def fill(folder: Path, leave_bytes: int = 0) -> None:
    """Write into `folder` until fewer than `leave_bytes` (+ one block) are free."""
    stat = os.statvfs(folder)
    free = stat.f_bavail * stat.f_frsize - leave_bytes
    with open(folder / "filler", "wb", buffering=0) as handle:
        for size in (max(0, free), 4096, 512, 1):  # the last blocks, to the last byte
            try:
                while handle.write(b"\0" * size):
                    if size == max(0, free):
                        break
            except OSError:
                continue
