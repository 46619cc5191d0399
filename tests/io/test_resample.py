"""Trilinear resampling onto another grid (cryosse.io.resample): exact on linear densities,
a copy on a sub-grid of the map, zero beyond the map."""

import gzip
import shutil
from pathlib import Path

import numpy as np

from cryosse.curate.crop import CropBox
from cryosse.io.density import read_map
from cryosse.io.resample import resample_axes
from tests.support.mrc import write_test_map


def test_anisotropic_voxels_give_exact_trilinear_values(tmp_path: Path) -> None:
    """A linear density f = 2x - y + 0.5z + 3 is reproduced exactly by trilinear resampling."""
    voxel = (1.0, 1.5, 2.0)
    origin = np.array([10.0, -5.0, 3.0])
    nz, ny, nx = 12, 14, 16
    z, y, x = np.meshgrid(*(np.arange(n) for n in (nz, ny, nx)), indexing="ij")
    cart = [origin[0] + x * voxel[0], origin[1] + y * voxel[1], origin[2] + z * voxel[2]]
    data = 2 * cart[0] - cart[1] + 0.5 * cart[2] + 3
    path = tmp_path / "aniso.mrc.gz"
    write_test_map(tmp_path / "aniso.mrc", data, voxel, origin=tuple(origin))
    with open(tmp_path / "aniso.mrc", "rb") as src, gzip.open(path, "wb") as dst:
        shutil.copyfileobj(src, dst)
    density = read_map(path)
    np.testing.assert_allclose(density.voxel_size, voxel)
    box = CropBox(
        origin=origin + [2.3, 3.1, 4.7],
        shape_xyz=(8, 9, 7),
        voxel_size=1.0,
        central_start=(0, 0, 0),
        central_stop=(8, 9, 7),
    )
    out = resample_axes(density, [box.axis_coordinates(a) for a in range(3)])
    centres = box.voxel_centres()
    expected = 2 * centres[..., 0] - centres[..., 1] + 0.5 * centres[..., 2] + 3
    np.testing.assert_allclose(out, expected, rtol=1e-5, atol=1e-4)


def test_one_angstrom_map_is_copied_without_interpolation(realdata: Path) -> None:
    density = read_map(realdata / "EMD-8518/A-1.0APIX.mrc")
    box = CropBox(
        origin=density.origin + [5, 6, 7],
        shape_xyz=(10, 11, 12),
        voxel_size=1.0,
        central_start=(0, 0, 0),
        central_stop=(10, 11, 12),
    )
    out = resample_axes(density, [box.axis_coordinates(a) for a in range(3)])
    np.testing.assert_array_equal(out, density.data[7:19, 6:17, 5:15])


def test_box_beyond_the_map_is_zero(realdata: Path) -> None:
    density = read_map(realdata / "EMD-8518/A-1.0APIX.mrc")
    box = CropBox(
        origin=density.origin - 5,
        shape_xyz=(10, 10, 10),
        voxel_size=1.0,
        central_start=(0, 0, 0),
        central_stop=(10, 10, 10),
    )
    out = resample_axes(density, [box.axis_coordinates(a) for a in range(3)])
    assert np.all(out[:5] == 0) and np.all(out[:, :5] == 0) and np.all(out[:, :, :5] == 0)
    np.testing.assert_array_equal(out[5:, 5:, 5:], density.data[:5, :5, :5])
