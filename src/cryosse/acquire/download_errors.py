"""How a download fails: for good (`DownloadError`, raised to the caller of Downloader.fetch),
or for one attempt (`AttemptFailed`, which fetch's retry loop turns into a retry or, once
retries run out, into a DownloadError).

The failures are dataclasses without their own equality or repr, so they stay exceptions
like any other (hashed and shown by identity and message); `args` is `(message,)`.
"""

from __future__ import annotations

from dataclasses import KW_ONLY, dataclass


@dataclass(eq=False, repr=False)
class _Failure(Exception):
    """What every download failure carries."""

    message: str
    _: KW_ONLY
    status: int | None = None
    permanent: bool = False
    # the body (or its gzip expansion) went beyond its cap
    too_large: bool = False

    def __post_init__(self) -> None:
        super().__init__(self.message)


@dataclass(eq=False, repr=False, kw_only=True)
class DownloadError(_Failure):
    """A download that failed for good; `permanent` tells the caller not to try again later.

    permanent=True: HTTP 404/410, or the file failed size/gzip verification on every
    attempt; the caller excludes the entry with a curation-log reason. permanent=False: the
    network or the server stayed unavailable (or answered an unexpected status), so a later run
    may succeed; the ".part" file is then kept for it to resume.
    """

    url: str | None = None
    # an https:// URL redirected to http://: the configuration's fault, not the entry's
    insecure_redirect: bool = False


class InsecureRedirect(Exception):
    """An https:// answer redirecting to http://, refused before the redirect is followed."""


class Rejected(ValueError):
    """Raised by a `validate` callback for a complete, intact file that is not the file wanted
    (a map of another size than its header states): downloading it again cannot help."""


@dataclass(eq=False, repr=False, kw_only=True)
class AttemptFailed(_Failure):
    """One attempt failed in a way a retry may fix.

    restart: the bytes in ".part" are wrong and must go; otherwise the retry resumes them.
    permanent: the DownloadError raised once retries run out is permanent.
    delay: the wait the server asked for (Retry-After), instead of the jittered backoff.
    final: no retry can help (a rejected intact file, a file over its size cap): give up now.
    """

    restart: bool = False
    delay: float | None = None
    final: bool = False
