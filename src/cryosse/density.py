"""Read and write density maps (MRC/CCP4), honouring the header's axis order and origin.

A `DensityMap` holds its values as a float32 array indexed [z, y, x] (the MRC/ChimeraX
convention) and the Cartesian position of voxel [0, 0, 0] in Å (`origin`, xyz).
"""

from __future__ import annotations

import gzip
import warnings
import zlib
from dataclasses import dataclass
from pathlib import Path

import mrcfile
import numpy as np

from cryosse import __version__
from cryosse.atomic import atomic_path
from cryosse.reasons import CurationError, Reason

# Voxel sizes outside this range are header errors, not maps (Å).
_MIN_VOXEL, _MAX_VOXEL = 0.1, 20.0


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
        return (np.asarray(xyz, dtype=np.float64) - self.origin) / self.voxel_size

    def values_at(self, xyz: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Nearest-voxel values at points, and a mask of points inside the grid."""
        idx = np.rint(self.xyz_to_index(xyz)).astype(np.int64)
        shape = np.array(self.shape_xyz)
        inside = np.all((idx >= 0) & (idx < shape), axis=1)
        values = np.full(len(idx), np.nan, dtype=np.float32)
        good = idx[inside]
        values[inside] = self.data[good[:, 2], good[:, 1], good[:, 0]]
        return values, inside


def _open_mrc(path: Path) -> tuple[np.ndarray, object, np.ndarray]:
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        with mrcfile.open(path, permissive=True, mode="r") as mrc:
            if mrc.data is None:
                raise CurationError(
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
    Raises CurationError(MAP_MISSING / MAP_UNREADABLE / MAP_INVALID_VALUES).
    """
    path = Path(path)
    if not path.is_file():
        raise CurationError(Reason.MAP_MISSING, f"map file {path.name} not found")
    try:
        data, header, voxel = _open_mrc(path)
    except CurationError:
        raise
    except (EOFError, gzip.BadGzipFile, zlib.error) as exc:
        raise CurationError(
            Reason.MAP_UNREADABLE, f"{path.name}: corrupt or truncated gzip ({exc})"
        ) from exc
    except (ValueError, OSError, IndexError, TypeError) as exc:
        raise CurationError(
            Reason.MAP_UNREADABLE, f"{path.name}: not a readable MRC map ({exc})"
        ) from exc

    if data.ndim != 3 or min(data.shape) < 2:
        raise CurationError(
            Reason.MAP_UNREADABLE, f"{path.name}: expected a 3D volume, got shape {data.shape}"
        )
    axes = [int(header.mapc), int(header.mapr), int(header.maps)]  # spatial axis of col/row/sec
    if sorted(axes) != [1, 2, 3]:
        raise CurationError(
            Reason.MAP_UNREADABLE, f"{path.name}: invalid MAPC/MAPR/MAPS axis order {axes}"
        )
    # Array axes are (sec, row, col) = spatial axes (maps, mapr, mapc); reorder to (z, y, x).
    file_axes = [axes[2], axes[1], axes[0]]
    data = np.ascontiguousarray(np.transpose(data, [file_axes.index(a) for a in (3, 2, 1)]))

    if not np.all(np.isfinite(voxel)) or np.any(voxel < _MIN_VOXEL) or np.any(voxel > _MAX_VOXEL):
        raise CurationError(
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

    n_bad = int(np.count_nonzero(~np.isfinite(data)))
    if n_bad:
        raise CurationError(
            Reason.MAP_INVALID_VALUES, f"{path.name}: {n_bad} voxels are NaN or infinite"
        )
    if not allow_constant and float(data.max()) == float(data.min()):
        raise CurationError(
            Reason.MAP_INVALID_VALUES, f"{path.name}: the map is constant ({float(data.max())})"
        )
    return DensityMap(data=data, origin=origin, voxel_size=voxel)


def write_map(
    path: str | Path, data: np.ndarray, origin: np.ndarray, voxel_size: float | np.ndarray
) -> None:
    """Write a [z, y, x] array as MRC (atomically) with the given origin and voxel size (one
    value, or x, y, z values); opens in ChimeraX."""
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
        mrc.update_header_stats()
