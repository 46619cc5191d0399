"""Checkpoints with metadata: round trip, and every refusal with its reason."""

from __future__ import annotations

import gzip
import pickle
from dataclasses import asdict
from pathlib import Path

import pytest
import torch

from cryosse import __version__
from cryosse.core.config import ModelSettings, load_config, sort_keys
from cryosse.learn.checkpoint import (
    CLASSES,
    CheckpointError,
    default_model_path,
    load_checkpoint,
    make_checkpoint,
    save_checkpoint,
)
from cryosse.learn.network_input import NORMALIZATION, NORMALIZATION_VERSION
from cryosse.learn.unet import UNet3D

MODEL = ModelSettings(base=4)
CONFIG = asdict(MODEL)  # as the checkpoint records it
TRAINING = {
    "epoch": 3,
    "metric": 0.25,
    "run": {"loss": "CE", "lr": 0.001, "gamma": None},
    "train_cases": 2,
    "validation_cases": 1,
    "train_ids": ["a", "b"],
    "validation_ids": ["c"],
    "settings": {"crop_size": 48},
}


def _checkpoint(**changes: object) -> dict:
    torch.manual_seed(0)
    state = make_checkpoint(UNet3D(base=4).state_dict(), MODEL, TRAINING)
    state.update(changes)
    return state


def test_round_trip(tmp_path: Path) -> None:
    state = _checkpoint()
    save_checkpoint(state, tmp_path / "best.pt")
    loaded = load_checkpoint(tmp_path / "best.pt")
    assert not loaded.model.training  # eval mode: BatchNorm statistics, no dropout
    for key, value in state["model"].items():
        assert torch.equal(loaded.model.state_dict()[key], value)
    meta = loaded.metadata
    assert "model" not in meta and meta["model_config"] == CONFIG
    assert meta["classes"] == CLASSES == ["background", "helix", "sheet"]
    assert meta["normalization"] == {"name": NORMALIZATION, "version": NORMALIZATION_VERSION}
    assert meta["voxel_size"] == 1.0 and meta["input"]["side_multiple"] == 4
    assert meta["input"]["crop_size"] == 48
    assert meta["epoch"] == 3 and meta["training"]["validation_ids"] == ["c"]
    assert meta["versions"] == {"cryosse": __version__, "torch": torch.__version__}
    assert len(loaded.sha256) == 64
    assert not list(tmp_path.glob(".tmp-*"))  # written atomically, nothing left behind


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"format_version": 99}, "format version 99"),
        ({"architecture": "transformer"}, "unknown architecture 'transformer'"),
        ({"normalization": {"name": "minmax", "version": 1}}, "trained with normalisation"),
        ({"normalization": {"name": NORMALIZATION, "version": 0}}, "trained with normalisation"),
        ({"voxel_size": 1.5}, "grid of 1.5 Å is not a whole multiple"),
        ({"voxel_size": -1.0}, "voxel size -1.0 is not a positive"),
        ({"voxel_size": "2"}, "voxel size '2' is not a positive"),
        ({"classes": ["background", "helix"]}, "output classes"),
        ({"model_config": {**CONFIG, "base": 8}}, "weights do not fit"),
        ({"model_config": {**CONFIG, "depth": 3}}, "weights do not fit"),
        ({"model_config": {**CONFIG, "base": 3}}, "invalid model config"),
    ],
)
def test_incompatible_checkpoints_are_refused(tmp_path: Path, changes: dict, message: str) -> None:
    path = tmp_path / "bad.pt"
    torch.save(_checkpoint(**changes), path)
    with pytest.raises(CheckpointError, match=message):
        load_checkpoint(path)
    with pytest.raises(CheckpointError, match=message):  # and never written by save_checkpoint
        save_checkpoint(_checkpoint(**changes), tmp_path / "never.pt")
    assert not (tmp_path / "never.pt").exists()


@pytest.mark.parametrize("config_file", ["demo.yaml", "config.yaml", "study.yaml", "offline.yaml"])
def test_the_checkpoint_records_the_rules_model_section_byte_for_byte(config_file: str) -> None:
    """The rules pass the completed, key-sorted `model` section (unpickled by Snakemake: new
    strings); a checkpoint made from its ModelSettings pickles to the same bytes as one that
    records that dict itself, as checkpoints did before ModelSettings."""
    config = sort_keys(load_config(Path(__file__).parents[2] / "config" / config_file))
    section = pickle.loads(pickle.dumps(config["model"]))
    state = make_checkpoint(UNet3D(base=4).state_dict(), ModelSettings.from_config(section), {})
    as_before = {**state, "architecture": section["architecture"], "model_config": section}
    assert list(state) == list(as_before) and list(state["model_config"]) == list(section)
    assert pickle.dumps(state) == pickle.dumps(as_before)


def test_a_model_config_written_before_model_settings_loads(tmp_path: Path) -> None:
    """Older files record the section as they got it: keys missing (their defaults) or unknown
    (ignored), numbers as strings; the network is built from it as before, the dict kept."""
    for recorded in ({"base": 4, "depth": 2}, {"base": "4", "dropout": 0, "comment": "old"}):
        torch.save(_checkpoint(model_config=recorded), tmp_path / "old.pt")
        loaded = load_checkpoint(tmp_path / "old.pt")
        assert loaded.metadata["model_config"] == recorded
        assert loaded.model.base == 4 and loaded.model.depth == 2


def test_truncated_weights_are_refused(tmp_path: Path) -> None:
    state = _checkpoint()
    state["model"] = {k: v for k, v in state["model"].items() if not k.startswith("head")}
    torch.save(state, tmp_path / "bad.pt")
    with pytest.raises(CheckpointError, match=r"weights do not fit.*head"):
        load_checkpoint(tmp_path / "bad.pt")


def test_files_that_are_not_checkpoints(tmp_path: Path) -> None:
    with pytest.raises(CheckpointError, match="not found"):
        load_checkpoint(tmp_path / "missing.pt")
    (tmp_path / "text.pt").write_text("hello\n")
    with pytest.raises(CheckpointError, match="not a readable model checkpoint"):
        load_checkpoint(tmp_path / "text.pt")
    with gzip.open(tmp_path / "map.pt", "wb") as handle:
        handle.write(b"\0" * 1024)
    with pytest.raises(CheckpointError, match="not a readable model checkpoint"):
        load_checkpoint(tmp_path / "map.pt")
    # A pre-format best.pt (weights + config only) is named as such.
    legacy = {"model": UNet3D(base=4).state_dict(), "model_config": CONFIG}
    torch.save(legacy, tmp_path / "legacy.pt")
    with pytest.raises(CheckpointError, match="not a cryosse model checkpoint"):
        load_checkpoint(tmp_path / "legacy.pt")
    # Arbitrary pickled objects are not unpickled (weights_only=True).
    torch.save({"format": "cryosse.checkpoint", "evil": Path("/")}, tmp_path / "object.pt")
    with pytest.raises(CheckpointError, match="not a readable model checkpoint"):
        load_checkpoint(tmp_path / "object.pt")


def test_default_model_is_found_or_refused_clearly() -> None:
    packaged = Path(__file__).parents[2] / "src/cryosse/models/default.pt"
    if packaged.exists():  # issue 10 ships one: it must load
        assert load_checkpoint(default_model_path()).metadata["classes"] == CLASSES
    else:
        with pytest.raises(CheckpointError, match=r"no default model is shipped.*--model"):
            default_model_path()


def test_a_huge_config_is_refused_before_building(tmp_path: Path) -> None:
    """depth 40 / base 4000 would need terabytes to build: refused from the weights' shapes,
    with no allocation (peak RSS stays where it was)."""
    import resource

    path = tmp_path / "huge.pt"
    torch.save(_checkpoint(model_config={**CONFIG, "depth": 40, "base": 4000}), path)
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    with pytest.raises(CheckpointError, match=r"depth 40 \(= 41 levels\) and base 4000"):
        load_checkpoint(path)
    assert resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before < 200 * 1024  # KiB


@pytest.mark.parametrize("bad", [float("nan"), float("inf")])
def test_nan_or_inf_weights_are_refused(tmp_path: Path, bad: float) -> None:
    state = _checkpoint()
    state["model"]["head.weight"][0, 0] = bad
    torch.save(state, tmp_path / "nan.pt")
    with pytest.raises(CheckpointError, match=r"NaN or Inf.*head.weight"):
        load_checkpoint(tmp_path / "nan.pt")
