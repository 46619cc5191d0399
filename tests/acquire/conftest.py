"""The loopback archive serving the demo mirror, shared by the acquisition tests."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.conftest import DEMO_MIRROR
from tests.support.archive_server import ArchiveServer, start_server, stop_server


@pytest.fixture
def server() -> Iterator[ArchiveServer]:
    state, httpd = start_server()
    state.serve_mirror(DEMO_MIRROR)
    state.files["/wwpdb/obsolete.dat"] = b" LIST OF OBSOLETE COORDINATE ENTRIES AND SUCCESSORS\n"
    yield state
    stop_server(state, httpd)
