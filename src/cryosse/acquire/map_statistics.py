"""A map's values against the map statistics its EMDB header publishes (minimum, maximum,
average, std): a map of the right size but the wrong content fails. Neither archive publishes
a checksum of its files (EMDB's file tree and its v3 header carry none), so these statistics
are what vouches for a map's content; a header without them (the demo mirror's) has
"not verifiable" recorded.
"""

from __future__ import annotations

import gzip
import math
import struct
import xml.etree.ElementTree as ET
import zlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from cryosse.acquire.download_errors import Rejected
from cryosse.acquire.verification import NOT_VERIFIABLE, file_identity, recalled, remember
from cryosse.core.reasons import is_environment_fault
from cryosse.io.map_plan import header_byte_order

# The header's map statistics, compared with tolerances in units of the published value range
# (maximum - minimum): EMDB prints them with a few significant digits; another map's values
# differ by far more.
_STATISTICS_TOLERANCE = 0.01
# numpy dtypes of the MRC modes whose values can be summed (mode 101, 4-bit, is not checked)
_MRC_DTYPES = {0: "i1", 1: "i2", 2: "f4", 6: "u2", 12: "f2"}
_MRC_HEADER_BYTES = 1024
_STATISTICS_CHUNK = 1 << 22  # bytes of map data per step: bounded memory for any map size


class ContentMismatch(Rejected):
    """A complete, intact file whose content disagrees with what the archive publishes about
    it (a map whose values are not those of the header's map statistics)."""


@dataclass(frozen=True)
class MapStatistics:
    """The values of a map's data: EMDB publishes them in its header (map/statistics)."""

    minimum: float
    maximum: float
    average: float
    std: float

    def describe(self) -> str:
        return (
            f"min {self.minimum:.6g}, max {self.maximum:.6g}, mean {self.average:.6g}, "
            f"std {self.std:.6g}"
        )

    def differences(self, published: MapStatistics) -> list[str]:
        """The statistics that disagree with `published` beyond the tolerance."""
        scale = published.maximum - published.minimum
        if not scale > 0:
            scale = max(abs(published.maximum), abs(published.minimum)) or 1.0
        tolerance = _STATISTICS_TOLERANCE * scale
        pairs = {
            "minimum": (self.minimum, published.minimum),
            "maximum": (self.maximum, published.maximum),
            "average": (self.average, published.average),
            "std": (self.std, published.std),
        }
        return [name for name, (a, b) in pairs.items() if not abs(a - b) <= tolerance]


def read_map_statistics(header_path: Path) -> MapStatistics | None:
    """The header's map/statistics (minimum, maximum, average, std), or None where it
    publishes none, or not all four as finite numbers."""
    try:
        root = ET.parse(header_path).getroot()
    except (ET.ParseError, OSError) as exc:
        if is_environment_fault(exc):
            raise
        return None
    node = root.find("map/statistics")
    if node is None:
        return None
    values = []
    for tag in ("minimum", "maximum", "average", "std"):
        try:
            value = float((node.findtext(tag) or "").strip())
        except ValueError:
            return None
        if not math.isfinite(value):
            return None
        values.append(value)
    return MapStatistics(*values)


def compute_map_statistics(path: Path) -> MapStatistics:
    """Minimum, maximum, mean and (population) standard deviation of the map's data, read in
    bounded chunks; ValueError if the file is not an MRC map of a summable mode, is short or
    is a corrupt gzip (an I/O error of the machine is raised as it is)."""
    try:
        return _map_statistics(path)
    except (OSError, EOFError, zlib.error) as exc:
        if is_environment_fault(exc):
            raise
        raise ValueError(f"{path.name.removeprefix('.part-')} does not read: {exc}") from exc


def _map_statistics(path: Path) -> MapStatistics:
    opener = gzip.open if path.name.endswith(".gz") else open
    with opener(path, "rb") as handle:
        head = handle.read(_MRC_HEADER_BYTES)
        if len(head) < _MRC_HEADER_BYTES:
            raise ValueError(f"{path.name}: shorter than an MRC header")
        order = header_byte_order(head, _MRC_DTYPES)
        nx, ny, nz, mode = struct.unpack(order + "4i", head[:16])
        nsymbt = struct.unpack(order + "i", head[92:96])[0]
        if mode not in _MRC_DTYPES or min(nx, ny, nz) < 1 or nsymbt < 0:
            raise ValueError(f"{path.name}: MRC mode {mode}, grid {nx}x{ny}x{nz}: not checked")
        dtype = np.dtype(order + _MRC_DTYPES[mode])
        remaining = nx * ny * nz * dtype.itemsize
        skip = nsymbt
        while skip > 0:
            skipped = len(handle.read(min(skip, _STATISTICS_CHUNK)))
            if skipped == 0:
                raise ValueError(f"{path.name}: ends inside its extended header")
            skip -= skipped
        count, total, squares = 0, 0.0, 0.0
        low, high = math.inf, -math.inf
        step = _STATISTICS_CHUNK - _STATISTICS_CHUNK % dtype.itemsize
        while remaining > 0:
            chunk = handle.read(min(remaining, step))
            if not chunk or len(chunk) % dtype.itemsize:
                raise ValueError(f"{path.name}: ends inside its data block")
            remaining -= len(chunk)
            values = np.frombuffer(chunk, dtype=dtype).astype(np.float64)
            count += values.size
            total += float(values.sum())
            squares += float(np.square(values).sum())
            low, high = min(low, float(values.min())), max(high, float(values.max()))
    mean = total / count
    return MapStatistics(low, high, mean, math.sqrt(max(0.0, squares / count - mean * mean)))


def check_map_content(path: Path, published: MapStatistics | None) -> str:
    """Compare the map's values with the header's statistics; return what the record says.

    Raises ContentMismatch (a Rejected) when they disagree: the right size, the wrong map.
    With no published statistics the content cannot be checked, and the note says so."""
    if published is None:
        return (
            f"{NOT_VERIFIABLE}: the archive publishes no checksum and the header no map "
            "statistics; only the size was checked (against the header's, where it gives one)"
        )
    key = file_identity(path, published)
    done = recalled(key)
    if done is not None:
        return done
    found = compute_map_statistics(path)
    differing = found.differences(published)
    if differing:
        raise ContentMismatch(
            f"{path.name.removeprefix('.part-')}: its values ({found.describe()}) disagree with "
            f"the header's map statistics ({published.describe()}) in {', '.join(differing)}: "
            "not the header's map, or a damaged one"
        )
    note = f"verified: its values match the header's map statistics ({published.describe()})"
    remember(key, note)
    return note
