"""The cryosse command line as a user runs it: a subprocess in a folder."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path


def cryosse(*args: str, cwd: Path, timeout: float = 300) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "cryosse.cli", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=timeout,
    )
