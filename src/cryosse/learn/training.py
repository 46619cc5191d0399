"""Train one U-Net with one loss and one hyper-parameter setting; resume after a kill.

A run (one Snakemake job) reads the training and validation samples named by the main split,
trains with Adam on random fixed-size crops (one of the 48 axis symmetries each), evaluates the
whole validation boxes after every epoch, and keeps:

    <run dir>/last.pt       model + optimiser + RNG states + history + the best weights so far,
                            written atomically every epoch; a killed job resumes from it, losing
                            at most one epoch. It carries a fingerprint of the run's inputs (run,
                            settings, model, and the sample.json of every training/validation
                            case): when Snakemake re-runs the job because the data changed, the
                            fingerprint differs and training starts afresh.
    <run dir>/best.pt       the weights of the best validation epoch, as a checkpoint with its
                            metadata (cryosse.learn.checkpoint: model config, normalisation,
                            classes,
                            run spec, training data summary, versions)
    <run dir>/history.csv   per epoch: train loss, validation loss, helix/sheet F1, metric, time
    <run dir>/summary.json  best epoch and metric, epochs run, early stop, device, seconds

Selection metric (paper): mean over validation cases of helix F1 and of sheet F1, averaged
(cryosse.core.metrics). Early stopping after `patience` epochs without improvement.

GPU when present (device "auto"), CPU otherwise. Speed switches, all off by default on CPU so
the fp32 reference path stays the default there: bf16 autocast, channels_last_3d memory
format, torch.compile, cuDNN autotuning. Seeds: Python, NumPy and torch are seeded per run;
with cuDNN autotuning off and deterministic algorithms requested, a CPU run is repeatable.
"""

from __future__ import annotations

import json
import math
import random
import time
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from tqdm import tqdm

from cryosse.core.atomic import write_text_atomic
from cryosse.core.classes import HELIX, SHEET
from cryosse.core.config import ModelSettings
from cryosse.core.metrics import selection_metric, voxel_f1
from cryosse.core.run_grid import RunSpec
from cryosse.learn.augment import (
    Box,
    apply_symmetry,
    coarsen_box,
    contrasted,
    load_box,
    random_crop,
    zoned,
)
from cryosse.learn.checkpoint import network_grid, save_checkpoint, training_data_summary
from cryosse.learn.device import Device, describe_cpu
from cryosse.learn.losses import SegmentationLoss
from cryosse.learn.predict import predict_box
from cryosse.learn.run_state import (
    Progress,
    RunContext,
    history_text,
    load_resume_state,
    run_checkpoint,
    run_fingerprint,
    save_resume_state,
    weights_of,
)
from cryosse.learn.settings import TrainSettings, pick_device
from cryosse.learn.training_memory import check_training_memory
from cryosse.learn.unet import UNet3D, build_model


@dataclass
class Validation:
    loss: float
    f1_helix: list[float | None] = field(default_factory=list)
    f1_sheet: list[float | None] = field(default_factory=list)

    @property
    def metric(self) -> float:
        return selection_metric(self.f1_helix, self.f1_sheet)


def validate(
    model: UNet3D, boxes: list[Box], loss_fn: SegmentationLoss, device: Device
) -> Validation:
    """Loss and F1 on whole validation boxes, on the network's grid (coarsened labels when the
    network's grid is coarser than the samples': a selection metric, not the reported one)."""
    losses = []
    result = Validation(loss=math.nan)
    for box in boxes:
        probs = predict_box(model, box, device)
        pred = probs.argmax(axis=0)
        result.f1_helix.append(voxel_f1(pred, box.labels, box.central, HELIX))
        result.f1_sheet.append(voxel_f1(pred, box.labels, box.central, SHEET))
        logits = torch.from_numpy(np.log(np.clip(probs, 1e-12, None)))[None]
        losses.append(
            float(
                loss_fn(
                    logits, torch.from_numpy(box.labels)[None], torch.from_numpy(box.central)[None]
                )
            )
        )
    result.loss = float(np.mean(losses)) if losses else math.nan
    return result


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


def _batch(
    boxes: list[Box], settings: TrainSettings, rng: np.random.Generator
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    densities, labels, masks = [], [], []
    for _ in range(settings.batch_size):
        box = boxes[int(rng.integers(len(boxes)))]
        if settings.zone_probability > 0 and rng.random() < settings.zone_probability:
            box = zoned(box, float(rng.uniform(*settings.zone_radius)))
        d, lab, m = random_crop(box, settings.crop_size, rng)
        if settings.contrast_probability > 0 and rng.random() < settings.contrast_probability:
            low, high = np.log(settings.contrast_power)
            d = contrasted(d, float(np.exp(rng.uniform(low, high))))
        symmetry = int(rng.integers(48))
        densities.append(apply_symmetry(d, symmetry))
        labels.append(apply_symmetry(lab, symmetry))
        masks.append(apply_symmetry(m, symmetry))
    return (
        torch.from_numpy(np.stack(densities))[:, None],
        torch.from_numpy(np.stack(labels)),
        torch.from_numpy(np.stack(masks)),
    )


def train_step(
    model: Callable[[torch.Tensor], torch.Tensor],
    optimizer: torch.optim.Optimizer,
    loss_fn: SegmentationLoss,
    batch: tuple[torch.Tensor, torch.Tensor, torch.Tensor],
    device: Device,
) -> float:
    """One optimisation step on (density, labels, central mask); the loss before the step.
    benchmarks/train_step.py times this function."""
    x, y, m = (t.to(device.torch_device) for t in batch)
    if device.channels_last:
        x = x.contiguous(memory_format=torch.channels_last_3d)
    optimizer.zero_grad(set_to_none=True)
    with device.amp():
        logits = model(x)
    loss = loss_fn(logits.float(), y, m)
    loss.backward()
    optimizer.step()
    return float(loss.detach())


@dataclass
class _Run:
    """What a run sets up once: the network, its optimiser and RNG, the boxes, the metadata."""

    spec: RunSpec
    settings: TrainSettings
    device: Device
    model: UNet3D
    optimizer: torch.optim.Optimizer
    loss_fn: SegmentationLoss
    step_fn: Callable[[torch.Tensor], torch.Tensor]
    rng: np.random.Generator
    train_boxes: list[Box]
    val_boxes: list[Box]
    steps: int  # per epoch
    fingerprint: str
    context: RunContext


def _set_up(
    spec: RunSpec,
    settings: TrainSettings,
    model_settings: ModelSettings,
    train_dirs: list[Path],
    val_dirs: list[Path],
) -> _Run:
    """The run's network, optimiser, RNG and boxes; the seeding and the order of the draws here
    make a CPU run repeatable."""
    if settings.threads:
        torch.set_num_threads(settings.threads)
    device = pick_device(settings)
    grid = network_grid(model_settings, train_dirs + val_dirs)
    # before anything is allocated: absurd settings end here in one line, not minutes later
    check_training_memory(model_settings, settings, train_dirs, val_dirs, grid.factor, device)
    torch.backends.cudnn.benchmark = settings.cudnn_benchmark
    seed_everything(spec.seed)
    model = build_model(model_settings).to(device.torch_device)
    if device.channels_last:
        # Module.to's stub overloads omit memory_format, which it accepts at run time
        model = model.to(memory_format=torch.channels_last_3d)  # type: ignore[call-overload]
    optimizer = torch.optim.Adam(model.parameters(), lr=spec.lr, weight_decay=settings.weight_decay)
    loss_fn = SegmentationLoss(spec.loss, gamma=spec.gamma or 0.0)
    step_fn = torch.compile(model) if settings.compile else model
    rng = np.random.default_rng(spec.seed)
    zone = settings.zone_probability > 0
    train_boxes = [coarsen_box(load_box(d, zone), grid.factor) for d in train_dirs]
    val_boxes = [coarsen_box(load_box(d), grid.factor) for d in val_dirs]
    steps = settings.steps_per_epoch or max(1, math.ceil(len(train_boxes) / settings.batch_size))
    fingerprint = run_fingerprint(spec, settings, model_settings, train_dirs, val_dirs)
    context = RunContext(
        spec, settings, model_settings, grid, training_data_summary(train_dirs, val_dirs)
    )
    return _Run(
        spec,
        settings,
        device,
        model,
        optimizer,
        loss_fn,
        step_fn,
        rng,
        train_boxes,
        val_boxes,
        steps,
        fingerprint,
        context,
    )


def _restore(run: _Run, last: Path) -> Progress:
    """The progress saved in last.pt when it belongs to this run (resume after a kill: at most
    the unfinished epoch is lost), with the network, optimiser and RNGs put back; else none."""
    state = load_resume_state(last)
    if state is None or state.get("fingerprint") != run.fingerprint:
        return Progress()
    run.model.load_state_dict(state["model"])
    run.optimizer.load_state_dict(state["optimizer"])
    run.rng.bit_generator.state = state["numpy_rng"]
    torch.set_rng_state(state["torch_rng"])
    progress = Progress(
        history=state["history"],
        best_metric=state["best_metric"],
        best_epoch=state["best_epoch"],
        epoch=state["epoch"],
        seconds=state["seconds"],
        best=state["best"],
    )
    if progress.best is not None and "format" not in progress.best:
        # a last.pt written before checkpoints carried metadata: wrap its best weights
        progress.best = run_checkpoint(
            progress.best["model"],
            run.context,
            epoch=progress.best_epoch,
            metric=progress.best_metric,
        )
    return progress


def _epoch(run: _Run, progress: Progress, epoch: int, show: bool) -> float:
    """Train one epoch, validate, append its history row; its selection metric."""
    started = time.perf_counter()
    run.model.train()
    losses = []
    for _ in tqdm(
        range(run.steps), desc=f"{run.spec.run_id} epoch {epoch}", leave=False, disable=not show
    ):
        batch = _batch(run.train_boxes, run.settings, run.rng)
        losses.append(train_step(run.step_fn, run.optimizer, run.loss_fn, batch, run.device))
    val = (
        validate(run.model, run.val_boxes, run.loss_fn, run.device)
        if run.val_boxes
        else Validation(loss=math.nan)
    )
    metric = val.metric if run.val_boxes else -float(np.mean(losses))
    progress.seconds += time.perf_counter() - started
    progress.history.append(
        {
            "epoch": epoch,
            "train_loss": _fmt(float(np.mean(losses))),
            "val_loss": _fmt(val.loss),
            "val_f1_helix": _fmt(_mean(val.f1_helix)),
            "val_f1_sheet": _fmt(_mean(val.f1_sheet)),
            "val_metric": _fmt(metric),
            "seconds": f"{progress.seconds:.2f}",
        }
    )
    return metric


def _keep(run: _Run, progress: Progress, epoch: int, metric: float, out: Path) -> None:
    """After an epoch: best.pt when it is the best so far, its snapshot when one is due, then
    last.pt and history.csv."""
    if metric > progress.best_metric or progress.best is None:  # NaN never beats, but one is kept
        progress.best_metric, progress.best_epoch = metric, epoch
        progress.best = run_checkpoint(
            weights_of(run.model),
            run.context,
            epoch=epoch,
            metric=metric,
            metric_name="mean of helix F1 and sheet F1 (validation)"
            if run.val_boxes
            else "minus the training loss",
        )
        save_checkpoint(progress.best, out / "best.pt")
    every = run.settings.snapshot_every
    if every and epoch % every == 0:
        # the learning curve (benchmarks/learning_curve.py) scores these after the run
        snapshot = run_checkpoint(
            weights_of(run.model), run.context, epoch=epoch, metric=metric, seconds=progress.seconds
        )
        save_checkpoint(snapshot, out / "snapshots" / f"epoch_{epoch:04d}.pt")
    progress.epoch = epoch
    save_resume_state(out / "last.pt", run.fingerprint, run.model, run.optimizer, run.rng, progress)
    write_text_atomic(out / "history.csv", history_text(progress.history))


def _summary(run: _Run, progress: Progress, stopped_early: bool) -> dict[str, Any]:
    device, spec = run.device, run.spec
    return {
        "run_id": spec.run_id,
        **asdict(spec),
        "best_epoch": progress.best_epoch,
        "best_val_metric": progress.best_metric,
        "epochs_run": len(progress.history),
        "stopped_early": stopped_early,
        "device": str(device.torch_device),
        "bf16": device.autocast,
        "channels_last": device.channels_last,
        "cpu": describe_cpu(),
        "grid": asdict(run.context.grid),
        "seconds": round(progress.seconds, 2),
        "steps_per_epoch": run.steps,
        "batch_size": run.settings.batch_size,
        "train_cases": len(run.train_boxes),
        "validation_cases": len(run.val_boxes),
        "selection": "validation metric" if run.val_boxes else "training loss (no validation case)",
    }


def train_run(
    spec: RunSpec,
    settings: TrainSettings,
    model_config: Mapping[str, Any],
    train_dirs: list[Path],
    val_dirs: list[Path],
    out_dir: str | Path,
    progress: bool = False,
) -> dict[str, Any]:
    """Train (or resume) one run into `out_dir`; return its summary. `model_config`: the
    config's `model` section, as the rules pass it (read as cryosse.core.config.ModelSettings)."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    if not train_dirs:
        raise ValueError("no training sample: the main split has no 'train' case")
    model = ModelSettings.from_config(model_config)
    run = _set_up(spec, settings, model, train_dirs, val_dirs)
    state = _restore(run, out / "last.pt")
    stopped_early = False
    for epoch in range(state.epoch + 1, settings.epochs + 1):
        if epoch - state.best_epoch > settings.patience and state.best_epoch > 0:
            stopped_early = True
            break
        metric = _epoch(run, state, epoch, progress)
        _keep(run, state, epoch, metric, out)

    # A resubmitted run that had already finished: its outputs come back from the checkpoint.
    if state.best is not None and not (out / "best.pt").exists():
        save_checkpoint(state.best, out / "best.pt")
    if state.history and not (out / "history.csv").exists():
        write_text_atomic(out / "history.csv", history_text(state.history))
    summary = _summary(run, state, stopped_early)
    write_text_atomic(out / "summary.json", json.dumps(summary, indent=2) + "\n")
    return summary


def _fmt(value: float | None) -> str:
    return (
        "NA"
        if value is None or (isinstance(value, float) and math.isnan(value))
        else f"{value:.6f}"
    )


def _mean(values: list[float | None]) -> float | None:
    defined = [v for v in values if v is not None]
    return float(np.mean(defined)) if defined else None
