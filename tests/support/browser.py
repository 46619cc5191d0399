"""Headless Chromium for the tests that look at the HTML report (make test-tools installs it)."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest


def headless_chromium(page: Path, window: str, *action: str) -> subprocess.CompletedProcess:
    """Chromium on `page` in a window of `window` ("width,height") doing `action` (e.g.
    `--screenshot=out.png`, `--dump-dom`); the test is skipped where Chromium is missing."""
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    if chromium is None:
        pytest.skip("chromium is not installed (make test installs it)")
    command = [
        chromium,
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--hide-scrollbars",
        f"--window-size={window}",
        *action,
        page.resolve().as_uri(),
    ]
    return subprocess.run(command, capture_output=True, text=True, timeout=120, check=False)
