"""Where an entry's files come from: a local mirror read in place, or the live archives over HTTP.

Both sources answer the same four questions (the `Archive` protocol): the header file of an
EMDB entry, its primary map, the model file of a PDB id, and the wwPDB list of obsolete ids.
`HttpArchive` downloads into a cache folder laid out exactly like a mirror, so a file, once
downloaded and verified, is read like any mirror file and never fetched again.

Failures become CurationErrors with a reason for the curation log:
    HTTP 404/410              -> header_missing / map_missing / model_missing
    retries exhausted         -> download_failed (also after 403, 429, 5xx: a block or an
                                 overload is temporary), and the failure is remembered in
                                 `transient_failures`: the acquisition job then fails instead
                                 of recording an exclusion, so the next run tries again
    verification failed       -> download_failed, or map_size_mismatch for a map whose
                                 uncompressed size disagrees with its header (at once: an
                                 intact file of the wrong size is not fetched again)
    over its size cap         -> download_failed (permanent, at once): an endless header,
                                 model or map body never fills the disk
    https:// redirected to    -> no exclusion: ArchiveConfigError, the acquisition job fails
    http://                      naming the URL (archive.allow_http_downgrade accepts it)

What is verified beyond the transfer, and recorded in the entry's record (`map_verification`,
each model's `verification`), since neither archive publishes a checksum of its files (EMDB's
file tree and its v3 header carry none; the PDB archive none per entry):
    map      its size against the header's size_kbytes (above), and, where the header
             publishes map/statistics (minimum, maximum, average, std), the values of the
             map's data against them: a map of the right size but the wrong content fails.
             No statistics (the demo mirror's headers): "not verifiable" is recorded.
    model    a gzip's CRC-32 and length (transfer), and the residue or atom count the file
             itself publishes: mmCIF `_pdbx_poly_seq_scheme` (every residue it marks as
             modelled must be in `_atom_site`), PDB format MASTER (its atom count must be
             that of ATOM/HETATM records). A plain-text model that publishes neither could be
             cut at a line end unnoticed: a source that can be verified is preferred to it,
             and if none serves the model it is used with "not verifiable beyond its length"
             recorded.

The header's `map@size_kbytes` is in units of 1000 bytes, floor(bytes / 1000): EMD-25107, a
220³ float32 map of 42,593,024 bytes, has size_kbytes="42593" in EMDB's own header, and EMDB's
XML-to-mmCIF translator multiplies it by 1000.
"""

from __future__ import annotations

import fcntl
import gzip
import math
import os
import struct
import tempfile
import threading
import xml.etree.ElementTree as ET
import zlib
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import gemmi
import numpy as np

from cryosse.acquire.download import Downloader, DownloadError, Rejected
from cryosse.core.config import settings_from
from cryosse.core.ids import emdb_number, normalize_emdb_id, normalize_pdb_id, upper_pdb_id
from cryosse.core.reasons import CurationError, Reason, is_environment_fault
from cryosse.io.header import EntryHeader
from cryosse.io.map_plan import plan_map
from cryosse.io.mirror import LocalMirror
from cryosse.io.obsolete import ObsoleteList, read_obsolete_list

DEFAULT_EMDB_FILES_URL = "https://ftp.ebi.ac.uk/pub/databases/emdb"
DEFAULT_EMDB_API_URL = "https://www.ebi.ac.uk/emdb/api"
# mmCIF from RCSB, then from PDBe; the PDB format only as a last resort (no extended ids).
DEFAULT_MODEL_URLS = (
    "https://files.rcsb.org/download/{ID}.cif.gz",
    "https://www.ebi.ac.uk/pdbe/entry-files/download/{id}.cif",
    "https://files.rcsb.org/download/{ID}.pdb.gz",
)
DEFAULT_OBSOLETE_LIST_URL = "https://files.wwpdb.org/pub/pdb/data/status/obsolete.dat"
# The cache keeps these suffixes, in this order of preference (see LocalMirror.model_path).
_MODEL_SUFFIXES = (".cif.gz", ".cif", ".pdb.gz", ".pdb", ".ent.gz", ".ent")
# Tolerance of the header's map size (kB = 1000 bytes, floored) against the real size, in kB
# either way: a header that rounds instead of flooring still passes.
_SIZE_TOLERANCE_KB = 1
# gzip of incompressible data grows by at most ~0.02 % plus a few bytes of header and trailer.
_GZIP_OVERHEAD = 1.001
_GZIP_SLACK = 64 * 1024
# bytes/s: the slowest transfer a map's deadline allows for (a 20 GB map gets 20,000 s)
_SLOWEST_RATE = 1e6


@dataclass(frozen=True)
class ArchiveSettings:
    """The config's `archive` section: where files come from."""

    mirror: str | None = None  # a local mirror read in place; else HTTP into `cache`
    cache: str = "archive"
    emdb_files_url: str = DEFAULT_EMDB_FILES_URL
    emdb_api_url: str = DEFAULT_EMDB_API_URL
    model_urls: tuple[str, ...] = DEFAULT_MODEL_URLS
    obsolete_list_url: str = DEFAULT_OBSOLETE_LIST_URL
    # follow a redirect from https:// to http:// (default: refuse it, a configuration error)
    allow_http_downgrade: bool = False

    @classmethod
    def from_config(cls, archive: dict[str, Any]) -> ArchiveSettings:
        return settings_from(cls, archive, model_urls=tuple)


@dataclass(frozen=True)
class DownloadSettings:
    """The config's `download` section: HTTP behaviour and size caps."""

    concurrency: int = 4
    timeout: float = 30.0
    retries: int = 5
    backoff: float = 1.0
    backoff_max: float = 60.0
    retry_after_max: float = 600.0
    user_agent: str | None = None  # None: cryosse/<version>
    deadline: float = 3600.0
    host_interval: float = 0.4
    max_header_mb: float = 10.0
    max_model_mb: float = 2000.0
    max_map_mb: float = 20000.0

    @classmethod
    def from_config(cls, download: dict[str, Any]) -> DownloadSettings:
        return settings_from(cls, download)


@dataclass(frozen=True)
class DownloadLimits:
    """Size caps of the downloads (bytes): a body beyond its cap is refused at once."""

    header: int = 10 * 1000**2
    model: int = 2 * 1000**3
    # a map whose header gives no size; otherwise the header's size (+ gzip slack) is the cap
    map: int = 20 * 1000**3
    obsolete_list: int = 50 * 1000**2

    @classmethod
    def from_config(cls, download: dict[str, Any]) -> DownloadLimits:
        settings, mb = DownloadSettings.from_config(download), 1000**2
        return cls(
            header=int(settings.max_header_mb * mb),
            model=int(settings.max_model_mb * mb),
            map=int(settings.max_map_mb * mb),
        )


class ArchiveConfigError(RuntimeError):
    """The configured archive cannot be used as it is (an https:// URL redirecting to http://):
    no entry is excluded for it, the acquisition fails until the configuration changes."""


class Archive(Protocol):
    """What the acquisition step needs from a source of EMDB and PDB files."""

    def header_file(self, emdb_id: str) -> Path: ...

    def map_file(self, emdb_id: str, header: EntryHeader) -> Path: ...

    def model_file(self, pdb_id: str) -> ModelFile: ...

    def obsolete_list(self) -> ObsoleteList: ...


@dataclass(frozen=True)
class ModelFile:
    path: Path
    source: str  # the mirror path or the URL it was downloaded from
    # what vouches for the file being whole (gzip CRC, its own residue or atom count), or
    # why nothing does: for the entry's record
    verification: str = ""


@dataclass(frozen=True)
class ArchiveURLs:
    """Base URLs of the archives; templates take {id} (lower case) or {ID} (upper case, an
    extended id keeping its "pdb_" prefix: pdb_00001ABC)."""

    emdb_files: str = DEFAULT_EMDB_FILES_URL
    emdb_api: str = DEFAULT_EMDB_API_URL
    models: tuple[str, ...] = DEFAULT_MODEL_URLS
    obsolete_list: str = DEFAULT_OBSOLETE_LIST_URL

    @classmethod
    def from_config(cls, archive: dict[str, Any]) -> ArchiveURLs:
        return cls.from_settings(ArchiveSettings.from_config(archive))

    @classmethod
    def from_settings(cls, settings: ArchiveSettings) -> ArchiveURLs:
        return cls(
            emdb_files=settings.emdb_files_url.rstrip("/"),
            emdb_api=settings.emdb_api_url.rstrip("/"),
            models=settings.model_urls,
            obsolete_list=settings.obsolete_list_url,
        )

    def header_url(self, emdb_id: str) -> str:
        emdb = normalize_emdb_id(emdb_id)
        return f"{self.emdb_files}/structures/{emdb}/header/emd-{emdb_number(emdb)}-v30.xml"

    def map_url(self, emdb_id: str, file_name: str) -> str:
        return f"{self.emdb_files}/structures/{normalize_emdb_id(emdb_id)}/map/{file_name}"

    def model_urls(self, pdb_id: str) -> list[str]:
        pid = normalize_pdb_id(pdb_id)
        return [template.format(id=pid, ID=upper_pdb_id(pid)) for template in self.models]


def model_suffix(url: str) -> str:
    """The file suffix a model URL serves (".cif.gz", ".pdb", ...), for its name in the cache."""
    name = url.rsplit("/", 1)[-1].split("?", 1)[0].lower()
    for suffix in _MODEL_SUFFIXES:
        if name.endswith(suffix):
            return suffix
    raise ValueError(f"model URL {url!r} does not end in one of {', '.join(_MODEL_SUFFIXES)}")


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


class ContentMismatch(Rejected):
    """A complete, intact file whose content disagrees with what the archive publishes about
    it (a map whose values are not those of the header's map statistics)."""


# What the record says when nothing published about a file could check its content.
NOT_VERIFIABLE = "not verifiable"
# The header's map statistics, compared with tolerances in units of the published value range
# (maximum - minimum): EMDB prints them with a few significant digits; another map's values
# differ by far more.
_STATISTICS_TOLERANCE = 0.01
# numpy dtypes of the MRC modes whose values can be summed (mode 101, 4-bit, is not checked)
_MRC_DTYPES = {0: "i1", 1: "i2", 2: "f4", 6: "u2", 12: "f2"}
_MRC_HEADER_BYTES = 1024
_STATISTICS_CHUNK = 1 << 22  # bytes of map data per step: bounded memory for any map size
# Content checks already done, by file identity (a verified ".part" keeps its inode, size and
# mtime when it is renamed onto its final name): the record reuses the download's result.
_checked: dict[tuple[object, ...], str] = {}
_checked_lock = threading.Lock()


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
        order = ">" if head[212] == 0x11 else "<"
        if struct.unpack(order + "i", head[12:16])[0] not in _MRC_DTYPES:
            other = "<" if order == ">" else ">"
            if struct.unpack(other + "i", head[12:16])[0] in _MRC_DTYPES:
                order = other
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


def _identity(path: Path, *extra: object) -> tuple[object, ...]:
    st = path.stat()
    return (st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns, *extra)


def check_map_content(path: Path, published: MapStatistics | None) -> str:
    """Compare the map's values with the header's statistics; return what the record says.

    Raises ContentMismatch (a Rejected) when they disagree: the right size, the wrong map.
    With no published statistics the content cannot be checked, and the note says so."""
    if published is None:
        return (
            f"{NOT_VERIFIABLE}: the archive publishes no checksum and the header no map "
            "statistics; only the size was checked (against the header's, where it gives one)"
        )
    key = _identity(path, published)
    with _checked_lock:
        if key in _checked:
            return _checked[key]
    found = compute_map_statistics(path)
    differing = found.differences(published)
    if differing:
        raise ContentMismatch(
            f"{path.name.removeprefix('.part-')}: its values ({found.describe()}) disagree with "
            f"the header's map statistics ({published.describe()}) in {', '.join(differing)}: "
            "not the header's map, or a damaged one"
        )
    note = f"verified: its values match the header's map statistics ({published.describe()})"
    with _checked_lock:
        _checked[key] = note
    return note


def check_model_content(path: Path) -> str:
    """Check a model against the count it publishes itself; return what the record says.

    mmCIF: every residue `_pdbx_poly_seq_scheme` marks as modelled (a monomer id, not "?")
    must have atoms in `_atom_site`. PDB format: the MASTER record's atom count must be the
    number of ATOM/HETATM records. ValueError when the file is shown cut; a note starting
    NOT_VERIFIABLE when it publishes no such count (then only its length vouches for it)."""
    name = path.name.removeprefix(".part-")
    key = _identity(path)
    with _checked_lock:
        if key in _checked:
            return _checked[key]
    try:
        if any(name.endswith(s) for s in (".cif", ".cif.gz")):
            note = _check_mmcif_counts(path, name)
        else:
            note = _check_pdb_counts(path, name)
    except (OSError, EOFError, RuntimeError, zlib.error) as exc:
        if is_environment_fault(exc):
            raise
        raise ValueError(f"{name} does not read to its end: {exc}") from exc
    with _checked_lock:
        _checked[key] = note
    return note


def _check_mmcif_counts(path: Path, name: str) -> str:
    document = gemmi.cif.read(str(path))
    if len(document) == 0:
        raise ValueError(f"{name}: no data block")
    block = document[0]
    scheme = block.find("_pdbx_poly_seq_scheme.", ["asym_id", "seq_id", "pdb_mon_id"])
    if len(scheme) == 0:
        return (
            f"{NOT_VERIFIABLE} beyond its length: the file publishes no residue list "
            "(_pdbx_poly_seq_scheme) to count its atoms against"
        )
    modelled = {(row[0], row[1]) for row in scheme if not gemmi.cif.is_null(row[2])}
    atoms = block.find("_atom_site.", ["label_asym_id", "label_seq_id"])
    present = {(row[0], row[1]) for row in atoms}
    missing = sorted(modelled - present)
    if missing:
        chain, seq = missing[0]
        raise ValueError(
            f"{name}: {len(missing)} of the {len(modelled)} residues its _pdbx_poly_seq_scheme "
            f"marks as modelled have no atom in _atom_site (first: {chain} {seq}): the file "
            "is cut"
        )
    return (
        f"verified: the {len(modelled)} modelled residues of its _pdbx_poly_seq_scheme all "
        "have atoms"
    )


def _check_pdb_counts(path: Path, name: str) -> str:
    opener = gzip.open if name.endswith(".gz") else open
    coordinates, models, master = 0, 0, None
    with opener(path, "rb") as handle:
        for line in handle:
            record = line[:6]
            if record in (b"ATOM  ", b"HETATM"):
                coordinates += 1
            elif record == b"MODEL ":
                models += 1
            elif record == b"MASTER":
                try:
                    master = int(line[50:55])
                except ValueError:
                    master = None
    if master is None:
        return (
            f"{NOT_VERIFIABLE} beyond its length: the file has no MASTER record with its atom count"
        )
    if coordinates < master and models <= 1:
        raise ValueError(
            f"{name}: {coordinates} ATOM/HETATM records, its MASTER record says {master}: "
            "the file is cut"
        )
    if coordinates != master:
        # more records than stated (an ensemble, a file edited after release): not a cut,
        # but the count vouches for nothing
        return (
            f"{NOT_VERIFIABLE} beyond its length: {coordinates} ATOM/HETATM records, its "
            f"MASTER record says {master}"
        )
    return f"verified: {coordinates} ATOM/HETATM records, as its MASTER record states"


def _check_xml(path: Path) -> None:
    try:
        ET.parse(path)
    except ET.ParseError as exc:
        raise ValueError(f"{path.name} is not well-formed XML: {exc}") from exc


def _check_model_text(path: Path) -> None:
    """A model file must read as a structure with atoms (not an HTML error page, not empty)."""
    opener = gzip.open if path.name.endswith(".gz") else open
    with opener(path, "rb") as handle:
        head = handle.read(4096).lstrip()
    if not head or head.startswith((b"<", b"{")):
        raise ValueError(f"{path.name} is not a model file (starts with {head[:20]!r})")
    # gemmi picks the format from the name; the download's name is ".part-<name>".
    suffix = next((x for x in _MODEL_SUFFIXES if path.name.endswith(x)), "")
    try:
        with tempfile.TemporaryDirectory() as work:
            link = Path(work) / f"model{suffix}"
            link.symlink_to(path.resolve())
            structure = gemmi.read_structure(str(link))
    except (RuntimeError, ValueError, OSError) as exc:
        if is_environment_fault(exc):
            raise  # the machine failed (disk full, I/O error), not the download: no exclusion
        raise ValueError(f"{path.name} does not read as a model: {exc}") from exc
    if len(structure) == 0 or structure[0].count_atom_sites() == 0:
        raise ValueError(f"{path.name} holds no atom")


def _check_model_file(path: Path) -> None:
    """A downloaded model: a structure with atoms, not shown cut by its own counts."""
    _check_model_text(path)
    check_model_content(path)


class MirrorArchive:
    """A local mirror, read in place (no copies, no HTTP)."""

    def __init__(self, mirror: LocalMirror) -> None:
        self.mirror = mirror

    def header_file(self, emdb_id: str) -> Path:
        return self.mirror.header_path(emdb_id)

    def map_file(self, emdb_id: str, header: EntryHeader) -> Path:
        path = self.mirror.map_path(emdb_id, header.map_file)
        if not path.is_file():
            raise CurationError(Reason.MAP_MISSING, f"{emdb_id}: map {path.name} not in the mirror")
        # The size check of a download, from the map's own MRC header (1024 bytes read; a
        # truncated gzip's trailer would be garbage, and is reported unreadable when read): a
        # mirror file that is not the header's map is excluded before anything reads it, and
        # reading decompresses no more than this size (density.read_map).
        if header.map_size_kbytes is not None:
            implied = plan_map(path).file_bytes
            low, high = map_size_bounds(header.map_size_kbytes)
            if not low <= implied <= high:
                raise CurationError(
                    Reason.MAP_SIZE_MISMATCH,
                    f"{emdb_id}: {path.name}: its MRC header implies {implied} bytes, the entry "
                    f"header says {header.map_size_kbytes} kB (1 kB = 1000 bytes)",
                )
        # The content check of a download (where the header publishes map statistics).
        try:
            check_map_content(path, read_map_statistics(self.header_file(emdb_id)))
        except ValueError as exc:
            raise CurationError(Reason.MAP_UNREADABLE, f"{emdb_id}: {exc}") from exc
        return path

    def model_file(self, pdb_id: str) -> ModelFile:
        path = self.mirror.model_path(pdb_id)
        try:
            content = check_model_content(path)
        except ValueError as exc:
            raise CurationError(Reason.MODEL_UNREADABLE, str(exc)) from exc
        transfer = "gzip CRC-32 read to its end" if path.name.endswith(".gz") else "no transfer"
        return ModelFile(path, str(path), f"mirror file ({transfer}); content {content}")

    def obsolete_list(self) -> ObsoleteList:
        path = self.mirror.obsolete_list_path()
        if path.is_file():
            return read_obsolete_list(path)
        return ObsoleteList.empty(f"no {path.relative_to(self.mirror.root)} in the mirror")


@dataclass
class HttpArchive:
    """The live archives, downloaded into `cache` (a mirror layout) on first use.

    Processes share the cache safely: each download holds an exclusive lock on its destination
    (in cache/.locks), and a file another process published meanwhile is simply reused.
    """

    cache: LocalMirror
    urls: ArchiveURLs
    downloader: Downloader
    # every URL tried and what came of it, for the entry's record
    attempts: list[dict[str, str]] = field(default_factory=list)
    # downloads that failed for reasons a later run may not meet (network, 5xx, 429, 403)
    transient_failures: list[str] = field(default_factory=list)
    limits: DownloadLimits = field(default_factory=DownloadLimits)

    def header_file(self, emdb_id: str) -> Path:
        dest = self.cache.header_path(emdb_id)
        self._fetch(
            self.urls.header_url(emdb_id),
            dest,
            _check_xml,
            Reason.HEADER_MISSING,
            max_bytes=self.limits.header,
        )
        return dest

    def map_file(self, emdb_id: str, header: EntryHeader) -> Path:
        dest = self.cache.map_path(emdb_id, header.map_file)
        size_problems: list[str] = []

        statistics = read_map_statistics(self.cache.header_path(emdb_id))

        def validate(path: Path) -> None:
            try:
                check_map_size(path, header.map_size_kbytes)
            except ValueError as exc:
                size_problems.append(str(exc))
                raise
            # the right size is not the right map: its values against the header's statistics
            check_map_content(path, statistics)

        max_bytes, max_uncompressed = map_download_caps(header.map_size_kbytes, self.limits)
        deadline = self.downloader.deadline
        if deadline is not None and header.map_size_kbytes is not None:
            # a large map gets at least the time it takes at 1 MB/s
            deadline = max(deadline, max_bytes / _SLOWEST_RATE)
        try:
            self._fetch(
                self.urls.map_url(emdb_id, dest.name),
                dest,
                validate,
                Reason.MAP_MISSING,
                max_bytes=max_bytes,
                max_uncompressed=max_uncompressed,
                deadline=deadline,
            )
        except CurationError as exc:
            if size_problems and exc.reason == Reason.DOWNLOAD_FAILED:
                # The file was complete and intact: it is not the header's map.
                raise CurationError(
                    Reason.MAP_SIZE_MISMATCH, f"{emdb_id}: {size_problems[-1]}"
                ) from exc
            cause = exc.__cause__
            if isinstance(cause, DownloadError) and cause.too_large:
                # larger (or expanding further) than the header's size allows
                message = f"{emdb_id}: {cause.message}; the header says {header.map_size_kbytes} kB"
                raise CurationError(Reason.MAP_SIZE_MISMATCH, message) from exc
            raise
        return dest

    def model_file(self, pdb_id: str) -> ModelFile:
        """The first source that serves a model that can be verified: RCSB, then PDBe, then
        the PDB format. A plain-text model publishing no residue or atom count (its length is
        all that vouches for it: it could be cut at a line end) is set aside while the next
        sources are tried, and used, with that recorded, only if none serves a verifiable one."""
        pid = normalize_pdb_id(pdb_id)
        try:
            cached = self.cache.model_path(pid)
        except CurationError:
            pass
        else:
            try:
                content = check_model_content(cached)
            except ValueError as exc:
                raise CurationError(Reason.MODEL_UNREADABLE, f"cached {exc}") from exc
            return ModelFile(cached, f"cache:{cached.name}", f"cached; content {content}")
        failures: list[CurationError] = []
        aside: tuple[Path, Path, str, str] | None = None  # (set-aside file, dest, url, note)
        for url in self.urls.model_urls(pid):
            dest = self.cache.root / "pdb" / f"{pid}{model_suffix(url)}"
            try:
                self._fetch(
                    url,
                    dest,
                    _check_model_file,
                    Reason.MODEL_MISSING,
                    require_length=not dest.name.endswith(".gz"),
                    max_bytes=self.limits.model,
                    max_uncompressed=self.limits.model,
                )
            except CurationError as exc:
                failures.append(exc)
                continue
            content = check_model_content(dest)  # the download's result, or a file published
            if dest.name.endswith(".gz"):
                note = f"gzip CRC-32 and length verified; content {content}"
            else:
                note = f"its Content-Length received in full; content {content}"
            if dest.name.endswith(".gz") or not content.startswith(NOT_VERIFIABLE):
                if aside is not None:
                    aside[0].unlink(missing_ok=True)
                return ModelFile(dest, url, note)
            with _locked(self._lock_path(dest)):
                if aside is None:
                    # hidden (the cache's lookup, model_path, never returns it) and this
                    # thread's own: another job setting aside the same model keeps its copy
                    kept = dest.with_name(
                        f".unverified-{os.getpid()}-{threading.get_ident()}-{dest.name}"
                    )
                    os.replace(dest, kept)
                    aside = (kept, dest, url, note)
                else:
                    dest.unlink(missing_ok=True)
            self.attempts.append({"url": url, "result": f"set aside: {content}"})
        if aside is not None:
            kept, dest, url, note = aside
            with _locked(self._lock_path(dest)):
                if dest.is_file():  # another job published it meanwhile
                    kept.unlink()
                else:
                    os.replace(kept, dest)
            return ModelFile(dest, url, f"{note}; no source served a model that can be verified")
        # Missing everywhere is model_missing; any transient failure makes it download_failed.
        reasons = {f.reason for f in failures}
        reason = (
            Reason.MODEL_MISSING if reasons == {Reason.MODEL_MISSING} else Reason.DOWNLOAD_FAILED
        )
        raise CurationError(reason, f"{pid}: " + "; ".join(f.message for f in failures))

    def _lock_path(self, dest: Path) -> Path:
        return self.cache.root / ".locks" / f"{dest.name}.lock"

    def obsolete_list(self) -> ObsoleteList:
        """The wwPDB list, downloaded once into the cache; empty (and said so) if unreachable."""
        dest = self.cache.obsolete_list_path()
        try:
            self._fetch(
                self.urls.obsolete_list,
                dest,
                None,
                Reason.DOWNLOAD_FAILED,
                max_bytes=self.limits.obsolete_list,
            )
        except CurationError as exc:
            return ObsoleteList.empty(f"obsolete list unavailable: {exc.message}")
        return read_obsolete_list(dest)

    def _fetch(
        self,
        url: str,
        dest: Path,
        validate: Callable[[Path], None] | None,
        missing: Reason,
        require_length: bool = False,
        max_bytes: int | None = None,
        max_uncompressed: int | None = None,
        deadline: float | None = None,
    ) -> None:
        """Make `dest` a verified copy of `url` (reusing one already in the cache)."""
        with _locked(self._lock_path(dest)):
            if dest.is_file():
                return
            try:
                self.downloader.fetch(
                    url,
                    dest,
                    validate=validate,
                    require_length=require_length,
                    max_bytes=max_bytes,
                    max_uncompressed=max_uncompressed,
                    deadline=deadline,
                )
            except DownloadError as exc:
                self.attempts.append({"url": url, "result": exc.message})
                if exc.insecure_redirect:
                    raise ArchiveConfigError(exc.message) from exc
                if exc.status in (404, 410):
                    raise CurationError(missing, f"HTTP {exc.status} for {url}") from exc
                if not exc.permanent:
                    self.transient_failures.append(exc.message)
                kind = "verification failed" if exc.permanent else "transient failure"
                raise CurationError(Reason.DOWNLOAD_FAILED, f"{kind}: {exc.message}") from exc
        self.attempts.append({"url": url, "result": "ok"})


@contextmanager
def _locked(lock_path: Path) -> Iterator[None]:
    """An exclusive advisory lock, held across processes (Snakemake jobs share the cache)."""
    lock_path.parent.mkdir(parents=True, exist_ok=True)
    with open(lock_path, "a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def archive_from_config(
    archive: dict[str, Any], download: dict[str, Any], progress: bool = False
) -> MirrorArchive | HttpArchive:
    """A mirror when `archive.mirror` is set, otherwise HTTP into `archive.cache`."""
    settings = ArchiveSettings.from_config(archive)
    if settings.mirror:
        return MirrorArchive(LocalMirror.at(settings.mirror))
    return HttpArchive(
        cache=LocalMirror.at(settings.cache or "archive"),
        urls=ArchiveURLs.from_settings(settings),
        downloader=downloader_from_config(
            download, progress=progress, allow_http_downgrade=settings.allow_http_downgrade
        ),
        limits=DownloadLimits.from_config(download),
    )


def downloader_from_config(
    download: dict[str, Any], progress: bool = False, allow_http_downgrade: bool = False
) -> Downloader:
    """A Downloader with the config's `download` settings; `allow_http_downgrade` is the
    `archive` section's (which addresses may be followed, not how to download)."""
    settings = DownloadSettings.from_config(download)
    kwargs: dict[str, Any] = {
        "timeout": settings.timeout,
        "max_retries": settings.retries,
        "backoff_base": settings.backoff,
        "backoff_max": settings.backoff_max,
        "retry_after_max": settings.retry_after_max,
        "deadline": settings.deadline,
        "host_interval": settings.host_interval,
        "progress": progress,
        "allow_http_downgrade": allow_http_downgrade,
    }
    if settings.user_agent:
        kwargs["user_agent"] = settings.user_agent
    return Downloader(**kwargs)
