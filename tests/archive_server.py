"""A real HTTP server on 127.0.0.1 that plays the EMDB and PDB archives, with injectable faults.

It serves a mirror folder in the archives' URL layout:

    /emdb/structures/EMD-XXXX/header/emd-XXXX-v30.xml    mirror/emdb/structures/...
    /emdb/structures/EMD-XXXX/map/emd_XXXX.map.gz
    /rcsb/download/{ID}.pdb.gz | {ID}.cif.gz             mirror/pdb/{id}.pdb.gz | .cif.gz
    /pdbe/download/{id}.cif                              registered by a test
    /emdb/api/search/{query}                             registered by a test (CSV)
    /wwpdb/obsolete.dat                                  registered by a test

Plain GETs and single "bytes=N-" ranges are answered like a static file server (with ETag).
A fault queued for a path is used by the next request to it, in order:

    status       answer `status` (with Retry-After if given) and no body
    drop         send the headers of the full answer, `keep` bytes of body, then close
    short_length announce `keep` bytes as Content-Length (fewer than the file) and send them
    corrupt      the full length, with bytes in the middle flipped
    no_length    no Content-Length: the body ends when the connection closes
    slow         wait `seconds` before answering (then answer normally)
"""

from __future__ import annotations

import hashlib
import threading
import time
import urllib.parse
from collections import defaultdict, deque
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path


@dataclass
class Fault:
    kind: str
    status: int = 500
    retry_after: str | None = None
    keep: int = 0
    seconds: float = 0.0


@dataclass
class Request:
    path: str
    headers: dict[str, str]


@dataclass
class ArchiveServer:
    url: str = ""
    files: dict[str, bytes] = field(default_factory=dict)
    faults: dict[str, deque[Fault]] = field(default_factory=lambda: defaultdict(deque))
    requests: list[Request] = field(default_factory=list)
    stop: threading.Event = field(default_factory=threading.Event)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def serve_mirror(self, mirror: Path) -> None:
        for path in (mirror / "emdb" / "structures").rglob("*"):
            if path.is_file():
                self.files["/emdb/" + str(path.relative_to(mirror / "emdb"))] = path.read_bytes()
        for path in (mirror / "pdb").glob("*.*"):
            pdb_id, suffix = path.name.split(".", 1)
            self.files[f"/rcsb/download/{pdb_id.upper()}.{suffix}"] = path.read_bytes()

    def add_fault(self, path: str, *faults: Fault) -> None:
        with self.lock:
            self.faults[path].extend(faults)

    def requests_for(self, path: str) -> list[Request]:
        with self.lock:
            return [r for r in self.requests if r.path == path]

    def config(self) -> dict[str, object]:
        """The `archive` config section pointing at this server."""
        return {
            "mirror": None,
            "emdb_files_url": f"{self.url}/emdb",
            "emdb_api_url": f"{self.url}/emdb/api",
            "model_urls": [
                f"{self.url}/rcsb/download/{{ID}}.cif.gz",
                f"{self.url}/pdbe/download/{{id}}.cif",
                f"{self.url}/rcsb/download/{{ID}}.pdb.gz",
            ],
            "obsolete_list_url": f"{self.url}/wwpdb/obsolete.dat",
        }


def _handler(server: ArchiveServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args: object) -> None:  # keep test output clean
            pass

        def do_GET(self) -> None:
            path = urllib.parse.urlsplit(self.path).path
            with server.lock:
                headers = {k.lower(): v for k, v in self.headers.items()}
                server.requests.append(Request(path, headers))
                fault = server.faults[path].popleft() if server.faults[path] else None
            if fault is not None and fault.kind == "slow":
                server.stop.wait(fault.seconds)
                fault = None
            if fault is not None and fault.kind == "status":
                self.send_response(fault.status)
                if fault.retry_after is not None:
                    self.send_header("Retry-After", fault.retry_after)
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            body = server.files.get(urllib.parse.unquote(path))
            if body is None:
                body = server.files.get(path)
            if body is None:
                self.send_response(404)
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            etag = '"' + hashlib.sha256(body).hexdigest()[:16] + '"'
            start = 0
            range_header = self.headers.get("Range")
            if range_header and range_header.startswith("bytes=") and range_header.endswith("-"):
                start = int(range_header[6:-1])
                if start >= len(body):
                    self.send_response(416)
                    self.send_header("Content-Range", f"bytes */{len(body)}")
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                self.send_response(206)
                self.send_header("Content-Range", f"bytes {start}-{len(body) - 1}/{len(body)}")
            else:
                self.send_response(200)
            payload = body[start:]
            if fault is not None and fault.kind == "corrupt":
                middle = len(payload) // 2
                flipped = bytes(b ^ 0xFF for b in payload[middle : middle + 64])
                payload = payload[:middle] + flipped + payload[middle + 64 :]
            length = len(payload)
            if fault is not None and fault.kind == "short_length":
                payload, length = payload[: fault.keep], fault.keep
            if fault is not None and fault.kind == "no_length":
                # HTTP/1.1 without a length: the body ends when the connection closes
                self.send_header("Connection", "close")
                self.close_connection = True
            else:
                self.send_header("Content-Length", str(length))
            self.send_header("ETag", etag)
            self.send_header("Accept-Ranges", "bytes")
            self.end_headers()
            if fault is not None and fault.kind == "drop":
                self.wfile.write(payload[: fault.keep])
                self.wfile.flush()
                self.close_connection = True
                return
            self.wfile.write(payload)

    return Handler


class _Server(ThreadingHTTPServer):
    daemon_threads = True


def start_server() -> tuple[ArchiveServer, _Server]:
    state = ArchiveServer()
    httpd = _Server(("127.0.0.1", 0), _handler(state))
    state.url = f"http://127.0.0.1:{httpd.server_address[1]}"
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    return state, httpd


def stop_server(state: ArchiveServer, httpd: _Server) -> None:
    state.stop.set()
    httpd.shutdown()
    httpd.server_close()
    time.sleep(0)
