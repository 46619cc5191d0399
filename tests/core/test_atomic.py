"""Atomic writes publish complete outputs with the usual permissions."""

import os
import stat
from pathlib import Path

import pytest

from cryosse.core.atomic import atomic_directory, atomic_path, write_text_atomic


def test_published_files_and_folders_are_readable_by_others(tmp_path: Path) -> None:
    old = os.umask(0o022)
    try:
        import importlib

        import cryosse.core.atomic as atomic

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


def _folder(path: Path, text: str) -> None:
    path.mkdir()
    for name in ("a", "b", "c"):
        (path / name).write_text(text)


def _contents(path: Path) -> dict[str, str]:
    return {p.name: p.read_text() for p in sorted(path.iterdir())}


@pytest.mark.parametrize("exchange", [True, False], ids=["renameat2", "rename_aside"])
def test_replacing_a_folder_keeps_one_whole_version(tmp_path: Path, exchange: bool) -> None:
    from cryosse.core.atomic import replace_directory

    final, new = tmp_path / "entry", tmp_path / "new"
    _folder(final, "old")
    _folder(new, "new")
    replace_directory(new, final, exchange=exchange)
    assert _contents(final) == {"a": "new", "b": "new", "c": "new"}
    assert sorted(p.name for p in tmp_path.iterdir()) == ["entry"]


def test_a_crash_between_the_renames_loses_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The process dies after the old folder went aside and before the new one came in (the
    second rename fails): the old folder is whole, and the next write puts it back first."""
    import cryosse.core.atomic as atomic

    final = tmp_path / "entry"
    _folder(final, "old")
    real_replace = os.replace
    calls: list[int] = []

    def dies_on_the_swap(src: object, dst: object) -> None:
        calls.append(1)
        if len(calls) == 2:
            raise KeyboardInterrupt("killed between the renames")
        real_replace(src, dst)

    monkeypatch.setattr(atomic, "_exchange", lambda a, b: False)
    monkeypatch.setattr(atomic.os, "replace", dies_on_the_swap)
    with pytest.raises(KeyboardInterrupt), atomic_directory(final) as tmp:
        (tmp / "a").write_text("new")
    monkeypatch.undo()
    assert not final.exists()
    (aside,) = tmp_path.glob(".old-entry.*")
    assert _contents(aside) == {"a": "old", "b": "old", "c": "old"}  # nothing deleted
    # the next write of that folder fails too: the old one is back, whole
    with pytest.raises(RuntimeError), atomic_directory(final):
        raise RuntimeError("crash")
    assert _contents(final) == {"a": "old", "b": "old", "c": "old"}
    assert sorted(p.name for p in tmp_path.iterdir()) == ["entry"]
