"""The realism metrics (cryosse.synthetic.realism) on real maps of ../shared/realdata, through
the network's own input normalisation."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from scipy import ndimage

from cryosse.io.density import DensityMap, read_map
from cryosse.learn.network_input import normalize_density
from cryosse.synthetic import realism
from cryosse.synthetic.atoms import load_atoms


def real_boxes(realdata: Path, folder: str, map_file: str, model: str) -> realism.BoxSet:
    density = read_map(realdata / folder / map_file)
    xyz = load_atoms(realdata / folder / model).xyz
    return realism.BoxSet(folder, realism.map_boxes(folder, density, xyz, normalize_density, 4))


def test_boxes_of_a_real_map_see_the_molecule(realdata: Path) -> None:
    full = real_boxes(realdata, "EMD-5168", "emd_5168.map.gz", "3MFP.pdb")
    zoned = real_boxes(realdata, "EMD-6149", "X-1.0APIX.mrc.gz", "X_fitted.pdb")
    for boxes in (full, zoned):
        assert len(boxes.boxes) == 4
        # normalised: max(ρ, 0) / q99 of the positive voxels, then 2 Å block means
        assert boxes.values("inside").min() >= 0 and boxes.values("inside").max() < 3
        # (the full map's outside holds its unmodelled filament neighbours too)
        assert boxes.values("inside").mean() > 2 * boxes.values("outside").mean()
        assert np.all(boxes.feature("skewness") > 0)
        assert boxes.mean_spectrum().shape == (realism.N_SHELLS,)
    # the He-lab component is zoned (zeros outside), the full map is not
    assert np.median(zoned.feature("zero_fraction")) > np.median(full.feature("zero_fraction"))
    assert np.median(zoned.feature("outside_sd")) < np.median(full.feature("outside_sd"))


def test_a_set_compared_with_itself_is_indistinguishable(realdata: Path) -> None:
    full = real_boxes(realdata, "EMD-5168", "emd_5168.map.gz", "3MFP.pdb")
    for i, box in enumerate(full.boxes):  # folds are made of maps: one box per "map" here
        box.map_name = f"box{i}"
    same = realism.compare(full, full)
    assert same["inside_w1"] == same["outside_w1"] == same["spectrum_rms"] == 0.0
    assert same["local_variance_ratio"] == pytest.approx(1.0)
    assert same["classifier_auc"] == pytest.approx(0.5)  # every score tied with its twin


def test_the_classifier_tells_noise_from_a_real_map(realdata: Path) -> None:
    real = real_boxes(realdata, "EMD-8518", "A-1.0APIX.mrc", "A_fitted.pdb")
    density = read_map(realdata / "EMD-8518" / "A-1.0APIX.mrc")
    xyz = load_atoms(realdata / "EMD-8518" / "A_fitted.pdb").xyz
    noise = realism.BoxSet("noise")
    for i in range(4):
        white = np.random.default_rng(i).standard_normal(density.data.shape).astype(np.float32)
        fake = DensityMap(white, density.origin, density.voxel_size)
        noise.boxes += realism.map_boxes(f"noise{i}", fake, xyz, normalize_density, 4)
    figures = realism.compare(real, noise)
    assert figures["classifier_auc"] > 0.9
    assert figures["spectrum_rms"] > 0.3  # white noise is flat, a map falls off
    assert figures["inside_w1"] > 0.05


def test_auc_and_spectrum_by_hand() -> None:
    y = np.array([0, 0, 1, 1])
    assert realism.auc(np.array([0.1, 0.2, 0.3, 0.4]), y) == 1.0
    assert realism.auc(np.array([0.4, 0.3, 0.2, 0.1]), y) == 0.0
    assert realism.auc(np.array([0.1, 0.3, 0.3, 0.4]), y) == 0.875  # one tie counts half
    rng = np.random.default_rng(0)
    white = rng.standard_normal((24, 24, 24))
    blurred = ndimage.gaussian_filter(white, 2.0)
    flat, steep = realism.radial_spectrum(white, 2.0), realism.radial_spectrum(blurred, 2.0)
    assert np.ptp(flat) < 0.5 < np.ptp(steep)
    assert realism.block_mean(np.ones((5, 4, 4)), 2).shape == (2, 2, 2)
