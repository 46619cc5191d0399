"""Map reading: axis order, origin conventions, machine stamps, anisotropic voxels, gzip."""

import gzip
import struct
from collections.abc import Callable
from pathlib import Path

import mrcfile
import numpy as np
import pytest

from cryosse.core.reasons import DataError, Reason
from cryosse.io.density import check_map_work, memory_budget, read_map, write_map
from tests.support.mrc import mrc_header, patched, write_test_map


def test_axis_order_is_honoured(realdata: Path, tmp_path: Path) -> None:
    reference = read_map(realdata / "EMD-8518/A-1.0APIX.mrc")
    # Columns along y, rows along z, sections along x: file[s, r, c] = A[z=r, y=c, x=s].
    permuted = np.transpose(reference.data, (2, 0, 1))
    path = tmp_path / "permuted.mrc"
    write_test_map(path, permuted, 1.0, origin=tuple(reference.origin), axes=(2, 3, 1))
    again = read_map(path)
    assert again.data.shape == reference.data.shape
    np.testing.assert_array_equal(again.data, reference.data)
    np.testing.assert_allclose(again.origin, reference.origin)


def test_origin_and_nstart_conventions_agree(realdata: Path) -> None:
    seg = read_map(realdata / "EMD-21457/emd_21457_seg.mrc")  # ORIGIN set
    nstart = read_map(realdata / "EMD-21457/emd_21457_seg_nstart.mrc")  # NSTART set, ORIGIN 0
    orig0 = read_map(realdata / "EMD-21457/emd_21457_seg_orig0.mrc")  # both zero
    np.testing.assert_allclose(seg.origin, nstart.origin, atol=1e-3)
    np.testing.assert_array_equal(seg.data, nstart.data)
    np.testing.assert_allclose(orig0.origin, 0.0)
    assert np.any(np.abs(seg.origin) > 1.0)


def test_nstart_with_permuted_axes(tmp_path: Path) -> None:
    data = np.arange(4 * 5 * 6, dtype=np.float32).reshape(4, 5, 6)
    path = tmp_path / "nstart.mrc"
    # columns = z, rows = x, sections = y; nxstart/nystart/nzstart follow the file axes.
    write_test_map(path, data, 2.0, axes=(3, 1, 2), nstart=(10, 20, 30))
    density = read_map(path)
    # column start (10) is along z, row start (20) along x, section start (30) along y.
    np.testing.assert_allclose(density.origin, [20 * 2.0, 30 * 2.0, 10 * 2.0])
    assert density.shape_xyz == (5, 4, 6)


def test_zero_machine_stamp_is_read(realdata: Path) -> None:
    with open(realdata / "EMD-6374/6374.mrc", "rb") as handle:
        handle.seek(212)
        assert handle.read(4) == b"\x00\x00\x00\x00"
    density = read_map(realdata / "EMD-6374/6374.mrc")
    assert density.data.shape == (51, 73, 64)
    np.testing.assert_allclose(density.voxel_size, 1.104, atol=1e-3)


@pytest.mark.parametrize(
    ("make", "reason"),
    [
        ("truncated_gzip", Reason.MAP_UNREADABLE),
        ("garbage_header", Reason.MAP_UNREADABLE),
        ("short_file", Reason.MAP_UNREADABLE),
        ("nan_density", Reason.MAP_INVALID_VALUES),
        ("absurd_voxel", Reason.MAP_UNREADABLE),
        ("missing", Reason.MAP_MISSING),
    ],
)
def test_bad_maps_raise_clear_reasons(
    make: str, reason: Reason, realdata: Path, tmp_path: Path
) -> None:
    source = realdata / "EMD-8518/A-1.0APIX.mrc"
    path = tmp_path / "bad.map.gz"
    raw = source.read_bytes()
    if make == "truncated_gzip":
        path.write_bytes(gzip.compress(raw)[: len(raw) // 8])
    elif make == "garbage_header":
        path.write_bytes(gzip.compress(b"NOT AN MRC FILE " * 64 + raw[1024:]))
    elif make == "short_file":
        path.write_bytes(raw[:300])
    elif make == "nan_density":
        density = read_map(source)
        density.data[10, 10, 10] = np.nan
        write_test_map(tmp_path / "nan.mrc", density.data, 1.0, origin=tuple(density.origin))
        path = tmp_path / "nan.mrc"
    elif make == "absurd_voxel":
        write_test_map(tmp_path / "vox.mrc", np.random.default_rng(0).random((8, 8, 8)), 1e-4)
        path = tmp_path / "vox.mrc"
    with pytest.raises(DataError) as info:
        read_map(path)
    assert info.value.reason == reason
    assert info.value.message


# -- hostile headers: refused from the 1024-byte header, before any data is read ----------------


def _patched_header(tmp_path: Path, shape=(4, 4, 4), voxel=1.0, mode=2, nsymbt=0) -> bytes:
    """The header a hostile file would claim: its grid, cell, mode and extended header size."""
    return mrc_header(shape, voxel, mode, nsymbt)


def _peak_rss_growth(action: Callable[[], object]) -> tuple[int, DataError]:
    """How far (KiB) the process's peak RSS rose during `action` (which must raise)."""
    import resource

    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    with pytest.raises(DataError) as info:
        action()
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before, info.value


def test_header_claiming_a_huge_grid_is_refused_without_allocating(tmp_path: Path) -> None:
    """A 5 KB file whose header claims 2000³ floats (32 GB): mrcfile would allocate the
    claimed block before reading; refused at once."""
    path = tmp_path / "claims.mrc"
    path.write_bytes(_patched_header(tmp_path, shape=(2000, 2000, 2000)) + b"\0" * 4096)
    grown, error = _peak_rss_growth(lambda: read_map(path))
    assert error.reason == Reason.MAP_UNREADABLE and "truncated" in error.message
    assert grown < 100 * 1024


def test_extended_header_larger_than_the_file(tmp_path: Path) -> None:
    path = tmp_path / "ext.mrc"
    path.write_bytes(_patched_header(tmp_path, nsymbt=2 * 10**9) + b"\0" * 4096)
    grown, error = _peak_rss_growth(lambda: read_map(path))
    assert error.reason == Reason.MAP_UNREADABLE and "extended header" in error.message
    assert grown < 100 * 1024


def test_gzip_bomb_is_refused_cheaply(tmp_path: Path) -> None:
    """A 10³ map followed by 300 MB of zeros, gzipped (300 KB): decompression stops at the
    size the MRC header implies, without 300 MB of memory (the peak RSS shows that the 300 MB
    were never decompressed; the time is tests/e2e/test_hostile_inputs.py's)."""
    path = tmp_path / "bomb.mrc.gz"
    zeros = bytes(1 << 20)
    with gzip.open(path, "wb", compresslevel=1) as handle:
        handle.write(_patched_header(tmp_path, shape=(10, 10, 10)))
        handle.write(np.arange(1000, dtype=np.float32).tobytes())
        for _ in range(300):
            handle.write(zeros)
    assert path.stat().st_size < 2_000_000
    grown, error = _peak_rss_growth(lambda: read_map(path))
    assert error.reason == Reason.MAP_TOO_LARGE and "expands beyond" in error.message
    assert grown < 50 * 1024


def test_claimed_work_is_checked_against_the_budget(tmp_path: Path) -> None:
    """A gzip whose header claims 2000³ floats (the 31 MB .mrc.gz that expands to 32 GB) is
    refused from its header; a 100³ map at 10 Å voxels passes for curation (only the map is
    read) but not for whole-map work at 1 Å (10⁹ grid voxels)."""
    bomb = tmp_path / "bomb.mrc.gz"
    bomb.write_bytes(gzip.compress(_patched_header(tmp_path, shape=(2000, 2000, 2000))))
    with pytest.raises(DataError) as info:
        check_map_work(bomb, budget=4 * 10**9)
    assert info.value.reason == Reason.MAP_TOO_LARGE and "2000×2000×2000" in info.value.message
    coarse = tmp_path / "coarse.mrc"
    write_test_map(coarse, np.random.default_rng(0).random((100, 100, 100)), 10.0)
    plan = check_map_work(coarse, budget=4 * 10**9)
    assert plan.voxels == 10**6 and plan.grid_voxels(1.0) == 10**9
    with pytest.raises(DataError, match="1,000,000,000 voxels at 1 Å") as info:
        check_map_work(coarse, budget=4 * 10**9, grid_step=1.0, bytes_per_grid_voxel=11)
    assert info.value.reason == Reason.MAP_TOO_LARGE
    assert memory_budget() > 0


def test_complex_maps_are_refused(tmp_path: Path) -> None:
    path = tmp_path / "complex.mrc"
    path.write_bytes(_patched_header(tmp_path, mode=4) + b"\0" * (64 * 8))
    with pytest.raises(DataError, match="complex-valued") as info:
        read_map(path)
    assert info.value.reason == Reason.MAP_UNREADABLE


def test_a_gzip_stream_shorter_than_its_header_claims_is_refused_before_mrcfile(
    tmp_path: Path,
) -> None:
    """A 5 KB .mrc.gz whose header claims a 2 GB extended header: mrcfile would allocate the
    claimed 2 GB before noticing the short stream (2.2 GB peak in the hostile-inputs run of
    docs/benchmarks.md); it is refused as truncated from the decompressed length instead."""
    import resource

    header = bytearray(1024)
    struct.pack_into("<4i", header, 0, 10, 10, 10, 2)  # 10³ float32
    struct.pack_into("<3f", header, 40, 10.0, 10.0, 10.0)
    struct.pack_into("<3i", header, 64, 1, 2, 3)
    struct.pack_into("<i", header, 92, 2_000_000_000)  # nsymbt
    header[208:212] = b"MAP "
    header[212:216] = bytes([0x44, 0x44, 0, 0])
    path = tmp_path / "short.mrc.gz"
    path.write_bytes(gzip.compress(bytes(header) + bytes(4000)))
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    with pytest.raises(DataError) as info:
        read_map(path)
    assert info.value.reason == Reason.MAP_UNREADABLE
    assert "truncated: the header implies 2000005024 bytes, the gzip stream holds 5024" in str(
        info.value
    )
    grown_mib = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before) / 1024
    assert grown_mib < 100


def test_slab_header_statistics_equal_mrcfiles(tmp_path: Path) -> None:
    """The slab-wise header statistics (write_map's, for cryosse segment's large outputs) equal
    mrcfile's whole-array ones."""

    rng = np.random.default_rng(3)
    for data in (
        rng.random((40, 9, 8), dtype=np.float32),
        rng.integers(0, 3, (40, 9, 8)).astype(np.int8),
    ):
        write_map(tmp_path / "a.mrc", data, np.array([1.0, 2.0, 3.0]), 1.0, slab_statistics=True)
        with mrcfile.open(tmp_path / "a.mrc") as mrc:
            ours = [float(mrc.header[k]) for k in ("dmin", "dmax", "dmean", "rms")]
            assert np.array_equal(mrc.data, data) and mrc.data.dtype == data.dtype
        with mrcfile.new(tmp_path / "b.mrc", data=data, overwrite=True) as mrc:
            mrc.update_header_stats()
            theirs = [float(mrc.header[k]) for k in ("dmin", "dmax", "dmean", "rms")]
        assert ours == pytest.approx(theirs, rel=1e-5)
    assert not list(tmp_path.glob(".tmp-*"))


# -- cells and origins the pipeline's orthogonal grids cannot honour (issue 26) -----------------


def _real_map_with_header(tmp_path: Path, realdata: Path, offset: int, fmt: str, values) -> Path:
    """EMD-8518's 1 Å map with header bytes at `offset` replaced (struct `fmt`, little-endian)."""
    path = tmp_path / "patched.mrc"
    path.write_bytes(
        patched((realdata / "EMD-8518/A-1.0APIX.mrc").read_bytes(), offset, fmt, *values)
    )
    return path


@pytest.mark.parametrize(
    ("offset", "fmt", "values", "said"),
    [
        (52, "<3f", (90.0, 90.0, 60.0), "cell angles (90, 90, 60)°"),
        (52, "<3f", (90.0, float("nan"), 90.0), "cell angles (90, nan, 90)°"),
        (52, "<3f", (120.0, 90.0, 90.0), "not 90°"),
        (96, "<i", (1,), "skew transformation (LSKFLG 1)"),
    ],
)
def test_non_orthogonal_cells_are_refused(
    tmp_path: Path, realdata: Path, offset: int, fmt: str, values, said: str
) -> None:
    """γ = 60°, a NaN angle or the skew flag: refused with a reason, from the header alone (a
    γ = 60° map was read as 90° and became a training sample)."""
    path = _real_map_with_header(tmp_path, realdata, offset, fmt, values)
    for action in (lambda: read_map(path), lambda: check_map_work(path, 10**12)):
        with pytest.raises(DataError) as info:
            action()
        assert info.value.reason == Reason.MAP_NOT_ORTHOGONAL
        assert said in info.value.message and "patched.mrc" in info.value.message


def test_unset_cell_angles_read_as_orthogonal(tmp_path: Path, realdata: Path) -> None:
    """All three angles 0 is an unset cell (some writers leave it): read as 90°, as before."""
    path = _real_map_with_header(tmp_path, realdata, 52, "<3f", (0.0, 0.0, 0.0))
    reference = read_map(realdata / "EMD-8518/A-1.0APIX.mrc")
    np.testing.assert_array_equal(read_map(path).data, reference.data)


@pytest.mark.parametrize(
    ("offset", "fmt", "values"),
    [(196, "<3f", (1e30, 0.0, 0.0)), (196, "<3f", (0.0, -3e5, 0.0))],
)
def test_implausible_origin_is_refused(
    tmp_path: Path, realdata: Path, offset: int, fmt: str, values
) -> None:
    """ORIGIN 1e30 gave "no positive density" in segment and a model
    "outside the map" in curation; now the header is named as the cause."""
    path = _real_map_with_header(tmp_path, realdata, offset, fmt, values)
    with pytest.raises(DataError) as info:
        read_map(path)
    assert info.value.reason == Reason.MAP_UNREADABLE
    assert "implausible origin" in info.value.message
