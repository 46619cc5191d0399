"""What an MRC/CCP4 map's 1024-byte header implies, read without touching its data.

mrcfile allocates the data block the header claims before reading it, so a 5 KB file claiming
2000³ voxels or a 2 GB extended header would take that memory: `plan_map` reads only the header
(of a plain or gzipped file) and checks it against the file — sizes, mode, voxel size, extended
header, an orthogonal cell — so that a hostile or broken map is refused before any data is read
(cryosse.io.density.check_map_work compares the work it implies with the memory budget).
"""

from __future__ import annotations

import gzip
import math
import struct
import zlib
from collections.abc import Collection
from dataclasses import dataclass
from pathlib import Path

from cryosse.core.reasons import DataError, Reason, is_environment_fault

# Voxel sizes outside this range are header errors, not maps (Å).
VOXEL_RANGE_A = (0.1, 20.0)
_MIN_VOXEL, _MAX_VOXEL = VOXEL_RANGE_A
_HEADER_BYTES = 1024
# Bytes per voxel of the MRC modes mrcfile reads; complex modes (3, 4) are refused, since
# taking their real part would silently drop half of the data.
_MODE_BYTES: dict[int, float] = {0: 1, 1: 2, 2: 4, 6: 2, 12: 2, 101: 0.5}
_COMPLEX_MODES = (3, 4)
# read_map holds the file's bytes, a float32 copy and a reordered copy of the data.
_READ_BYTES_PER_VOXEL = 8
# Cell angles within this many degrees of 90 are a rectangular cell (float32 round-off).
_ANGLE_TOLERANCE = 0.01


@dataclass(frozen=True)
class MapPlan:
    """What a map's header implies, read without touching its data."""

    shape_xyz: tuple[int, int, int]  # columns, rows, sections as stored
    voxel_size: tuple[float, float, float]  # Å, from the cell and the sampling
    mode: int
    extended_header: int  # bytes
    data_bytes: int  # the data block
    file_bytes: int  # header + extended header + data: the uncompressed size it implies
    gzipped: bool

    @property
    def voxels(self) -> int:
        return self.shape_xyz[0] * self.shape_xyz[1] * self.shape_xyz[2]

    def grid_voxels(self, step: float) -> int:
        """Voxels of the map's extent resampled at `step` Å."""
        return math.prod(
            max(1, math.ceil(n * v / step))
            for n, v in zip(self.shape_xyz, self.voxel_size, strict=True)
        )

    def read_bytes(self) -> int:
        """Peak bytes of read_map on this map (the file's bytes, then the float32 copies)."""
        return self.file_bytes + self.voxels * _READ_BYTES_PER_VOXEL


def unreadable(path: Path, why: str) -> DataError:
    return DataError(Reason.MAP_UNREADABLE, f"{path.name}: {why}")


def header_byte_order(head: bytes, known_modes: Collection[int]) -> str:
    """The struct byte order ("<" or ">") of an MRC header. The machine stamp (byte 212) says
    it: 0x44 little-endian, 0x11 big-endian; a non-standard stamp (accepted, as mrcfile's
    permissive mode does) is told by which order reads a known mode."""
    order = ">" if head[212] == 0x11 else "<"
    if struct.unpack(order + "i", head[12:16])[0] not in known_modes:
        other = "<" if order == ">" else ">"
        if struct.unpack(other + "i", head[12:16])[0] in known_modes:
            return other
    return order


def plan_map(path: str | Path) -> MapPlan:
    """Read only the MRC header of `path` (plain or gzipped) and check it against the file:
    sizes, mode, voxel size, extended header, an orthogonal cell. Raises DataError
    (MAP_MISSING, MAP_UNREADABLE, MAP_NOT_ORTHOGONAL)."""
    path = Path(path)
    if not path.is_file():
        raise DataError(Reason.MAP_MISSING, f"map file {path.name} not found")
    gzipped = _is_gzip(path)
    try:
        if gzipped:
            with gzip.open(path, "rb") as handle:
                head = handle.read(_HEADER_BYTES)
        else:
            with path.open("rb") as handle:
                head = handle.read(_HEADER_BYTES)
    except (OSError, EOFError, zlib.error) as exc:
        if is_environment_fault(exc):
            raise  # an I/O error of the machine, not a broken file: the job fails
        raise unreadable(path, f"corrupt or truncated gzip ({exc})") from exc
    if len(head) < _HEADER_BYTES:
        raise unreadable(
            path, f"not a readable MRC map ({len(head)} bytes, shorter than an MRC header)"
        )
    order = header_byte_order(head, _MODE_BYTES)
    nx, ny, nz, mode = struct.unpack(order + "4i", head[:16])
    mx, my, mz = struct.unpack(order + "3i", head[28:40])
    cell = struct.unpack(order + "3f", head[40:52])
    angles = struct.unpack(order + "3f", head[52:64])
    skew_flag = struct.unpack(order + "i", head[96:100])[0]  # LSKFLG of the CCP4 format
    nsymbt = struct.unpack(order + "i", head[92:96])[0]
    if min(nx, ny, nz) < 1:
        raise unreadable(path, f"grid {nx}×{ny}×{nz} in the header")
    if mode in _COMPLEX_MODES:
        raise unreadable(path, f"complex-valued map (MRC mode {mode}): not a density map")
    if mode not in _MODE_BYTES:
        raise unreadable(path, f"unknown MRC mode {mode}")
    if nsymbt < 0:
        raise unreadable(path, f"negative extended header size {nsymbt}")
    _check_orthogonal(path, angles, skew_flag)
    sampling = (mx, my, mz) if min(mx, my, mz) > 0 else (nx, ny, nz)
    voxel = tuple(float(c) / m for c, m in zip(cell, sampling, strict=True))
    if not all(math.isfinite(v) and _MIN_VOXEL <= v <= _MAX_VOXEL for v in voxel):
        raise unreadable(path, f"implausible voxel size {[round(v, 4) for v in voxel]} Å")
    data_bytes = math.ceil(nx * _MODE_BYTES[mode]) * ny * nz
    plan = MapPlan(
        (nx, ny, nz),
        (voxel[0], voxel[1], voxel[2]),
        mode,
        nsymbt,
        data_bytes,
        _HEADER_BYTES + nsymbt + data_bytes,
        gzipped,
    )
    if not gzipped:
        size = path.stat().st_size
        if _HEADER_BYTES + nsymbt > size:
            raise unreadable(
                path, f"the header claims a {nsymbt}-byte extended header in a {size}-byte file"
            )
        if plan.file_bytes > size:
            raise unreadable(
                path, f"truncated: the header implies {plan.file_bytes} bytes, the file has {size}"
            )
    return plan


def _check_orthogonal(path: Path, angles: tuple[float, ...], skew_flag: int) -> None:
    """Refuse (MAP_NOT_ORTHOGONAL) a cell that is not rectangular or a skew transformation:
    every grid here is orthogonal, and reading such a map as one would misplace its density. All
    three angles 0 is an unset cell, read as 90° (as ChimeraX and mrcfile do)."""
    if skew_flag == 1:
        raise DataError(
            Reason.MAP_NOT_ORTHOGONAL,
            f"{path.name}: the header asks for a skew transformation (LSKFLG 1), not supported",
        )
    if all(a == 0.0 for a in angles):
        return
    if not all(math.isfinite(a) and abs(a - 90.0) <= _ANGLE_TOLERANCE for a in angles):
        shown = ", ".join(f"{a:g}" for a in angles)
        raise DataError(
            Reason.MAP_NOT_ORTHOGONAL,
            f"{path.name}: cell angles ({shown})°, not 90°: non-orthogonal maps are not supported",
        )


def _is_gzip(path: Path) -> bool:
    with path.open("rb") as handle:
        return handle.read(2) == b"\x1f\x8b"
