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
"""

from __future__ import annotations

import contextlib
import email.utils
import gzip
import http.client
import math
import os
import random
import re
import threading
import time
import urllib.parse
import zlib
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path

import requests
import urllib3.exceptions
from tqdm import tqdm

from cryosse import __version__
from cryosse.acquire.http_deadline import DeadlineAdapter, headers_deadline
from cryosse.core.reasons import is_environment_fault

CHUNK_SIZE = 1 << 20
DEFAULT_USER_AGENT = f"cryosse/{__version__} (cryo-EM dataset builder; python-requests)"
# The resource is gone: retrying cannot help, the entry is excluded instead.
PERMANENT_STATUSES = frozenset({404, 410})
# Overload, a hiccup or a temporary block (403 from a rate limiter or a proxy): worth waiting
# for, and never a reason to exclude an entry for good.
RETRY_STATUSES = frozenset({403, 408, 429})
# Statuses whose Retry-After header says how long to wait.
RETRY_AFTER_STATUSES = frozenset({403, 429, 503})
# Enough pooled connections for fetch_many's workers; more workers still work, unpooled.
_POOL_SIZE = 16
_CONTENT_RANGE_RE = re.compile(r"^\s*bytes\s+(\d+)-(\d+)/(\d+|\*)\s*$", re.IGNORECASE)
# Failures of the transport, as raised by requests while connecting and by urllib3 while the
# body streams (the raw stream is read directly, see _stream_body).
_TRANSIENT_ERRORS: tuple[type[BaseException], ...] = (
    requests.ConnectionError,
    requests.Timeout,
    requests.exceptions.ChunkedEncodingError,
    urllib3.exceptions.HTTPError,
    http.client.HTTPException,
    ConnectionError,
    TimeoutError,
)


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


class DownloadError(Exception):
    """A download that failed for good; `permanent` tells the caller not to try again later.

    permanent=True: HTTP 404/410, or the file failed size/gzip verification on every
    attempt; the caller excludes the entry with a curation-log reason. permanent=False: the
    network or the server stayed unavailable (or answered an unexpected status), so a later run
    may succeed; the ".part" file is then kept for it to resume.
    """

    def __init__(
        self,
        message: str,
        *,
        url: str | None = None,
        status: int | None = None,
        permanent: bool = False,
        too_large: bool = False,
        insecure_redirect: bool = False,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.url = url
        self.status = status
        self.permanent = permanent
        # the body (or its gzip expansion) went beyond its cap
        self.too_large = too_large
        # an https:// URL redirected to http://: the configuration's fault, not the entry's
        self.insecure_redirect = insecure_redirect


class InsecureRedirect(Exception):
    """An https:// answer redirecting to http://, refused before the redirect is followed."""


class Rejected(ValueError):
    """Raised by a `validate` callback for a complete, intact file that is not the file wanted
    (a map of another size than its header states): downloading it again cannot help."""


class _AttemptFailed(Exception):
    """One attempt failed in a way a retry may fix.

    restart: the bytes in ".part" are wrong and must go; otherwise the retry resumes them.
    permanent: the DownloadError raised once retries run out is permanent.
    delay: the wait the server asked for (Retry-After), instead of the jittered backoff.
    final: no retry can help (a rejected intact file, a file over its size cap): give up now.
    """

    def __init__(
        self,
        message: str,
        *,
        status: int | None = None,
        restart: bool = False,
        permanent: bool = False,
        delay: float | None = None,
        final: bool = False,
        too_large: bool = False,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.status = status
        self.restart = restart
        self.permanent = permanent
        self.delay = delay
        self.final = final
        self.too_large = too_large


@dataclass
class _Transfer:
    """What one fetch call remembers between its attempts."""

    # ETag or Last-Modified of the full response, sent as If-Range when resuming, so that a
    # file changed on the server in between is sent whole instead of being spliced.
    validator: str | None = None
    # refuse answers without a length: a file with no internal check (plain text) could
    # otherwise be cut short unnoticed
    require_length: bool = False
    # the most bytes the file may have (an endless body must not fill the disk)
    max_bytes: int | None = None
    # time.monotonic() after which the fetch gives up, retries included
    deadline: float | None = None


def partial_path(dest: str | os.PathLike[str]) -> Path:
    """The stable ".part-" sibling where `dest` is downloaded before verification."""
    dest = Path(dest)
    return dest.with_name(".part-" + dest.name)


def parse_retry_after(value: str | None, now: datetime | None = None) -> float | None:
    """Seconds to wait from a Retry-After header (delay-seconds or an HTTP date), or None."""
    if value is None or not value.strip():
        return None
    text = value.strip()
    try:
        seconds = float(text)
    except ValueError:
        try:
            when = email.utils.parsedate_to_datetime(text)
        except (TypeError, ValueError, IndexError):
            return None
        if when.tzinfo is None:
            when = when.replace(tzinfo=UTC)
        seconds = (when - (now or datetime.now(UTC))).total_seconds()
    if not math.isfinite(seconds):
        return None
    return max(0.0, seconds)


def _parse_content_range(value: str | None) -> tuple[int, int, int | None] | None:
    """(first, last, total or None) of a "bytes first-last/total" Content-Range header."""
    match = _CONTENT_RANGE_RE.match(value or "")
    if match is None:
        return None
    total = None if match.group(3) == "*" else int(match.group(3))
    return int(match.group(1)), int(match.group(2)), total


def _unsatisfied_range_total(value: str | None) -> int | None:
    """The complete length from a 416 answer's "bytes */total" Content-Range header."""
    match = re.match(r"^\s*bytes\s+\*/(\d+)\s*$", value or "", re.IGNORECASE)
    return int(match.group(1)) if match else None


def _content_length(value: str | None) -> int | None:
    try:
        length = int(value) if value is not None else None
    except ValueError:
        return None
    return length if length is not None and length >= 0 else None


class GzipTooLarge(ValueError):
    """A gzip stream that expands beyond its limit (a "gzip bomb", or not the file wanted)."""


def _check_gzip(path: Path, max_uncompressed: int | None = None) -> None:
    """Decompress `path` end to end in 1 MiB chunks; raise if the gzip is corrupt or truncated,
    or (GzipTooLarge) as soon as it expands beyond `max_uncompressed` bytes.

    The gzip trailer holds a CRC-32 and the uncompressed length, so this catches corruption
    that leaves the size unchanged.
    """
    if path.stat().st_size == 0:
        raise EOFError("empty file is not a gzip stream")
    total = 0
    with gzip.open(path, "rb") as handle:
        while chunk := handle.read(CHUNK_SIZE):
            total += len(chunk)
            if max_uncompressed is not None and total > max_uncompressed:
                raise GzipTooLarge(
                    f"{path.name} expands beyond {max_uncompressed} bytes uncompressed"
                )


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
        if verify_gzip is None:
            verify_gzip = dest.name.endswith(".gz")
        dest.parent.mkdir(parents=True, exist_ok=True)
        part = partial_path(dest)
        started = time.monotonic()
        seconds = deadline if deadline is not None else self.deadline
        transfer = _Transfer(
            require_length=require_length,
            max_bytes=max_bytes,
            deadline=None if seconds is None else started + seconds,
        )
        retries = 0
        try:
            while True:
                try:
                    self._download(url, part, dest.name, expected_size, transfer)
                    self._verify(part, expected_size, verify_gzip, validate, max_uncompressed)
                except _AttemptFailed as failure:
                    if failure.restart:
                        part.unlink(missing_ok=True)
                        transfer.validator = None
                    if failure.final or retries >= self.max_retries:
                        if failure.permanent:
                            part.unlink(missing_ok=True)
                        raise DownloadError(
                            f"{url}: {failure.message} (gave up after {retries} retries)",
                            url=url,
                            status=failure.status,
                            permanent=failure.permanent,
                            too_large=failure.too_large,
                        ) from failure
                    if failure.delay is not None:
                        delay = min(failure.delay, self.retry_after_max)
                    else:
                        delay = min(self._backoff(retries), self.backoff_max)
                    if (
                        transfer.deadline is not None
                        and time.monotonic() + delay > transfer.deadline
                    ):
                        raise DownloadError(
                            f"{url}: {failure.message}; the next retry would pass the "
                            f"{seconds:g} s deadline",
                            url=url,
                            status=failure.status,
                            permanent=failure.permanent,
                        ) from failure
                    retries += 1
                    self._add(retries=1)
                    self._sleep(delay)
                    continue
                os.replace(part, dest)
                self._add(files=1)
                return dest
        finally:
            self._add(seconds=time.monotonic() - started)

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

    def _download(
        self,
        url: str,
        part: Path,
        name: str,
        expected_size: int | None,
        transfer: _Transfer,
    ) -> None:
        """Make ".part" hold the whole file (unverified), or raise _AttemptFailed."""
        while True:
            offset = part.stat().st_size if part.exists() else 0
            headers = {}
            if offset > 0:
                headers["Range"] = f"bytes={offset}-"
                if transfer.validator:
                    headers["If-Range"] = transfer.validator
            read_timeout = self.timeout
            if transfer.deadline is not None:
                remaining = transfer.deadline - time.monotonic()
                if remaining <= 0:
                    raise _AttemptFailed("deadline passed", final=True)
                read_timeout = min(read_timeout, remaining)
            self._wait_for_host(url)
            left = None if transfer.deadline is None else transfer.deadline - time.monotonic()
            try:
                with headers_deadline(left) as expired:
                    try:
                        response = self._session.get(
                            url, headers=headers, stream=True, timeout=(self.timeout, read_timeout)
                        )
                    except _TRANSIENT_ERRORS as exc:
                        if expired.is_set():  # a server trickling its status line and headers
                            raise _AttemptFailed(
                                "deadline passed while waiting for the headers", final=True
                            ) from exc
                        raise
                if expired.is_set():  # cut short: what arrived is not an answer
                    response.close()
                    raise _AttemptFailed(
                        "deadline passed while waiting for the headers", final=True
                    )
                with response:
                    if response.status_code == 416 and offset > 0:
                        if self._range_was_complete(response, offset, expected_size):
                            return
                        # The .part is longer than the file or of unknown worth: start over.
                        # The new request has no Range header, so this cannot loop.
                        part.unlink(missing_ok=True)
                        transfer.validator = None
                        continue
                    self._receive(response, url, part, name, offset, expected_size, transfer)
                    return
            except _TRANSIENT_ERRORS as exc:
                raise _AttemptFailed(f"{type(exc).__name__}: {exc}") from exc
            except InsecureRedirect as exc:
                # Not retried: the same redirect would come back; the configuration must change.
                raise DownloadError(
                    str(exc), url=url, permanent=True, insecure_redirect=True
                ) from exc
            except requests.RequestException as exc:
                # A bad URL, a redirect loop: no retry can fix these.
                raise DownloadError(f"{url}: {type(exc).__name__}: {exc}", url=url) from exc

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

    @staticmethod
    def _range_was_complete(
        response: requests.Response, offset: int, expected_size: int | None
    ) -> bool:
        """Whether a 416 answer to "Range: bytes=offset-" means .part already holds everything."""
        if expected_size is not None:
            return offset == expected_size
        return offset == _unsatisfied_range_total(response.headers.get("Content-Range"))

    def _receive(
        self,
        response: requests.Response,
        url: str,
        part: Path,
        name: str,
        offset: int,
        expected_size: int | None,
        transfer: _Transfer,
    ) -> None:
        """Check the status and headers of one response, then stream its body into .part."""
        status = response.status_code
        if status in PERMANENT_STATUSES:
            part.unlink(missing_ok=True)
            raise DownloadError(f"{url}: HTTP {status}", url=url, status=status, permanent=True)
        if status in RETRY_STATUSES or 500 <= status <= 599:
            delay = None
            if status in RETRY_AFTER_STATUSES:
                delay = parse_retry_after(response.headers.get("Retry-After"))
            raise _AttemptFailed(f"HTTP {status}", status=status, delay=delay)
        length = _content_length(response.headers.get("Content-Length"))
        if status == 206:
            content_range = _parse_content_range(response.headers.get("Content-Range"))
            if content_range is None or content_range[0] != offset:
                raise _AttemptFailed(
                    f"HTTP 206 with Content-Range {response.headers.get('Content-Range')!r} "
                    f"for a request from byte {offset}",
                    status=status,
                    restart=True,
                )
            total = content_range[2]
            mode = "ab"
        elif status == 200:
            # A full answer, also when a Range was sent (server ignores ranges, or If-Range
            # found the file changed): start from byte 0.
            offset, total, mode = 0, length, "wb"
            etag = response.headers.get("ETag")
            strong_etag = etag if etag and not etag.startswith("W/") else None
            transfer.validator = strong_etag or response.headers.get("Last-Modified")
        else:
            raise DownloadError(f"{url}: unexpected HTTP {status}", url=url, status=status)
        if transfer.require_length and total is None:
            raise _AttemptFailed(
                "no Content-Length: the file's completeness cannot be checked",
                status=status,
                restart=True,
                permanent=True,
            )
        if transfer.max_bytes is not None and total is not None and total > transfer.max_bytes:
            raise _AttemptFailed(
                f"server announces {total} bytes, more than the {transfer.max_bytes} allowed",
                status=status,
                restart=True,
                permanent=True,
                final=True,
                too_large=True,
            )
        if expected_size is not None and total is not None and total != expected_size:
            raise _AttemptFailed(
                f"server reports {total} bytes, expected {expected_size}",
                status=status,
                restart=True,
                permanent=True,
            )
        received = self._stream_body(
            response, part, name, mode, offset, total, expected_size, transfer
        )
        if length is not None and received < length:
            raise _AttemptFailed(f"connection closed after {received} of {length} bytes")
        if (length is not None and received > length) or (
            total is not None and offset + received > total
        ):
            raise _AttemptFailed(
                f"received more bytes than announced ({offset + received})",
                status=status,
                restart=True,
                permanent=True,
            )
        if total is not None and offset + received < total:
            raise _AttemptFailed(f"file incomplete: {offset + received} of {total} bytes")

    def _stream_body(
        self,
        response: requests.Response,
        part: Path,
        name: str,
        mode: str,
        offset: int,
        total: int | None,
        expected_size: int | None,
        transfer: _Transfer,
    ) -> int:
        """Append the body to .part chunk by chunk; return the number of bytes received.

        The raw urllib3 stream is read instead of iter_content: iter_content decodes, and on a
        dropped connection it loses the partly filled chunk, which then could not be resumed.
        Every chunk is written before the next read, so a drop keeps all bytes received.
        At the deadline a timer shuts the socket down, which ends a read blocked on a trickle.
        """
        received = 0
        expired = threading.Event()
        watchdog = None
        if transfer.deadline is not None:

            def expire() -> None:
                expired.set()
                with contextlib.suppress(Exception):  # the response may be closed already
                    response.raw.shutdown()

            watchdog = threading.Timer(max(0.0, transfer.deadline - time.monotonic()), expire)
            watchdog.daemon = True
            watchdog.start()
        try:
            received = self._copy_body(
                response, part, name, mode, offset, total, expected_size, transfer
            )
        except _TRANSIENT_ERRORS as exc:
            if expired.is_set():
                raise _AttemptFailed("deadline passed while receiving", final=True) from exc
            raise
        finally:
            if watchdog is not None:
                watchdog.cancel()
        if expired.is_set():
            raise _AttemptFailed("deadline passed while receiving", final=True)
        return received

    def _copy_body(
        self,
        response: requests.Response,
        part: Path,
        name: str,
        mode: str,
        offset: int,
        total: int | None,
        expected_size: int | None,
        transfer: _Transfer,
    ) -> int:
        received = 0
        with (
            part.open(mode) as handle,
            tqdm(
                total=total,
                initial=offset,
                unit="B",
                unit_scale=True,
                unit_divisor=1024,
                desc=name,
                leave=False,
                disable=not self.progress,
            ) as bar,
        ):
            for chunk in response.raw.stream(CHUNK_SIZE, decode_content=False):
                handle.write(chunk)
                received += len(chunk)
                self._add(nbytes=len(chunk))
                bar.update(len(chunk))
                if expected_size is not None and offset + received > expected_size:
                    raise _AttemptFailed(
                        f"more than the expected {expected_size} bytes",
                        status=response.status_code,
                        restart=True,
                        permanent=True,
                    )
                if transfer.max_bytes is not None and offset + received > transfer.max_bytes:
                    raise _AttemptFailed(
                        f"more than the {transfer.max_bytes} bytes allowed",
                        status=response.status_code,
                        restart=True,
                        permanent=True,
                        final=True,
                        too_large=True,
                    )
        return received

    @staticmethod
    def _verify(
        part: Path,
        expected_size: int | None,
        verify_gzip: bool,
        validate: Callable[[Path], None] | None,
        max_uncompressed: int | None = None,
    ) -> None:
        size = part.stat().st_size
        if expected_size is not None and size != expected_size:
            raise _AttemptFailed(
                f"size {size} bytes, expected {expected_size}", restart=True, permanent=True
            )
        if verify_gzip:
            try:
                _check_gzip(part, max_uncompressed)
            except GzipTooLarge as exc:
                raise _AttemptFailed(
                    str(exc), restart=True, permanent=True, final=True, too_large=True
                ) from exc
            except (OSError, EOFError, zlib.error) as exc:
                if is_environment_fault(exc):
                    raise  # an I/O error reading it back is the disk's, not the file's
                raise _AttemptFailed(f"corrupt gzip: {exc}", restart=True, permanent=True) from exc
        if validate is not None:
            try:
                validate(part)
            except Rejected as exc:
                raise _AttemptFailed(
                    f"rejected: {exc}", restart=True, permanent=True, final=True
                ) from exc
            except ValueError as exc:
                raise _AttemptFailed(f"rejected: {exc}", restart=True, permanent=True) from exc
