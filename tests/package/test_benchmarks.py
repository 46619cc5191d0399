"""Every benchmark runs as a module and answers --help, so none breaks unnoticed (issue 27:
benchmarks/slurm.py was broken until 4e44276). The figures themselves are measured by running
them, never asserted here."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
# machine.py is the facts module the others import, not a benchmark
MODULES = sorted(p.stem for p in (REPO / "benchmarks").glob("*.py") if p.stem != "machine")


def test_the_benchmarks_are_found() -> None:
    assert {"real_maps", "loss_study", "train_step", "model_options"} <= set(MODULES)


@pytest.mark.parametrize("module", MODULES)
def test_each_benchmark_answers_help(module: str) -> None:
    done = subprocess.run(
        [sys.executable, "-m", f"benchmarks.{module}", "--help"],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert "usage:" in done.stdout
