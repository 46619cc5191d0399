"""Benchmark: cryosse.acquire.download.Downloader against curl on loopback, and the cost of a
resume.

A temporary folder holds two files: "payload.bin" (--size-mb MB of seeded random bytes, so that
nothing along the way can compress it) and "payload.gz" (a real gzip stream of about the same
size, of map-like, somewhat compressible bytes). A small Range-capable HTTP server
(http.server.ThreadingHTTPServer, body sent with socket.sendfile) serves the folder on
127.0.0.1 from a separate process, so that it does not compete with the Downloader for this
process's GIL. Every request it gets is logged (path, Range, If-Range) for the checks below.

Measured, all in the same run:

1. throughput: curl (`curl -sS -o DEST URL`) and `Downloader.fetch(url, dest,
   verify_gzip=False)` fetch payload.bin, --repeats times each, alternating which goes first,
   each to a fresh destination (deleted after its sha256 is checked against the source). One
   untimed warm-up fetch per tool comes first. Per tool: median seconds and MB/s (1 MB = 10^6
   bytes); curl's figure is the wall time of the curl process, its own `time_total` (without
   the process start) is shown beside it. The ratio is downloader MB/s / curl MB/s of the
   medians; the target is >= 0.8. A miss is reported, not an error.
2. gzip verification: the Downloader fetches payload.gz with verify_gzip=False and with
   verify_gzip=True (the default for ".gz" names: the whole stream is decompressed before the
   rename); the difference of the medians is the cost of the verification.
3. resume: the server answers the first GET of /drop/<token>/payload.bin with the headers of
   the full file, sends only the first half of the body and closes the connection. A Downloader
   (max_retries=2, no backoff wait) must resume with "Range: bytes=<offset>-", offset > 0; the
   script checks that in the server log and checks the sha256 of the result. Reported: total
   time, time of the first (dropped) and of the resumed attempt, bytes received over the file
   size (about 1.0x when nothing is fetched twice), the Range header, the time from the drop
   to the resumed request reaching the server, and an uninterrupted fetch of the same file for
   comparison (alternating with the resumed ones).

4. host spacing: one Downloader(host_interval=--host-interval, default 0.15 s) fetches a 1 kB
   file --spacing-requests times back to back; reported: the gaps between the requests'
   arrivals at the server (min, median, max). The client spaces the starts of its requests;
   an arrival gap can fall a few ms short of the interval when the previous request reached
   the server late (loopback and scheduling jitter: why a wall-clock unit test was flaky).
   The unit test (tests/acquire/test_acquire.py) checks the spacing on an injected clock;
   this is the wall-clock figure.

Exit status: 0 when every download arrived intact, 1 when a checksum, a download or the resume
check failed, 2 when curl is not installed.

Run from the repository root:

    .venv/bin/python -m benchmarks.download [--size-mb 200] [--repeats 3] [--json OUT]
        [--host-interval 0.15] [--spacing-requests 6]
"""

from __future__ import annotations

import argparse
import contextlib
import email.utils
import gzip
import hashlib
import itertools
import json
import multiprocessing
import re
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

from benchmarks._harness import host_facts
from cryosse.core.hashing import sha256_file

MB = 1_000_000
TARGET_RATIO = 0.8
PAYLOAD = "payload.bin"
PAYLOAD_GZ = "payload.gz"
SMALL = "small.txt"
SEED = 20240607
_BLOCK = 16 << 20  # bytes generated (and hashed) at a time
_RANGE_RE = re.compile(r"^\s*bytes\s*=\s*(\d*)\s*-\s*(\d*)\s*$", re.IGNORECASE)
_DROP_RE = re.compile(r"^/drop/([^/]+)/([^/]+)$")


class BenchmarkFailure(Exception):
    """A download arrived corrupt, failed, or the resume did not go as it must."""


# ------------------------------------------------------------------ server (child process) --


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, root: Path, log_path: Path) -> None:
        super().__init__(("127.0.0.1", 0), _RangeHandler)
        self.root = root
        self._log = log_path.open("a", encoding="utf-8")
        self._lock = threading.Lock()
        self._dropped: set[str] = set()

    def log_request_line(self, entry: dict[str, Any]) -> None:
        with self._lock:
            self._log.write(json.dumps(entry) + "\n")
            self._log.flush()

    def first_get(self, token: str) -> bool:
        """Whether this is the first GET of /drop/<token>/... (the one that gets dropped)."""
        with self._lock:
            if token in self._dropped:
                return False
            self._dropped.add(token)
            return True


def _parse_range(value: str, size: int) -> tuple[int, int] | None:
    """(first, last) of a single "bytes=N-", "bytes=N-M" or "bytes=-N" range.

    None: unsatisfiable (answer 416). ValueError: not a single byte range (ignore it, send all).
    """
    match = _RANGE_RE.match(value)
    if match is None or match.group(1) == match.group(2) == "":
        raise ValueError(value)
    if match.group(1) == "":  # suffix range: the last N bytes
        suffix = int(match.group(2))
        return (max(0, size - suffix), size - 1) if suffix > 0 and size > 0 else None
    first = int(match.group(1))
    last = int(match.group(2)) if match.group(2) else size - 1
    if first >= size or last < first:
        return None
    return first, min(last, size - 1)


class _RangeHandler(BaseHTTPRequestHandler):
    # HTTP/1.1 keep-alive, as real archive servers do; every answer carries a Content-Length.
    protocol_version = "HTTP/1.1"
    server: _Server

    def log_message(self, format: str, *args: Any) -> None:
        pass  # the JSON request log replaces the stderr line per request

    def do_GET(self) -> None:
        self._answer(send_body=True)

    def do_HEAD(self) -> None:
        self._answer(send_body=False)

    def _answer(self, send_body: bool) -> None:
        path = urllib.parse.unquote(urllib.parse.urlsplit(self.path).path)
        drop = False
        name = path.lstrip("/")
        match = _DROP_RE.match(path)
        if match is not None:
            name = match.group(2)
            drop = send_body and self.server.first_get(match.group(1))
        range_header = self.headers.get("Range")
        if_range = self.headers.get("If-Range")
        self.server.log_request_line(
            {
                "t": time.time(),
                "method": self.command,
                "path": path,
                "range": range_header,
                "if_range": if_range,
                "drop": drop,
            }
        )
        file = self.server.root / name
        if "/" in name or not file.is_file():
            self._empty(404)
            return
        stat = file.stat()
        size = stat.st_size
        etag = f'"{stat.st_mtime_ns:x}-{size:x}"'
        first, last, status = 0, size - 1, 200
        if range_header is not None and (if_range is None or if_range == etag):
            try:
                wanted = _parse_range(range_header, size)
            except ValueError:
                wanted = (0, size - 1)  # not a single byte range: ignored, the full file goes
            else:
                if wanted is None:
                    self._empty(416, {"Content-Range": f"bytes */{size}"})
                    return
                status = 206
            first, last = wanted
        count = last - first + 1
        self.send_response(status)
        self.send_header("Content-Type", "application/octet-stream")
        self.send_header("Content-Length", str(count))
        self.send_header("Accept-Ranges", "bytes")
        self.send_header("ETag", etag)
        self.send_header("Last-Modified", email.utils.formatdate(stat.st_mtime, usegmt=True))
        if status == 206:
            self.send_header("Content-Range", f"bytes {first}-{last}/{size}")
        self.end_headers()
        if not send_body or count <= 0:
            return
        if drop:
            count //= 2  # the headers promised the whole file; half of it comes
        try:
            with file.open("rb") as handle:
                # sendfile: the kernel copies the bytes, so the server is never the bottleneck.
                self.connection.sendfile(handle, first, count)
            if drop:
                self.connection.shutdown(socket.SHUT_RDWR)
                self.close_connection = True
        except OSError:
            self.close_connection = True  # the client went away

    def _empty(self, status: int, headers: dict[str, str] | None = None) -> None:
        self.send_response(status)
        for key, value in (headers or {}).items():
            self.send_header(key, value)
        self.send_header("Content-Length", "0")
        self.end_headers()


def _serve(root: str, log_path: str, conn: Connection) -> None:
    """Child process: serve `root` until the parent says stop or goes away."""
    server = _Server(Path(root), Path(log_path))
    conn.send(server.server_address[1])
    threading.Thread(target=server.serve_forever, daemon=True).start()
    with contextlib.suppress(EOFError, OSError):
        conn.recv()  # "stop", or EOFError once the parent's end is closed (parent gone)
    server.shutdown()
    server.server_close()


class LoopbackServer:
    """The server child process; always stopped on exit from the with block."""

    def __init__(self, root: Path, log_path: Path) -> None:
        self.root = root
        self.log_path = log_path
        self.port = 0
        self._proc: multiprocessing.process.BaseProcess | None = None
        self._conn: Connection | None = None

    def __enter__(self) -> LoopbackServer:
        ctx = multiprocessing.get_context("spawn")
        self._conn, child_conn = ctx.Pipe()
        self._proc = ctx.Process(
            target=_serve, args=(str(self.root), str(self.log_path), child_conn), daemon=True
        )
        try:
            self._proc.start()
            child_conn.close()
            if not self._conn.poll(30):
                raise RuntimeError("the loopback server did not start within 30 s")
            self.port = int(self._conn.recv())
        except BaseException as exc:
            self.__exit__()
            if isinstance(exc, EOFError):
                raise RuntimeError("the loopback server process exited while starting") from exc
            raise
        return self

    def __exit__(self, *exc_info: object) -> None:
        if self._conn is not None:
            with contextlib.suppress(OSError):
                self._conn.send("stop")
            self._conn.close()
        if self._proc is not None:
            self._proc.join(5)
            if self._proc.is_alive():
                self._proc.terminate()
                self._proc.join(5)
            if self._proc.is_alive():
                self._proc.kill()
                self._proc.join()

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}/{path.lstrip('/')}"

    def requests_for(self, path: str) -> list[dict[str, Any]]:
        """Logged requests whose path is `path`, oldest first."""
        text = self.log_path.read_text(encoding="utf-8")
        entries = [json.loads(line) for line in text.splitlines() if line]
        return [e for e in entries if e["path"] == "/" + path.lstrip("/")]


# ---------------------------------------------------------------------------- test files --


def make_payload(path: Path, size: int) -> str:
    """Seeded random bytes (incompressible); returns their sha256."""
    import numpy as np

    rng = np.random.default_rng(SEED)
    digest = hashlib.sha256()
    with path.open("wb") as handle:
        left = size
        while left > 0:
            block = rng.bytes(min(_BLOCK, left))
            digest.update(block)
            handle.write(block)
            left -= len(block)
    return digest.hexdigest()


def make_gzip(path: Path, size: int) -> int:
    """A single-member gzip file of about `size` bytes; returns its uncompressed size.

    The bytes are rounded Gaussian noise around 128 (sd 12, about 5.6 bits of entropy per byte),
    so gzip shrinks them to roughly 0.75: compressible, like a map, but with no long repeats.
    """
    import numpy as np

    rng = np.random.default_rng(SEED + 1)
    raw = 0
    with (
        path.open("wb") as handle,
        gzip.GzipFile(filename="payload", mode="wb", fileobj=handle, compresslevel=1) as gz,
    ):
        while handle.tell() < size:  # 4 MiB blocks: the result overshoots `size` by < 4 MB
            noise = rng.standard_normal(1 << 22, dtype=np.float32)
            block = np.clip(noise * 12 + 128, 0, 255).astype(np.uint8).tobytes()
            gz.write(block)
            raw += len(block)
    return raw


def check_and_remove(dest: Path, expected_sha: str, what: str) -> None:
    """Raise if `dest` is not the source file; remove it either way."""
    try:
        got = sha256_file(dest)
    finally:
        dest.unlink(missing_ok=True)
    if got != expected_sha:
        raise BenchmarkFailure(f"{what}: sha256 {got[:16]}… differs from the source")


# ------------------------------------------------------------------------------ the tools --


def run_curl(url: str, dest: Path) -> dict[str, float]:
    """Wall seconds of the curl process and curl's own time_total."""
    cmd = ["curl", "-sS", "--fail", "-o", str(dest), "-w", "%{time_total}", url]
    start = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
    wall = time.perf_counter() - start
    if proc.returncode != 0:
        raise BenchmarkFailure(f"curl exited {proc.returncode}: {proc.stderr.strip()}")
    return {"seconds": wall, "curl_time_total": float(proc.stdout.strip().replace(",", "."))}


def run_downloader(url: str, dest: Path, verify_gzip: bool) -> dict[str, float]:
    """Seconds of one Downloader.fetch with a fresh Downloader (new connection, like curl)."""
    from cryosse.acquire.download import Downloader
    from cryosse.acquire.download_errors import DownloadError

    with Downloader(timeout=60.0, max_retries=0, progress=False) as dl:
        start = time.perf_counter()
        try:
            dl.fetch(url, dest, verify_gzip=verify_gzip)
        except DownloadError as exc:
            raise BenchmarkFailure(f"Downloader failed: {exc}") from exc
        seconds = time.perf_counter() - start
        stats = dl.stats
    return {"seconds": seconds, "bytes": stats.bytes, "retries": stats.retries}


def resume_once(server: LoopbackServer, token: str, dest: Path, size: int) -> dict[str, Any]:
    """One fetch of /drop/<token>/payload.bin: dropped at half, then resumed."""
    from cryosse.acquire.download import Downloader
    from cryosse.acquire.download_errors import DownloadError

    path = f"drop/{token}/{PAYLOAD}"
    marks: list[tuple[float, float]] = []

    def no_wait(_seconds: float) -> None:
        # Called between the attempts: the moment the drop was handled, on both clocks
        # (wall time to compare with the server log, perf_counter for the durations).
        marks.append((time.perf_counter(), time.time()))

    with Downloader(
        timeout=60.0, max_retries=2, backoff_base=0.0, progress=False, sleep=no_wait
    ) as dl:
        start = time.perf_counter()
        try:
            dl.fetch(server.url(path), dest, verify_gzip=False)
        except DownloadError as exc:
            raise BenchmarkFailure(f"resume: Downloader failed: {exc}") from exc
        end = time.perf_counter()
        stats = dl.stats
    gets = [e for e in server.requests_for(path) if e["method"] == "GET"]
    ranges = [e["range"] for e in gets]
    match = re.fullmatch(r"bytes=(\d+)-", ranges[1]) if len(ranges) == 2 and ranges[1] else None
    if len(gets) != 2 or ranges[0] is not None or match is None or int(match.group(1)) <= 0:
        raise BenchmarkFailure(
            f"resume: expected a GET without Range, then one with 'bytes=<offset>-' and "
            f"offset > 0; the server saw Range headers {ranges}"
        )
    if stats.retries != 1 or len(marks) != 1:
        raise BenchmarkFailure(f"resume: expected exactly 1 retry, got {stats.retries}")
    offset = int(match.group(1))
    return {
        "seconds": end - start,
        "first_attempt_seconds": marks[0][0] - start,
        "resumed_part_seconds": end - marks[0][0],
        "drop_to_resumed_request_seconds": gets[1]["t"] - marks[0][1],
        "range": ranges[1],
        "if_range": gets[1]["if_range"],
        "offset": offset,
        "bytes": stats.bytes,
        "bytes_ratio": stats.bytes / size,
        "retries": stats.retries,
    }


# ---------------------------------------------------------------------------- the report --


def machine() -> dict[str, Any]:
    curl = subprocess.run(["curl", "--version"], capture_output=True, text=True, check=False)
    import requests
    import urllib3

    import cryosse

    facts = host_facts()
    facts.pop("cpu_flags")
    return {
        **facts,
        "cryosse": cryosse.__version__,
        "requests": requests.__version__,
        "urllib3": urllib3.__version__,
        "curl": (curl.stdout.splitlines() or ["?"])[0],
    }


def _median(runs: list[dict[str, Any]], key: str = "seconds") -> float:
    return statistics.median(r[key] for r in runs)


def _mbs(size: int, seconds: float) -> float:
    return size / MB / seconds if seconds > 0 else float("inf")


def measure_throughput(
    server: LoopbackServer, out: Path, size: int, sha: str, repeats: int, say: Callable[..., None]
) -> dict[str, Any]:
    url = server.url(PAYLOAD)
    curl_dest, dl_dest = out / "curl.bin", out / "downloader.bin"
    tools: dict[str, Callable[[], dict[str, Any]]] = {
        "curl": lambda: run_curl(url, curl_dest),
        "downloader": lambda: run_downloader(url, dl_dest, verify_gzip=False),
    }
    dests = {"curl": curl_dest, "downloader": dl_dest}
    for name, run in tools.items():  # warm-up: page cache, imports, the curl binary
        run()
        check_and_remove(dests[name], sha, f"{name} (warm-up)")
    runs: dict[str, list[dict[str, Any]]] = {"curl": [], "downloader": []}
    for rep in range(repeats):
        order = ["curl", "downloader"] if rep % 2 == 0 else ["downloader", "curl"]
        for name in order:
            result = tools[name]()
            check_and_remove(dests[name], sha, name)
            runs[name].append(result)
            extra = ""
            if name == "curl":
                extra = f"  (curl time_total {result['curl_time_total']:.3f} s)"
            say(
                f"  run {rep + 1}  {name:<10}  {result['seconds']:7.3f} s  "
                f"{_mbs(size, result['seconds']):8.1f} MB/s{extra}"
            )
    curl_s, curl_total_s = _median(runs["curl"]), _median(runs["curl"], "curl_time_total")
    dl_s = _median(runs["downloader"])
    return {
        "runs": runs,
        "curl_median_s": curl_s,
        "curl_median_mb_s": _mbs(size, curl_s),
        "curl_time_total_median_s": curl_total_s,
        "curl_time_total_median_mb_s": _mbs(size, curl_total_s),
        "downloader_median_s": dl_s,
        "downloader_median_mb_s": _mbs(size, dl_s),
        "ratio": curl_s / dl_s,
        "ratio_vs_curl_time_total": curl_total_s / dl_s,
    }


def measure_gzip(
    server: LoopbackServer,
    out: Path,
    gz_size: int,
    sha: str,
    repeats: int,
    say: Callable[..., None],
) -> dict[str, Any]:
    url = server.url(PAYLOAD_GZ)
    dest = out / "downloaded.gz"
    runs: dict[str, list[dict[str, Any]]] = {"plain": [], "verified": []}
    for rep in range(repeats):
        order = [False, True] if rep % 2 == 0 else [True, False]
        for verify in order:
            result = run_downloader(url, dest, verify_gzip=verify)
            check_and_remove(dest, sha, "downloader (gzip)")
            label = "verified" if verify else "plain"
            runs[label].append(result)
            say(
                f"  run {rep + 1}  {'verify_gzip=' + str(verify):<17}  "
                f"{result['seconds']:7.3f} s  {_mbs(gz_size, result['seconds']):8.1f} MB/s"
            )
    plain, verified = _median(runs["plain"]), _median(runs["verified"])
    return {
        "runs": runs,
        "plain_median_s": plain,
        "plain_median_mb_s": _mbs(gz_size, plain),
        "verified_median_s": verified,
        "verified_median_mb_s": _mbs(gz_size, verified),
        "verification_cost_s": verified - plain,
    }


def measure_resume(
    server: LoopbackServer, out: Path, size: int, sha: str, repeats: int, say: Callable[..., None]
) -> dict[str, Any]:
    dest = out / "resumed.bin"
    resumed: list[dict[str, Any]] = []
    plain: list[dict[str, Any]] = []
    for rep in range(repeats):
        for kind in ("resume", "plain") if rep % 2 == 0 else ("plain", "resume"):
            if kind == "resume":
                r = resume_once(server, f"r{rep}", dest, size)
                check_and_remove(dest, sha, "downloader (resumed)")
                resumed.append(r)
                say(
                    f"  run {rep + 1}  resumed        {r['seconds']:7.3f} s  (first attempt "
                    f"{r['first_attempt_seconds']:.3f} s, resumed part "
                    f"{r['resumed_part_seconds']:.3f} s; {r['range']}; "
                    f"{r['bytes_ratio']:.3f}x bytes)"
                )
            else:
                p = run_downloader(server.url(PAYLOAD), dest, verify_gzip=False)
                check_and_remove(dest, sha, "downloader (uninterrupted)")
                plain.append(p)
                say(f"  run {rep + 1}  uninterrupted  {p['seconds']:7.3f} s")
    return {
        "runs": resumed,
        "uninterrupted_runs": plain,
        "median_s": _median(resumed),
        "first_attempt_median_s": _median(resumed, "first_attempt_seconds"),
        "resumed_part_median_s": _median(resumed, "resumed_part_seconds"),
        "drop_to_resumed_request_median_s": _median(resumed, "drop_to_resumed_request_seconds"),
        "uninterrupted_median_s": _median(plain),
        "bytes_ratio_max": max(r["bytes_ratio"] for r in resumed),
        "ranges": sorted({r["range"] for r in resumed}),
        "if_range": resumed[0]["if_range"],
    }


def measure_spacing(
    server: LoopbackServer, out: Path, interval: float, requests: int, say: Callable[..., None]
) -> dict[str, Any]:
    """Wall-clock gaps between the arrivals of back-to-back requests to one host."""
    from cryosse.acquire.download import Downloader

    with Downloader(timeout=60.0, max_retries=0, host_interval=interval) as dl:
        for i in range(requests):
            dl.fetch(server.url(SMALL), out / f"small-{i}.txt")
    arrivals = [r["t"] for r in server.requests_for(SMALL)]
    gaps = [b - a for a, b in itertools.pairwise(arrivals)]
    if len(arrivals) != requests:
        raise BenchmarkFailure(f"spacing: {len(arrivals)} requests reached the server")
    say("  gaps (s): " + ", ".join(f"{g:.4f}" for g in gaps))
    return {
        "interval_s": interval,
        "gaps_s": gaps,
        "min_s": min(gaps),
        "median_s": statistics.median(gaps),
        "max_s": max(gaps),
    }


def summary(figures: dict[str, Any]) -> str:
    t, g, r = figures["throughput"], figures["gzip"], figures["resume"]
    sp = figures["spacing"]
    size_mb, gz_mb = figures["size_bytes"] / MB, figures["gzip_bytes"] / MB
    verdict = "PASS" if t["ratio"] >= TARGET_RATIO else "BELOW TARGET"
    return "\n".join(
        [
            f"summary (medians of {figures['repeats']}; {size_mb:.0f} MB over loopback)",
            f"  curl        {t['curl_median_s']:.3f} s  {t['curl_median_mb_s']:7.1f} MB/s   "
            f"(curl's own time_total {t['curl_time_total_median_s']:.3f} s, "
            f"{t['curl_time_total_median_mb_s']:.1f} MB/s)",
            f"  downloader  {t['downloader_median_s']:.3f} s  "
            f"{t['downloader_median_mb_s']:7.1f} MB/s",
            f"  ratio       {t['ratio']:.2f} downloader/curl (target >= {TARGET_RATIO}): {verdict}"
            f"   [vs curl's time_total: {t['ratio_vs_curl_time_total']:.2f}]",
            f"  gzip        {gz_mb:.0f} MB .gz: {g['plain_median_s']:.3f} s without verification, "
            f"{g['verified_median_s']:.3f} s with end-to-end gzip verification "
            f"(+{g['verification_cost_s']:.3f} s)",
            f"  resume      {r['median_s']:.3f} s with a drop at half vs "
            f"{r['uninterrupted_median_s']:.3f} s uninterrupted; resumed part "
            f"{r['resumed_part_median_s']:.3f} s",
            f"              drop to resumed request "
            f"{r['drop_to_resumed_request_median_s'] * 1e3:.1f} ms; bytes received "
            f"{r['bytes_ratio_max']:.3f}x the file; {', '.join(r['ranges'])}",
            f"  spacing     host_interval {sp['interval_s']:g} s: gaps between arrivals min "
            f"{sp['min_s']:.4f} s, median {sp['median_s']:.4f} s, max {sp['max_s']:.4f} s",
        ]
    )


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--size-mb",
        type=float,
        default=200.0,
        help="size of the test files in MB (10^6 bytes; default 200)",
    )
    parser.add_argument(
        "--repeats",
        type=int,
        default=3,
        help="timed fetches per tool and case; medians (default 3)",
    )
    parser.add_argument("--json", type=Path, help="also write the figures as JSON here")
    parser.add_argument(
        "--host-interval", type=float, default=0.15, help="host spacing, s (default 0.15)"
    )
    parser.add_argument(
        "--spacing-requests", type=int, default=6, help="requests of the spacing case (6)"
    )
    return parser


def say(*parts: Any) -> None:
    print(*parts, flush=True)


def _say_machine(facts: dict[str, Any]) -> None:
    say("cryosse download benchmark (benchmarks/download.py)")
    say(
        f"machine : nproc={facts['nproc']} (os.cpu_count={facts['cpu_count']}), "
        f"CPU: {facts['cpu_model']}"
    )
    say(f"platform: {facts['platform']}")
    say(
        f"python  : {facts['python']}; cryosse {facts['cryosse']}, requests "
        f"{facts['requests']}, urllib3 {facts['urllib3']}"
    )
    say(f"curl    : {facts['curl']}")


def _make_files(root: Path, size: int, figures: dict[str, Any]) -> dict[str, Any]:
    """The served files; their checksums and sizes."""
    start = time.perf_counter()
    sha = make_payload(root / PAYLOAD, size)
    gz_raw = make_gzip(root / PAYLOAD_GZ, size)
    gz_size = (root / PAYLOAD_GZ).stat().st_size
    gz_sha = sha256_file(root / PAYLOAD_GZ)
    (root / SMALL).write_bytes(b"x" * 1000)
    figures.update(gzip_bytes=gz_size, gzip_uncompressed_bytes=gz_raw)
    say(
        f"files   : {PAYLOAD} {size / MB:.1f} MB random bytes; {PAYLOAD_GZ} "
        f"{gz_size / MB:.1f} MB gzip of {gz_raw / MB:.1f} MB "
        f"(made in {time.perf_counter() - start:.1f} s)"
    )
    return {"sha": sha, "gz_size": gz_size, "gz_sha": gz_sha}


def _measure_all(
    server: LoopbackServer,
    out: Path,
    size: int,
    files: dict[str, Any],
    args: argparse.Namespace,
    figures: dict[str, Any],
) -> None:
    say(
        f"server  : http://127.0.0.1:{server.port}/, ThreadingHTTPServer in a "
        "separate process, bodies via socket.sendfile"
    )
    say(
        f"\nthroughput: {PAYLOAD}, curl vs Downloader(verify_gzip=False), order "
        "alternating, after one untimed warm-up each"
    )
    sha = files["sha"]
    figures["throughput"] = measure_throughput(server, out, size, sha, args.repeats, say)
    say(f"\ngzip: Downloader on {PAYLOAD_GZ} without and with the end-to-end gzip verification")
    figures["gzip"] = measure_gzip(
        server, out, files["gz_size"], files["gz_sha"], args.repeats, say
    )
    say(
        f"\nresume: /drop/<token>/{PAYLOAD} drops the connection after half the "
        "body; Downloader(max_retries=2, no backoff wait)"
    )
    figures["resume"] = measure_resume(server, out, size, sha, args.repeats, say)
    say(
        f"\nspacing: {args.spacing_requests} back-to-back fetches of {SMALL}, "
        f"host_interval {args.host_interval:g} s"
    )
    figures["spacing"] = measure_spacing(
        server, out, args.host_interval, args.spacing_requests, say
    )


def main(argv: list[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    if args.repeats < 1:
        parser.error("--repeats must be at least 1")
    if args.spacing_requests < 2 or args.host_interval <= 0:
        parser.error("--spacing-requests must be at least 2 and --host-interval > 0")
    size = int(args.size_mb * MB)
    if size < 2:
        parser.error("--size-mb is too small")
    if shutil.which("curl") is None:
        print(
            "curl not found on PATH: this benchmark compares against curl; install it "
            "(e.g. apt-get install curl) and run again.",
            file=sys.stderr,
        )
        return 2
    facts = machine()
    _say_machine(facts)
    figures: dict[str, Any] = {"machine": facts, "repeats": args.repeats, "size_bytes": size}
    try:
        with tempfile.TemporaryDirectory(prefix="cryosse-dl-bench-") as tmp:
            root, out = Path(tmp) / "served", Path(tmp) / "out"
            root.mkdir()
            out.mkdir()
            files = _make_files(root, size, figures)
            with LoopbackServer(root, Path(tmp) / "requests.log") as server:
                _measure_all(server, out, size, files, args, figures)
    except BenchmarkFailure as exc:
        print(f"FAILED: {exc}", file=sys.stderr)
        return 1
    say("")
    say(summary(figures))
    if args.json:
        args.json.write_text(json.dumps(figures, indent=2) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
