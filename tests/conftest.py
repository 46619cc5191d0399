"""Shared fixtures: paths to the repository, the demo mirror and ../shared/realdata.

Tests read ../shared/realdata in place (never copied into the repository).
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
DEMO_MIRROR = REPO / "demo" / "mirror"
REALDATA = REPO.parent / "shared" / "realdata"


@pytest.fixture(scope="session")
def realdata() -> Path:
    assert REALDATA.is_dir(), f"tests need the real map/model pairs in {REALDATA}"
    return REALDATA


@pytest.fixture
def mirror_copy(tmp_path: Path) -> Path:
    """A writable copy of the demo mirror, for tests that corrupt entries."""
    target = tmp_path / "mirror"
    shutil.copytree(DEMO_MIRROR, target)
    return target
