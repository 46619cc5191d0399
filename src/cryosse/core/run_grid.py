"""The benchmark grid: loss x Adam learning rate (x focal gamma) x seed, one run id per setting,
and the baselines scored beside the losses.

A run is named by what changes what it learns (loss, γ, learning rate, seed); the rest of the
`training` section is either the recipe every run shares (recorded as the job's params, so a
change re-runs the runs it changes) or how and where a job computes (never a param, so raising
`mem_mb` or moving to a GPU re-runs nothing that has finished).

Seeds: the hyper-parameters of each loss are chosen on validation with the first seed; the
other seeds then train only the chosen setting (`seed_run_ids`), as the paper's protocol of one
choice per loss asks, at a fraction of the cost of the full product.

Kept free of torch so that the Snakefile (parsed again by every cluster job) and the curation
jobs start without importing it.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

# The paper's five losses (cryosse.learn.losses implements them under these names).
LOSSES = ("CE", "FL", "DL", "CE_DL", "FL_DL")
FOCAL_LOSSES = ("FL", "FL_DL")
# The predictors that learned nothing, scored beside the losses (cryosse.evaluate.baselines).
BASELINES = ("threshold", "hessian", "all_helix")

# Keys of `training` that say which runs exist: each run takes one value of each.
GRID_KEYS = ("losses", "learning_rates", "gammas", "seeds")
# Keys of `training` that say how and where a job computes, not what it learns. The arithmetic
# (bf16, channels_last) counts here too: with `auto` it already follows the hardware, as the
# device does.
EXECUTION_KEYS = (
    "device",
    "gpu",
    "threads",
    "mem_mb",
    "runtime",
    "bf16",
    "cpu_bf16",
    "channels_last",
    "compile",
    "cudnn_benchmark",
    "snapshot_every",
)

DEFAULT_GRID: dict[str, list[Any]] = {
    "losses": list(LOSSES),
    "learning_rates": [1e-3, 1e-4, 1e-5],
    "gammas": [1, 2, 5, 8],
    "seeds": [0],
}


@dataclass(frozen=True)
class RunSpec:
    loss: str
    lr: float
    gamma: float | None = None  # only for FL and FL_DL
    seed: int = 0

    @property
    def run_id(self) -> str:
        gamma = f"_g{self.gamma:g}" if self.gamma is not None else ""
        return f"{self.loss}{gamma}_lr{self.lr:g}_s{self.seed}"


# The run_id wildcard's pattern (the Snakefile's constraint), built from the names above.
RUN_ID_PATTERN = f"({'|'.join(LOSSES)})(_g[0-9.e+-]+)?_lr[0-9.e+-]+_s[0-9]+"


def _grid(training: dict[str, Any], key: str) -> list[Any]:
    return list(training.get(key, DEFAULT_GRID[key]))


def seeds(training: dict[str, Any]) -> list[int]:
    """The seeds in the config's order; the first one chooses the hyper-parameters."""
    return [int(s) for s in _grid(training, "seeds")]


def selection_grid(training: dict[str, Any]) -> list[RunSpec]:
    """Loss × learning rate (× γ for the focal losses) with the first seed: the runs the best
    setting per loss is chosen from (33 with the paper's grid)."""
    runs = []
    first_seed = seeds(training)[0]
    for loss in _grid(training, "losses"):
        if loss not in LOSSES:
            raise ValueError(f"unknown loss {loss!r}")
        gammas = _grid(training, "gammas") if loss in FOCAL_LOSSES else [None]
        for lr in _grid(training, "learning_rates"):
            for gamma in gammas:
                g = None if gamma is None else float(gamma)
                runs.append(RunSpec(loss, float(lr), g, first_seed))
    return runs


def training_grid(training: dict[str, Any]) -> list[RunSpec]:
    """Every run the config allows: the selection grid, each setting with every seed."""
    return [replace(spec, seed=s) for spec in selection_grid(training) for s in seeds(training)]


def run_spec(run_id: str, training: dict[str, Any]) -> RunSpec:
    by_id = {spec.run_id: spec for spec in training_grid(training)}
    if run_id not in by_id:
        raise ValueError(f"{run_id!r} is not in the training grid")
    return by_id[run_id]


def seed_run_id(chosen_run_id: str, seed: int, training: dict[str, Any]) -> str:
    """The run of the setting `chosen_run_id` (any seed) with `seed`."""
    return replace(run_spec(chosen_run_id, training), seed=seed).run_id


def run_recipe(training: dict[str, Any]) -> dict[str, Any]:
    """What every run shares and what changes its result: `training` without the grid and
    without the execution settings (the training jobs' params)."""
    return {k: v for k, v in training.items() if k not in GRID_KEYS + EXECUTION_KEYS}


def seed_of(run_id: str) -> int:
    """The seed a run id names (its `_s<seed>` suffix)."""
    head, sep, seed = run_id.rpartition("_s")
    if not sep or not head or not seed.isdigit():
        raise ValueError(f"{run_id!r} names no seed (expected ..._s<seed>)")
    return int(seed)
