"""sample.json has one typed form, SampleMeta: it reads every key curation writes, writes the
same bytes back, and its central box is the one curation cropped (CropBox.central_mask)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from cryosse.acquire.locate import locate_entry
from cryosse.core.config import ResolutionWindow
from cryosse.curate.crop import CropBox
from cryosse.curate.entry import curate_entry
from cryosse.curate.settings import CurationSettings
from cryosse.io.mirror import LocalMirror
from cryosse.io.sample import SampleError, SampleMeta, read_sample
from tests.conftest import DEMO_MIRROR


@pytest.fixture(scope="module")
def samples(tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    """Every sample of two demo entries: one of four chains, one at 1.742 Å voxels."""
    out = tmp_path_factory.mktemp("samples")
    settings = CurationSettings(resolution=ResolutionWindow(3.0, 10.0))
    for emdb in ("EMD-3488", "EMD-5168"):
        located = locate_entry(emdb, LocalMirror.at(DEMO_MIRROR), settings.resolution)
        curate_entry(located, settings, out)
    return sorted(out.iterdir())


def test_sample_json_round_trips_byte_for_byte(samples: list[Path]) -> None:
    assert len(samples) == 3
    for directory in samples:
        text = (directory / "sample.json").read_text()
        meta = SampleMeta.read(directory)
        assert meta.to_json() == text
        assert SampleMeta.from_json(json.loads(text)) == meta
        assert meta.sample_id == directory.name


def test_central_mask_is_the_cropped_central_box(samples: list[Path]) -> None:
    for directory in samples:
        meta = read_sample(directory).meta
        box = CropBox(
            origin=np.array(meta.origin),
            shape_xyz=meta.shape_xyz,
            voxel_size=meta.voxel_size,
            central_start=meta.central_start_xyz,
            central_stop=meta.central_stop_xyz,
        )
        mask = meta.central_mask(meta.shape_xyz[::-1])
        np.testing.assert_array_equal(mask, box.central_mask())
        assert mask.sum() == np.prod(
            [b - a for a, b in zip(meta.central_start_xyz, meta.central_stop_xyz, strict=True)]
        )


def test_a_sample_json_without_a_field_is_refused(samples: list[Path], tmp_path: Path) -> None:
    copy = tmp_path / samples[0].name
    shutil.copytree(samples[0], copy)
    data = json.loads((copy / "sample.json").read_text())
    del data["quality"]
    (copy / "sample.json").write_text(json.dumps(data))
    with pytest.raises(SampleError, match=r"sample\.json: not a sample's metadata .*quality"):
        read_sample(copy)
