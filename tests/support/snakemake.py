"""The workflow run as a user runs it: Snakemake on the repository's Snakefile, in a folder."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from tests.conftest import REPO

SNAKEMAKE = Path(sys.executable).with_name("snakemake")


def run_snakemake(workdir: Path, config: Path, *extra: str) -> subprocess.CompletedProcess:
    command = [
        str(SNAKEMAKE),
        "-s",
        str(REPO / "Snakefile"),
        "-d",
        str(workdir),
        "--configfile",
        str(config),
        "--cores",
        "2",
        *extra,
    ]
    return subprocess.run(command, capture_output=True, text=True, timeout=600, check=False)
