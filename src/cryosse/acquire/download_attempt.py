"""One attempt of a download: one request (resuming ".part" with a Range), its answer's status
and headers checked, its body appended to ".part", then the complete file verified.

An attempt raises AttemptFailed for what a retry may fix (Downloader.fetch decides whether to
retry) and DownloadError for what no retry can (HTTP 404/410, an unexpected status, a bad URL,
an https:// URL redirecting to http://).
"""

from __future__ import annotations

import contextlib
import gzip
import threading
import time
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import requests
from tqdm import tqdm

from cryosse.acquire.download_errors import AttemptFailed, DownloadError, InsecureRedirect, Rejected
from cryosse.acquire.http_answer import (
    PERMANENT_STATUSES,
    RETRY_AFTER_STATUSES,
    RETRY_STATUSES,
    TRANSIENT_ERRORS,
    content_length,
    parse_content_range,
    parse_retry_after,
    unsatisfied_range_total,
)
from cryosse.acquire.http_deadline import headers_deadline
from cryosse.core.reasons import is_environment_fault

CHUNK_SIZE = 1 << 20


@dataclass(frozen=True)
class Link:
    """What an attempt uses of its Downloader: the shared session, its timeout and progress
    setting, the per-host spacing of requests, and the byte counter of its stats."""

    session: requests.Session
    timeout: float
    progress: bool
    wait_for_host: Callable[[str], None]
    count_bytes: Callable[[int], None]


@dataclass(frozen=True)
class FileChecks:
    """What the file must be: checked on the answer's headers, while its body arrives, and on
    the complete ".part"."""

    expected_size: int | None
    verify_gzip: bool
    validate: Callable[[Path], None] | None
    # the most bytes a gzip may expand to
    max_uncompressed: int | None
    # refuse answers without a length: a file with no internal check (plain text) could
    # otherwise be cut short unnoticed
    require_length: bool
    # the most bytes the file may have (an endless body must not fill the disk)
    max_bytes: int | None


@dataclass
class FetchJob:
    """What one fetch call remembers between its attempts."""

    url: str
    part: Path  # the ".part-" sibling the file is received into
    name: str  # the final file's name, for the progress bar
    checks: FileChecks
    # time.monotonic() after which the fetch gives up, retries included
    deadline: float | None
    # ETag or Last-Modified of the full response, sent as If-Range when resuming, so that a
    # file changed on the server in between is sent whole instead of being spliced.
    validator: str | None = None


@dataclass(frozen=True)
class _Transfer:
    """One answer's body on its way into ".part"."""

    response: requests.Response
    job: FetchJob
    mode: str  # "ab": appended to the bytes already there; "wb": from byte 0
    offset: int  # bytes of the file in ".part" before this body
    total: int | None  # the whole file's length, where the answer states it


def _bad_bytes(message: str, status: int | None = None) -> AttemptFailed:
    """Bytes that are not the file: they go, and the next attempt starts over; the failure is
    permanent once retries run out."""
    return AttemptFailed(message, status=status, restart=True, permanent=True)


def _over_cap(message: str, status: int | None = None) -> AttemptFailed:
    """A body (or its gzip expansion) beyond its cap: its bytes go and no retry can help."""
    return AttemptFailed(
        message, status=status, restart=True, permanent=True, final=True, too_large=True
    )


def download_part(link: Link, job: FetchJob) -> None:
    """Make ".part" hold the whole file (unverified), or raise AttemptFailed."""
    while True:
        offset = job.part.stat().st_size if job.part.exists() else 0
        try:
            response = _request(link, job, offset)
            with response:
                if response.status_code == 416 and offset > 0:
                    if _range_was_complete(response, offset, job.checks.expected_size):
                        return
                    # The .part is longer than the file or of unknown worth: start over.
                    # The new request has no Range header, so this cannot loop.
                    job.part.unlink(missing_ok=True)
                    job.validator = None
                    continue
                _receive(link, response, job, offset)
                return
        except TRANSIENT_ERRORS as exc:
            raise AttemptFailed(f"{type(exc).__name__}: {exc}") from exc
        except InsecureRedirect as exc:
            # Not retried: the same redirect would come back; the configuration must change.
            raise DownloadError(
                str(exc), url=job.url, permanent=True, insecure_redirect=True
            ) from exc
        except requests.RequestException as exc:
            # A bad URL, a redirect loop: no retry can fix these.
            raise DownloadError(f"{job.url}: {type(exc).__name__}: {exc}", url=job.url) from exc


def _request(link: Link, job: FetchJob, offset: int) -> requests.Response:
    """Send the request (a Range from `offset`) and wait for the answer's headers, within the
    deadline."""
    headers = {}
    if offset > 0:
        headers["Range"] = f"bytes={offset}-"
        if job.validator:
            headers["If-Range"] = job.validator
    read_timeout = link.timeout
    if job.deadline is not None:
        remaining = job.deadline - time.monotonic()
        if remaining <= 0:
            raise AttemptFailed("deadline passed", final=True)
        read_timeout = min(read_timeout, remaining)
    link.wait_for_host(job.url)
    left = None if job.deadline is None else job.deadline - time.monotonic()
    with headers_deadline(left) as expired:
        try:
            response = link.session.get(
                job.url, headers=headers, stream=True, timeout=(link.timeout, read_timeout)
            )
        except TRANSIENT_ERRORS as exc:
            if expired.is_set():  # a server trickling its status line and headers
                raise AttemptFailed(
                    "deadline passed while waiting for the headers", final=True
                ) from exc
            raise
    if expired.is_set():  # cut short: what arrived is not an answer
        response.close()
        raise AttemptFailed("deadline passed while waiting for the headers", final=True)
    return response


def _range_was_complete(
    response: requests.Response, offset: int, expected_size: int | None
) -> bool:
    """Whether a 416 answer to "Range: bytes=offset-" means .part already holds everything."""
    if expected_size is not None:
        return offset == expected_size
    return offset == unsatisfied_range_total(response.headers.get("Content-Range"))


def _receive(link: Link, response: requests.Response, job: FetchJob, offset: int) -> None:
    """Check the status and headers of one response, then stream its body into .part."""
    transfer = _start_transfer(response, job, offset)
    status, offset, total = response.status_code, transfer.offset, transfer.total
    checks = job.checks
    length = content_length(response.headers.get("Content-Length"))
    if checks.require_length and total is None:
        raise _bad_bytes("no Content-Length: the file's completeness cannot be checked", status)
    if checks.max_bytes is not None and total is not None and total > checks.max_bytes:
        raise _over_cap(
            f"server announces {total} bytes, more than the {checks.max_bytes} allowed", status
        )
    expected_size = checks.expected_size
    if expected_size is not None and total is not None and total != expected_size:
        raise _bad_bytes(f"server reports {total} bytes, expected {expected_size}", status)
    received = _stream_body(link, transfer)
    if length is not None and received < length:
        raise AttemptFailed(f"connection closed after {received} of {length} bytes")
    if (length is not None and received > length) or (
        total is not None and offset + received > total
    ):
        raise _bad_bytes(f"received more bytes than announced ({offset + received})", status)
    if total is not None and offset + received < total:
        raise AttemptFailed(f"file incomplete: {offset + received} of {total} bytes")


def _start_transfer(response: requests.Response, job: FetchJob, offset: int) -> _Transfer:
    """Where the answer's body goes in .part, from its status and headers; raise for a status
    that is not a body of the file (DownloadError when no retry can help)."""
    status = response.status_code
    if status in PERMANENT_STATUSES:
        job.part.unlink(missing_ok=True)
        raise DownloadError(f"{job.url}: HTTP {status}", url=job.url, status=status, permanent=True)
    if status in RETRY_STATUSES or 500 <= status <= 599:
        delay = None
        if status in RETRY_AFTER_STATUSES:
            delay = parse_retry_after(response.headers.get("Retry-After"))
        raise AttemptFailed(f"HTTP {status}", status=status, delay=delay)
    if status == 206:
        content_range = parse_content_range(response.headers.get("Content-Range"))
        if content_range is None or content_range[0] != offset:
            raise AttemptFailed(
                f"HTTP 206 with Content-Range {response.headers.get('Content-Range')!r} "
                f"for a request from byte {offset}",
                status=status,
                restart=True,
            )
        return _Transfer(response, job, "ab", offset, content_range[2])
    if status == 200:
        # A full answer, also when a Range was sent (server ignores ranges, or If-Range
        # found the file changed): start from byte 0.
        etag = response.headers.get("ETag")
        strong_etag = etag if etag and not etag.startswith("W/") else None
        job.validator = strong_etag or response.headers.get("Last-Modified")
        length = content_length(response.headers.get("Content-Length"))
        return _Transfer(response, job, "wb", 0, length)
    raise DownloadError(f"{job.url}: unexpected HTTP {status}", url=job.url, status=status)


def _stream_body(link: Link, transfer: _Transfer) -> int:
    """Append the body to .part chunk by chunk; return the number of bytes received.

    The raw urllib3 stream is read instead of iter_content: iter_content decodes, and on a
    dropped connection it loses the partly filled chunk, which then could not be resumed.
    Every chunk is written before the next read, so a drop keeps all bytes received.
    At the deadline a timer shuts the socket down, which ends a read blocked on a trickle.
    """
    received = 0
    expired = threading.Event()
    watchdog = None
    deadline = transfer.job.deadline
    if deadline is not None:

        def expire() -> None:
            expired.set()
            with contextlib.suppress(Exception):  # the response may be closed already
                transfer.response.raw.shutdown()

        watchdog = threading.Timer(max(0.0, deadline - time.monotonic()), expire)
        watchdog.daemon = True
        watchdog.start()
    try:
        received = _copy_body(link, transfer)
    except TRANSIENT_ERRORS as exc:
        if expired.is_set():
            raise AttemptFailed("deadline passed while receiving", final=True) from exc
        raise
    finally:
        if watchdog is not None:
            watchdog.cancel()
    if expired.is_set():
        raise AttemptFailed("deadline passed while receiving", final=True)
    return received


def _copy_body(link: Link, transfer: _Transfer) -> int:
    job, offset, status = transfer.job, transfer.offset, transfer.response.status_code
    expected_size, max_bytes = job.checks.expected_size, job.checks.max_bytes
    received = 0
    with (
        job.part.open(transfer.mode) as handle,
        tqdm(
            total=transfer.total,
            initial=offset,
            unit="B",
            unit_scale=True,
            unit_divisor=1024,
            desc=job.name,
            leave=False,
            disable=not link.progress,
        ) as bar,
    ):
        for chunk in transfer.response.raw.stream(CHUNK_SIZE, decode_content=False):
            handle.write(chunk)
            received += len(chunk)
            link.count_bytes(len(chunk))
            bar.update(len(chunk))
            if expected_size is not None and offset + received > expected_size:
                raise _bad_bytes(f"more than the expected {expected_size} bytes", status)
            if max_bytes is not None and offset + received > max_bytes:
                raise _over_cap(f"more than the {max_bytes} bytes allowed", status)
    return received


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


def verify_part(part: Path, checks: FileChecks) -> None:
    """Check the complete ".part": its size, its gzip, then the caller's `validate`; raise
    AttemptFailed (restart: the bytes are useless) if any check fails."""
    size = part.stat().st_size
    if checks.expected_size is not None and size != checks.expected_size:
        raise _bad_bytes(f"size {size} bytes, expected {checks.expected_size}")
    if checks.verify_gzip:
        try:
            _check_gzip(part, checks.max_uncompressed)
        except GzipTooLarge as exc:
            raise _over_cap(str(exc)) from exc
        except (OSError, EOFError, zlib.error) as exc:
            if is_environment_fault(exc):
                raise  # an I/O error reading it back is the disk's, not the file's
            raise _bad_bytes(f"corrupt gzip: {exc}") from exc
    if checks.validate is not None:
        try:
            checks.validate(part)
        except Rejected as exc:
            raise AttemptFailed(
                f"rejected: {exc}", restart=True, permanent=True, final=True
            ) from exc
        except ValueError as exc:
            raise _bad_bytes(f"rejected: {exc}") from exc
