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

The header's `map@size_kbytes` is in units of 1000 bytes, floor(bytes / 1000): EMD-25107, a
220³ float32 map of 42,593,024 bytes, has size_kbytes="42593" in EMDB's own header, and EMDB's
XML-to-mmCIF translator multiplies it by 1000.
"""

from __future__ import annotations

import fcntl
import gzip
import os
import struct
import tempfile
import xml.etree.ElementTree as ET
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import gemmi

from cryosse.acquire.download import Downloader, DownloadError, Rejected
from cryosse.core.config import settings_from
from cryosse.core.ids import emdb_number, normalize_emdb_id, normalize_pdb_id, upper_pdb_id
from cryosse.core.reasons import CurationError, Reason, is_environment_fault
from cryosse.io.density import plan_map
from cryosse.io.header import EntryHeader
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
        return path

    def model_file(self, pdb_id: str) -> ModelFile:
        path = self.mirror.model_path(pdb_id)
        return ModelFile(path, str(path))

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

        def validate(path: Path) -> None:
            try:
                check_map_size(path, header.map_size_kbytes)
            except ValueError as exc:
                size_problems.append(str(exc))
                raise

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
        """The first source that serves the model: RCSB, then PDBe, then the PDB format."""
        pid = normalize_pdb_id(pdb_id)
        try:
            cached = self.cache.model_path(pid)
            return ModelFile(cached, f"cache:{cached.name}")
        except CurationError:
            pass
        failures: list[CurationError] = []
        for url in self.urls.model_urls(pid):
            dest = self.cache.root / "pdb" / f"{pid}{model_suffix(url)}"
            try:
                self._fetch(
                    url,
                    dest,
                    _check_model_text,
                    Reason.MODEL_MISSING,
                    require_length=not dest.name.endswith(".gz"),
                    max_bytes=self.limits.model,
                    max_uncompressed=self.limits.model,
                )
            except CurationError as exc:
                failures.append(exc)
                continue
            return ModelFile(dest, url)
        # Missing everywhere is model_missing; any transient failure makes it download_failed.
        reasons = {f.reason for f in failures}
        reason = (
            Reason.MODEL_MISSING if reasons == {Reason.MODEL_MISSING} else Reason.DOWNLOAD_FAILED
        )
        raise CurationError(reason, f"{pid}: " + "; ".join(f.message for f in failures))

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
        with _locked(self.cache.root / ".locks" / f"{dest.name}.lock"):
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
        downloader=downloader_from_config(download, progress=progress),
        limits=DownloadLimits.from_config(download),
    )


def downloader_from_config(download: dict[str, Any], progress: bool = False) -> Downloader:
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
    }
    if settings.user_agent:
        kwargs["user_agent"] = settings.user_agent
    return Downloader(**kwargs)
