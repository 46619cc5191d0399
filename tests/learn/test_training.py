"""Training on real demo samples: input pipeline, grid, determinism, resume after a kill,
selection of the best run per loss."""

from __future__ import annotations

import csv
import hashlib
import json
import re
from collections.abc import Callable
from dataclasses import asdict, replace
from pathlib import Path

import numpy as np
import pytest
import torch

from cryosse.core.config import ModelSettings, complete_config
from cryosse.core.run_grid import (
    EXECUTION_KEYS,
    GRID_KEYS,
    RUN_ID_PATTERN,
    RunSpec,
    run_recipe,
    run_spec,
    seed_of,
    seed_run_id,
    selection_grid,
    training_grid,
)
from cryosse.io.density import read_map
from cryosse.learn.augment import SYMMETRIES, apply_symmetry, contrasted, load_box, random_crop
from cryosse.learn.device import DeviceError, require_gpu
from cryosse.learn.network_input import normalize_density
from cryosse.learn.predict import predict_box
from cryosse.learn.run_state import RESUMABLE_CHANGES, run_fingerprint
from cryosse.learn.selection import select_best_runs
from cryosse.learn.settings import TrainSettings, pick_device
from cryosse.learn.stage import run_training
from cryosse.learn.training import train_run
from cryosse.learn.training_memory import TrainingMemoryError, check_training_memory
from cryosse.learn.unet import UNet3D
from tests.conftest import REALDATA

MODEL = {"base": 4, "depth": 2, "dropout": 0.5}
FAST = TrainSettings(epochs=3, patience=5, steps_per_epoch=2, crop_size=24, threads=1)


@pytest.fixture(scope="module")
def samples(demo_samples: Callable[[str], Path]) -> dict[str, Path]:
    """Real samples curated from the demo mirror: EMD-8518 (train) and EMD-6149 (validation)."""
    return {p.name: p for emdb in ("EMD-8518", "EMD-6149") for p in demo_samples(emdb).iterdir()}


def test_normalisation() -> None:
    density = np.array([[[-2.0, 0.0, 1.0, 4.0]]], dtype=np.float32)
    x, zero = normalize_density(density)
    q = np.percentile([1.0, 4.0], 99.0)  # of the positive voxels only; negatives → 0
    assert np.allclose(x.ravel(), [0.0, 0.0, 1.0 / q, 4.0 / q], atol=1e-6)
    assert zero == 0.0
    assert x.dtype == np.float32
    assert np.all(normalize_density(np.zeros((2, 2, 2)))[0] == 0)


def test_normalisation_ignores_empty_space_around_a_real_map() -> None:
    """Zero padding leaves the input unchanged; cropping into the molecule changes it by < 3 %."""
    density = read_map(REALDATA / "EMD-8518" / "A-1.0APIX.mrc").data
    x, _ = normalize_density(density)
    padded, _ = normalize_density(np.pad(density, 15))
    assert np.array_equal(padded[15:-15, 15:-15, 15:-15], x)
    crop = (slice(10, -10), slice(12, -12), slice(8, -8))
    cropped, _ = normalize_density(density[crop])
    assert np.allclose(cropped, x[crop], rtol=0.03, atol=1e-6)


def test_48_symmetries_are_distinct_and_keep_labels_aligned() -> None:
    assert len(SYMMETRIES) == 48
    rng = np.random.default_rng(0)
    a = rng.normal(size=(3, 4, 5))
    images = {apply_symmetry(a, i).tobytes() + bytes(apply_symmetry(a, i).shape) for i in range(48)}
    assert len(images) == 48
    labels = (a > 0).astype(np.int64)
    for i in range(48):
        assert np.array_equal(apply_symmetry(a, i) > 0, apply_symmetry(labels, i) == 1)


def test_crops_hold_central_voxels(samples: dict[str, Path]) -> None:
    box = load_box(samples["EMD-8518_5u8s_A"])
    assert box.central.sum() > 0 and not box.central[0, 0, 0]  # padding is not central
    rng = np.random.default_rng(0)
    for size in (16, 24, 200):
        density, labels, mask = random_crop(box, size, rng)
        assert density.shape == labels.shape == mask.shape == (size, size, size)
        assert mask.any()
    # a crop larger than the box is padded with the zero-density level, mask off, background
    density, labels, mask = random_crop(box, 200, rng)
    assert density[-1, -1, -1] == pytest.approx(box.zero_level)
    assert labels[-1, -1, -1] == 0 and not mask[-1, -1, -1]


def test_contrast_keeps_empty_map_the_top_and_the_order(samples: dict[str, Path]) -> None:
    density = load_box(samples["EMD-8518_5u8s_A"]).density
    for power in (0.7, 1.5):
        out = contrasted(density, power)
        assert out.dtype == np.float32 and np.all(out[density == 0] == 0)
        order = np.argsort(density, axis=None, kind="stable")
        assert np.all(np.diff(out.reshape(-1)[order]) >= 0)  # monotone: no voxel overtakes
        assert contrasted(np.ones(3, np.float32), power).tolist() == [1.0, 1.0, 1.0]
    inner = (density > 0.1) & (density < 0.9)
    assert (contrasted(density, 0.7)[inner] > density[inner]).all()
    settings = TrainSettings.from_config({"contrast_probability": 0.5, "contrast_power": [0.8, 1]})
    assert settings.contrast_power == (0.8, 1.0)


def test_a_switched_off_contrast_keeps_the_resume_fingerprint(samples: dict[str, Path]) -> None:
    spec, model = RunSpec("FL_DL", 1e-3, 2.0, 0), ModelSettings()
    dirs = [samples["EMD-8518_5u8s_A"]]
    off = TrainSettings()

    def fingerprint(settings: TrainSettings) -> str:
        return run_fingerprint(spec, settings, model, dirs, dirs)

    # the digest a run started before the contrast settings existed carries in its last.pt
    shaping = {
        k: v
        for k, v in asdict(off).items()
        if k not in RESUMABLE_CHANGES and not k.startswith("contrast_")
    }
    setup = json.dumps([asdict(spec), shaping, asdict(model)], sort_keys=True, default=str)
    digest = hashlib.sha256(setup.encode())
    for role in ("train", "validation"):
        digest.update(role.encode() + (dirs[0] / "sample.json").read_bytes())
    assert fingerprint(off) == digest.hexdigest()
    assert fingerprint(replace(off, contrast_power=(0.5, 2.0))) == fingerprint(off)
    assert fingerprint(replace(off, contrast_probability=0.5)) != fingerprint(off)


def test_grid_has_33_runs() -> None:
    grid = selection_grid({})
    assert len(grid) == 33
    assert len({s.run_id for s in grid}) == 33
    counts = {
        loss: sum(s.loss == loss for s in grid) for loss in ("CE", "FL", "DL", "CE_DL", "FL_DL")
    }
    assert counts == {"CE": 3, "FL": 12, "DL": 3, "CE_DL": 3, "FL_DL": 12}
    assert run_spec("FL_DL_g5_lr0.0001_s0", {}) == RunSpec("FL_DL", 1e-4, 5.0, 0)
    with pytest.raises(ValueError, match="not in the training grid"):
        run_spec("FL_g3_lr0.001_s0", {})


def test_seeds_are_a_wildcard_of_the_grid() -> None:
    training = {"losses": ["CE", "FL_DL"], "learning_rates": [1e-3], "gammas": [1, 2]}
    training["seeds"] = [7, 1, 2]
    # hyper-parameters are chosen with the first seed; every seed may train a setting
    assert [s.run_id for s in selection_grid(training)] == [
        "CE_lr0.001_s7",
        "FL_DL_g1_lr0.001_s7",
        "FL_DL_g2_lr0.001_s7",
    ]
    assert len(training_grid(training)) == 9
    assert run_spec("FL_DL_g2_lr0.001_s2", training) == RunSpec("FL_DL", 1e-3, 2.0, 2)
    assert seed_run_id("FL_DL_g2_lr0.001_s7", 1, training) == "FL_DL_g2_lr0.001_s1"
    assert seed_of("FL_DL_g2_lr0.001_s12") == 12
    with pytest.raises(ValueError, match="names no seed"):
        seed_of("FL_DL_g2_lr0.001")
    with pytest.raises(ValueError, match="not in the training grid"):
        run_spec("CE_lr0.001_s3", training)  # seed 3 is not in the config
    for spec in training_grid(training):  # the Snakefile's wildcard constraint takes each id
        assert re.fullmatch(RUN_ID_PATTERN, spec.run_id)


def test_only_the_recipe_identifies_a_run() -> None:
    training = complete_config({})["training"]
    recipe = run_recipe(training)
    # the grid and the execution settings never reach a job's params
    assert not set(recipe) & {*GRID_KEYS, *EXECUTION_KEYS}
    assert {"epochs", "crop_size", "batch_size", "zone_probability"} <= set(recipe)
    # every key of the section is one of the three kinds
    assert set(recipe) | set(GRID_KEYS) | set(EXECUTION_KEYS) == set(training)


def test_a_gpu_job_without_cuda_fails_at_its_start(tmp_path: Path) -> None:
    require_gpu(False, "cpu")  # a CPU job
    if torch.cuda.is_available():
        pytest.skip("this machine has a CUDA device")
    with pytest.raises(DeviceError, match="sees no CUDA device"):
        require_gpu(True, "auto")
    with pytest.raises(DeviceError, match="device is cpu"):
        require_gpu(True, "cpu")
    # the stage refuses before it reads a sample or writes a file
    training = {"losses": ["CE"], "learning_rates": [1e-3], "gpu": True, "device": "auto"}
    with pytest.raises(DeviceError):
        run_training(
            run_id="CE_lr0.001_s0",
            manifest="missing.tsv",
            main_tsv="missing.tsv",
            training=training,
            model=MODEL,
            out_dir=tmp_path / "r",
        )
    assert not (tmp_path / "r").exists()


def test_predict_box_probabilities(samples: dict[str, Path]) -> None:
    torch.manual_seed(0)
    box = load_box(samples["EMD-6149_3j8g_X"])
    probs = predict_box(UNet3D(base=4), box, pick_device(TrainSettings(device="cpu")))
    assert probs.shape == (3, *box.density.shape)
    assert np.allclose(probs.sum(axis=0), 1.0, atol=1e-5)


def read_history(path: Path) -> list[dict[str, str]]:
    with open(path, newline="") as handle:
        return list(csv.DictReader(handle))


def test_training_is_deterministic_and_resumes(samples: dict[str, Path], tmp_path: Path) -> None:
    spec = RunSpec("FL_DL", 1e-3, 2.0)
    train, val = [samples["EMD-8518_5u8s_A"]], [samples["EMD-6149_3j8g_X"]]
    straight = train_run(spec, FAST, MODEL, train, val, tmp_path / "straight")
    history = read_history(tmp_path / "straight/history.csv")
    assert [int(r["epoch"]) for r in history] == [1, 2, 3]
    assert straight["epochs_run"] == 3 and straight["validation_cases"] == 1
    assert 0.0 <= straight["best_val_metric"] <= 1.0
    best = torch.load(tmp_path / "straight/best.pt", weights_only=False)
    assert best["epoch"] == straight["best_epoch"]
    assert best["model_config"] == asdict(ModelSettings.from_config(MODEL))
    assert json.loads((tmp_path / "straight/summary.json").read_text())["run_id"] == spec.run_id

    # Killed after epoch 2 (its last.pt is all that survives), then resubmitted: it resumes at
    # epoch 3 and ends exactly where the uninterrupted run ended.
    killed = tmp_path / "killed"
    train_run(spec, TrainSettings(**{**FAST.__dict__, "epochs": 2}), MODEL, train, val, killed)
    (killed / "summary.json").unlink()
    (killed / "history.csv").unlink()
    train_run(spec, FAST, MODEL, train, val, killed)
    resumed = read_history(killed / "history.csv")
    assert [r["train_loss"] for r in resumed] == [r["train_loss"] for r in history]
    assert [r["val_metric"] for r in resumed] == [r["val_metric"] for r in history]

    # Resubmitted after it finished (Snakemake deleted its outputs): nothing is retrained, the
    # outputs come back from last.pt.
    for name in ("best.pt", "summary.json", "history.csv"):
        (killed / name).unlink()
    again = train_run(spec, FAST, MODEL, train, val, killed)
    assert again["epochs_run"] == 3 and (killed / "best.pt").exists()
    assert read_history(killed / "history.csv") == resumed

    # New data (another validation case) changes the fingerprint: training starts afresh.
    fresh = train_run(spec, FAST, MODEL, train, [*val, samples["EMD-8518_5u8s_A"]], killed)
    assert fresh["validation_cases"] == 2
    assert read_history(killed / "history.csv")[0]["val_metric"] != history[0]["val_metric"]


def test_early_stopping(samples: dict[str, Path], tmp_path: Path) -> None:
    settings = TrainSettings(**{**FAST.__dict__, "epochs": 6, "patience": 1})
    summary = train_run(
        RunSpec("CE", 1e-5),
        settings,
        MODEL,
        [samples["EMD-8518_5u8s_A"]],
        [samples["EMD-6149_3j8g_X"]],
        tmp_path,
    )
    assert summary["epochs_run"] <= summary["best_epoch"] + 2
    assert summary["stopped_early"] == (summary["epochs_run"] < 6)


@pytest.mark.parametrize(
    ("change", "said"),
    [
        ({"crop_size": 512}, "crop(s) of 512³"),
        ({"batch_size": 256, "crop_size": 64, "base": 64}, "a step of 256 crop(s)"),
        ({"base": 512}, "model base 512"),
        ({"crop_size": 30}, "crop_size 30 is not a multiple of 2**model.depth (4)"),
    ],
)
def test_settings_beyond_memory_are_refused_before_training(
    samples: dict[str, Path], tmp_path: Path, change: dict, said: str
) -> None:
    """crop_size, batch_size, base or depth far beyond the machine: one line naming the memory
    they imply, before a tensor is allocated or a file written (was: a traceback after minutes,
    or at 7.5 GB)."""
    model = {**MODEL, **{k: v for k, v in change.items() if k in ("base", "depth")}}
    settings = TrainSettings(
        **{**FAST.__dict__, **{k: v for k, v in change.items() if k not in model}}
    )
    with pytest.raises(TrainingMemoryError) as info:
        train_run(
            RunSpec("CE", 1e-3),
            settings,
            model,
            [samples["EMD-8518_5u8s_A"]],
            [samples["EMD-6149_3j8g_X"]],
            tmp_path / "run",
        )
    assert said in str(info.value) and "\n" not in str(info.value)
    assert not any((tmp_path / "run").iterdir())


def test_memory_estimate_of_the_paper_setting() -> None:
    """The estimate grows with what costs memory and is refused against a small budget."""
    paper = ModelSettings(base=64, depth=2, dropout=0.5)
    device = pick_device(TrainSettings(device="cpu"))

    def need(settings: TrainSettings, model: ModelSettings) -> int:
        return check_training_memory(model, settings, [], [], 1, device, 10**15)["step"]

    base = need(TrainSettings(), paper)
    # the 64³ crop through the 4.59 M-parameter net: 1.4 GB measured (see _TRAIN_FACTOR)
    assert 1.4e9 < base < 2.0e9
    assert need(TrainSettings(batch_size=2), paper) > 1.9 * base
    assert need(TrainSettings(crop_size=128), paper) > 7.5 * base
    assert need(TrainSettings(), replace(paper, base=128)) > 1.9 * base
    with pytest.raises(TrainingMemoryError, match=r"need about 1\.[6-9] GB of host memory"):
        check_training_memory(paper, TrainSettings(), [], [], 1, device, 10**9)


def test_corrupted_sample_stops_training_with_its_name(
    samples: dict[str, Path], tmp_path: Path
) -> None:
    """A density 5 columns narrower than its labels trained with exit status 0."""
    import shutil

    from cryosse.io.density import write_map
    from cryosse.io.sample import SampleError, read_sample

    broken = tmp_path / "EMD-8518_5u8s_A"
    shutil.copytree(samples["EMD-8518_5u8s_A"], broken)
    sample = read_sample(broken)
    meta = sample.meta
    write_map(
        broken / "density.mrc",
        sample.density[:, :, :-5],
        np.array(meta.origin),
        float(meta.voxel_size),
    )
    with pytest.raises(SampleError, match=r"EMD-8518_5u8s_A: density\.mrc: .* sample\.json says"):
        train_run(RunSpec("CE", 1e-3), FAST, MODEL, [broken], [], tmp_path / "run")


def test_selection_picks_the_best_run_per_loss() -> None:
    def summary(loss: str, lr: float, gamma: float | None, metric: float) -> dict:
        spec = RunSpec(loss, lr, gamma)
        return {
            "run_id": spec.run_id,
            "loss": loss,
            "lr": lr,
            "gamma": gamma,
            "best_epoch": 4,
            "best_val_metric": metric,
            "selection": "validation metric",
        }

    rows = select_best_runs(
        [
            summary("CE", 1e-3, None, 0.40),
            summary("CE", 1e-4, None, 0.45),
            summary("FL", 1e-3, 1.0, 0.50),
            summary("FL", 1e-3, 2.0, 0.50),
        ]
    )
    chosen = {r["loss"]: r["run_id"] for r in rows}
    assert chosen == {"CE": "CE_lr0.0001_s0", "FL": "FL_g1_lr0.001_s0"}  # tie: the earlier run
    assert "others: CE_lr0.001_s0 0.4000" in rows[0]["why"]


def test_a_truncated_or_crafted_last_pt_starts_afresh(
    samples: dict[str, Path], tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """A truncated last.pt (a kill while the disk was full) must not fail every later run, and a
    crafted one must not run code: both are refused by weights_only and training starts anew."""
    import pickle

    class Payload:
        def __reduce__(self) -> tuple:
            return (Path.touch, (tmp_path / "pwned",))

    settings = TrainSettings(**{**FAST.__dict__, "epochs": 1})
    for content in (b"PK\x03\x04 truncated", pickle.dumps({"fingerprint": Payload()})):
        out = tmp_path / f"run{len(content)}"
        out.mkdir()
        (out / "last.pt").write_bytes(content)
        summary = train_run(
            RunSpec("CE", 1e-3), settings, MODEL, [samples["EMD-8518_5u8s_A"]], [], out
        )
        assert summary["epochs_run"] == 1
    assert not (tmp_path / "pwned").exists()
    assert "training starts afresh" in caplog.text
