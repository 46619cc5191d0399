"""A map's size against its entry header's `map@size_kbytes`: the check of a download (the
gzip trailer's size) and the caps of the download itself.

The header's `map@size_kbytes` is in units of 1000 bytes, floor(bytes / 1000): EMD-25107, a
220³ float32 map of 42,593,024 bytes, has size_kbytes="42593" in EMDB's own header, and EMDB's
XML-to-mmCIF translator multiplies it by 1000.
"""

from __future__ import annotations

import os
import struct
from pathlib import Path

from cryosse.acquire.archive_settings import DownloadLimits
from cryosse.acquire.download_errors import Rejected

# Tolerance of the header's map size (kB = 1000 bytes, floored) against the real size, in kB
# either way: a header that rounds instead of flooring still passes.
_SIZE_TOLERANCE_KB = 1
# gzip of incompressible data grows by at most ~0.02 % plus a few bytes of header and trailer.
_GZIP_OVERHEAD = 1.001
_GZIP_SLACK = 64 * 1024


def uncompressed_size(path: Path) -> int:
    """Size of the map data: the gzip trailer's ISIZE (mod 2**32) or the plain file's size."""
    if path.name.endswith(".gz"):
        with path.open("rb") as handle:
            handle.seek(-4, os.SEEK_END)
            return int(struct.unpack("<I", handle.read(4))[0])
    return path.stat().st_size


def map_size_bounds(size_kbytes: int) -> tuple[int, int]:
    """The uncompressed sizes (bytes, inclusive) a header's size_kbytes allows: floor(bytes /
    1000) == size_kbytes, widened by the tolerance."""
    low = (size_kbytes - _SIZE_TOLERANCE_KB) * 1000
    high = (size_kbytes + 1 + _SIZE_TOLERANCE_KB) * 1000 - 1
    return max(0, low), high


def map_download_caps(size_kbytes: int | None, limits: DownloadLimits) -> tuple[int, int]:
    """(most bytes to receive, most bytes the gzip may expand to) for a map download."""
    if size_kbytes is None:
        return limits.map, limits.map
    high = map_size_bounds(size_kbytes)[1]
    return int(high * _GZIP_OVERHEAD) + _GZIP_SLACK, high


def check_map_size(path: Path, size_kbytes: int | None) -> None:
    """Raise Rejected (a ValueError) if the map's uncompressed size disagrees with the header's
    size_kbytes (units of 1000 bytes, floored). No header size: nothing to check."""
    if size_kbytes is None:
        return
    actual = uncompressed_size(path)
    low, high = map_size_bounds(size_kbytes)
    if path.name.endswith(".gz"):
        # ISIZE is the size modulo 2**32: compare in that ring for maps above 4 GiB.
        fits = (actual - low) % 2**32 <= high - low
    else:
        fits = low <= actual <= high
    if not fits:
        raise Rejected(
            f"{path.name}: {actual} bytes uncompressed, the header says {size_kbytes} kB "
            "(1 kB = 1000 bytes)"
        )
