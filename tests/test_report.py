"""The HTML report's opening banner: figures of a run trained for a few steps are labelled."""

from __future__ import annotations

import json
from pathlib import Path

from cryosse.report import MIN_TRAINING_STEPS, plumbing_banner, training_steps


def _run(results: Path, name: str, epochs: int, steps_per_epoch: int) -> None:
    folder = results / "training" / name
    folder.mkdir(parents=True)
    summary = {"epochs_run": epochs, "steps_per_epoch": steps_per_epoch, "train_cases": 3}
    (folder / "summary.json").write_text(json.dumps(summary))


def test_banner_when_no_run_trained_long_enough(tmp_path: Path) -> None:
    _run(tmp_path, "CE_lr0.001", 2, 3)
    _run(tmp_path, "FL_DL_g2_lr0.001", 3, 4)
    assert training_steps(tmp_path) == [6, 12]
    assert "only prove the plumbing" in plumbing_banner(training_steps(tmp_path))
    assert "at most 12 optimisation steps" in plumbing_banner([6, 12])


def test_no_banner_once_a_run_trained_long() -> None:
    assert plumbing_banner([10, MIN_TRAINING_STEPS]) == ""
    assert plumbing_banner([]) == ""
