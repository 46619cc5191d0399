"""Shared fixtures: paths to the repository, the demo mirror, ../shared/realdata, the seed
paper's text in ../shared/paper, and the demo entries curated once per session.

Tests read ../shared in place (never copied into the repository).
"""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
DEMO_MIRROR = REPO / "demo" / "mirror"
REALDATA = REPO.parent / "shared" / "realdata"
PAPER = REPO.parent / "shared" / "paper"


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


@pytest.fixture(scope="session")
def paper_text() -> str:
    """The seed paper's text (Mu et al. 2024); the test is skipped where it is not at hand."""
    texts = sorted(PAPER.glob("*.txt")) if PAPER.is_dir() else []
    if not texts:
        pytest.skip(f"the paper's text is not in {PAPER}")
    return texts[0].read_text(encoding="utf-8")


@pytest.fixture(scope="session")
def demo_samples(tmp_path_factory: pytest.TempPathFactory) -> Callable[[str], Path]:
    """`demo_samples("EMD-8518")`: the folder of that demo entry's samples, curated with
    tests.support.demo.WIDE once per session. Shared: copy a sample before changing it."""
    from tests.support.demo import curate_demo_entry

    root = tmp_path_factory.mktemp("demo_samples")
    done: dict[str, Path] = {}

    def samples(emdb_id: str) -> Path:
        if emdb_id not in done:
            curate_demo_entry(emdb_id, root / emdb_id)
            (root / emdb_id).mkdir(exist_ok=True)  # an entry may give no sample
            done[emdb_id] = root / emdb_id
        return done[emdb_id]

    return samples
