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
                            metadata (cryosse.checkpoint: model config, normalisation, classes,
                            run spec, training data summary, versions)
    <run dir>/history.csv   per epoch: train loss, validation loss, helix/sheet F1, metric, time
    <run dir>/summary.json  best epoch and metric, epochs run, early stop, device, seconds

Selection metric (paper): mean over validation cases of helix F1 and of sheet F1, averaged
(cryosse.metrics). Early stopping after `patience` epochs without improvement.

GPU when present (device "auto"), CPU otherwise. Speed switches, all off by default on CPU so
the fp32 reference path stays the default there: bf16 autocast, channels_last_3d memory
format, torch.compile, cuDNN autotuning. Seeds: Python, NumPy and torch are seeded per run;
with cuDNN autotuning off and deterministic algorithms requested, a CPU run is repeatable.
"""

from __future__ import annotations

import contextlib
import csv
import hashlib
import io
import json
import math
import random
import time
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from tqdm import tqdm

from cryosse.atomic import atomic_path, write_text_atomic
from cryosse.boxes import Box, apply_symmetry, load_box, pad_to, random_crop, round_up
from cryosse.checkpoint import make_checkpoint, save_checkpoint, training_data_summary
from cryosse.grid import RunSpec
from cryosse.losses import LOSSES, SegmentationLoss
from cryosse.metrics import HELIX, SHEET, selection_metric, voxel_f1
from cryosse.tsv import write_tsv
from cryosse.unet import UNet3D, build_model

HISTORY_COLUMNS = [
    "epoch", "train_loss", "val_loss", "val_f1_helix", "val_f1_sheet", "val_metric", "seconds",
]  # fmt: skip


@dataclass(frozen=True)
class TrainSettings:
    epochs: int = 100
    patience: int = 10
    steps_per_epoch: int | None = None  # None: one crop per training sample
    batch_size: int = 1
    crop_size: int = 64
    seed: int = 0
    weight_decay: float = 0.0
    device: str = "auto"  # auto, cpu, cuda
    bf16: bool = True  # autocast on GPU; on CPU only if cpu_bf16
    cpu_bf16: bool = False
    channels_last: bool = False
    compile: bool = False
    cudnn_benchmark: bool = False
    threads: int | None = None

    @classmethod
    def from_config(cls, training: dict[str, Any]) -> TrainSettings:
        names = {f for f in cls.__dataclass_fields__}
        return cls(**{k: v for k, v in training.items() if k in names})


@dataclass
class Device:
    torch_device: torch.device
    autocast: bool

    @contextlib.contextmanager
    def amp(self) -> Iterator[None]:
        if self.autocast:
            with torch.autocast(self.torch_device.type, dtype=torch.bfloat16):
                yield
        else:
            yield


def pick_device(settings: TrainSettings) -> Device:
    if settings.device == "cuda" or (settings.device == "auto" and torch.cuda.is_available()):
        return Device(torch.device("cuda"), settings.bf16)
    return Device(torch.device("cpu"), settings.bf16 and settings.cpu_bf16)


def predict_box(model: UNet3D, box: Box, device: Device, channels_last: bool = False) -> np.ndarray:
    """Class probabilities [3, Z, Y, X] of a whole (normalised) box: padded to a multiple of
    2**depth with the zero-density level, one forward pass in eval mode, cropped back."""
    shape = box.density.shape
    padded = pad_to(box.density, round_up(shape, model.multiple), box.zero_level)
    x = torch.from_numpy(padded)[None, None].to(device.torch_device)
    if channels_last:
        x = x.contiguous(memory_format=torch.channels_last_3d)
    model.eval()
    with torch.inference_mode(), device.amp():
        probs = torch.softmax(model(x).float(), dim=1)[0]
    return probs[:, : shape[0], : shape[1], : shape[2]].cpu().numpy()


@dataclass
class Validation:
    loss: float
    f1_helix: list[float | None] = field(default_factory=list)
    f1_sheet: list[float | None] = field(default_factory=list)

    @property
    def metric(self) -> float:
        return selection_metric(self.f1_helix, self.f1_sheet)


def validate(model: UNet3D, boxes: list[Box], loss_fn: SegmentationLoss, device: Device,
             channels_last: bool = False) -> Validation:  # fmt: skip
    losses = []
    result = Validation(loss=math.nan)
    for box in boxes:
        probs = predict_box(model, box, device, channels_last)
        pred = probs.argmax(axis=0)
        result.f1_helix.append(voxel_f1(pred, box.labels, box.central, HELIX))
        result.f1_sheet.append(voxel_f1(pred, box.labels, box.central, SHEET))
        logits = torch.from_numpy(np.log(np.clip(probs, 1e-12, None)))[None]
        losses.append(float(loss_fn(logits, torch.from_numpy(box.labels)[None],
                                    torch.from_numpy(box.central)[None])))  # fmt: skip
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
        d, lab, m = random_crop(box, settings.crop_size, rng)
        symmetry = int(rng.integers(48))
        densities.append(apply_symmetry(d, symmetry))
        labels.append(apply_symmetry(lab, symmetry))
        masks.append(apply_symmetry(m, symmetry))
    return (torch.from_numpy(np.stack(densities))[:, None], torch.from_numpy(np.stack(labels)),
            torch.from_numpy(np.stack(masks)))  # fmt: skip


def run_fingerprint(
    spec: RunSpec,
    settings: TrainSettings,
    model_config: dict[str, Any],
    train_dirs: list[Path],
    val_dirs: list[Path],
) -> str:
    """What a checkpoint must match to be resumed: the run, its settings, its data."""
    digest = hashlib.sha256()
    setup = [asdict(spec), asdict(settings), model_config]
    digest.update(json.dumps(setup, sort_keys=True, default=str).encode())
    for role, dirs in (("train", train_dirs), ("validation", val_dirs)):
        for directory in dirs:
            digest.update(role.encode() + (Path(directory) / "sample.json").read_bytes())
    return digest.hexdigest()


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
    return "NA" if value is None or (isinstance(value, float) and math.isnan(value)) else \
        f"{value:.6f}"  # fmt: skip


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
    torch.backends.cudnn.benchmark = settings.cudnn_benchmark
    _seed_everything(settings.seed)
    model = build_model(model_config).to(device.torch_device)
    if settings.channels_last:
        model = model.to(memory_format=torch.channels_last_3d)
    optimizer = torch.optim.Adam(model.parameters(), lr=spec.lr, weight_decay=settings.weight_decay)
    loss_fn = SegmentationLoss(spec.loss, gamma=spec.gamma or 0.0)
    step_fn = torch.compile(model) if settings.compile else model
    rng = np.random.default_rng(settings.seed)
    train_boxes = [load_box(d) for d in train_dirs]
    val_boxes = [load_box(d) for d in val_dirs]
    steps = settings.steps_per_epoch or max(1, math.ceil(len(train_boxes) / settings.batch_size))

    history: list[dict[str, Any]] = []
    best_metric, best_epoch, start_epoch, seconds = -math.inf, 0, 1, 0.0
    best_state: dict[str, Any] | None = None
    fingerprint = run_fingerprint(spec, settings, model_config, train_dirs, val_dirs)
    data_summary = training_data_summary(train_dirs, val_dirs)
    last = out / "last.pt"
    state = torch.load(last, map_location="cpu", weights_only=False) if last.exists() else None
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
            best_state = make_checkpoint(best_state["model"], model_config, {
                "run": asdict(spec), "settings": asdict(settings), "epoch": best_epoch,
                "metric": best_metric, **data_summary})  # fmt: skip

    stopped_early = False
    for epoch in range(start_epoch, settings.epochs + 1):
        if epoch - best_epoch > settings.patience and best_epoch > 0:
            stopped_early = True
            break
        started = time.perf_counter()
        model.train()
        losses = []
        for _ in tqdm(range(steps), desc=f"{spec.run_id} epoch {epoch}", leave=False,
                      disable=not progress):  # fmt: skip
            x, y, m = _batch(train_boxes, settings, rng)
            x, y, m = (t.to(device.torch_device) for t in (x, y, m))
            if settings.channels_last:
                x = x.contiguous(memory_format=torch.channels_last_3d)
            optimizer.zero_grad(set_to_none=True)
            with device.amp():
                logits = step_fn(x)
            loss = loss_fn(logits.float(), y, m)
            loss.backward()
            optimizer.step()
            losses.append(float(loss.detach()))
        val = validate(model, val_boxes, loss_fn, device, settings.channels_last) if val_boxes \
            else Validation(loss=math.nan)  # fmt: skip
        metric = val.metric if val_boxes else -float(np.mean(losses))
        seconds += time.perf_counter() - started
        history.append({
            "epoch": epoch, "train_loss": _fmt(float(np.mean(losses))), "val_loss": _fmt(val.loss),
            "val_f1_helix": _fmt(_mean(val.f1_helix)), "val_f1_sheet": _fmt(_mean(val.f1_sheet)),
            "val_metric": _fmt(metric), "seconds": f"{seconds:.2f}",
        })  # fmt: skip
        if metric > best_metric or best_state is None:  # NaN never beats, but one is kept
            best_metric, best_epoch = metric, epoch
            weights = {k: v.detach().cpu().clone() for k, v in model.state_dict().items()}
            best_state = make_checkpoint(weights, model_config, {
                "run": asdict(spec), "settings": asdict(settings), "epoch": epoch,
                "metric": metric, "metric_name": "mean of helix F1 and sheet F1 (validation)"
                if val_boxes else "minus the training loss", **data_summary,
            })  # fmt: skip
            save_checkpoint(best_state, out / "best.pt")
        _save_atomic({
            "fingerprint": fingerprint, "model": model.state_dict(),
            "optimizer": optimizer.state_dict(), "numpy_rng": rng.bit_generator.state,
            "torch_rng": torch.get_rng_state(), "history": history, "best_metric": best_metric,
            "best_epoch": best_epoch, "best": best_state, "epoch": epoch, "seconds": seconds,
        }, last)  # fmt: skip
        write_text_atomic(out / "history.csv", _history_text(history))

    # A resubmitted run that had already finished: its outputs come back from the checkpoint.
    if best_state is not None and not (out / "best.pt").exists():
        save_checkpoint(best_state, out / "best.pt")
    if history and not (out / "history.csv").exists():
        write_text_atomic(out / "history.csv", _history_text(history))

    summary = {
        "run_id": spec.run_id, **asdict(spec), "best_epoch": best_epoch,
        "best_val_metric": best_metric, "epochs_run": len(history), "stopped_early": stopped_early,
        "device": str(device.torch_device), "bf16": device.autocast, "seconds": round(seconds, 2),
        "train_cases": len(train_boxes), "validation_cases": len(val_boxes),
        "selection": "validation metric" if val_boxes else "training loss (no validation case)",
    }  # fmt: skip
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
        others = ", ".join(f"{s['run_id']} {s['best_val_metric']:.4f}" for s in runs
                           if s is not best)  # fmt: skip
        rows.append({
            "loss": loss, "run_id": best["run_id"], "lr": best["lr"],
            "gamma": "" if best["gamma"] is None else best["gamma"],
            "best_epoch": best["best_epoch"], "val_metric": f"{best['best_val_metric']:.4f}",
            "runs": len(runs),
            "why": f"highest {best['selection']} ({best['best_val_metric']:.4f} at epoch "
                   f"{best['best_epoch']})" + (f"; others: {others}" if others else ""),
        })  # fmt: skip
    return rows


def write_selection(rows: list[dict[str, Any]], tsv: str | Path) -> None:
    write_tsv(tsv, SELECTION_COLUMNS, rows)
