"""What the whole run of a config will cost: samples, splits, training grid and evaluation,
on a GPU and, for comparison, on one measured CPU core (`cryosse estimate`).

It builds on the data set's cost (cryosse.acquire.estimate); as there, each printed line says
which figures are measured, which are extrapolated, and on what hardware.

After curation (or before, from `SAMPLES_PER_ENTRY` = 0.95 samples per entry, 749 from those
787 entries, or from the paper's 1,355 samples):

- *splits*: `SPLITS_S_PER_SAMPLE` = 0.031 s per sample (MMseqs2 clustering, assignment and the
  report: 23.2 s for those 749 samples, extrapolated linearly).
- *training*, the grid of `cryosse.core.run_grid` (losses × learning rates × γ for the focal losses
  with the first seed, each loss's chosen setting with every other seed, and each loss on every
  cross-validation fold): every run to `training.epochs` (early stopping only shortens it) ×
  (steps per epoch × one step on a `crop_size`³ crop + one forward per validation box). A step
  costs its crop's voxels × a measured time per voxel (`StepTime`): on a GPU the only figure is
  "one H100: 31 ms per 112³ training step in bf16", quoted from the project brief and NOT
  measured by this project (benchmarks/train_step.py measures your own GPU; pass its step time
  with `--step-ms`); on a CPU, 12.0 s per 64³ step of the paper's network (base 64, depth 2,
  bf16 + channels_last_3d, one thread of the 2-core AMD EPYC, measured with
  benchmarks/train_step.py's step). A validation forward costs `FORWARD_PER_STEP_VOXEL` = 0.375
  of a step per voxel (measured on that CPU: 11.7 s for an 88³ forward); other networks scale by
  (base / 64)² (the convolutions' multiply-adds), and data loading is not counted.
- *evaluation*: one forward per test case for every loss × seed and every fold × loss (GPU),
  and on the CPU the baselines, `BASELINE_S_PER_CASE` = 15 s per baseline and test case (the
  demo's evaluate_baseline jobs: 14-15 s for one test case, start-up included: an upper bound)
  and the tables and report, `REPORT_S` = 22 s (make_tables, cv_table, html_report on the demo).
"""

from __future__ import annotations

import math
import statistics
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cryosse.acquire.estimate import ACQUISITION_S_PER_ENTRY, SAMPLES_PER_ENTRY, Estimate
from cryosse.core.run_grid import BASELINES, seeds, selection_grid
from cryosse.core.tsv import read_tsv

SPLITS_S_PER_SAMPLE = 0.031
FORWARD_PER_STEP_VOXEL = 0.375
BASELINE_S_PER_CASE = 15.0
REPORT_S = 22.0
# The paper's data set (Mu et al. 2024): 1,355 box-cropped pairs, 1,246 / 47 / 62.
PAPER_SPLIT = (1246, 47, 62)
# The network the step times were measured on: DeepSSETracer's U-Net (model.base, model.depth).
MEASURED_BASE, MEASURED_DEPTH = 64, 2


def _hours(hours: float) -> str:
    return f"{hours:,.0f}" if hours >= 10 else f"{hours:.2g}"


@dataclass(frozen=True)
class StepTime:
    """One training step of the paper's network (base 64, depth 2, batch 1) on a size³ crop."""

    hardware: str
    seconds: float
    size: int
    source: str  # measured where, or quoted from where

    def seconds_for(self, voxels: float, base: int) -> float:
        """A step on `voxels` voxels of a network of width `base`: by voxel count and by the
        convolutions' multiply-adds, (base / 64)²."""
        return self.seconds * voxels / self.size**3 * (base / MEASURED_BASE) ** 2


GPU_STEP = StepTime(
    "one H100, bf16",
    0.031,
    112,
    "quoted from the project brief, not measured by this project; measure yours with "
    "benchmarks/train_step.py and pass --step-ms",
)
CPU_STEP = StepTime(
    "one core of an AMD EPYC (avx512_bf16, no AMX), bf16 + channels_last_3d",
    12.0,
    64,
    "measured with benchmarks/train_step.py's step, 2026-12-07, load average 4.7",
)


@dataclass(frozen=True)
class Samples:
    """The samples the training sees, and where the counts come from."""

    train: int
    validation: int
    test: int
    mean_voxels: float  # of a whole sample box (a validation or test forward)
    source: str

    @property
    def total(self) -> int:
        return self.train + self.validation + self.test


# Mean box of the 749 samples of the offline study build (voxels): the forward of a sample when
# the run's own manifest is not there yet.
MEAN_SAMPLE_VOXELS = 621_157


def split_samples(
    total: int,
    proportions: dict[str, float],
    source: str,
    mean_voxels: float = MEAN_SAMPLE_VOXELS,
) -> Samples:
    """`total` samples shared out by the config's split proportions (splits.proportions)."""
    whole = sum(proportions.values())
    if total < 0 or whole <= 0:
        raise ValueError(f"cannot share {total} samples by {proportions}")
    validation = round(total * proportions["validation"] / whole)
    test = round(total * proportions["test"] / whole)
    return Samples(total - validation - test, validation, test, mean_voxels, source)


def run_samples(manifest: Path, main_tsv: Path | None, proportions: dict[str, float]) -> Samples:
    """The samples of a curated run: its manifest (box sizes), shared as its split table has
    them, or by the proportions before the splits exist."""
    rows = read_tsv(manifest)
    voxels = [int(r["nx"]) * int(r["ny"]) * int(r["nz"]) for r in rows]
    mean = statistics.fmean(voxels) if voxels else MEAN_SAMPLE_VOXELS
    if main_tsv is None or not main_tsv.is_file():
        return split_samples(
            len(rows), proportions, f"{manifest}, shared by splits.proportions", mean
        )
    kept = {r["sample_id"] for r in rows}
    counts = {"train": 0, "validation": 0, "test": 0}
    for row in read_tsv(main_tsv):
        if row["sample_id"] in kept and row["split"] in counts:
            counts[row["split"]] += 1
    return Samples(
        counts["train"], counts["validation"], counts["test"], mean, f"{manifest} and {main_tsv}"
    )


@dataclass(frozen=True)
class Training:
    """The grid's training and evaluation forwards on one kind of hardware."""

    step: StepTime
    selection_runs: int
    seed_runs: int
    cv_runs: int
    epochs: int
    steps_per_epoch: int
    step_s: float  # one step of the config's batch of crop_size³ crops
    forward_s: float  # one forward of a whole sample box
    evaluation_forwards: int

    @property
    def runs(self) -> int:
        return self.selection_runs + self.seed_runs + self.cv_runs

    def epoch_s(self, validation: int) -> float:
        return self.steps_per_epoch * self.step_s + validation * self.forward_s

    def hours(self, validation: int) -> float:
        training = self.runs * self.epochs * self.epoch_s(validation)
        return (training + self.evaluation_forwards * self.forward_s) / 3600


def training_cost(config: dict[str, Any], samples: Samples, step: StepTime) -> Training:
    """The whole grid of `config` (validated, defaults filled in) on `samples`, every run to
    its last epoch, at `step`'s speed."""
    training, model = config["training"], config["model"]
    losses = list(dict.fromkeys(training["losses"]))
    extra_seeds = len(seeds(training)) - 1
    folds = int(config["splits"]["n_folds"])
    batch = int(training["batch_size"])
    steps = training["steps_per_epoch"] or max(1, math.ceil(samples.train / batch))
    base = int(model["base"])
    return Training(
        step=step,
        selection_runs=len(selection_grid(training)),
        seed_runs=extra_seeds * len(losses),
        cv_runs=folds * len(losses),
        epochs=int(training["epochs"]),
        steps_per_epoch=int(steps),
        step_s=step.seconds_for(batch * int(training["crop_size"]) ** 3, base),
        forward_s=FORWARD_PER_STEP_VOXEL * step.seconds_for(samples.mean_voxels, base),
        # each loss × seed on the test set, each fold × loss on its test fold (about as large)
        evaluation_forwards=(len(losses) * (extra_seeds + 1) + folds * len(losses)) * samples.test,
    )


@dataclass(frozen=True)
class RunEstimate:
    data: Estimate | None  # None: no entry list and no --entries
    data_source: str
    samples: Samples
    gpu: Training
    cpu: Training
    crop: str  # the training batch, e.g. "one 64³ crop"
    notes: tuple[str, ...]

    @property
    def cpu_hours(self) -> dict[str, float]:
        """CPU-hours per stage (one core per job)."""
        entries = self.data.entries if self.data else 0
        curation = (self.data.curation_cpu_s if self.data else 0.0) + (
            ACQUISITION_S_PER_ENTRY * entries
        )
        evaluation = len(BASELINES) * self.samples.test * BASELINE_S_PER_CASE + REPORT_S
        return {
            "curation": curation / 3600,
            "splits": SPLITS_S_PER_SAMPLE * self.samples.total / 3600,
            "evaluation": evaluation / 3600,
        }

    def lines(self) -> list[str]:
        gpu, s = self.gpu, self.samples
        out = [f"data set ({self.data_source}):"]
        if self.data is None:
            out.append(
                "  entries, download, disk: unknown until `cryosse search` writes the entry list "
                "(or plan with --entries N --map-mb MB)"
            )
        else:
            out += ["  " + line for line in self.data.volume_lines()]
        out.append(
            f"samples: {s.total:,} ({s.train:,} train / {s.validation:,} validation / "
            f"{s.test:,} test; {s.source})"
        )
        hours = self.cpu_hours
        curation = (
            f"{hours['curation']:,.2f}" if self.data else "unknown until the entries are known"
        )
        out += [
            "CPU-hours, one core per job (costs measured per entry, map MB and sample on the "
            "2-core AMD EPYC, scaled to these counts):",
            f"  curation   {curation} (acquisition from the cache + curate_entry; the download "
            "itself takes what the network gives)",
            f"  splits     {hours['splits']:,.2f} (MMseqs2 clusters, assignment, report)",
            f"  evaluation {hours['evaluation']:,.2f} ({len(BASELINES)} baselines × "
            f"{s.test:,} test cases, tables, report)",
            f"GPU-hours: {gpu.runs} training runs ({gpu.selection_runs} loss × learning rate × "
            f"γ, {gpu.seed_runs} for more seeds, {gpu.cv_runs} cross-validation) × at most "
            f"{gpu.epochs} epochs × ({gpu.steps_per_epoch:,} steps of {self.crop} + "
            f"{s.validation:,} validation forwards of a {s.mean_voxels:,.0f}-voxel box), then "
            f"{gpu.evaluation_forwards:,} test forwards:",
        ]
        for t, unit, what in ((gpu, "GPU-hours", ""), (self.cpu, "CPU-hours", "for comparison, ")):
            out.append(
                f"  {what}{t.step.hardware}: {_hours(t.hours(s.validation))} {unit} "
                f"({t.step_s:.3g} s per step, {t.epoch_s(s.validation) / 60:,.1f} min per epoch)"
                f"; extrapolated by voxel count from {t.step.seconds:g} s per {t.step.size}³ "
                f"step, {t.step.source}"
            )
        out += [f"note: {n}" for n in self.notes]
        return out


def estimate_run(
    config: dict[str, Any],
    data: Estimate | None,
    data_source: str,
    samples: Samples | None = None,
    gpu_step: StepTime = GPU_STEP,
) -> RunEstimate:
    """The whole run of `config`: the data set (`data`, from the entry list or a planned count),
    its samples (`samples`, from the run's manifest or given; else from the entries, else the
    paper's), the training grid on a GPU and, for comparison, on one measured CPU core."""
    proportions = dict(config["splits"]["proportions"])
    if samples is None:
        if data is not None and data.entries:
            total = round(SAMPLES_PER_ENTRY * data.entries)
            why = (
                f"{SAMPLES_PER_ENTRY} per entry, the offline study build's 749 from 787 entries, "
                "most of them simulated"
            )
        else:
            total = sum(PAPER_SPLIT)
            why = "the paper's data set size; yours is known after curation"
        samples = split_samples(total, proportions, f"{why}, shared by splits.proportions")
    batch, side = int(config["training"]["batch_size"]), int(config["training"]["crop_size"])
    notes = [
        "every run counted to its last epoch: early stopping (patience) only shortens it",
        "data loading and checkpoints are not counted (not measured)",
    ]
    if gpu_step.size > side:
        notes.append(
            f"the GPU step is scaled down from {gpu_step.size}³ to {side}³ by voxel count; a GPU "
            "is used less fully on a smaller crop, so the GPU-hours are a lower bound (measure "
            f"benchmarks/train_step.py --sizes {side} on your GPU, then --step-ms and "
            f"--step-size {side})"
        )
    if int(config["model"]["depth"]) != MEASURED_DEPTH:
        notes.append(
            f"model.depth {config['model']['depth']}: the step times are of depth "
            f"{MEASURED_DEPTH}, not rescaled"
        )
    return RunEstimate(
        data=data,
        data_source=data_source,
        samples=samples,
        gpu=training_cost(config, samples, gpu_step),
        cpu=training_cost(config, samples, CPU_STEP),
        crop=f"{'one' if batch == 1 else batch} {side}³ crop{'s' if batch > 1 else ''}",
        notes=tuple(notes),
    )
