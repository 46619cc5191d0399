"""demo/build_mirror.py, written on the package's mirror writer, rebuilds the committed demo
mirror byte for byte (every file and MANIFEST.tsv), and a rerun leaves it unchanged."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

from tests.conftest import DEMO_MIRROR, REPO


def _build_mirror_script() -> ModuleType:
    spec = importlib.util.spec_from_file_location("build_mirror", REPO / "demo" / "build_mirror.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up while the class is built
    spec.loader.exec_module(module)
    return module


def _files(root: Path) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in root.rglob("*") if p.is_file()}


def test_rebuilt_demo_mirror_is_byte_identical(realdata: Path, tmp_path: Path) -> None:
    script = _build_mirror_script()
    out = tmp_path / "mirror"
    rows = script.build_mirror(realdata, out)
    committed, rebuilt = _files(DEMO_MIRROR), _files(out)
    assert sorted(rebuilt) == sorted(committed)
    assert [name for name in committed if rebuilt[name] != committed[name]] == []
    assert len(rows) == 3 * len(script.ENTRIES)
    mtimes = {p: p.stat().st_mtime_ns for p in out.rglob("*") if p.is_file()}
    script.build_mirror(realdata, out)  # unchanged bytes: no file is rewritten
    assert {p: p.stat().st_mtime_ns for p in out.rglob("*") if p.is_file()} == mtimes
