"""Tests of the robust downloader against real HTTP servers on 127.0.0.1 (never the internet).

pytest-httpserver covers the plain status and header cases; a small ThreadingHTTPServer covers
what it cannot do: drop a connection mid-body, stall, count concurrent requests. Waits between
retries go to a recorder instead of time.sleep, so the tests run fast and can check them.
"""

from __future__ import annotations

import gzip
import threading
import time
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from pytest_httpserver import HTTPServer

from cryosse.acquire.download import Downloader, DownloadStats, partial_path
from cryosse.acquire.download_errors import DownloadError
from cryosse.acquire.http_answer import parse_retry_after
from tests.conftest import DEMO_MIRROR

MAP_GZ = DEMO_MIRROR / "emdb" / "structures" / "EMD-8518" / "map" / "emd_8518.map.gz"
PDB_DIR = DEMO_MIRROR / "pdb"


@pytest.fixture(scope="module")
def payload() -> bytes:
    """A real gzip-compressed EMDB map (~320 kB)."""
    return MAP_GZ.read_bytes()


@pytest.fixture
def sleeps() -> list[float]:
    return []


@pytest.fixture
def downloader(sleeps: list[float]) -> Iterator[Downloader]:
    with Downloader(timeout=5.0, max_retries=3, sleep=sleeps.append) as dl:
        yield dl


def assert_clean(dest: Path, content: bytes | None) -> None:
    """`dest` holds exactly `content` (or is absent when None) and no .part file is left."""
    if content is None:
        assert not dest.exists()
    else:
        assert dest.read_bytes() == content
    assert not partial_path(dest).exists()


# -- a hand-written server for misbehaviour pytest-httpserver cannot produce ---------------------

Handler = Callable[[BaseHTTPRequestHandler, int], None]


@dataclass
class LocalServer:
    url: str
    # headers of every request received, names in lower case, in arrival order
    requests: list[dict[str, str]] = field(default_factory=list)
    # set at teardown: stalled handlers wait on it, so they end at once
    stop: threading.Event = field(default_factory=threading.Event)
    lock: threading.Lock = field(default_factory=threading.Lock)
    active: int = 0


class _QuietServer(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request: object, client_address: object) -> None:
        """A client that timed out and hung up is part of the tests, not an error."""


@pytest.fixture
def serve() -> Iterator[Callable[[Handler], LocalServer]]:
    """Start servers whose GET handler is handle(request_handler, request_index)."""
    running: list[tuple[_QuietServer, threading.Thread, LocalServer]] = []

    def start(handle: Handler) -> LocalServer:
        state = LocalServer(url="")

        class RequestHandler(BaseHTTPRequestHandler):
            # HTTP/1.0: the connection closes after each answer, so a short body is a drop.
            def do_GET(self) -> None:
                with state.lock:
                    index = len(state.requests)
                    state.requests.append({k.lower(): v for k, v in self.headers.items()})
                    state.active += 1
                try:
                    handle(self, index)
                except OSError:
                    pass  # the client gave up first (timeout) and closed the socket
                finally:
                    with state.lock:
                        state.active -= 1

            def log_message(self, format: str, *args: object) -> None:
                pass

        server = _QuietServer(("127.0.0.1", 0), RequestHandler)
        state.url = f"http://127.0.0.1:{server.server_address[1]}"
        thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05})
        thread.daemon = True
        thread.start()
        running.append((server, thread, state))
        return state

    yield start
    for server, thread, state in running:
        state.stop.set()
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)
        assert not thread.is_alive()
        # every handler thread ends (woken by stop): no test leaves a stalled request behind
        deadline = time.monotonic() + 5.0
        while state.active and time.monotonic() < deadline:
            time.sleep(0.01)
        assert state.active == 0


def send(
    handler: BaseHTTPRequestHandler,
    body: bytes,
    *,
    status: int = 200,
    headers: dict[str, str] | None = None,
    content_length: int | None = -1,
) -> None:
    """Answer with `body`; content_length -1 means len(body), None means no header."""
    handler.send_response(status)
    if content_length is not None:
        handler.send_header(
            "Content-Length", str(len(body) if content_length == -1 else content_length)
        )
    for name, value in (headers or {}).items():
        handler.send_header(name, value)
    handler.end_headers()
    handler.wfile.write(body)
    handler.wfile.flush()


def range_start(handler: BaseHTTPRequestHandler) -> int:
    """The k of a "Range: bytes=k-" header, 0 without one."""
    value = handler.headers.get("Range")
    if value is None:
        return 0
    assert value.startswith("bytes=") and value.endswith("-"), value
    return int(value[len("bytes=") : -1])


def send_from(
    handler: BaseHTTPRequestHandler, data: bytes, start: int, stop: int | None = None
) -> None:
    """Answer a range request with data[start:] (206), sending only up to `stop` bytes of it."""
    body = data[start:]
    headers = {}
    status = 200
    if start > 0:
        status = 206
        headers["Content-Range"] = f"bytes {start}-{len(data) - 1}/{len(data)}"
    send(
        handler,
        body[: None if stop is None else stop - start],
        status=status,
        headers=headers,
        content_length=len(body),
    )


# -- the plain cases ------------------------------------------------------------------------------


def test_plain_success(
    httpserver_ipv4: HTTPServer, downloader: Downloader, payload: bytes, tmp_path: Path
) -> None:
    httpserver_ipv4.expect_request("/emd_8518.map.gz").respond_with_data(payload)
    dest = tmp_path / "maps" / "emd_8518.map.gz"
    result = downloader.fetch(httpserver_ipv4.url_for("/emd_8518.map.gz"), dest, len(payload))
    assert result == dest
    assert_clean(dest, payload)
    stats = downloader.stats
    assert (stats.files, stats.bytes, stats.retries) == (1, len(payload), 0)
    assert stats.seconds > 0
    assert len(httpserver_ipv4.log) == 1


def test_user_agent_and_identity_encoding(
    httpserver_ipv4: HTTPServer, downloader: Downloader, tmp_path: Path
) -> None:
    httpserver_ipv4.expect_request("/h.xml").respond_with_data(b"<emd/>")
    downloader.fetch(httpserver_ipv4.url_for("/h.xml"), tmp_path / "h.xml")
    request, _ = httpserver_ipv4.log[0]
    assert request.headers["User-Agent"].startswith("cryosse/")
    # the stored bytes are the served file, never a transfer-decoded version of it
    assert request.headers["Accept-Encoding"] == "identity"


def test_server_error_then_success(
    httpserver_ipv4: HTTPServer,
    downloader: Downloader,
    sleeps: list[float],
    payload: bytes,
    tmp_path: Path,
) -> None:
    httpserver_ipv4.expect_oneshot_request("/m.gz").respond_with_data(b"oops", status=500)
    httpserver_ipv4.expect_request("/m.gz").respond_with_data(payload)
    dest = tmp_path / "m.gz"
    downloader.fetch(httpserver_ipv4.url_for("/m.gz"), dest)
    assert_clean(dest, payload)
    assert downloader.stats.retries == 1
    # full jitter: the first wait is drawn from [0, backoff_base]
    assert len(sleeps) == 1
    assert 0 <= sleeps[0] <= 1.0


def test_backoff_grows_and_is_capped(httpserver_ipv4: HTTPServer, tmp_path: Path) -> None:
    sleeps: list[float] = []
    dl = Downloader(max_retries=6, backoff_base=0.5, backoff_max=3.0, sleep=sleeps.append)
    httpserver_ipv4.expect_request("/x").respond_with_data(b"busy", status=502)
    with pytest.raises(DownloadError) as info:
        dl.fetch(httpserver_ipv4.url_for("/x"), tmp_path / "x")
    assert info.value.status == 502
    assert not info.value.permanent
    ceilings = [0.5, 1.0, 2.0, 3.0, 3.0, 3.0]
    assert len(sleeps) == len(ceilings)
    assert all(0 <= s <= c for s, c in zip(sleeps, ceilings, strict=True))
    assert len(httpserver_ipv4.log) == 7
    assert_clean(tmp_path / "x", None)


def test_429_honours_retry_after(
    httpserver_ipv4: HTTPServer,
    downloader: Downloader,
    sleeps: list[float],
    payload: bytes,
    tmp_path: Path,
) -> None:
    httpserver_ipv4.expect_oneshot_request("/m.gz").respond_with_data(
        b"slow down", status=429, headers={"Retry-After": "7"}
    )
    httpserver_ipv4.expect_request("/m.gz").respond_with_data(payload)
    dest = tmp_path / "m.gz"
    downloader.fetch(httpserver_ipv4.url_for("/m.gz"), dest)
    assert sleeps == [7]
    assert_clean(dest, payload)


def test_retry_after_is_capped_at_retry_after_max(
    httpserver_ipv4: HTTPServer, payload: bytes, tmp_path: Path
) -> None:
    # Retry-After beyond the jittered backoff's cap is still honoured, up to its own cap.
    sleeps: list[float] = []
    dl = Downloader(backoff_max=5.0, retry_after_max=120.0, sleep=sleeps.append)
    httpserver_ipv4.expect_oneshot_request("/m.gz").respond_with_data(
        b"", status=503, headers={"Retry-After": "3600"}
    )
    httpserver_ipv4.expect_request("/m.gz").respond_with_data(payload)
    dl.fetch(httpserver_ipv4.url_for("/m.gz"), tmp_path / "m.gz")
    assert sleeps == [120.0]


def test_parse_retry_after() -> None:
    now = datetime(2024, 5, 1, 12, 0, 0, tzinfo=UTC)
    assert parse_retry_after("7") == 7.0
    assert parse_retry_after(" 120 ") == 120.0
    assert parse_retry_after("Wed, 01 May 2024 12:00:30 GMT", now=now) == 30.0
    assert parse_retry_after("Wed, 01 May 2024 11:00:00 GMT", now=now) == 0.0  # in the past
    assert parse_retry_after(None) is None
    assert parse_retry_after("soon") is None
    assert parse_retry_after("nan") is None


def test_404_is_permanent_and_not_retried(
    httpserver_ipv4: HTTPServer, downloader: Downloader, sleeps: list[float], tmp_path: Path
) -> None:
    httpserver_ipv4.expect_request("/gone.gz").respond_with_data(b"not found", status=404)
    dest = tmp_path / "gone.gz"
    with pytest.raises(DownloadError) as info:
        downloader.fetch(httpserver_ipv4.url_for("/gone.gz"), dest)
    assert info.value.permanent
    assert info.value.status == 404
    assert len(httpserver_ipv4.log) == 1
    assert sleeps == []
    assert_clean(dest, None)


# -- dropped connections and resume ---------------------------------------------------------------


def test_dropped_connection_resumes_with_range(
    serve: Callable[[Handler], LocalServer],
    downloader: Downloader,
    payload: bytes,
    tmp_path: Path,
) -> None:
    half = len(payload) // 2

    def handle(handler: BaseHTTPRequestHandler, index: int) -> None:
        if index == 0:
            # the full Content-Length, half the body, then the connection closes
            send(handler, payload[:half], content_length=len(payload), headers={"ETag": '"v1"'})
        else:
            send_from(handler, payload, range_start(handler))

    server = serve(handle)
    dest = tmp_path / "emd_8518.map.gz"
    downloader.fetch(f"{server.url}/emd_8518.map.gz", dest, len(payload))
    assert_clean(dest, payload)
    assert len(server.requests) == 2
    assert "range" not in server.requests[0]
    assert server.requests[1]["range"] == f"bytes={half}-"
    # resumed only if the file is still the version whose first half we hold
    assert server.requests[1]["if-range"] == '"v1"'
    # only the missing half was fetched again
    assert downloader.stats.bytes == len(payload)
    assert downloader.stats.retries == 1


def test_truncated_bodies_resume_repeatedly(
    serve: Callable[[Handler], LocalServer],
    downloader: Downloader,
    payload: bytes,
    tmp_path: Path,
) -> None:
    """Every answer, 206 ones included, stops 100 kB in despite a correct Content-Length."""
    step = 100_000

    def handle(handler: BaseHTTPRequestHandler, index: int) -> None:
        start = range_start(handler)
        send_from(handler, payload, start, stop=start + step)

    server = serve(handle)
    dest = tmp_path / "m.map.gz"
    downloader.fetch(f"{server.url}/m.map.gz", dest)  # no expected_size: Content-Length rules
    assert_clean(dest, payload)
    expected_starts = list(range(0, len(payload), step))
    assert [range_start_of(r) for r in server.requests] == expected_starts
    assert downloader.stats.bytes == len(payload)
    assert downloader.stats.retries == len(expected_starts) - 1


def range_start_of(headers: dict[str, str]) -> int:
    value = headers.get("range", "bytes=0-")
    return int(value[len("bytes=") : -1])


def test_transient_failure_keeps_part_for_a_later_call(
    serve: Callable[[Handler], LocalServer], payload: bytes, tmp_path: Path
) -> None:
    half = len(payload) // 2
    healthy = threading.Event()

    def handle(handler: BaseHTTPRequestHandler, index: int) -> None:
        if healthy.is_set():
            send_from(handler, payload, range_start(handler))
        elif index == 0:
            send(handler, payload[:half], content_length=len(payload))
        else:
            send(handler, b"maintenance", status=503)

    server = serve(handle)
    dest = tmp_path / "m.map.gz"
    url = f"{server.url}/m.map.gz"
    first = Downloader(max_retries=2, sleep=lambda _: None)
    with pytest.raises(DownloadError) as info:
        first.fetch(url, dest, len(payload))
    assert not info.value.permanent
    assert info.value.status == 503
    assert not dest.exists()
    assert partial_path(dest).read_bytes() == payload[:half]

    healthy.set()
    second = Downloader(sleep=lambda _: None)
    second.fetch(url, dest, len(payload))
    assert_clean(dest, payload)
    assert server.requests[-1]["range"] == f"bytes={half}-"
    assert second.stats.bytes == len(payload) - half


def test_server_ignoring_range_restarts_from_zero(
    httpserver_ipv4: HTTPServer, downloader: Downloader, payload: bytes, tmp_path: Path
) -> None:
    dest = tmp_path / "m.map.gz"
    stale = b"\x00garbage from an older attempt" * 40
    partial_path(dest).write_bytes(stale)
    httpserver_ipv4.expect_request("/m.map.gz").respond_with_data(payload)  # always 200
    downloader.fetch(httpserver_ipv4.url_for("/m.map.gz"), dest, len(payload))
    request, _ = httpserver_ipv4.log[0]
    assert request.headers["Range"] == f"bytes={len(stale)}-"
    assert_clean(dest, payload)
    assert downloader.stats.retries == 0


def test_wrong_content_range_start_restarts(
    serve: Callable[[Handler], LocalServer],
    downloader: Downloader,
    payload: bytes,
    tmp_path: Path,
) -> None:
    dest = tmp_path / "m.map.gz"
    partial_path(dest).write_bytes(payload[:5000])

    def handle(handler: BaseHTTPRequestHandler, index: int) -> None:
        start = range_start(handler)
        # a broken server: sends the range from 1000 whatever was asked
        send_from(handler, payload, 1000 if start else 0)

    server = serve(handle)
    downloader.fetch(f"{server.url}/m.map.gz", dest, len(payload))
    assert_clean(dest, payload)
    assert [range_start_of(r) for r in server.requests] == [5000, 0]


def test_416_with_complete_part_needs_no_body(
    httpserver_ipv4: HTTPServer, downloader: Downloader, payload: bytes, tmp_path: Path
) -> None:
    """A run that crashed between the last byte and the rename: the .part is already whole."""
    dest = tmp_path / "m.map.gz"
    partial_path(dest).write_bytes(payload)
    httpserver_ipv4.expect_request("/m.map.gz").respond_with_data(
        b"", status=416, headers={"Content-Range": f"bytes */{len(payload)}"}
    )
    downloader.fetch(httpserver_ipv4.url_for("/m.map.gz"), dest)
    assert_clean(dest, payload)
    assert downloader.stats.bytes == 0


def test_416_with_oversized_part_restarts(
    serve: Callable[[Handler], LocalServer],
    downloader: Downloader,
    payload: bytes,
    tmp_path: Path,
) -> None:
    dest = tmp_path / "m.map.gz"
    partial_path(dest).write_bytes(payload + b"extra bytes from another version")

    def handle(handler: BaseHTTPRequestHandler, index: int) -> None:
        if range_start(handler) >= len(payload):
            send(handler, b"", status=416, headers={"Content-Range": f"bytes */{len(payload)}"})
        else:
            send_from(handler, payload, range_start(handler))

    server = serve(handle)
    downloader.fetch(f"{server.url}/m.map.gz", dest, len(payload))
    assert_clean(dest, payload)
    assert len(server.requests) == 2
    assert "range" not in server.requests[1]


# -- verification ---------------------------------------------------------------------------------


def test_wrong_expected_size_fails_without_streaming(
    httpserver_ipv4: HTTPServer, sleeps: list[float], payload: bytes, tmp_path: Path
) -> None:
    """Content-Length already disagrees with expected_size: give up after the retries."""
    httpserver_ipv4.expect_request("/m.map.gz").respond_with_data(payload)
    dl = Downloader(max_retries=2, sleep=sleeps.append)
    dest = tmp_path / "m.map.gz"
    with pytest.raises(DownloadError) as info:
        dl.fetch(httpserver_ipv4.url_for("/m.map.gz"), dest, len(payload) + 1)
    assert info.value.permanent
    assert len(httpserver_ipv4.log) == 3
    assert len(sleeps) == 2
    assert dl.stats.retries == 2
    assert_clean(dest, None)


@pytest.mark.parametrize("delta", [-1000, 1000])
def test_size_mismatch_without_content_length(
    serve: Callable[[Handler], LocalServer],
    sleeps: list[float],
    payload: bytes,
    tmp_path: Path,
    delta: int,
) -> None:
    """No Content-Length (body ends at close): the size check after the download catches it."""
    server = serve(lambda handler, index: send(handler, payload, content_length=None))
    dl = Downloader(max_retries=2, sleep=sleeps.append)
    dest = tmp_path / "m.map.gz"
    with pytest.raises(DownloadError) as info:
        dl.fetch(f"{server.url}/m.map.gz", dest, len(payload) + delta)
    assert info.value.permanent
    assert len(server.requests) == 3
    assert all("range" not in r for r in server.requests)  # every retry from scratch
    assert_clean(dest, None)


def flipped_in_middle(data: bytes) -> bytes:
    middle = len(data) // 2
    return data[:middle] + bytes(b ^ 0xFF for b in data[middle : middle + 16]) + data[middle + 16 :]


@pytest.mark.parametrize(
    "damage",
    [flipped_in_middle, lambda data: data[: len(data) * 2 // 3]],
    ids=["flipped-bytes", "truncated-gzip"],
)
def test_corrupt_gzip_is_rejected(
    httpserver_ipv4: HTTPServer,
    sleeps: list[float],
    payload: bytes,
    tmp_path: Path,
    damage: Callable[[bytes], bytes],
) -> None:
    """The served sizes are consistent; only decompressing the whole file shows the damage."""
    corrupt_bytes = damage(payload)
    with pytest.raises((OSError, EOFError, zlib.error)):
        gzip.decompress(corrupt_bytes)  # the damage really is detectable
    httpserver_ipv4.expect_request("/m.map.gz").respond_with_data(corrupt_bytes)
    dl = Downloader(max_retries=1, sleep=sleeps.append)
    dest = tmp_path / "m.map.gz"
    with pytest.raises(DownloadError, match="gzip") as info:
        dl.fetch(httpserver_ipv4.url_for("/m.map.gz"), dest, len(corrupt_bytes))
    assert info.value.permanent
    assert len(httpserver_ipv4.log) == 2
    assert_clean(dest, None)


def test_an_io_error_while_verifying_is_not_a_corrupt_file(
    httpserver_ipv4: HTTPServer,
    sleeps: list[float],
    payload: bytes,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """EIO reading the .part back (issue 26) is the disk's fault: raised as such (the job fails,
    a re-run retries), not a permanent "corrupt gzip" that excludes the entry for good."""
    import errno
    import os

    import cryosse.acquire.download_attempt as attempt_module

    def eio(path, *args):
        raise OSError(errno.EIO, os.strerror(errno.EIO), str(path))

    monkeypatch.setattr(attempt_module, "_check_gzip", eio)
    httpserver_ipv4.expect_request("/m.map.gz").respond_with_data(payload)
    dl = Downloader(max_retries=1, sleep=sleeps.append)
    with pytest.raises(OSError) as info:
        dl.fetch(httpserver_ipv4.url_for("/m.map.gz"), tmp_path / "m.map.gz", len(payload))
    assert info.value.errno == errno.EIO and not isinstance(info.value, DownloadError)
    assert not (tmp_path / "m.map.gz").exists()


def test_gzip_check_can_be_turned_off_and_on(
    httpserver_ipv4: HTTPServer, downloader: Downloader, tmp_path: Path
) -> None:
    httpserver_ipv4.expect_request("/notgz").respond_with_data(b"plain text, not gzip")
    # the name decides by default: no check for a name without .gz
    downloader.fetch(httpserver_ipv4.url_for("/notgz"), tmp_path / "a.txt")
    assert (tmp_path / "a.txt").read_bytes() == b"plain text, not gzip"
    downloader.fetch(httpserver_ipv4.url_for("/notgz"), tmp_path / "b.gz", verify_gzip=False)
    with pytest.raises(DownloadError):
        downloader.fetch(httpserver_ipv4.url_for("/notgz"), tmp_path / "c.txt", verify_gzip=True)
    assert_clean(tmp_path / "c.txt", None)


# -- timeouts -------------------------------------------------------------------------------------


def test_slow_answer_times_out_then_succeeds(
    serve: Callable[[Handler], LocalServer], sleeps: list[float], payload: bytes, tmp_path: Path
) -> None:
    def handle(handler: BaseHTTPRequestHandler, index: int) -> None:
        if index == 0:
            server.stop.wait(2.0)  # longer than the client's 0.5 s timeout
        send(handler, payload)

    server = serve(handle)
    dl = Downloader(timeout=0.5, max_retries=2, sleep=sleeps.append)
    dest = tmp_path / "m.map.gz"
    dl.fetch(f"{server.url}/m.map.gz", dest)
    assert_clean(dest, payload)
    assert dl.stats.retries == 1


def test_always_slow_fails_cleanly(
    serve: Callable[[Handler], LocalServer], sleeps: list[float], payload: bytes, tmp_path: Path
) -> None:
    def handle(handler: BaseHTTPRequestHandler, index: int) -> None:
        server.stop.wait(5.0)
        send(handler, payload)

    server = serve(handle)
    dl = Downloader(timeout=0.5, max_retries=1, sleep=sleeps.append)
    dest = tmp_path / "m.map.gz"
    with pytest.raises(DownloadError) as info:
        dl.fetch(f"{server.url}/m.map.gz", dest)
    assert not info.value.permanent
    assert len(server.requests) == 2
    assert_clean(dest, None)  # no byte arrived, so not even a .part


def test_stall_mid_body_is_retried(
    serve: Callable[[Handler], LocalServer], sleeps: list[float], payload: bytes, tmp_path: Path
) -> None:
    half = len(payload) // 2

    def handle(handler: BaseHTTPRequestHandler, index: int) -> None:
        if index == 0:
            send(handler, payload[:half], content_length=len(payload))
            server.stop.wait(3.0)
        else:
            send_from(handler, payload, range_start(handler))

    server = serve(handle)
    dl = Downloader(timeout=0.5, max_retries=2, sleep=sleeps.append)
    dest = tmp_path / "m.map.gz"
    dl.fetch(f"{server.url}/m.map.gz", dest, len(payload))
    assert_clean(dest, payload)
    assert dl.stats.retries == 1


# -- many files -----------------------------------------------------------------------------------


def test_fetch_many_bounded_and_isolated(
    serve: Callable[[Handler], LocalServer], sleeps: list[float], tmp_path: Path
) -> None:
    files = {f"/pdb/{p.name}": p.read_bytes() for p in sorted(PDB_DIR.glob("*.pdb.gz"))}
    assert len(files) >= 5  # enough files that four workers overlap
    lock = threading.Lock()
    in_flight = 0
    peak = 0

    def handle(handler: BaseHTTPRequestHandler, index: int) -> None:
        nonlocal in_flight, peak
        with lock:
            in_flight += 1
            peak = max(peak, in_flight)
        server.stop.wait(0.2)  # hold the request so that concurrent ones overlap
        with lock:
            in_flight -= 1  # before answering: the client cannot start a new one before this
        body = files.get(handler.path)
        if body is None:
            send(handler, b"no such file", status=404)
        else:
            send(handler, body)

    server = serve(handle)
    dl = Downloader(sleep=sleeps.append)
    jobs: list[tuple[str, Path, int | None]] = [
        (f"{server.url}{path}", tmp_path / "pdb" / path.rsplit("/", 1)[1], len(body))
        for path, body in files.items()
    ]
    missing = tmp_path / "pdb" / "9zzz.pdb.gz"
    jobs.insert(2, (f"{server.url}/pdb/9zzz.pdb.gz", missing, None))

    results = dl.fetch_many(jobs)

    assert set(results) == {dest for _, dest, _ in jobs}
    error = results[missing]
    assert isinstance(error, DownloadError)
    assert error.permanent
    assert_clean(missing, None)
    for path, body in files.items():
        dest = tmp_path / "pdb" / path.rsplit("/", 1)[1]
        assert results[dest] == dest
        assert_clean(dest, body)
    assert len(server.requests) == len(files) + 1
    assert 2 <= peak <= 4
    assert dl.stats.files == len(files)
    assert sleeps == []


def test_fetch_many_rejects_duplicate_destinations(tmp_path: Path) -> None:
    dl = Downloader()
    jobs = [
        ("http://127.0.0.1:9/a", tmp_path / "a", None),
        ("http://127.0.0.1:9/b", tmp_path / "a", None),
    ]
    with pytest.raises(ValueError, match="same destination"):
        dl.fetch_many(jobs)


def test_summary_line() -> None:
    stats = DownloadStats(files=3, bytes=12_500_000, seconds=4.26, retries=2)
    assert stats.summary_line() == "downloaded 3 files, 12.5 MB in 4.3 s (2 retries)"


def test_invalid_url_is_not_retried(
    downloader: Downloader, sleeps: list[float], tmp_path: Path
) -> None:
    with pytest.raises(DownloadError) as info:
        downloader.fetch("http://", tmp_path / "x")
    assert not info.value.permanent
    assert sleeps == []


def test_a_server_trickling_its_headers_is_cut_at_the_deadline(
    serve: Callable[[Handler], LocalServer], sleeps: list[float], tmp_path: Path
) -> None:
    """One header byte every 0.3 s never trips the 1 s read timeout; the 2 s deadline covers
    the wait for the headers too (before, the fetch hung until the server gave up)."""

    def handle(handler: BaseHTTPRequestHandler, index: int) -> None:
        handler.wfile.write(b"HTTP/1.1 200 OK\r\n")
        for byte in b"X-Slow: " + b"a" * 200:
            if server.stop.wait(0.3):
                return
            try:
                handler.wfile.write(bytes([byte]))
                handler.wfile.flush()
            except OSError:
                return

    server = serve(handle)
    dl = Downloader(timeout=1.0, max_retries=3, deadline=2.0, sleep=sleeps.append)
    dest = tmp_path / "m.map.gz"
    # the deadline ends it, not the 60 s of the trickle: the message says which
    with pytest.raises(DownloadError, match="deadline passed while waiting for the headers"):
        dl.fetch(f"{server.url}/m.map.gz", dest)
    assert len(server.requests) == 1  # the deadline is final: no retry
    assert_clean(dest, None)
