"""What a training run keeps on disk: its checkpoints, its history, and the resume state of
last.pt with the fingerprint that says whether it may be resumed (cryosse.learn.training)."""

from __future__ import annotations

import csv
import hashlib
import io
import json
import logging
import math
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from cryosse.core.atomic import atomic_path
from cryosse.core.config import ModelSettings
from cryosse.core.run_grid import RunSpec
from cryosse.learn.checkpoint import NetworkGrid, make_checkpoint
from cryosse.learn.settings import TrainSettings

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


def run_fingerprint(
    spec: RunSpec,
    settings: TrainSettings,
    model: ModelSettings,
    train_dirs: list[Path],
    val_dirs: list[Path],
) -> str:
    """What a checkpoint must match to be resumed: the run, its settings, its data."""
    digest = hashlib.sha256()
    # how long to train and how often to keep snapshots do not change what an epoch computes:
    # a run can be lengthened (or stopped early) and still resume
    shaping = {k: v for k, v in asdict(settings).items() if k not in RESUMABLE_CHANGES}
    if settings.contrast_probability == 0:
        # switched off, the contrast augmentation changes nothing: its settings stay out, so a
        # run started before they existed still resumes
        del shaping["contrast_probability"], shaping["contrast_power"]
    setup = [asdict(spec), shaping, asdict(model)]
    digest.update(json.dumps(setup, sort_keys=True, default=str).encode())
    for role, dirs in (("train", train_dirs), ("validation", val_dirs)):
        for directory in dirs:
            digest.update(role.encode() + (Path(directory) / "sample.json").read_bytes())
    return digest.hexdigest()


@dataclass
class Progress:
    """What the epochs so far leave behind: saved in last.pt after every epoch."""

    history: list[dict[str, Any]] = field(default_factory=list)
    best_metric: float = -math.inf
    best_epoch: int = 0
    epoch: int = 0  # the last epoch finished
    seconds: float = 0.0
    best: dict[str, Any] | None = None  # the best epoch's checkpoint


def load_resume_state(last: Path) -> dict[str, Any] | None:
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


def save_resume_state(
    last: Path,
    fingerprint: str,
    model: torch.nn.Module,
    optimizer: torch.optim.Optimizer,
    rng: np.random.Generator,
    progress: Progress,
) -> None:
    """last.pt, atomically: everything the next epoch needs, RNG states included."""
    state = {
        "fingerprint": fingerprint,
        "model": model.state_dict(),
        "optimizer": optimizer.state_dict(),
        "numpy_rng": rng.bit_generator.state,
        "torch_rng": torch.get_rng_state(),
        "history": progress.history,
        "best_metric": progress.best_metric,
        "best_epoch": progress.best_epoch,
        "best": progress.best,
        "epoch": progress.epoch,
        "seconds": progress.seconds,
    }
    with atomic_path(last) as tmp:
        torch.save(state, tmp)


def history_text(history: list[dict[str, Any]]) -> str:
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=HISTORY_COLUMNS, lineterminator="\n")
    writer.writeheader()
    writer.writerows(history)
    return buffer.getvalue()


@dataclass(frozen=True)
class RunContext:
    """What every checkpoint of a run records beside its weights."""

    spec: RunSpec
    settings: TrainSettings
    model: ModelSettings
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
    return make_checkpoint(weights, context.model, metadata, context.grid)


def weights_of(model: torch.nn.Module) -> dict[str, torch.Tensor]:
    """A CPU copy of the model's state dict, detached from further training."""
    return {k: v.detach().cpu().clone() for k, v in model.state_dict().items()}
