"""The benchmark grid: loss x Adam learning rate (x focal gamma), one run id per setting, and
the baselines scored beside the losses.

Kept free of torch so that the Snakefile (parsed again by every cluster job) and the curation
jobs start without importing it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

# The paper's five losses (cryosse.learn.losses implements them under these names).
LOSSES = ("CE", "FL", "DL", "CE_DL", "FL_DL")
# The predictors that learned nothing, scored beside the losses (cryosse.evaluate.baselines).
BASELINES = ("threshold", "hessian", "all_helix")


@dataclass(frozen=True)
class RunSpec:
    loss: str
    lr: float
    gamma: float | None = None  # only for FL and FL_DL

    @property
    def run_id(self) -> str:
        gamma = f"_g{self.gamma:g}" if self.gamma is not None else ""
        return f"{self.loss}{gamma}_lr{self.lr:g}"


def training_grid(training: dict[str, Any]) -> list[RunSpec]:
    """Loss × learning rate (× γ for the focal losses): 33 runs with the paper's grid."""
    runs = []
    for loss in training.get("losses", list(LOSSES)):
        if loss not in LOSSES:
            raise ValueError(f"unknown loss {loss!r}")
        gammas = training.get("gammas", [1, 2, 5, 8]) if loss in ("FL", "FL_DL") else [None]
        for lr in training.get("learning_rates", [1e-3, 1e-4, 1e-5]):
            for gamma in gammas:
                runs.append(RunSpec(loss, float(lr), None if gamma is None else float(gamma)))
    return runs


def run_spec(run_id: str, training: dict[str, Any]) -> RunSpec:
    by_id = {spec.run_id: spec for spec in training_grid(training)}
    if run_id not in by_id:
        raise ValueError(f"{run_id!r} is not in the training grid")
    return by_id[run_id]
