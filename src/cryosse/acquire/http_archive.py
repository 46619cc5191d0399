"""The live archives as an Archive: files downloaded into a cache folder laid out exactly like
a mirror, so a file, once downloaded and verified, is read like any mirror file and never
fetched again.

Failures become DataErrors with a reason for the curation log:
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
"""

from __future__ import annotations

import fcntl
import os
import threading
import xml.etree.ElementTree as ET
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cryosse.acquire.archive import ArchiveConfigError, ModelFile
from cryosse.acquire.archive_settings import ArchiveURLs, DownloadLimits
from cryosse.acquire.download import Downloader
from cryosse.acquire.download_errors import DownloadError
from cryosse.acquire.map_size import check_map_size, map_download_caps
from cryosse.acquire.map_statistics import check_map_content, read_map_statistics
from cryosse.acquire.model_checks import check_model_content, check_model_file, model_suffix
from cryosse.acquire.verification import NOT_VERIFIABLE
from cryosse.core.ids import normalize_pdb_id
from cryosse.core.reasons import DataError, Reason
from cryosse.io.header import EntryHeader
from cryosse.io.mirror import LocalMirror
from cryosse.io.obsolete import ObsoleteList, read_obsolete_list

# bytes/s: the slowest transfer a map's deadline allows for (a 20 GB map gets 20,000 s)
SLOWEST_RATE = 1e6


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
            deadline = max(deadline, max_bytes / SLOWEST_RATE)
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
        except DataError as exc:
            if size_problems and exc.reason == Reason.DOWNLOAD_FAILED:
                # The file was complete and intact: it is not the header's map.
                raise DataError(
                    Reason.MAP_SIZE_MISMATCH, f"{emdb_id}: {size_problems[-1]}"
                ) from exc
            cause = exc.__cause__
            if isinstance(cause, DownloadError) and cause.too_large:
                # larger (or expanding further) than the header's size allows
                message = f"{emdb_id}: {cause.message}; the header says {header.map_size_kbytes} kB"
                raise DataError(Reason.MAP_SIZE_MISMATCH, message) from exc
            raise
        return dest

    def model_file(self, pdb_id: str) -> ModelFile:
        """The first source that serves a model that can be verified: RCSB, then PDBe, then
        the PDB format. A plain-text model publishing no residue or atom count (its length is
        all that vouches for it: it could be cut at a line end) is set aside while the next
        sources are tried, and used, with that recorded, only if none serves a verifiable one."""
        pid = normalize_pdb_id(pdb_id)
        cached = self._cached_model(pid)
        if cached is not None:
            return cached
        failures: list[DataError] = []
        aside: tuple[Path, Path, str, str] | None = None  # (set-aside file, dest, url, note)
        for url in self.urls.model_urls(pid):
            dest = self.cache.root / "pdb" / f"{pid}{model_suffix(url)}"
            try:
                self._fetch(
                    url,
                    dest,
                    check_model_file,
                    Reason.MODEL_MISSING,
                    require_length=not dest.name.endswith(".gz"),
                    max_bytes=self.limits.model,
                    max_uncompressed=self.limits.model,
                )
            except DataError as exc:
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
            return self._publish_set_aside(*aside)
        # Missing everywhere is model_missing; any transient failure makes it download_failed.
        reasons = {f.reason for f in failures}
        reason = (
            Reason.MODEL_MISSING if reasons == {Reason.MODEL_MISSING} else Reason.DOWNLOAD_FAILED
        )
        raise DataError(reason, f"{pid}: " + "; ".join(f.message for f in failures))

    def _cached_model(self, pid: str) -> ModelFile | None:
        """The model already in the cache (checked against its own counts), or None."""
        try:
            cached = self.cache.model_path(pid)
        except DataError:
            return None
        try:
            content = check_model_content(cached)
        except ValueError as exc:
            raise DataError(Reason.MODEL_UNREADABLE, f"cached {exc}") from exc
        return ModelFile(cached, f"cache:{cached.name}", f"cached; content {content}")

    def _publish_set_aside(self, kept: Path, dest: Path, url: str, note: str) -> ModelFile:
        """The set-aside model after all, under its cache name (unless another job published
        one meanwhile)."""
        with _locked(self._lock_path(dest)):
            if dest.is_file():  # another job published it meanwhile
                kept.unlink()
            else:
                os.replace(kept, dest)
        return ModelFile(dest, url, f"{note}; no source served a model that can be verified")

    def _lock_path(self, dest: Path) -> Path:
        return self.cache.root / ".locks" / f"{dest.name}.lock"

    def download_summary(self) -> str | None:
        return self.downloader.stats.summary_line()

    def download_record(self) -> dict[str, Any]:
        return {"downloads": self.attempts, "download_summary": self.download_summary()}

    def close(self) -> None:
        self.downloader.close()

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
        except DataError as exc:
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
                    raise DataError(missing, f"HTTP {exc.status} for {url}") from exc
                if not exc.permanent:
                    self.transient_failures.append(exc.message)
                kind = "verification failed" if exc.permanent else "transient failure"
                raise DataError(Reason.DOWNLOAD_FAILED, f"{kind}: {exc.message}") from exc
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


def _check_xml(path: Path) -> None:
    try:
        ET.parse(path)
    except ET.ParseError as exc:
        raise ValueError(f"{path.name} is not well-formed XML: {exc}") from exc
