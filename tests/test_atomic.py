"""Atomic writes publish complete outputs with the usual permissions."""

import os
import stat
from pathlib import Path

import pytest

from cryosse.atomic import atomic_directory, atomic_path, write_text_atomic


def test_published_files_and_folders_are_readable_by_others(tmp_path: Path) -> None:
    old = os.umask(0o022)
    try:
        import importlib

        import cryosse.atomic as atomic

        importlib.reload(atomic)  # the modes are derived from the umask at import
        atomic.write_text_atomic(tmp_path / "a.txt", "x")
        with atomic.atomic_directory(tmp_path / "d") as tmp:
            (tmp / "f").write_text("y")
    finally:
        os.umask(old)
    assert stat.S_IMODE((tmp_path / "a.txt").stat().st_mode) == 0o644
    assert stat.S_IMODE((tmp_path / "d").stat().st_mode) == 0o755


def test_failed_write_leaves_nothing(tmp_path: Path) -> None:
    write_text_atomic(tmp_path / "kept.txt", "old")
    with pytest.raises(RuntimeError), atomic_path(tmp_path / "kept.txt") as tmp:
        tmp.write_text("half")
        raise RuntimeError("crash")
    assert (tmp_path / "kept.txt").read_text() == "old"
    with pytest.raises(RuntimeError), atomic_directory(tmp_path / "dir") as tmp:
        raise RuntimeError("crash")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["kept.txt"]
