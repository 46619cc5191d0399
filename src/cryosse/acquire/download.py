"""Robust HTTP downloads of EMDB maps and headers and of PDB models.

Archive servers drop connections, throttle with 429/503 and now and then serve a truncated or
corrupt file; a dataset build over thousands of entries must survive all of that and must never
leave a half-written or unverified file under its final name. Each download therefore goes to a
stable hidden sibling ".part-<name>" that a retry (or a later run) resumes with an HTTP Range
request, and only a verified file is renamed onto the final path.

What happens to the ".part" file when a download finally fails:
- kept after transient failures (timeouts, dropped connections, 429, 5xx), so that a later call
  resumes where this one stopped;
- deleted after permanent ones (404/410) and after failed verification (wrong size, corrupt
  gzip), because its bytes are known to be useless.

An https:// URL is never followed to http:// (a redirect that drops TLS would hand the header,
map or model to anyone on the path): the fetch fails at once with a configuration error naming
both URLs, unless the Downloader is built with allow_http_downgrade=True.

The Downloader holds what is shared (the session, the per-host spacing, the stats) and the
retry loop; one attempt, from request to verified ".part", is download_attempt's, and what an
answer's status and headers mean is http_answer's.
"""

from __future__ import annotations

import os
import random
import threading
import time
import urllib.parse
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from pathlib import Path

import requests

from cryosse import __version__
from cryosse.acquire.download_attempt import FetchJob, FileChecks, Link, download_part, verify_part
from cryosse.acquire.download_errors import AttemptFailed, DownloadError, InsecureRedirect
from cryosse.acquire.http_deadline import DeadlineAdapter

DEFAULT_USER_AGENT = f"cryosse/{__version__} (cryo-EM dataset builder; python-requests)"
# Enough pooled connections for fetch_many's workers; more workers still work, unpooled.
_POOL_SIZE = 16


@dataclass
class DownloadStats:
    """Totals over all fetch calls of one Downloader, for the end-of-stage summary line.

    `bytes` counts every byte received, including bytes later discarded by a restart;
    `seconds` sums the wall time of the fetch calls (concurrent calls overlap).
    """

    files: int = 0
    bytes: int = 0
    seconds: float = 0.0
    retries: int = 0

    def summary_line(self) -> str:
        return (
            f"downloaded {self.files} files, {self.bytes / 1e6:.1f} MB "
            f"in {self.seconds:.1f} s ({self.retries} retries)"
        )


def partial_path(dest: str | os.PathLike[str]) -> Path:
    """The stable ".part-" sibling where `dest` is downloaded before verification."""
    dest = Path(dest)
    return dest.with_name(".part-" + dest.name)


class Downloader:
    """Downloads files over HTTP(S) with resume, retries, backoff and verification.

    One requests.Session (and its connection pool) is shared by all calls, including the worker
    threads of fetch_many; the stats are updated under a lock.
    """

    def __init__(
        self,
        *,
        timeout: float = 30.0,
        max_retries: int = 5,
        backoff_base: float = 1.0,
        backoff_max: float = 60.0,
        retry_after_max: float = 600.0,
        user_agent: str = DEFAULT_USER_AGENT,
        progress: bool = False,
        sleep: Callable[[float], object] = time.sleep,
        deadline: float | None = None,
        host_interval: float = 0.0,
        clock: Callable[[], float] = time.monotonic,
        allow_http_downgrade: bool = False,
    ) -> None:
        if max_retries < 0:
            raise ValueError("max_retries must be >= 0")
        if deadline is not None and deadline <= 0:
            raise ValueError("deadline must be > 0 seconds")
        if host_interval < 0:
            raise ValueError("host_interval must be >= 0")
        self.timeout = timeout
        # Total seconds one fetch may take, retries included: `timeout` bounds each wait for
        # a byte, so a server trickling one byte per `timeout` would otherwise never end.
        self.deadline = deadline
        # Least seconds between the starts of two requests to one host (politeness: a search
        # fetches one header per hit, thousands of requests).
        self.host_interval = host_interval
        # The clock of that spacing, with `sleep` its wait: tests inject both and check the
        # spacing without timing anything (the wall-clock figure is benchmarks/download.py's).
        self._clock = clock
        self._next_slot: dict[str, float] = {}
        self.max_retries = max_retries
        self.backoff_base = backoff_base
        self.backoff_max = backoff_max
        # A server's own Retry-After is honoured up to this (a throttled archive asking for
        # minutes must get them), the jittered backoff only up to backoff_max.
        self.retry_after_max = retry_after_max
        self.user_agent = user_agent
        self.progress = progress
        self._sleep = sleep
        self._stats = DownloadStats()
        self._lock = threading.Lock()
        self._session = requests.Session()
        adapter = DeadlineAdapter(pool_connections=_POOL_SIZE, pool_maxsize=_POOL_SIZE)
        self._session.mount("https://", adapter)
        self._session.mount("http://", adapter)
        # identity: the bytes on disk are exactly the served file, and Range offsets and
        # Content-Length refer to them (a transfer-compressed .gz would be decoded otherwise).
        self._session.headers.update({"User-Agent": user_agent, "Accept-Encoding": "identity"})
        # Every answer, redirects included, passes this hook before requests follows it.
        self.allow_http_downgrade = allow_http_downgrade
        self._session.hooks["response"].append(self._refuse_downgrade)

    @property
    def stats(self) -> DownloadStats:
        """A snapshot of the totals so far."""
        with self._lock:
            return replace(self._stats)

    def close(self) -> None:
        self._session.close()

    def __enter__(self) -> Downloader:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def fetch(
        self,
        url: str,
        dest: str | os.PathLike[str],
        expected_size: int | None = None,
        verify_gzip: bool | None = None,
        validate: Callable[[Path], None] | None = None,
        require_length: bool = False,
        max_bytes: int | None = None,
        max_uncompressed: int | None = None,
        deadline: float | None = None,
    ) -> Path:
        """Download `url` to `dest` and return `dest`, or raise DownloadError.

        verify_gzip defaults to True when the name ends with ".gz". `validate` is called on the
        complete, unpublished file and raises ValueError to reject it (an XML header that does
        not parse): the file is then fetched again and, if it fails every time, the error is
        permanent; a `Rejected` error (an intact file that is not the one wanted) is permanent
        at once. An existing `dest` is replaced; an existing ".part-" sibling is resumed.

        Bounds: more than `max_bytes` received, or a gzip expanding beyond `max_uncompressed`,
        fails at once (permanent); past `deadline` seconds (default: the Downloader's) the
        fetch gives up (transient, the ".part" kept for a later run).
        """
        dest = Path(dest)
        if expected_size is not None and expected_size < 0:
            raise ValueError(f"expected_size must be >= 0, got {expected_size}")
        checks = FileChecks(
            expected_size=expected_size,
            verify_gzip=dest.name.endswith(".gz") if verify_gzip is None else verify_gzip,
            validate=validate,
            max_uncompressed=max_uncompressed,
            require_length=require_length,
            max_bytes=max_bytes,
        )
        dest.parent.mkdir(parents=True, exist_ok=True)
        started = time.monotonic()
        seconds = deadline if deadline is not None else self.deadline
        deadline_at = None if seconds is None else started + seconds
        job = FetchJob(url, partial_path(dest), dest.name, checks, deadline_at)
        link = Link(self._session, self.timeout, self.progress, self._wait_for_host, self._count)
        retries = 0
        try:
            while True:
                try:
                    download_part(link, job)
                    verify_part(job.part, checks)
                except AttemptFailed as failure:
                    delay = self._retry_delay(job, failure, retries, seconds)
                    retries += 1
                    self._add(retries=1)
                    self._sleep(delay)
                    continue
                os.replace(job.part, dest)
                self._add(files=1)
                return dest
        finally:
            self._add(seconds=time.monotonic() - started)

    def _retry_delay(
        self, job: FetchJob, failure: AttemptFailed, retries: int, seconds: float | None
    ) -> float:
        """The wait before the next attempt after `failure`; raise DownloadError when there is
        none (a final failure, retries run out, or a wait that would pass the deadline)."""
        if failure.restart:
            job.part.unlink(missing_ok=True)
            job.validator = None
        if failure.final or retries >= self.max_retries:
            if failure.permanent:
                job.part.unlink(missing_ok=True)
            raise DownloadError(
                f"{job.url}: {failure.message} (gave up after {retries} retries)",
                url=job.url,
                status=failure.status,
                permanent=failure.permanent,
                too_large=failure.too_large,
            ) from failure
        if failure.delay is not None:
            delay = min(failure.delay, self.retry_after_max)
        else:
            delay = min(self._backoff(retries), self.backoff_max)
        if job.deadline is not None and time.monotonic() + delay > job.deadline:
            raise DownloadError(
                f"{job.url}: {failure.message}; the next retry would pass the "
                f"{seconds:g} s deadline",
                url=job.url,
                status=failure.status,
                permanent=failure.permanent,
            ) from failure
        return delay

    def fetch_many(
        self,
        jobs: Iterable[tuple[str, str | os.PathLike[str], int | None]],
        max_workers: int = 4,
    ) -> dict[Path, Path | DownloadError]:
        """Fetch (url, dest, expected_size) jobs, at most `max_workers` at a time.

        Every job gets a result keyed by its dest: the path, or the DownloadError; one failure
        never stops the others. Any other exception of a job (a full disk, say) is wrapped in a
        non-permanent DownloadError with the original as __cause__.
        """
        if max_workers < 1:
            raise ValueError("max_workers must be >= 1")
        work = [(url, Path(dest), size) for url, dest, size in jobs]
        resolved = [dest.resolve() for _, dest, _ in work]
        if len(set(resolved)) != len(resolved):
            # Two workers on one dest would write the same ".part" file.
            raise ValueError("fetch_many: the same destination appears in more than one job")
        if not work:
            return {}

        def run(job: tuple[str, Path, int | None]) -> Path | DownloadError:
            url, dest, size = job
            try:
                return self.fetch(url, dest, size)
            except DownloadError as exc:
                return exc
            except Exception as exc:
                error = DownloadError(f"{url}: {type(exc).__name__}: {exc}", url=url)
                error.__cause__ = exc
                return error

        with ThreadPoolExecutor(max_workers=min(max_workers, len(work))) as pool:
            outcomes = list(pool.map(run, work))
        return {dest: outcome for (_, dest, _), outcome in zip(work, outcomes, strict=True)}

    # -- internals ---------------------------------------------------------------------------

    def _refuse_downgrade(
        self, response: requests.Response, *args: object, **kwargs: object
    ) -> None:
        """Raise InsecureRedirect for an https:// answer that redirects to http://, before
        requests sends the next request in clear text (allow_http_downgrade turns this off)."""
        if self.allow_http_downgrade or not response.is_redirect:
            return
        source = response.url
        target = urllib.parse.urljoin(source, response.headers.get("Location", ""))
        if source.lower().startswith("https://") and target.lower().startswith("http://"):
            response.close()
            raise InsecureRedirect(
                f"{source} redirects to {target}, dropping https: refused (a configuration "
                "error: point the archive URL at an https address that serves the files, or "
                "set archive.allow_http_downgrade: true to accept unencrypted downloads)"
            )

    def _add(
        self, *, files: int = 0, nbytes: int = 0, seconds: float = 0.0, retries: int = 0
    ) -> None:
        with self._lock:
            self._stats.files += files
            self._stats.bytes += nbytes
            self._stats.seconds += seconds
            self._stats.retries += retries

    def _backoff(self, attempt: int) -> float:
        """Exponential backoff with full jitter: spreads out clients retrying together."""
        ceiling = min(self.backoff_max, self.backoff_base * 2 ** min(attempt, 60))
        return random.uniform(0, ceiling)

    def _count(self, nbytes: int) -> None:
        self._add(nbytes=nbytes)

    def _wait_for_host(self, url: str) -> None:
        """Space requests to one host `host_interval` apart (threads take their turns)."""
        if self.host_interval <= 0:
            return
        host = urllib.parse.urlsplit(url).netloc.lower()
        with self._lock:
            now = self._clock()
            slot = max(now, self._next_slot.get(host, now))
            self._next_slot[host] = slot + self.host_interval
        if slot > now:
            self._sleep(slot - now)
