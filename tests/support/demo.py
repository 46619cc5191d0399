"""The curation settings the tests use for the demo mirror, and one way to curate its entries."""

from __future__ import annotations

from pathlib import Path

from cryosse.acquire.locate import locate_entry
from cryosse.core.config import ResolutionWindow
from cryosse.curate.entry import curate_entry
from cryosse.curate.settings import CurationSettings
from cryosse.io.mirror import LocalMirror
from tests.conftest import DEMO_MIRROR

# The defaults with a resolution window wide enough for every demo entry (3.2 to 9.8 Å).
WIDE = CurationSettings(resolution=ResolutionWindow(3.0, 10.0))


def curate_demo_entry(emdb_id: str, samples: Path) -> None:
    """Curate one entry of the demo mirror with WIDE, its samples into `samples`."""
    located = locate_entry(emdb_id, LocalMirror.at(DEMO_MIRROR), WIDE.resolution)
    curate_entry(located, WIDE, samples)
