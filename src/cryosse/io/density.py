"""Read and write density maps (MRC/CCP4), honouring the header's axis order and origin.

A `DensityMap` holds its values as a float32 array indexed [z, y, x] (the MRC/ChimeraX
convention) and the Cartesian position of voxel [0, 0, 0] in Å (`origin`, xyz).

Hostile or broken maps are refused from their 1024-byte header, before any data is read
(cryosse.io.map_plan.plan_map, `check_map_work`), and a gzip stream is decompressed only up to
the size its MRC header implies (a 31 MB .mrc.gz expanding to 32 GB stops there). Callers
check the work a map implies (the map itself and, for whole-map resampling, its voxels at the
working grid) against their budget with `check_map_work` before `read_map`.
"""

from __future__ import annotations

import gzip
import io
import math
import os
import resource
import warnings
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import mrcfile
import mrcfile.mrcinterpreter
import numpy as np

from cryosse import __version__
from cryosse.core.atomic import atomic_path
from cryosse.core.reasons import DataError, Reason, is_environment_fault
from cryosse.io.map_plan import VOXEL_RANGE_A, MapPlan, plan_map, unreadable

# Voxel sizes outside this range are header errors, not maps (Å).
_MIN_VOXEL, _MAX_VOXEL = VOXEL_RANGE_A
# Trailing bytes tolerated after the data block (some writers pad); beyond, the file is not
# the map its header describes.
_TRAILING_SLACK = 1 << 20
# Origins farther than this from 0 (Å) are header errors: no specimen is 10 µm across, and at
# 1e30 Å adding a voxel size no longer changes a coordinate.
_MAX_ORIGIN = 1e5
_CHUNK = 1 << 20


def memory_budget(fraction: float = 0.8) -> int:
    """Bytes this process may spend on one map: `fraction` of the least of the available
    memory, the address-space limit, the cgroup limit and SLURM's allocation (a job's
    resources, whichever applies)."""
    limits = []
    try:
        with open("/proc/meminfo", encoding="utf-8") as handle:
            for line in handle:
                if line.startswith("MemAvailable:"):
                    limits.append(int(line.split()[1]) * 1024)
    except (OSError, ValueError, IndexError):
        pass
    soft, _ = resource.getrlimit(resource.RLIMIT_AS)
    if soft != resource.RLIM_INFINITY:
        limits.append(soft)
    # cgroup v2, then v1 (whose "unlimited" is a huge number)
    for cgroup in ("/sys/fs/cgroup/memory.max", "/sys/fs/cgroup/memory/memory.limit_in_bytes"):
        try:
            text = Path(cgroup).read_text().strip()
        except OSError:
            continue
        if text.isdigit() and int(text) < 2**60:
            limits.append(int(text))
    slurm = os.environ.get("SLURM_MEM_PER_NODE")
    if slurm and slurm.isdigit():
        limits.append(int(slurm) * 2**20)
    return int(fraction * min(limits)) if limits else 2 * 2**30


def check_map_work(
    path: str | Path,
    budget: int | None = None,
    grid_step: float | None = None,
    bytes_per_grid_voxel: float = 0.0,
) -> MapPlan:
    """The one check before a map is read: refuse (DataError MAP_TOO_LARGE) a map whose
    header implies more than `budget` bytes (default: memory_budget()) to read it and, when
    the caller resamples the whole map at `grid_step` Å, `bytes_per_grid_voxel` per voxel of
    that grid. Broken headers raise MAP_UNREADABLE (see plan_map)."""
    plan = plan_map(path)
    budget = memory_budget() if budget is None else int(budget)
    need = plan.read_bytes()
    grid = plan.grid_voxels(grid_step) if grid_step else 0
    need += int(grid * bytes_per_grid_voxel)
    if need > budget:
        nx, ny, nz = plan.shape_xyz
        at_grid = f", {grid:,} voxels at {grid_step:g} Å" if grid else ""
        raise DataError(
            Reason.MAP_TOO_LARGE,
            f"{Path(path).name}: {nx}×{ny}×{nz} voxels of "
            f"{'×'.join(f'{v:.3g}' for v in plan.voxel_size)} Å{at_grid}, extended header "
            f"{plan.extended_header} bytes: needs about {need / 1e9:.2f} GB, the budget is "
            f"{budget / 1e9:.2f} GB",
        )
    return plan


def _gunzip_limited(path: Path, implied: int) -> bytes:
    """The decompressed bytes of `path`, refusing a stream longer than the `implied` bytes of
    its MRC header (+ a little trailing slack; MAP_TOO_LARGE: only that much is ever
    decompressed) or shorter (MAP_UNREADABLE: truncated; mrcfile would first allocate the
    extended header or data block the header claims)."""
    limit = implied + _TRAILING_SLACK
    buffer = io.BytesIO()
    with gzip.open(path, "rb") as handle:
        while chunk := handle.read(min(_CHUNK, limit + 1 - buffer.tell())):
            buffer.write(chunk)
            if buffer.tell() > limit:
                raise DataError(
                    Reason.MAP_TOO_LARGE,
                    f"{path.name}: the gzip stream expands beyond the {implied} bytes its MRC "
                    "header implies",
                )
    if buffer.tell() < implied:
        found = buffer.tell()
        raise unreadable(
            path, f"truncated: the header implies {implied} bytes, the gzip stream holds {found}"
        )
    return buffer.getvalue()


@dataclass
class DensityMap:
    data: np.ndarray  # float32 [z, y, x]
    origin: np.ndarray  # xyz of voxel [0,0,0] centre, Å
    voxel_size: np.ndarray  # xyz, Å

    @property
    def shape_xyz(self) -> tuple[int, int, int]:
        nz, ny, nx = self.data.shape
        return nx, ny, nz

    def xyz_to_index(self, xyz: np.ndarray) -> np.ndarray:
        """Fractional voxel indices (x, y, z order) of Cartesian points (N×3)."""
        index: np.ndarray = (np.asarray(xyz, dtype=np.float64) - self.origin) / self.voxel_size
        return index

    def values_at(self, xyz: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Nearest-voxel values at points, and a mask of points inside the grid."""
        idx = np.rint(self.xyz_to_index(xyz)).astype(np.int64)
        shape = np.array(self.shape_xyz)
        inside = np.all((idx >= 0) & (idx < shape), axis=1)
        values = np.full(len(idx), np.nan, dtype=np.float32)
        good = idx[inside]
        values[inside] = self.data[good[:, 2], good[:, 1], good[:, 0]]
        return values, inside


def _open_mrc(path: Path, plan: MapPlan) -> tuple[np.ndarray, np.recarray, np.ndarray]:
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        if plan.gzipped:
            # mrcfile would decompress the whole stream to learn its size: a gzip bomb
            raw = _gunzip_limited(path, plan.file_bytes)
            opened = mrcfile.mrcinterpreter.MrcInterpreter(io.BytesIO(raw), permissive=True)
        else:
            opened = mrcfile.open(path, permissive=True, mode="r")
        with opened as mrc:
            if mrc.data is None:
                raise DataError(
                    Reason.MAP_UNREADABLE,
                    f"{path.name}: MRC header unreadable or data block missing "
                    f"({'; '.join(str(w.message) for w in caught) or 'no data'})",
                )
            data = np.array(mrc.data, dtype=np.float32, copy=True)
            header = mrc.header.copy()
            voxel = np.array(
                [mrc.voxel_size.x, mrc.voxel_size.y, mrc.voxel_size.z], dtype=np.float64
            )
    return data, header, voxel


def read_map(path: str | Path, allow_constant: bool = False) -> DensityMap:
    """Read an MRC/CCP4 map (.mrc, .map, .ccp4, optionally gzipped).

    - MAPC/MAPR/MAPS: the data are transposed so that array axes are [z, y, x].
    - Origin: the header ORIGIN if it is non-zero, else NSTART × voxel size (the UCSF
      ChimeraX convention, which EMDB maps follow).
    - Non-standard machine stamps are accepted (mrcfile permissive mode).
    - A constant map is refused unless `allow_constant` (a predicted mask may be all zero).
    Raises DataError(MAP_MISSING / MAP_UNREADABLE / MAP_INVALID_VALUES).
    """
    path = Path(path)
    plan = plan_map(path)
    try:
        data, header, voxel = _open_mrc(path, plan)
    except DataError:
        raise
    except (EOFError, gzip.BadGzipFile, zlib.error) as exc:
        raise DataError(
            Reason.MAP_UNREADABLE, f"{path.name}: corrupt or truncated gzip ({exc})"
        ) from exc
    except (ValueError, OSError, IndexError, TypeError) as exc:
        if is_environment_fault(exc):
            raise
        raise DataError(
            Reason.MAP_UNREADABLE, f"{path.name}: not a readable MRC map ({exc})"
        ) from exc

    if data.ndim != 3 or min(data.shape) < 2:
        raise DataError(
            Reason.MAP_UNREADABLE, f"{path.name}: expected a 3D volume, got shape {data.shape}"
        )
    axes = [int(header.mapc), int(header.mapr), int(header.maps)]  # spatial axis of col/row/sec
    if sorted(axes) != [1, 2, 3]:
        raise DataError(
            Reason.MAP_UNREADABLE, f"{path.name}: invalid MAPC/MAPR/MAPS axis order {axes}"
        )
    # Array axes are (sec, row, col) = spatial axes (maps, mapr, mapc); reorder to (z, y, x).
    file_axes = [axes[2], axes[1], axes[0]]
    data = np.ascontiguousarray(np.transpose(data, [file_axes.index(a) for a in (3, 2, 1)]))

    if not np.all(np.isfinite(voxel)) or np.any(voxel < _MIN_VOXEL) or np.any(voxel > _MAX_VOXEL):
        raise DataError(
            Reason.MAP_UNREADABLE,
            f"{path.name}: implausible voxel size {voxel.round(4).tolist()} Å",
        )
    origin = np.array([header.origin.x, header.origin.y, header.origin.z], dtype=np.float64)
    if not np.all(np.isfinite(origin)):
        origin = np.zeros(3)
    if not np.any(origin):
        start_file = [int(header.nxstart), int(header.nystart), int(header.nzstart)]
        start = np.zeros(3)
        for file_axis, spatial in enumerate(axes):
            start[spatial - 1] = start_file[file_axis]
        origin = start * voxel
    if np.any(np.abs(origin) > _MAX_ORIGIN):
        raise DataError(
            Reason.MAP_UNREADABLE,
            f"{path.name}: implausible origin ({', '.join(f'{v:.4g}' for v in origin)}) Å "
            f"(the header's ORIGIN or NSTART; at most {_MAX_ORIGIN:g} Å from 0)",
        )

    n_bad = int(np.count_nonzero(~np.isfinite(data)))
    if n_bad:
        raise DataError(
            Reason.MAP_INVALID_VALUES, f"{path.name}: {n_bad} voxels are NaN or infinite"
        )
    if not allow_constant and float(data.max()) == float(data.min()):
        raise DataError(
            Reason.MAP_INVALID_VALUES, f"{path.name}: the map is constant ({float(data.max())})"
        )
    return DensityMap(data=data, origin=origin, voxel_size=voxel)


def write_map(
    path: str | Path,
    data: np.ndarray,
    origin: np.ndarray,
    voxel_size: float | np.ndarray,
    slab_statistics: bool = False,
) -> tuple[float, float]:
    """Write a [z, y, x] array as MRC (atomically) with the given origin and voxel size (one
    value, or x, y, z values); opens in ChimeraX. The header statistics are mrcfile's own, or
    with `slab_statistics` computed a z-slab at a time (mrcfile's make float32 temporaries the
    size of the map; `cryosse segment` writes maps as large as the user's). Returns the (min,
    max) written to the header."""
    if data.dtype == np.uint8:
        data = data.astype(np.int8)
    with atomic_path(path) as tmp, mrcfile.new(tmp, overwrite=True) as mrc:
        mrc.set_data(np.ascontiguousarray(data))
        mrc.voxel_size = (
            float(voxel_size)
            if np.ndim(voxel_size) == 0
            else tuple(float(v) for v in np.asarray(voxel_size))
        )
        mrc.header.origin.x, mrc.header.origin.y, mrc.header.origin.z = (float(v) for v in origin)
        # mrcfile's default label carries the creation time; a fixed one keeps outputs
        # byte-identical between runs, so checksums can prove a rerun changed nothing.
        mrc.header.label[0] = f"cryosse {__version__}".encode()
        mrc.header.nlabl = 1
        if slab_statistics:
            _slab_header_statistics(mrc.header, data)
        else:
            mrc.update_header_stats()
        return float(mrc.header.dmin), float(mrc.header.dmax)


_STATISTICS_SLAB = 16  # z-planes at a time


def _slab_header_statistics(header: Any, data: np.ndarray) -> None:
    """dmin, dmax, dmean and rms of `data`, a z-slab at a time (float64 sums, slab-sized
    temporaries)."""
    slabs = [data[z : z + _STATISTICS_SLAB] for z in range(0, data.shape[0], _STATISTICS_SLAB)]
    mean = sum(float(s.sum(dtype=np.float64)) for s in slabs) / data.size
    squares = sum(float(np.square(s - mean).sum()) for s in slabs)
    header.dmin = np.float32(min(float(s.min()) for s in slabs))
    header.dmax = np.float32(max(float(s.max()) for s in slabs))
    header.dmean = np.float32(mean)
    header.rms = np.float32(math.sqrt(squares / data.size))
