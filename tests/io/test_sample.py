"""Samples are checked against their sample.json when read (issue 26: corrupted training
samples): one line naming the sample and the file, never an IndexError or a quiet run."""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from pathlib import Path

import mrcfile
import numpy as np
import pytest

from cryosse.io.density import write_map
from cryosse.io.sample import SampleError, read_sample
from cryosse.learn.augment import load_box

NAME = "EMD-8518_5u8s_A"


@pytest.fixture(scope="module")
def curated(demo_samples: Callable[[str], Path]) -> Path:
    return demo_samples("EMD-8518") / NAME


@pytest.fixture
def sample(curated: Path, tmp_path: Path) -> Path:
    copy = tmp_path / NAME
    shutil.copytree(curated, copy)
    return copy


def _rewrite(path: Path, data: np.ndarray, sample: Path) -> None:
    meta = json.loads((sample / "sample.json").read_text())
    write_map(path, data, np.array(meta["origin"]), float(meta["voxel_size"]))


def _refused(sample: Path) -> str:
    with pytest.raises(SampleError) as info:
        read_sample(sample)
    with pytest.raises(SampleError) as again:
        load_box(sample)  # what training calls
    assert str(info.value) == str(again.value)
    assert "\n" not in str(info.value)
    return str(info.value)


def test_an_intact_sample_reads(sample: Path) -> None:
    read = read_sample(sample)
    assert read.density.shape == read.labels.shape == read.meta.shape_xyz[::-1]
    assert read.density.dtype == np.float32 and read.labels.dtype == np.uint8


def test_truncated_density(sample: Path) -> None:
    """Was: IndexError from mrcfile, no file name."""
    path = sample / "density.mrc"
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
    message = _refused(sample)
    assert message.startswith(f"sample {NAME}: density.mrc: truncated: the header implies")


def test_labels_outside_the_classes(sample: Path) -> None:
    """Was: a RuntimeError from the loss (a class index 7 of 3)."""
    labels = read_sample(sample).labels.astype(np.int8)
    labels[3, 4, 5] = 7
    _rewrite(sample / "labels.mrc", labels, sample)
    message = _refused(sample)
    assert message == (
        f"sample {NAME}: labels.mrc: values [7] outside the classes 0 (background), "
        "1 (helix), 2 (sheet)"
    )


def test_density_narrower_than_its_labels(sample: Path) -> None:
    """Was: trained with exit status 0 (the crop padded the missing columns)."""
    density = read_sample(sample).density
    _rewrite(sample / "density.mrc", density[:, :, :-5], sample)
    nx, ny, nz = json.loads((sample / "sample.json").read_text())["shape_xyz"]
    message = _refused(sample)
    assert message == (
        f"sample {NAME}: density.mrc: {nx - 5}×{ny}×{nz} voxels (x×y×z), sample.json says "
        f"{nx}×{ny}×{nz}"
    )


def test_broken_sample_json(sample: Path) -> None:
    (sample / "sample.json").write_text('{"sample_id": ')
    assert "sample.json: not valid JSON" in _refused(sample)
    meta = json.loads(json.dumps({"shape_xyz": [10, 10], "sample_id": NAME}))
    (sample / "sample.json").write_text(json.dumps(meta))
    assert "shape_xyz [10, 10] is not three positive integers" in _refused(sample)


def test_central_box_outside_the_shape(sample: Path) -> None:
    meta = json.loads((sample / "sample.json").read_text())
    meta["central_stop_xyz"] = [n + 1 for n in meta["shape_xyz"]]
    (sample / "sample.json").write_text(json.dumps(meta))
    assert "central box" in _refused(sample)


def test_nan_density(sample: Path) -> None:
    density = read_sample(sample).density
    density[1, 2, 3] = np.nan
    with mrcfile.open(sample / "density.mrc", mode="r+") as mrc:
        mrc.set_data(density)
    assert _refused(sample) == f"sample {NAME}: density.mrc: 1 voxels are NaN or infinite"
