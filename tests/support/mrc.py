"""MRC files for the tests: headers built by hand, for hostile or malformed maps (the header a
file claims is what the readers must judge before they read any data), and small maps with a
given axis order, origin and start."""

from __future__ import annotations

import struct
import sys
from array import array
from pathlib import Path
from typing import Any

import mrcfile
import numpy as np

MRC_HEADER = 1024  # bytes, without the extended header


def mrc_header(
    shape_xyz: tuple[int, int, int], voxel: float, mode: int = 2, nsymbt: int = 0
) -> bytes:
    """A valid 1024-byte MRC2014 header (little-endian, axes x y z, origin 0) claiming a grid
    of `shape_xyz` voxels of `voxel` Å, data `mode` and an `nsymbt`-byte extended header."""
    nx, ny, nz = shape_xyz
    head = bytearray(MRC_HEADER)
    struct.pack_into("<10i", head, 0, nx, ny, nz, mode, 0, 0, 0, nx, ny, nz)
    struct.pack_into("<6f", head, 40, nx * voxel, ny * voxel, nz * voxel, 90.0, 90.0, 90.0)
    struct.pack_into("<3i3f2i", head, 64, 1, 2, 3, 0.0, 1.0, 0.5, 1, nsymbt)
    head[104:108] = b"MRCO"
    struct.pack_into("<i", head, 108, 20140)
    head[208:214] = b"MAP DD"  # the map stamp, then the machine stamp 0x44 0x44 (little-endian)
    struct.pack_into("<fi", head, 216, 0.1, 1)
    label = b"cryosse tests/support/mrc.py"
    head[224 : 224 + len(label)] = label
    return bytes(head)


def patched(raw: bytes, offset: int, fmt: str, *values: float) -> bytes:
    """`raw` (a map file's bytes) with the header field at `offset` set to `values` (struct
    `fmt`, e.g. "<3f" for the cell angles at 52 or the origin at 196)."""
    out = bytearray(raw)
    out[offset : offset + struct.calcsize(fmt)] = struct.pack(fmt, *values)
    return bytes(out)


def float_data(n: int) -> bytes:
    """n float32 values, a non-constant ramp (little-endian)."""
    values = array("f", (float(i % 97) for i in range(n)))
    if sys.byteorder != "little":
        values.byteswap()
    return values.tobytes()


def write_test_map(
    path: Path,
    file_data: np.ndarray,
    voxel: Any,
    origin: tuple[float, float, float] = (0.0, 0.0, 0.0),
    axes: tuple[int, int, int] = (1, 2, 3),
    nstart: tuple[int, int, int] = (0, 0, 0),
) -> None:
    """An MRC map with the given axis order (MAPC/MAPR/MAPS), ORIGIN and NSTART."""
    with mrcfile.new(path, overwrite=True) as mrc:
        mrc.set_data(file_data.astype(np.float32))
        mrc.voxel_size = voxel
        mrc.header.mapc, mrc.header.mapr, mrc.header.maps = axes
        mrc.header.origin.x, mrc.header.origin.y, mrc.header.origin.z = origin
        mrc.header.nxstart, mrc.header.nystart, mrc.header.nzstart = nstart
