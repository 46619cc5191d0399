"""Model checkpoints that carry their own metadata, and the packaged default model.

A checkpoint is one `torch.save`d dict (format "cryosse.checkpoint", FORMAT_VERSION 1) holding
only tensors and plain Python values, so it loads with `torch.load(weights_only=True)`:

    format, format_version   what this file is, and the layout version of this dict
    architecture             "deepssetracer" (cryosse.learn.unet.build_model)
    model_config             the `model` config section the network is built from
                             (cryosse.core.config.ModelSettings as a dict)
    model                    the state dict (weights + BatchNorm statistics)
    normalization            {"name", "version"} of cryosse.learn.network_input.normalize_density
    voxel_size               Å per voxel of the network's grid (1.0 for the paper's network; an
                             integer multiple of the samples' grid, e.g. 2.0, for a coarser one)
    grid                     the dataset↔model contract, read from the training samples: the
                             samples' voxel size and central-box margin, the factor between the
                             two grids (cryosse.learn.augment.coarsen_box)
    classes                  ["background", "helix", "sheet"] — the output channel order
    input                    shape conventions: sides a multiple of 2**depth (padded at the high
                             end with the normalised value of zero density), training crop side,
                             the central-box margin (17 voxels) of the training samples
    training                 run spec, settings, epoch, selection metric, number and ids of the
                             training/validation cases, a sha256 over their sample.json files
                             and the training cases' resolution range (train_resolution_A)
    epoch, metric, run       the best epoch, its validation metric and the run spec (top level too,
                             as in the best.pt files written before this format)
    versions                 {"cryosse", "torch"} that wrote it

`load_checkpoint` refuses, with a CheckpointError naming the reason, a file that is missing, is
not a torch file, is not a cryosse checkpoint (including a pre-format best.pt), has a newer format
version, another architecture, normalisation, voxel size or class list, or weights that do not
fit the network its config describes.

The default model (shipped by the package, see `default_model_path`) is
cryosse/models/default.pt, with a model card cryosse/models/default.json beside it.
"""

from __future__ import annotations

import hashlib
import importlib.resources
import io
import json
import math
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import torch

from cryosse import __version__
from cryosse.core.atomic import atomic_path
from cryosse.core.classes import CLASS_NAMES
from cryosse.core.config import ModelSettings, settings_from
from cryosse.core.hashing import sha256_bytes
from cryosse.io.sample import SampleMeta
from cryosse.learn.network_input import NORMALIZATION, NORMALIZATION_VERSION
from cryosse.learn.unet import UNet3D, build_model

FORMAT = "cryosse.checkpoint"  # the file format's name, older than the module's path
FORMAT_VERSION = 2  # 2: voxel_size is the network's grid, "grid" added
ARCHITECTURES = ("deepssetracer",)
SAMPLE_VOXEL_SIZE = 1.0  # Å: cryosse segment and evaluation work from a 1 Å grid
CLASSES = list(CLASS_NAMES.values())  # the output channels, in order
DEFAULT_MODEL = "models/default.pt"
DEFAULT_CARD = "models/default.json"


@dataclass(frozen=True)
class NetworkGrid:
    """The grid the network works on, and the training samples' grid it was derived from."""

    voxel_size: float  # Å per network voxel
    sample_voxel_size: float  # Å per sample voxel
    factor: int  # sample voxels per network voxel, per axis
    central_margin: int  # sample voxels of context around each sample's central box


PAPER_GRID = NetworkGrid(1.0, 1.0, 1, 17)


def network_grid(model: ModelSettings, sample_dirs: list[Path]) -> NetworkGrid:
    """The grid of `model.voxel_size` (None: the samples' own) over these samples, which must
    share one voxel size and padding; ValueError when the spacing is not a whole multiple."""
    metas = [SampleMeta.read(d) for d in sample_dirs]
    voxels = {float(m.voxel_size) for m in metas}
    paddings = {float(m.padding) for m in metas}
    if len(voxels) != 1 or len(paddings) != 1:
        raise ValueError(
            f"samples with different voxel sizes {sorted(voxels)} or paddings "
            f"{sorted(paddings)}: one network grid cannot serve them"
        )
    (sample_voxel,), (padding,) = voxels, paddings
    spacing = model.voxel_size or sample_voxel
    factor = round(spacing / sample_voxel)
    if factor < 1 or abs(factor * sample_voxel - spacing) > 1e-6:
        raise ValueError(
            f"model.voxel_size {spacing} Å is not a whole multiple of the samples' {sample_voxel} Å"
        )
    return NetworkGrid(float(spacing), sample_voxel, factor, round(padding / sample_voxel))


def grid_factor(metadata: dict[str, Any], sample_voxel_size: float = SAMPLE_VOXEL_SIZE) -> int:
    """Sample voxels per network voxel of a loaded checkpoint, for samples of this voxel size."""
    factor = round(float(metadata["voxel_size"]) / sample_voxel_size)
    if factor < 1 or abs(factor * sample_voxel_size - float(metadata["voxel_size"])) > 1e-6:
        raise CheckpointError(
            f"the model's grid of {metadata['voxel_size']} Å is not a whole "
            f"multiple of {sample_voxel_size} Å"
        )
    return factor


class CheckpointError(ValueError):
    """A file that cannot serve as this cryosse's model, with a sentence saying why."""


@dataclass
class Checkpoint:
    """A loaded checkpoint: the network (CPU, eval mode) and everything else it carried."""

    model: UNet3D
    metadata: dict[str, Any]  # every field except the weights
    path: Path
    sha256: str


def make_checkpoint(
    weights: dict[str, torch.Tensor],
    model: ModelSettings,
    training: dict[str, Any],
    grid: NetworkGrid | None = None,
) -> dict[str, Any]:
    """The checkpoint dict for `weights` of the network built from `model`.

    `training` must hold at least "epoch" and "metric"; "run" is copied to the top level.
    `grid`: the network's grid (default: the paper's, 1 Å samples with a 17-voxel margin).
    """
    grid = grid or PAPER_GRID
    model_config = _recorded(model)
    return {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "architecture": model_config["architecture"],
        "model_config": model_config,
        "model": weights,
        "normalization": {"name": NORMALIZATION, "version": NORMALIZATION_VERSION},
        "voxel_size": grid.voxel_size,
        "grid": asdict(grid),
        "classes": list(CLASSES),
        "input": {
            "axis_order": "zyx",
            "side_multiple": 2**model.depth,
            "padding": "high end of each axis, normalised value of zero density",
            "crop_size": training.get("settings", {}).get("crop_size"),
            "central_margin": grid.central_margin,
        },
        "training": training,
        "epoch": training.get("epoch"),
        "metric": training.get("metric"),
        "run": training.get("run"),
        "versions": {"cryosse": __version__, "torch": str(torch.__version__)},
    }


def _recorded(model: ModelSettings) -> dict[str, Any]:
    """The `model` section as a checkpoint records it: the config's plain JSON values, in key
    order. Through JSON, so that its keys are new strings, as they were when the rules' own dict
    was recorded: pickle writes a string object it has already written as a reference, and
    field names are the interned strings of the checkpoint's own keys, which would change the
    bytes of every checkpoint."""
    recorded: dict[str, Any] = json.loads(json.dumps(asdict(model)))
    return recorded


def training_data_summary(train_dirs: list[Path], val_dirs: list[Path]) -> dict[str, Any]:
    """Counts and ids of the training/validation cases, a sha256 over their sample.json and
    the range of the training cases' resolutions (what `cryosse segment` warns outside)."""
    digest = hashlib.sha256()
    resolutions: list[float] = []
    for role, dirs in (("train", train_dirs), ("validation", val_dirs)):
        for directory in dirs:
            text = (Path(directory) / "sample.json").read_bytes()
            digest.update(role.encode() + text)
            value = json.loads(text).get("resolution") if role == "train" else None
            if isinstance(value, int | float) and math.isfinite(value):
                resolutions.append(float(value))
    return {
        "train_resolution_A": [min(resolutions), max(resolutions)] if resolutions else None,
        "train_cases": len(train_dirs),
        "validation_cases": len(val_dirs),
        "train_ids": [Path(d).name for d in train_dirs],
        "validation_ids": [Path(d).name for d in val_dirs],
        "samples_sha256": digest.hexdigest(),
    }


def save_checkpoint(checkpoint: dict[str, Any], path: str | Path) -> None:
    """Write atomically, after checking that it would load (a refused file is never written)."""
    check_metadata(checkpoint, str(path))
    _build(checkpoint, str(path))
    with atomic_path(path) as tmp:
        torch.save(checkpoint, tmp)


def check_metadata(state: Any, name: str) -> None:
    """Raise CheckpointError unless `state` is a checkpoint this cryosse can use."""
    if not isinstance(state, dict) or state.get("format") != FORMAT:
        raise CheckpointError(
            f"{name}: not a cryosse model checkpoint (no '{FORMAT}' metadata; a best.pt written "
            "before checkpoints carried metadata must be retrained or converted)"
        )
    version = state.get("format_version")
    if not isinstance(version, int) or version > FORMAT_VERSION or version < 1:
        raise CheckpointError(
            f"{name}: checkpoint format version {version!r}, this cryosse {__version__} reads "
            f"versions 1 to {FORMAT_VERSION} (written by a newer cryosse?)"
        )
    architecture = state.get("architecture")
    if architecture not in ARCHITECTURES:
        raise CheckpointError(
            f"{name}: unknown architecture {architecture!r} (known: {', '.join(ARCHITECTURES)})"
        )
    expected = {"name": NORMALIZATION, "version": NORMALIZATION_VERSION}
    if state.get("normalization") != expected:
        raise CheckpointError(
            f"{name}: trained with normalisation {state.get('normalization')!r}, this cryosse "
            f"normalises inputs as {expected!r}"
        )
    voxel = state.get("voxel_size")
    if not isinstance(voxel, float | int) or not math.isfinite(voxel) or voxel <= 0:
        raise CheckpointError(f"{name}: voxel size {voxel!r} is not a positive number of Å")
    grid_factor(state, SAMPLE_VOXEL_SIZE)
    if state.get("classes") != CLASSES:
        raise CheckpointError(
            f"{name}: output classes {state.get('classes')!r}, expected {CLASSES!r}"
        )
    if not isinstance(state.get("model"), dict) or not isinstance(state.get("model_config"), dict):
        raise CheckpointError(f"{name}: checkpoint without weights or model config")


def model_settings(model_config: Mapping[str, Any]) -> ModelSettings:
    """The network settings a checkpoint's model_config records: keys absent from an older file
    take their defaults, keys this cryosse does not know are ignored, numbers are converted as
    the network needs them (TypeError / ValueError when they cannot be)."""
    return settings_from(
        ModelSettings, model_config, ignore=model_config, base=int, depth=int, dropout=float
    )


def _encoder_count(weights: dict[str, Any]) -> int:
    levels = {key.split(".")[1] for key in weights if key.startswith("encoders.")}
    return len(levels)


def check_weights_fit_config(state: dict[str, Any], name: str) -> None:
    """Refuse, before any network is built, weights that do not fit their model_config (a
    config saying depth 40 / base 4000 would take terabytes to build)."""
    weights, config = state["model"], state["model_config"]
    bad = [k for k, v in weights.items() if not isinstance(v, torch.Tensor)]
    if bad:
        raise CheckpointError(f"{name}: weights {bad[:3]} are not tensors")
    try:
        model = model_settings(config)
    except (TypeError, ValueError) as exc:
        raise CheckpointError(f"{name}: invalid model config ({exc})") from exc
    depth, base = model.depth, model.base
    if base < 2 or base % 2 or depth < 1:
        raise CheckpointError(
            f"{name}: invalid model config (base {base}, depth {depth}: base "
            "must be an even number >= 2 and depth >= 1)"
        )
    first = weights.get("encoders.0.3.weight")  # the first block's output conv: base channels
    if _encoder_count(weights) != depth + 1 or first is None or first.shape[0] != base:
        raise CheckpointError(
            f"{name}: weights do not fit the network of model_config {config!r}: they hold "
            f"{_encoder_count(weights)} encoder levels of width "
            f"{None if first is None else first.shape[0]}, the config says depth {depth} "
            f"(= {depth + 1} levels) and base {base}"
        )
    # Every shape, from a network on the meta device (no memory is allocated).
    try:
        with torch.device("meta"):
            expected = {k: tuple(v.shape) for k, v in build_model(model).state_dict().items()}
    except (ValueError, TypeError, RuntimeError) as exc:
        raise CheckpointError(f"{name}: invalid model config ({exc})") from exc
    given = {k: tuple(v.shape) for k, v in weights.items()}
    if given != expected:
        wrong = sorted(k for k in expected.keys() | given.keys() if expected.get(k) != given.get(k))
        raise CheckpointError(
            f"{name}: weights do not fit the network of model_config {config!r}: "
            f"{len(wrong)} tensors differ ({', '.join(wrong[:3])}"
            f"{', ...' if len(wrong) > 3 else ''})"
        )


def check_finite_weights(state: dict[str, Any], name: str) -> None:
    """Refuse a checkpoint whose weights hold NaN or Inf (every prediction would be NaN).
    Checked on loading only: training may still record a diverged run's weights."""
    weights = state["model"]
    nonfinite = [
        k for k, v in weights.items() if v.is_floating_point() and not bool(torch.isfinite(v).all())
    ]
    if nonfinite:
        raise CheckpointError(
            f"{name}: {len(nonfinite)} weight tensors hold NaN or Inf values "
            f"({', '.join(nonfinite[:3])}): the predictions would be NaN"
        )


def _build(state: dict[str, Any], name: str) -> UNet3D:
    check_weights_fit_config(state, name)
    try:
        model = build_model(model_settings(state["model_config"]))
    except (ValueError, TypeError) as exc:
        raise CheckpointError(f"{name}: invalid model config ({exc})") from exc
    try:
        model.load_state_dict(state["model"], strict=True)
    except (RuntimeError, KeyError, TypeError) as exc:
        first = str(exc).strip().splitlines()
        detail = " ".join(line.strip() for line in first[:3])
        raise CheckpointError(
            f"{name}: weights do not fit the network of model_config "
            f"{state['model_config']!r}: {detail[:300]}"
        ) from exc
    return model.eval()


def load_checkpoint(path: str | Path) -> Checkpoint:
    """Load and check a checkpoint (weights_only: nothing but tensors and plain values)."""
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"model checkpoint {path} not found")
    raw = path.read_bytes()
    try:
        state = torch.load(io.BytesIO(raw), map_location="cpu", weights_only=True)
    except Exception as exc:  # arbitrary bytes make the unpickler fail in arbitrary ways
        reason = _first_line(exc)
        raise CheckpointError(
            f"{path.name}: not a readable model checkpoint (torch.load: {reason})"
        ) from exc
    check_metadata(state, path.name)
    model = _build(state, path.name)
    check_finite_weights(state, path.name)
    metadata = {k: v for k, v in state.items() if k != "model"}
    return Checkpoint(model, metadata, path, sha256_bytes(raw))


def _first_line(exc: Exception) -> str:
    """The telling line of a torch.load error (the unpickler's own line when there is one)."""
    lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
    telling = [line for line in lines if "Unpickler error" in line]
    return (telling or lines or [type(exc).__name__])[0][:200]


def default_model_card() -> dict[str, Any]:
    """The shipped model's card (models/default.json), {} when this installation has none."""
    resource = importlib.resources.files("cryosse").joinpath(DEFAULT_CARD)
    return json.loads(resource.read_text(encoding="utf-8")) if resource.is_file() else {}


def default_model_path() -> Path:
    """The model shipped inside the package; CheckpointError if this installation has none."""
    resource = importlib.resources.files("cryosse").joinpath(DEFAULT_MODEL)
    if not resource.is_file():
        raise CheckpointError(
            "no default model is shipped with this cryosse installation "
            f"(cryosse/{DEFAULT_MODEL} is missing): pass --model CHECKPOINT (a best.pt of a "
            "training run)"
        )
    return Path(str(resource))
