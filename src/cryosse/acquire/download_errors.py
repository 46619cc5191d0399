"""How a download fails: for good (`DownloadError`, raised to the caller of Downloader.fetch),
or for one attempt (`AttemptFailed`, which fetch's retry loop turns into a retry or, once
retries run out, into a DownloadError)."""

from __future__ import annotations


class _Failure(Exception):
    """What every download failure carries."""

    def __init__(
        self, message: str, *, status: int | None, permanent: bool, too_large: bool
    ) -> None:
        super().__init__(message)
        self.message = message
        self.status = status
        self.permanent = permanent
        # the body (or its gzip expansion) went beyond its cap
        self.too_large = too_large


class DownloadError(_Failure):
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
        super().__init__(message, status=status, permanent=permanent, too_large=too_large)
        self.url = url
        # an https:// URL redirected to http://: the configuration's fault, not the entry's
        self.insecure_redirect = insecure_redirect


class InsecureRedirect(Exception):
    """An https:// answer redirecting to http://, refused before the redirect is followed."""


class Rejected(ValueError):
    """Raised by a `validate` callback for a complete, intact file that is not the file wanted
    (a map of another size than its header states): downloading it again cannot help."""


class AttemptFailed(_Failure):
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
        super().__init__(message, status=status, permanent=permanent, too_large=too_large)
        self.restart = restart
        self.delay = delay
        self.final = final
