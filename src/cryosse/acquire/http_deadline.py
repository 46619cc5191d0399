"""A total deadline on waiting for an HTTP answer's status line and headers.

requests' read timeout bounds each wait for a byte, not the whole wait: a server that sends its
headers one byte every 10 s holds a request for days (http.client gives up on a header line
only after 65,536 bytes). The connections made through `DeadlineAdapter` record, while they
wait for an answer, the socket they wait on; `headers_deadline` shuts that socket down at the
deadline, which ends the blocked read with a connection error that the caller reports as the
deadline. The body has its own watchdog (cryosse.acquire.download_attempt), on the response it
already has.
"""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from typing import Any

from requests.adapters import HTTPAdapter
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool

# thread id → the socket that thread waits on for an answer's headers
_WAITING: dict[int, socket.socket] = {}
_LOCK = threading.Lock()


class _Recorded:
    """Mixin: getresponse() records its socket for the calling thread while it waits."""

    sock: socket.socket | None

    def getresponse(self, *args: Any, **kwargs: Any) -> Any:
        thread = threading.get_ident()
        if self.sock is not None:
            with _LOCK:
                _WAITING[thread] = self.sock
        try:
            return super().getresponse(*args, **kwargs)  # type: ignore[misc]
        finally:
            with _LOCK:
                _WAITING.pop(thread, None)


class _RecordedHTTPConnection(_Recorded, HTTPConnection):
    pass


class _RecordedHTTPSConnection(_Recorded, HTTPSConnection):
    pass


class _RecordedHTTPPool(HTTPConnectionPool):
    ConnectionCls = _RecordedHTTPConnection


class _RecordedHTTPSPool(HTTPSConnectionPool):
    ConnectionCls = _RecordedHTTPSConnection


class DeadlineAdapter(HTTPAdapter):
    """requests' HTTPAdapter whose connections can be cut by headers_deadline."""

    def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
        super().init_poolmanager(*args, **kwargs)
        self.poolmanager.pool_classes_by_scheme = {
            "http": _RecordedHTTPPool,
            "https": _RecordedHTTPSPool,
        }


@contextmanager
def headers_deadline(seconds: float | None) -> Iterator[threading.Event]:
    """For the block (one request through a DeadlineAdapter, in this thread): after `seconds`
    the socket waiting for the answer is shut down and the yielded event is set."""
    expired = threading.Event()
    if seconds is None:
        yield expired
        return
    thread = threading.get_ident()

    def expire() -> None:
        expired.set()
        with _LOCK:
            waiting = _WAITING.get(thread)
        if waiting is not None:
            with suppress(OSError):  # plain socket level, also under TLS
                socket.socket.shutdown(waiting, socket.SHUT_RDWR)

    timer = threading.Timer(max(0.0, seconds), expire)
    timer.daemon = True
    timer.start()
    try:
        yield expired
    finally:
        timer.cancel()
