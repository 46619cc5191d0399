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

import csv
import hashlib
import io
import itertools
import json
import logging
import math
import random
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from tqdm import tqdm

from cryosse.core.atomic import atomic_path, write_text_atomic
from cryosse.core.classes import HELIX, SHEET
from cryosse.core.config import settings_from
from cryosse.core.grid import GRID_KEYS, RunSpec
from cryosse.core.metrics import selection_metric, voxel_f1
from cryosse.core.tsv import write_tsv
from cryosse.io.density import memory_budget
from cryosse.learn.checkpoint import (
    NetworkGrid,
    make_checkpoint,
    network_grid,
    save_checkpoint,
    training_data_summary,
)
from cryosse.learn.device import Choice, Device, choose_device, describe_cpu
from cryosse.learn.ensemble import SeedEnsemble
from cryosse.learn.inputs import (
    Box,
    apply_symmetry,
    coarsen_box,
    load_box,
    pad_to,
    random_crop,
    refine,
    round_up,
    zoned,
)
from cryosse.learn.losses import LOSSES, SegmentationLoss
from cryosse.learn.unet import UNet3D, build_model

HISTORY_COLUMNS = [
    "epoch",
    "train_loss",
    "val_loss",
    "val_f1_helix",
    "val_f1_sheet",
    "val_metric",
    "seconds",
]


RESUMABLE_CHANGES = ("epochs", "patience", "snapshot_every", "threads")


# Keys of the `training` section that are not TrainSettings: the grid (cryosse.core.grid; a run's
# seed is its RunSpec's) and the resources each job asks a scheduler for (rules/learn.smk).
TRAINING_GRID_AND_RESOURCES = (*GRID_KEYS, "gpu", "mem_mb", "runtime")


@dataclass(frozen=True)
class TrainSettings:
    epochs: int = 100
    patience: int = 10
    steps_per_epoch: int | None = None  # None: one crop per training sample
    batch_size: int = 1
    crop_size: int = 64
    weight_decay: float = 0.0
    device: str = "auto"  # auto, cpu, cuda
    bf16: bool = True  # autocast on GPU; on CPU only if cpu_bf16
    cpu_bf16: Choice = "auto"  # auto: where the CPU has bf16 convolutions (cryosse.learn.device)
    channels_last: Choice = "auto"  # auto: with bf16 autocast
    # He-lab-like zoning: with this probability a training crop's density is zeroed farther than
    # a radius drawn from zone_radius (Å) from the central chain's Cα atoms
    zone_probability: float = 0.0
    zone_radius: tuple[float, float] = (5.0, 8.0)
    snapshot_every: int = 0  # keep the weights of every n-th epoch (learning curves); 0: none
    compile: bool = False
    cudnn_benchmark: bool = False
    threads: int | None = None

    @classmethod
    def from_config(cls, training: dict[str, Any]) -> TrainSettings:
        """From the config's `training` section; the grid's keys are read by cryosse.core.grid and
        the job's resources by the rules."""
        return settings_from(
            cls,
            training,
            ignore=TRAINING_GRID_AND_RESOURCES,
            zone_radius=lambda radii: tuple(float(r) for r in radii),
        )


def pick_device(settings: TrainSettings) -> Device:
    """`device.choose_device` for the training settings (the one picker; this only unpacks)."""
    return choose_device(settings.device, settings.bf16, settings.cpu_bf16, settings.channels_last)


# the 8 mirror images of a box: every subset of its three spatial axes flipped (dims 2-4 of a
# [batch, channel, z, y, x] tensor); test-time flips average the network over them
FLIPS: tuple[tuple[int, ...], ...] = tuple(
    tuple(axis for axis, flip in zip((2, 3, 4), flips, strict=True) if flip)
    for flips in itertools.product((False, True), repeat=3)
)


def predict_box(
    model: UNet3D | SeedEnsemble,
    box: Box,
    device: Device,
    channels_last: bool | None = None,
    flips: bool = False,
) -> np.ndarray:
    """Class probabilities [3, Z, Y, X] of a whole (normalised) box on the network's grid: an
    empty border of `model.context_border` voxels on every side (so the box faces look like
    what they are, the end of the map, not like the network's own zero padding), then the
    high ends padded to a multiple of 2**depth, one forward pass in eval mode, cropped back.
    flips: the mean over the box's 8 mirror images (8 forward passes), each flipped back."""
    shape = box.density.shape
    border = model.context_border
    bordered = np.pad(box.density, border, constant_values=box.zero_level)
    padded = pad_to(bordered, round_up(bordered.shape, model.multiple), box.zero_level)
    x = torch.from_numpy(padded)[None, None].to(device.torch_device)
    last = device.channels_last if channels_last is None else channels_last
    model.eval()
    views = FLIPS if flips else ((),)
    total: torch.Tensor | None = None
    with torch.inference_mode(), device.amp():
        for axes in views:
            view = torch.flip(x, axes) if axes else x
            if last:
                view = view.contiguous(memory_format=torch.channels_last_3d)
            probs = torch.softmax(model(view).float(), dim=1)
            probs = torch.flip(probs, axes) if axes else probs
            total = probs if total is None else total + probs
    assert total is not None
    inner = tuple(slice(border, border + n) for n in shape)
    return (total[0] / len(views))[(slice(None), *inner)].cpu().numpy()


def predict_sample(
    model: UNet3D | SeedEnsemble, box: Box, factor: int, device: Device, flips: bool = False
) -> np.ndarray:
    """Class probabilities [3, Z, Y, X] on the sample's own (1 Å) grid for a network whose grid
    is `factor` times coarser (cryosse.learn.inputs.coarsen_box / refine)."""
    probs = predict_box(model, coarsen_box(box, factor), device, flips=flips)
    return refine(probs, factor, box.density.shape)


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


def _seed_everything(seed: int) -> None:
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


def run_fingerprint(
    spec: RunSpec,
    settings: TrainSettings,
    model_config: dict[str, Any],
    train_dirs: list[Path],
    val_dirs: list[Path],
) -> str:
    """What a checkpoint must match to be resumed: the run, its settings, its data."""
    digest = hashlib.sha256()
    # how long to train and how often to keep snapshots do not change what an epoch computes:
    # a run can be lengthened (or stopped early) and still resume
    shaping = {k: v for k, v in asdict(settings).items() if k not in RESUMABLE_CHANGES}
    setup = [asdict(spec), shaping, model_config]
    digest.update(json.dumps(setup, sort_keys=True, default=str).encode())
    for role, dirs in (("train", train_dirs), ("validation", val_dirs)):
        for directory in dirs:
            digest.update(role.encode() + (Path(directory) / "sample.json").read_bytes())
    return digest.hexdigest()


def _load_resume_state(last: Path) -> dict[str, Any] | None:
    """The resume state of last.pt; None (start afresh, said in the log) when there is none or
    it cannot be read — a truncated or foreign file must not fail every later run. weights_only:
    a crafted last.pt must not run code (tensors and plain values only)."""
    if not last.exists():
        return None
    try:
        state = torch.load(last, map_location="cpu", weights_only=True)
    except Exception as exc:  # truncated bytes make the unpickler fail in arbitrary ways
        logging.getLogger(__name__).warning(
            "%s unreadable (%s): training starts afresh", last, str(exc).splitlines()[0][:200]
        )
        return None
    return state if isinstance(state, dict) else None


def _save_atomic(obj: dict[str, Any], path: Path) -> None:
    with atomic_path(path) as tmp:
        torch.save(obj, tmp)


def _history_text(history: list[dict[str, Any]]) -> str:
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=HISTORY_COLUMNS, lineterminator="\n")
    writer.writeheader()
    writer.writerows(history)
    return buffer.getvalue()


def _fmt(value: float | None) -> str:
    return (
        "NA"
        if value is None or (isinstance(value, float) and math.isnan(value))
        else f"{value:.6f}"
    )


@dataclass(frozen=True)
class RunContext:
    """What every checkpoint of a run records beside its weights."""

    spec: RunSpec
    settings: TrainSettings
    model_config: dict[str, Any]
    grid: NetworkGrid
    data_summary: dict[str, Any]


def run_checkpoint(weights: dict[str, Any], context: RunContext, **facts: Any) -> dict[str, Any]:
    """A checkpoint of this run: its spec and settings, then `facts` (epoch, metric, ...), then
    the training data's summary, in that order."""
    metadata = {
        "run": asdict(context.spec),
        "settings": asdict(context.settings),
        **facts,
        **context.data_summary,
    }
    return make_checkpoint(weights, context.model_config, metadata, context.grid)


# Calibration of the memory estimate (check_training_memory) against the peak RSS of one CPU
# step, AMD EPYC, torch 2.13: a training step took 1.04-1.61 x the bytes autograd saves (base
# 16-64, depth 2-3, batch 1-2, crops of 64), an eval-mode forward 0.36-0.42 x (boxes of 64-128).
# Estimates: 1.1 x saved + 16 B per parameter (weights, gradients, two Adam moments) + fixed
# overhead; 0.5 x saved for inference; every loaded box at 15 B per voxel.
_TRAIN_FACTOR = 1.1
_EVAL_FACTOR = 0.5
_BYTES_PER_PARAMETER = 16
_OVERHEAD_BYTES = 200 * 2**20
_BOX_BYTES_PER_VOXEL = 15  # float32 density, int64 labels, bool mask, float16 zone distance


class TrainingMemoryError(ValueError):
    """The settings imply more memory than the job has: refused before training starts."""


def _saved_bytes(model_config: dict[str, Any], shape: tuple[int, ...]) -> tuple[int, int]:
    """Bytes autograd saves for one training-mode forward of a `shape` batch, and the number of
    parameters, measured on torch's meta device (no memory, no arithmetic)."""
    with torch.device("meta"):
        model = build_model(model_config)
    total = 0

    def pack(tensor: torch.Tensor) -> torch.Tensor:
        nonlocal total
        total += tensor.numel() * tensor.element_size()
        return tensor

    model.train()
    with torch.autograd.graph.saved_tensors_hooks(pack, lambda tensor: tensor):
        model(torch.empty(shape, device="meta"))
    return total, sum(p.numel() for p in model.parameters())


def training_memory(
    model_config: dict[str, Any],
    settings: TrainSettings,
    train_dirs: list[Path],
    val_dirs: list[Path],
    factor: int,
) -> dict[str, int]:
    """The bytes a run's settings imply, from sample.json alone: one training step, the largest
    validation box's forward pass (bordered and padded as predict_box does), the boxes held."""
    multiple = 2 ** int(model_config.get("depth", 2))
    crop = settings.crop_size
    saved, parameters = _saved_bytes(model_config, (settings.batch_size, 1, crop, crop, crop))
    step = int(_TRAIN_FACTOR * saved) + _BYTES_PER_PARAMETER * parameters
    shapes = {
        d: [
            -(-int(n) // factor)
            for n in json.loads((Path(d) / "sample.json").read_text())["shape_xyz"]
        ]
        for d in [*train_dirs, *val_dirs]
    }
    boxes = sum(math.prod(shape) for shape in shapes.values()) * _BOX_BYTES_PER_VOXEL
    forward = 0
    if val_dirs:
        with torch.device("meta"):
            border = build_model(model_config).context_border
        largest = max((shapes[d] for d in val_dirs), key=math.prod)
        padded = tuple(-(-(n + 2 * border) // multiple) * multiple for n in largest[::-1])
        forward = int(_EVAL_FACTOR * _saved_bytes(model_config, (1, 1, *padded))[0])
    return {
        "step": step,
        "validation": forward,
        "boxes": boxes,
        "total": max(step, forward) + boxes + _OVERHEAD_BYTES,
    }


def check_training_memory(
    model_config: dict[str, Any],
    settings: TrainSettings,
    train_dirs: list[Path],
    val_dirs: list[Path],
    factor: int,
    device: Device,
    budget: int | None = None,
) -> dict[str, int]:
    """Refuse (TrainingMemoryError, one line) settings whose memory (training_memory) exceeds
    the budget: the job's memory (cryosse.io.density.memory_budget), or on a GPU its free
    memory for the network's part. A crop that is not a multiple of 2**depth is refused too."""
    depth = int(model_config.get("depth", 2))
    if settings.crop_size % 2**depth:
        raise TrainingMemoryError(
            f"training.crop_size {settings.crop_size} is not a multiple of 2**model.depth "
            f"({2**depth})"
        )
    need = training_memory(model_config, settings, train_dirs, val_dirs, factor)
    network = max(need["step"], need["validation"])
    if device.torch_device.type == "cuda" and budget is None:
        free, _ = torch.cuda.mem_get_info(device.torch_device)
        checks = [("GPU", network, int(free)), ("host", need["boxes"], memory_budget())]
    else:
        host = memory_budget() if budget is None else budget
        checks = [("host", need["total"], host)]
    for where, bytes_needed, available in checks:
        if bytes_needed > available:
            raise TrainingMemoryError(
                f"these settings need about {bytes_needed / 1e9:.1f} GB of {where} memory, "
                f"{available / 1e9:.1f} GB available: a step of {settings.batch_size} crop(s) of "
                f"{settings.crop_size}³ through model base {model_config.get('base', 64)} depth "
                f"{depth} {need['step'] / 1e9:.1f} GB, the largest validation box "
                f"{need['validation'] / 1e9:.1f} GB, the samples {need['boxes'] / 1e9:.1f} GB; "
                "lower training.crop_size / batch_size or model.base / depth"
            )
    return need


def _weights(model: torch.nn.Module) -> dict[str, torch.Tensor]:
    return {k: v.detach().cpu().clone() for k, v in model.state_dict().items()}


def train_run(
    spec: RunSpec,
    settings: TrainSettings,
    model_config: dict[str, Any],
    train_dirs: list[Path],
    val_dirs: list[Path],
    out_dir: str | Path,
    progress: bool = False,
) -> dict[str, Any]:
    """Train (or resume) one run into `out_dir`; return its summary."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    if not train_dirs:
        raise ValueError("no training sample: the main split has no 'train' case")
    if settings.threads:
        torch.set_num_threads(settings.threads)
    device = pick_device(settings)
    grid = network_grid(model_config, train_dirs + val_dirs)
    # before anything is allocated: absurd settings end here in one line, not minutes later
    check_training_memory(model_config, settings, train_dirs, val_dirs, grid.factor, device)
    torch.backends.cudnn.benchmark = settings.cudnn_benchmark
    _seed_everything(spec.seed)
    model = build_model(model_config).to(device.torch_device)
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

    history: list[dict[str, Any]] = []
    best_metric, best_epoch, start_epoch, seconds = -math.inf, 0, 1, 0.0
    best_state: dict[str, Any] | None = None
    fingerprint = run_fingerprint(spec, settings, model_config, train_dirs, val_dirs)
    context = RunContext(
        spec, settings, model_config, grid, training_data_summary(train_dirs, val_dirs)
    )
    last = out / "last.pt"
    state = _load_resume_state(last)
    if state is not None and state.get("fingerprint") == fingerprint:
        # resume after a kill: at most the unfinished epoch is lost
        model.load_state_dict(state["model"])
        optimizer.load_state_dict(state["optimizer"])
        rng.bit_generator.state = state["numpy_rng"]
        torch.set_rng_state(state["torch_rng"])
        history, best_metric, best_epoch = (
            state["history"],
            state["best_metric"],
            state["best_epoch"],
        )
        start_epoch, seconds, best_state = state["epoch"] + 1, state["seconds"], state["best"]
        if best_state is not None and "format" not in best_state:
            # a last.pt written before checkpoints carried metadata: wrap its best weights
            best_state = run_checkpoint(
                best_state["model"], context, epoch=best_epoch, metric=best_metric
            )

    stopped_early = False
    for epoch in range(start_epoch, settings.epochs + 1):
        if epoch - best_epoch > settings.patience and best_epoch > 0:
            stopped_early = True
            break
        started = time.perf_counter()
        model.train()
        losses = []
        for _ in tqdm(
            range(steps), desc=f"{spec.run_id} epoch {epoch}", leave=False, disable=not progress
        ):
            batch = _batch(train_boxes, settings, rng)
            losses.append(train_step(step_fn, optimizer, loss_fn, batch, device))
        val = (
            validate(model, val_boxes, loss_fn, device) if val_boxes else Validation(loss=math.nan)
        )
        metric = val.metric if val_boxes else -float(np.mean(losses))
        seconds += time.perf_counter() - started
        history.append(
            {
                "epoch": epoch,
                "train_loss": _fmt(float(np.mean(losses))),
                "val_loss": _fmt(val.loss),
                "val_f1_helix": _fmt(_mean(val.f1_helix)),
                "val_f1_sheet": _fmt(_mean(val.f1_sheet)),
                "val_metric": _fmt(metric),
                "seconds": f"{seconds:.2f}",
            }
        )
        if metric > best_metric or best_state is None:  # NaN never beats, but one is kept
            best_metric, best_epoch = metric, epoch
            best_state = run_checkpoint(
                _weights(model),
                context,
                epoch=epoch,
                metric=metric,
                metric_name="mean of helix F1 and sheet F1 (validation)"
                if val_boxes
                else "minus the training loss",
            )
            save_checkpoint(best_state, out / "best.pt")
        if settings.snapshot_every and epoch % settings.snapshot_every == 0:
            # the learning curve (benchmarks/learning_curve.py) scores these after the run
            snapshot = run_checkpoint(
                _weights(model), context, epoch=epoch, metric=metric, seconds=seconds
            )
            save_checkpoint(snapshot, out / "snapshots" / f"epoch_{epoch:04d}.pt")
        _save_atomic(
            {
                "fingerprint": fingerprint,
                "model": model.state_dict(),
                "optimizer": optimizer.state_dict(),
                "numpy_rng": rng.bit_generator.state,
                "torch_rng": torch.get_rng_state(),
                "history": history,
                "best_metric": best_metric,
                "best_epoch": best_epoch,
                "best": best_state,
                "epoch": epoch,
                "seconds": seconds,
            },
            last,
        )
        write_text_atomic(out / "history.csv", _history_text(history))

    # A resubmitted run that had already finished: its outputs come back from the checkpoint.
    if best_state is not None and not (out / "best.pt").exists():
        save_checkpoint(best_state, out / "best.pt")
    if history and not (out / "history.csv").exists():
        write_text_atomic(out / "history.csv", _history_text(history))

    summary = {
        "run_id": spec.run_id,
        **asdict(spec),
        "best_epoch": best_epoch,
        "best_val_metric": best_metric,
        "epochs_run": len(history),
        "stopped_early": stopped_early,
        "device": str(device.torch_device),
        "bf16": device.autocast,
        "channels_last": device.channels_last,
        "cpu": describe_cpu(),
        "grid": asdict(grid),
        "seconds": round(seconds, 2),
        "steps_per_epoch": steps,
        "batch_size": settings.batch_size,
        "train_cases": len(train_boxes),
        "validation_cases": len(val_boxes),
        "selection": "validation metric" if val_boxes else "training loss (no validation case)",
    }
    write_text_atomic(out / "summary.json", json.dumps(summary, indent=2) + "\n")
    return summary


def _mean(values: list[float | None]) -> float | None:
    defined = [v for v in values if v is not None]
    return float(np.mean(defined)) if defined else None


SELECTION_COLUMNS = ["loss", "run_id", "lr", "gamma", "best_epoch", "val_metric", "runs", "why"]


def select_best_runs(summaries: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Per loss, the run with the highest validation metric (ties: the earlier run in the grid
    order, i.e. the larger learning rate / smaller γ), with the reason spelled out."""
    rows = []
    for loss in LOSSES:
        runs = [s for s in summaries if s["loss"] == loss]
        if not runs:
            continue
        best = max(runs, key=lambda s: (s["best_val_metric"], -runs.index(s)))
        others = ", ".join(
            f"{s['run_id']} {s['best_val_metric']:.4f}" for s in runs if s is not best
        )
        rows.append(
            {
                "loss": loss,
                "run_id": best["run_id"],
                "lr": best["lr"],
                "gamma": "" if best["gamma"] is None else best["gamma"],
                "best_epoch": best["best_epoch"],
                "val_metric": f"{best['best_val_metric']:.4f}",
                "runs": len(runs),
                "why": f"highest {best['selection']} ({best['best_val_metric']:.4f} at epoch "
                f"{best['best_epoch']})" + (f"; others: {others}" if others else ""),
            }
        )
    return rows


def write_selection(rows: list[dict[str, Any]], tsv: str | Path) -> None:
    write_tsv(tsv, SELECTION_COLUMNS, rows)
