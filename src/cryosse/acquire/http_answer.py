"""What an HTTP answer's status and headers mean to a download: which statuses are final and
which are worth a retry, which exceptions are the transport's, and the parsing of Retry-After,
Content-Range and Content-Length."""

from __future__ import annotations

import email.utils
import http.client
import math
import re
from datetime import UTC, datetime

import requests
import urllib3.exceptions

# The resource is gone: retrying cannot help, the entry is excluded instead.
PERMANENT_STATUSES = frozenset({404, 410})
# Overload, a hiccup or a temporary block (403 from a rate limiter or a proxy): worth waiting
# for, and never a reason to exclude an entry for good.
RETRY_STATUSES = frozenset({403, 408, 429})
# Statuses whose Retry-After header says how long to wait.
RETRY_AFTER_STATUSES = frozenset({403, 429, 503})
_CONTENT_RANGE_RE = re.compile(r"^\s*bytes\s+(\d+)-(\d+)/(\d+|\*)\s*$", re.IGNORECASE)
# Failures of the transport, as raised by requests while connecting and by urllib3 while the
# body streams (the raw stream is read directly, see download_attempt._stream_body).
TRANSIENT_ERRORS: tuple[type[BaseException], ...] = (
    requests.ConnectionError,
    requests.Timeout,
    requests.exceptions.ChunkedEncodingError,
    urllib3.exceptions.HTTPError,
    http.client.HTTPException,
    ConnectionError,
    TimeoutError,
)


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


def parse_content_range(value: str | None) -> tuple[int, int, int | None] | None:
    """(first, last, total or None) of a "bytes first-last/total" Content-Range header."""
    match = _CONTENT_RANGE_RE.match(value or "")
    if match is None:
        return None
    total = None if match.group(3) == "*" else int(match.group(3))
    return int(match.group(1)), int(match.group(2)), total


def unsatisfied_range_total(value: str | None) -> int | None:
    """The complete length from a 416 answer's "bytes */total" Content-Range header."""
    match = re.match(r"^\s*bytes\s+\*/(\d+)\s*$", value or "", re.IGNORECASE)
    return int(match.group(1)) if match else None


def content_length(value: str | None) -> int | None:
    try:
        length = int(value) if value is not None else None
    except ValueError:
        return None
    return length if length is not None and length >= 0 else None
